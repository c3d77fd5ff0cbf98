// A spec under a profile expands into table cells × seeds, each served by a run identified by
// the hash of its fully resolved configuration (never by labels), so the same run shared by
// several cells, rows or tables is trained once.
import Data
import Foundation
import NN
import Training

/// One run of a grid: its resolved configuration, key, and the key of its teacher run.
public struct PlannedRun: Sendable, Equatable {
    public var key: String
    public var config: RunConfig
    public var teacherKey: String?
    /// The canonical JSON the key hashes: the configuration plus the teacher run's key.
    public var identityJSON: String
}

public struct PlannedCell: Sendable, Equatable {
    public var row: Int, column: Int, seed: Int
    public var rowLabel: String, columnLabel: String
    public var runKey: String
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
    public let dataset: String

    public func run(_ key: String) -> PlannedRun? { runs.first { $0.key == key } }

    /// Expands `spec` under `profile`. "auto" resolves to the dataset present on this machine.
    public init(spec: Spec, profile: String, locations: DataLocations = .fromEnvironment()) throws {
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
        settings = s
        let seeds = p.seeds ?? spec.seeds, dataset = spec.dataset == "auto" ? (locations.hasCIFAR10 ? "cifar10" : "fashion-mnist") : spec.dataset
        self.seeds = seeds
        self.dataset = dataset
        let milestones = RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones)

        var planned: [PlannedRun] = [], served: [PlannedCell] = []
        func plan(_ model: String, _ method: Method, teacher: PlannedRun?, seed: Int) -> PlannedRun {
            let config = RunConfig(student: model, teacher: teacher?.config.student, method: method, dataset: dataset,
                                   trainSubset: s.trainSubset, testSubset: s.testSubset, epochs: s.epochs, batchSize: s.batchSize,
                                   learningRate: s.learningRate, momentum: s.momentum, weightDecay: s.weightDecay,
                                   milestones: milestones, lrDecay: s.lrDecay, flip: s.flip, crop: s.crop, seed: UInt64(seed))
            let identity = Grid.identity(config, teacherKey: teacher?.key)
            let run = PlannedRun(key: String(ContentHash.sha256(Data(identity.utf8)).prefix(16)), config: config, teacherKey: teacher?.key, identityJSON: identity)
            if !planned.contains(where: { $0.key == run.key }) { planned.append(run) }
            return run
        }
        for seed in seeds {
            for (r, row) in spec.rows.enumerated() {
                let teacherRun = row.teacher.map { plan($0, .ce, teacher: nil, seed: seed) }
                for (c, column) in spec.columns.enumerated() {
                    let run: PlannedRun
                    switch column.network {
                    case .teacher: run = teacherRun!
                    case .student: run = plan(row.student, column.method, teacher: column.method.needsTeacher ? teacherRun : nil, seed: seed)
                    }
                    served.append(PlannedCell(row: r, column: c, seed: seed, rowLabel: row.student + (row.teacher.map { " ← " + $0 } ?? ""),
                                             columnLabel: column.label, runKey: run.key))
                }
            }
        }
        runs = planned
        cells = served
    }

    /// The canonical JSON of everything that determines a run's result.
    static func identity(_ config: RunConfig, teacherKey: String?) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let configObject = try! JSONSerialization.jsonObject(with: try! encoder.encode(config))
        return canonicalJSON(["config": configObject, "teacher_run": teacherKey ?? NSNull()] as [String: Any])
    }
}
