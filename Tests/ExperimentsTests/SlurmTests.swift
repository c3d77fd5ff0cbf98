import Foundation
import XCTest
@testable import Experiments
import Store

/// Slurm submission: the scripts (golden strings), the manifest a task prepares its shard from,
/// and the status report. scripts/slurm-test runs all of it against a real Slurm.
final class SlurmTests: XCTestCase {
    /// One seed of a teacher, a baseline and an AT student: runs [teacher, baseline, student].
    static let spec = """
        name: tiny
        dataset: synthetic
        seeds: [0]
        training: {epochs: 2, batch_size: 25, learning_rate: 0.05, train_subset: 100, test_subset: 50}
        rows: [{student: wrn-10-1, teacher: wrn-10-2}]
        columns:
          - {label: student, method: ce}
          - {label: AT, method: at, beta: 1000}
          - {label: teacher, method: ce, network: teacher}
        profiles: {smoke: {}}
        """
    static let layout = SlurmLayout(workingDirectory: "/project", database: "/project/results/results.db",
                                    runsDirectory: "/project/results/runs", directory: "/project/results/slurm/tiny",
                                    executable: "/project/.build/release/atx")

    var grid: Grid!
    var teacher: String { grid.runs[0].key }
    var baseline: String { grid.runs[1].key }
    var student: String { grid.runs[2].key }

    override func setUpWithError() throws {
        grid = try Grid(spec: try Spec.parse(Self.spec, file: "tiny.yaml"), profile: "smoke")
        XCTAssertEqual(grid.runs.map(\.config.method.name), ["ce", "ce", "at"])
        XCTAssertEqual(grid.runs[2].teacherKey, teacher)
    }

    /// Run keys are content hashes; the goldens name them.
    func named(_ text: String) -> String {
        text.replacingOccurrences(of: teacher, with: "TEACHER").replacingOccurrences(of: baseline, with: "BASELINE")
            .replacingOccurrences(of: student, with: "STUDENT")
    }

