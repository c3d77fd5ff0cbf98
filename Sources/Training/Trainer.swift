// The training loop of one run: SGD over epochs with the method's objective, evaluation after
// every epoch, typed events to an observer, an atomic checkpoint after every epoch, and resume
// that reproduces an uninterrupted run exactly (same thread count).
import Autograd
import Data
import Dispatch
import Foundation
import NN
import Tensor

/// One epoch's figures. Errors are percentages; losses are means over images.
///
/// JSON has no NaN or infinities: a value that is not finite (a diverged run's loss) is encoded
/// as `null` and decoded back as NaN.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainError: Double
    public var testLoss: Double
    public var testError: Double
    /// Mean of each loss part over the epoch's training images ("ce", "at", "kd", "factt", "penalty").
    public var parts: [String: Double]
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double
    /// The method's β in this epoch (after its schedule), nil for a method without one.
    public var beta: Double?
    /// Top-5 test error (%), nil with five classes or fewer.
    public var testTop5Error: Double?

    public init(epoch: Int, trainLoss: Double, trainError: Double, testLoss: Double, testError: Double,
                parts: [String: Double], learningRate: Double, seconds: Double, imagesPerSecond: Double,
                beta: Double? = nil, testTop5Error: Double? = nil) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainError = trainError
        self.testLoss = testLoss; self.testError = testError; self.parts = parts
        self.learningRate = learningRate; self.seconds = seconds; self.imagesPerSecond = imagesPerSecond
        self.beta = beta; self.testTop5Error = testTop5Error
    }

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss, trainError, testLoss, testError, parts, learningRate, seconds, imagesPerSecond, beta, testTop5Error
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        trainLoss = try c.decodeNonFinite(.trainLoss); trainError = try c.decodeNonFinite(.trainError)
        testLoss = try c.decodeNonFinite(.testLoss); testError = try c.decodeNonFinite(.testError)
        parts = try c.decode([String: Double?].self, forKey: .parts).mapValues { $0 ?? .nan }
        learningRate = try c.decodeNonFinite(.learningRate); seconds = try c.decodeNonFinite(.seconds)
        imagesPerSecond = try c.decodeNonFinite(.imagesPerSecond)
        beta = try c.decodeIfPresent(Double.self, forKey: .beta)
        testTop5Error = try c.decodeIfPresent(Double.self, forKey: .testTop5Error)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encodeNonFinite(trainLoss, forKey: .trainLoss); try c.encodeNonFinite(trainError, forKey: .trainError)
        try c.encodeNonFinite(testLoss, forKey: .testLoss); try c.encodeNonFinite(testError, forKey: .testError)
        try c.encode(parts.mapValues { $0.isFinite ? $0 : nil }, forKey: .parts)
        try c.encodeNonFinite(learningRate, forKey: .learningRate); try c.encodeNonFinite(seconds, forKey: .seconds)
        try c.encodeNonFinite(imagesPerSecond, forKey: .imagesPerSecond)
        try c.encodeIfPresent(beta, forKey: .beta)
        if let testTop5Error { try c.encodeNonFinite(testTop5Error, forKey: .testTop5Error) }
    }

    /// Equal field by field, NaN equal to NaN (a diverged epoch equals itself after a round trip).
    public static func == (a: EpochRecord, b: EpochRecord) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x == y || (x.isNaN && y.isNaN) }
        return a.epoch == b.epoch && same(a.trainLoss, b.trainLoss) && same(a.trainError, b.trainError)
            && same(a.testLoss, b.testLoss) && same(a.testError, b.testError)
            && a.parts.keys.sorted() == b.parts.keys.sorted() && a.parts.allSatisfy { same($0.value, b.parts[$0.key]!) }
            && same(a.learningRate, b.learningRate) && same(a.seconds, b.seconds) && same(a.imagesPerSecond, b.imagesPerSecond)
            && a.beta == b.beta && (a.testTop5Error == nil) == (b.testTop5Error == nil)
            && same(a.testTop5Error ?? 0, b.testTop5Error ?? 0)
    }
}

