// Experiment specs: one YAML file per paper table (experiments/*.yaml). Decoding checks every
// field up front; an error names the file, the line, the key path and the bad value, and lists
// what is accepted.
import Data
import Foundation
import NN
import Store
import Training
import Yams

/// What a spec says, before a profile is applied.
public struct Spec: Sendable {
    public var name: String
    public var title: String
    public var file: String
    /// The grid's dataset ("auto": CIFAR-10 when present, else Fashion-MNIST).
    public var dataset: DatasetChoice
    public var seeds: [Int]
    public var training: TrainingSettings
    public var rows: [Row]
    public var columns: [Column]
    public var profiles: [String: Profile]
    /// Where the rows' teachers come from.
    public var teachers: TeacherSource = .sameSeed
    /// The canonical JSON of the whole spec (stored with the grid).
    public var json: String

    public struct Row: Sendable, Equatable {
        public var student: String
        public var teacher: String?
        /// The row's dataset when it is not the spec's (Table 4: one row per fine-tuning task).
        public var dataset: DatasetChoice?

        public init(student: String, teacher: String? = nil, dataset: DatasetChoice? = nil) {
            self.student = student; self.teacher = teacher; self.dataset = dataset
        }
    }

    /// A column trains either the row's student with a method, or the row's teacher (the
    /// teacher column, plain cross-entropy).
    public struct Column: Sendable, Equatable {
        public var label: String
        public var method: Method
        public var network: Network
        /// The column's own teacher model, trained in the grid, instead of the row's (Table 3's
        /// activation-based AT learns from a NIN-wide without ReLU before pooling).
        public var teacher: String? = nil
    }

    public enum Network: String, Sendable, CaseIterable { case student, teacher }

    /// The spec's `teacher` key.
    public enum TeacherSource: String, Sendable, CaseIterable {
        /// Trained in the grid with cross-entropy, one per seed: a student learns from the teacher
        /// run of its own seed.
        case sameSeed = "same-seed"
        /// The weights `training.pretrained` names for the teacher's model, not trained: one run
        /// evaluates them on the test split and serves every seed (Table 5's ResNet-34).
        case pretrained
    }

    /// The paper's table this spec reproduces, named by the spec's `name` ("table1" … "table4").
    public var paperTable: PaperTable? { PaperTable(rawValue: name) }

    /// The column every other is paired with: the first training the row's student with plain
    /// cross-entropy (nil when there is none). The one place this is decided: the store records it
    /// per cell (`CellRole`), the renderer gets it (`TableInput.baselineColumn`).
    public var baselineColumn: Int? {
        columns.firstIndex { $0.network == .student && $0.method == .ce }
    }

    /// What column `c` is to its row.
    public func role(ofColumn c: Int) -> CellRole {
        columns[c].network == .teacher ? .teacher : c == baselineColumn ? .baseline : .method
    }
}

/// The training protocol (docs/protocol.md §6); milestones as fractions of the epochs.
public struct TrainingSettings: Sendable, Equatable, Codable {
    public var epochs = 200
    public var batchSize = 128
    public var learningRate: Float = 0.1
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var lrDecay: Float = 0.2
    public var milestones: [Double] = [0.3, 0.6, 0.8]
    public var flip = true
    public var crop = true
    public var trainSubset: Int?
    public var testSubset: Int?
    /// JPEG datasets: shorter side after resizing and crop side (nil: 256 and 224).
    public var image: ImageGeometry?
    /// What stays fixed while training (Table 4's fine-tuning), nil: nothing.
    public var freeze: Freezing?
    /// Per model, the weights file every run of that model starts from (nil: fresh weights).
    public var pretrained: [String: String]?
    /// How WRN weights are drawn: by default as the official code of January 2017 drew them.
    public var initialization: WeightInitialization = .code2017
    /// How crops pad the 32×32 images: by default as the official code of January 2017 padded them.
    public var paddingMode: PaddingMode = .symmetric
}

