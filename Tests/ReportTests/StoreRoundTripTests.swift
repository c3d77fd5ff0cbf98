import Report
import Store
import XCTest

/// The fixtures' cell summaries and effects are what the store's `cell_summary` and `cell_effect`
/// views compute, so the golden files show what a real database renders to.
final class StoreRoundTripTests: XCTestCase {
    func testAGridReadBackFromTheStoreRendersLikeItsFixture() throws {
        for fixture in [Fixture.table1(), Fixture.smoke(), Fixture.handComputed()] {
            let store = try Store.inMemory()
            try store.upsertGrid(name: fixture.name, specPath: "experiments/\(fixture.name).yaml", specJSON: "{}",
                                 profile: fixture.profile)
            for run in fixture.runs { try store.register(run) }
            for rows in fixture.epochs.values { for row in rows { try store.recordEpoch(row) } }
            try store.setCells(grid: fixture.name, fixture.cells.flatMap { cell in
                zip(fixture.seeds, cell.runKeys).map { seed, key in
                    CellRecord(grid: cell.grid, rowIndex: cell.rowIndex, columnIndex: cell.columnIndex, rowLabel: cell.rowLabel,
                               columnLabel: cell.columnLabel, seed: seed, runKey: key,
                               role: cell.columnIndex == fixture.baselineColumn ? .baseline
                                   : fixture.columns[cell.columnIndex].network == .teacher ? .teacher : .method,
                               paperError: fixture.paper?.errors[cell.rowIndex][cell.columnIndex])
                }
            })

            var fromStore = fixture
            fromStore.cells = try store.cellSummaries(grid: fixture.name)
            fromStore.runs = try store.runs(grid: fixture.name)
            fromStore.epochs = try Dictionary(uniqueKeysWithValues: fromStore.runs.map { ($0.key, try store.epochs(key: $0.key)) })
            fromStore.effects = try store.cellEffects(grid: fixture.name)
            XCTAssertEqual(fromStore.cells.count, fixture.cells.count)
            XCTAssertEqual(fromStore.effects.count, fixture.effects.count)
            for (ours, theirs) in zip(fromStore.effects, fixture.effects) {
                let label = "\(ours.rowLabel) \(ours.columnLabel)"
                XCTAssertEqual([ours.rowIndex, ours.columnIndex, ours.baselineColumn, ours.seedsPaired, ours.seedsBetter,
                                ours.seedsWorse, ours.done, ours.failed, ours.baselineDone, ours.baselineFailed],
                               [theirs.rowIndex, theirs.columnIndex, theirs.baselineColumn, theirs.seedsPaired, theirs.seedsBetter,
                                theirs.seedsWorse, theirs.done, theirs.failed, theirs.baselineDone, theirs.baselineFailed], label)
                XCTAssertEqual(ours.network, theirs.network, label)
                XCTAssertEqual(ours.seedsNeeded, theirs.seedsNeeded, label)
                for (a, b) in [(ours.meanDifference, theirs.meanDifference), (ours.ciLow, theirs.ciLow), (ours.ciHigh, theirs.ciHigh),
                               (ours.sdDifference, theirs.sdDifference), (ours.tQuantile, theirs.tQuantile),
                               (ours.pSignFlip, theirs.pSignFlip), (ours.paperEffect, theirs.paperEffect)] {
                    XCTAssertEqual(a == nil, b == nil, label)
                    if let a, let b { XCTAssertEqual(a, b, accuracy: 1e-9, label) }
                }
            }
            for (ours, theirs) in zip(fromStore.cells, fixture.cells) {
                for (a, b) in [(ours.median, theirs.median), (ours.min, theirs.min), (ours.max, theirs.max)] {
                    XCTAssertEqual(a == nil, b == nil)
                    if let a, let b { XCTAssertEqual(a, b, accuracy: 1e-9, "\(ours.rowLabel) \(ours.columnLabel)") }
                }
                XCTAssertEqual([ours.done, ours.failed, ours.running], [theirs.done, theirs.failed, theirs.running])
            }
            XCTAssertEqual(Report.markdown(fromStore), Report.markdown(fixture), fixture.name)
            XCTAssertEqual(Report.figures(fromStore), Report.figures(fixture), fixture.name)
        }
    }
}
