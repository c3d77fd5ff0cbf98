// One training objective evaluated on one batch: the method's total loss and its parts.
import Autograd
import Foundation
import NN
import Tensor

/// A method with its hyperparameters (docs/protocol.md §1–4; names as there).
public enum Method: Hashable, Sendable {
    case ce
    /// Attention transfer at the 0-based `groups` of the group outputs (nil: all of them;
    /// Table 4 uses [2, 3], ResNet's layer3 and layer4).
    case at(mapping: Mapping, beta: Float, groups: [Int]? = nil)
    /// Knowledge distillation in one of its two published forms (docs/protocol.md §2).
    case kd(temperature: Float, alpha: Float, form: KDForm)
    /// AT + KD, with β following `schedule` over the epochs; `groups` as for `at`.
    case atkd(mapping: Mapping, beta: Float, temperature: Float, alpha: Float, schedule: BetaSchedule, form: KDForm,
              groups: [Int]? = nil)
    /// Full-activation transfer at every group, with 1×1 adapters on the student side where
    /// channel counts differ, β following `schedule` (docs/protocol.md §3).
    case factt(beta: Float, schedule: BetaSchedule)
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
    public var readsTeacherForward: Bool { kind.readsTeacherForward }

    /// The name used in specs, fixtures and the store.
    public var name: String { kind.rawValue }

    /// The method's β (its transfer or penalty weight) as the run starts; nil for CE and KD.
    public var beta: Float? {
        switch self {
        case .ce, .kd: return nil
        case .at(_, let beta, _), .atkd(_, let beta, _, _, _, _, _), .factt(let beta, _), .gradAT(let beta), .minL2(let beta),
             .symmetry(let beta):
            return beta
        }
    }

    /// The method as it applies in 1-indexed `epoch`, whose learning rate is `learningRateFactor`
    /// times the initial one: β after its schedule (AT+KD and F-ActT), else the method itself.
    public func scheduled(epoch: Int, learningRateFactor: Float) -> Method {
        switch self {
        case .atkd(let m, let beta, let t, let a, let schedule, let form, let groups):
            return .atkd(mapping: m, beta: schedule.beta(beta, epoch: epoch, learningRateFactor: learningRateFactor),
                         temperature: t, alpha: a, schedule: schedule, form: form, groups: groups)
        case .factt(let beta, let schedule):
            return .factt(beta: schedule.beta(beta, epoch: epoch, learningRateFactor: learningRateFactor), schedule: schedule)
        case .ce, .at, .kd, .gradAT, .minL2, .symmetry:
            return self
        }
    }
}

/// The two published forms of KD's loss (docs/protocol.md §2). Both weigh (1 − α)·CE and, by a
/// factor, the batch-mean KL divergence KL_B = (1/B)·Σ_b KL(softmax(t_b/T) ‖ softmax(s_b/T)).
public enum KDForm: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    /// The official code of January 2017 (a28b02e, cifar.py:176–178), which produced the paper's
    /// numbers: `F.kl_div(…) * (T*T * 2. * alpha)`, F.kl_div then averaging over all B·K elements,
    /// so KL_B is weighed by α·T²·2/K (2.88 on CIFAR-10).
    case code2017 = "2017"
    /// The official code from July 2018 (4133ac5, "fix KL"): KL summed over classes and divided by
    /// the batch size, KL_B weighed by α·T² (14.4), the form most later KD code uses.
    case code2018 = "2018"

    public var description: String { rawValue }

    /// The weight of KL_B with `classes` classes.
    public func klWeight(temperature: Float, alpha: Float, classes: Int) -> Float {
        switch self {
        case .code2017: return alpha * temperature * temperature * 2 / Float(classes)
        case .code2018: return alpha * temperature * temperature
        }
    }
}

/// How a transfer weight β changes over the epochs (docs/protocol.md §2, §3).
public enum BetaSchedule: Hashable, Sendable, CustomStringConvertible {
    /// β throughout.
    case constant
    /// β·factor^(epoch − 1).
    case perEpoch(Float)
    /// β times the learning rate's factor of the epoch: multiplied by the learning-rate decay at
    /// each milestone (the paper decays β but gives no schedule; this is ours, §8 `beta-decay`).
    case learningRate

