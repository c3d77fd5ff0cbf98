// Talking to Slurm (sbatch, squeue, scontrol as processes; SLURM_CONF and the rest come from the
// environment) and folding shards. No accounting database is assumed: no sacct.
import Foundation
import Store

/// The job ids of one `atx submit`, kept in results/slurm/<grid>/jobs.json for `atx status --slurm`.
public struct SlurmSubmission: Codable, Sendable, Equatable {
    public struct Job: Codable, Sendable, Equatable {
        public var name: String
        public var id: String
        /// Array task i runs keys[i]; empty for the merge job.
        public var keys: [String]
    }
    public var submittedAt: Date
    public var jobs: [Job]

    enum CodingKeys: String, CodingKey { case submittedAt = "submitted_at", jobs }

    public static func load(_ path: String) throws -> SlurmSubmission? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SlurmSubmission.self, from: data)
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

public enum Slurm {
    /// Runs a Slurm command (found on PATH) and returns its standard output.
    public static func command(_ tool: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let line = ([tool] + arguments).joined(separator: " ")
        do { try p.run() } catch { throw SlurmError.command(line, status: -1, output: "\(error)") }
        let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw SlurmError.command(line, status: p.terminationStatus, output: String(decoding: errors + output, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// This user's jobs of `grid` still in the queue (squeue's `%i`: `12_[0-3]`, `12_4`, `13`).
    public static func queuedJobs(grid: String) throws -> [String] {
        try command("squeue", ["--me", "--noheader", "--format=%i|%j"]).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "|", maxSplits: 1).map(String.init)
            return parts.count == 2 && SlurmPlan.isJobName(parts[1], of: grid) ? parts[0] : nil
        }
    }

    /// Submits the plan's jobs in order, each with its dependencies on the ids sbatch gave the ones
    /// before, and records the ids (results/slurm/<grid>/jobs.json).
    public static func submit(_ plan: SlurmPlan) throws -> SlurmSubmission {
        var ids: [String] = []
        for i in plan.jobs.indices {
            let out = try command("sbatch", plan.sbatchArguments(i, ids: ids))
            // --parsable prints "id" or "id;cluster".
            ids.append(String(out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first ?? ""))
        }
        let submission = SlurmSubmission(submittedAt: Date(), jobs: zip(plan.jobs, ids).map { .init(name: $0.name, id: $1, keys: $0.keys) })
        try submission.write(to: plan.layout.submission)
        return submission
    }

    /// Folds shard files (and every `*.db` in given directories, by name) into `store`.
    /// Returns the number of shards and what they changed in total.
    public static func merge(_ paths: [String], into store: Store) throws -> (shards: Int, report: MergeReport) {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".db") }.sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        var total = MergeReport()
        for file in files {
            let r = try store.merge(shardPath: file)
            total.runsAdded += r.runsAdded; total.runsUpdated += r.runsUpdated; total.epochsAdded += r.epochsAdded
        }
        return (files.count, total)
    }

    /// Folds in what earlier submissions' shards hold (so runs that finished but were never merged
    /// are not run again), records the grid in the main database (as it resolves there), and plans
    /// what is left.
    /// Refuses while jobs of the grid are queued or running: their shards are still being written,
    /// and submitting would run the same runs twice. A dry run goes on where there is no Slurm to ask.
    public static func plan(grid: Grid, store: Store, options: SlurmOptions, layout: SlurmLayout,
                            dryRun: Bool = false) throws -> (SlurmPlan, merged: Int) {
        let live = dryRun ? (try? queuedJobs(grid: grid.spec.name)) ?? [] : try queuedJobs(grid: grid.spec.name)
        guard live.isEmpty else { throw SlurmError.alreadyQueued(grid: grid.spec.name, jobs: live) }
        let merged = FileManager.default.fileExists(atPath: layout.shards) ? try merge([layout.shards], into: store).shards : 0
        let grid = try grid.resolved(in: store, recording: true)
        try GridRunner.register(grid, in: store)
        let records = Dictionary(uniqueKeysWithValues: try grid.runs.compactMap { try store.run(key: $0.key) }.map { ($0.key, $0) })
        return (try SlurmPlan(grid: grid, records: records, options: options, layout: layout, database: try store.identity()), merged)
    }
}