/// Scales the protocol without editing the spec. Unset fields keep the spec's values.
public struct Profile: Sendable, Equatable {
    public var epochs: Int?
    public var trainSubset: Int?
    public var testSubset: Int?
    public var batchSize: Int?
    public var seeds: [Int]?
    public var image: ImageGeometry?
}

public struct SpecError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let path: String
    public let message: String
    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(path.isEmpty ? "" : path + ": ")\(message)" }
}

extension Spec {
    /// Reads and checks a spec file.
    public static func load(_ path: String) throws -> Spec {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SpecError(file: path, line: nil, path: "", message: "cannot read the spec: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> Spec {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw SpecError(file: file, line: nil, path: "", message: "the spec is empty") }
            root = node
        } catch let e as SpecError { throw e } catch {
            throw SpecError(file: file, line: nil, path: "", message: "not valid YAML: \(error)")
        }
        let d = Decoder(file: file)
        let top = try d.mapping(root, "", keys: ["name", "title", "dataset", "seeds", "training", "teacher", "report", "rows", "columns", "profiles"])
        var spec = Spec(name: try d.string(top["name"], "name"), title: "", file: file, dataset: .auto, seeds: [],
                        training: TrainingSettings(), rows: [], columns: [], profiles: [:], json: "")
        spec.title = try top["title"].map { try d.string($0, "title") } ?? spec.name
        if let ds = top["dataset"] { spec.dataset = try d.dataset(ds, "dataset") }
        spec.seeds = try d.seeds(top["seeds"], "seeds")
        if let t = top["training"] { spec.training = try d.training(t, "training", base: TrainingSettings()) }
        if let t = top["teacher"] {
            spec.teachers = Spec.TeacherSource(rawValue: try d.choice(t, "teacher", Spec.TeacherSource.allCases.map(\.rawValue)))!
        }
        if let r = top["report"] {
            let m = try d.mapping(r, "report", keys: ["epoch", "aggregate"])
            if let e = m["epoch"] { _ = try d.choice(e, "report.epoch", ["final"]) }
            if let a = m["aggregate"] { _ = try d.choice(a, "report.aggregate", ["median"]) }
        }
        spec.rows = try d.list(top["rows"], "rows").enumerated().map { i, node in try d.row(node, "rows[\(i)]") }
        spec.columns = try d.list(top["columns"], "columns").enumerated().map { i, node in try d.column(node, "columns[\(i)]") }
        if spec.rows.isEmpty || spec.columns.isEmpty {
            throw SpecError(file: file, line: root.mark?.line, path: spec.rows.isEmpty ? "rows" : "columns", message: "the grid is empty: give at least one row and one column")
        }
        for (i, row) in spec.rows.enumerated() where row.teacher == nil {
            if let c = spec.columns.firstIndex(where: { ($0.method.needsTeacher && $0.teacher == nil) || $0.network == .teacher }) {
                throw SpecError(file: file, line: top["rows"]?.array()[i].mark?.line, path: "rows[\(i)].teacher",
                                message: "missing: column '\(spec.columns[c].label)' (\(spec.columns[c].method.kind)) needs a teacher")
            }
        }
        if let p = top["profiles"] {
            for (key, value) in try d.pairs(p, "profiles") { spec.profiles[key] = try d.profile(value, "profiles.\(key)") }
        }
        if spec.teachers == .pretrained {
            let teachers = Set(spec.rows.compactMap(\.teacher) + spec.columns.compactMap(\.teacher)).sorted()
            if let t = teachers.first(where: { spec.training.pretrained?[$0] == nil }) {
                throw SpecError(file: file, line: top["teacher"]?.mark?.line, path: "teacher",
                                message: "'pretrained' needs training.pretrained to name the weights of teacher '\(t)'")
            }
        }
        spec.profiles["paper"] = spec.profiles["paper"] ?? Profile()
        spec.json = canonicalJSON(root.any)
        return spec
    }
}

