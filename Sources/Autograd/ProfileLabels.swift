// The graph's op kinds, and the profile labels (see `Tensor.Profiler`) by layer kind: what
// `atx bench` reports as the share of a training step per kind. Both are enums so that a
// renamed op or label is a compile error, not a column that silently reads 0%.
import Tensor

/// The kind of a recorded op (`Variable.record`); its raw value names the op's output.
public enum Op: String, CaseIterable, Sendable {
    case sumToShape, broadcast, reshape
    case add, sub, mul, div, scale, addScalar, maximum, clampMin
    case pow, abs, sqrt, exp, log, relu, reluBackward
    case sum, sumAxis, maxAxis
    case logSoftmax, softmax, norm
    case matmul
    case conv2d, conv2dBackwardInput, conv2dBackwardWeight
    case maxPool2d, scatterAdd, gather, avgPool2d, avgPool2dBackward, flip
    case batchNorm, batchNormEval, batchNormReLU, batchNormReLUEval
    /// An op defined outside this module (tests' deliberately wrong gradients).
    case custom

    /// The ops that keep a raw first-order kernel (`fast:`) beside their rule, because it is a
    /// genuinely different computation: batch norm's training backward, one fused pass (with
    /// ReLU's mask applied inside) instead of the rule's dozen elementwise ops and reductions.
    /// `OpGradientTests.testFastKernelsEqualTheirRules` covers every op listed here.
    public static let fastKernels: Set<Op> = [.batchNorm, .batchNormReLU]

    /// The label an op's forward (or, with `backward`, its vector-Jacobian product) is charged to.
    public func profileLabel(backward: Bool) -> ProfileLabel {
        switch self {
        case .conv2d, .conv2dBackwardInput, .conv2dBackwardWeight: return backward ? .convBackward : .convForward
        case .batchNorm, .batchNormEval, .batchNormReLU, .batchNormReLUEval: return backward ? .batchNormBackward : .batchNormForward
        case .relu, .reluBackward: return backward ? .reluBackward : .reluForward
        case .maxPool2d, .avgPool2d, .avgPool2dBackward, .scatterAdd, .gather: return backward ? .poolingBackward : .poolingForward
        case .add: return backward ? .addBackward : .addForward
        case .matmul: return backward ? .linearBackward : .linearForward
        case .sumToShape, .broadcast, .reshape, .sub, .mul, .div, .scale, .addScalar, .maximum, .clampMin,
             .pow, .abs, .sqrt, .exp, .log, .sum, .sumAxis, .maxAxis, .logSoftmax, .softmax, .norm, .flip, .custom:
            return backward ? .otherBackward : .otherForward
        }
    }
}

/// A profile label: the graph's ops by kind (`Op.profileLabel`), plus the training step's other
/// timed regions.
public enum ProfileLabel: String, CaseIterable, Sendable {
    case convForward = "conv forward", convBackward = "conv backward"
    case batchNormForward = "BN(+ReLU) forward", batchNormBackward = "BN(+ReLU) backward"
    case reluForward = "ReLU forward", reluBackward = "ReLU backward"
    case poolingForward = "pooling forward", poolingBackward = "pooling backward"
    case addForward = "add forward", addBackward = "add backward"
    case linearForward = "linear forward", linearBackward = "linear backward"
    case otherForward = "loss & other ops forward", otherBackward = "loss & other ops backward"
    case autogradBookkeeping = "autograd bookkeeping"
    case optimizer, data
}
