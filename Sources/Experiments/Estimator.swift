// How long runs take on this machine. A network's training throughput comes from the store's
// finished epochs of the same network and method when there are any, else from a few training
// steps measured here once (cached per host, OpenBLAS kernel set, network, batch and threads),
// so `atx plan` speaks for the machine at hand rather than for the one the code was written on.
import Bench
import Data
import Foundation
import NN
import Store
import Tensor
import Training

/// Estimates run times from the throughput the store has seen for the same model and method,
/// or from a cross-entropy step measured on this machine.
public struct Estimator {
    /// Store medians by "model method".
    let measured: [String: Double]
    /// Cross-entropy images/s per network from calibration steps, and where each came from.
    let calibrated: [String: Double]
    /// The image side the calibration steps ran at (32 for the in-memory datasets).
    var calibrationSide = ImageDataset.side
    public let sources: [String: Source]

    public enum Source: String, Sendable {
        case store = "finished runs in the store"
        case measuredNow = "a step measured on this machine now"
        case cache = "a step measured on this machine before (cached)"
    }

    /// Reads the store's throughput and calibrates the networks of `grid` it has no runs of:
    /// `threads` is the workers' thread count.
    public init(store: Store, grid: Grid? = nil, threads: Int = 1, calibrate: Bool = true) {
        var m: [String: [Double]] = [:]
        for r in (try? store.runs()) ?? [] {
            let ips = ((try? store.epochs(key: r.key)) ?? []).map(\.imagesPerSecond).filter { $0.isFinite && $0 > 0 }
            let side = (try? Worker.decodeConfig(r.configJSON))?.geometry?.crop
            if !ips.isEmpty { m[Estimator.measuredKey(r.student, r.method, side: side), default: []] += ips }
        }
        measured = m.mapValues { $0.sorted()[$0.count / 2] }
        var calibrated: [String: Double] = [:], sources: [String: Source] = [:]
        if let grid {
            let models = Set(grid.runs.flatMap { [$0.config.student] + ($0.config.teacher.map { [$0] } ?? []) })
            // Grids on JPEG datasets (Table 4) are calibrated at their crop size, with their freezing;
            // the others on images with their dataset's channels (Fashion-MNIST's first layer reads one).
            let jpeg = grid.runs.first { $0.config.dataset.descriptor.isJPEG }?.config
            let inMemory = grid.runs.first { !$0.config.dataset.descriptor.isJPEG }?.config.dataset ?? .synthetic
            let side = jpeg.map { $0.dataset.descriptor.imageSide($0.geometry ?? .imageNet) }
            calibrationSide = side ?? ImageDataset.side
            for model in models.sorted() {
                if measured[Estimator.measuredKey(model, "ce", side: side)] != nil { sources[model] = .store; continue }
                let bench = StepBenchCase(name: model, student: model, teacher: nil, method: .ce, trains: true,
                                          dataset: jpeg?.dataset ?? inMemory, geometry: jpeg?.geometry ?? .imageNet,
                                          freezing: jpeg == nil ? nil : grid.settings.freeze)
                guard calibrate, let (rate, source) = Calibration.rate(bench, batch: min(grid.settings.batchSize, jpeg == nil ? 128 : 16),
                                                                       threads: threads) else { continue }
                calibrated[model] = rate
                sources[model] = source
            }
        }
        self.calibrated = calibrated
        self.sources = sources
    }

    /// "wrn-16-1 and wrn-16-2 from a step measured on this machine now; …".
    public var sourceSummary: String {
        let bySource = Dictionary(grouping: sources.keys.sorted()) { sources[$0]! }
        return [Source.store, .measuredNow, .cache].compactMap { s in
            bySource[s].map { "\($0.joined(separator: ", ")) from \(s.rawValue)" }
        }.joined(separator: "; ")
    }

    /// Finished runs are grouped by network, method and, for the JPEG datasets, crop side.
    static func measuredKey(_ model: String, _ method: String, side: Int?) -> String {
        "\(model) \(method)" + (side.map { " @\($0)" } ?? "")
    }

    /// Cross-entropy training images/s of `model` on images of `side` (nil: 32×32): the store's
    /// runs at that size, else the calibration step's, scaled by the pixel count when it ran at another side.
    func rate(_ model: String, side: Int? = nil) -> Double {
        if let m = measured[Estimator.measuredKey(model, "ce", side: side)] { return m }
        return (calibrated[model] ?? 50) * pow(Double(calibrationSide) / Double(side ?? ImageDataset.side), 2)
    }

    /// Training images per second of `config`: the store's median for the same student and method
    /// when it has one; else the student's rate, plus the frozen teacher's forward (about a third
    /// of its training step) for distillation; double backprop costs about 3× the student's step
    /// (min-l2), 6× (symmetry norm: two of them), plus the teacher's input gradient for grad-AT
    /// (ratios measured for NIN-thin without BN: 71, 36 and 29 img/s against 205 for cross-entropy).
    /// `sharing`: the students of its cohort (`Cohorts`), who share the teacher's forward.
    public func throughput(_ config: RunConfig, sharing: Int = 1) -> Double {
        let side = config.geometry?.crop
        if let m = measured[Estimator.measuredKey(config.student, config.method.name, side: side)] { return m }
        let student = rate(config.student, side: side), teacher = config.teacher.map { rate($0, side: side) } ?? student
        switch config.method {
        case .ce: return student
        case .at, .kd, .atkd, .factt: return 1 / (1 / student + 1 / (3 * teacher * Double(max(sharing, 1))))
        case .minL2: return student / 3
        case .symmetry: return student / 6
        case .gradAT: return 1 / (3 / student + 1.5 / teacher)
        }
    }

