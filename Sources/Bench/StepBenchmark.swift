// Throughput of whole training steps (what `atx bench` reports next to PyTorch, measured by
// `scripts/bench-torch` in the same run): batch decode, then `Trainer.trainStep` — the
// trainer's own step, not a copy of it.
import Autograd
import Data
import Dispatch
import Foundation
import NN
import Tensor
import Training

/// One row of the benchmark table: a network (or student + teacher) and what is timed.
/// `scripts/bench-torch` knows the same rows by the same names.
public struct StepBenchCase: Sendable {
    public let name: String
    public let student: String
    public let teacher: String?
    public let method: Method
    /// False: eval-mode forward without a graph (inference) instead of a training step.
    public let trains: Bool
    /// The dataset whose images and classes the step stands in for: synthetic 32×32 images for the
    /// in-memory datasets, random images at `geometry`'s crop for the JPEG ones (decoding is not timed).
    public let dataset: DatasetID
    public let geometry: ImageGeometry
    /// The row's own batch size (large images), instead of the bench's.
    public let batch: Int?
    /// What the student keeps fixed (Table 4's fine-tuning).
    public let freezing: Freezing?
    /// Whether PyTorch's figure is also taken with torchvision's own network in both memory
    /// formats (scripts/bench-torch --impl torchvision), the ratio then to the faster one.
    public var comparesWithTorchvision: Bool { student.hasPrefix("resnet") }

    public init(name: String, student: String, teacher: String?, method: Method, trains: Bool, dataset: DatasetID = .synthetic,
                geometry: ImageGeometry = .imageNet, batch: Int? = nil, freezing: Freezing? = nil) {
        self.name = name; self.student = student; self.teacher = teacher; self.method = method; self.trains = trains
        self.dataset = dataset; self.geometry = geometry; self.batch = batch; self.freezing = freezing
    }

    /// Side of the step's square images.
    public var side: Int { dataset.descriptor.imageSide(geometry) }
    /// Classes of the head.
    public var classes: Int { dataset.descriptor.classes }

    /// The rows, in the order `atx bench` prints them.
    public static let table: [StepBenchCase] = [
        StepBenchCase(name: "wrn-16-1", student: "wrn-16-1", teacher: nil, method: .ce, trains: true),
        StepBenchCase(name: "wrn-16-2", student: "wrn-16-2", teacher: nil, method: .ce, trains: true),
        StepBenchCase(name: "wrn-40-1", student: "wrn-40-1", teacher: nil, method: .ce, trains: true),
        StepBenchCase(name: "wrn-40-2", student: "wrn-40-2", teacher: nil, method: .ce, trains: true),
        StepBenchCase(name: "wrn-16-1←wrn-16-2 at", student: "wrn-16-1", teacher: "wrn-16-2",
                      method: .at(mapping: .sum2, beta: 1000), trains: true),
        StepBenchCase(name: "wrn-16-2 inference", student: "wrn-16-2", teacher: nil, method: .ce, trains: false),
        // Table 4's step: ResNet-18 at 224×224, batch 16, 200 classes, BN, stem and layer1 frozen.
        StepBenchCase(name: "resnet-18 224 fine-tune", student: "resnet-18", teacher: nil, method: .ce, trains: true,
                      dataset: .cub200, geometry: .imageNet, batch: 16, freezing: .fineTuning),
    ]

    public static func named(_ name: String) -> StepBenchCase? { table.first { $0.name == name } }
}

/// Figures of one case at one thread count.
public struct StepBenchResult: Codable, Sendable {
    public var name: String
    public var threads: Int
    public var batch: Int
    /// Median over the timed steps (warm-up excluded).
    public var imagesPerSecond: Double
    public var stepSeconds: [Double]
    /// Process CPU seconds (user + system) and system seconds per timed step: for one thread a
    /// figure less sensitive to other load than wall time; system time is mostly page faults.
    public var cpuSecondsPerStep: Double
    public var systemSecondsPerStep: Double
    /// Seconds per step by profile label (empty unless profiled).
    public var profile: [String: Double]
    /// Wall seconds per profiled step (the profile's 100%).
    public var profiledStepSeconds: Double
    /// Work of the convolution kernels per profiled step by kind (`ConvWork` raw values):
    /// direct-convolution flops and kernel seconds.
    public var convWork: [String: Profiler.Work]?
    /// PyTorch's images/s for the same row and threads, measured right after ours (nil: not measured).
    public var torchImagesPerSecond: Double?
    public var torchVersion: String?
    /// torchvision's own network in each memory format ("contiguous", "channels_last"), images/s,
    /// for rows that compare with it (the ResNet row); the ratio is then to the faster layout.
    public var torchvisionImagesPerSecond: [String: Double]?

    /// What ours is compared with: torchvision's faster layout when measured, else PyTorch's figure.
    public var comparedImagesPerSecond: Double? { torchvisionImagesPerSecond?.values.max() ?? torchImagesPerSecond }
}

/// A case set up to run steps: models, synthetic data and a trainer.
public final class StepBench {
    public let benchCase: StepBenchCase
    public let batch: Int
    let trainer: Trainer
    let batches: EpochBatches
    var step = 0

