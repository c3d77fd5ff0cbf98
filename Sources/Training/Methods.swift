// The methods' losses (docs/protocol.md §1–4), as small functions over student outputs, teacher
// outputs and labels.
import Autograd
import NN
import Tensor

/// Attention mapping from a C×H×W activation to an H×W map (docs/protocol.md §1).
public enum Mapping: String, Sendable, Codable, CaseIterable {
    /// F_sum = Σ_c |A_c|, F_sum^2, F_sum^4, F_max^1 = max_c |A_c|.
    case sum1, sum2, sum4, max1
}

/// The per-sample L2-normalised attention map: a [N, C, H, W] → q̂ [N, H·W].
public func attention(_ a: Variable, mapping: Mapping) -> Variable {
    precondition(a.shape.count == 4, "attention: activation must be [N, C, H, W], got \(a.shape)")
    let map: Variable
    switch mapping {
    case .sum1: map = a.abs().sum(axis: 1)
    case .sum2: map = a.pow(2).sum(axis: 1)
    case .sum4: map = a.pow(4).sum(axis: 1)
    case .max1: map = a.abs().max(axis: 1)
    }
    return map.reshaped([a.shape[0], a.shape[2] * a.shape[3]]).normalized(axis: 1)
}

/// Mean over batch and positions of (q̂_S − q̂_T)² for one matched layer (the official code's form).
public func attentionLoss(student: Variable, teacher: Variable, mapping: Mapping) -> Variable {
    precondition(student.shape[0] == teacher.shape[0] && student.shape[2...] == teacher.shape[2...],
                 "attentionLoss: student \(student.shape) and teacher \(teacher.shape) differ in batch or spatial size")
    return (attention(student, mapping: mapping) - attention(teacher, mapping: mapping)).pow(2).mean()
}

/// w·KL_B + (1 − α)·CE(s, labels), KL_B = Σ_b KL(softmax(t_b/T) ‖ softmax(s_b/T))/B and w as `form`
/// says: α·T²·2/K (2017) or α·T² (2018), K the number of classes (docs/protocol.md §2).
public func distillationLoss(student: Variable, teacher: Variable, labels: [Int], temperature: Float, alpha: Float,
                             form: KDForm) -> Variable {
    klDivergence(student: student, teacher: teacher, temperature: temperature)
        * form.klWeight(temperature: temperature, alpha: alpha, classes: student.shape[1])
        + crossEntropy(student, labels: labels) * (1 - alpha)
}

/// Full-activation transfer for one layer (docs/protocol.md §3): mean squared difference of the
/// per-sample L2-normalised flattened activations.
public func activationLoss(student: Variable, teacher: Variable) -> Variable {
    precondition(student.shape == teacher.shape, "activationLoss: student \(student.shape) and teacher \(teacher.shape) differ (an adapter maps channels)")
    let n = student.shape[0], d = student.value.count / n
    return (student.reshaped([n, d]).normalized(axis: 1) - teacher.reshaped([n, d]).normalized(axis: 1)).pow(2).mean()
}

/// J = ∂CE(model(x), labels)/∂x. With `createGraph` J stays differentiable with respect to the
/// model's parameters (double backprop); without it, J is a constant (the frozen teacher's).
public typealias InputGradient = (j: Variable, ce: Variable, output: ModelOutput, parameters: [Variable])

public func inputGradient(of model: Model, input: Tensor, labels: [Int], mode: Mode,
                          trainable: Bool, createGraph: Bool) throws -> InputGradient {
    let x = Variable(input, requiresGrad: true, name: "input")
    let (out, params) = model.forward(x, mode: mode, requiresGrad: trainable)
    let ce = crossEntropy(out.logits, labels: labels)
    let j = try gradients(of: ce, wrt: [x], createGraph: createGraph)[0]
    return (j, ce, out, params)
}