    func testScriptsOfAFreshGrid() throws {
        let plan = try SlurmPlan(grid: grid, records: [:], options: SlurmOptions(), layout: Self.layout)
        XCTAssertEqual(plan.jobs.map { named($0.name) }, ["atx-tiny-independent", "atx-tiny-students-TEACHER", "atx-tiny-merge"])
        XCTAssertEqual(plan.jobs.map(\.keys), [[teacher, baseline], [student], []])
        XCTAssertEqual(plan.jobs.map(\.dependency), [nil, .afterOK(job: 0, task: 0), .afterAny([0, 1])])
        XCTAssertEqual(plan.alreadyDone, 0)
        XCTAssertEqual(named(plan.jobs[0].script), """
            #!/bin/bash
            # atx grid tiny [smoke]: runs that need no teacher (the teachers and the plain baselines); one run per array task.
            # Written by `atx submit`; submitted in order by it (or by submit.sh in this directory).
            #SBATCH --job-name=atx-tiny-independent
            #SBATCH --array=0-1
            #SBATCH --cpus-per-task=1
            #SBATCH --output=/project/results/slurm/tiny/logs/%x_%A_%a.out
            #SBATCH --chdir=/project
            set -euo pipefail
            keys=(TEACHER BASELINE)
            key=${keys[$SLURM_ARRAY_TASK_ID]}
            # This task's own database; `atx merge` folds it into the main one.
            exec /project/.build/release/atx worker --manifest /project/results/slurm/tiny/manifest.json --key "$key" \\
                --db "/project/results/slurm/tiny/shards/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}-$key.db" \\
                --runs-dir /project/results/runs --threads "${SLURM_CPUS_PER_TASK:-1}"

            """)
        XCTAssertEqual(named(plan.jobs[1].script), """
            #!/bin/bash
            # atx grid tiny [smoke]: students of teacher run TEACHER (wrn-10-2 ce seed 0); one run per array task.
            # Written by `atx submit`; submitted in order by it (or by submit.sh in this directory).
            #SBATCH --job-name=atx-tiny-students-TEACHER
            #SBATCH --array=0-0
            #SBATCH --cpus-per-task=1
            #SBATCH --kill-on-invalid-dep=yes
            #SBATCH --output=/project/results/slurm/tiny/logs/%x_%A_%a.out
            #SBATCH --chdir=/project
            set -euo pipefail
            keys=(STUDENT)
            key=${keys[$SLURM_ARRAY_TASK_ID]}
            # This task's own database; `atx merge` folds it into the main one.
            exec /project/.build/release/atx worker --manifest /project/results/slurm/tiny/manifest.json --key "$key" \\
                --db "/project/results/slurm/tiny/shards/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}-$key.db" \\
                --runs-dir /project/results/runs --threads "${SLURM_CPUS_PER_TASK:-1}"

            """)
        XCTAssertEqual(plan.jobs[2].script, """
            #!/bin/bash
            # atx grid tiny [smoke]: folds the array tasks' shards into the results database.
            # Written by `atx submit`; submitted in order by it (or by submit.sh in this directory).
            #SBATCH --job-name=atx-tiny-merge
            #SBATCH --cpus-per-task=1
            #SBATCH --time=00:15:00
            #SBATCH --output=/project/results/slurm/tiny/logs/%x_%j.out
            #SBATCH --chdir=/project
            set -euo pipefail
            exec /project/.build/release/atx merge --db /project/results/results.db /project/results/slurm/tiny/shards

            """)
        XCTAssertEqual(named(plan.submitScript), """
            #!/bin/bash
            # Submits grid tiny [smoke] to Slurm in dependency order (what `atx submit` does).
            # Written by `atx submit`.
            set -euo pipefail
            j0=$(sbatch --parsable /project/results/slurm/tiny/atx-tiny-independent.sbatch | cut -d';' -f1)
            j1=$(sbatch --parsable --dependency=afterok:${j0}_0 /project/results/slurm/tiny/atx-tiny-students-TEACHER.sbatch | cut -d';' -f1)
            j2=$(sbatch --parsable --dependency=afterany:${j0}:${j1} /project/results/slurm/tiny/atx-tiny-merge.sbatch | cut -d';' -f1)
            echo "submitted: ${j0} ${j1} (merge ${j2})"

            """)
        XCTAssertTrue(plan.jobs.allSatisfy { SlurmPlan.isJobName($0.name, of: "tiny") })
        XCTAssertFalse(SlurmPlan.isJobName("atx-tiny-2-independent", of: "tiny"), "grid tiny-2's job")
        XCTAssertFalse(SlurmPlan.isJobName("atx-tiny-students-x", of: "tiny"))
        XCTAssertEqual(plan.sbatchArguments(1, ids: ["41", "42"]),
                       ["--parsable", "--dependency=afterok:41_0", "/project/results/slurm/tiny/\(plan.jobs[1].file)"])
        XCTAssertEqual(plan.sbatchArguments(2, ids: ["41", "42"]),
                       ["--parsable", "--dependency=afterany:41:42", "/project/results/slurm/tiny/atx-tiny-merge.sbatch"])

        // What a student's task needs: its record, a queued stub of its teacher, and where the teacher's weights will be.
        XCTAssertEqual(Set(plan.manifest.runs.keys), [teacher, baseline, student])
        XCTAssertTrue(plan.manifest.runs.values.allSatisfy { $0.status == .queued && $0.profile == "smoke" })
        XCTAssertEqual(plan.manifest.runs[student]?.configJSON, grid.runs[2].identityJSON)
        XCTAssertEqual(plan.manifest.teacherCheckpoints, [teacher: "/project/results/runs/\(teacher)/model.safetensors"])
    }

