import Foundation
import GRDB

/// The results database: grids, runs, their per-epoch curves, and the table cells the runs serve.
///
/// Several processes may share one file (the runner and its workers): it is in WAL mode, every
/// write is one `BEGIN IMMEDIATE` transaction, and a write waits up to the busy timeout for
/// another process's lock before failing with `StoreError.locked`. Methods are synchronous and
/// may be called from any thread.
public final class Store: Sendable {
    /// The database file (":memory:" for `inMemory()`).
    public let path: String
    private let queue: DatabaseQueue

    /// Opens the atx database at `path`, creating the file and its directory when missing, and
    /// migrates it to the current schema. A file that is not an atx database, or that a newer
    /// atx wrote, is refused before anything is written to it (`notAnAtxDatabase`, `newerSchema`).
    /// Opening a database that is already current takes no write lock.
    /// - Parameter busyTimeout: seconds a write waits for another process's lock before `locked`.
    public convenience init(path: String, busyTimeout: TimeInterval = 10) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError.io(path: path, reason: "cannot create \(directory.path): \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        // Rather than GRDB's `journalMode = .wal`, which writes on every open: this only reads
        // once the file is in WAL mode. NORMAL sync in WAL mode survives a killed process.
        configuration.prepareDatabase { db in
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            guard mode == "wal" else {
                throw DatabaseError(resultCode: .SQLITE_CANTOPEN, message: "cannot use WAL mode (journal mode: \(mode ?? "?"))")
            }
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let queue = try mapErrors(path) { try Self.open(path, configuration, until: Date() + busyTimeout) }
        self.init(path: path, queue: queue)
    }

    /// A new, private database in memory.
    public static func inMemory() throws -> Store {
        let queue = try DatabaseQueue()
        try mapErrors(":memory:") { try Schema.migrator.migrate(queue) }
        return Store(path: ":memory:", queue: queue)
    }

    private init(path: String, queue: DatabaseQueue) {
        self.path = path
        self.queue = queue
    }

    /// Inspects the file, opens it, and migrates it unless current. A process creating or migrating
    /// a file races with any other doing the same: SQLite answers "locked" without waiting while the
    /// file switches to WAL mode, a schema read misses a table made a moment ago, a migration fails
    /// on the tables another process has just made. Such an attempt is retried while the busy
    /// timeout lasts; a refusal (a `StoreError`) is final.
    private static func open(_ path: String, _ configuration: Configuration, until deadline: Date) throws -> DatabaseQueue {
        while true {
            do {
                let contents = try inspect(path)
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                if contents != .current { try Schema.migrator.migrate(queue) }
                return queue
            } catch let error as DatabaseError
                where [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_ERROR].contains(error.resultCode) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    // MARK: - Writing

    /// Records a grid's spec as last run, replacing what was recorded under `name`.
    public func upsertGrid(name: String, specPath: String, specJSON: String, profile: String) throws {
        try write { db in
            try GridRecord(name: name, specPath: specPath, specJSON: specJSON, profile: profile).upsert(db)
        }
    }

    /// Inserts `run` unless a run with its key exists; an existing row is never overwritten.
    /// A run's teacher must be registered first. Returns whether the run was inserted.
    @discardableResult
    public func register(_ run: RunRecord) throws -> Bool {
        try write { db in
            if try run.exists(db) { return false }
            try run.insert(db)
            return true
        }
    }

    /// Replaces the cells of `grid` (recorded with `upsertGrid` first) in one transaction.
    /// Every cell must belong to `grid`, and its run must be registered.
    public func setCells(grid: String, _ cells: [CellRecord]) throws {
        precondition(cells.allSatisfy { $0.grid == grid }, "setCells(grid: \(grid)) was given another grid's cell")
        try write { db in
            try Self.cells(of: grid).deleteAll(db)
            for cell in cells { try cell.insert(db) }
        }
    }

    /// Atomically claims a run for this process: succeeds if its status is queued or interrupted,
    /// or failed when `retryFailed`, or running whose owner is dead (`isOwnerAlive(host, pid)` false) —
    /// sets status running, host, pid, threads, gitCommit, blasKernels, startedAt (keeps the first), heartbeatAt,
    /// and clears failure and finishedAt. One transaction (BEGIN IMMEDIATE), so two processes never
    /// claim the same run. Never claims a done run.
    public func claim(key: String, host: String, pid: Int, threads: Int, gitCommit: String?, blasKernels: String? = nil, retryFailed: Bool,
                      isOwnerAlive: (String, Int) -> Bool) throws -> Bool {
        try write { db in
            var run = try existingRun(db, key)
            switch run.status {
            case .queued, .interrupted: break
            case .failed: guard retryFailed else { return false }
            case .running:
                if let owner = run.host, let ownerPID = run.pid, isOwnerAlive(owner, ownerPID) { return false }
            case .done: return false
            }
            let now = Date()
            try run.updateChanges(db) {
                $0.status = .running
                $0.host = host; $0.pid = pid; $0.threads = threads; $0.gitCommit = gitCommit
                $0.blasKernels = blasKernels
                $0.startedAt = $0.startedAt ?? now; $0.heartbeatAt = now
                $0.finishedAt = nil; $0.failure = nil
            }
            return true
        }
    }

    /// Notes that the run's owner is alive now.
    public func heartbeat(key: String) throws {
        try updateRun(key) { $0.heartbeatAt = Date() }
    }

    /// Writes one epoch's metrics, replacing any earlier row for the same (run, epoch), so a resumed
    /// run never duplicates an epoch; the run's `epochsDone` becomes its largest recorded epoch.
    public func recordEpoch(_ row: EpochRow) throws {
        try write { db in
            var run = try existingRun(db, row.runKey)
            try row.upsert(db)
            try run.updateChanges(db) { $0.epochsDone = max($0.epochsDone, row.epoch) }
        }
    }

    /// Marks the run done with its results; `checkpointPath` is its final checkpoint, if kept.
    public func finish(key: String, finalTestError: Double, bestTestError: Double, wallSeconds: Double,
                       checkpointPath: String?, finalTestTop5Error: Double? = nil) throws {
        try updateRun(key) {
            $0.status = .done; $0.finishedAt = Date(); $0.failure = nil
            $0.finalTestError = finalTestError; $0.bestTestError = bestTestError; $0.finalTestTop5Error = finalTestTop5Error
            $0.wallSeconds = wallSeconds; $0.checkpointPath = checkpointPath
        }
    }

    /// Marks the run failed with `message`, unless it is already done (a done run stays done).
    public func fail(key: String, message: String) throws {
        try updateRun(key) {
            guard $0.status != .done else { return }
            $0.status = .failed; $0.failure = message; $0.finishedAt = Date()
        }
    }

    /// Marks the run interrupted if it is still running; any other status is left as it is.
    public func markInterrupted(key: String) throws {
        try updateRun(key) {
            if $0.status == .running { $0.status = .interrupted }
        }
    }

    /// Folds a shard database (another atx database, e.g. written by one Slurm array task) into
    /// this one in one transaction, idempotently: runs absent here are inserted; a run present in
    /// both keeps the more complete record (done beats others; else more epochs_done; ties keep
    /// ours), and the winning shard record brings its epochs (upserted); grids and cells are
    /// inserted if absent. The shard is only read (one written by an older atx is first migrated, as opening it would).
    public func merge(shardPath: String) throws -> MergeReport {
        guard FileManager.default.fileExists(atPath: shardPath) else {
            throw StoreError.io(path: shardPath, reason: "no such file")
        }
        let (grids, runs, cells, epochs) = try mapErrors(shardPath) {
            switch try Self.inspect(shardPath) {
            case .empty: throw StoreError.notAnAtxDatabase(path: shardPath)
            case .outdated: _ = try Store(path: shardPath)   // an older atx's shard: migrated first, so it reads as ours
            case .current: break
            }
            return try Self.openReadOnly(shardPath).read { db in
                (try GridRecord.fetchAll(db), try RunRecord.fetchAll(db), try CellRecord.fetchAll(db),
                 Dictionary(grouping: try EpochRow.fetchAll(db), by: \.runKey))
            }
        }
        return try write { db in
            // Checked at commit: the shard's runs come in no particular order, students before teachers.
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            var report = MergeReport()
            let epochsBefore = try EpochRow.fetchCount(db)
            for grid in grids where try !grid.exists(db) { try grid.insert(db) }
            for theirs in runs {
                if let ours = try RunRecord.fetchOne(db, key: theirs.key) {
                    guard theirs.supersedes(ours) else { continue }
                    try theirs.update(db)
                    report.runsUpdated += 1
                } else {
                    try theirs.insert(db)
                    report.runsAdded += 1
                }
                for epoch in epochs[theirs.key] ?? [] { try epoch.upsert(db) }
            }
            for cell in cells where try !cell.exists(db) { try cell.insert(db) }
            report.epochsAdded = try EpochRow.fetchCount(db) - epochsBefore
            return report
        }
    }

    // MARK: - Reading

    /// The run with `key`, if registered.
    public func run(key: String) throws -> RunRecord? {
        try read { try RunRecord.fetchOne($0, key: key) }
    }

    /// All runs, or (given `grid`) the runs serving that grid's cells; oldest first.
    public func runs(grid: String? = nil) throws -> [RunRecord] {
        try read { db in
            var request = RunRecord.order(Column("created_at"), Column("key"))
            if let grid {
                request = request.filter(sql: "key IN (SELECT run_key FROM cells WHERE grid = ?)", arguments: [grid])
            }
            return try request.fetchAll(db)
        }
    }

    /// The run's epochs, in order.
    public func epochs(key: String) throws -> [EpochRow] {
        try read { try EpochRow.filter(Column("run_key") == key).order(Column("epoch")).fetchAll($0) }
    }

    /// The recorded grids, by name.
    public func grids() throws -> [GridRecord] {
        try read { try GridRecord.order(Column("name")).fetchAll($0) }
    }

    /// The grid's cells by row, column and seed.
    public func cells(grid: String) throws -> [CellRecord] {
        try read { try Self.cells(of: grid).fetchAll($0) }
    }

    /// The grid's rows of the `cell_summary` view, by row and column, with each cell's runs by seed.
    public func cellSummaries(grid: String) throws -> [CellSummary] {
        try read { db in
            let runKeys = Dictionary(grouping: try Self.cells(of: grid).fetchAll(db)) { [$0.rowIndex, $0.columnIndex] }
                .mapValues { $0.map(\.runKey) }
            let sql = "SELECT * FROM cell_summary WHERE grid = ? ORDER BY row_index, column_index"
            return try Row.fetchAll(db, sql: sql, arguments: [grid]).map { row in
                CellSummary(grid: row["grid"], rowIndex: row["row_index"], columnIndex: row["column_index"],
                            rowLabel: row["row_label"], columnLabel: row["column_label"],
                            seeds: row["seeds"], done: row["done"], failed: row["failed"], running: row["running"],
                            median: row["median"], min: row["min"], max: row["max"], q1: row["q1"], q3: row["q3"],
                            top5Median: row["top5_median"], runKeys: runKeys[[row["row_index"], row["column_index"]]] ?? [])
            }
        }
    }

    /// The grid's rows of the `cell_effect` view, by row and column.
    public func cellEffects(grid: String) throws -> [CellEffect] {
        try read { db in
            let sql = "SELECT * FROM cell_effect WHERE grid = ? ORDER BY row_index, column_index"
            return try Row.fetchAll(db, sql: sql, arguments: [grid]).map { row in
                CellEffect(grid: row["grid"], rowIndex: row["row_index"], columnIndex: row["column_index"],
                           rowLabel: row["row_label"], columnLabel: row["column_label"], network: row["network"],
                           baselineColumn: row["baseline_column"], baselineLabel: row["baseline_label"],
                           seeds: row["seeds"], done: row["done"], failed: row["failed"],
                           baselineDone: row["baseline_done"], baselineFailed: row["baseline_failed"],
                           seedsPaired: row["seeds_paired"], meanDifference: row["mean_difference"],
                           sdDifference: row["sd_difference"], tQuantile: row["t_quantile"],
                           ciLow: row["ci_low"], ciHigh: row["ci_high"],
                           seedsBetter: row["seeds_better"], seedsWorse: row["seeds_worse"],
                           pSignFlip: row["p_sign_flip"], paperEffect: row["paper_effect"], seedsNeeded: row["seeds_needed"])
            }
        }
    }

    /// How many distinct runs serving `grid` are in each status (every status present, maybe 0).
    public func statusCounts(grid: String) throws -> [RunStatus: Int] {
        try read { db in
            var counts = Dictionary(uniqueKeysWithValues: RunStatus.allCases.map { ($0, 0) })
            let sql = "SELECT status, runs FROM grid_status WHERE grid = ?"
            for row in try Row.fetchAll(db, sql: sql, arguments: [grid]) {
                counts[row["status"] as RunStatus] = row["runs"]
            }
            return counts
        }
    }

    /// The database's own name (`database_identity`, made when it was created or migrated to v5):
    /// its runs' checkpoints carry it, so that no other database adopts them.
    public func identity() throws -> String {
        try read { db in
            guard let id = try String.fetchOne(db, sql: "SELECT id FROM database_identity") else {
                throw StoreError.sqlite(path: path, message: "the database has no identity row")
            }
            return id
        }
    }

    /// Sets the paper's error of each of `grid`'s cells (by row and column; nil where the paper has
    /// none), which `cell_effect` reads for the paper's effect and the seeds needed to see it.
    public func setPaperErrors(grid: String, _ errors: [[Double?]]) throws {
        try write { db in
            for (r, row) in errors.enumerated() {
                for (c, error) in row.enumerated() {
                    try db.execute(sql: "UPDATE cells SET paper_error = ? WHERE grid = ? AND row_index = ? AND column_index = ? AND paper_error IS NOT ?",
                                   arguments: [error, grid, r, c, error])
                }
            }
        }
    }

    /// Replaces run `key`'s configuration JSON with `json`, which must describe the same run (the
    /// same key): only where files lie may differ.
    public func updateConfigJSON(key: String, _ json: String) throws {
        try updateRun(key) { if $0.configJSON != json { $0.configJSON = json } }
    }

    /// Records `fingerprint` as the data run `key` read, unless it has one.
    public func recordDataFingerprint(key: String, _ fingerprint: String) throws {
        try updateRun(key) { if $0.dataFingerprint == nil { $0.dataFingerprint = fingerprint } }
    }

    /// What `PRAGMA integrity_check` and `PRAGMA foreign_key_check` report; empty when all is well.
    public func integrityProblems() throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
                + Row.fetchAll(db, sql: "PRAGMA foreign_key_check").map { "foreign key violation: \($0)" }
        }
    }

    // MARK: - Helpers

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        try mapErrors(path) { try queue.read(body) }
    }

