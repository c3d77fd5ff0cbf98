// How long runs take on this machine. A run's training throughput comes from the store's
// finished epochs of the same student, teacher and method when there are any, else from a few
// training steps of that student, teacher and method measured here once (cached per host,
// OpenBLAS kernel set, step, batch and threads), so `atx plan` speaks for the machine at hand
// rather than for the one the code was written on.
import Bench
import Data
import Foundation
import NN
import Store
import Tensor
import Training

/// Estimates run times from the throughput the store has seen for the same student, teacher and
/// method, or from training steps of the grid's own networks and methods measured on this machine.
public struct Estimator {
    /// Store medians by `measuredKey`.
    let measured: [String: Double]
    /// Images/s of the calibration steps by `Step.name`.
    let calibrated: [String: Double]
    /// The image side the calibration steps ran at (32 for the in-memory datasets).
    var calibrationSide = ImageDataset.side
    /// Where each step's figure came from, by `Step.name`.
    public let sources: [String: Source]
    /// A process's speed, as a share of its speed alone, while other workers run beside it (they
    /// share the caches, the memory and the cores): measured on this machine for the grid's
    /// number of workers (`Calibration.sideBySide`); nil for one worker or when not measured (1).
    var sideBySide: Double?

    public enum Source: String, Sendable {
        case store = "finished runs in the store"
        case measuredNow = "a step measured on this machine now"
        case cache = "a step measured on this machine before (cached)"
    }

    /// What a calibration step times: a network's cross-entropy training step, a frozen teacher's
    /// forward (which a cohort's students share), or a student's step of a method with its teacher
    /// (the teacher's forward included).
    enum Step: Hashable {
        case train(String)
        case forward(String)
        case method(student: String, teacher: String?, MethodKind)

        /// The training step of `student` by a method of `kind` (with `teacher`, if it has one).
        init(student: String, teacher: String?, _ kind: MethodKind) {
            self = kind == .ce ? .train(student) : .method(student: student, teacher: teacher, kind)
        }

        /// The run's own step: its method, its teacher.
        init(_ config: RunConfig) { self.init(student: config.student, teacher: config.teacher, config.method.kind) }

        /// What a benchmark case times.
        init(_ c: StepBenchCase) { self = c.trains ? Step(student: c.student, teacher: c.teacher, c.method.kind) : .forward(c.student) }

        /// Whether it is a training step (not a forward).
        var trains: Bool {
            if case .forward = self { return false }
            return true
        }

        /// The network whose step (or forward) it is, and the teacher in it.
        var network: (student: String, teacher: String?) {
            switch self {
            case .train(let model), .forward(let model): return (model, nil)
            case .method(let student, let teacher, _): return (student, teacher)
            }
        }

        /// "wrn-16-1", "wrn-16-2 forward", "wrn-16-1←wrn-16-2 factt".
        var name: String {
            switch self {
            case .train(let model): return model
            case .forward(let model): return "\(model) forward"
            case .method(let student, let teacher, let kind): return student + (teacher.map { "←\($0)" } ?? "") + " \(kind.rawValue)"
            }
        }
    }

