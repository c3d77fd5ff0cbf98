// Table 4's fine-tuning pieces: frozen parameters and BN in a training step, and attention
// transfer on a chosen subset of groups.
import Foundation
import XCTest
import Autograd
import Data
import NN
import Tensor
@testable import Training

final class FineTuningTests: XCTestCase {
    /// One SGD step with BN, the stem and layer1 frozen leaves them and every running statistic
    /// bit-identical, and moves every other parameter.
    func testATrainingStepLeavesFrozenTensorsBitIdentical() throws {
        let data = SyntheticConfig(trainCount: 4, testCount: 2, channels: 3, numClasses: 4, seed: 1).make()
        let config = RunConfig(student: "resnet-18", teacher: "resnet-18", method: .at(mapping: .sum2, beta: 1000, groups: [2, 3]),
                               dataset: .synthetic, epochs: 1, batchSize: 2, learningRate: 0.1, seed: 3)
        var rng = RNG(seed: 8)
        let teacher = try Model(name: "resnet-18", numClasses: 4, rng: &rng)
        let trainer = try Trainer(config: config, data: data, teacher: teacher, directory: nil)
        try trainer.student.freeze(.fineTuning)
        let student = trainer.student
        let (parameters, buffers) = (student.parameters, student.buffers)
        let batch = Batcher(data.train, batchSize: 2, shuffle: false).epoch(0)[0]
        let obj = try trainer.trainStep(batch, method: config.method, learningRate: 0.1, epoch: 1, batchNumber: 1)
        XCTAssertNotNil(obj.parts["at"])

        XCTAssertEqual(student.buffers, buffers, "running statistics changed")
        var changed = 0
        for name in student.parameterNames {
            if student.frozenParameterNames.contains(name) {
                XCTAssertEqual(student.parameters[name]!.data, parameters[name]!.data, "frozen \(name) changed")
            } else {
                XCTAssertNotEqual(student.parameters[name]!.data, parameters[name]!.data, "trainable \(name) did not change")
                changed += 1
            }
        }
        XCTAssertEqual(changed, student.trainableParameterNames.count)
        XCTAssertTrue(student.frozenParameterNames.contains("layer1.1.conv2.weight") && student.frozenParameterNames.contains("bn1.weight"))
        XCTAssertEqual(Set(trainer.sgd.buffers.keys), Set(student.trainableParameterNames), "momentum only for trainable parameters")
    }

