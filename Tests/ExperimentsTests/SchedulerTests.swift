import Foundation
import XCTest
import Store
@testable import Experiments
import Training

/// The local scheduler's decision of which runs may start (`GridRunner.startable`), on the smoke
/// grid (two seeds, each a wrn-10-2 teacher, a wrn-10-1 baseline and two students), without
/// processes: run states are set through the store as workers would.
final class SchedulerTests: XCTestCase {
    var grid: Grid!
    var store: Store!

    override func setUpWithError() throws {
        grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        store = try Store.inMemory()
        try GridRunner.register(grid, in: store)
    }

    var records: [String: RunRecord] {
        get throws { Dictionary(uniqueKeysWithValues: try store.runs().map { ($0.key, $0) }) }
    }
    var teachers: [PlannedRun] { grid.runs.filter { run in grid.runs.contains { $0.teacherKey == run.key } } }
    var students: [PlannedRun] { grid.runs.filter { $0.teacherKey != nil } }

    func decide(retryFailed: Bool = false, alive: Bool = true, skip: Set<String> = []) throws -> (runs: [String], waiting: Bool) {
        let d = GridRunner.startable(grid.runs, records: try records, retryFailed: retryFailed, skip: { skip.contains($0) },
                                     isAlive: { _, _ in alive })
        return (d.runs.map(\.key), d.waiting)
    }

    func claim(_ key: String, pid: Int = 1) throws {
        XCTAssertTrue(try store.claim(key: key, host: "h", pid: pid, threads: 1, gitCommit: nil, retryFailed: true, isOwnerAlive: { _, _ in false }))
    }
    func finish(_ key: String) throws {
        try claim(key)
        try store.finish(key: key, finalTestError: 0.5, bestTestError: 0.5, wallSeconds: 1, checkpointPath: "/nonexistent")
    }

    func testTeachersComeFirstAndStudentsWaitForThem() throws {
        XCTAssertEqual(teachers.count, 2)
        XCTAssertEqual(students.count, 4)
        for s in students {
            XCTAssertLessThan(grid.runs.firstIndex(of: teachers.first { $0.key == s.teacherKey }!)!, grid.runs.firstIndex(of: s)!,
                              "a teacher is listed before its students")
        }
        let first = try decide()
        XCTAssertEqual(first.runs, grid.runs.filter { $0.teacherKey == nil }.map(\.key), "every run without a teacher, in grid order")
        XCTAssertTrue(first.waiting, "the students wait for their teachers")
        XCTAssertTrue(Set(students.map(\.key)).isDisjoint(with: first.runs))

        try finish(teachers[0].key)
        let second = try decide()
        XCTAssertTrue(Set(students.filter { $0.teacherKey == teachers[0].key }.map(\.key)).isSubset(of: second.runs),
                      "a done teacher's students may start")
        XCTAssertTrue(Set(students.filter { $0.teacherKey == teachers[1].key }.map(\.key)).isDisjoint(with: second.runs))
        XCTAssertFalse(second.runs.contains(teachers[0].key), "a done run never starts again")
    }

    func testAFailedTeacherBlocksItsStudentsWithoutWaiting() throws {
        for run in grid.runs where run.teacherKey == nil {
            if teachers.contains(run) {
                try claim(run.key)
                try store.fail(key: run.key, message: "diverged")
            } else {
                try finish(run.key)
            }
        }
        let d = try decide()
        XCTAssertEqual(d.runs, [], "failed teachers are not retried and their students never start")
        XCTAssertFalse(d.waiting, "nothing can become startable: the runner ends")

        let retried = try decide(retryFailed: true)
        XCTAssertEqual(retried.runs, teachers.map(\.key), "with retry, the failed teachers start again, not yet their students")
        for t in teachers { try claim(t.key) }
        let training = try decide(retryFailed: true, alive: true)
        XCTAssertEqual(training.runs, [])
        XCTAssertTrue(training.waiting, "the students wait for their retried teachers")
    }