    /// Reads the store's throughput and calibrates the steps of `grid` it has no runs of: each
    /// network's cross-entropy step, each teacher's forward, and each student's step of each
    /// method and teacher. `threads` is the workers' thread count; with `jobs` workers, how much
    /// they slow each other down is measured too.
    public init(store: Store, grid: Grid? = nil, jobs: Int = 1, threads: Int = 1, calibrate: Bool = true) {
        var m: [String: [Double]] = [:]
        for r in (try? store.runs()) ?? [] {
            let ips = ((try? store.epochs(key: r.key)) ?? []).map(\.imagesPerSecond).filter { $0.isFinite && $0 > 0 }
            let side = (try? Worker.decodeConfig(r.configJSON))?.geometry?.crop
            if !ips.isEmpty, let kind = MethodKind(rawValue: r.method) {
                m[Estimator.measuredKey(Step(student: r.student, teacher: r.teacher, kind), side: side), default: []] += ips
            }
        }
        measured = m.mapValues { $0.sorted()[$0.count / 2] }
        var calibrated: [String: Double] = [:], sources: [String: Source] = [:]
        if let grid {
            // Grids on JPEG datasets (Table 4) are calibrated at their crop size, with their freezing;
            // the others on images with their dataset's channels (Fashion-MNIST's first layer reads one).
            let jpeg = grid.runs.first { $0.config.dataset.descriptor.isJPEG }?.config
            let inMemory = grid.runs.first { !$0.config.dataset.descriptor.isJPEG }?.config.dataset ?? .synthetic
            let side = jpeg.map { $0.dataset.descriptor.imageSide($0.geometry ?? .imageNet) }
            calibrationSide = side ?? ImageDataset.side
            // Each step once, timed with the first run's method of its kind (a mapping or β does not
            // change a step's cost).
            var steps: [Step: Method] = [:]
            for run in grid.runs {
                let c = run.config
                steps[.train(c.student)] = steps[.train(c.student)] ?? .ce
                if let teacher = c.teacher { steps[.train(teacher)] = steps[.train(teacher)] ?? .ce }
                if c.method.readsTeacherForward, let teacher = c.teacher { steps[.forward(teacher)] = .ce }
                if c.method.kind != .ce { steps[Step(c)] = steps[Step(c)] ?? c.method }
            }
            for (step, method) in steps.sorted(by: { $0.key.name < $1.key.name }) {
                let name = step.name
                if measured[Estimator.measuredKey(step, side: side)] != nil { sources[name] = .store; continue }
                let bench = StepBenchCase(name: name, student: step.network.student, teacher: step.network.teacher, method: method, trains: step.trains,
                                          dataset: jpeg?.dataset ?? inMemory, geometry: jpeg?.geometry ?? .imageNet,
                                          freezing: jpeg == nil ? nil : grid.settings.freeze)
                guard calibrate, let (rate, source) = Calibration.rate(bench, batch: min(grid.settings.batchSize, jpeg == nil ? 128 : 16),
                                                                       threads: threads) else { continue }
                calibrated[name] = rate
                sources[name] = source
            }
        }
        self.calibrated = calibrated
        self.sources = sources
        if calibrate, grid != nil, jobs > 1 { sideBySide = Calibration.sideBySide(jobs: jobs, threads: threads) }
    }

    /// Figures given by `Step.name` (tests).
    init(measured: [String: Double] = [:], calibrated: [String: Double], sideBySide: Double? = nil) {
        self.measured = measured
        self.calibrated = calibrated
        sources = calibrated.mapValues { _ in .cache }
        self.sideBySide = sideBySide
    }

    /// "wrn-16-1 and wrn-16-2 from a step measured on this machine now; …".
    public var sourceSummary: String {
        let bySource = Dictionary(grouping: sources.keys.sorted()) { sources[$0]! }
        return [Source.store, .measuredNow, .cache].compactMap { s in
            bySource[s].map { "\($0.joined(separator: ", ")) from \(s.rawValue)" }
        }.joined(separator: "; ")
    }

    /// Finished runs are grouped by their step (student, teacher and method) and, for the JPEG
    /// datasets, crop side.
    static func measuredKey(_ step: Step, side: Int?) -> String { step.name + (side.map { " @\($0)" } ?? "") }

    /// Images/s of `step` on images of `side` (nil: 32×32): the calibration step's, scaled by the
    /// pixel count when it ran at another side; nil when it was not measured.
    func calibratedRate(_ step: Step, side: Int?) -> Double? {
        calibrated[step.name].map { $0 * pow(Double(calibrationSide) / Double(side ?? ImageDataset.side), 2) }
    }

    /// Cross-entropy training images/s of `model` on images of `side` (nil: 32×32): the store's
    /// runs at that size, else the calibration step's (50 when neither is known).
    func rate(_ model: String, side: Int? = nil) -> Double {
        measured[Estimator.measuredKey(.train(model), side: side)] ?? calibratedRate(.train(model), side: side) ?? 50
    }

