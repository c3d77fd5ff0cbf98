import Foundation
import Store
import XCTest

/// Folding shard databases (one per Slurm array task) into the main one.
final class MergeTests: XCTestCase {
    func testMergeAddsUpdatesKeepsAndIsIdempotent() throws {
        let directory = try temporaryDirectory(self)
        let main = try Store(path: directory.appendingPathComponent("results.db").path)
        let shardPath = directory.appendingPathComponent("shards/task-1.db").path
        let shard = try Store(path: shardPath)

        // Same timestamp for teacher and student: the shard yields the student ("a…") first.
        let now = Date()
        for (store, run) in [(shard, makeRun("z-teacher", createdAt: now)),
                             (shard, makeRun("a-student", teacherKey: "z-teacher", createdAt: now))] {
            try store.register(run)
        }
        try finish(shard, "z-teacher", epochs: 3, error: 0.05)
        try finish(shard, "a-student", epochs: 3, error: 0.08)

        // In both: ours interrupted after 1 epoch, theirs done — theirs wins.
        try record(main, "resumed", epochs: 1)
        try finish(shard, "resumed", epochs: 3, error: 0.1)
        // In both: ours done, theirs further along in epochs but not done — ours stays.
        try finish(main, "done-here", epochs: 2, error: 0.2)
        try record(shard, "done-here", epochs: 3)
        // In both: ours 2 epochs, theirs 1 — ours stays; a tie — ours stays.
        try record(main, "ahead-here", epochs: 2)
        try record(shard, "ahead-here", epochs: 1)
        try record(main, "tie", epochs: 2, testError: 0.6)
        try record(shard, "tie", epochs: 2, testError: 0.7)

        try shard.upsertGrid(name: "t", specPath: "t.yaml", specJSON: "{}", profile: "smoke")
        try shard.setCells(grid: "t", [CellRecord(grid: "t", rowIndex: 0, columnIndex: 0, rowLabel: "AT",
                                                   columnLabel: "WRN-16-1", seed: 0, runKey: "a-student", role: .baseline)])

        let ourDoneHere = try main.run(key: "done-here")
        let ourTie = try main.epochs(key: "tie")
        XCTAssertEqual(try main.merge(shardPath: shardPath), MergeReport(runsAdded: 2, runsUpdated: 1, epochsAdded: 8))

        XCTAssertEqual(try main.run(key: "resumed"), try shard.run(key: "resumed"))
        XCTAssertEqual(try main.epochs(key: "resumed"), try shard.epochs(key: "resumed"))
        XCTAssertEqual(try main.run(key: "a-student"), try shard.run(key: "a-student"))
        XCTAssertEqual(try main.epochs(key: "z-teacher").count, 3)
        XCTAssertEqual(try main.run(key: "done-here"), ourDoneHere)
        XCTAssertEqual(try main.epochs(key: "done-here").count, 2)
        XCTAssertEqual(try main.run(key: "ahead-here")?.epochsDone, 2)
        XCTAssertEqual(try main.epochs(key: "tie"), ourTie)
        XCTAssertEqual(try main.cells(grid: "t"), try shard.cells(grid: "t"))
        XCTAssertEqual(try main.cellSummaries(grid: "t").first?.median, 0.08)

        let runsAfterFirst = try main.runs()
        let epochsAfterFirst = try runsAfterFirst.map { try main.epochs(key: $0.key) }
        XCTAssertEqual(try main.merge(shardPath: shardPath), MergeReport(), "a merged shard merged again changes nothing")
        XCTAssertEqual(try main.runs(), runsAfterFirst)
        XCTAssertEqual(try runsAfterFirst.map { try main.epochs(key: $0.key) }, epochsAfterFirst)
        assertSound(main)
        assertSound(shard)
    }

    func testMissingShardIsReported() throws {
        let directory = try temporaryDirectory(self)
        let main = try Store(path: directory.appendingPathComponent("results.db").path)
        let missing = directory.appendingPathComponent("nope.db").path
        assertThrows(.io(path: missing, reason: "no such file")) { try main.merge(shardPath: missing) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }

    private func record(_ store: Store, _ key: String, epochs: Int, testError: Double = 0.5) throws {
        try store.register(makeRun(key))
        for epoch in 1...epochs { try store.recordEpoch(makeEpoch(key, epoch, testError: testError)) }
    }

    private func finish(_ store: Store, _ key: String, epochs: Int, error: Double) throws {
        try record(store, key, epochs: epochs, testError: error)
        try store.finish(key: key, finalTestError: error, bestTestError: error, wallSeconds: 1, checkpointPath: nil)
    }

    /// A run that failed before its first epoch (a diverging teacher on Slurm) replaces the
    /// queued record `atx submit` registered, and merging again changes nothing.
    func testFailedAttemptBeatsAQueuedRecordAtEqualProgress() throws {
        let dir = try temporaryDirectory(self)
        let main = try Store(path: dir.appendingPathComponent("main.db").path)
        try main.register(makeRun("t"))
        let shard = try Store(path: dir.appendingPathComponent("shard.db").path)
        try shard.register(makeRun("t"))
        XCTAssertTrue(try shard.claim(key: "t", host: "h", pid: 1, threads: 1, gitCommit: nil, retryFailed: false) { _, _ in true })
        try shard.fail(key: "t", message: "diverged at epoch 1, batch 2")
        XCTAssertEqual(try main.merge(shardPath: shard.path).runsUpdated, 1)
        XCTAssertEqual(try main.run(key: "t")?.status, .failed)
        XCTAssertEqual(try main.merge(shardPath: shard.path), MergeReport())
        // The reverse: a queued stub never replaces an attempt's outcome.
        let stub = try Store(path: dir.appendingPathComponent("stub.db").path)
        try stub.register(makeRun("t"))
        XCTAssertEqual(try main.merge(shardPath: stub.path), MergeReport())
        XCTAssertEqual(try main.run(key: "t")?.status, .failed)
        assertSound(main)
    }
}
