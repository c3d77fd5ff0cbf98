import ArgumentParser
import Experiments
import Foundation
import Store
import Tensor

/// Options of the commands that work on a grid.
struct GridOptions: ParsableArguments {
    @Argument(help: "Experiment spec (experiments/*.yaml).") var spec: String
    @Option(help: "Profile: paper, quick, smoke, … (as the spec defines).") var profile = "quick"
    @Option(help: "Results database.") var db = "results/results.db"

    func grid() throws -> Grid { try Grid(spec: try Spec.load(spec), profile: profile) }
}

/// `--runs-dir`, defaulting to the database's own (`GridRunner.defaultRunsDirectory`).
struct RunsDirectoryOption: ParsableArguments {
    @Option(help: "Where run directories (checkpoints, curves) live (default: runs/ beside results.db, else <name>.runs/ beside <name>.db).")
    var runsDir: String?

    func resolved(database: String) -> String { runsDir ?? GridRunner.defaultRunsDirectory(database: database) }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run what a grid still needs (resumes interrupted runs, never repeats finished ones).")

    @OptionGroup var grid: GridOptions
    @Option(help: "Runs at a time, each in its own worker process.") var jobs = 2
    @Option(help: "BLAS threads per worker.") var threads = 1
    @Flag(help: "Run failed runs again.") var retryFailed = false
    @OptionGroup var runs: RunsDirectoryOption

    /// The exit status when data or weights are missing (`make table*` then renders nothing).
    static let missingInputs: Int32 = 66

    func validate() throws {
        guard jobs >= 1, threads >= 1 else { throw ValidationError("--jobs and --threads must be at least 1") }
    }

    func run() throws {
        let g = try grid.grid()
        // A missing or damaged dataset or weights file fails here, naming what to download or
        // export and where to put it, before the store is opened: nothing is registered.
        let missing = g.missingInputs()
        if !missing.isEmpty {
            var text = "atx run: \(g.spec.name) cannot run on this machine; nothing was written to \(grid.db):\n"
            for m in missing { text += "  - \(m)\n" }
            FileHandle.standardError.write(Data(text.utf8))
            throw ExitCode(Run.missingInputs)
        }
        let store = try Store(path: grid.db)
        print("OpenBLAS kernels: \(BLASKernels.description)")
        let resolved = try g.resolved(in: store, recording: true)
        print(try Planner.describe(resolved, store: store, jobs: jobs, threads: threads))
        let runner = GridRunner(grid: resolved, store: store, options: RunnerOptions(
            jobs: jobs, threads: threads, retryFailed: retryFailed, runsDirectory: runs.resolved(database: grid.db),
            executable: Provenance.executable, gitCommit: Provenance.gitCommit()))
        let s = try runner.run()
        print("\(g.spec.name) [\(g.profile)]: \(s.done) done, \(s.failed) failed, \(s.interrupted) interrupted, \(s.blocked) not run (teacher failed or stopped)")
        if s.failed + s.interrupted + s.blocked > 0 { throw ExitCode(1) }
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What a grid would run, what is done, and the estimated time.")
    @OptionGroup var grid: GridOptions
    @Option(help: "Runs at a time (for the estimate).") var jobs = 2
    @Option(help: "Threads per run (for the estimate).") var threads = 1

    func run() throws {
        print("OpenBLAS kernels: \(BLASKernels.description)")
        let store = try Store(path: grid.db)
        let g = try grid.grid().resolved(in: store, recording: false)
        print(try Planner.describe(g, store: store, jobs: jobs, threads: threads, listRuns: true))
        let missing = g.missingInputs()
        if !missing.isEmpty {
            print("Missing on this machine (`atx run` refuses until they are there; the keys of runs that start from missing weights or data will change):")
            for m in missing { print("  - \(m)") }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per grid: done/running/failed/queued runs and the failures' reasons.")
    @Argument(help: "Spec to report on (default: every grid in the database).") var spec: String?
    @Option(help: "Results database.") var db = "results/results.db"
    @OptionGroup var slurm: SlurmStatusOptions

    func run() throws {
        if slurm.slurm { return try slurm.report(spec: spec, db: db) }
        let store = try Store(path: db)
        let grids = try spec.map { [try Spec.load($0).name] } ?? store.grids().map(\.name)
        for name in grids { print(try Planner.status(grid: name, store: store)) }
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run runs of the database (started by `atx run`).",
                                                    shouldDisplay: false)
    @Option var db: String
    @Option(help: "A run's key; the runs of one teacher and seed given together train in one cohort.") var key: [String]
    @Option var threads = 1
    @Option var runsDir: String
    @Option var gitCommit: String?
    @Option(help: "A Slurm task: register the run into --db (its own shard) from this manifest first.") var manifest: String?

    func validate() throws {
        guard !key.isEmpty else { throw ValidationError("give at least one --key") }
        guard manifest == nil || key.count == 1 else { throw ValidationError("a Slurm task (--manifest) runs one --key, got \(key.count)") }
    }

    func run() throws {
        Threads.set(threads)
        let store = try Store(path: db)
        let encoder = JSONEncoder()
        let task = try manifest.map { try SlurmManifest.load($0).prepareShard(store, key: key[0]) }
        if task?.alreadyDone == true { return }
        let result = Worker.execute(store: store, keys: key, runsDirectory: runsDir, threads: threads, gitCommit: gitCommit,
                                    teacherCheckpoint: task?.teacherCheckpoint, owner: task?.owner) { p in
            if manifest != nil && p.testError == nil { return }   // a Slurm log gets one line per epoch
            if let data = try? encoder.encode(p) { FileHandle.standardOutput.write(data + Data([0x0A])) }
        }
        if result != .done { throw ExitCode(result.rawValue) }
    }
}

/// Tiny stand-ins for Table 4's inputs (tests and `scripts/table4-smoke-test`).
struct SmokeInputs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "smoke-inputs", abstract: "Write tiny Table 4 and 5 data and weights.",
                                                    shouldDisplay: false)
    @Option(help: "Folder for cub200/, indoor67/ and imagenet/.") var data: String
    @Option(help: "Folder for resnet18-imagenet.safetensors and resnet34-imagenet.safetensors.") var weights: String
    @Option(help: "Classes of cub200/ and indoor67/ (imagenet/ has 1000).") var classes = 4

    func run() throws { try Experiments.SmokeInputs.write(data: data, weights: weights, classes: classes) }
}
