// The local scheduler: runs what a grid still needs, `jobs` worker processes at a time, teachers
// before their students, the longest chains of work first, a teacher's students of one seed in
// one worker (`Cohorts`), with a live display. Every state change goes through the store, so the
// runner or a worker killed at any moment loses nothing: a re-run resumes interrupted runs from
// their last epoch checkpoint and never runs a finished one again.
import Dispatch
import Foundation
import Store
import Training

public struct RunnerOptions: Sendable {
    public var jobs: Int
    public var threads: Int
    public var retryFailed: Bool
    public var runsDirectory: String
    /// The `atx` executable that runs `atx worker`.
    public var executable: String
    public var gitCommit: String?
    public init(jobs: Int, threads: Int, retryFailed: Bool, runsDirectory: String, executable: String, gitCommit: String?) {
        self.jobs = jobs; self.threads = threads; self.retryFailed = retryFailed
        self.runsDirectory = runsDirectory; self.executable = executable; self.gitCommit = gitCommit
    }
}

public struct RunnerSummary: Sendable {
    public var done = 0, failed = 0, blocked = 0, interrupted = 0
}

public final class GridRunner: @unchecked Sendable {
    public let grid: Grid
    public let store: Store
    public let options: RunnerOptions
    let display: Display
    let lock = NSLock()
    var active: [String: Process] = [:]
    var progress: [String: WorkerProgress] = [:]
    var stopping = false

    public init(grid: Grid, store: Store, options: RunnerOptions) {
        self.grid = grid
        self.store = store
        self.options = options
        display = Display(title: "\(grid.spec.name) [\(grid.profile)]")
    }

    /// Records the grid, its runs (teachers first) and the cells they serve.
    public static func register(_ grid: Grid, in store: Store) throws {
        try store.upsertGrid(name: grid.spec.name, specPath: grid.spec.file, specJSON: grid.spec.json, profile: grid.profile)
        for run in grid.runs where try !store.register(run.queuedRecord(profile: grid.profile)) {
            // Recorded already: the same identity, perhaps with the weights elsewhere now. The next
            // attempt reads them where they lie (the key leaves paths out).
            try store.updateConfigJSON(key: run.key, run.identityJSON)
        }
        try store.setCells(grid: grid.spec.name, grid.cells.map {
            CellRecord(grid: grid.spec.name, rowIndex: $0.row, columnIndex: $0.column, rowLabel: $0.rowLabel,
                       columnLabel: $0.columnLabel, seed: $0.seed, runKey: $0.runKey, role: $0.role, paperError: $0.paperError)
        })
    }