    func testOptionsBecomeDirectivesAndTheMergeJobStaysSmall() throws {
        let options = SlurmOptions(partition: "gpu", time: "2:00:00", cpusPerTask: 4, mem: "8G", account: "lab")
        let plan = try SlurmPlan(grid: grid, records: [:], options: options, layout: Self.layout)
        let directives = { (job: Int) in plan.jobs[job].script.split(separator: "\n").filter { $0.hasPrefix("#SBATCH") }.map(String.init) }
        XCTAssertEqual(directives(0), ["#SBATCH --job-name=atx-tiny-independent", "#SBATCH --array=0-1", "#SBATCH --cpus-per-task=4",
                                       "#SBATCH --time=2:00:00", "#SBATCH --mem=8G", "#SBATCH --output=/project/results/slurm/tiny/logs/%x_%A_%a.out",
                                       "#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --chdir=/project"])
        XCTAssertEqual(directives(2), ["#SBATCH --job-name=atx-tiny-merge", "#SBATCH --cpus-per-task=1", "#SBATCH --time=00:15:00",
                                       "#SBATCH --output=/project/results/slurm/tiny/logs/%x_%j.out", "#SBATCH --partition=gpu",
                                       "#SBATCH --account=lab", "#SBATCH --chdir=/project"])
    }

    func testDoneRunsAreNotSubmitted() throws {
        var done = grid.runs[0].queuedRecord(profile: "smoke")
        done.status = .done
        done.checkpointPath = "/elsewhere/model.safetensors"
        // The teacher is done: its student needs no dependency, and loads the recorded weights.
        let plan = try SlurmPlan(grid: grid, records: [teacher: done], options: SlurmOptions(), layout: Self.layout)
        XCTAssertEqual(plan.alreadyDone, 1)
        XCTAssertEqual(plan.jobs.map(\.keys), [[baseline], [student], []])
        XCTAssertEqual(plan.jobs.map(\.dependency), [nil, nil, .afterAny([0, 1])])
        XCTAssertEqual(plan.manifest.teacherCheckpoints, [teacher: "/elsewhere/model.safetensors"])
        XCTAssertTrue(plan.submitScript.contains("j1=$(sbatch --parsable /project/results/slurm/tiny/atx-tiny-students-\(teacher).sbatch"))
        // Only the student left: one array, no dependency.
        var records = [teacher: done, baseline: done]
        let studentOnly = try SlurmPlan(grid: grid, records: records, options: SlurmOptions(), layout: Self.layout)
        XCTAssertEqual(studentOnly.jobs.map(\.keys), [[student], []])
        XCTAssertEqual(studentOnly.jobs.map(\.dependency), [nil, .afterAny([0])])
        // Everything done: nothing to submit.
        records[student] = done
        XCTAssertTrue(try SlurmPlan(grid: grid, records: records, options: SlurmOptions(), layout: Self.layout).jobs.isEmpty)
    }

    func testNamesAndPathsTheScriptsCannotCarryAreRefused() throws {
        var spaced = Self.layout
        spaced.runsDirectory = "/my project/runs"
        XCTAssertThrowsError(try SlurmPlan(grid: grid, records: [:], options: SlurmOptions(), layout: spaced)) {
            XCTAssertEqual($0 as? SlurmError, .unsafePath("/my project/runs"))
        }
        let odd = try Grid(spec: try Spec.parse(Self.spec.replacingOccurrences(of: "name: tiny", with: "name: \"a b\""), file: "t.yaml"), profile: "smoke")
        XCTAssertThrowsError(try SlurmPlan(grid: odd, records: [:], options: SlurmOptions(), layout: Self.layout)) {
            XCTAssertEqual($0 as? SlurmError, .unsafeName("a b"))
        }
    }

    func testLayoutResolvesAgainstTheWorkingDirectory() {
        XCTAssertEqual(SlurmLayout.resolve(grid: "tiny", database: "results/results.db", runsDirectory: "results/runs",
                                           slurmDirectory: "results/slurm", executable: "/opt/atx", workingDirectory: "/project"),
                       Self.layout.with(executable: "/opt/atx"))
    }