    func testRunningRunsWaitForALiveOwnerAndAreTakenOverFromADeadOne() throws {
        let t = teachers[0].key
        try claim(t)
        let live = try decide(alive: true)
        XCTAssertFalse(live.runs.contains(t))
        XCTAssertTrue(live.waiting)
        XCTAssertTrue(try decide(alive: false).runs.contains(t), "a dead owner's run starts again")
        XCTAssertFalse(try decide(skip: [t]).runs.contains(t), "a run this runner already started is skipped")
    }

    func testAnInterruptedRunStartsAgain() throws {
        let t = teachers[1].key
        try claim(t)
        try store.markInterrupted(key: t)
        XCTAssertTrue(try decide().runs.contains(t))
    }

    func testEverythingDoneEndsTheRunner() throws {
        for run in grid.runs { try finish(run.key) }
        let d = try decide()
        XCTAssertEqual(d.runs, [])
        XCTAssertFalse(d.waiting)
    }

    /// The runner starts the students of one teacher and seed in one worker (a cohort), and splits
    /// a cohort rather than leave a job slot idle.
    func testStudentsOfATeacherAndSeedStartTogether() throws {
        let key = { (r: PlannedRun) in Cohorts.key(r.config, teacherKey: r.teacherKey) }
        let cohorts = Cohorts.group(students, key: key)
        XCTAssertEqual(cohorts.count, 2, "one cohort per seed")
        for c in cohorts {
            XCTAssertEqual(c.count, 2)
            XCTAssertEqual(Set(c.map(\.teacherKey)).count, 1)
            XCTAssertEqual(Set(c.map(\.config.seed)).count, 1)
        }
        XCTAssertEqual(Cohorts.group(grid.runs, key: key).map(\.count).sorted(), [1, 1, 1, 1, 2, 2], "teachers and baselines alone")
        // Two free slots and one cohort of two: two workers of one run each.
        XCTAssertEqual(Cohorts.group(cohorts[0], processes: 2, key: key).map { $0.map(\.key) }, cohorts[0].map { [$0.key] })
        XCTAssertEqual(Cohorts.group(cohorts[0], processes: 1, key: key).count, 1)

        // Table 1: the four students of each row and seed; Table 3: AT, KD and grad-AT apart
        // (another teacher; the teacher's input gradient).
        let t1 = try Grid(spec: try SpecTests.spec("table1"), profile: "quick", locations: SpecTests.noCIFAR)
        let sizes = Cohorts.group(t1.runs, key: key).map(\.count)
        XCTAssertEqual(sizes.filter { $0 == 4 }.count, 4 * 3, "4 rows × 3 seeds")
        XCTAssertEqual(sizes.reduce(0, +), t1.runs.count)
        let t3 = try Grid(spec: try SpecTests.spec("table3"), profile: "smoke", locations: SpecTests.noCIFAR)
        XCTAssertEqual(Cohorts.group(t3.runs, key: key).map(\.count).max(), 1)
        XCTAssertNil(key(t3.runs.first { $0.config.method.kind == .gradAT }!))
    }

    /// The longest chain of work starts first, whatever its place in the grid; ties keep grid order.
    func testTheLongestChainsStartFirst() throws {
        let runs = grid.runs.filter { $0.teacherKey == nil }   // teachers and baselines of both seeds
        XCTAssertEqual(runs.count, 4)
        let last = runs[3]
        let workers = GridRunner.nextWorkers(runs, free: 2, priority: [last.key: 10, runs[0].key: 5, runs[1].key: 5, runs[2].key: 5])
        XCTAssertEqual(workers.map { $0.map(\.key) }, [[last.key], [runs[0].key]])
        XCTAssertEqual(GridRunner.nextWorkers(runs, free: 0, priority: [:]).count, 0)
        XCTAssertEqual(GridRunner.nextWorkers(runs, free: 9, priority: [:]).map { $0.map(\.key) }, runs.map { [$0.key] })
    }
}
