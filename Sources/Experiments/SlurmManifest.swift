// What a Slurm array task needs to run one run without the main database: `atx submit` writes
// the runs it submits (and their teachers) to results/slurm/<grid>/manifest.json; each task
// registers its run into its own fresh SQLite shard from it (SQLite must not be shared over a
// network filesystem), and `atx merge` later folds the shards into the main database.
import Foundation
import Store

public struct SlurmManifest: Codable, Sendable, Equatable {
    public var grid: String
    public var profile: String
    /// The submitted runs and their teachers, as queued records, by key.
    public var runs: [String: RunRecord]
    /// Where each teacher's final weights are (or will be, once its task succeeds), by teacher key.
    public var teacherCheckpoints: [String: String]
    /// The main database's identity, which the tasks' checkpoints carry (so a resubmitted task,
    /// with a new shard, resumes them); nil in manifests of an earlier atx.
    public var database: String?

    public init(grid: String, profile: String, runs: [String: RunRecord], teacherCheckpoints: [String: String], database: String?) {
        self.grid = grid; self.profile = profile; self.runs = runs; self.teacherCheckpoints = teacherCheckpoints
        self.database = database
    }

    enum CodingKeys: String, CodingKey {
        case grid, profile, runs, teacherCheckpoints = "teacher_checkpoints", database
    }

    public static func load(_ path: String) throws -> SlurmManifest {
        do {
            return try JSONDecoder().decode(SlurmManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw SlurmError.manifest(path: path, reason: "\(error)")
        }
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// What a task learns from preparing its shard.
    public struct Task: Sendable, Equatable {
        /// The run is already done in this shard (the task ran to the end before): nothing to do.
        public var alreadyDone: Bool
        /// The teacher's weights, for a run that distils from one.
        public var teacherCheckpoint: String?
        /// The database the run's checkpoints belong to (the main one).
        public var owner: String?
    }

    /// Registers `key` (and, for the foreign key, a queued stub of its teacher: never a done one,
    /// so a merge can only take the teacher's real record from the teacher's own shard) into the
    /// task's `shard`. A record left `running` by an earlier attempt of this same task (killed,
    /// then requeued by Slurm under the same ids) is marked interrupted so it can be claimed:
    /// Slurm runs one instance of a task at a time, and no other task writes this shard.
    public func prepareShard(_ shard: Store, key: String) throws -> Task {
        guard let run = runs[key] else { throw SlurmError.manifest(path: grid, reason: "run \(key) is not in the manifest") }
        var teacherCheckpoint: String?
        if let t = run.teacherKey {
            guard let teacher = runs[t], let checkpoint = teacherCheckpoints[t] else {
                throw SlurmError.manifest(path: grid, reason: "run \(key)'s teacher \(t) is not in the manifest")
            }
            try shard.register(teacher)
            teacherCheckpoint = checkpoint
        }
        try shard.register(run)
        let status = try shard.run(key: key)?.status
        if status == .running { try shard.markInterrupted(key: key) }
        return Task(alreadyDone: status == .done, teacherCheckpoint: teacherCheckpoint, owner: database)
    }
}

public enum SlurmError: Error, CustomStringConvertible, Equatable {
    case manifest(path: String, reason: String)
    case command(String, status: Int32, output: String)
    case unsafeName(String)
    case unsafePath(String)
    case alreadyQueued(grid: String, jobs: [String])

    public var description: String {
        switch self {
        case .manifest(let p, let r): return "Slurm manifest \(p): \(r)"
        case .command(let c, let s, let o): return "`\(c)` failed (exit \(s)): \(o.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .unsafeName(let n): return "grid name '\(n)' cannot name Slurm jobs and files: use letters, digits, '-', '_' and '.'"
        case .unsafePath(let p): return "path '\(p)' would need quoting in the job scripts: use one without spaces, quotes, '$', '`' or '\\'"
        case .alreadyQueued(let g, let j):
            return "grid \(g) still has jobs in the queue (\(j.joined(separator: ", "))): wait for them, or scancel them, before submitting again"
        }
    }
}