    func testATaskPreparesItsShardFromTheManifest() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("atx-slurm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let plan = try SlurmPlan(grid: grid, records: [:], options: SlurmOptions(), layout: Self.layout)
        let path = directory.appendingPathComponent("manifest.json").path
        try plan.manifest.write(to: path)
        let manifest = try SlurmManifest.load(path)
        XCTAssertEqual(manifest, plan.manifest)

        let shard = try Store(path: directory.appendingPathComponent("7_0-\(student).db").path)
        let task = try manifest.prepareShard(shard, key: student)
        XCTAssertEqual(task, SlurmManifest.Task(alreadyDone: false, teacherCheckpoint: "/project/results/runs/\(teacher)/model.safetensors"))
        XCTAssertEqual(try shard.runs().map(\.key).sorted(), [teacher, student].sorted())
        XCTAssertEqual(try shard.run(key: teacher)?.status, .queued, "a stub, never a done record a merge could prefer")

        // Requeued by Slurm after a kill: the same shard still says running, under a live-looking owner elsewhere.
        XCTAssertTrue(try shard.claim(key: student, host: "node-7", pid: 1, threads: 1, gitCommit: nil, retryFailed: false) { _, _ in true })
        XCTAssertEqual(try manifest.prepareShard(shard, key: student).alreadyDone, false)
        XCTAssertEqual(try shard.run(key: student)?.status, .interrupted)
        XCTAssertTrue(try shard.claim(key: student, host: "node-8", pid: 2, threads: 1, gitCommit: nil, retryFailed: false) { _, _ in true })
        try shard.finish(key: student, finalTestError: 0.1, bestTestError: 0.1, wallSeconds: 1, checkpointPath: nil)
        XCTAssertEqual(try manifest.prepareShard(shard, key: student).alreadyDone, true)

        XCTAssertEqual(try manifest.prepareShard(shard, key: baseline).teacherCheckpoint, nil)
        XCTAssertThrowsError(try manifest.prepareShard(shard, key: "0000")) {
            XCTAssertEqual($0 as? SlurmError, .manifest(path: "tiny", reason: "run 0000 is not in the manifest"))
        }
    }

    /// Lines as slurmctld 22.05 prints them (trimmed after the fields read).
    static let scontrol = """
        JobId=17 ArrayJobId=17 ArrayTaskId=0 JobName=atx-slurm-fail-independent UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0 RunTime=00:00:00
        JobId=18 ArrayJobId=18 ArrayTaskId=0-1 JobName=atx-slurm-fail-students-ca4c11d73e45d638 UserId=root(0) JobState=CANCELLED Reason=DependencyNeverSatisfied Dependency=afterok:17_0(failed) ExitCode=0:0
        JobId=19 JobName=atx-slurm-fail-merge UserId=root(0) JobState=PENDING Reason=Dependency Dependency=afterany:17_*(unfulfilled),afterany:18_*(unfulfilled) ExitCode=0:0
        JobId=23 ArrayJobId=20 ArrayTaskId=2 JobName=atx-smoke-independent JobState=RUNNING Reason=None ExitCode=0:0
        JobId=20 ArrayJobId=20 ArrayTaskId=3-5,7%2 JobName=atx-smoke-independent JobState=PENDING Reason=None ExitCode=0:0
        No jobs in the system
        """

    func testParsesScontrolShowJob() {
        let records = SlurmJobRecord.parse(Self.scontrol)
        XCTAssertEqual(records, [
            SlurmJobRecord(jobID: "17", arrayJobID: "17", arrayTasks: [0], state: "FAILED", reason: "NonZeroExitCode", exitCode: "1:0"),
            SlurmJobRecord(jobID: "18", arrayJobID: "18", arrayTasks: [0, 1], state: "CANCELLED", reason: "DependencyNeverSatisfied", exitCode: "0:0"),
            SlurmJobRecord(jobID: "19", arrayJobID: nil, arrayTasks: nil, state: "PENDING", reason: "Dependency", exitCode: "0:0"),
            SlurmJobRecord(jobID: "23", arrayJobID: "20", arrayTasks: [2], state: "RUNNING", reason: "None", exitCode: "0:0"),
            SlurmJobRecord(jobID: "20", arrayJobID: "20", arrayTasks: [3, 4, 5, 7], state: "PENDING", reason: "None", exitCode: "0:0"),
        ])
        XCTAssertEqual(SlurmJobRecord.taskList("0-3,7,9-13:2%4"), [0, 1, 2, 3, 7, 9, 11, 13])
        XCTAssertEqual(SlurmRunState(slurm: "TIMEOUT"), .failed)
        XCTAssertEqual(SlurmRunState(slurm: "COMPLETING"), .running)
    }

