// `atx submit`: a grid as Slurm job arrays, one run per array task.
//
// Dependencies. A student must wait for its own teacher run, and a failed teacher must cancel
// its students rather than leave them pending forever. One student array cannot say that: an
// array's dependency applies to all of its tasks, and `aftercorr` pairs task i with task i of
// one other array, while several students share a teacher. So the runs are grouped by teacher:
//
//   - one array of the runs that need no teacher (the teachers and the plain baselines);
//   - per teacher, one array of its students, `--dependency=afterok:<job>_<task>` on exactly
//     that teacher's array task, with `--kill-on-invalid-dep=yes`: the teacher failing makes
//     the dependency invalid and Slurm cancels the whole student array at once. (A teacher that
//     is already done in the main database is not submitted; its students need no dependency.)
//   - one merge job, `--dependency=afterany:` on every array, running `atx merge`.
//
// That is 1 + (teachers with runs to do) + 1 submissions (22 for Table 1 at 5 seeds), each
// dependency being a plain afterok that Slurm resolves without an accounting database.
//
// Shards. A task writes only its own SQLite file, shards/<SLURM_ARRAY_JOB_ID>_<SLURM_ARRAY_TASK_ID>-<key>.db,
// registering its run from manifest.json; checkpoints go to the shared runs directory, so a task
// killed by Slurm resumes from its last epoch when submitted again (or requeued: same ids, same
// shard, whose stale `running` record the task takes over).
import Foundation
import Store

/// What `atx submit` passes to Slurm as-is.
public struct SlurmOptions: Sendable, Equatable {
    public var partition: String?
    public var time: String?
    public var cpusPerTask: Int
    public var mem: String?
    public var account: String?

    public init(partition: String? = nil, time: String? = nil, cpusPerTask: Int = 1, mem: String? = nil, account: String? = nil) {
        self.partition = partition; self.time = time; self.cpusPerTask = cpusPerTask; self.mem = mem; self.account = account
    }
}

/// Where a submission's files live: absolute paths, as compute nodes see them (a shared filesystem).
public struct SlurmLayout: Sendable, Equatable {
    /// The jobs' working directory (the project).
    public var workingDirectory: String
    /// The main results database, written only by `atx submit` and the merge job.
    public var database: String
    /// Run directories (checkpoints), shared by all tasks.
    public var runsDirectory: String
    /// results/slurm/<grid>: scripts, manifest, shards, logs.
    public var directory: String
    /// The `atx` executable the tasks run.
    public var executable: String

    public init(workingDirectory: String, database: String, runsDirectory: String, directory: String, executable: String) {
        self.workingDirectory = workingDirectory; self.database = database; self.runsDirectory = runsDirectory
        self.directory = directory; self.executable = executable
    }

    public var manifest: String { directory + "/manifest.json" }
    public var shards: String { directory + "/shards" }
    public var logs: String { directory + "/logs" }
    /// The job ids of the last submission.
    public var submission: String { directory + "/jobs.json" }

    /// The layout for `grid` from paths relative to `workingDirectory`.
    public static func resolve(grid: String, database: String, runsDirectory: String, slurmDirectory: String,
                               executable: String, workingDirectory: String = FileManager.default.currentDirectoryPath) -> SlurmLayout {
        func absolute(_ p: String) -> String {
            URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).standardizedFileURL.path
        }
        return SlurmLayout(workingDirectory: absolute("."), database: absolute(database), runsDirectory: absolute(runsDirectory),
                           directory: absolute(slurmDirectory) + "/" + grid, executable: absolute(executable))
    }
}

/// One sbatch submission: a job array of runs, or the merge job.
public struct SlurmJob: Sendable, Equatable {
    public enum Dependency: Sendable, Equatable {
        /// After task `task` of the plan's job `job` succeeds (cancelled if it cannot).
        case afterOK(job: Int, task: Int)
        /// After every listed job of the plan has ended, however.
        case afterAny([Int])
    }

    /// The job name, also the script's file stem.
    public var name: String
    /// Array task i runs `keys[i]`; empty for the merge job.
    public var keys: [String]
    public var dependency: Dependency?
    public var script: String
    public var file: String { name + ".sbatch" }
}

