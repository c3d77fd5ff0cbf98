import Foundation
import XCTest
import Autograd
import Data
import NN
import Tensor
@testable import Training

extension XCTestCase {
    /// A fresh directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}

final class TrainerTests: XCTestCase {
    func testSGDMatchesTorchOptimSGD() {
        // torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5): two steps by hand.
        var sgd = SGD(momentum: 0.9, weightDecay: 0.5)
        var p = Tensor(shape: [2], data: [1, -2])
        sgd.step("p", parameter: &p, gradient: Tensor(shape: [2], data: [0.5, 1]), learningRate: 0.1)
        // d = g + 0.5p = [1, 0]; buf = d; p = [0.9, -2]
        XCTAssertEqual(p.data, [0.9, -2])
        sgd.step("p", parameter: &p, gradient: Tensor(shape: [2], data: [0, 1]), learningRate: 0.1)
        // d = [0.45, 0]; buf = 0.9·[1, 0] + d = [1.35, 0]; p = [0.765, -2]
        XCTAssertEqual(p.data[0], 0.765, accuracy: 1e-6)
        XCTAssertEqual(p.data[1], -2, accuracy: 1e-6)
        sgd.resetMomentum()
        sgd.step("p", parameter: &p, gradient: Tensor(shape: [2], data: [0, 0]), learningRate: 1)
        // a fresh buffer: d = 0.5p → p = 0.5p
        XCTAssertEqual(p.data[0], 0.3825, accuracy: 1e-6)
    }

    func testScheduleDropsAtScaledMilestones() {
        XCTAssertEqual(RunConfig.scaledMilestones(epochs: 200), [60, 120, 160])
        XCTAssertEqual(RunConfig.scaledMilestones(epochs: 10), [3, 6, 8])
        XCTAssertEqual(RunConfig.scaledMilestones(epochs: 2), [2])
        let c = RunConfig(student: "wrn-16-1", dataset: .synthetic, epochs: 200)
        XCTAssertEqual(c.learningRate(epoch: 59), 0.1)
        XCTAssertEqual(c.learningRate(epoch: 60), 0.02, accuracy: 1e-7)   // epoch 60 already runs at 0.02
        XCTAssertEqual(c.learningRate(epoch: 200), 0.1 * 0.2 * 0.2 * 0.2, accuracy: 1e-7)
    }

    static func synthetic(train: Int = 300, test: Int = 100) -> DatasetSplits {
        SyntheticConfig(trainCount: train, testCount: test, channels: 3, numClasses: 4, seed: 3).make()
    }

    /// A checkpoint names the results database it belongs to: that database resumes it, another
    /// (or `atx train`) does not; one written before checkpoints named their database is resumed
    /// only where the database recorded an attempt of the run.
    func testCheckpointsResumeOnlyInTheirOwnDatabase() throws {
        let data = Self.synthetic(train: 64, test: 16)
        let config = RunConfig(student: "wrn-10-1", method: .ce, dataset: .synthetic, epochs: 2, batchSize: 32, seed: 5)
        let dir = try temporaryDirectory()
        try Trainer(config: config, data: data, teacher: nil, directory: dir, owner: .database("aaaa", adoptUnnamed: false)).run(stopAfter: 1)
        XCTAssertEqual(try Trainer(config: config, data: data, teacher: nil, directory: dir,
                                   owner: .database("aaaa", adoptUnnamed: false)).completedEpochs, 1)
        for other in [CheckpointOwner.database("bbbb", adoptUnnamed: true), .none] {
            XCTAssertThrowsError(try Trainer(config: config, data: data, teacher: nil, directory: dir, owner: other)) { e in
                XCTAssertTrue("\(e)".contains("belongs to another results database (aaaa)") && "\(e)".contains("atx merge"), "\(e)")
            }
        }
        // Unnamed (an earlier atx, or `atx train`): atx train resumes it; a database only after an attempt of its own.
        let unnamed = try temporaryDirectory()
        try Trainer(config: config, data: data, teacher: nil, directory: unnamed).run(stopAfter: 1)
        XCTAssertEqual(try Trainer(config: config, data: data, teacher: nil, directory: unnamed).completedEpochs, 1)
        XCTAssertEqual(try Trainer(config: config, data: data, teacher: nil, directory: unnamed,
                                   owner: .database("aaaa", adoptUnnamed: true)).completedEpochs, 1)
        XCTAssertThrowsError(try Trainer(config: config, data: data, teacher: nil, directory: unnamed,
                                         owner: .database("aaaa", adoptUnnamed: false))) { e in
            XCTAssertTrue("\(e)".contains("names no results database"), "\(e)")
        }
    }

