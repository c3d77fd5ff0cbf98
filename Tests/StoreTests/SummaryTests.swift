import Foundation
import GRDB
import Store
import XCTest

/// The views behind the tables: cell_summary, grid_status, run_final.
final class SummaryTests: XCTestCase {
    /// Cell (0,0): done 0.3, 0.1, 0.2 (odd) and a failed run carrying an error that must not count.
    /// Cell (0,1): done 0.4, 0.1, 0.3, 0.2 (even) and a running run. Cell (1,0): one queued run.
    private func makeGrid() throws -> Store {
        let store = try Store.inMemory()
        try store.upsertGrid(name: "t", specPath: "t.yaml", specJSON: "{}", profile: "smoke")
        var cells: [CellRecord] = []
        func add(_ row: Int, _ column: Int, _ seed: Int, _ status: RunStatus, _ error: Double?) throws {
            let key = "r\(row)c\(column)s\(seed)"
            try store.register(makeRun(key, status: status, finalTestError: error))
            cells.append(CellRecord(grid: "t", rowIndex: row, columnIndex: column, rowLabel: "row \(row)",
                                    columnLabel: "col \(column)", seed: seed, runKey: key, role: .method))
        }
        try add(0, 0, 0, .done, 0.3); try add(0, 0, 1, .done, 0.1); try add(0, 0, 2, .done, 0.2)
        try add(0, 0, 3, .failed, 0.9)
        try add(0, 1, 0, .done, 0.4); try add(0, 1, 1, .done, 0.1); try add(0, 1, 2, .done, 0.3)
        try add(0, 1, 3, .done, 0.2); try add(0, 1, 4, .running, nil)
        try add(1, 0, 0, .queued, nil)
        try store.setCells(grid: "t", cells.reversed())
        return store
    }

    func testCellSummaryCountsAndSpread() throws {
        let store = try makeGrid()
        let summaries = try store.cellSummaries(grid: "t")
        XCTAssertEqual(summaries.map { [$0.rowIndex, $0.columnIndex] }, [[0, 0], [0, 1], [1, 0]])
        let (odd, even, empty) = (summaries[0], summaries[1], summaries[2])

        XCTAssertEqual([odd.seeds, odd.done, odd.failed, odd.running], [4, 3, 1, 0])
        XCTAssertEqual([odd.rowLabel, odd.columnLabel], ["row 0", "col 0"])
        XCTAssertEqual(try XCTUnwrap(odd.median), 0.2, accuracy: 1e-12)
        XCTAssertEqual(odd.min, 0.1)
        XCTAssertEqual(odd.max, 0.3, "the failed run's 0.9 is excluded")
        XCTAssertEqual(try XCTUnwrap(odd.q1), 0.15, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(odd.q3), 0.25, accuracy: 1e-12)
        XCTAssertEqual(odd.runKeys, ["r0c0s0", "r0c0s1", "r0c0s2", "r0c0s3"])

        XCTAssertEqual([even.seeds, even.done, even.failed, even.running], [5, 4, 0, 1])
        XCTAssertEqual(try XCTUnwrap(even.median), 0.25, accuracy: 1e-12, "mean of the middle two")
        XCTAssertEqual([even.min, even.max], [0.1, 0.4])
        XCTAssertEqual(try XCTUnwrap(even.q1), 0.175, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(even.q3), 0.325, accuracy: 1e-12)

        XCTAssertEqual(empty, CellSummary(grid: "t", rowIndex: 1, columnIndex: 0, rowLabel: "row 1",
                                          columnLabel: "col 0", seeds: 1, done: 0, failed: 0, running: 0,
                                          median: nil, min: nil, max: nil, q1: nil, q3: nil, runKeys: ["r1c0s0"]))
        XCTAssertEqual(try store.cellSummaries(grid: "other"), [])
        assertSound(store)
    }

    func testStatusCountsRunsOfGridAndCells() throws {
        let store = try makeGrid()
        try store.upsertGrid(name: "u", specPath: "u.yaml", specJSON: "{}", profile: "smoke")
        try store.register(makeRun("shared-only-by-u"))
        // One run serving two cells of `u` counts once.
        try store.setCells(grid: "u", [
            CellRecord(grid: "u", rowIndex: 0, columnIndex: 0, rowLabel: "a", columnLabel: "x", seed: 0, runKey: "r0c0s0", role: .method),
            CellRecord(grid: "u", rowIndex: 1, columnIndex: 0, rowLabel: "b", columnLabel: "x", seed: 0, runKey: "r0c0s0", role: .method),
            CellRecord(grid: "u", rowIndex: 1, columnIndex: 1, rowLabel: "b", columnLabel: "y", seed: 0,
                       runKey: "shared-only-by-u", role: .method),
        ])
        XCTAssertEqual(try store.statusCounts(grid: "t"),
                       [.done: 7, .failed: 1, .running: 1, .queued: 1, .interrupted: 0])
        XCTAssertEqual(try store.statusCounts(grid: "u"),
                       [.done: 1, .failed: 0, .running: 0, .queued: 1, .interrupted: 0])
        XCTAssertEqual(try store.runs(grid: "u").map(\.key), ["r0c0s0", "shared-only-by-u"])
        XCTAssertEqual(try store.runs().count, 11)
        XCTAssertEqual(try store.cells(grid: "u").map(\.rowIndex), [0, 1, 1])
        XCTAssertEqual(try store.cells(grid: "t").count, 10)

        try store.setCells(grid: "u", [])
        XCTAssertEqual(try store.cells(grid: "u"), [])
        XCTAssertEqual(try store.runs(grid: "u"), [])
        XCTAssertEqual(try store.grids().map(\.name), ["t", "u"])
        assertSound(store)
    }

    func testRunFinalView() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        let store = try Store(path: path)
        try store.register(makeRun("a", status: .done, epochsDone: 3, finalTestError: 0.07))
        let row = try XCTUnwrap(DatabaseQueue(path: path).read { try Row.fetchOne($0, sql: "SELECT * FROM run_final") })
        XCTAssertEqual(Array(row.columnNames), [
            "key", "student", "teacher", "method", "seed", "dataset", "profile", "status",
            "final_test_error", "best_test_error", "epochs_done", "epochs_total", "wall_seconds", "final_test_top5_error",
        ])
        XCTAssertEqual(row["final_test_error"], 0.07)
        XCTAssertEqual(row["status"], "done")
    }
}
