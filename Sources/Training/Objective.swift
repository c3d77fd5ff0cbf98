// One training objective evaluated on one batch: the method's total loss and its parts.
import Autograd
import NN
import Tensor

/// A method with its hyperparameters (docs/protocol.md §1–4; names as there).
public enum Method: Hashable, Sendable, Codable {
    case ce
    /// Attention transfer at the 0-based `groups` of the group outputs (nil: all of them;
    /// Table 4 uses [2, 3], ResNet's layer3 and layer4). A nil `groups` is left out of the
    /// Codable encoding, so configurations without it keep their run identities.
    case at(mapping: Mapping, beta: Float, groups: [Int]? = nil)
    case kd(temperature: Float, alpha: Float)
    /// AT + KD; the AT weight is β·betaDecay^(epoch − 1) (docs/protocol.md §2: the paper's decay is
    /// unpublished, so the default 1 keeps β constant). `groups` as for `at`.
    case atkd(mapping: Mapping, beta: Float, temperature: Float, alpha: Float, betaDecay: Float, groups: [Int]? = nil)
    /// Full-activation transfer at the three groups, with 1×1 adapters on the student side
    /// where channel counts differ (docs/protocol.md §3).
    case factt(beta: Float)
    case gradAT(beta: Float)
    case minL2(beta: Float)
    case symmetry(beta: Float)

    public var needsTeacher: Bool {
        switch self {
        case .ce, .minL2, .symmetry: return false
        case .at, .kd, .atkd, .factt, .gradAT: return true
        }
    }

    /// The name used in specs, fixtures and the store.
    public var name: String {
        switch self {
        case .ce: return "ce"
        case .at: return "at"
        case .kd: return "kd"
        case .atkd: return "at+kd"
        case .factt: return "factt"
        case .gradAT: return "grad-at"
        case .minL2: return "min-l2"
        case .symmetry: return "symmetry"
        }
    }
}

/// The loss of one batch, with what the checks and the trainer need from the forward.
public struct Objective {
    public let loss: Variable
    /// "ce", and where they apply "at", "kd", "factt", "penalty" (‖·‖² before β/2).
    public let parts: [String: Float]
    public let student: ModelOutput
    /// Leaves of the student's parameters, in `Model.parameterNames` order.
    public let parameters: [Variable]
    public let inputGradient: Tensor?
    public let teacherLogits: Tensor?
    public let teacherInputGradient: Tensor?
}

public enum ObjectiveError: Error, CustomStringConvertible {
    case missingTeacher(method: String)
    case badGroups([Int], available: Int)
    public var description: String {
        switch self {
        case .missingTeacher(let m): return "method '\(m)' needs a teacher, none was given"
        case .badGroups(let g, let n):
            return "attention transfer: groups \(g) must be distinct, non-empty and within 0…\(n - 1) (the networks have \(n) groups)"
        }
    }
}