    /// F-ActT sizes its adapters by the networks' groups: on four-group ResNets (equal widths, so
    /// no adapter) a step trains, and a WRN pair of different widths gets one adapter per group
    /// whose channels differ, saved and restored by the checkpoint under "adapter.{g}".
    func testFullActivationTransferAdaptersFollowTheGroupCount() throws {
        let data = SyntheticConfig(trainCount: 4, testCount: 2, channels: 3, numClasses: 4, seed: 1).make()
        var rng = RNG(seed: 8)
        let resnet = RunConfig(student: "resnet-18", teacher: "resnet-34", method: .factt(beta: 1000, schedule: .constant), dataset: .synthetic,
                               epochs: 1, batchSize: 2, seed: 3)
        let trainer = try Trainer(config: resnet, data: data, teacher: try Model(name: "resnet-34", numClasses: 4, rng: &rng), directory: nil)
        XCTAssertEqual(trainer.adapters.count, 4)
        XCTAssertTrue(trainer.adapters.allSatisfy { $0 == nil })
        let batch = Batcher(data.train, batchSize: 2, shuffle: false).epoch(0)[0]
        let obj = try trainer.trainStep(batch, method: resnet.method, learningRate: 0.01, epoch: 1, batchNumber: 1)
        XCTAssertTrue(obj.parts["factt"].map { $0.isFinite && $0 > 0 } ?? false, "\(obj.parts)")

        let wrn = RunConfig(student: "wrn-10-1", teacher: "wrn-10-2", method: .factt(beta: 1000, schedule: .constant), dataset: .synthetic,
                            epochs: 1, batchSize: 2, seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-factt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try Model(name: "wrn-10-2", numClasses: 4, rng: &rng)
        let adapted = try Trainer(config: wrn, data: data, teacher: teacher, directory: dir)
        XCTAssertEqual(adapted.adapters.map { $0?.shape }, [[32, 16, 1, 1], [64, 32, 1, 1], [128, 64, 1, 1]])
        try adapted.run()
        let resumed = try Trainer(config: wrn, data: data, teacher: teacher, directory: dir)
        XCTAssertEqual(resumed.adapters.map { $0?.data }, adapted.adapters.map { $0?.data }, "adapters restored from the checkpoint")
        XCTAssertNotEqual(resumed.adapters.map { $0?.data }, try Trainer(config: wrn, data: data, teacher: teacher, directory: nil).adapters.map { $0?.data },
                          "the adapters were trained")
    }

    /// A nil `groups` is not encoded: existing configurations keep their bytes and run keys.
    func testATGroupsLeaveExistingEncodingsUnchanged() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ m: Method) throws -> String { String(decoding: try encoder.encode(m), as: UTF8.self) }
        // The encodings before `groups` existed.
        XCTAssertEqual(try json(.at(mapping: .sum2, beta: 1000)), #"{"at":{"beta":1000,"mapping":"sum2"}}"#)
        XCTAssertEqual(try json(.atkd(mapping: .sum2, beta: 1000, temperature: 4, alpha: 0.9, schedule: .constant, form: .code2018)),
                       #"{"atkd":{"alpha":0.9,"beta":1000,"betaDecay":1,"mapping":"sum2","temperature":4}}"#)
        XCTAssertEqual(try json(try Method(kind: .at)), #"{"at":{"beta":1000,"mapping":"sum2"}}"#)
        XCTAssertEqual(try json(.at(mapping: .sum2, beta: 1000, groups: [2, 3])), #"{"at":{"beta":1000,"groups":[2,3],"mapping":"sum2"}}"#)
        let old = try JSONDecoder().decode(Method.self, from: Data(#"{"at":{"beta":1000,"mapping":"sum1"}}"#.utf8))
        XCTAssertEqual(old, .at(mapping: .sum1, beta: 1000, groups: nil))
        let config = RunConfig(student: "wrn-16-1", teacher: "wrn-16-2", method: .at(mapping: .sum2, beta: 1000), dataset: .cifar10, epochs: 10)
        XCTAssertFalse(String(decoding: try encoder.encode(config), as: UTF8.self).contains("groups"))
        XCTAssertEqual(try Method(kind: .atkd, groups: [1]), .atkd(mapping: .sum2, beta: 1000, temperature: 4, alpha: 0.9,
                                                                  schedule: .learningRate, form: .code2017, groups: [1]))
        XCTAssertThrowsError(try Method(kind: .kd, groups: [1])) { e in XCTAssertTrue("\(e)".contains("groups"), "\(e)") }
    }

    /// KD's form and β's schedule: the values the runs before them computed with (KD 2018, constant
    /// β) encode as those runs did, so their keys stay; the paper's defaults (2017, β with the
    /// learning rate) are new identities; every encoding decodes back.
    func testKDFormsAndBetaSchedulesEncodeOlderRunsUnchanged() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ m: Method) throws -> String { String(decoding: try encoder.encode(m), as: UTF8.self) }
        XCTAssertEqual(try json(.kd(temperature: 4, alpha: 0.9, form: .code2018)), #"{"kd":{"alpha":0.9,"temperature":4}}"#)
        XCTAssertEqual(try json(.kd(temperature: 4, alpha: 0.9, form: .code2017)), #"{"kd":{"alpha":0.9,"form":"2017","temperature":4}}"#)
        XCTAssertEqual(try json(.factt(beta: 1000, schedule: .constant)), #"{"factt":{"beta":1000}}"#)
        XCTAssertEqual(try json(.factt(beta: 1000, schedule: .learningRate)), #"{"factt":{"beta":1000,"betaSchedule":"lr"}}"#)
        XCTAssertEqual(try json(.atkd(mapping: .sum2, beta: 1000, temperature: 4, alpha: 0.9, schedule: .perEpoch(0.9), form: .code2018)),
                       #"{"atkd":{"alpha":0.9,"beta":1000,"betaDecay":0.9,"mapping":"sum2","temperature":4}}"#)
        XCTAssertEqual(try json(try Method(kind: .atkd)),
                       #"{"atkd":{"alpha":0.9,"beta":1000,"betaSchedule":"lr","form":"2017","mapping":"sum2","temperature":4}}"#)
        XCTAssertEqual(try json(.ce), #"{"ce":{}}"#)
        XCTAssertEqual(try json(.symmetry(beta: 2000)), #"{"symmetry":{"beta":2000}}"#)
        for m: Method in [.ce, .at(mapping: .max1, beta: 10, groups: [1]), .kd(temperature: 2, alpha: 0.5, form: .code2017),
                          .kd(temperature: 4, alpha: 0.9, form: .code2018),
                          .atkd(mapping: .sum4, beta: 3, temperature: 4, alpha: 0.9, schedule: .learningRate, form: .code2017, groups: [0, 2]),
                          .atkd(mapping: .sum2, beta: 1000, temperature: 4, alpha: 0.9, schedule: .perEpoch(0.95), form: .code2018),
                          .factt(beta: 7, schedule: .perEpoch(0.5)), .gradAT(beta: 1), .minL2(beta: 2), .symmetry(beta: 3)] {
            XCTAssertEqual(try JSONDecoder().decode(Method.self, from: encoder.encode(m)), m, "\(m)")
        }
        // β per epoch: with the learning rate (×0.2 at epochs 3 and 5 of a 6-epoch run), per epoch, constant.
        let config = RunConfig(student: "wrn-10-1", method: .factt(beta: 1000, schedule: .learningRate), dataset: .synthetic,
                               epochs: 6, milestones: [3, 5], lrDecay: 0.2)
        let betas = (1...6).map { e in config.method.scheduled(epoch: e, learningRateFactor: config.learningRate(epoch: e) / config.learningRate).beta! }
        for (b, expected) in zip(betas, [1000, 1000, 200, 200, 40, 40] as [Float]) { XCTAssertEqual(b, expected, accuracy: 1e-3) }
        XCTAssertEqual(BetaSchedule.perEpoch(0.5).beta(8, epoch: 3, learningRateFactor: 0.2), 2)
        XCTAssertEqual(BetaSchedule.constant.beta(8, epoch: 3, learningRateFactor: 0.2), 8)
        XCTAssertEqual([BetaSchedule("lr"), BetaSchedule("1"), BetaSchedule("0.9"), BetaSchedule("constant")],
                       [.learningRate, .constant, .perEpoch(0.9), .constant])
        XCTAssertNil(BetaSchedule("2"))
        // KD's weight on the batch-mean KL: α·T²·2/K (2017), α·T² (2018).
        XCTAssertEqual(KDForm.code2017.klWeight(temperature: 4, alpha: 0.9, classes: 10), 2.88, accuracy: 1e-6)
        XCTAssertEqual(KDForm.code2017.klWeight(temperature: 4, alpha: 0.9, classes: 200), 0.144, accuracy: 1e-6)
        XCTAssertEqual(KDForm.code2018.klWeight(temperature: 4, alpha: 0.9, classes: 200), 14.4, accuracy: 1e-5)
    }

    /// AT on groups [2, 3] is the sum of those two groups' losses; bad groups are errors.
    func testATOnChosenGroups() throws {
        var rng = RNG(seed: 5)
        let student = try Model(name: "resnet-18", numClasses: 3, rng: &rng)
        let teacher = try Model(name: "resnet-18", numClasses: 3, rng: &rng)   // another draw: a different net
        let x = Tensor.normal([2, 3, 32, 32], rng: &rng)
        let all = try objective(.at(mapping: .sum2, beta: 1000), student: student, teacher: teacher, input: x, labels: [0, 2], mode: .eval)
        let late = try objective(.at(mapping: .sum2, beta: 1000, groups: [2, 3]), student: student, teacher: teacher, input: x, labels: [0, 2], mode: .eval)
        let t = GradMode.withoutGraph { teacher.forward(Variable(x), mode: .eval, requiresGrad: false).output.groups }
        let perGroup = (0..<4).map { attentionLoss(student: all.student.groups[$0], teacher: t[$0], mapping: .sum2).value.scalar }
        XCTAssertEqual(all.parts["at"]!, perGroup.reduce(0, +), accuracy: 1e-6 * perGroup.reduce(0, +))
        XCTAssertEqual(late.parts["at"]!, perGroup[2] + perGroup[3], accuracy: 1e-6 * (perGroup[2] + perGroup[3]))
        XCTAssertLessThan(late.parts["at"]!, all.parts["at"]!)
        for bad in [[4], [], [2, 2]] {
            XCTAssertThrowsError(try objective(.at(mapping: .sum2, beta: 1, groups: bad), student: student, teacher: teacher,
                                               input: x, labels: [0, 2], mode: .eval)) { e in
                XCTAssertTrue("\(e)".contains("0…3"), "\(e)")
            }
        }
    }

    /// A Table 4 run on a tiny CUB folder: the student starts from the weights file (fresh head),
    /// its frozen parts stay put through a whole run, its checkpoint loads as the teacher of an AT
    /// run, and weights whose hash is not the planned one are refused.
    /// A temporary folder (removed after the test) holding a tiny `dataset` folder and a
    /// ResNet-18 of `classes` classes drawn from `seed`, saved as weights to start from.
    func pretrainedSetup(_ dataset: DatasetID, _ config: TinyJPEGConfig, classes: Int, seed: UInt64) throws
        -> (dir: URL, model: Model, weights: PretrainedWeights) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-ft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try Datasets.writeTinyJPEG(dataset, to: dir.appendingPathComponent(dataset.rawValue).path, config: config)
        var rng = RNG(seed: seed)
        let model = try Model(name: "resnet-18", numClasses: classes, rng: &rng)
        let url = dir.appendingPathComponent("resnet18.safetensors")
        try model.save(to: url)
        return (dir, model, PretrainedWeights(sha256: try ContentHash.sha256(of: url), file: url.path))
    }

    func testAFineTuningRunFromPretrainedWeightsOnJPEGData() throws {
        let (dir, imagenet, weights) = try pretrainedSetup(.cub200, TinyJPEGConfig(classes: 3, trainPerClass: 2, testPerClass: 1, sides: 40...56),
                                                           classes: 10, seed: 11)
        let config = RunConfig(student: "resnet-18", dataset: .cub200, epochs: 1, batchSize: 3, learningRate: 0.01, weightDecay: 1e-4,
                               seed: 0, pretrained: weights, freezing: .fineTuning, geometry: ImageGeometry(resize: 40, crop: 32))
        let data = try config.openData(locations: DataLocations(cub200: dir.appendingPathComponent("cub200").path))
        XCTAssertEqual(data.train.count, 6)
        XCTAssertEqual(data.train.batchSide, 32)
        let runDir = dir.appendingPathComponent("run")
        let trainer = try Trainer(config: config, data: data, teacher: nil, directory: runDir)
        XCTAssertEqual(trainer.student.parameters["fc.weight"]!.shape, [3, 512], "a fresh head for the 3 classes")
        XCTAssertEqual(trainer.student.parameters["layer3.1.conv2.weight"]!.data, imagenet.parameters["layer3.1.conv2.weight"]!.data)
        XCTAssertEqual(trainer.student.freezing, .fineTuning)
        try trainer.run()
        for name in trainer.student.frozenParameterNames {
            XCTAssertEqual(trainer.student.parameters[name]!.data, imagenet.parameters[name]!.data, "frozen \(name) moved")
        }
        XCTAssertEqual(trainer.student.buffers, imagenet.buffers, "frozen BN statistics moved")
        XCTAssertNotEqual(trainer.student.parameters["layer4.1.conv2.weight"]!.data, imagenet.parameters["layer4.1.conv2.weight"]!.data)

        // The finished run's model is the teacher of an AT run on groups [2, 3].
        let teacher = try Model(checkpoint: runDir.appendingPathComponent(Trainer.modelName))
        XCTAssertEqual(teacher.numClasses, 3)
        var at = config
        at.teacher = "resnet-18"
        at.method = .at(mapping: .sum2, beta: 1000, groups: [2, 3])
        let curves = try Trainer(config: at, data: data, teacher: teacher, directory: nil).run()
        XCTAssertNotNil(curves.last?.parts["at"])

        var wrong = config
        wrong.pretrained = PretrainedWeights(sha256: String(repeating: "0", count: 64), file: weights.file)
        XCTAssertThrowsError(try Trainer(config: wrong, data: data, teacher: nil, directory: nil)) { e in
            XCTAssertTrue("\(e)".contains("is not the"), "\(e)")
        }
    }

    /// A run of 0 epochs evaluates its pretrained weights (Table 5's teacher): the same test error
    /// as evaluating them by hand, top-5 with it, the model saved as the run's; without weights, 0
    /// epochs is refused.
    func testZeroEpochsEvaluatePretrainedWeights() throws {
        let (dir, pretrained, weights) = try pretrainedSetup(.imagenet, TinyJPEGConfig(classes: 7, trainPerClass: 1, testPerClass: 2, sides: 40...56),
                                                             classes: 7, seed: 5)
        let config = RunConfig(student: "resnet-18", dataset: .imagenet, epochs: 0, batchSize: 4, seed: 0, pretrained: weights,
                               geometry: ImageGeometry(resize: 40, crop: 32))
        let data = try config.openData(locations: DataLocations(imagenet: dir.appendingPathComponent("imagenet").path))
        let runDir = dir.appendingPathComponent("run")
        let trainer = try Trainer(config: config, data: data, teacher: nil, directory: runDir)
        let result = try trainer.evaluateOnly()
        let direct = try trainer.evaluate(pretrained, on: data.test)
        XCTAssertEqual(result.error, direct.error)
        XCTAssertEqual(result.top5Error, direct.top5Error)
        XCTAssertNotNil(result.top5Error, "7 classes have a top-5")
        XCTAssertLessThanOrEqual(result.top5Error!, result.error)
        let saved = try Model(checkpoint: runDir.appendingPathComponent(Trainer.modelName))
        XCTAssertEqual(saved.parameters["fc.weight"]!.data, pretrained.parameters["fc.weight"]!.data, "the head is kept: same classes")
        XCTAssertTrue(trainer.curves.isEmpty)

        var untrained = config
        untrained.pretrained = nil
        XCTAssertThrowsError(try Trainer(config: untrained, data: data, teacher: nil, directory: nil)) { e in
            XCTAssertTrue("\(e)".contains("0 epochs only evaluate pretrained weights"), "\(e)")
        }
    }
}
