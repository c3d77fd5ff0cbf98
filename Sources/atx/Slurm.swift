// `atx submit`, `atx merge` and `atx status --slurm`: running a grid as Slurm job arrays
// (see Sources/Experiments/SlurmPlan.swift for the design).
import ArgumentParser
import Experiments
import Foundation
import Store

struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit what a grid still needs to a Slurm cluster as job arrays, then merge the results.",
        discussion: """
        Writes sbatch scripts, submit.sh and a manifest under results/slurm/<grid>/ and submits: one \
        array of the runs that need no teacher, one array per teacher of its students (afterok on that \
        teacher's task; a failed teacher cancels them), and a merge job (afterany) that folds the tasks' \
        shard databases into --db. Runs already done are not submitted. Paths must be on a filesystem \
        the compute nodes share.
        """)

    @OptionGroup var grid: GridOptions
    /// Accepted for earlier invocations: Slurm is the only backend of `atx submit` (`atx run` runs locally).
    @Flag(help: .hidden) var slurm = false
    @Option(help: "sbatch --partition.") var partition: String?
    @Option(help: "sbatch --time for each run, e.g. 2:00:00.") var time: String?
    @Option(help: "sbatch --cpus-per-task; also the run's BLAS threads.") var cpusPerTask = 1
    @Option(help: "sbatch --mem, e.g. 4G.") var mem: String?
    @Option(help: "sbatch --account.") var account: String?
    @Flag(help: "Write and print the scripts, submit nothing (results/slurm/<grid>/submit.sh submits them by hand).")
    var dryRun = false
    @OptionGroup var runs: RunsDirectoryOption
    @Option(help: "Where the scripts, manifests, shards and logs go (one directory per grid).") var slurmDir = "results/slurm"

    func validate() throws {
        guard cpusPerTask >= 1 else { throw ValidationError("--cpus-per-task must be at least 1") }
    }

    func run() throws {
        let g = try grid.grid()
        let store = try Store(path: grid.db)
        let layout = SlurmLayout.resolve(grid: g.spec.name, database: grid.db, runsDirectory: runs.resolved(database: grid.db), slurmDirectory: slurmDir,
                                         executable: Provenance.executable)
        let (plan, merged) = try Slurm.plan(grid: g, store: store, options: SlurmOptions(
            partition: partition, time: time, cpusPerTask: cpusPerTask, mem: mem, account: account), layout: layout, dryRun: dryRun)
        if merged > 0 { print("folded \(merged) shards of earlier submissions into \(grid.db)") }
        guard !plan.jobs.isEmpty else {
            print("\(g.spec.name) [\(g.profile)]: all \(g.runs.count) runs are done; nothing to submit")
            return
        }
        try plan.write()
        let runs = plan.jobs.reduce(0) { $0 + $1.keys.count }
        if dryRun {
            for job in plan.jobs { print("==> \(layout.directory)/\(job.file) <==\n\(job.script)") }
            print("==> \(layout.directory)/submit.sh <==\n\(plan.submitScript)")
            print("dry run: \(runs) runs in \(plan.jobs.count - 1) arrays (\(plan.alreadyDone) done already); nothing submitted")
            return
        }
        let submission = try Slurm.submit(plan)
        for job in submission.jobs { print("submitted \(job.name): job \(job.id)" + (job.keys.isEmpty ? "" : " (\(job.keys.count) tasks)")) }
        print("\(g.spec.name) [\(g.profile)]: \(runs) runs submitted (\(plan.alreadyDone) done already); `atx status \(grid.spec) --slurm` follows them")
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold shard databases (Slurm tasks' results) into the results database; merging again changes nothing.")

    @Option(help: "Results database.") var db = "results/results.db"
    @Argument(help: "Shard databases, or directories whose *.db files are shards.") var shards: [String]

    func run() throws {
        let (count, r) = try Slurm.merge(shards, into: try Store(path: db))
        print("merged \(count) shards into \(db): \(r.runsAdded) runs added, \(r.runsUpdated) updated, \(r.epochsAdded) epochs added")
    }
}

/// `atx status SPEC --slurm`.
struct SlurmStatusOptions: ParsableArguments {
    @Flag(help: "Where the grid's last Slurm submission is on the cluster (scontrol show job, the tasks' shards and logs).") var slurm = false
    @Option(help: "Where `atx submit` wrote the grid's directory.") var slurmDir = "results/slurm"

    func report(spec: String?, db: String) throws {
        guard let spec else { throw ValidationError("--slurm needs the spec") }
        let name = try Spec.load(spec).name
        let layout = SlurmLayout.resolve(grid: name, database: db, runsDirectory: ".", slurmDirectory: slurmDir, executable: ".")
        let jobs = SlurmJobRecord.parse(try Slurm.command("scontrol", ["--oneliner", "show", "job"]))
        print(try SlurmStatus.report(grid: name, store: try Store(path: db), layout: layout, jobs: jobs))
    }
}
