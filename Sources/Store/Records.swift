import Foundation
import GRDB

/// The life of a run. `interrupted` is a run stopped cleanly (SIGINT/SIGTERM) or found dead;
/// it resumes from its last checkpoint when claimed again.
public enum RunStatus: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case queued, running, done, failed, interrupted
}

/// One row of `runs`: a training run identified by the content hash of its resolved config.
public struct RunRecord: Codable, Sendable, Equatable {
    /// Content hash of the resolved config (primary key).
    public var key: String
    /// The fully resolved config, canonical JSON.
    public var configJSON: String
    public var student: String
    public var teacher: String?
    /// The teacher's run, registered before this one (foreign key).
    public var teacherKey: String?
    public var method: String
    public var seed: Int
    public var dataset: String
    public var profile: String
    public var status: RunStatus
    /// The claiming process: host name, process id, BLAS threads, source revision.
    public var host: String?
    public var pid: Int?
    public var gitCommit: String?
    public var threads: Int?
    /// The OpenBLAS kernel set the claiming process used, and why (e.g. "SkylakeX (chosen by atx …)").
    public var blasKernels: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var heartbeatAt: Date?
    /// Why the run failed, when `status` is `failed`.
    public var failure: String?
    /// The last epoch recorded (epochs are numbered from 1).
    public var epochsDone: Int
    public var epochsTotal: Int
    public var finalTestError: Double?
    /// The final epoch's top-5 test error (%), where the dataset has more than five classes.
    public var finalTestTop5Error: Double?
    public var bestTestError: Double?
    public var wallSeconds: Double?
    public var runDirectory: String?
    public var checkpointPath: String?
    /// The fingerprint of the data the run read (`DataFingerprint`); nil for a run recorded before
    /// v5 until it is first used with the data at hand.
    public var dataFingerprint: String?

    public init(key: String, configJSON: String, student: String, teacher: String? = nil,
                teacherKey: String? = nil, method: String, seed: Int, dataset: String, profile: String,
                status: RunStatus = .queued, host: String? = nil, pid: Int? = nil,
                gitCommit: String? = nil, threads: Int? = nil, blasKernels: String? = nil, createdAt: Date = Date(),
                startedAt: Date? = nil, finishedAt: Date? = nil, heartbeatAt: Date? = nil,
                failure: String? = nil, epochsDone: Int = 0, epochsTotal: Int,
                finalTestError: Double? = nil, bestTestError: Double? = nil, wallSeconds: Double? = nil,
                runDirectory: String? = nil, checkpointPath: String? = nil, dataFingerprint: String? = nil,
                finalTestTop5Error: Double? = nil) {
        self.key = key; self.configJSON = configJSON; self.student = student
        self.teacher = teacher; self.teacherKey = teacherKey; self.method = method
        self.seed = seed; self.dataset = dataset; self.profile = profile; self.status = status
        self.host = host; self.pid = pid; self.gitCommit = gitCommit; self.threads = threads
        self.blasKernels = blasKernels
        self.createdAt = createdAt; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.heartbeatAt = heartbeatAt; self.failure = failure
        self.epochsDone = epochsDone; self.epochsTotal = epochsTotal
        self.finalTestError = finalTestError; self.bestTestError = bestTestError
        self.wallSeconds = wallSeconds; self.runDirectory = runDirectory; self.checkpointPath = checkpointPath
        self.dataFingerprint = dataFingerprint; self.finalTestTop5Error = finalTestTop5Error
    }

    enum CodingKeys: String, CodingKey {
        case key, configJSON = "config_json", student, teacher, teacherKey = "teacher_key", method
        case seed, dataset, profile, status, host, pid, gitCommit = "git_commit", threads, blasKernels = "blas_kernels"
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case heartbeatAt = "heartbeat_at", failure, epochsDone = "epochs_done", epochsTotal = "epochs_total"
        case finalTestError = "final_test_error", bestTestError = "best_test_error"
        case wallSeconds = "wall_seconds", runDirectory = "run_directory", checkpointPath = "checkpoint_path"
        case dataFingerprint = "data_fingerprint", finalTestTop5Error = "final_test_top5_error"
    }

    /// Merge precedence: a done run beats any other; otherwise more epochs wins; at equal epochs a
    /// started attempt (failed, interrupted, running) beats a queued record; other ties keep `other`.
    func supersedes(_ other: RunRecord) -> Bool {
        if (status == .done) != (other.status == .done) { return status == .done }
        if status == .done { return false }
        if epochsDone != other.epochsDone { return epochsDone > other.epochsDone }
        // Same progress: an attempt's outcome (failed, interrupted) beats a record never started.
        return other.status == .queued && status != .queued
    }
}

extension RunRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "runs"
}

/// One row of `epochs`: a run's metrics after one epoch (numbered from 1), keyed by (runKey, epoch).
///
/// SQLite stores NaN as NULL: a diverged epoch's NaN losses read back as NaN.
public struct EpochRow: Codable, Sendable, Equatable {
    public var runKey: String
    public var epoch: Int
    public var trainLoss, trainError, testLoss, testError, learningRate, seconds, imagesPerSecond: Double
    /// Loss components by name (e.g. "ce", "at"), stored as the JSON text column `parts_json`.
    public var parts: [String: Double]
    /// The method's β in the epoch (after its schedule), nil without one.
    public var beta: Double?
    /// Top-5 test error (%), nil where the dataset has five classes or fewer.
    public var testTop5Error: Double?