/// The scripts for the runs of a grid that are not done, in submission order.
public struct SlurmPlan: Sendable {
    public let grid: Grid
    public let layout: SlurmLayout
    public let options: SlurmOptions
    /// Arrays first (each after the array holding its teacher), the merge job last; empty when all is done.
    public let jobs: [SlurmJob]
    public let manifest: SlurmManifest
    /// Runs not submitted because the main database has them done.
    public let alreadyDone: Int

    /// - Parameter records: the main database's records of the grid's runs, by key.
    /// - Parameter database: the main database's identity, which the tasks' checkpoints carry.
    public init(grid: Grid, records: [String: RunRecord], options: SlurmOptions, layout: SlurmLayout, database: String? = nil) throws {
        let name = grid.spec.name
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw SlurmError.unsafeName(name)
        }
        for path in [layout.workingDirectory, layout.database, layout.runsDirectory, layout.directory, layout.executable]
            where path.contains(where: { $0.isWhitespace || "'\"$`\\".contains($0) }) {
            throw SlurmError.unsafePath(path)
        }
        self.grid = grid; self.layout = layout; self.options = options
        let isDone = { (key: String) in records[key]?.status == .done }
        let todo = grid.runs.filter { !isDone($0.key) }
        alreadyDone = grid.runs.count - todo.count

        // Group by teacher, in grid order (teachers first, so a group's teacher is placed before it).
        var groups: [(teacher: String?, keys: [String])] = []
        var placed: [String: (job: Int, task: Int)] = [:]
        for run in todo {
            let g = groups.firstIndex { $0.teacher == run.teacherKey } ?? {
                groups.append((run.teacherKey, []))
                return groups.count - 1
            }()
            placed[run.key] = (g, groups[g].keys.count)
            groups[g].keys.append(run.key)
        }
        var jobs: [SlurmJob] = groups.map { group in
            let jobName = "atx-\(name)-" + (group.teacher.map { "students-\($0)" } ?? "independent")
            let dependency = group.teacher.flatMap { placed[$0] }.map { SlurmJob.Dependency.afterOK(job: $0.job, task: $0.task) }
            let what = group.teacher.map { t in "students of teacher run \(t) (\(grid.run(t).map(SlurmPlan.describe) ?? t))" }
                ?? "runs that need no teacher (the teachers and the plain baselines)"
            return SlurmJob(name: jobName, keys: group.keys, dependency: dependency,
                            script: SlurmPlan.arrayScript(name: jobName, what: what, keys: group.keys, hasTeacher: group.teacher != nil,
                                                          grid: grid, options: options, layout: layout))
        }
        if !jobs.isEmpty {
            let mergeName = "atx-\(name)-merge"
            jobs.append(SlurmJob(name: mergeName, keys: [], dependency: .afterAny(Array(jobs.indices)),
                                 script: SlurmPlan.mergeScript(name: mergeName, grid: grid, options: options, layout: layout)))
        }
        self.jobs = jobs