    /// A run's resumable state (checkpoint.safetensors) serves as a teacher: its student is read
    /// (`atx train --teacher-checkpoint` accepts it and says so).
    func testARunsTrainingStateLoadsAsItsModel() throws {
        let data = Self.synthetic(train: 64, test: 16)
        let config = RunConfig(student: "wrn-10-1", method: .ce, dataset: .synthetic, epochs: 2, batchSize: 32, seed: 5)
        let dir = try temporaryDirectory()
        let trainer = try Trainer(config: config, data: data, teacher: nil, directory: dir)
        try trainer.run(stopAfter: 1)
        let model = try Model.trained(at: dir.appendingPathComponent(Trainer.checkpointName).path, expected: "wrn-10-1")
        XCTAssertEqual([model.inChannels, model.numClasses], [3, 4])
        XCTAssertEqual(model.stateTensors, trainer.student.stateTensors)
    }

    /// Where the weights lie is not part of a run: a checkpoint resumes after they moved.
    func testACheckpointResumesAfterTheWeightsMoved() throws {
        let data = Self.synthetic(train: 64, test: 16)
        let dir = try temporaryDirectory()
        var rng = RNG(seed: 1)
        let weights = dir.appendingPathComponent("a/w.safetensors"), moved = dir.appendingPathComponent("b/w.safetensors")
        try FileManager.default.createDirectory(at: weights.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Model(name: "wrn-10-1", numClasses: 4, rng: &rng).save(to: weights)
        let sha = try ContentHash.sha256(of: weights)
        var config = RunConfig(student: "wrn-10-1", method: .ce, dataset: .synthetic, epochs: 2, batchSize: 32, seed: 5,
                               pretrained: PretrainedWeights(sha256: sha, file: weights.path))
        let run = dir.appendingPathComponent("run")
        try Trainer(config: config, data: data, teacher: nil, directory: run).run(stopAfter: 1)
        try FileManager.default.moveItem(at: weights, to: moved)
        config.pretrained?.file = moved.path
        let resumed = try Trainer(config: config, data: data, teacher: nil, directory: run)
        XCTAssertEqual(resumed.completedEpochs, 1)
        XCTAssertEqual(try resumed.run().count, 2)
        // Other weights are another run.
        config.pretrained?.sha256 = String(repeating: "0", count: 64)
        XCTAssertThrowsError(try Trainer(config: config, data: data, teacher: nil, directory: run))
    }

    /// An interrupted run resumed from its checkpoint gives the same curves and weights.
    func testInterruptedAndResumedRunEqualsUninterrupted() throws {
        let data = Self.synthetic(train: 96, test: 32)
        let config = RunConfig(student: "wrn-10-1", method: .ce, dataset: .synthetic, epochs: 3, batchSize: 32, seed: 5)
        let full = try Trainer(config: config, data: data, teacher: nil, directory: try temporaryDirectory())
        let uninterrupted = try full.run()

        let dir = try temporaryDirectory()
        try Trainer(config: config, data: data, teacher: nil, directory: dir).run(stopAfter: 1)
        try Trainer(config: config, data: data, teacher: nil, directory: dir).run(stopAfter: 2)
        let resumed = try Trainer(config: config, data: data, teacher: nil, directory: dir)
        XCTAssertEqual(resumed.completedEpochs, 2)
        let curves = try resumed.run()
        XCTAssertEqual(curves.count, 3)
        for (a, b) in zip(uninterrupted, curves) {
            XCTAssertEqual([a.trainLoss, a.trainError, a.testLoss, a.testError, a.learningRate],
                           [b.trainLoss, b.trainError, b.testLoss, b.testError, b.learningRate], "epoch \(a.epoch)")
            XCTAssertEqual(a.parts, b.parts)
        }
        XCTAssertEqual(resumed.student.stateTensors, full.student.stateTensors)
        // A checkpoint of another configuration is refused, not overwritten.
        var other = config
        other.seed = 6
        XCTAssertThrowsError(try Trainer(config: other, data: data, teacher: nil, directory: dir)) { e in
            XCTAssertTrue("\(e)".contains(Trainer.checkpointName), "\(e)")
        }
    }

    /// The paired effects rest on this: the runs of one seed in a table row start from the same
    /// student weights and see the same subset, batches, order and augmentation; only the method differs.
    func testRunsOfOneSeedDifferOnlyInTheMethod() throws {
        let base = RunConfig(student: "wrn-10-1", method: .ce, dataset: .synthetic, trainSubset: 40, testSubset: 20,
                             epochs: 2, batchSize: 16, seed: 7)
        var at = base, factt = base
        at.teacher = "wrn-10-2"; at.method = .at(mapping: .sum2, beta: 1000)
        factt.teacher = "wrn-10-2"; factt.method = .factt(beta: 1000, schedule: .constant)  // draws adapters too
        var rng = RNG(seed: 99)
        let teacher = try Model(name: "wrn-10-2", inChannels: 3, numClasses: 10, rng: &rng)
        func trainer(_ config: RunConfig) throws -> Trainer {
            try Trainer(config: config, data: try config.openData(), teacher: config.method.needsTeacher ? teacher : nil,
                        directory: nil)
        }
        let (ce, others) = (try trainer(base), [try trainer(at), try trainer(factt)])
        for other in others {
            let method = other.config.method.name
            XCTAssertEqual((other.data.train as! ImageDataset).images, (ce.data.train as! ImageDataset).images, "the subset, \(method)")
            XCTAssertEqual((other.data.train as! ImageDataset).labels, (ce.data.train as! ImageDataset).labels)
            XCTAssertEqual(other.student.stateTensors, ce.student.stateTensors, "the initial weights, \(method)")
            for epoch in 1...2 {
                let (mine, theirs) = (other.trainBatcher.epoch(epoch), ce.trainBatcher.epoch(epoch))
                XCTAssertEqual(mine.order, theirs.order, "the order of epoch \(epoch), \(method)")
                XCTAssertEqual(mine[0].images, theirs[0].images, "the first batch (augmented) of epoch \(epoch), \(method)")
                XCTAssertEqual(mine[0].labels, theirs[0].labels)
            }
        }
        XCTAssertFalse(others[1].adapters.isEmpty, "F-ActT has adapters, drawn after the student")
        // Not vacuous: another seed changes all of it.
        var other = base
        other.seed = 8
        let reseeded = try trainer(other)
        XCTAssertNotEqual(reseeded.student.stateTensors, ce.student.stateTensors)
        XCTAssertNotEqual(reseeded.trainBatcher.epoch(1).order, ce.trainBatcher.epoch(1).order)
        XCTAssertNotEqual((reseeded.data.train as! ImageDataset).images, (ce.data.train as! ImageDataset).images, "another subset")
    }

    func testDivergenceIsAClearError() throws {
        let data = Self.synthetic(train: 64, test: 16)
        let config = RunConfig(student: "wrn-10-1", dataset: .synthetic, epochs: 1, batchSize: 16, learningRate: 1e30, seed: 1)
        XCTAssertThrowsError(try Trainer(config: config, data: data, teacher: nil, directory: nil).run()) { e in
            guard case .diverged(let epoch, let batch, let kind, let value) = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertEqual(epoch, 1)
            XCTAssertEqual(kind, .training)
            XCTAssertFalse(value.isFinite)
            XCTAssertGreaterThan(batch ?? 0, 1)
            XCTAssertTrue("\(e)".hasPrefix("diverged at epoch 1, batch \(batch!) (training loss "), "\(e)")
        }
    }

    /// One batch per epoch and a huge learning rate: every training step is finite (it is taken
    /// before the update), but after an update the test loss is not. The run stops with the
    /// epoch and the loss named; curves.json keeps the curve with nulls; the checkpoint stays at
    /// the last finite epoch.
    func testDivergingTestLossEndsTheRunAndKeepsTheCurve() throws {
        let data = Self.synthetic(train: 16, test: 16)
        let config = RunConfig(student: "wrn-10-1", dataset: .synthetic, epochs: 3, batchSize: 16, learningRate: 100_000,
                               flip: false, crop: false, seed: 1)
        let dir = try temporaryDirectory()
        var observed: [EpochRecord] = []
        let trainer = try Trainer(config: config, data: data, teacher: nil, directory: dir) { event in
            if case .epoch(let r) = event { observed.append(r) }
        }
        var diverged: Int?
        XCTAssertThrowsError(try trainer.run()) { e in
            guard case .diverged(let epoch, let batch, let kind, let value) = e as? TrainingError else { return XCTFail("\(e)") }
            diverged = epoch
            XCTAssertNil(batch, "a test loss belongs to no batch")
            XCTAssertEqual(kind, .test)
            XCTAssertFalse(value.isFinite)
            XCTAssertEqual("\(e)", "diverged at epoch \(epoch) (test loss \(value.isNaN ? "nan" : value > 0 ? "inf" : "-inf"))")
        }
        let epoch = try XCTUnwrap(diverged)
        XCTAssertEqual(trainer.curves.count, epoch, "the curve keeps every epoch up to the one that diverged")
        XCTAssertEqual(observed, trainer.curves, "the observer (the store) saw every epoch, the diverged one too")
        XCTAssertFalse(trainer.curves.last!.testLoss.isFinite)

        let text = try String(contentsOf: dir.appendingPathComponent(Trainer.curvesName), encoding: .utf8)
        XCTAssertTrue(text.contains("\"testLoss\":null"), text)
        XCTAssertFalse(text.lowercased().contains("nan"), text)
        let read = try JSONDecoder().decode([EpochRecord].self, from: Data(text.utf8))
        XCTAssertEqual(read, trainer.curves)
        XCTAssertTrue(read.last!.testLoss.isNaN)

        // The checkpoint holds the epochs before the diverged one: a retry resumes there.
        let resumed = try Trainer(config: config, data: data, teacher: nil, directory: dir)
        XCTAssertEqual(resumed.completedEpochs, epoch - 1)
        XCTAssertEqual(resumed.curves, Array(trainer.curves.prefix(epoch - 1)))
    }

    func testEpochRecordsEncodeNonFiniteValuesAsNull() throws {
        let r = EpochRecord(epoch: 2, trainLoss: .infinity, trainError: 90, testLoss: -.nan, testError: 100,
                            parts: ["ce": .nan, "at": 0.5], learningRate: 0.1, seconds: 1, imagesPerSecond: 10)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(r), as: UTF8.self)
        XCTAssertEqual(text, #"{"epoch":2,"imagesPerSecond":10,"learningRate":0.1,"parts":{"at":0.5,"ce":null},"#
                       + #""seconds":1,"testError":100,"testLoss":null,"trainError":90,"trainLoss":null}"#)
        let back = try JSONDecoder().decode(EpochRecord.self, from: Data(text.utf8))
        XCTAssertTrue(back.trainLoss.isNaN && back.testLoss.isNaN && back.parts["ce"]!.isNaN)
        XCTAssertEqual(back, EpochRecord(epoch: 2, trainLoss: .nan, trainError: 90, testLoss: .nan, testError: 100,
                                         parts: ["ce": .nan, "at": 0.5], learningRate: 0.1, seconds: 1, imagesPerSecond: 10))
        // A NaN logit row counts as misclassified instead of trapping.
        XCTAssertEqual(misclassified(Tensor(shape: [2, 2], data: [.nan, 1, 0, 1]), [1, 1]), 1)
    }

    /// WRN-16-1 learns the synthetic set far above chance (75% error) in a few epochs; then AT
    /// from that trained teacher to a fresh student lowers the AT loss over training.
    func testLearnsSyntheticDataAndATLowersTheAttentionLoss() throws {
        let data = Self.synthetic(train: 400, test: 100)
        let dir = try temporaryDirectory()
        let teacherConfig = RunConfig(student: "wrn-16-1", dataset: .synthetic, epochs: 4, batchSize: 50,
                                      learningRate: 0.05, flip: false, crop: false, seed: 1)
        let curves = try Trainer(config: teacherConfig, data: data, teacher: nil, directory: dir).run()
        print("synthetic WRN-16-1 test error by epoch:", curves.map { String(format: "%.1f%%", $0.testError) })
        XCTAssertLessThan(curves.last!.testError, 37.5, "far below chance (75%): under half of it")

        let teacher = try Model(checkpoint: dir.appendingPathComponent(Trainer.modelName))
        let atConfig = RunConfig(student: "wrn-10-1", teacher: "wrn-16-1", method: .at(mapping: .sum2, beta: 1000),
                                 dataset: .synthetic, epochs: 3, batchSize: 50, learningRate: 0.05, flip: false, crop: false, seed: 2)
        let at = try Trainer(config: atConfig, data: data, teacher: teacher, directory: nil).run()
        print("AT loss by epoch:", at.map { $0.parts["at"]! })
        XCTAssertLessThan(at.last!.parts["at"]!, 0.7 * at.first!.parts["at"]!)
    }

    func testMethodsNeedTheirTeacherAndNameTheirHyperparameters() {
        XCTAssertNil(MethodKind(rawValue: "fitnet"))
        XCTAssertThrowsError(try Method(kind: .kd, hyperparameters: [.beta: 1])) { e in
            XCTAssertEqual("\(e)", "method 'kd' does not take 'beta'; it takes: temperature, alpha")
        }
        XCTAssertThrowsError(try Method(kind: .kd, mapping: .sum1)) { e in XCTAssertTrue("\(e)".contains("does not take a mapping"), "\(e)") }
        XCTAssertThrowsError(try Method(kind: .at, groups: [1, 1])) { e in XCTAssertEqual(e as? MethodError, .badGroups([1, 1])) }
        XCTAssertThrowsError(try Method(kind: .at, groups: [])) { e in XCTAssertEqual(e as? MethodError, .badGroups([])) }
        XCTAssertEqual(try Method(kind: .symmetry), .symmetry(beta: 2000))
        XCTAssertEqual(try Method(kind: .atkd, schedule: .perEpoch(0.9)),
                       .atkd(mapping: .sum2, beta: 1000, temperature: 4, alpha: 0.9, schedule: .perEpoch(0.9), form: .code2017))
        XCTAssertThrowsError(try Method(kind: .at, schedule: .learningRate)) { e in XCTAssertEqual(e as? MethodError, .betaDecayNotTaken(method: .at)) }
        XCTAssertThrowsError(try Method(kind: .factt, kdForm: .code2017)) { e in XCTAssertEqual(e as? MethodError, .kdFormNotTaken(method: .factt)) }
        let config = RunConfig(student: "wrn-10-1", method: .kd(temperature: 4, alpha: 0.9, form: .code2017), dataset: .synthetic, epochs: 1)
        XCTAssertThrowsError(try Trainer(config: config, data: Self.synthetic(train: 8, test: 8), teacher: nil, directory: nil)) { e in
            XCTAssertEqual(e as? TrainingError, .missingTeacher(method: .kd))
        }
    }
}
