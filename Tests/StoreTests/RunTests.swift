import Foundation
import GRDB
import Store
import XCTest

/// Registering, claiming and recording runs.
final class RunTests: XCTestCase {
    func testRegisterNeverOverwrites() throws {
        let store = try Store.inMemory()
        XCTAssertTrue(try store.register(makeRun("a")))
        var changed = makeRun("a", status: .done, epochsDone: 3, finalTestError: 0.1)
        changed.configJSON = "{}"
        XCTAssertFalse(try store.register(changed))
        let stored = try XCTUnwrap(store.run(key: "a"))
        XCTAssertEqual(stored.status, .queued)
        XCTAssertEqual(stored.configJSON, #"{"key":"a"}"#)
        XCTAssertEqual(try store.runs().count, 1)
        XCTAssertThrowsError(try store.register(makeRun("orphan", teacherKey: "unregistered")), "teachers come first")
        assertSound(store)
    }

    func testRecordEpochTwiceKeepsOneRowWithLatestValues() throws {
        let store = try Store.inMemory()
        try store.register(makeRun("a"))
        try store.recordEpoch(makeEpoch("a", 1, testError: 0.5))
        try store.recordEpoch(makeEpoch("a", 2, testError: 0.4))
        var again = makeEpoch("a", 1, testError: 0.3)
        again.parts = ["ce": 0.9, "at": 0.05]
        try store.recordEpoch(again)
        XCTAssertEqual(try store.epochs(key: "a"), [again, makeEpoch("a", 2, testError: 0.4)])
        XCTAssertEqual(try store.run(key: "a")?.epochsDone, 2)
        assertThrows(.unknownRun(key: "nope")) { try store.recordEpoch(makeEpoch("nope", 1)) }
        assertSound(store)
    }

    /// A diverged epoch's values that are not finite are stored as NULL, in the columns and in
    /// parts_json alike (as curves.json writes them), and read back as NaN; parts written as
    /// strings by earlier versions ("nan", "inf", "-inf") still read as the values they name.
    func testDivergedEpochKeepsItsNaNs() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        let store = try Store(path: path)
        try store.register(makeRun("a"))
        var diverged = makeEpoch("a", 1)
        diverged.trainLoss = .nan
        diverged.parts = ["at": .infinity, "ce": .nan, "kd": 0.5]
        try store.recordEpoch(diverged)
        let stored = try XCTUnwrap(store.epochs(key: "a").first)
        XCTAssertTrue(stored.trainLoss.isNaN)
        XCTAssertTrue(stored.parts["ce"]?.isNaN == true)
        XCTAssertTrue(stored.parts["at"]?.isNaN == true)
        XCTAssertEqual(stored.parts["kd"], 0.5)
        XCTAssertEqual(stored.testError, diverged.testError)
        let queue = try DatabaseQueue(path: path)
        XCTAssertEqual(try queue.read { try String.fetchOne($0, sql: "SELECT parts_json FROM epochs") }, #"{"at":null,"ce":null,"kd":0.5}"#)
        try queue.write { try $0.execute(sql: #"UPDATE epochs SET parts_json = '{"at":"inf","ce":"nan","low":"-inf"}'"#) }
        let legacy = try XCTUnwrap(store.epochs(key: "a").first)
        XCTAssertEqual(legacy.parts["at"], .infinity)
        XCTAssertEqual(legacy.parts["low"], -.infinity)
        XCTAssertTrue(legacy.parts["ce"]?.isNaN == true)
    }

    func testClaimSemantics() throws {
        let store = try Store.inMemory()
        for (key, status) in [("q", RunStatus.queued), ("i", .interrupted), ("f", .failed), ("d", .done)] {
            try store.register(makeRun(key, status: status, finalTestError: status == .done ? 0.1 : nil))
        }
        func claim(_ key: String, pid: Int = 1, retryFailed: Bool = false, alive: Bool = true) throws -> Bool {
            try store.claim(key: key, host: "h", pid: pid, threads: 2, gitCommit: "abc", blasKernels: "SkylakeX (test)", retryFailed: retryFailed,
                            isOwnerAlive: { host, ownerPID in XCTAssertEqual(host, "h"); return alive })
        }
        XCTAssertTrue(try claim("q"))
        let claimed = try XCTUnwrap(store.run(key: "q"))
        XCTAssertEqual(claimed.status, .running)
        XCTAssertEqual([claimed.host, claimed.gitCommit, claimed.blasKernels], ["h", "abc", "SkylakeX (test)"])
        XCTAssertEqual([claimed.pid, claimed.threads], [1, 2])
        XCTAssertNotNil(claimed.heartbeatAt)
        let firstStart = try XCTUnwrap(claimed.startedAt)

        XCTAssertFalse(try claim("q", pid: 2), "owner alive")
        XCTAssertTrue(try claim("q", pid: 2, alive: false), "owner dead: taken over")
        XCTAssertEqual(try store.run(key: "q")?.pid, 2)
        XCTAssertEqual(try store.run(key: "q")?.startedAt, firstStart, "the first start is kept")

        XCTAssertTrue(try claim("i"))
        XCTAssertFalse(try claim("f"))
        XCTAssertTrue(try claim("f", retryFailed: true))
        XCTAssertFalse(try claim("d", retryFailed: true, alive: false))
        XCTAssertEqual(try store.run(key: "d")?.status, .done)
        assertThrows(.unknownRun(key: "x")) { try claim("x") }
        assertSound(store)
    }

    func testLifecycle() throws {
        let store = try Store.inMemory()
        for key in ["a", "b", "c"] {
            try store.register(makeRun(key))
            XCTAssertTrue(try store.claim(key: key, host: "h", pid: 1, threads: 1, gitCommit: nil, retryFailed: false,
                                          isOwnerAlive: { _, _ in true }))
        }
        let before = try XCTUnwrap(store.run(key: "a")?.heartbeatAt)
        Thread.sleep(forTimeInterval: 0.01)
        try store.heartbeat(key: "a")
        XCTAssertGreaterThan(try XCTUnwrap(store.run(key: "a")?.heartbeatAt), before)

        try store.finish(key: "a", finalTestError: 0.2, bestTestError: 0.15, wallSeconds: 12, checkpointPath: "a.ckpt")
        try store.fail(key: "a", message: "too late")
        try store.markInterrupted(key: "a")
        let done = try XCTUnwrap(store.run(key: "a"))
        XCTAssertEqual(done.status, .done, "a done run stays done")
        XCTAssertEqual([done.finalTestError, done.bestTestError, done.wallSeconds], [0.2, 0.15, 12])
        XCTAssertEqual(done.checkpointPath, "a.ckpt")
        XCTAssertNil(done.failure)
        XCTAssertNotNil(done.finishedAt)

        try store.fail(key: "b", message: "NaN loss at epoch 2")
        try store.markInterrupted(key: "b")
        XCTAssertEqual(try store.run(key: "b")?.status, .failed)
        XCTAssertEqual(try store.run(key: "b")?.failure, "NaN loss at epoch 2")

        try store.markInterrupted(key: "c")
        XCTAssertEqual(try store.run(key: "c")?.status, .interrupted)
        assertThrows(.unknownRun(key: "x")) { try store.heartbeat(key: "x") }
        assertThrows(.unknownRun(key: "x")) { try store.markInterrupted(key: "x") }
        assertSound(store)
    }

    /// Two stores on one file (two connections, as two processes would have) race to claim every
    /// run: each run is claimed exactly once.
    func testConcurrentClaimersClaimDisjointSets() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        let keys = (0..<200).map { "run-\($0)" }
        let setup = try Store(path: path)
        for key in keys { try setup.register(makeRun(key)) }

        let claimed = Locked<[Int: [String]]>([:])
        let errors = Locked<[String]>([])
        let ready = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            do {
                let store = try Store(path: path)
                ready.update { $0 += 1 }
                while ready.value < 2 { usleep(100) }  // start together
                var mine: [String] = []
                for key in keys where try store.claim(key: key, host: "h", pid: worker, threads: 1, gitCommit: nil,
                                                      retryFailed: false, isOwnerAlive: { _, _ in true }) {
                    mine.append(key)
                    usleep(200)  // a claimer does some work between claims, letting the other in
                }
                claimed.update { $0[worker] = mine }
            } catch {
                errors.update { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(errors.value, [])
        let first = Set(claimed.value[0] ?? []), second = Set(claimed.value[1] ?? [])
        XCTAssertTrue(first.isDisjoint(with: second))
        XCTAssertEqual(first.union(second), Set(keys))
        for run in try setup.runs() {
            XCTAssertEqual(run.pid, first.contains(run.key) ? 0 : 1)
            XCTAssertEqual(run.status, .running)
        }
        print("concurrent claimers: worker 0 claimed \(first.count), worker 1 claimed \(second.count) of \(keys.count)")
        assertSound(setup)
    }
}