    public init(runKey: String, epoch: Int, trainLoss: Double, trainError: Double, testLoss: Double,
                testError: Double, learningRate: Double, seconds: Double, imagesPerSecond: Double,
                parts: [String: Double] = [:], beta: Double? = nil, testTop5Error: Double? = nil) {
        self.runKey = runKey; self.epoch = epoch; self.trainLoss = trainLoss; self.trainError = trainError
        self.testLoss = testLoss; self.testError = testError; self.learningRate = learningRate
        self.seconds = seconds; self.imagesPerSecond = imagesPerSecond; self.parts = parts
        self.beta = beta; self.testTop5Error = testTop5Error
    }
}

extension EpochRow: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "epochs"

    /// JSON has no NaN or infinities: a part that is not finite is written as `null` (as in
    /// curves.json) and read back as NaN. Rows written before v4 spelled them as strings
    /// ("nan", "inf", "-inf"); those read back as the values they name.
    private static let legacyNonFinite = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    public init(row: Row) throws {
        runKey = row["run_key"]
        epoch = row["epoch"]
        func real(_ column: String) -> Double { row[column] ?? .nan }
        trainLoss = real("train_loss"); trainError = real("train_error")
        testLoss = real("test_loss"); testError = real("test_error")
        learningRate = real("learning_rate"); seconds = real("seconds")
        imagesPerSecond = real("images_per_second")
        beta = row["beta"]
        testTop5Error = row["test_top5_error"]
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: Self.legacyNonFinite.positiveInfinity, negativeInfinity: Self.legacyNonFinite.negativeInfinity,
            nan: Self.legacyNonFinite.nan)
        parts = try decoder.decode([String: Double?].self, from: Data((row["parts_json"] as String).utf8)).mapValues { $0 ?? .nan }
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["run_key"] = runKey
        container["epoch"] = epoch
        container["train_loss"] = trainLoss; container["train_error"] = trainError
        container["test_loss"] = testLoss; container["test_error"] = testError
        container["learning_rate"] = learningRate; container["seconds"] = seconds
        container["images_per_second"] = imagesPerSecond
        container["beta"] = beta
        container["test_top5_error"] = testTop5Error
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        container["parts_json"] = String(decoding: try encoder.encode(parts.mapValues { $0.isFinite ? $0 : nil }), as: UTF8.self)
    }
}

/// One row of `grids`: an experiment spec as last run.
public struct GridRecord: Codable, Sendable, Equatable {
    public var name: String
    public var specPath: String
    /// The decoded spec, as JSON.
    public var specJSON: String
    public var profile: String
    public var updatedAt: Date

    public init(name: String, specPath: String, specJSON: String, profile: String, updatedAt: Date = Date()) {
        self.name = name; self.specPath = specPath; self.specJSON = specJSON
        self.profile = profile; self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case name, specPath = "spec_path", specJSON = "spec_json", profile, updatedAt = "updated_at"
    }
}

extension GridRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "grids"
}

/// What a table cell is to its row: the row's baseline (its student trained with plain
/// cross-entropy, which every other cell is paired with), a method, or the teacher column.
public enum CellRole: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case baseline, method, teacher
}

/// One row of `cells`: the run that serves one seed of one table cell.
public struct CellRecord: Codable, Sendable, Equatable {
    public var grid: String
    public var rowIndex: Int
    public var columnIndex: Int
    public var rowLabel: String
    public var columnLabel: String
    public var seed: Int
    public var runKey: String
    public var role: CellRole
    /// The paper's test error (%) for this cell, where the paper reports one.
    public var paperError: Double?

    public init(grid: String, rowIndex: Int, columnIndex: Int, rowLabel: String, columnLabel: String,
                seed: Int, runKey: String, role: CellRole, paperError: Double? = nil) {
        self.grid = grid; self.rowIndex = rowIndex; self.columnIndex = columnIndex
        self.rowLabel = rowLabel; self.columnLabel = columnLabel; self.seed = seed; self.runKey = runKey
        self.role = role; self.paperError = paperError
    }

    enum CodingKeys: String, CodingKey {
        case grid, rowIndex = "row_index", columnIndex = "column_index", rowLabel = "row_label"
        case columnLabel = "column_label", seed, runKey = "run_key", role, paperError = "paper_error"
    }
}

extension CellRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "cells"
}

/// One row of the `cell_summary` view: a table cell's seeds and the spread of their final test
/// errors. The statistics are over done runs only, nil when none is done; quartiles interpolate
/// linearly between order statistics (numpy's default), so `median` is the middle value or the
/// mean of the middle two.
public struct CellSummary: Sendable, Equatable {
    public var grid: String
    public var rowIndex: Int
    public var columnIndex: Int
    public var rowLabel: String
    public var columnLabel: String
    public var seeds: Int
    public var done: Int
    public var failed: Int
    public var running: Int
    public var median: Double?
    public var min: Double?
    public var max: Double?
    public var q1: Double?
    public var q3: Double?
    /// The median of the done runs' final top-5 errors, nil where none has one.
    public var top5Median: Double?
    /// The cell's runs, by seed.
    public var runKeys: [String]