    /// Training images per second of `config`: the store's median for the same student, teacher and
    /// method when it has one; else its calibration step's. `sharing`: the students of its cohort
    /// (`Cohorts`), who share the teacher's forward, so each pays 1/sharing of it. A step that was
    /// not measured counts as the student's cross-entropy step.
    public func throughput(_ config: RunConfig, sharing: Int = 1) -> Double {
        let side = config.geometry?.crop
        if let m = measured[Estimator.measuredKey(Step(config), side: side)] { return m }
        guard config.method.kind != .ce, let step = calibratedRate(Step(config), side: side) else { return rate(config.student, side: side) }
        guard config.method.readsTeacherForward, sharing > 1, let teacher = config.teacher,
              let forward = calibratedRate(.forward(teacher), side: side) else { return step }
        // The step's seconds per image less the shares of the teacher's forward that others pay
        // (never below the student's own cross-entropy step).
        let seconds = 1 / step - (1 - 1 / Double(sharing)) / forward
        return 1 / max(seconds, 1 / rate(config.student, side: side))
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
    /// run's seconds alone (a cohort's members share the teacher's forward, and train one after
    /// another within each batch, so a worker takes the sum of its members' seconds). While two
    /// or more workers run, each runs at `sideBySide` of its speed alone.
    public func simulate(_ grid: Grid, todo: [(run: PlannedRun, epochsDone: Int)], jobs: Int) -> (wall: Double, seconds: [String: Double]) {
        let priority = priorities(grid)
        let pending = Dictionary(uniqueKeysWithValues: todo.map { ($0.run.key, $0) })
        var waiting = grid.runs.filter { pending[$0.key] != nil }
        var finished = Set(grid.runs.map(\.key)).subtracting(pending.keys)
        // Each running worker with its seconds of work left, counted at its speed alone.
        var running: [(left: Double, keys: [String])] = [], now = 0.0, seconds: [String: Double] = [:]
        while !waiting.isEmpty || !running.isEmpty {
            let startable = waiting.filter { $0.teacherKey.map(finished.contains) ?? true }
            for worker in GridRunner.nextWorkers(startable, free: jobs - running.count, priority: priority) {
                var work = 0.0
                for run in worker {
                    let s = self.seconds(run.config, epochsDone: pending[run.key]!.epochsDone, sharing: worker.count)
                    seconds[run.key] = s
                    work += s
                }
                running.append((work, worker.map(\.key)))
                let started = Set(worker.map(\.key))
                waiting.removeAll { started.contains($0.key) }
            }
            guard let next = running.indices.min(by: { running[$0].left < running[$1].left }) else { break }  // a teacher never planned
            let speed = running.count > 1 ? sideBySide ?? 1 : 1, elapsed = running[next].left / speed
            now += elapsed
            for i in running.indices { running[i].left -= elapsed * speed }
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

/// A step's throughput on this machine (`Estimator.Step`: a training step of a network and
/// method, or a teacher's forward): a warm-up step and two timed steps of the trainer's own step
/// on synthetic images, cached in $XDG_CACHE_HOME/atx/throughput.json per host, kernel set,
/// convolution kernels' revision, step, batch, threads and, unless three, image channels.
enum Calibration {
    static func rate(_ c: StepBenchCase, batch: Int, threads: Int) -> (Double, Estimator.Source)? {
        let key = ([Host.name, BLASKernels.description, "conv kernels r\(ConvTuning.kernelRevision)", Estimator.Step(c).name, "batch \(batch)",
                    "threads \(threads)"]
                   + (c.side == ImageDataset.side ? [] : ["side \(c.side)"])
                   + (c.dataset.descriptor.channels == 3 ? [] : ["\(c.dataset.descriptor.channels) channel"])
                   + (c.freezing.map { ["freeze \($0.batchNorm) \($0.stem) \($0.groups)"] } ?? []))
            .joined(separator: " | ")
        var table = load()
        if let cached = table[key] { return (cached, .cache) }
        let previous = Threads.count
        defer { Threads.set(previous) }
        guard let bench = try? StepBench(c, batch: batch),
              let result = try? bench.measure(threads: threads, reps: 2) else { return nil }
        table[key] = result.imagesPerSecond
        save(table)
        return (result.imagesPerSecond, .measuredNow)
    }

    /// A process's speed beside `jobs − 1` others, as a share of its speed alone: the WRN-16-1
    /// row of `atx bench` at `threads` threads, once alone and in `jobs` processes released
    /// together (`BenchProcesses.spawnSteps`), the mean of theirs over the one alone. Cached like
    /// the steps; nil when the children cannot be run.
    static func sideBySide(jobs: Int, threads: Int) -> Double? {
        let key = [Host.name, BLASKernels.description, "conv kernels r\(ConvTuning.kernelRevision)", "side by side",
                   "\(jobs) jobs", "threads \(threads)"].joined(separator: " | ")
        var table = load()
        if let cached = table[key] { return cached }
        guard let row = StepBenchCase.named("wrn-16-1"),
              let alone = try? BenchProcesses.spawnSteps(row, batch: 128, threads: threads, copies: 1, reps: 3, quiet: true).first?.imagesPerSecond,
              let together = try? BenchProcesses.spawnSteps(row, batch: 128, threads: threads, copies: jobs, reps: 3, quiet: true).map(\.imagesPerSecond),
              alone > 0, !together.isEmpty else { return nil }
        let share = min(1, together.reduce(0, +) / Double(together.count) / alone)
        table[key] = share
        save(table)
        return share
    }

    /// The cached figures by key (empty when there is no readable cache).
    static func load() -> [String: Double] {
        (try? Data(contentsOf: cacheURL)).flatMap { try? JSONDecoder().decode([String: Double].self, from: $0) } ?? [:]
    }

    static func save(_ table: [String: Double]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? FileManager.default.createDirectory(at: cacheURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? encoder.encode(table).write(to: cacheURL, options: .atomic)
    }

    static var cacheURL: URL { MachineCache.url("throughput.json") }
}
