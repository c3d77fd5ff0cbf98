import Foundation
import XCTest
import Data
import NN
import Tensor
@testable import Training

/// A cohort trains the students of one teacher and seed in lockstep, sharing each batch and the
/// teacher's forward. What each member computes must be exactly what it computes alone.
final class CohortTests: XCTestCase {
    static let base = RunConfig(student: "wrn-10-1", teacher: "wrn-10-2", method: .ce, dataset: .synthetic, trainSubset: 40,
                                testSubset: 20, epochs: 3, batchSize: 16, milestones: [2, 3], seed: 7)

    static func config(_ method: Training.Method) -> RunConfig {
        var c = base
        c.method = method
        return c
    }

    /// AT, KD, AT+KD and F-ActT (with adapters), a decaying β: the methods that read the teacher's forward.
    static let methods: [Training.Method] = [
        .at(mapping: .sum2, beta: 1000), .kd(temperature: 4, alpha: 0.9, form: .code2017),
        .atkd(mapping: .sum2, beta: 1000, temperature: 4, alpha: 0.9, schedule: .learningRate, form: .code2017),
        .factt(beta: 1000, schedule: .learningRate),
    ]

    static func teacher() throws -> Model {
        var rng = RNG(seed: 99)
        return try Model(name: "wrn-10-2", inChannels: 3, numClasses: 10, rng: &rng)
    }

    /// Each figure of an epoch but its timing.
    func assertSameCurves(_ a: [EpochRecord], _ b: [EpochRecord], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual([x.trainLoss, x.trainError, x.testLoss, x.testError, x.learningRate],
                           [y.trainLoss, y.trainError, y.testLoss, y.testError, y.learningRate], "\(what), epoch \(x.epoch)",
                           file: file, line: line)
            XCTAssertEqual(x.parts, y.parts, "\(what), epoch \(x.epoch)", file: file, line: line)
            XCTAssertEqual(x.beta, y.beta, "\(what), epoch \(x.epoch)", file: file, line: line)
        }
    }

    func testACohortTrainsEachMemberExactlyAsAlone() throws {
        let teacher = try Self.teacher()
        let data = try Self.base.openData()
        var alone: [(curves: [EpochRecord], state: [String: Tensor], adapters: [Tensor?])] = []
        for method in Self.methods {
            let t = try Trainer(config: Self.config(method), data: data, teacher: teacher, directory: nil)
            alone.append((try t.run(), t.student.stateTensors, t.adapters))
        }
        let members = try Self.methods.map { try Trainer(config: Self.config($0), data: data, teacher: teacher, directory: try temporaryDirectory()) }
        let cohort = try Cohort(members)
        let outcomes = cohort.run()
        for (i, method) in Self.methods.enumerated() {
            let curves = try outcomes[i].get()
            assertSameCurves(alone[i].curves, curves, method.name)
            XCTAssertEqual(members[i].student.stateTensors, alone[i].state, "\(method.name): the weights, bit for bit")
            XCTAssertEqual(members[i].adapters, alone[i].adapters, "\(method.name): the adapters")
            XCTAssertTrue(FileManager.default.fileExists(atPath: members[i].directory!.appendingPathComponent(Trainer.modelName).path))
        }
        XCTAssertEqual(members[0].trainBatcher.batchesPerEpoch, 3)
        XCTAssertEqual(cohort.teacherForwards, 3 * 3, "one teacher forward per batch (3 in each of 3 epochs) for all four")
        // Not vacuous: the members differ from each other.
        XCTAssertNotEqual(members[0].student.stateTensors, members[1].student.stateTensors)
        XCTAssertEqual(alone[3].curves.map { ($0.beta ?? 0).rounded() }, [1000, 200, 40], "F-ActT's β decays with the learning rate")
    }

    /// Members resume from their own checkpoints, at different epochs: the one behind catches up
    /// alone, then they train together. Each ends exactly as an uninterrupted run alone.
    func testMembersResumeFromTheirOwnEpochs() throws {
        let teacher = try Self.teacher()
        let data = try Self.base.openData()
        let (atConfig, kdConfig) = (Self.config(Self.methods[0]), Self.config(Self.methods[1]))
        let atAlone = try Trainer(config: atConfig, data: data, teacher: teacher, directory: nil).run()
        let kdAlone = try Trainer(config: kdConfig, data: data, teacher: teacher, directory: nil).run()
        let (atDir, kdDir) = (try temporaryDirectory(), try temporaryDirectory())
        try Trainer(config: atConfig, data: data, teacher: teacher, directory: atDir).run(stopAfter: 2)
        try Trainer(config: kdConfig, data: data, teacher: teacher, directory: kdDir).run(stopAfter: 1)
        var epochsSeen: [String: [Int]] = ["at": [], "kd": []]
        func trainer(_ config: RunConfig, _ dir: URL) throws -> Trainer {
            try Trainer(config: config, data: data, teacher: teacher, directory: dir) { event in
                if case .epoch(let r) = event { epochsSeen[config.method.name]!.append(r.epoch) }
            }
        }
        let members = [try trainer(atConfig, atDir), try trainer(kdConfig, kdDir)]
        XCTAssertEqual(members.map(\.completedEpochs), [2, 1])
        let outcomes = try Cohort(members).run()
        assertSameCurves(atAlone, try outcomes[0].get(), "at")
        assertSameCurves(kdAlone, try outcomes[1].get(), "kd")
        XCTAssertEqual(epochsSeen, ["at": [3], "kd": [2, 3]], "each member trains only the epochs it has not")
    }

    /// One member diverges (an absurd β): it ends with the error naming its batch, and the others
    /// train on to the end exactly as alone.
    func testOneMemberDivergingLeavesTheOthers() throws {
        let teacher = try Self.teacher()
        let data = try Self.base.openData()
        let good = Self.config(Self.methods[1])
        let alone = try Trainer(config: good, data: data, teacher: teacher, directory: nil).run()
        let bad = Self.config(.at(mapping: .sum2, beta: .infinity))
        let outcomes = try Cohort([try Trainer(config: bad, data: data, teacher: teacher, directory: nil),
                                   try Trainer(config: good, data: data, teacher: teacher, directory: nil)]).run()
        XCTAssertThrowsError(try outcomes[0].get()) { e in
            XCTAssertTrue("\(e)".hasPrefix("diverged at epoch 1, batch 1 (training loss"), "\(e)")
        }
        assertSameCurves(alone, try outcomes[1].get(), "the member that did not diverge")
    }

    /// Runs on other batches (another seed) or with another teacher never share a cohort.
    func testACohortRefusesRunsThatDoNotShareBatchesAndTeacher() throws {
        let teacher = try Self.teacher()
        let data = try Self.base.openData()
        var reseeded = Self.config(Self.methods[0])
        reseeded.seed = 8
        let a = try Trainer(config: Self.config(Self.methods[1]), data: data, teacher: teacher, directory: nil)
        XCTAssertThrowsError(try Cohort([a, try Trainer(config: reseeded, data: data, teacher: teacher, directory: nil)])) { e in
            XCTAssertTrue("\(e)".contains("must share their batches and teacher"), "\(e)")
        }
        let otherTeacher = try Self.teacher()
        XCTAssertThrowsError(try Cohort([a, try Trainer(config: Self.config(Self.methods[0]), data: data, teacher: otherTeacher,
                                                       directory: nil)]))
        XCTAssertEqual(Self.config(Self.methods[0]).lockstepConfig, Self.config(Self.methods[3]).lockstepConfig)
        XCTAssertNotEqual(Self.config(Self.methods[0]).lockstepConfig, reseeded.lockstepConfig)
    }
}