/// Walks the YAML tree with the file and key path at hand for messages.
struct Decoder {
    let file: String

    func fail(_ node: Node?, _ path: String, _ message: String) -> SpecError {
        SpecError(file: file, line: node?.mark?.line, path: path, message: message)
    }

    func mapping(_ node: Node, _ path: String, keys: [String]) throws -> [String: Node] {
        var out: [String: Node] = [:]
        for (key, value) in try pairs(node, path) {
            guard keys.contains(key) else {
                throw fail(value, path.isEmpty ? key : "\(path).\(key)", "unknown key; accepted: \(keys.joined(separator: ", "))")
            }
            out[key] = value
        }
        return out
    }

    func pairs(_ node: Node, _ path: String) throws -> [(String, Node)] {
        guard let m = node.mapping else { throw fail(node, path, "expected a mapping (key: value), got \(describe(node))") }
        return try m.map { k, v in
            guard let key = k.string else { throw fail(k, path, "keys must be strings, got \(describe(k))") }
            return (key, v)
        }
    }

    func list(_ node: Node?, _ path: String) throws -> [Node] {
        guard let node else { throw fail(nil, path, "missing") }
        guard node.sequence != nil else { throw fail(node, path, "expected a list, got \(describe(node))") }
        return node.array()
    }

    func string(_ node: Node?, _ path: String) throws -> String {
        guard let node else { throw fail(nil, path, "missing") }
        guard node.scalar != nil, let s = node.string, !s.isEmpty else { throw fail(node, path, "expected a non-empty string, got \(describe(node))") }
        return s
    }

    func choice(_ node: Node, _ path: String, _ accepted: [String]) throws -> String {
        let s = try string(node, path)
        guard accepted.contains(s) else { throw fail(node, path, "'\(s)' is not accepted; accepted: \(accepted.joined(separator: ", "))") }
        return s
    }

    func int(_ node: Node, _ path: String, min: Int = 0) throws -> Int {
        guard node.scalar != nil, let v = node.int else { throw fail(node, path, "expected an integer, got \(describe(node))") }
        guard v >= min else { throw fail(node, path, "must be at least \(min), got \(v)") }
        return v
    }

    func float(_ node: Node, _ path: String) throws -> Float {
        guard node.scalar != nil, let v = node.float, v.isFinite else { throw fail(node, path, "expected a number, got \(describe(node))") }
        return Float(v)
    }

    func bool(_ node: Node, _ path: String) throws -> Bool {
        guard node.scalar != nil, let v = node.bool else { throw fail(node, path, "expected true or false, got \(describe(node))") }
        return v
    }

    func seeds(_ node: Node?, _ path: String) throws -> [Int] {
        let items = try list(node, path)
        guard !items.isEmpty else { throw fail(node, path, "give at least one seed") }
        let seeds = try items.enumerated().map { i, n in try int(n, "\(path)[\(i)]") }
        guard Set(seeds).count == seeds.count else { throw fail(node, path, "seeds repeat: \(seeds)") }
        return seeds
    }

    func model(_ node: Node?, _ path: String) throws -> String {
        let name = try string(node, path)
        do { try Model.validate(name: name) } catch { throw fail(node, path, "\(error)") }
        return name
    }

    func row(_ node: Node, _ path: String) throws -> Spec.Row {
        let m = try mapping(node, path, keys: ["student", "teacher", "dataset"])
        return Spec.Row(student: try model(m["student"], "\(path).student"),
                        teacher: try m["teacher"].map { try model($0, "\(path).teacher") },
                        dataset: try m["dataset"].map { try dataset($0, "\(path).dataset") })
    }

    /// "auto" or a dataset's name.
    func dataset(_ node: Node, _ path: String) throws -> DatasetChoice {
        let name = try choice(node, path, DatasetChoice.names)
        guard let choice = DatasetChoice(name) else { throw fail(node, path, "'\(name)' is not a dataset") }
        return choice
    }