extension KeyedEncodingContainer {
    /// Encodes `value`, or `null` when it is NaN or infinite (JSON has neither).
    public mutating func encodeNonFinite(_ value: Double, forKey key: Key) throws {
        if value.isFinite { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}

extension KeyedDecodingContainer {
    /// Decodes a number written by `encodeNonFinite`: `null` (or a missing key) reads as NaN.
    public func decodeNonFinite(_ key: Key) throws -> Double {
        try decodeIfPresent(Double.self, forKey: key) ?? .nan
    }
}

public enum TrainingEvent: Sendable {
    case started(epochs: Int, batchesPerEpoch: Int, firstEpoch: Int)
    case batch(epoch: Int, batch: Int, batches: Int, loss: Double, imagesPerSecond: Double)
    case epoch(EpochRecord)
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A loss that is not a finite number: the training loss of a batch (`batch` set) or of the
    /// epoch, or the test loss after the epoch (`batch` nil).
    case diverged(epoch: Int, batch: Int?, loss: LossKind, value: Double)
    case checkpointMismatch(file: String, reason: String)
    /// The method learns from a teacher and none was given.
    case missingTeacher(method: MethodKind)
    case invalidConfig(String)
    /// The pretrained weights file is not the one the run's identity names.
    case pretrainedMismatch(file: String, expected: String, found: String)

    public enum LossKind: String, Sendable {
        case training, test
    }

    public var description: String {
        switch self {
        case .diverged(let e, let b, let kind, let v):
            return "diverged at epoch \(e)\(b.map { ", batch \($0)" } ?? "") (\(kind.rawValue) loss \(Self.spell(v)))"
        case .checkpointMismatch(let f, let r): return "\(f): cannot resume: \(r)"
        case .missingTeacher(let m): return "method '\(m)' needs a trained teacher (give a teacher checkpoint)"
        case .invalidConfig(let r): return "invalid run configuration: \(r)"
        case .pretrainedMismatch(let f, let e, let found):
            return "\(f): sha256 \(found.prefix(16))… is not the \(e.prefix(16))… this run was planned with (the weights changed: plan the grid again)"
        }
    }

    public static func == (a: TrainingError, b: TrainingError) -> Bool { a.description == b.description }

    /// "nan" (whatever its sign bit), "inf", "-inf", or the number.
    static func spell(_ v: Double) -> String { v.isNaN ? "nan" : v.isInfinite ? (v > 0 ? "inf" : "-inf") : "\(v)" }
}

/// Whose a run's checkpoints are: a results database (`Store.identity()`) or nobody (`atx train`).
/// A checkpoint names its database, and a run resumes only from its own database's checkpoints,
/// so a database never takes another's results as its own (`atx merge` adopts them explicitly).
public enum CheckpointOwner: Sendable, Equatable {
    case none
    /// `adoptUnnamed`: a checkpoint written before checkpoints named their database may be resumed
    /// (the database recorded an earlier attempt of the run).
    case database(String, adoptUnnamed: Bool)
}

public final class Trainer {
    public let config: RunConfig
    public let owner: CheckpointOwner
    public let data: TrainingData
    public let teacher: Model?
    public let student: Model
    /// F-ActT's 1×1 adapters, one per group of the student (nil where the channel counts of student
    /// and teacher match), trained with the student; saved as "adapter.{g}".
    public private(set) var adapters: [Tensor?] = []
    public internal(set) var curves: [EpochRecord] = []
    public let directory: URL?
    public var observer: (TrainingEvent) -> Void
    var sgd: SGD

    public static let checkpointName = "checkpoint.safetensors"
    public static let modelName = "model.safetensors"
    public static let curvesName = "curves.json"

    /// Sets up a run; when `directory` holds a checkpoint of the same configuration, the run
    /// resumes after its last completed epoch.
    public convenience init(config: RunConfig, data: DatasetSplits, teacher: Model?, directory: URL?, owner: CheckpointOwner = .none,
                            observer: @escaping (TrainingEvent) -> Void = { _ in }) throws {
        try self.init(config: config, data: TrainingData(data), teacher: teacher, directory: directory, owner: owner, observer: observer)
    }

    /// As above, for data of any kind (the JPEG datasets of Table 4). With `config.pretrained`
    /// the student starts from that file (whose SHA-256 must match) with a fresh head for the
    /// dataset's classes; with `config.freezing` its frozen parts get no gradient, no update, no
    /// weight decay, and its frozen BN layers keep their statistics.
    public init(config: RunConfig, data: TrainingData, teacher: Model?, directory: URL?, owner: CheckpointOwner = .none,
                observer: @escaping (TrainingEvent) -> Void = { _ in }) throws {
        guard config.epochs >= 1 || (config.epochs == 0 && config.pretrained != nil), config.batchSize >= 1 else {
            throw TrainingError.invalidConfig("epochs (\(config.epochs)) and batch size (\(config.batchSize)) must be positive "
                                              + "(0 epochs only evaluate pretrained weights)")
        }
        if config.method.needsTeacher && teacher == nil { throw TrainingError.missingTeacher(method: config.method.kind) }
        if let teacher, teacher.inChannels != data.train.channels {
            throw TrainingError.invalidConfig("teacher \(teacher.name) takes \(teacher.inChannels) channels, dataset \(data.dataset) has \(data.train.channels)")
        }
        self.config = config
        self.owner = owner
        self.data = data
        self.teacher = teacher
        self.directory = directory
        self.observer = observer
        var rng = RNG(seed: config.seed)
        student = try Model(name: config.student, inChannels: data.train.channels, numClasses: data.train.numClasses,
                            initialization: config.initialization ?? .kaiming, rng: &rng)
        if let weights = config.pretrained {
            guard let file = weights.file else { throw TrainingError.invalidConfig("pretrained weights \(weights.sha256.prefix(16))… have no file") }
            let loaded = try student.loadPretrained(from: URL(fileURLWithPath: file))
            guard loaded.sha256 == weights.sha256 else {
                throw TrainingError.pretrainedMismatch(file: file, expected: weights.sha256, found: loaded.sha256)
            }
        }
        if let freezing = config.freezing { try student.freeze(freezing) }
        sgd = SGD(momentum: config.momentum, weightDecay: config.weightDecay)
        if case .factt = config.method, let teacher {
            // Channel counts of the matched groups from a one-image probe: an adapter per group
            // whose counts differ.
            let side = data.train.batchSide
            let probe = Variable(Tensor(zeros: [1, data.train.channels, side, side]))
            let (s, t) = GradMode.withoutGraph {
                (student.forward(probe, mode: .eval, requiresGrad: false).output.groups, teacher.forward(probe, mode: .eval, requiresGrad: false).output.groups)
            }
            guard s.count == t.count else {
                throw TrainingError.invalidConfig("factt: student \(student.name) has \(s.count) groups, teacher \(teacher.name) \(t.count)")
            }
            adapters = zip(s, t).map { sg, tg in
                sg.shape[1] == tg.shape[1] ? nil
                    : Tensor.normal([tg.shape[1], sg.shape[1], 1, 1], std: (2 / Float(sg.shape[1])).squareRoot(), rng: &rng)
            }
        }
        if let directory { try resume(from: directory) }
    }

    /// Epochs already completed (restored from the checkpoint when resuming).
    public var completedEpochs: Int { curves.count }

    /// The training batches: their order and augmentation draws depend on the seed alone, never on
    /// the method, so the runs of one seed in a table row see the same batches (as they share the
    /// student's initialisation, drawn first from the seed, and the training subset).
    public var trainBatcher: Batcher {
        Batcher(data.train, batchSize: config.batchSize, shuffle: true, augmentation: config.augmentation, seed: config.seed)
    }

    /// Trains until `config.epochs` (or `stopAfter` epochs, to simulate an interruption): a cohort
    /// of one (`Cohort`, the one training loop).
    @discardableResult
    public func run(stopAfter: Int? = nil) throws -> [EpochRecord] {
        try Cohort(self).run(stopAfter: stopAfter)[0].get()
    }

    /// A run of 0 epochs (Table 5's pretrained teacher): the starting weights evaluated on the test
    /// split, saved as the run's model. Nothing is trained and no epoch is recorded.
    public func evaluateOnly() throws -> (error: Double, top5Error: Double?, seconds: Double) {
        precondition(config.epochs == 0, "evaluateOnly: the run trains for \(config.epochs) epochs")
        let start = DispatchTime.now().uptimeNanoseconds
        let test = try evaluate(student, on: data.test, batchSize: evaluationBatchSize)
        guard test.loss.isFinite else { throw TrainingError.diverged(epoch: 0, batch: nil, loss: .test, value: test.loss) }
        if let directory {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try student.save(to: directory.appendingPathComponent(Trainer.modelName))
        }
        return (test.error, test.top5Error, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// One training step on `batch` (what `atx bench` times): the method's objective, the
    /// gradients of its loss with respect to the student's parameters and the adapters, and the
    /// SGD update. A non-finite loss throws `diverged` (naming `epoch` and `batchNumber`) before
    /// anything is updated.
    /// `teacherOutput`: the teacher's forward on the batch when computed already (a cohort's).
    public func trainStep(_ batch: Batch, method: Method, learningRate lr: Float, epoch: Int, batchNumber: Int,
                          teacherOutput: ModelOutput? = nil) throws -> Objective {
        let adapterLeaves = adapters.enumerated().map { g, a in a.map { Variable($0, requiresGrad: true, name: Trainer.adapterName(g)) } }
        let obj = try objective(method, student: student, teacher: teacher, input: batch.images, labels: batch.labels,
                                mode: .train, adapters: adapterLeaves, teacherOutput: teacherOutput)
        let loss = obj.loss.value.scalar
        guard loss.isFinite else { throw TrainingError.diverged(epoch: epoch, batch: batchNumber, loss: .training, value: Double(loss)) }
        // Frozen parameters (`Model.freeze`) are leaves without gradient: no gradient, no
        // update, no weight decay, no momentum buffer.
        let trainable = zip(student.parameterNames, obj.parameters).filter { !student.frozenParameterNames.contains($0.0) }
        let adapted = adapterLeaves.enumerated().compactMap { g, leaf in leaf.map { (g, $0) } }
        let grads = try gradients(of: obj.loss, wrt: trainable.map(\.1) + adapted.map(\.1))
        Profiler.measure(ProfileLabel.optimizer.rawValue) {
            for ((name, _), g) in zip(trainable, grads) {
                sgd.step(name, parameter: &student.parameters[name]!, gradient: g.value, learningRate: lr)
            }
            for ((group, _), g) in zip(adapted, grads.suffix(adapted.count)) {
                guard var adapter = adapters[group] else { continue }
                sgd.step(Trainer.adapterName(group), parameter: &adapter, gradient: g.value, learningRate: lr)
                adapters[group] = adapter
            }
        }
        return obj
    }

    /// The checkpoint and optimiser name of group `g`'s F-ActT adapter.
    static func adapterName(_ g: Int) -> String { "adapter.\(g)" }

    /// Test images per evaluation batch: large in-memory batches for 32×32 images, the training
    /// batch size for large JPEG images.
    var evaluationBatchSize: Int { config.dataset.descriptor.isJPEG ? config.batchSize : 500 }

    /// The method as it applies in `epoch`: β after its schedule (AT+KD, F-ActT).
    func methodFor(epoch: Int) -> Method {
        config.method.scheduled(epoch: epoch, learningRateFactor: config.learningRate(epoch: epoch) / config.learningRate)
    }

    /// Mean cross-entropy and error (%) of `model` in eval mode, with no graph.
    /// Mean cross-entropy, error (%) and, with more than five classes, top-5 error (%) of `model`
    /// in eval mode, with no graph.
    public func evaluate(_ model: Model, on split: any BatchSource, batchSize: Int = 500) throws
        -> (loss: Double, error: Double, top5Error: Double?) {
        let batches = Batcher(split, batchSize: batchSize, shuffle: false).epoch(0).prefetching()
        var loss = 0.0, wrong = 0, wrong5 = 0
        try GradMode.withoutGraph {
            while let (_, batch) = try batches.next() {
                let logits = model.forward(Variable(batch.images), mode: .eval, requiresGrad: false).output.logits
                loss += Double(crossEntropy(logits, labels: batch.labels).value.scalar) * Double(batch.labels.count)
                wrong += misclassified(logits.value, batch.labels)
                wrong5 += misclassified(logits.value, batch.labels, top: 5)
            }
        }
        let n = Double(split.count)
        return (loss / n, 100 * Double(wrong) / n, split.numClasses > 5 ? 100 * Double(wrong5) / n : nil)
    }

    // MARK: - Checkpoints

    /// Writes the run state atomically: student parameters and BN statistics, momentum
    /// buffers, adapters, and in the metadata the configuration and the curves so far.
    func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [String: Tensor] = [:]
        for (k, v) in student.stateTensors { tensors["student.\(k)"] = v }
        for (k, v) in sgd.buffers { tensors["momentum.\(k)"] = v }
        for (g, a) in adapters.enumerated() { if let a { tensors[Trainer.adapterName(g)] = a } }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let curvesJSON = try encoder.encode(curves)
        var metadata = [
            "format": "atx-run-1",
            "config": String(decoding: try encoder.encode(config), as: UTF8.self),
            "curves": String(decoding: curvesJSON, as: UTF8.self),
            "epoch": String(completedEpochs),
        ]
        if case .database(let id, _) = owner { metadata["database"] = id }
        try SafeTensors.write(tensors: tensors, metadata: metadata, to: directory.appendingPathComponent(Trainer.checkpointName))
        // A convenience copy of the curves; the checkpoint is the source of truth (a diverged
        // run's copy also holds the epoch that diverged).
        try curvesJSON.write(to: directory.appendingPathComponent(Trainer.curvesName), options: .atomic)
    }

    /// Writes `curves` to curves.json alone (a diverged run: the checkpoint is left as it was).
    func saveCurves(_ curves: [EpochRecord], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(curves).write(to: directory.appendingPathComponent(Trainer.curvesName), options: .atomic)
    }

    /// Which loss of `record` is not finite, if any (the training loss first).
    static func nonFiniteLoss(_ record: EpochRecord) -> TrainingError.LossKind? {
        !record.trainLoss.isFinite ? .training : !record.testLoss.isFinite ? .test : nil
    }

    func resume(from directory: URL) throws {
        let url = directory.appendingPathComponent(Trainer.checkpointName)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let file = try SafeTensorsFile(contentsOf: url)
        guard file.metadata["format"] == "atx-run-1", let configText = file.metadata["config"], let curvesText = file.metadata["curves"] else {
            throw TrainingError.checkpointMismatch(file: url.path, reason: "not an atx run checkpoint")
        }
        switch (owner, file.metadata["database"]) {
        case (.none, nil): break
        case (.database(let ours, _), let theirs?) where theirs == ours: break
        case (.database(_, adoptUnnamed: true), nil): break
        case (.none, let theirs?), (.database, let theirs?):
            throw TrainingError.checkpointMismatch(file: url.path, reason: "it belongs to another results database (\(theirs)); "
                + "a database trains its own runs: use another --runs-dir, or `atx merge` that database to adopt its results")
        case (.database(_, adoptUnnamed: false), nil):
            throw TrainingError.checkpointMismatch(file: url.path, reason: "it names no results database and this database recorded "
                + "no attempt of the run: use another --runs-dir, or `atx merge` the database that trained it")
        }
        let decoder = JSONDecoder()
        let stored = try decoder.decode(RunConfig.self, from: Data(configText.utf8))
        // Everything in the run's identity must match; where the weights file lies is not part of it.
        guard stored.withoutPaths == config.withoutPaths else {
            throw TrainingError.checkpointMismatch(file: url.path, reason: "it belongs to a different configuration (\(configText))")
        }
        try student.load(from: file, prefix: "student.")
        curves = try decoder.decode([EpochRecord].self, from: Data(curvesText.utf8))
        sgd.buffers = [:]
        for name in file.names where name.hasPrefix("momentum.") {
            sgd.buffers[String(name.dropFirst("momentum.".count))] = try file.tensor(named: name)
        }
        for (g, a) in adapters.enumerated() {
            if let a { adapters[g] = try file.tensor(named: Trainer.adapterName(g), expectedShape: a.shape) }
        }
    }
}

/// Number of rows of logits [N, K] whose label is not among the `top` highest (ties broken by
/// index, as the first maximum; a row with a NaN, from a diverged network, counts as wrong).
func misclassified(_ logits: Tensor, _ labels: [Int], top: Int = 1) -> Int {
    let k = logits.shape[1]
    var wrong = 0
    for (i, label) in labels.enumerated() {
        let row = logits.data[(i * k)..<((i + 1) * k)]
        guard !row.contains(where: \.isNaN) else { wrong += 1; continue }
        let target = row[i * k + label]
        // The label's rank: the classes scoring higher, and those scoring the same before it.
        let above = row.indices.filter { row[$0] > target || (row[$0] == target && $0 < i * k + label) }.count
        if above >= top { wrong += 1 }
    }
    return wrong
}