    public static func images(_ config: RunConfig) -> (train: Int, test: Int) {
        let d = config.dataset.descriptor
        return (config.trainSubset ?? d.trainImages, config.testSubset ?? d.testImages)
    }

    /// Seconds of one run from epoch `from` (0-based count done) to the end, trained in a cohort
    /// of `sharing` students.
    public func seconds(_ config: RunConfig, epochsDone: Int = 0, sharing: Int = 1) -> Double {
        let (train, test) = Estimator.images(config)
        let testing = Double(test) / (3 * rate(config.student, side: config.geometry?.crop))
        if config.epochs == 0 { return testing }   // pretrained weights, evaluated only
        return Double(config.epochs - epochsDone) * (Double(train) / throughput(config, sharing: sharing) + testing)
    }

    /// Each run's seconds from the start plus the longest chain of its students' (teachers are
    /// listed before their students): the runner starts the longest chains first.
    public func priorities(_ grid: Grid) -> [String: Double] {
        var out: [String: Double] = [:]
        for run in grid.runs.reversed() {
            let students = grid.runs.filter { $0.teacherKey == run.key }.map { out[$0.key] ?? 0 }
            out[run.key] = seconds(run.config) + (students.max() ?? 0)
        }
        return out
    }

    /// What the runner would do with `todo` (each run with the epochs it has done) at `jobs`
    /// workers, simulated with its own rules (`GridRunner.nextWorkers`): the wall time, and each
    /// run's seconds (a cohort's members share the teacher's forward, and train one after another
    /// within each batch, so a worker takes the sum of its members' seconds).
    public func simulate(_ grid: Grid, todo: [(run: PlannedRun, epochsDone: Int)], jobs: Int) -> (wall: Double, seconds: [String: Double]) {
        let priority = priorities(grid)
        let pending = Dictionary(uniqueKeysWithValues: todo.map { ($0.run.key, $0) })
        var waiting = grid.runs.filter { pending[$0.key] != nil }
        var finished = Set(grid.runs.map(\.key)).subtracting(pending.keys)
        var running: [(end: Double, keys: [String])] = [], now = 0.0, seconds: [String: Double] = [:]
        while !waiting.isEmpty || !running.isEmpty {
            let startable = waiting.filter { $0.teacherKey.map(finished.contains) ?? true }
            for worker in GridRunner.nextWorkers(startable, free: jobs - running.count, priority: priority) {
                var end = now
                for run in worker {
                    let s = self.seconds(run.config, epochsDone: pending[run.key]!.epochsDone, sharing: worker.count)
                    seconds[run.key] = s
                    end += s
                }
                running.append((end, worker.map(\.key)))
                let started = Set(worker.map(\.key))
                waiting.removeAll { started.contains($0.key) }
            }
            guard let next = running.indices.min(by: { running[$0].end < running[$1].end }) else { break }  // a teacher never planned
            now = running[next].end
            finished.formUnion(running[next].keys)
            running.remove(at: next)
        }
        return (now, seconds)
    }

    public func remainingSeconds(grid: Grid, records: [String: RunRecord], jobs: Int) -> Double {
        let todo = grid.runs.compactMap { run in records[run.key].flatMap { $0.status == .done ? nil : (run: run, epochsDone: $0.epochsDone) } }
        return simulate(grid, todo: todo, jobs: max(jobs, 1)).wall
    }
}

/// A network's cross-entropy training throughput on this machine: a warm-up step and two timed
/// steps of the trainer's own step on synthetic images, cached in
/// $XDG_CACHE_HOME/atx/throughput.json per host, kernel set, convolution kernels' revision,
/// network, batch, threads and, unless three, image channels.
enum Calibration {
    static func rate(_ c: StepBenchCase, batch: Int, threads: Int) -> (Double, Estimator.Source)? {
        let key = ([Host.name, BLASKernels.description, "conv kernels r\(ConvTuning.kernelRevision)", c.student, "batch \(batch)",
                    "threads \(threads)"]
                   + (c.side == ImageDataset.side ? [] : ["side \(c.side)"])
                   + (c.dataset.descriptor.channels == 3 ? [] : ["\(c.dataset.descriptor.channels) channel"])
                   + (c.freezing.map { ["freeze \($0.batchNorm) \($0.stem) \($0.groups)"] } ?? []))
            .joined(separator: " | ")
        var table = (try? Data(contentsOf: cacheURL)).flatMap { try? JSONDecoder().decode([String: Double].self, from: $0) } ?? [:]
        if let cached = table[key] { return (cached, .cache) }
        let previous = Threads.count
        defer { Threads.set(previous) }
        guard let bench = try? StepBench(c, batch: batch),
              let result = try? bench.measure(threads: threads, reps: 2) else { return nil }
        table[key] = result.imagesPerSecond
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? FileManager.default.createDirectory(at: cacheURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? encoder.encode(table).write(to: cacheURL, options: .atomic)
        return (result.imagesPerSecond, .measuredNow)
    }

    static var cacheURL: URL { MachineCache.url("throughput.json") }
}