    /// Runs `body` in one IMMEDIATE transaction: it takes the write lock before reading.
    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        try mapErrors(path) { try queue.write(body) }
    }

    private func updateRun(_ key: String, _ change: (inout RunRecord) -> Void) throws {
        try write { db in
            var run = try existingRun(db, key)
            try run.updateChanges(db, modify: change)
        }
    }

    private func existingRun(_ db: Database, _ key: String) throws -> RunRecord {
        guard let run = try RunRecord.fetchOne(db, key: key) else { throw StoreError.unknownRun(key: key) }
        return run
    }

    private static func cells(of grid: String) -> QueryInterfaceRequest<CellRecord> {
        CellRecord.filter(Column("grid") == grid).order(Column("row_index"), Column("column_index"), Column("seed"))
    }

    /// What a file holds, as far as opening it goes.
    private enum Contents {
        /// Missing, empty, or left by an atx that died before its first migration committed.
        case empty
        /// An atx database lacking some of this code's migrations.
        case outdated
        /// An atx database with exactly this code's migrations.
        case current
    }

    /// Classifies the file at `path` without writing to it (a WAL-mode database may get its empty
    /// -wal and -shm files, as for any reader). Throws `notAnAtxDatabase` or `newerSchema` when
    /// the file is neither empty nor an atx database this code can open.
    private static func inspect(_ path: String) throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else { return .empty }
        let header: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            header = try handle.read(upToCount: 16) ?? Data()
        } catch {
            throw StoreError.io(path: path, reason: error.localizedDescription)
        }
        if header.isEmpty { return .empty }
        guard header == Data("SQLite format 3\0".utf8) else { throw StoreError.notAnAtxDatabase(path: path) }
        return try openReadOnly(path).read { db in
            let applied = try Schema.migrator.appliedIdentifiers(db)
            switch try Int32.fetchOne(db, sql: "PRAGMA application_id") {
            case Schema.applicationID:
                let unknown = applied.subtracting(Schema.knownMigrations)
                guard unknown.isEmpty else {
                    throw StoreError.newerSchema(path: path, found: unknown.sorted(), known: Schema.knownMigrations)
                }
                return applied == Set(Schema.knownMigrations) ? .current : .outdated
            case 0:
                let tables = try String.fetchAll(db, sql: "SELECT DISTINCT tbl_name FROM sqlite_master")
                guard applied.isEmpty, tables.allSatisfy({ $0 == "grdb_migrations" }) else {
                    throw StoreError.notAnAtxDatabase(path: path)
                }
                return .empty
            default:
                throw StoreError.notAnAtxDatabase(path: path)
            }
        }
    }

    private static func openReadOnly(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}

/// Runs `body`, turning SQLite errors into `StoreError`s that name `path`.
private func mapErrors<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) {
        throw StoreError.locked(path: path)
    } catch let error as DatabaseError {
        throw StoreError.sqlite(path: path, message: error.description)
    }
}