    /// β in 1-indexed `epoch`, whose learning rate is `learningRateFactor` times the initial one.
    public func beta(_ beta: Float, epoch: Int, learningRateFactor: Float) -> Float {
        switch self {
        case .constant: return beta
        case .perEpoch(let factor): return beta * pow(factor, Float(epoch - 1))
        case .learningRate: return beta * learningRateFactor
        }
    }

    /// As specs write it: "lr", "constant", or the per-epoch factor.
    public var description: String {
        switch self {
        case .constant: return "constant"
        case .perEpoch(let f): return "\(f)"
        case .learningRate: return "lr"
        }
    }

    /// "lr", "constant", or a per-epoch factor in (0, 1] (1 is constant); nil for anything else.
    public init?(_ text: String) {
        switch text {
        case "lr": self = .learningRate
        case "constant": self = .constant
        default:
            guard let f = Float(text), f > 0, f <= 1 else { return nil }
            self = f == 1 ? .constant : .perEpoch(f)
        }
    }
}

// The encoding every run identity hashes. Fields added after a method's first runs are left out
// where they have the value those runs computed with, so their keys stay: KD's form where it is
// 2018's, β's schedule where it is constant (AT+KD writes it as its older `betaDecay` factor:
// 1 for constant, the factor for a per-epoch decay), `groups` where nil.
extension Method: Codable {
    private enum Case: String, CodingKey { case ce, at, kd, atkd, factt, gradAT, minL2, symmetry }
    private enum Key: String, CodingKey { case mapping, beta, groups, temperature, alpha, form, betaDecay, betaSchedule }