    func testStatusCombinesSlurmShardsLogsAndTheDatabase() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("atx-slurm-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let layout = SlurmLayout.resolve(grid: "tiny", database: "results.db", runsDirectory: "runs", slurmDirectory: "slurm",
                                         executable: "/atx", workingDirectory: directory.path)
        let store = try Store(path: layout.database)
        try GridRunner.register(grid, in: store)
        let plan = try SlurmPlan(grid: grid, records: [:], options: SlurmOptions(), layout: layout)
        try plan.write()
        XCTAssertNil(try SlurmSubmission.load(layout.submission))
        XCTAssertTrue(try SlurmStatus.report(grid: "tiny", store: store, layout: layout, jobs: []).hasPrefix("tiny: never submitted to Slurm"))

        try SlurmSubmission(submittedAt: Date(timeIntervalSince1970: 0), jobs: [
            .init(name: plan.jobs[0].name, id: "30", keys: plan.jobs[0].keys),
            .init(name: plan.jobs[1].name, id: "31", keys: plan.jobs[1].keys),
            .init(name: plan.jobs[2].name, id: "32", keys: []),
        ]).write(to: layout.submission)
        // The teacher failed (its shard says why), the baseline is running, the student's array was cancelled.
        let shard = try Store(path: "\(layout.shards)/30_0-\(teacher).db")
        _ = try plan.manifest.prepareShard(shard, key: teacher)
        _ = try shard.claim(key: teacher, host: "n1", pid: 1, threads: 1, gitCommit: nil, retryFailed: false) { _, _ in false }
        try shard.fail(key: teacher, message: "diverged at epoch 1, batch 2: loss nan")
        let progress = #"{"key":"\#(baseline)","epoch":1,"epochs":2,"batch":0,"batches":0,"loss":2.3,"imagesPerSecond":500,"testError":74}"#
        try (progress + "\n").write(toFile: "\(layout.logs)/\(plan.jobs[0].name)_30_1.out", atomically: true, encoding: .utf8)
        let jobs = SlurmJobRecord.parse("""
            JobId=30 ArrayJobId=30 ArrayTaskId=0 JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0
            JobId=33 ArrayJobId=30 ArrayTaskId=1 JobState=RUNNING Reason=None ExitCode=0:0
            JobId=31 ArrayJobId=31 ArrayTaskId=0 JobState=CANCELLED Reason=DependencyNeverSatisfied ExitCode=0:0
            JobId=32 JobState=PENDING Reason=Dependency ExitCode=0:0
            """)
        XCTAssertEqual(named(try SlurmStatus.report(grid: "tiny", store: store, layout: layout, jobs: jobs)), """
            tiny [smoke] on Slurm, submitted 1970-01-01T00:00:00Z: 3 runs — 0 queued, 1 running, 0 done, 1 failed, 1 cancelled, 0 unknown
              merge job 32: PENDING (Dependency)
              TEACHER  failed    wrn-10-2 ce seed 0  job 30_0 FAILED (NonZeroExitCode) exit 1:0: diverged at epoch 1, batch 2: loss nan
              BASELINE  running   wrn-10-1 ce seed 0  job 30_1 RUNNING  epoch 1/2, test error 74.00%
              STUDENT  cancelled wrn-10-1 at seed 0  job 31_0 CANCELLED (DependencyNeverSatisfied)
              merged into \(layout.database): tiny: 3 queued, 0 running, 0 done, 0 failed, 0 interrupted
            """)
        // Slurm has forgotten the jobs (MinJobAge): the shards still tell what ended.
        XCTAssertTrue(try SlurmStatus.report(grid: "tiny", store: store, layout: layout, jobs: [])
            .contains("3 runs — 0 queued, 0 running, 0 done, 1 failed, 0 cancelled, 2 unknown"))
    }
}

extension SlurmLayout {
    func with(executable: String) -> SlurmLayout {
        var copy = self
        copy.executable = executable
        return copy
    }
}