        var manifestRuns: [String: RunRecord] = [:], checkpoints: [String: String] = [:]
        for run in todo {
            manifestRuns[run.key] = run.queuedRecord(profile: grid.profile)
            guard let t = run.teacherKey, let teacher = grid.run(t) else { continue }
            manifestRuns[t] = teacher.queuedRecord(profile: grid.profile)
            // The Worker's final weights: runs/<key>/model.safetensors, unless the database knows better.
            checkpoints[t] = records[t].flatMap { $0.status == .done ? $0.checkpointPath : nil }
                ?? "\(layout.runsDirectory)/\(t)/model.safetensors"
        }
        manifest = SlurmManifest(grid: name, profile: grid.profile, runs: manifestRuns, teacherCheckpoints: checkpoints, database: database)
    }

    /// sbatch's arguments for job `index`, given the ids (or shell variables) of the jobs before it.
    public func sbatchArguments(_ index: Int, ids: [String]) -> [String] {
        var args = ["--parsable"]
        switch jobs[index].dependency {
        case .afterOK(let job, let task)?: args.append("--dependency=afterok:\(ids[job])_\(task)")
        case .afterAny(let list)?: args.append("--dependency=afterany:" + list.map { ids[$0] }.joined(separator: ":"))
        case nil: break
        }
        return args + ["\(layout.directory)/\(jobs[index].file)"]
    }

    /// submit.sh: the same submissions as `atx submit`, for doing them by hand.
    public var submitScript: String {
        let vars = jobs.indices.map { "${j\($0)}" }
        var out = """
        #!/bin/bash
        # Submits grid \(grid.spec.name) [\(grid.profile)] to Slurm in dependency order (what `atx submit` does).
        # Written by `atx submit`.
        set -euo pipefail

        """
        for i in jobs.indices {
            out += "j\(i)=$(sbatch \(sbatchArguments(i, ids: vars).joined(separator: " ")) | cut -d';' -f1)\n"
        }
        out += "echo \"submitted: \(vars.dropLast().joined(separator: " ")) (merge \(vars.last ?? ""))\"\n"
        return out
    }

    /// Writes the scripts, submit.sh and the manifest, and makes the shard and log directories.
    public func write() throws {
        let fm = FileManager.default
        for d in [layout.directory, layout.shards, layout.logs] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        for job in jobs { try job.script.write(toFile: "\(layout.directory)/\(job.file)", atomically: true, encoding: .utf8) }
        let submit = "\(layout.directory)/submit.sh"
        try submitScript.write(toFile: submit, atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: submit)
        try manifest.write(to: layout.manifest)
    }

    /// Whether `name` is one of the job names a plan of `grid` gives (and not, say, grid "smoke-2"'s for grid "smoke").
    public static func isJobName(_ name: String, of grid: String) -> Bool {
        let prefix = "atx-\(grid)-"
        guard name.hasPrefix(prefix) else { return false }
        let rest = name.dropFirst(prefix.count)
        if rest == "independent" || rest == "merge" { return true }
        guard rest.hasPrefix("students-") else { return false }
        let key = rest.dropFirst("students-".count)
        return key.count == 16 && key.allSatisfy(\.isHexDigit)
    }

    // MARK: - Scripts

    static func describe(_ run: PlannedRun) -> String {
        "\(run.config.student) \(run.config.method.name) seed \(run.config.seed)"
    }

    /// The #SBATCH lines every job shares.
    static func header(name: String, what: String, grid: Grid, directives: [String?], options: SlurmOptions, layout: SlurmLayout) -> String {
        let lines = ["--job-name=\(name)"] + directives.compactMap { $0 } + [
            options.partition.map { "--partition=\($0)" }, options.account.map { "--account=\($0)" },
            "--chdir=\(layout.workingDirectory)",
        ].compactMap { $0 }
        return """
        #!/bin/bash
        # atx grid \(grid.spec.name) [\(grid.profile)]: \(what).
        # Written by `atx submit`; submitted in order by it (or by submit.sh in this directory).
        \(lines.map { "#SBATCH " + $0 }.joined(separator: "\n"))
        set -euo pipefail

        """
    }

    static func arrayScript(name: String, what: String, keys: [String], hasTeacher: Bool, grid: Grid,
                            options: SlurmOptions, layout: SlurmLayout) -> String {
        header(name: name, what: what + "; one run per array task", grid: grid, directives: [
            "--array=0-\(keys.count - 1)",
            "--cpus-per-task=\(options.cpusPerTask)",
            options.time.map { "--time=\($0)" },
            options.mem.map { "--mem=\($0)" },
            hasTeacher ? "--kill-on-invalid-dep=yes" : nil,
            "--output=\(layout.logs)/%x_%A_%a.out",
        ], options: options, layout: layout) + """
        keys=(\(keys.joined(separator: " ")))
        key=${keys[$SLURM_ARRAY_TASK_ID]}
        # This task's own database; `atx merge` folds it into the main one.
        exec \(layout.executable) worker --manifest \(layout.manifest) --key "$key" \\
            --db "\(layout.shards)/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}-$key.db" \\
            --runs-dir \(layout.runsDirectory) --threads "${SLURM_CPUS_PER_TASK:-1}"

        """
    }

    /// The merge job asks for 15 minutes whatever `--time` says: folding even a hundred shards takes seconds.
    static func mergeScript(name: String, grid: Grid, options: SlurmOptions, layout: SlurmLayout) -> String {
        header(name: name, what: "folds the array tasks' shards into the results database", grid: grid, directives: [
            "--cpus-per-task=1", "--time=00:15:00", "--output=\(layout.logs)/%x_%j.out",
        ], options: options, layout: layout) + """
        exec \(layout.executable) merge --db \(layout.database) \(layout.shards)

        """
    }
}