/// Evaluates `method` on one batch. The student runs in `mode` (train for training); the
/// teacher is frozen: eval mode, no graph. `adapters` (F-ActT only) hold one 1×1 conv weight
/// [C_teacher, C_student, 1, 1] per group whose channel counts differ, nil where they match.
/// One case per method; each family's loss is one small function below.
public func objective(_ method: Method, student: Model, teacher: Model?, input: Tensor, labels: [Int],
                      mode: Mode = .train, adapters: [Variable?] = []) throws -> Objective {
    func teacherModel() throws -> Model {
        guard let teacher else { throw ObjectiveError.missingTeacher(method: method.name) }
        return teacher
    }
    let batch = BatchInput(student: student, input: input, labels: labels, mode: mode)
    switch method {
    case .ce:
        return batch.crossEntropyOnly()
    case .at(let mapping, let beta, let groups):
        return try batch.distilled(from: try teacherModel()) { s, t, ce in
            let at = try matchedAttentionLoss(s.groups, t.groups, mapping, groups: groups)
            return (ce + at * beta, ["at": at.value.scalar])
        }
    case .kd(let temperature, let alpha):
        return try batch.distilled(from: try teacherModel()) { s, t, _ in
            let kd = distillationLoss(student: s.logits, teacher: t.logits, labels: labels, temperature: temperature, alpha: alpha)
            return (kd, ["kd": kd.value.scalar])
        }
    case .atkd(let mapping, let beta, let temperature, let alpha, _, let groups):
        return try batch.distilled(from: try teacherModel()) { s, t, _ in
            let kd = distillationLoss(student: s.logits, teacher: t.logits, labels: labels, temperature: temperature, alpha: alpha)
            let at = try matchedAttentionLoss(s.groups, t.groups, mapping, groups: groups)
            return (kd + at * beta, ["kd": kd.value.scalar, "at": at.value.scalar])
        }
    case .factt(let beta):
        return try batch.distilled(from: try teacherModel()) { s, t, ce in
            let total = fullActivationLoss(s.groups, t.groups, adapters: adapters)
            return (ce + total * beta, ["factt": total.value.scalar])
        }
    case .gradAT(let beta):
        let teacher = try teacherModel()
        return try batch.gradientPenalty(beta: beta) { s in
            let t = try inputGradient(of: teacher, input: input, labels: labels, mode: .eval, trainable: false, createGraph: false)
            return (s.j - Variable(t.j.value), t.output.logits.value, t.j.value)
        }
    case .minL2(let beta):
        return try batch.gradientPenalty(beta: beta) { s in (s.j, nil, nil) }
    case .symmetry(let beta):
        return try batch.gradientPenalty(beta: beta) { s in
            // J(x) − flip(J(flip(x))): the student's input gradient on the flipped batch,
            // through the same parameters, flipped back.
            let xf = Variable(input.flippedLastAxis(), requiresGrad: true, name: "flipped input")
            var layers = student.layers(parameters: s.parameters, mode: mode)
            let ceFlip = crossEntropy(student.forward(xf, &layers).logits, labels: labels)
            student.commit(layers, mode: mode)
            let jf = try gradients(of: ceFlip, wrt: [xf], createGraph: true)[0]
            return (s.j - flipHorizontal(jf), nil, nil)
        }
    }
}

/// One batch as the objectives see it: the student, its input and labels, and its mode.
struct BatchInput {
    let student: Model
    let input: Tensor
    let labels: [Int]
    let mode: Mode

    /// Plain cross-entropy.
    func crossEntropyOnly() -> Objective {
        let (out, params) = student.forward(Variable(input), mode: mode)
        let ce = crossEntropy(out.logits, labels: labels)
        return Objective(loss: ce, parts: ["ce": ce.value.scalar], student: out, parameters: params,
                         inputGradient: nil, teacherLogits: nil, teacherInputGradient: nil)
    }

    /// Cross-entropy plus a term from the student's and the frozen teacher's outputs: `term`
    /// maps (student, teacher, CE) to the loss and its parts besides "ce".
    func distilled(from teacher: Model, _ term: (ModelOutput, ModelOutput, Variable) throws -> (Variable, [String: Float])) throws -> Objective {
        let (out, params) = student.forward(Variable(input), mode: mode)
        let ce = crossEntropy(out.logits, labels: labels)
        let t = GradMode.withoutGraph { teacher.forward(Variable(input), mode: .eval, requiresGrad: false).output }
        let (loss, parts) = try term(out, t, ce)
        return Objective(loss: loss, parts: parts.merging(["ce": ce.value.scalar]) { a, _ in a }, student: out, parameters: params,
                         inputGradient: nil, teacherLogits: t.logits.value, teacherInputGradient: nil)
    }

    /// CE + (β/2)·‖D‖² with D from the student's input gradient J = ∂CE/∂x, kept differentiable
    /// (double backprop). `difference` returns D and, for grad-AT, the teacher's logits and J_T.
    func gradientPenalty(beta: Float, _ difference: (InputGradient) throws -> (Variable, Tensor?, Tensor?)) throws -> Objective {
        let s = try inputGradient(of: student, input: input, labels: labels, mode: mode, trainable: true, createGraph: true)
        let (diff, teacherLogits, teacherJ) = try difference(s)
        let penalty = diff.pow(2).sum()
        return Objective(loss: s.ce + penalty * (beta / 2), parts: ["ce": s.ce.value.scalar, "penalty": penalty.value.scalar],
                         student: s.output, parameters: s.parameters, inputGradient: s.j.value,
                         teacherLogits: teacherLogits, teacherInputGradient: teacherJ)
    }
}