    /// Runs until every run of the grid is done, failed, or blocked by a failed teacher.
    public func run() throws -> RunnerSummary {
        try GridRunner.register(grid, in: store)
        installSignalHandlers()
        var attempted = Set<String>()
        let estimator = Estimator(store: store, grid: grid, jobs: options.jobs, threads: options.threads)
        let priority = estimator.priorities(grid)
        while true {
            let records = Dictionary(uniqueKeysWithValues: try grid.runs.compactMap { try store.run(key: $0.key) }.map { ($0.key, $0) })
            let isActive: (String) -> Bool = { key in self.lock.withLock { self.active[key] != nil } }
            if lock.withLock({ stopping }) { break }
            let (startable, waiting) = GridRunner.startable(grid.runs, records: records, retryFailed: options.retryFailed,
                                                            skip: { isActive($0) || attempted.contains($0) }, isAlive: Host.isAlive)
            let free = options.jobs - lock.withLock { processCount }
            for cohort in GridRunner.nextWorkers(startable, free: free, priority: priority) {
                attempted.formUnion(cohort.map(\.key))
                try spawn(cohort)
            }
            let activeCount = lock.withLock { active.count }
            display.render(records: records, grid: grid, progress: lock.withLock { progress }, active: lock.withLock { Array(active.keys) },
                           eta: estimator.remainingSeconds(grid: grid, records: records, jobs: options.jobs))
            if activeCount == 0 && startable.isEmpty && !waiting { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        while lock.withLock({ !active.isEmpty }) { Thread.sleep(forTimeInterval: 0.1) }
        var summary = RunnerSummary()
        for run in grid.runs {
            guard let r = try store.run(key: run.key) else { continue }
            switch r.status {
            case .done: summary.done += 1
            case .failed: summary.failed += 1
            case .interrupted, .running: summary.interrupted += 1
            case .queued: summary.blocked += 1
            }
        }
        display.finish()
        return summary
    }

    /// The scheduler's decision, without processes: of `runs` (teachers before their students),
    /// those that may start now, in order, and whether anything else may still become startable
    /// (a run another live process trains, or a student whose teacher is not finished yet).
    /// A done run never starts; a failed one only with `retryFailed`; a running one only when its
    /// owner is dead (`isAlive(host, pid)`); a student only once its teacher is done, never
    /// after its teacher failed. `skip`: runs this runner has already started or is running.
    public static func startable(_ runs: [PlannedRun], records: [String: RunRecord], retryFailed: Bool,
                                 skip: (String) -> Bool = { _ in false },
                                 isAlive: (String, Int) -> Bool) -> (runs: [PlannedRun], waiting: Bool) {
        var startable: [PlannedRun] = []
        var waiting = false
        for run in runs {
            guard let r = records[run.key], !skip(run.key) else { continue }
            switch r.status {
            case .done: continue
            case .failed: if !retryFailed { continue }
            case .running:
                if isAlive(r.host ?? "", r.pid ?? 0) {
                    waiting = true   // another process trains it
                    continue
                }
            case .queued, .interrupted: break
            }
            if let t = run.teacherKey {
                guard let teacher = records[t] else { continue }
                if teacher.status != .done { if teacher.status != .failed { waiting = true }; continue }
            }
            startable.append(run)
        }
        return (startable, waiting)
    }

    /// Worker processes running now (a cohort's runs share one).
    var processCount: Int { Set(active.values.map(ObjectIdentifier.init)).count }

    /// Starts one worker for `runs` (a cohort, or a run alone).
    func spawn(_ runs: [PlannedRun]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: options.executable)
        p.arguments = ["worker", "--db", store.path] + runs.flatMap { ["--key", $0.key] } + ["--threads", String(options.threads),
                       "--runs-dir", options.runsDirectory] + (options.gitCommit.map { ["--git-commit", $0] } ?? [])
        let out = Pipe()
        p.standardOutput = out
        let lines = LineSplitter()
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            for line in lines.append(h.availableData) {
                if let prog = try? JSONDecoder().decode(WorkerProgress.self, from: line) {
                    self?.lock.withLock { self?.progress[prog.key] = prog }
                }
            }
        }
        p.terminationHandler = { [weak self] proc in
            out.fileHandleForReading.readabilityHandler = nil
            guard let self else { return }
            if proc.terminationReason == .uncaughtSignal {
                // Killed from outside: the runs resume from their last checkpoints on the next `atx run`.
                for run in runs {
                    if let r = try? self.store.run(key: run.key), r.status == .running, r.pid == Int(proc.processIdentifier) {
                        try? self.store.markInterrupted(key: run.key)
                    }
                }
            }
            self.lock.withLock {
                for run in runs {
                    self.active[run.key] = nil
                    self.progress[run.key] = nil
                }
            }
        }
        lock.withLock { for run in runs { active[run.key] = p } }
        try p.run()
    }

    /// SIGINT/SIGTERM: stop starting runs, ask the workers to stop (they mark their runs
    /// interrupted), wait for them, and return.
    func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                let workers: [Process] = self.lock.withLock {
                    self.stopping = true
                    return Array(Set(self.active.values))
                }
                for w in workers where w.isRunning { kill(w.processIdentifier, SIGTERM) }
            }
            source.resume()
            signalSources.append(source)
        }
    }
    var signalSources: [DispatchSourceSignal] = []
}

extension GridRunner {
    /// Where a database keeps its runs' directories unless told otherwise: `runs` beside a
    /// database named `results.db` (the default one, as before), else `<name>.runs` beside
    /// `<name>.db`, so two databases never share run directories.
    public static func defaultRunsDirectory(database: String) -> String {
        let url = URL(fileURLWithPath: database)
        let directory = url.deletingLastPathComponent().path == FileManager.default.currentDirectoryPath
            && !database.contains("/") ? "" : (database as NSString).deletingLastPathComponent
        let name = url.lastPathComponent == "results.db" ? "runs" : url.deletingPathExtension().lastPathComponent + ".runs"
        return directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name)
    }
}

/// Splits a byte stream into lines. Used from one readability handler at a time.
final class LineSplitter: @unchecked Sendable {
    var buffer = Data()
    func append(_ chunk: Data) -> [Data] {
        buffer.append(chunk)
        var lines: [Data] = []
        while let nl = buffer.firstIndex(of: 0x0A) {
            lines.append(Data(buffer[buffer.startIndex..<nl]))
            buffer.removeSubrange(buffer.startIndex...nl)
        }
        return lines
    }
}