    public init(_ c: StepBenchCase, batch requested: Int = 128) throws {
        benchCase = c
        let batch = c.batch ?? requested
        self.batch = batch
        var rng = RNG(seed: 7)
        let channels = c.dataset.descriptor.channels
        let teacher = try c.teacher.map { try Model(name: $0, inChannels: channels, numClasses: c.classes, rng: &rng) }
        let data: TrainingData
        switch c.dataset.descriptor.storage {
        case .inMemory:   // random images with the dataset's channels (Fashion-MNIST's one)
            data = TrainingData(SyntheticConfig(trainCount: 2 * batch, testCount: 0, channels: channels, numClasses: c.classes, seed: 1).make())
        case .jpeg:
            let images = RandomImages(count: 2 * batch, side: c.side, numClasses: c.classes)
            data = TrainingData(dataset: c.dataset, train: images, test: images)
        }
        let config = RunConfig(student: c.student, teacher: c.teacher, method: c.method, dataset: data.dataset,
                               epochs: 1, batchSize: batch, learningRate: c.freezing == nil ? 0.1 : 1e-5, seed: 1, freezing: c.freezing,
                               geometry: c.dataset.descriptor.isJPEG ? c.geometry : nil)
        // (A fresh network with frozen BN is unnormalised: a tiny learning rate keeps the timed steps
        // finite; the cost of a step does not depend on it.)
        trainer = try Trainer(config: config, data: data, teacher: teacher, directory: nil)
        batches = Batcher(data.train, batchSize: batch, augmentation: config.augmentation, seed: config.seed).epoch(1)
    }

    /// One step: decode a batch, then train on it (or run the inference forward).
    public func runStep() throws {
        let b = Profiler.measure(ProfileLabel.data.rawValue) { batches[step % batches.count] }
        step += 1
        if benchCase.trains {
            _ = try trainer.trainStep(b, method: benchCase.method, learningRate: trainer.config.learningRate(epoch: 1),
                                      epoch: 1, batchNumber: step)
        } else {
            let model = trainer.student
            _ = GradMode.withoutGraph { model.forward(Variable(b.images), mode: .eval, requiresGrad: false) }
        }
    }

    /// Times `reps` steps after `warmup` untimed ones (calling `beforeTiming` in between); with
    /// `profileSteps` > 0, profiles that many further steps.
    public func measure(threads: Int, reps: Int, warmup: Int = 1, profileSteps: Int = 0,
                        beforeTiming: () -> Void = {}) throws -> StepBenchResult {
        precondition(reps >= 1, "StepBench: need at least one timed step")
        Threads.set(threads)
        for _ in 0..<warmup { try runStep() }
        beforeTiming()
        var times: [Double] = []
        let cpuBefore = CPUTime.now
        for _ in 0..<reps {
            let start = DispatchTime.now().uptimeNanoseconds
            try runStep()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        let cpu = CPUTime.now - cpuBefore
        var profile: [String: Double] = [:], profiled = 0.0
        var work: [String: Profiler.Work]?
        if profileSteps > 0 {
            Profiler.reset()
            Profiler.isEnabled = true
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<profileSteps { try runStep() }
            profiled = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(profileSteps)
            Profiler.isEnabled = false
            profile = Profiler.totalsByLabel.mapValues { $0 / Double(profileSteps) }
            work = Dictionary(uniqueKeysWithValues: Profiler.workByKind.map { kind, w in
                (kind.rawValue, Profiler.Work(flops: w.flops / Double(profileSteps), seconds: w.seconds / Double(profileSteps)))
            })
        }
        let median = times.sorted()[times.count / 2]
        return StepBenchResult(name: benchCase.name, threads: threads, batch: batch, imagesPerSecond: Double(batch) / median,
                               stepSeconds: times, cpuSecondsPerStep: cpu.total / Double(reps),
                               systemSecondsPerStep: cpu.system / Double(reps), profile: profile, profiledStepSeconds: profiled,
                               convWork: work)
    }
}

/// Unit-variance random images of any side (the benchmark of large-image networks), drawn once:
/// a batch copies its images out of the pool, as PyTorch's side of the bench reuses one input
/// tensor (drawing 2.4 million normal values per step cost 8% of the ResNet step, which no real
/// data pipeline spends).
struct RandomImages: BatchSource {
    let count: Int, side: Int, numClasses: Int
    let pool: Tensor

    init(count: Int, side: Int, numClasses: Int) {
        self.count = count; self.side = side; self.numClasses = numClasses
        var rng = RNG(seed: 1)
        pool = Tensor.normal([count, 3, side, side], rng: &rng)
    }

    var name: String { "random \(side)×\(side)" }
    var channels: Int { 3 }
    var batchSide: Int { side }
    func label(at index: Int) -> Int { index % numClasses }
    func batch(indices: [Int], keys: [UInt64], augmentation: Augmentation) throws -> Tensor {
        let image = 3 * side * side
        return Tensor(shape: [indices.count, 3, side, side]) { out in
            pool.data.withUnsafeBufferPointer { p in
                for (k, i) in indices.enumerated() { (out.baseAddress! + k * image).update(from: p.baseAddress! + i * image, count: image) }
            }
        }
    }
}

/// The process's CPU time so far (getrusage), in seconds.
struct CPUTime {
    var user, system: Double
    var total: Double { user + system }

    static var now: CPUTime {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return CPUTime(user: seconds(u.ru_utime), system: seconds(u.ru_stime))
    }

    static func - (a: CPUTime, b: CPUTime) -> CPUTime { CPUTime(user: a.user - b.user, system: a.system - b.system) }
}
