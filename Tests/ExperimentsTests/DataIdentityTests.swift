// A result is reused only when everything it depends on is the same: the data a run reads is part
// of its identity, a database made before that keeps its runs (and their keys) while the data is
// unchanged, and a checkpoint resumes wherever its weights now lie but never in another database.
import Data
@testable import Experiments
import Foundation
import Store
import Training
import XCTest

final class DataIdentityTests: XCTestCase {
    /// The smoke grid recorded the way a database made before data fingerprints holds it: every
    /// run done under the key without the data, no fingerprint recorded.
    func olderDatabase(_ grid: Grid) throws -> Store {
        let store = try Store.inMemory()
        var legacy: [String: String] = [:]
        for run in grid.runs {
            let teacher = run.teacherKey.flatMap { legacy[$0] }
            let (key, identity) = try Grid.key(run.config, teacherKey: teacher, data: nil)
            legacy[run.key] = key
            try store.register(RunRecord(key: key, configJSON: identity, student: run.config.student, teacher: run.config.teacher,
                                         teacherKey: teacher, method: run.config.method.name, seed: Int(run.config.seed),
                                         dataset: run.config.dataset.rawValue, profile: "smoke", status: .done, epochsTotal: 1,
                                         finalTestError: 50))
        }
        return store
    }

    func testAnOlderDatabaseKeepsItsKeysAndRecordsTheDataOnFirstUse() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let store = try olderDatabase(grid)
        let older = try Table4GridTests.legacyKeys(grid)
        let looked = try grid.resolved(in: store, recording: false)
        XCTAssertEqual(looked.runs.map(\.key), older, "every run served by the run recorded before")
        XCTAssertEqual(Set(looked.cells.map(\.runKey)), Set(older))
        XCTAssertTrue(try store.runs().allSatisfy { $0.dataFingerprint == nil }, "looking records nothing")

        let used = try grid.resolved(in: store, recording: true)
        XCTAssertEqual(used.runs.map(\.key), older)
        XCTAssertTrue(try store.runs().allSatisfy { $0.dataFingerprint == grid.dataFingerprints[.synthetic] },
                      "the fingerprint at hand is recorded on first use")

        // The data changes: every run is planned again under a new key; the old ones stay.
        var changed = grid
        changed.runs = grid.runs.map { var r = $0; r.dataFingerprint = "0123456789abcdef"; return r }
        let after = try changed.resolved(in: store, recording: true)
        XCTAssertTrue(Set(after.runs.map(\.key)).isDisjoint(with: older))
        XCTAssertTrue(after.runs.allSatisfy { $0.identityJSON.contains("\"data\":\"0123456789abcdef\"") })
        XCTAssertEqual(try store.runs().count, 8, "nothing is lost")
        // Students follow their teacher's key.
        for run in after.runs { if let t = run.teacherKey { XCTAssertNotNil(after.run(t), "teacher \(t) of \(run.key)") } }
    }

    func testANewDatabaseKeysRunsByTheirData() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let resolved = try grid.resolved(in: try Store.inMemory(), recording: true)
        XCTAssertEqual(resolved.runs.map(\.key), grid.runs.map(\.key))
        XCTAssertTrue(resolved.runs.allSatisfy { $0.identityJSON.contains("\"data\":") && $0.dataFingerprint.count == 64 })
        XCTAssertTrue(Set(grid.runs.map(\.key)).isDisjoint(with: Table4GridTests.olderSmokeKeys))
    }

    /// `atx status` says when a done run read other data than the data at hand.
    func testStatusSaysWhenTheDataChanged() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let store = try olderDatabase(grid)
        try GridRunner.register(try grid.resolved(in: store, recording: true), in: store)
        XCTAssertFalse(try Planner.status(grid: "smoke", store: store).contains("data:"), "the data is what the runs read")
        let other = try Store.inMemory()
        for run in grid.runs {
            var record = run.queuedRecord(profile: "smoke")
            record.status = .done
            record.dataFingerprint = "00112233445566778899"
            try other.register(record)
        }
        try other.upsertGrid(name: "smoke", specPath: "smoke.yaml", specJSON: "{}", profile: "smoke")
        try other.setCells(grid: "smoke", grid.cells.map {
            CellRecord(grid: "smoke", rowIndex: $0.row, columnIndex: $0.column, rowLabel: $0.rowLabel, columnLabel: $0.columnLabel,
                       seed: $0.seed, runKey: $0.runKey, role: $0.role)
        })
        let text = try Planner.status(grid: "smoke", store: other)
        XCTAssertTrue(text.contains("data: 8 of 8 done runs read other synthetic data than the data at hand (recorded 001122334455…"), text)
        XCTAssertTrue(text.contains("`atx run` trains them again under new keys"), text)
    }

    /// Each database keeps its runs beside it; the default one keeps the directory it always had.
    func testEachDatabaseHasItsOwnRunsDirectory() {
        XCTAssertEqual(GridRunner.defaultRunsDirectory(database: "results/results.db"), "results/runs")
        XCTAssertEqual(GridRunner.defaultRunsDirectory(database: "results/a.db"), "results/a.runs")
        XCTAssertEqual(GridRunner.defaultRunsDirectory(database: "/tmp/x/b.db"), "/tmp/x/b.runs")
        XCTAssertEqual(GridRunner.defaultRunsDirectory(database: "c.db"), "c.runs")
    }
}
