// `atx status SPEC --slurm`: where each run of the last submission is on the cluster, from
// `scontrol show job` (which knows finished jobs for MinJobAge, 5 minutes by default) and the
// tasks' shards (which know forever), plus what the main database has merged.
import Foundation
import Store

/// One record of `scontrol --oneliner show job`: a job, an array task, or the not yet started
/// rest of an array (`ArrayTaskId=2-5`).
public struct SlurmJobRecord: Sendable, Equatable {
    public var jobID: String
    /// The array's job id and the tasks this record stands for; nil for a job that is not an array.
    public var arrayJobID: String?
    public var arrayTasks: [Int]?
    public var state: String
    public var reason: String
    public var exitCode: String

    /// Parses `scontrol -o show job` (one job per line, `Key=Value` fields).
    public static func parse(_ text: String) -> [SlurmJobRecord] {
        text.split(separator: "\n").compactMap { line in
            var fields: [String: String] = [:]
            for token in line.split(separator: " ") {
                let pair = token.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if pair.count == 2, fields[String(pair[0])] == nil { fields[String(pair[0])] = String(pair[1]) }
            }
            guard let id = fields["JobId"], let state = fields["JobState"] else { return nil }
            return SlurmJobRecord(jobID: id, arrayJobID: fields["ArrayJobId"], arrayTasks: fields["ArrayTaskId"].map(taskList),
                                  state: state, reason: fields["Reason"] ?? "None", exitCode: fields["ExitCode"] ?? "")
        }
    }

    /// "0-3,7,9-13:2%4" → [0, 1, 2, 3, 7, 9, 11, 13] (the throttle after % is dropped).
    static func taskList(_ text: String) -> [Int] {
        text.split(separator: "%").first.map { spec in
            spec.split(separator: ",").flatMap { item -> [Int] in
                let stepParts = item.split(separator: ":")
                let bounds = stepParts[0].split(separator: "-").compactMap { Int($0) }
                let step = stepParts.count > 1 ? Int(stepParts[1]) ?? 1 : 1
                guard let lo = bounds.first else { return [] }
                return Array(stride(from: lo, through: bounds.last!, by: max(step, 1)))
            }
        } ?? []
    }
}

/// Where a submitted run is.
public enum SlurmRunState: String, Sendable, CaseIterable {
    case queued, running, done, failed, cancelled, unknown

    /// Slurm's JobState as one of ours.
    init(slurm state: String) {
        switch state {
        case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED": self = .queued
        case "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING", "STAGE_OUT", "SIGNALING": self = .running
        case "COMPLETED": self = .done
        case "CANCELLED": self = .cancelled
        default: self = .failed   // FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, BOOT_FAIL, DEADLINE
        }
    }
}

public enum SlurmStatus {
    /// The report for `grid`: per-state counts of the last submission's runs, the merge job,
    /// what the main database holds, and a line per run that is not done.
    /// - Parameter jobs: `scontrol -o show job` parsed.
    public static func report(grid name: String, store: Store, layout: SlurmLayout, jobs: [SlurmJobRecord]) throws -> String {
        guard let submission = try SlurmSubmission.load(layout.submission) else {
            return "\(name): never submitted to Slurm (no \(layout.submission))\n" + (try Planner.status(grid: name, store: store))
        }
        let manifest = try SlurmManifest.load(layout.manifest)
        var counts = Dictionary(uniqueKeysWithValues: SlurmRunState.allCases.map { ($0, 0) })
        var lines: [String] = []
        var mergeLine = ""
        for job in submission.jobs {
            if job.keys.isEmpty {
                let r = jobs.first { $0.jobID == job.id && $0.arrayJobID == nil }
                mergeLine = "  merge job \(job.id): " + (r.map { describe($0) } ?? "no longer known to Slurm")
                continue
            }
            for (task, key) in job.keys.enumerated() {
                let slurm = jobs.first { $0.arrayJobID == job.id && $0.arrayTasks?.contains(task) == true }
                var state = slurm.map { SlurmRunState(slurm: $0.state) } ?? .unknown
                // A shard is opened only once its task has ended: a live one may be written on another host.
                var shard: RunRecord?
                if state != .queued && state != .running {
                    let path = "\(layout.shards)/\(job.id)_\(task)-\(key).db"
                    shard = FileManager.default.fileExists(atPath: path) ? try Store(path: path).run(key: key) : nil
                    if slurm == nil { state = shard?.status == .done ? .done : shard?.status == .failed ? .failed : .unknown }
                }
                counts[state]! += 1
                guard state != .done else { continue }
                let run = manifest.runs[key].map { "\($0.student) \($0.method) seed \($0.seed)" } ?? "?"
                var line = "  \(key)  \(state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(run)  job \(job.id)_\(task)"
                line += slurm.map { " " + describe($0) } ?? " (no longer known to Slurm)"
                if state == .running, let p = lastProgress("\(layout.logs)/\(job.name)_\(job.id)_\(task).out") {
                    line += "  epoch \(p.epoch)/\(p.epochs), test error \(p.testError.map { String(format: "%.2f%%", $0) } ?? "?")"
                }
                if let shard, shard.epochsDone > 0 { line += "  epoch \(shard.epochsDone)/\(shard.epochsTotal)" }
                if let failure = shard?.failure { line += ": \(failure)" }
                lines.append(line)
            }
        }
        let submitted = submission.jobs.reduce(0) { $0 + $1.keys.count }
        let stamp = ISO8601DateFormatter().string(from: submission.submittedAt)
        let header = "\(name) [\(manifest.profile)] on Slurm, submitted \(stamp): \(submitted) runs — "
            + SlurmRunState.allCases.map { "\(counts[$0]!) \($0.rawValue)" }.joined(separator: ", ")
        return ([header, mergeLine] + lines + ["  merged into \(store.path): " + (try Planner.status(grid: name, store: store))])
            .filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// The last epoch line a task's worker wrote to its Slurm log (a plain file: safe to read anywhere).
    static func lastProgress(_ log: String) -> WorkerProgress? {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").reversed().lazy.compactMap { try? JSONDecoder().decode(WorkerProgress.self, from: Data($0.utf8)) }.first
    }

    static func describe(_ r: SlurmJobRecord) -> String {
        r.state + (r.reason != "None" ? " (\(r.reason))" : "") + (r.state == "FAILED" ? " exit \(r.exitCode)" : "")
    }
}