    /// One of `T`'s cases by its raw value, or an error listing them.
    func enumeration<T: CaseIterable & RawRepresentable>(_ node: Node, _ path: String, _: T.Type) throws -> T where T.RawValue == String {
        let name = try choice(node, path, T.allCases.map(\.rawValue))
        guard let value = T(rawValue: name) else { throw fail(node, path, "'\(name)' is not accepted") }
        return value
    }

    func column(_ node: Node, _ path: String) throws -> Spec.Column {
        let m = try mapping(node, path, keys: ["label", "method", "mapping", "network", "groups", "beta_decay", "kd_form", "teacher"]
                                + Hyperparameter.allCases.map(\.rawValue))
        let kind = try enumeration(m["method"] ?? node, "\(path).method", MethodKind.self)
        let mapping = try m["mapping"].map { try enumeration($0, "\(path).mapping", Mapping.self) }
        var hyper: [Hyperparameter: Float] = [:]
        for h in Hyperparameter.allCases {
            if let v = m[h.rawValue] { hyper[h] = try float(v, "\(path).\(h)") }
        }
        let groups = try m["groups"].map { g in
            try list(g, "\(path).groups").enumerated().map { i, n in try int(n, "\(path).groups[\(i)]") }
        }
        let schedule = try m["beta_decay"].map { node in
            let text = try string(node, "\(path).beta_decay")
            guard let s = BetaSchedule(text) else {
                throw fail(node, "\(path).beta_decay", "'\(text)' is not accepted; accepted: lr (β decays with the learning rate), "
                           + "constant, or a per-epoch factor in (0, 1]")
            }
            return s
        }
        let kdForm = try m["kd_form"].map { try enumeration($0, "\(path).kd_form", KDForm.self) }
        // The method validates itself; its error is placed at the key it is about.
        let method: Method
        do {
            method = try Method(kind: kind, mapping: mapping, hyperparameters: hyper, groups: groups, schedule: schedule, kdForm: kdForm)
        } catch let e as MethodError {
            let key: String
            switch e {
            case .hyperparameterNotTaken(_, let h): key = h.rawValue
            case .mappingNotTaken: key = "mapping"
            case .groupsNotTaken, .badGroups: key = "groups"
            case .betaDecayNotTaken: key = "beta_decay"
            case .kdFormNotTaken: key = "kd_form"
            }
            throw fail(m[key], "\(path).\(key)", "\(e)")
        }
        let network = try m["network"].map { try enumeration($0, "\(path).network", Spec.Network.self) } ?? .student
        if network == .teacher && kind != .ce {
            throw fail(m["method"], "\(path).method", "the teacher column trains the teacher with 'ce', not '\(kind)'")
        }
        let teacher = try m["teacher"].map { try model($0, "\(path).teacher") }
        if let t = m["teacher"], !(network == .student && kind.needsTeacher) {
            throw fail(t, "\(path).teacher", network == .teacher ? "the teacher column trains the row's teacher; it has none of its own"
                       : "method '\(kind)' learns from no teacher")
        }
        return Spec.Column(label: try m["label"].map { try string($0, "\(path).label") } ?? kind.rawValue,
                           method: method, network: network, teacher: teacher)
    }

