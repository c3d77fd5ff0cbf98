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
        // A distillation run adds a third of the teacher's step; min-l2 triples the student's.
        XCTAssertEqual(estimator.throughput(RunConfig(student: "wrn-10-1", teacher: "wrn-10-1", method: .kd(temperature: 4, alpha: 0.9, form: .code2017), dataset: .synthetic)),
                       1 / (1 / 100.0 + 1 / 300.0), accuracy: 1e-9)
        XCTAssertEqual(estimator.throughput(RunConfig(student: "wrn-10-1", method: .minL2(beta: 1), dataset: .synthetic)), 100.0 / 3, accuracy: 1e-9)
    }

    /// The plan simulates the runner: the longest chains first (both teachers, then the students of
    /// each seed as one cohort sharing the teacher's forward, then the baselines), at every network's
    /// fallback rate of 50 img/s.
    func testThePlanSimulatesTheRunnersSchedule() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        let estimator = Estimator(store: try Store.inMemory(), grid: grid, threads: 1, calibrate: false)
        let todo = grid.runs.map { (run: $0, epochsDone: 0) }
        let teacher = try XCTUnwrap(grid.runs.first { $0.config.student == "wrn-10-2" }).config
        let baseline = try XCTUnwrap(grid.runs.first { $0.config.student == "wrn-10-1" && $0.config.method == .ce }).config
        let student = try XCTUnwrap(grid.runs.first { $0.config.method.kind == .at }).config
        let (t, b) = (estimator.seconds(teacher), estimator.seconds(baseline))
        let (alone, shared) = (estimator.seconds(student), estimator.seconds(student, sharing: 2))
        XCTAssertLessThan(shared, alone, "a cohort of two shares the teacher's forward")
        XCTAssertEqual(shared, Double(student.epochs) * (100 / (1 / (1 / 50.0 + 1 / (3 * 50.0 * 2))) + 50 / 150.0), accuracy: 1e-9)
        let one = estimator.simulate(grid, todo: todo, jobs: 1)
        XCTAssertEqual(one.wall, 2 * (t + b + 2 * shared), accuracy: 1e-9, "one worker: everything in turn")
        let two = estimator.simulate(grid, todo: todo, jobs: 2)
        XCTAssertEqual(two.wall, t + 2 * shared + b, accuracy: 1e-9, "two workers: teachers, then each seed's cohort, then the baselines")
        XCTAssertEqual(two.seconds[grid.runs.first { $0.config.method.kind == .kd }!.key]!, shared, accuracy: 1e-9)
        // With the teachers done and a student half trained, only what is left.
        let later = grid.runs.filter { $0.config.student != "wrn-10-2" }.map { (run: $0, epochsDone: $0.config.method == student.method ? 1 : 0) }
        XCTAssertEqual(estimator.simulate(grid, todo: later, jobs: 2).wall,
                       2 * shared - shared / Double(student.epochs) + b, accuracy: 1e-9)
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
