// A spec under a profile expands into table cells × seeds, each served by a run identified by
// the hash of its fully resolved configuration and of the data it reads (never by labels or
// paths), so the same run shared by several cells, rows or tables is trained once, and a result
// is reused only while everything it depends on is the same.
import Data
import Foundation
import NN
import Tensor
import Store
import Training

/// One run of a grid: its resolved configuration, key, and the key of its teacher run.
public struct PlannedRun: Sendable, Equatable {
    public var key: String
    public var config: RunConfig
    public var teacherKey: String?
    /// The canonical JSON the key hashes (but for the weights' paths): the configuration, the
    /// fingerprint of the data and the teacher run's key.
    public var identityJSON: String
    /// The fingerprint of the data the run reads (`DataFingerprint`), "missing" without the data.
    public var dataFingerprint: String
}

extension PlannedRun {
    /// The queued record the main database and a Slurm shard start the run from.
    public func queuedRecord(profile: String) -> RunRecord {
        RunRecord(key: key, configJSON: identityJSON, student: config.student, teacher: config.teacher,
                  teacherKey: teacherKey, method: config.method.name, seed: Int(config.seed),
                  dataset: config.dataset.rawValue, profile: profile, status: .queued, epochsTotal: config.epochs,
                  dataFingerprint: dataFingerprint)
    }
}

public struct PlannedCell: Sendable, Equatable {
    public var row: Int, column: Int, seed: Int
    public var rowLabel: String, columnLabel: String
    public var runKey: String
    /// What the cell is to its row (`Spec.role(ofColumn:)`).
    public var role: CellRole
    /// The paper's error for the cell, where the paper reports one.
    public var paperError: Double?
}

public struct Grid: Sendable {
    public let spec: Spec
    public let profile: String
    /// Unique runs, every teacher before the students that need it.
    public internal(set) var runs: [PlannedRun]
    public internal(set) var cells: [PlannedCell]
    /// The training settings after the profile.
    public let settings: TrainingSettings
    public let seeds: [Int]
    /// Each row's dataset, resolved (the spec's unless the row names its own, as Table 4's do).
    public let rowDatasets: [DatasetID]
    /// The distinct datasets of the rows, in row order.
    public var datasets: [DatasetID] {
        var distinct: [DatasetID] = []
        for d in rowDatasets where !distinct.contains(d) { distinct.append(d) }
        return distinct
    }
    /// Inputs this machine lacks (a weights file), each with what to do about it; `atx run`
    /// refuses to start while any is missing (`Grid.checkInputs`).
    public let missingWeights: [String]
    /// The fingerprint of each dataset's data at hand, "missing" where it cannot be read.
    public let dataFingerprints: [DatasetID: String]

    public func run(_ key: String) -> PlannedRun? { runs.first { $0.key == key } }

    /// Expands `spec` under `profile`. "auto" resolves to the dataset present on this machine.
    /// Weights named in the spec are read from `weightsDirectory` (the file's name alone) when it
    /// is given, by default `$ATX_WEIGHTS_DIR`.
    public init(spec: Spec, profile: String, locations: DataLocations = .fromEnvironment(),
                weightsDirectory: String? = ProcessInfo.processInfo.environment["ATX_WEIGHTS_DIR"].flatMap { $0.isEmpty ? nil : $0 }) throws {
        guard let p = spec.profiles[profile] else {
            throw SpecError(file: spec.file, line: nil, path: "profiles",
                            message: "no profile '\(profile)'; the spec has: \(spec.profiles.keys.sorted().joined(separator: ", "))")
        }
        self.spec = spec
        self.profile = profile
        var s = spec.training
        if let e = p.epochs { s.epochs = e }
        if let b = p.batchSize { s.batchSize = b }
        if let t = p.trainSubset { s.trainSubset = t }
        if let t = p.testSubset { s.testSubset = t }
        if let i = p.image { s.image = i }
        settings = s
        let seeds = p.seeds ?? spec.seeds
        let rowDatasets = spec.rows.map { ($0.dataset ?? spec.dataset).resolved(locations) }
        self.seeds = seeds
        self.rowDatasets = rowDatasets
        let milestones = RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones)