    public func encode(to encoder: Encoder) throws {
        var outer = encoder.container(keyedBy: Case.self)
        func kd(_ c: inout KeyedEncodingContainer<Key>, _ t: Float, _ a: Float, _ form: KDForm) throws {
            try c.encode(t, forKey: .temperature)
            try c.encode(a, forKey: .alpha)
            if form != .code2018 { try c.encode(form, forKey: .form) }
        }
        func schedule(_ c: inout KeyedEncodingContainer<Key>, _ s: BetaSchedule, alwaysDecay: Bool) throws {
            switch s {
            case .constant: if alwaysDecay { try c.encode(Float(1), forKey: .betaDecay) }
            case .perEpoch(let f): try c.encode(f, forKey: .betaDecay)
            case .learningRate: try c.encode("lr", forKey: .betaSchedule)
            }
        }
        switch self {
        case .ce:
            _ = outer.nestedContainer(keyedBy: Key.self, forKey: .ce)
        case .at(let mapping, let beta, let groups):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .at)
            try c.encode(mapping, forKey: .mapping); try c.encode(beta, forKey: .beta); try c.encodeIfPresent(groups, forKey: .groups)
        case .kd(let t, let a, let form):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .kd)
            try kd(&c, t, a, form)
        case .atkd(let mapping, let beta, let t, let a, let s, let form, let groups):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .atkd)
            try c.encode(mapping, forKey: .mapping); try c.encode(beta, forKey: .beta); try c.encodeIfPresent(groups, forKey: .groups)
            try kd(&c, t, a, form)
            try schedule(&c, s, alwaysDecay: true)
        case .factt(let beta, let s):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .factt)
            try c.encode(beta, forKey: .beta)
            try schedule(&c, s, alwaysDecay: false)
        case .gradAT(let beta):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .gradAT)
            try c.encode(beta, forKey: .beta)
        case .minL2(let beta):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .minL2)
            try c.encode(beta, forKey: .beta)
        case .symmetry(let beta):
            var c = outer.nestedContainer(keyedBy: Key.self, forKey: .symmetry)
            try c.encode(beta, forKey: .beta)
        }
    }

    public init(from decoder: Decoder) throws {
        let outer = try decoder.container(keyedBy: Case.self)
        guard let which = outer.allKeys.first, outer.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a method is one of \(MethodKind.allCases)"))
        }
        let c = try outer.nestedContainer(keyedBy: Key.self, forKey: which)
        func form() throws -> KDForm { try c.decodeIfPresent(KDForm.self, forKey: .form) ?? .code2018 }
        func schedule() throws -> BetaSchedule {
            if try c.decodeIfPresent(String.self, forKey: .betaSchedule) == "lr" { return .learningRate }
            let decay = try c.decodeIfPresent(Float.self, forKey: .betaDecay) ?? 1
            return decay == 1 ? .constant : .perEpoch(decay)
        }
        switch which {
        case .ce: self = .ce
        case .at:
            self = .at(mapping: try c.decode(Mapping.self, forKey: .mapping), beta: try c.decode(Float.self, forKey: .beta),
                       groups: try c.decodeIfPresent([Int].self, forKey: .groups))
        case .kd:
            self = .kd(temperature: try c.decode(Float.self, forKey: .temperature), alpha: try c.decode(Float.self, forKey: .alpha),
                       form: try form())
        case .atkd:
            self = .atkd(mapping: try c.decode(Mapping.self, forKey: .mapping), beta: try c.decode(Float.self, forKey: .beta),
                         temperature: try c.decode(Float.self, forKey: .temperature), alpha: try c.decode(Float.self, forKey: .alpha),
                         schedule: try schedule(), form: try form(), groups: try c.decodeIfPresent([Int].self, forKey: .groups))
        case .factt: self = .factt(beta: try c.decode(Float.self, forKey: .beta), schedule: try schedule())
        case .gradAT: self = .gradAT(beta: try c.decode(Float.self, forKey: .beta))
        case .minL2: self = .minL2(beta: try c.decode(Float.self, forKey: .beta))
        case .symmetry: self = .symmetry(beta: try c.decode(Float.self, forKey: .beta))
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
/// One case per method; each family's loss is one small function below. `teacherOutput`: the
/// teacher's forward on `input` when computed already (`teacherForward`, shared by the students
/// of a cohort); nil: computed here.
public func objective(_ method: Method, student: Model, teacher: Model?, input: Tensor, labels: [Int],
                      mode: Mode = .train, adapters: [Variable?] = [], teacherOutput: ModelOutput? = nil) throws -> Objective {
    func teacherModel() throws -> Model {
        guard let teacher else { throw TrainingError.missingTeacher(method: method.kind) }
        return teacher
    }
    let batch = BatchInput(student: student, input: input, labels: labels, mode: mode, teacherOutput: teacherOutput)
    switch method {
    case .ce:
        return batch.crossEntropyOnly()
    case .at(let mapping, let beta, let groups):
        return try batch.distilled(from: try teacherModel()) { s, t, ce in
            let at = try matchedAttentionLoss(s.groups, t.groups, mapping, groups: groups)
            return (ce + at * beta, ["at": at.value.scalar])
        }
    case .kd(let temperature, let alpha, let form):
        return try batch.distilled(from: try teacherModel()) { s, t, _ in
            let kd = distillationLoss(student: s.logits, teacher: t.logits, labels: labels, temperature: temperature, alpha: alpha, form: form)
            return (kd, ["kd": kd.value.scalar])
        }
    case .atkd(let mapping, let beta, let temperature, let alpha, _, let form, let groups):
        return try batch.distilled(from: try teacherModel()) { s, t, _ in
            let kd = distillationLoss(student: s.logits, teacher: t.logits, labels: labels, temperature: temperature, alpha: alpha, form: form)
            let at = try matchedAttentionLoss(s.groups, t.groups, mapping, groups: groups)
            return (kd + at * beta, ["kd": kd.value.scalar, "at": at.value.scalar])
        }
    case .factt(let beta, _):
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

/// The frozen teacher's forward on `input`: eval mode, no graph (what the distillation methods
/// read from it).
public func teacherForward(_ teacher: Model, _ input: Tensor) -> ModelOutput {
    GradMode.withoutGraph { teacher.forward(Variable(input), mode: .eval, requiresGrad: false).output }
}

/// One batch as the objectives see it: the student, its input and labels, and its mode.
struct BatchInput {
    let student: Model
    let input: Tensor
    let labels: [Int]
    let mode: Mode
    let teacherOutput: ModelOutput?

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
        let t = teacherOutput ?? teacherForward(teacher, input)
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
        case .atkd: return [.beta, .temperature, .alpha]
        }
    }

    /// Whether it matches attention maps, so takes a `mapping` and `groups`.
    public var takesAttentionMaps: Bool {
        switch self {
        case .at, .atkd: return true
        case .ce, .kd, .factt, .gradAT, .minL2, .symmetry: return false
        }
    }

    /// Whether it distils the teacher's logits, so takes KD's form.
    public var takesKDForm: Bool {
        switch self {
        case .kd, .atkd: return true
        case .ce, .at, .factt, .gradAT, .minL2, .symmetry: return false
        }
    }

    /// Whether its β follows a schedule over the epochs.
    public var takesBetaSchedule: Bool {
        switch self {
        case .atkd, .factt: return true
        case .ce, .at, .kd, .gradAT, .minL2, .symmetry: return false
        }
    }

    /// Whether all it takes from the teacher is its forward in eval mode (logits and groups), which
    /// the students of a cohort share (`Cohort`); grad-AT takes the teacher's input gradient.
    public var readsTeacherForward: Bool {
        switch self {
        case .at, .kd, .atkd, .factt: return true
        case .ce, .gradAT, .minL2, .symmetry: return false
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
    /// the gradient-based methods.
    public func defaultValue(_ h: Hyperparameter) -> Float {
        switch h {
        case .beta:
            switch self {
            case .gradAT, .minL2, .symmetry: return 2000
            case .ce, .at, .kd, .atkd, .factt: return 1000
            }
        case .temperature: return 4
        case .alpha: return 0.9
        }
    }

    /// KD's form unless a spec says: the one that produced the paper's numbers (docs/protocol.md §2).
    public static let defaultKDForm = KDForm.code2017
    /// β's schedule unless a spec says: β decays, as the paper says it did for AT+KD and F-ActT,
    /// with the learning rate (our choice of schedule, docs/protocol.md §8 `beta-decay`).
    public static let defaultBetaSchedule = BetaSchedule.learningRate
}

/// A numeric hyperparameter, by its name in specs.
public enum Hyperparameter: String, CaseIterable, Sendable, CustomStringConvertible {
    case beta, temperature, alpha
    public var description: String { rawValue }
}

extension Method {
    /// Builds a method of `kind` from its mapping, hyperparameters (defaults for those not given)
    /// and, for the kinds that match attention maps, the 0-based groups to match (nil: all). What
    /// the kind does not take, and groups that are empty, repeated or negative, are errors that
    /// say what is accepted: the one place a method is validated.
    public init(kind: MethodKind, mapping: Mapping? = nil, hyperparameters: [Hyperparameter: Float] = [:], groups: [Int]? = nil,
                schedule: BetaSchedule? = nil, kdForm: KDForm? = nil) throws {
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
        if schedule != nil && !kind.takesBetaSchedule { throw MethodError.betaDecayNotTaken(method: kind) }
        if kdForm != nil && !kind.takesKDForm { throw MethodError.kdFormNotTaken(method: kind) }
        let schedule = schedule ?? MethodKind.defaultBetaSchedule, form = kdForm ?? MethodKind.defaultKDForm
        func value(_ h: Hyperparameter) -> Float { hyperparameters[h] ?? kind.defaultValue(h) }
        let mapping = mapping ?? .sum2
        switch kind {
        case .ce: self = .ce
        case .at: self = .at(mapping: mapping, beta: value(.beta), groups: groups)
        case .kd: self = .kd(temperature: value(.temperature), alpha: value(.alpha), form: form)
        case .atkd: self = .atkd(mapping: mapping, beta: value(.beta), temperature: value(.temperature), alpha: value(.alpha),
                                 schedule: schedule, form: form, groups: groups)
        case .factt: self = .factt(beta: value(.beta), schedule: schedule)
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
    case betaDecayNotTaken(method: MethodKind)
    case kdFormNotTaken(method: MethodKind)

    public var description: String {
        switch self {
        case .hyperparameterNotTaken(let m, let h):
            let takes = m.hyperparameters.map(\.rawValue)
            return "method '\(m)' does not take '\(h)'; it takes: \(takes.isEmpty ? "none" : takes.joined(separator: ", "))"
        case .mappingNotTaken(let m): return "method '\(m)' does not take a mapping; only at and at+kd match attention maps"
        case .groupsNotTaken(let m): return "method '\(m)' does not take groups; only at and at+kd match attention maps"
        case .badGroups(let g): return "groups \(g): give distinct 0-based group indices"
        case .betaDecayNotTaken(let m): return "method '\(m)' does not take a beta_decay; only at+kd and factt decay their β"
        case .kdFormNotTaken(let m): return "method '\(m)' does not take a kd_form; only kd and at+kd distil the teacher's logits"
        }
    }
}