/// F-ActT over the matched groups: the student's group mapped by its 1×1 adapter where
/// channel counts differ (docs/protocol.md §3).
func fullActivationLoss(_ s: [Variable], _ t: [Variable], adapters: [Variable?]) -> Variable {
    precondition(adapters.count == s.count, "factt: \(adapters.count) adapters for \(s.count) groups")
    return zip(s, t).enumerated().map { g, pair in
        activationLoss(student: adapters[g].map { conv2d(pair.0, $0) } ?? pair.0, teacher: pair.1)
    }.reduce(Variable(Tensor(scalar: 0))) { $0 + $1 }
}

/// Σ over the chosen groups (nil: all) of the attention loss between matched group outputs.
func matchedAttentionLoss(_ s: [Variable], _ t: [Variable], _ mapping: Mapping, groups: [Int]? = nil) throws -> Variable {
    precondition(s.count == t.count, "attention transfer: student has \(s.count) groups, teacher \(t.count)")
    let chosen = groups ?? Array(s.indices)
    guard !chosen.isEmpty, Set(chosen).count == chosen.count, chosen.allSatisfy(s.indices.contains) else {
        throw ObjectiveError.badGroups(chosen, available: s.count)
    }
    return chosen.map { attentionLoss(student: s[$0], teacher: t[$0], mapping: mapping) }.reduce(Variable(Tensor(scalar: 0))) { $0 + $1 }
}

extension Method {
    /// Default hyperparameters (docs/protocol.md §1–4). Assumptions (docs/protocol.md §8): β of F-ActT
    /// and of the gradient-based methods, and AT+KD's β decay (1 = constant β).
    public static let defaults: [String: [String: Float]] = [
        "ce": [:],
        "at": ["beta": 1000],
        "kd": ["temperature": 4, "alpha": 0.9],
        "at+kd": ["beta": 1000, "temperature": 4, "alpha": 0.9, "beta_decay": 1],
        "factt": ["beta": 1000],
        "grad-at": ["beta": 2000],
        "min-l2": ["beta": 2000],
        "symmetry": ["beta": 2000],
    ]

    /// Builds a method from its name, mapping and hyperparameters (and for `at` and `at+kd`
    /// the groups to match, nil for all); unknown names or hyperparameters the method does not
    /// take are errors that list what is accepted.
    public init(name: String, mapping: Mapping = .sum2, hyperparameters: [String: Float] = [:], groups: [Int]? = nil) throws {
        guard let defaults = Method.defaults[name] else {
            throw MethodError.unknownMethod(name, accepted: Method.defaults.keys.sorted())
        }
        for key in hyperparameters.keys where defaults[key] == nil {
            throw MethodError.unknownHyperparameter(method: name, key: key, accepted: defaults.keys.sorted())
        }
        if groups != nil && name != "at" && name != "at+kd" { throw MethodError.groupsNotTaken(method: name) }
        let h = defaults.merging(hyperparameters) { $1 }
        switch name {
        case "ce": self = .ce
        case "at": self = .at(mapping: mapping, beta: h["beta"]!, groups: groups)
        case "kd": self = .kd(temperature: h["temperature"]!, alpha: h["alpha"]!)
        case "at+kd": self = .atkd(mapping: mapping, beta: h["beta"]!, temperature: h["temperature"]!, alpha: h["alpha"]!,
                                   betaDecay: h["beta_decay"]!, groups: groups)
        case "factt": self = .factt(beta: h["beta"]!)
        case "grad-at": self = .gradAT(beta: h["beta"]!)
        case "min-l2": self = .minL2(beta: h["beta"]!)
        default: self = .symmetry(beta: h["beta"]!)
        }
    }
}

public enum MethodError: Error, CustomStringConvertible, Equatable {
    case unknownMethod(String, accepted: [String])
    case unknownHyperparameter(method: String, key: String, accepted: [String])
    case groupsNotTaken(method: String)
    public var description: String {
        switch self {
        case .groupsNotTaken(let m): return "method '\(m)' does not match attention maps; only at and at+kd take groups"
        case .unknownMethod(let m, let a): return "unknown method '\(m)'; accepted: \(a.joined(separator: ", "))"
        case .unknownHyperparameter(let m, let k, let a):
            return "method '\(m)' does not take hyperparameter '\(k)'; it takes: \(a.isEmpty ? "none" : a.joined(separator: ", "))"
        }
    }
}
