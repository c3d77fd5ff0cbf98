import Foundation
import XCTest
import NN
import Store
@testable import Experiments
import Tensor
import Training

/// `Worker.execute` on a tiny synthetic grid (a wrn-10-2 teacher, wrn-10-1 AT and KD students,
/// one epoch of 20 images) with an in-memory store and a temporary runs directory.
final class WorkerTests: XCTestCase {
    var grid: Grid!
    var store: Store!
    var runs: URL!

    override func setUpWithError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("tiny.yaml")
        try """
        name: worker-test
        dataset: synthetic
        seeds: [0]
        training: {epochs: 1, batch_size: 10, learning_rate: 0.05, train_subset: 20, test_subset: 10}
        rows: [{student: wrn-10-1, teacher: wrn-10-2}]
        columns:
          - {label: AT, method: at, mapping: sum2, beta: 1000}
          - {label: KD, method: kd, temperature: 4, alpha: 0.9}
          - {label: teacher, method: ce, network: teacher}
        profiles: {smoke: {}}
        """.write(to: spec, atomically: true, encoding: .utf8)
        grid = try Grid(spec: try Spec.load(spec.path), profile: "smoke", locations: SpecTests.noCIFAR)
        store = try Store.inMemory()
        try GridRunner.register(grid, in: store)
        runs = dir.appendingPathComponent("runs")
    }

    var teacher: PlannedRun { grid.runs.first { $0.teacherKey == nil }! }
    var student: PlannedRun { grid.runs.first { $0.teacherKey != nil }! }
    var students: [PlannedRun] { grid.runs.filter { $0.teacherKey != nil } }

    func execute(_ key: String, teacherCheckpoint: String? = nil) -> (WorkerExit, [WorkerProgress]) {
        execute([key], teacherCheckpoint: teacherCheckpoint)
    }

    func execute(_ keys: [String], teacherCheckpoint: String? = nil) -> (WorkerExit, [WorkerProgress]) {
        var progress: [WorkerProgress] = []
        let exit = Worker.execute(store: store, keys: keys, runsDirectory: runs.path, threads: 1, gitCommit: "test",
                                  teacherCheckpoint: teacherCheckpoint) { progress.append($0) }
        return (exit, progress)
    }

    func testTeacherThenStudentRunToDoneAndADoneRunIsNotClaimedAgain() throws {
        XCTAssertEqual(grid.runs.count, 3)
        let (studentFirst, _) = execute(student.key)
        XCTAssertEqual(studentFirst, .failed, "a student whose teacher is not done fails")
        XCTAssertEqual(try store.run(key: student.key)?.failure, WorkerError.teacherNotDone(teacher.key).description)

        let (exit, progress) = execute(teacher.key)
        XCTAssertEqual(exit, .done)
        let t = try XCTUnwrap(store.run(key: teacher.key))
        XCTAssertEqual(t.status, .done)
        XCTAssertEqual(t.gitCommit, "test")
        XCTAssertEqual(t.epochsDone, 1)
        XCTAssertEqual(try store.epochs(key: teacher.key).map(\.epoch), [1])
        XCTAssertNotNil(progress.last?.testError, "the last progress line reports the epoch's test error")
        let checkpoint = try XCTUnwrap(t.checkpointPath)
        XCTAssertEqual(try Model.trained(at: checkpoint).name, "wrn-10-2")

        XCTAssertEqual(execute(teacher.key).0, .notClaimed, "a done run is never claimed again")
        XCTAssertEqual(try store.run(key: teacher.key)?.finishedAt, t.finishedAt)

        XCTAssertEqual(execute(student.key).0, .done, "a failed run is retried by its worker once its teacher is done")
        XCTAssertEqual(try store.run(key: student.key)?.status, .done)
        XCTAssertEqual(try store.run(key: student.key)?.teacherKey, teacher.key)
        XCTAssertEqual(try store.integrityProblems(), [])
    }

    func testATeacherCheckpointOfAnotherNetworkFailsTheRun() throws {
        XCTAssertEqual(execute(teacher.key).0, .done)
        // The student's own network (wrn-10-1) passed off as its teacher (a wrn-10-2).
        let wrong = runs.appendingPathComponent("wrong.safetensors")
        var rng = RNG(seed: 0)
        try Model(name: "wrn-10-1", rng: &rng).save(to: wrong)
        XCTAssertEqual(execute(student.key, teacherCheckpoint: wrong.path).0, .failed)
        XCTAssertEqual(try store.run(key: student.key)?.failure,
                       ModelMismatch(role: "teacher", expected: "wrn-10-2", found: "wrn-10-1", path: wrong.path).description)
    }

    /// The students of a teacher and seed in one worker: each claimed, trained, recorded and done
    /// on its own, with the figures of a worker of its own; a run done already is left alone.
    func testAWorkerTrainsACohortAsItsRunsAlone() throws {
        XCTAssertEqual(execute(teacher.key).0, .done)
        XCTAssertEqual(students.count, 2)
        let (exit, progress) = execute(students.map(\.key))
        XCTAssertEqual(exit, .done)
        XCTAssertEqual(Set(progress.filter { $0.testError != nil }.map(\.key)), Set(students.map(\.key)), "each run's epoch line")
        let together = try students.map { try XCTUnwrap(store.run(key: $0.key)) }
        XCTAssertEqual(together.map(\.status), [.done, .done])
        XCTAssertEqual(Set(together.map(\.checkpointPath)).count, 2)

        // The same runs, each in a worker of its own, in a second database.
        let alone = try Store.inMemory()
        try GridRunner.register(grid, in: alone)
        let aloneRuns = runs.deletingLastPathComponent().appendingPathComponent("alone")
        for key in [teacher.key] + students.map(\.key) {
            XCTAssertEqual(Worker.execute(store: alone, keys: [key], runsDirectory: aloneRuns.path, threads: 1, gitCommit: nil) { _ in }, .done)
        }
        for s in students {
            let (a, b) = (try store.epochs(key: s.key), try alone.epochs(key: s.key))
            XCTAssertEqual(a.map(\.trainLoss), b.map(\.trainLoss), s.config.method.name)
            XCTAssertEqual(a.map(\.testLoss), b.map(\.testLoss), s.config.method.name)
            XCTAssertEqual(try store.run(key: s.key)?.finalTestError, try alone.run(key: s.key)?.finalTestError)
        }
        XCTAssertEqual(execute(students.map(\.key)).0, .notClaimed, "done runs are never claimed again")
    }
}
