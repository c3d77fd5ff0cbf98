// A spec under a profile expands into table cells × seeds, each served by a run identified by
// the hash of its fully resolved configuration (never by labels), so the same run shared by
// several cells, rows or tables is trained once.
import Data
import Foundation
import NN
import Store
import Training

/// One run of a grid: its resolved configuration, key, and the key of its teacher run.
public struct PlannedRun: Sendable, Equatable {
    public var key: String
    public var config: RunConfig
    public var teacherKey: String?
    /// The canonical JSON the key hashes: the configuration plus the teacher run's key.
    public var identityJSON: String
}

extension PlannedRun {
    /// The queued record the main database and a Slurm shard start the run from.
    public func queuedRecord(profile: String) -> RunRecord {
        RunRecord(key: key, configJSON: identityJSON, student: config.student, teacher: config.teacher,
                  teacherKey: teacherKey, method: config.method.name, seed: Int(config.seed),
                  dataset: config.dataset.rawValue, profile: profile, status: .queued, epochsTotal: config.epochs)
    }
}

public struct PlannedCell: Sendable, Equatable {
    public var row: Int, column: Int, seed: Int
    public var rowLabel: String, columnLabel: String
    public var runKey: String
    /// What the cell is to its row (`Spec.role(ofColumn:)`).
    public var role: CellRole
}

public struct Grid: Sendable {
    public let spec: Spec
    public let profile: String
    /// Unique runs, every teacher before the students that need it.
    public let runs: [PlannedRun]
    public let cells: [PlannedCell]
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

        var planned: [PlannedRun] = [], served: [PlannedCell] = []
        func plan(_ model: String, _ method: Method, teacher: PlannedRun?, seed: Int, dataset: DatasetID) throws -> PlannedRun {
            let config = RunConfig(student: model, teacher: teacher?.config.student, method: method, dataset: dataset,
                                   trainSubset: s.trainSubset, testSubset: s.testSubset, epochs: s.epochs, batchSize: s.batchSize,
                                   learningRate: s.learningRate, momentum: s.momentum, weightDecay: s.weightDecay,
                                   milestones: milestones, lrDecay: s.lrDecay, flip: s.flip, crop: s.crop, seed: UInt64(seed),
                                   pretrained: weights[model], freezing: s.freeze,
                                   geometry: dataset.descriptor.isJPEG ? (s.image ?? .imageNet) : nil)
            let identity = try Grid.identity(config, teacherKey: teacher?.key)
            // The key leaves out where the weights file lies; its content hash stays in.
            var keyed = config
            keyed.pretrained?.file = nil
            let key = String(ContentHash.sha256(Foundation.Data(try Grid.identity(keyed, teacherKey: teacher?.key).utf8)).prefix(16))
            let run = PlannedRun(key: key, config: config, teacherKey: teacher?.key, identityJSON: identity)
            if !planned.contains(where: { $0.key == run.key }) { planned.append(run) }
            return run
        }
        for seed in seeds {
            for (r, row) in spec.rows.enumerated() {
                let rowDataset = rowDatasets[r]
                let teacherRun = try row.teacher.map { try plan($0, .ce, teacher: nil, seed: seed, dataset: rowDataset) }
                for (c, column) in spec.columns.enumerated() {
                    let run: PlannedRun
                    switch (column.network, teacherRun) {
                    case (.teacher, let teacher?): run = teacher
                    case (.teacher, nil):   // `Spec.parse` refuses this; a spec built in code may not
                        throw SpecError(file: spec.file, line: nil, path: "rows[\(r)].teacher",
                                        message: "missing: column '\(column.label)' trains the row's teacher")
                    case (.student, _):
                        run = try plan(row.student, column.method, teacher: column.method.needsTeacher ? teacherRun : nil, seed: seed, dataset: rowDataset)
                    }
                    served.append(PlannedCell(row: r, column: c, seed: seed, rowLabel: row.student + (row.teacher.map { " ← " + $0 } ?? ""),
                                             columnLabel: column.label, runKey: run.key, role: spec.role(ofColumn: c)))
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

    /// The canonical JSON of everything that determines a run's result.
    static func identity(_ config: RunConfig, teacherKey: String?) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let configObject = try JSONSerialization.jsonObject(with: try encoder.encode(config))
        return canonicalJSON(["config": configObject, "teacher_run": teacherKey ?? NSNull()] as [String: Any])
    }
}
