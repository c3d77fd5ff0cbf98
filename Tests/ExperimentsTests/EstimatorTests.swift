import Foundation
import Bench
import XCTest
import Store
@testable import Experiments
import Training

/// `atx plan`'s estimate: the store's own throughput where it has runs of a network, the
/// calibration step elsewhere, and the arithmetic of a run's seconds.
final class EstimatorTests: XCTestCase {
    func testStoreThroughputIsUsedAndNamedAsTheSource() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let store = try Store.inMemory()
        try GridRunner.register(grid, in: store)
        let ce = try XCTUnwrap(grid.runs.first { $0.config.student == "wrn-10-1" && $0.config.method == .ce })
        for (epoch, ips) in [(1, 90.0), (2, 110.0), (3, 100.0)] {
            try store.recordEpoch(EpochRow(runKey: ce.key, epoch: epoch, trainLoss: 1, trainError: 50, testLoss: 1, testError: 50,
                                           learningRate: 0.1, seconds: 1, imagesPerSecond: ips, parts: [:]))
        }
        let estimator = Estimator(store: store, grid: grid, threads: 1, calibrate: false)
        XCTAssertEqual(estimator.sources["wrn-10-1"], .store)
        XCTAssertNil(estimator.sources["wrn-10-2"], "not calibrated when told not to")
        XCTAssertEqual(estimator.sourceSummary, "wrn-10-1 from finished runs in the store")
        // 100 training images at the median 100 img/s, 50 test images at three times that, per epoch.
        let (train, test) = Estimator.images(ce.config)
        XCTAssertEqual(train, 100)
        XCTAssertEqual(test, 50)
        XCTAssertEqual(estimator.seconds(ce.config), Double(ce.config.epochs) * (1.0 + 50.0 / 300.0), accuracy: 1e-9)
        XCTAssertEqual(estimator.seconds(ce.config, epochsDone: 1), Double(ce.config.epochs - 1) * (1.0 + 50.0 / 300.0), accuracy: 1e-9)
        // A step not measured (no calibration here) counts as the student's cross-entropy step;
        // the store's epochs of a student with its teacher and method are that run's own figure.
        let kd = try XCTUnwrap(grid.runs.first { $0.config.method.kind == .kd }).config
        XCTAssertEqual(estimator.throughput(kd), 100, accuracy: 1e-9)
        let at = try XCTUnwrap(grid.runs.first { $0.config.method.kind == .at })
        try store.recordEpoch(EpochRow(runKey: at.key, epoch: 1, trainLoss: 1, trainError: 50, testLoss: 1, testError: 50,
                                       learningRate: 0.1, seconds: 1, imagesPerSecond: 40, parts: [:]))
        let reread = Estimator(store: store, grid: grid, threads: 1, calibrate: false)
        XCTAssertEqual(reread.throughput(at.config), 40, accuracy: 1e-9)
        XCTAssertEqual(reread.throughput(at.config, sharing: 2), 40, accuracy: 1e-9, "the store's figure already has its cohort's sharing")
        XCTAssertEqual(reread.sources["wrn-10-1←wrn-10-2 at"], .store)
        var other = at.config
        other.teacher = "wrn-10-3"
        XCTAssertEqual(reread.throughput(other), 100, accuracy: 1e-9, "another teacher's step is not this one's")
    }

    /// The plan simulates the runner: the longest chains first (both teachers, then the students of
    /// each seed as one cohort sharing the teacher's forward, then the baselines), at the rates of
    /// the calibration steps.
    func testThePlanSimulatesTheRunnersSchedule() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let estimator = Estimator(calibrated: ["wrn-10-1": 50, "wrn-10-2": 25, "wrn-10-2 forward": 75,
                                               "wrn-10-1←wrn-10-2 at": 30, "wrn-10-1←wrn-10-2 kd": 30])
        let todo = grid.runs.map { (run: $0, epochsDone: 0) }
        let teacher = try XCTUnwrap(grid.runs.first { $0.config.student == "wrn-10-2" }).config
        let baseline = try XCTUnwrap(grid.runs.first { $0.config.student == "wrn-10-1" && $0.config.method == .ce }).config
        let student = try XCTUnwrap(grid.runs.first { $0.config.method.kind == .at }).config
        let (t, b) = (estimator.seconds(teacher), estimator.seconds(baseline))
        XCTAssertEqual(t, Double(teacher.epochs) * (100 / 25.0 + 50 / 75.0), accuracy: 1e-9, "testing at three times the training rate")
        let (alone, shared) = (estimator.seconds(student), estimator.seconds(student, sharing: 2))
        XCTAssertEqual(alone, Double(student.epochs) * (100 / 30.0 + 50 / 150.0), accuracy: 1e-9)
        // Each of two students pays its step less half the teacher's forward.
        XCTAssertEqual(shared, Double(student.epochs) * (100 * (1 / 30.0 - 0.5 / 75) + 50 / 150.0), accuracy: 1e-9)
        let one = estimator.simulate(grid, todo: todo, jobs: 1)
        XCTAssertEqual(one.wall, 2 * (t + b + 2 * shared), accuracy: 1e-9, "one worker: everything in turn")
        let two = estimator.simulate(grid, todo: todo, jobs: 2)
        XCTAssertEqual(two.wall, t + 2 * shared + b, accuracy: 1e-9, "two workers: teachers, then each seed's cohort, then the baselines")
        XCTAssertEqual(two.seconds[grid.runs.first { $0.config.method.kind == .kd }!.key]!, shared, accuracy: 1e-9)
        // With the teachers done and a student half trained, only what is left.
        let later = grid.runs.filter { $0.config.student != "wrn-10-2" }.map { (run: $0, epochsDone: $0.config.method == student.method ? 1 : 0) }
        XCTAssertEqual(estimator.simulate(grid, todo: later, jobs: 2).wall,
                       2 * shared - shared / Double(student.epochs) + b, accuracy: 1e-9)
        // Workers side by side at 80% of their speed alone: every phase here has two equal
        // workers, so the whole takes 1/0.8 as long; one worker runs alone at full speed.
        let crowded = Estimator(calibrated: estimator.calibrated, sideBySide: 0.8)
        XCTAssertEqual(crowded.simulate(grid, todo: todo, jobs: 2).wall, two.wall / 0.8, accuracy: 1e-9)
        XCTAssertEqual(crowded.simulate(grid, todo: todo, jobs: 1).wall, one.wall, accuracy: 1e-9)
        // With the teachers done and one cohort half trained, the other cohort runs beside it
        // only until it finishes; the rest runs alone.
        let half = grid.runs.filter { $0.config.student != "wrn-10-2" && $0.config.method != .ce }
            .map { (run: $0, epochsDone: $0.config.seed == 0 ? student.epochs / 2 : 0) }
        let (short, long) = (shared * Double(student.epochs - student.epochs / 2) / Double(student.epochs) * 2, 2 * shared)
        XCTAssertEqual(crowded.simulate(grid, todo: half, jobs: 2).wall, short / 0.8 + (long - short), accuracy: 1e-9)
        // A forward so slow that the shares would take the student below its own cross-entropy
        // step: the cross-entropy step bounds it.
        let odd = Estimator(calibrated: ["wrn-10-1": 50, "wrn-10-2 forward": 10, "wrn-10-1←wrn-10-2 at": 30])
        XCTAssertEqual(odd.throughput(student, sharing: 4), 50, accuracy: 1e-9)
    }

    /// The estimator calibrates each network's step, each teacher's forward and each student's step
    /// of each method and teacher, and no more.
    func testEveryStepOfTheGridIsCalibratedOnce() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("atx-estimator-\(UUID().uuidString)")
        setenv("XDG_CACHE_HOME", cache.path, 1)
        defer { unsetenv("XDG_CACHE_HOME"); try? FileManager.default.removeItem(at: cache) }
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let estimator = Estimator(store: try Store.inMemory(), grid: grid, threads: 1)
        XCTAssertEqual(Set(estimator.sources.keys), ["wrn-10-1", "wrn-10-2", "wrn-10-2 forward", "wrn-10-1←wrn-10-2 at", "wrn-10-1←wrn-10-2 kd"])
        XCTAssertTrue(estimator.sources.values.allSatisfy { $0 == .measuredNow })
        XCTAssertTrue(estimator.calibrated.values.allSatisfy { $0 > 0 })
        // A forward is faster than a training step, and a student's step with its teacher's forward
        // slower than the student's own (the figures are this machine's; only the order is tested).
        XCTAssertGreaterThan(estimator.calibrated["wrn-10-2 forward"]!, estimator.calibrated["wrn-10-2"]!)
        XCTAssertLessThan(estimator.calibrated["wrn-10-1←wrn-10-2 at"]!, estimator.calibrated["wrn-10-1"]!)
        let again = Estimator(store: try Store.inMemory(), grid: grid, threads: 1)
        XCTAssertTrue(again.sources.values.allSatisfy { $0 == .cache })
        XCTAssertEqual(again.calibrated, estimator.calibrated)
    }

    func testCalibrationMeasuresOnceAndCaches() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("atx-estimator-\(UUID().uuidString)")
        setenv("XDG_CACHE_HOME", cache.path, 1)
        defer { unsetenv("XDG_CACHE_HOME"); try? FileManager.default.removeItem(at: cache) }
        let c = StepBenchCase(name: "wrn-10-1", student: "wrn-10-1", teacher: nil, method: .ce, trains: true)
        let first = try XCTUnwrap(Calibration.rate(c, batch: 4, threads: 1))
        XCTAssertEqual(first.1, .measuredNow)
        XCTAssertGreaterThan(first.0, 0)
        let second = try XCTUnwrap(Calibration.rate(c, batch: 4, threads: 1))
        XCTAssertEqual(second.1, .cache)
        XCTAssertEqual(second.0, first.0, "the cached figure is the measured one")
    }
}