        // Each weights file once: its content hash names it in the run identities.
        var weights: [String: PretrainedWeights] = [:], missing: [String] = []
        for (model, path) in (s.pretrained ?? [:]).sorted(by: { $0.key < $1.key }) {
            let file = weightsDirectory.map { ($0 as NSString).appendingPathComponent((path as NSString).lastPathComponent) } ?? path
            let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
            if FileManager.default.fileExists(atPath: absolute) {
                weights[model] = PretrainedWeights(sha256: try ContentHash.sha256(of: URL(fileURLWithPath: absolute)), file: absolute)
            } else {
                weights[model] = PretrainedWeights(sha256: "missing", file: absolute)
                missing.append("\(model): no weights at \(file): " + Grid.weightsHelp(model: model, file: file))
            }
        }
        missingWeights = missing
        var fingerprints: [DatasetID: String] = [:]
        for d in rowDatasets where fingerprints[d] == nil {
            fingerprints[d] = (try? DataFingerprint.of(d, locations: locations)) ?? "missing"
        }
        dataFingerprints = fingerprints
        let paper = spec.paperTable

        var planned: [PlannedRun] = [], served: [PlannedCell] = []
        /// A run of `model`; `evaluateOnly` (a pretrained teacher): 0 epochs, seed 0, the whole training split.
        func plan(_ model: String, _ method: Method, teacher: PlannedRun?, seed: Int, dataset: DatasetID,
                  evaluateOnly: Bool = false) throws -> PlannedRun {
            var config = RunConfig(student: model, teacher: teacher?.config.student, method: method, dataset: dataset,
                                   trainSubset: evaluateOnly ? nil : s.trainSubset, testSubset: s.testSubset,
                                   epochs: evaluateOnly ? 0 : s.epochs, batchSize: s.batchSize,
                                   learningRate: s.learningRate, momentum: s.momentum, weightDecay: s.weightDecay,
                                   milestones: evaluateOnly ? [] : milestones, lrDecay: s.lrDecay, flip: s.flip, crop: s.crop,
                                   seed: evaluateOnly ? 0 : UInt64(seed), pretrained: weights[model], freezing: evaluateOnly ? nil : s.freeze,
                                   geometry: dataset.descriptor.isJPEG ? (s.image ?? .imageNet) : nil)
            config.setCodeForms(initialization: s.initialization, paddingMode: s.paddingMode)
            let data = fingerprints[dataset] ?? "missing"
            let (key, identity) = try Grid.key(config, teacherKey: teacher?.key, data: data)
            let run = PlannedRun(key: key, config: config, teacherKey: teacher?.key, identityJSON: identity, dataFingerprint: data)
            if !planned.contains(where: { $0.key == run.key }) { planned.append(run) }
            return run
        }
        let pretrainedTeachers = spec.teachers == .pretrained
        for seed in seeds {
            for (r, row) in spec.rows.enumerated() {
                let rowDataset = rowDatasets[r]
                func teacher(_ model: String) throws -> PlannedRun {
                    try plan(model, .ce, teacher: nil, seed: seed, dataset: rowDataset, evaluateOnly: pretrainedTeachers)
                }
                let teacherRun = try row.teacher.map(teacher)
                for (c, column) in spec.columns.enumerated() {
                    let run: PlannedRun
                    switch (column.network, teacherRun) {
                    case (.teacher, let teacher?): run = teacher
                    case (.teacher, nil):   // `Spec.parse` refuses this; a spec built in code may not
                        throw SpecError(file: spec.file, line: nil, path: "rows[\(r)].teacher",
                                        message: "missing: column '\(column.label)' trains the row's teacher")
                    case (.student, _):
                        // A column's own teacher (Table 3's AT) is planned as the row's is: trained first, same seed and data.
                        let teacher = try column.teacher.map(teacher) ?? teacherRun
                        run = try plan(row.student, column.method, teacher: column.method.needsTeacher ? teacher : nil, seed: seed, dataset: rowDataset)
                    }
                    let paperError = paper?.error(student: row.student, teacher: row.teacher, column: column.label,
                                                  dataset: row.dataset == nil ? nil : rowDataset)
                    served.append(PlannedCell(row: r, column: c, seed: seed, rowLabel: row.student + (row.teacher.map { " ← " + $0 } ?? ""),
                                             columnLabel: column.label, runKey: run.key, role: spec.role(ofColumn: c),
                                             paperError: paperError))
                }
            }
        }
        runs = planned
        cells = served
    }

    /// How to get the ImageNet weights of `model` into `file`.
    static func weightsHelp(model: String, file: String) -> String {
        let tv = model.replacingOccurrences(of: "-", with: "")
        return "export torchvision's ImageNet weights with `scripts/export-torchvision --arch \(tv) --weights imagenet --out \(file)` "
            + "(needs a Python with torch and torchvision; see README \"Table 4\"), or set ATX_WEIGHTS_DIR to the folder holding "
            + "\((file as NSString).lastPathComponent)"
    }

    /// Every input the grid needs that this machine lacks or cannot read, as messages saying
    /// what to download or export and where to put it: the weights files, then each dataset
    /// (opened once, listed files checked). Empty when the grid can run.
    public func missingInputs(locations: DataLocations = .fromEnvironment()) -> [String] {
        var out = missingWeights
        for d in datasets {
            do { _ = try Datasets.open(d, locations: locations) } catch { out.append("\(error)") }
        }
        return out
    }

    /// The canonical JSON of everything that determines a run's result: the configuration, the
    /// teacher run's key and the fingerprint of the data (nil: the identity runs had before data
    /// fingerprints, kept for the runs of earlier databases).
    static func identity(_ config: RunConfig, teacherKey: String?, data: String?) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let configObject = try JSONSerialization.jsonObject(with: try encoder.encode(config))
        var identity: [String: Any] = ["config": configObject, "teacher_run": teacherKey ?? NSNull()]
        if let data { identity["data"] = data }
        return canonicalJSON(identity)
    }

    /// A run's key (the first 16 hex digits of the SHA-256 of its identity, leaving out where the
    /// weights file lies, whose content hash stays in) and its identity JSON (with the path).
    static func key(_ config: RunConfig, teacherKey: String?, data: String?) throws -> (key: String, identity: String) {
        let key = String(ContentHash.sha256(Foundation.Data(try identity(config.withoutPaths, teacherKey: teacherKey, data: data).utf8)).prefix(16))
        return (key, try identity(config, teacherKey: teacherKey, data: data))
    }

    /// This grid as `store` knows it. A run recorded before data fingerprints existed has the key
    /// of its identity without the data; it serves the grid while its recorded fingerprint is the
    /// data's at hand, or, on its first use, has none yet (then, with `recording`, the fingerprint
    /// at hand is recorded with it). Otherwise, and for every run the store does not hold, the key
    /// includes the data: changed data means new runs. Students follow their teacher's key.
    public func resolved(in store: Store, recording: Bool) throws -> Grid {
        var keys: [String: String] = [:]   // planned key → the key that serves it
        var runs: [PlannedRun] = []
        for run in self.runs {
            var r = run
            r.teacherKey = run.teacherKey.map { keys[$0] ?? $0 }
            (r.key, r.identityJSON) = try Grid.key(run.config, teacherKey: r.teacherKey, data: run.dataFingerprint)
            if try store.run(key: r.key) == nil {
                let legacy = try Grid.key(run.config, teacherKey: r.teacherKey, data: nil)
                if let old = try store.run(key: legacy.key), old.dataFingerprint == nil || old.dataFingerprint == run.dataFingerprint {
                    (r.key, r.identityJSON) = legacy
                    if recording && old.dataFingerprint == nil && run.dataFingerprint != "missing" {
                        try store.recordDataFingerprint(key: legacy.key, run.dataFingerprint)
                    }
                }
            }
            keys[run.key] = r.key
            runs.append(r)
        }
        var grid = self
        grid.runs = runs
        grid.cells = cells.map { c in var c = c; c.runKey = keys[c.runKey] ?? c.runKey; return c }
        return grid
    }

}