    public init(grid: String, rowIndex: Int, columnIndex: Int, rowLabel: String, columnLabel: String,
                seeds: Int, done: Int, failed: Int, running: Int, median: Double?, min: Double?,
                max: Double?, q1: Double?, q3: Double?, top5Median: Double? = nil, runKeys: [String]) {
        self.grid = grid; self.rowIndex = rowIndex; self.columnIndex = columnIndex
        self.rowLabel = rowLabel; self.columnLabel = columnLabel
        self.seeds = seeds; self.done = done; self.failed = failed; self.running = running
        self.median = median; self.min = min; self.max = max; self.q1 = q1; self.q3 = q3
        self.top5Median = top5Median
        self.runKeys = runKeys
    }
}

/// One row of the `cell_effect` view: is the cell's method better than its row's baseline (the
/// row's student trained with plain cross-entropy), paired by seed? Differences are in
/// percentage points of test error, cell minus baseline, over the seeds done in both; negative
/// is better. The interval is the 95% t interval over the paired differences (n − 1 degrees of
/// freedom), nil with fewer than two paired seeds; `meanDifference` is nil with none.
public struct CellEffect: Sendable, Equatable {
    public var grid: String
    public var rowIndex: Int
    public var columnIndex: Int
    public var rowLabel: String
    public var columnLabel: String
    /// "teacher" when the cell trains another network than the row's student (the teacher column).
    public var network: String
    public var baselineColumn: Int
    public var baselineLabel: String
    /// The cell's seeds, how many are done and how many failed; the same for the baseline cell.
    public var seeds: Int
    public var done: Int
    public var failed: Int
    public var baselineDone: Int
    public var baselineFailed: Int
    /// The seeds done in both the cell and the baseline.
    public var seedsPaired: Int
    public var meanDifference: Double?
    public var sdDifference: Double?
    /// t_{0.975, seedsPaired − 1}.
    public var tQuantile: Double?
    public var ciLow: Double?
    public var ciHigh: Double?
    /// Paired seeds whose difference is negative (the cell's error lower) and positive.
    public var seedsBetter: Int
    public var seedsWorse: Int
    /// The exact sign-flip test's p over the paired differences (all 2^n sign patterns); nil with
    /// no paired seed or more than `Schema.maxSignFlipSeeds`. It cannot go below 2/2^n.
    public var pSignFlip: Double?
    /// The paper's error for the cell minus its error for the baseline, where it reports both.
    public var paperEffect: Double?
    /// The paired seeds a two-sided paired t test (α 0.05, power 0.8) needs to detect
    /// `paperEffect` at `sdDifference`; nil with fewer than 2 paired seeds or no paper effect.
    public var seedsNeeded: Int?

    public init(grid: String, rowIndex: Int, columnIndex: Int, rowLabel: String, columnLabel: String,
                network: String = "student", baselineColumn: Int, baselineLabel: String, seeds: Int, done: Int,
                failed: Int, baselineDone: Int, baselineFailed: Int, seedsPaired: Int, meanDifference: Double?,
                sdDifference: Double?, tQuantile: Double?, ciLow: Double?, ciHigh: Double?, seedsBetter: Int,
                seedsWorse: Int, pSignFlip: Double? = nil, paperEffect: Double? = nil, seedsNeeded: Int? = nil) {
        self.grid = grid; self.rowIndex = rowIndex; self.columnIndex = columnIndex
        self.rowLabel = rowLabel; self.columnLabel = columnLabel; self.network = network
        self.baselineColumn = baselineColumn; self.baselineLabel = baselineLabel
        self.seeds = seeds; self.done = done; self.failed = failed
        self.baselineDone = baselineDone; self.baselineFailed = baselineFailed
        self.seedsPaired = seedsPaired; self.meanDifference = meanDifference; self.sdDifference = sdDifference
        self.tQuantile = tQuantile; self.ciLow = ciLow; self.ciHigh = ciHigh
        self.seedsBetter = seedsBetter; self.seedsWorse = seedsWorse
        self.pSignFlip = pSignFlip; self.paperEffect = paperEffect; self.seedsNeeded = seedsNeeded
    }

    /// Whether the interval lies entirely below or above 0 (false without an interval).
    public var excludesZero: Bool {
        guard let ciLow, let ciHigh else { return false }
        return ciHigh < 0 || ciLow > 0
    }
}

/// What `Store.merge(shardPath:)` changed.
public struct MergeReport: Sendable, Equatable {
    public var runsAdded, runsUpdated, epochsAdded: Int

    public init(runsAdded: Int = 0, runsUpdated: Int = 0, epochsAdded: Int = 0) {
        self.runsAdded = runsAdded; self.runsUpdated = runsUpdated; self.epochsAdded = epochsAdded
    }
}