    func training(_ node: Node, _ path: String, base: TrainingSettings) throws -> TrainingSettings {
        let m = try mapping(node, path, keys: ["epochs", "batch_size", "learning_rate", "momentum", "weight_decay", "lr_decay",
                                                "milestones", "flip", "crop", "train_subset", "test_subset", "image", "freeze", "pretrained",
                                                "init", "padding_mode"])
        var t = base
        if let v = m["epochs"] { t.epochs = try int(v, "\(path).epochs", min: 1) }
        if let v = m["batch_size"] { t.batchSize = try int(v, "\(path).batch_size", min: 1) }
        if let v = m["learning_rate"] { t.learningRate = try float(v, "\(path).learning_rate") }
        if let v = m["momentum"] { t.momentum = try float(v, "\(path).momentum") }
        if let v = m["weight_decay"] { t.weightDecay = try float(v, "\(path).weight_decay") }
        if let v = m["lr_decay"] { t.lrDecay = try float(v, "\(path).lr_decay") }
        if let v = m["milestones"] {
            t.milestones = try list(v, "\(path).milestones").enumerated().map { i, n in
                let f = Double(try float(n, "\(path).milestones[\(i)]"))
                guard f > 0 && f <= 1 else { throw fail(n, "\(path).milestones[\(i)]", "a fraction of the epochs in (0, 1], got \(f)") }
                return f
            }
        }
        if let v = m["flip"] { t.flip = try bool(v, "\(path).flip") }
        if let v = m["crop"] { t.crop = try bool(v, "\(path).crop") }
        if let v = m["train_subset"] { t.trainSubset = try int(v, "\(path).train_subset", min: 1) }
        if let v = m["test_subset"] { t.testSubset = try int(v, "\(path).test_subset", min: 1) }
        if let v = m["image"] { t.image = try image(v, "\(path).image") }
        if let v = m["init"] { t.initialization = try enumeration(v, "\(path).init", WeightInitialization.self) }
        if let v = m["padding_mode"] { t.paddingMode = try enumeration(v, "\(path).padding_mode", PaddingMode.self) }
        if let v = m["freeze"] {
            let f = try mapping(v, "\(path).freeze", keys: ["bn", "stem", "groups"])
            t.freeze = Freezing(batchNorm: try f["bn"].map { try bool($0, "\(path).freeze.bn") } ?? false,
                                stem: try f["stem"].map { try bool($0, "\(path).freeze.stem") } ?? false,
                                groups: try f["groups"].map { g in
                                    try list(g, "\(path).freeze.groups").enumerated().map { i, n in try int(n, "\(path).freeze.groups[\(i)]") }
                                } ?? [])
        }
        if let v = m["pretrained"] {
            var files: [String: String] = [:]
            for (key, value) in try pairs(v, "\(path).pretrained") {
                do { try Model.validate(name: key) } catch { throw fail(value, "\(path).pretrained.\(key)", "\(error)") }
                files[key] = try string(value, "\(path).pretrained.\(key)")
            }
            t.pretrained = files
        }
        return t
    }

    /// `{resize: R, crop: C}` with 32 ≤ C ≤ R.
    func image(_ node: Node, _ path: String) throws -> ImageGeometry {
        let m = try mapping(node, path, keys: ["resize", "crop"])
        guard let r = m["resize"], let c = m["crop"] else { throw fail(node, path, "give both resize and crop") }
        let resize = try int(r, "\(path).resize", min: 32), crop = try int(c, "\(path).crop", min: 32)
        guard crop <= resize else { throw fail(c, "\(path).crop", "the crop (\(crop)) must not exceed the resize (\(resize))") }
        return ImageGeometry(resize: resize, crop: crop)
    }

    func profile(_ node: Node, _ path: String) throws -> Profile {
        let m = try mapping(node, path, keys: ["epochs", "train_subset", "test_subset", "batch_size", "seeds", "image"])
        return Profile(epochs: try m["epochs"].map { try int($0, "\(path).epochs", min: 1) },
                       trainSubset: try m["train_subset"].map { try int($0, "\(path).train_subset", min: 1) },
                       testSubset: try m["test_subset"].map { try int($0, "\(path).test_subset", min: 1) },
                       batchSize: try m["batch_size"].map { try int($0, "\(path).batch_size", min: 1) },
                       seeds: try m["seeds"].map { try seeds($0, "\(path).seeds") },
                       image: try m["image"].map { try image($0, "\(path).image") })
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

/// JSON with sorted keys, for hashing and storing.
func canonicalJSON(_ value: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}
