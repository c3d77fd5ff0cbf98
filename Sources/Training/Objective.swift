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

    /// What kind of method it is.
    public var kind: MethodKind {
        switch self {
        case .ce: return .ce
        case .at: return .at
        case .kd: return .kd
        case .atkd: return .atkd
        case .factt: return .factt
        case .gradAT: return .gradAT
        case .minL2: return .minL2
        case .symmetry: return .symmetry
        }
    }

    public var needsTeacher: Bool { kind.needsTeacher }

    /// The name used in specs, fixtures and the store.
    public var name: String { kind.rawValue }
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
    case badGroups([Int], available: Int)
    public var description: String {
        switch self {
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
        guard let teacher else { throw TrainingError.missingTeacher(method: method.kind) }
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

/// A method's kind: what specs, flags, fixtures and the store call it, and what it takes.
public enum MethodKind: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case ce, at, kd
    case atkd = "at+kd"
    case factt
    case gradAT = "grad-at"
    case minL2 = "min-l2"
    case symmetry

    public var description: String { rawValue }

    /// The hyperparameters it takes, in the order they are listed.
    public var hyperparameters: [Hyperparameter] {
        switch self {
        case .ce: return []
        case .at, .factt, .gradAT, .minL2, .symmetry: return [.beta]
        case .kd: return [.temperature, .alpha]
        case .atkd: return [.beta, .temperature, .alpha, .betaDecay]
        }
    }

    /// Whether it matches attention maps, so takes a `mapping` and `groups`.
    public var takesAttentionMaps: Bool {
        switch self {
        case .at, .atkd: return true
        case .ce, .kd, .factt, .gradAT, .minL2, .symmetry: return false
        }
    }

    /// Whether it learns from a trained teacher.
    public var needsTeacher: Bool {
        switch self {
        case .ce, .minL2, .symmetry: return false
        case .at, .kd, .atkd, .factt, .gradAT: return true
        }
    }

    /// The default of `h` for this kind (docs/protocol.md §1–4). Assumptions (§8): β of F-ActT and of
    /// the gradient-based methods, and AT+KD's β decay (1 = constant β).
    public func defaultValue(_ h: Hyperparameter) -> Float {
        switch h {
        case .beta:
            switch self {
            case .gradAT, .minL2, .symmetry: return 2000
            case .ce, .at, .kd, .atkd, .factt: return 1000
            }
        case .temperature: return 4
        case .alpha: return 0.9
        case .betaDecay: return 1
        }
    }
}

/// A numeric hyperparameter, by its name in specs.
public enum Hyperparameter: String, CaseIterable, Sendable, CustomStringConvertible {
    case beta, temperature, alpha
    case betaDecay = "beta_decay"
    public var description: String { rawValue }
}

extension Method {
    /// Builds a method of `kind` from its mapping, hyperparameters (defaults for those not given)
    /// and, for the kinds that match attention maps, the 0-based groups to match (nil: all). What
    /// the kind does not take, and groups that are empty, repeated or negative, are errors that
    /// say what is accepted: the one place a method is validated.
    public init(kind: MethodKind, mapping: Mapping? = nil, hyperparameters: [Hyperparameter: Float] = [:], groups: [Int]? = nil) throws {
        if let h = hyperparameters.keys.sorted(by: { $0.rawValue < $1.rawValue }).first(where: { !kind.hyperparameters.contains($0) }) {
            throw MethodError.hyperparameterNotTaken(method: kind, hyperparameter: h)
        }
        if !kind.takesAttentionMaps {
            if mapping != nil { throw MethodError.mappingNotTaken(method: kind) }
            if groups != nil { throw MethodError.groupsNotTaken(method: kind) }
        }
        if let groups, groups.isEmpty || Set(groups).count != groups.count || groups.contains(where: { $0 < 0 }) {
            throw MethodError.badGroups(groups)
        }
        func value(_ h: Hyperparameter) -> Float { hyperparameters[h] ?? kind.defaultValue(h) }
        let mapping = mapping ?? .sum2
        switch kind {
        case .ce: self = .ce
        case .at: self = .at(mapping: mapping, beta: value(.beta), groups: groups)
        case .kd: self = .kd(temperature: value(.temperature), alpha: value(.alpha))
        case .atkd: self = .atkd(mapping: mapping, beta: value(.beta), temperature: value(.temperature), alpha: value(.alpha),
                                 betaDecay: value(.betaDecay), groups: groups)
        case .factt: self = .factt(beta: value(.beta))
        case .gradAT: self = .gradAT(beta: value(.beta))
        case .minL2: self = .minL2(beta: value(.beta))
        case .symmetry: self = .symmetry(beta: value(.beta))
        }
    }
}

public enum MethodError: Error, CustomStringConvertible, Equatable {
    case hyperparameterNotTaken(method: MethodKind, hyperparameter: Hyperparameter)
    case mappingNotTaken(method: MethodKind)
    case groupsNotTaken(method: MethodKind)
    case badGroups([Int])

    public var description: String {
        switch self {
        case .hyperparameterNotTaken(let m, let h):
            let takes = m.hyperparameters.map(\.rawValue)
            return "method '\(m)' does not take '\(h)'; it takes: \(takes.isEmpty ? "none" : takes.joined(separator: ", "))"
        case .mappingNotTaken(let m): return "method '\(m)' does not take a mapping; only at and at+kd match attention maps"
        case .groupsNotTaken(let m): return "method '\(m)' does not take groups; only at and at+kd match attention maps"
        case .badGroups(let g): return "groups \(g): give distinct 0-based group indices"
        }
    }
}
