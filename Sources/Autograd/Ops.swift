// Differentiable ops. Each forward sits next to its gradient rule, a vector-Jacobian product
// built from ops in this file, so any gradient can be differentiated again; the same rule, run
// with recording off, is the first-order backward (see `Variable.record`). Rules check
// `requiresGrad` where that skips work, and reuse the forward's output `y` where it helps.
import Tensor
import Foundation

// MARK: - Elementwise arithmetic with broadcasting

extension Variable {
    /// Sums `g` down to `shape` (the adjoint of broadcasting).
    public func sum(toShape target: [Int]) -> Variable {
        if shape == target { return self }
        let from = shape
        return .record(.sumToShape, value.sum(toShape: target), inputs: [self], vjp: { g, _ in [g.broadcast(to: from)] })
    }

    public func broadcast(to target: [Int]) -> Variable {
        if shape == target { return self }
        let from = shape
        return .record(.broadcast, value.broadcast(to: target), inputs: [self], vjp: { g, _ in [g.sum(toShape: from)] })
    }

    public func reshaped(_ newShape: [Int]) -> Variable {
        if shape == newShape { return self }
        let from = shape
        return .record(.reshape, value.reshaped(newShape), inputs: [self], vjp: { g, _ in [g.reshaped(from)] })
    }

    public static func + (a: Variable, b: Variable) -> Variable {
        .record(.add, Tensor.binary(a.value, b.value, .add), inputs: [a, b],
                vjp: { g, _ in [a.requiresGrad ? g.sum(toShape: a.shape) : nil, b.requiresGrad ? g.sum(toShape: b.shape) : nil] })
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        .record(.sub, Tensor.binary(a.value, b.value, .sub), inputs: [a, b],
                vjp: { g, _ in [a.requiresGrad ? g.sum(toShape: a.shape) : nil, b.requiresGrad ? (-g).sum(toShape: b.shape) : nil] })
    }

    public static prefix func - (a: Variable) -> Variable { a * -1 }

    public static func * (a: Variable, b: Variable) -> Variable {
        .record(.mul, Tensor.binary(a.value, b.value, .mul), inputs: [a, b],
                vjp: { g, _ in [a.requiresGrad ? (g * b).sum(toShape: a.shape) : nil,
                                b.requiresGrad ? (g * a).sum(toShape: b.shape) : nil] })
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        .record(.div, Tensor.binary(a.value, b.value, .div), inputs: [a, b],
                vjp: { g, _ in [a.requiresGrad ? (g / b).sum(toShape: a.shape) : nil,
                                b.requiresGrad ? (-(g * a) / (b * b)).sum(toShape: b.shape) : nil] })
    }

    public static func * (a: Variable, s: Float) -> Variable {
        .record(.scale, a.value.scaled(by: s), inputs: [a], vjp: { g, _ in [g * s] })
    }
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }

    public static func + (a: Variable, s: Float) -> Variable {
        .record(.addScalar, a.value.map { $0 + s }, inputs: [a], vjp: { g, _ in [g] })
    }
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }

    /// Elementwise maximum; where a == b the gradient goes to a.
    public static func maximum(_ a: Variable, _ b: Variable) -> Variable {
        let shape = Tensor.broadcastShape(a.shape, b.shape, op: "maximum")
        let ab = a.value.broadcast(to: shape), bb = b.value.broadcast(to: shape)
        let maskA = Tensor(shape: shape, data: zip(ab.data, bb.data).map { $0 >= $1 ? 1 : 0 })
        let maskB = maskA.map { 1 - $0 }
        return .record(.maximum, Tensor.binary(a.value, b.value, .max), inputs: [a, b],
                       vjp: { g, _ in [a.requiresGrad ? (g * Variable(maskA)).sum(toShape: a.shape) : nil,
                                       b.requiresGrad ? (g * Variable(maskB)).sum(toShape: b.shape) : nil] })
    }

    /// max(x, s) elementwise with a constant; the gradient is g times the constant mask [x ≥ s].
    public func clamped(min s: Float) -> Variable {
        let x = value
        return .record(.clampMin, value.map { Swift.max($0, s) }, inputs: [self],
                       vjp: { g, _ in [g * Variable(x.map { $0 >= s ? 1 : 0 })] })
    }

    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Variable { pow(p, scale: 1) }

    /// scale · x^p for constants (one pass: the power rule's own form, so its rule is one op).
    public func pow(_ p: Float, scale s: Float) -> Variable {
        if p == 1 { return s == 1 ? self : self * s }
        let x = self
        return .record(.pow, value.pow(p, scale: s), inputs: [self],
                       vjp: { g, _ in [p == 0 ? nil : g * x.pow(p - 1, scale: s * p)] })
    }

    public func abs() -> Variable {
        let sign = value.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        return .record(.abs, value.map { Swift.abs($0) }, inputs: [self], vjp: { g, _ in [g * Variable(sign)] })
    }

    /// √x; the gradient g / (2y) reuses the output y.
    public func sqrt() -> Variable {
        .record(.sqrt, value.map { $0.squareRoot() }, inputs: [self], vjp: { g, y in [g / (y * 2)] })
    }

    /// eˣ; the gradient g·y reuses the output y.
    public func exp() -> Variable {
        .record(.exp, value.map { expf($0) }, inputs: [self], vjp: { g, y in [g * y] })
    }

    public func log() -> Variable {
        let x = self
        return .record(.log, value.map { logf($0) }, inputs: [self], vjp: { g, _ in [g / x] })
    }

    /// max(x, 0); the gradient is g times the constant mask [x > 0], read off the output.
    public func relu() -> Variable {
        .record(.relu, value.relu(), inputs: [self], vjp: { g, y in [g.maskedByPositive(of: y.value)] })
    }

    /// g · [y > 0] for a constant y, in one pass without materialising the mask (ReLU's
    /// backward); linear in g, so its own rule is the same product.
    public func maskedByPositive(of y: Tensor) -> Variable {
        .record(.reluBackward, Tensor.reluBackward(value, output: y), inputs: [self],
                vjp: { g, _ in [g.maskedByPositive(of: y)] })
    }
}

// MARK: - Reductions

extension Variable {
    /// Sum of all elements, a scalar of shape [].
    public func sum() -> Variable {
        let from = shape
        return .record(.sum, Tensor(scalar: value.sum()), inputs: [self], vjp: { g, _ in [g.broadcast(to: from)] })
    }

    public func mean() -> Variable { sum() * (1 / Float(Swift.max(value.count, 1))) }

    public func sum(axis: Int, keepDims: Bool = false) -> Variable {
        let from = shape
        var kept = shape
        precondition(axis >= 0 && axis < shape.count, "sum(axis:): axis \(axis) out of range for shape \(shape)")
        kept[axis] = 1
        return .record(.sumAxis, value.sum(axis: axis, keepDims: keepDims), inputs: [self],
                       vjp: { g, _ in [g.reshaped(kept).broadcast(to: from)] })
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Variable {
        sum(axis: axis, keepDims: keepDims) * (1 / Float(shape[axis]))
    }

    /// Maximum over an axis; the gradient goes to the first maximum.
    public func max(axis: Int, keepDims: Bool = false) -> Variable {
        let from = shape
        var kept = shape
        precondition(axis >= 0 && axis < shape.count, "max(axis:): axis \(axis) out of range for shape \(shape)")
        kept[axis] = 1
        let mask = Variable(value.argmaxMask(axis: axis))
        return .record(.maxAxis, value.max(axis: axis, keepDims: keepDims).values, inputs: [self],
                       vjp: { g, _ in [g.reshaped(kept).broadcast(to: from) * mask] })
    }
}

// MARK: - Softmax family and losses

extension Variable {
    public func logSoftmax(axis: Int) -> Variable {
        let z = self
        return .record(.logSoftmax, value.logSoftmax(axis: axis), inputs: [self],
                       vjp: { g, _ in [g - z.softmax(axis: axis) * g.sum(axis: axis, keepDims: true)] })
    }

    /// The gradient y·(g − Σ g·y) reuses the output y.
    public func softmax(axis: Int) -> Variable {
        .record(.softmax, value.softmax(axis: axis), inputs: [self],
                vjp: { g, y in [y * (g - (g * y).sum(axis: axis, keepDims: true))] })
    }

    /// x / max(‖x‖₂, eps) along `axis` (PyTorch's F.normalize).
    public func normalized(axis: Int, eps: Float = 1e-12) -> Variable {
        self / norm(axis: axis, keepDims: true).clamped(min: eps)
    }

    /// ‖x‖₂ along `axis`. The gradient g·x / y reuses the output y; at a zero vector it is zero
    /// (as PyTorch's norm).
    public func norm(axis: Int, keepDims: Bool = false) -> Variable {
        let x = self
        var kept = shape
        kept[axis] = 1
        let n = value.pow(2).sum(axis: axis, keepDims: keepDims).map { $0.squareRoot() }
        return .record(.norm, n, inputs: [self],
                       vjp: { g, y in [g.reshaped(kept) * x / y.reshaped(kept).clamped(min: 1e-30)] })
    }
}

/// Cross-entropy of logits [N, K] against integer labels, averaged over the batch.
public func crossEntropy(_ logits: Variable, labels: [Int]) -> Variable {
    precondition(logits.shape.count == 2 && logits.shape[0] == labels.count,
                 "crossEntropy: logits \(logits.shape) must be [N, K] with N = \(labels.count) labels")
    let k = logits.shape[1]
    var onehot = Tensor(zeros: logits.shape)
    for (i, l) in labels.enumerated() {
        precondition(l >= 0 && l < k, "crossEntropy: label \(l) at index \(i) outside 0..<\(k)")
        onehot.data[i * k + l] = 1
    }
    return -(logits.logSoftmax(axis: 1) * Variable(onehot)).sum() / Float(labels.count)
}

/// Σ_b KL(softmax(t_b/T) ‖ softmax(s_b/T)) / B: summed over classes, divided by the batch size
/// (docs/protocol.md §2). `teacher` is normally a constant (no graph).
public func klDivergence(student: Variable, teacher: Variable, temperature: Float) -> Variable {
    precondition(student.shape == teacher.shape && student.shape.count == 2,
                 "klDivergence: student \(student.shape) and teacher \(teacher.shape) must both be [N, K]")
    let logP = (teacher / temperature).logSoftmax(axis: 1)
    let logQ = (student / temperature).logSoftmax(axis: 1)
    return (logP.exp() * (logP - logQ)).sum() / Float(student.shape[0])
}

// MARK: - Linear algebra

extension Variable {
    /// op(a) · op(b) for 2-D variables.
    public static func matmul(_ a: Variable, _ b: Variable, transA: Bool = false, transB: Bool = false) -> Variable {
        .record(.matmul, Tensor.matmul(a.value, b.value, transA: transA, transB: transB), inputs: [a, b],
                vjp: { g, _ in
                    // C = A·B: dA = G·Bᵀ, dB = Aᵀ·G (with the transposes folded in).
                    let da: Variable? = a.requiresGrad ? (transA ? matmul(b, g, transA: transB, transB: true)
                                                                 : matmul(g, b, transB: !transB)) : nil
                    let db: Variable? = b.requiresGrad ? (transB ? matmul(g, a, transA: true, transB: transA)
                                                                 : matmul(a, g, transA: !transA)) : nil
                    return [da, db]
                })
    }
}

/// y = x·wᵀ + b: x [N, in], w [out, in], b [out].
public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    precondition(x.shape.count == 2 && weight.shape.count == 2 && x.shape[1] == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
    let y = Variable.matmul(x, weight, transB: true)
    guard let bias else { return y }
    precondition(bias.shape == [weight.shape[0]], "linear: bias \(bias.shape) does not match weight \(weight.shape)")
    return y + bias
}

// MARK: - Convolution (three ops closed under differentiation)
// Each rule calls the other two ops, which run the same Tensor kernels (and so the same
// algorithm choice, Winograd included) a raw backward would.

/// conv2d(x, w): x [N, C, H, W], w [O, C, KH, KW] → [N, O, OH, OW].
public func conv2d(_ x: Variable, _ w: Variable, stride: Int = 1, padding: Int = 0) -> Variable {
    let y = Tensor.conv2d(x.value, w.value, stride: stride, padding: padding)
    return .record(.conv2d, y, inputs: [x, w],
                   vjp: { g, _ in [x.requiresGrad ? conv2dBackwardInput(g, w, inputShape: x.shape, stride: stride, padding: padding) : nil,
                                   w.requiresGrad ? conv2dBackwardWeight(g, x, weightShape: w.shape, stride: stride, padding: padding) : nil] })
}

/// The transposed convolution that is conv2d's input gradient; linear in dy and in w.
public func conv2dBackwardInput(_ dy: Variable, _ w: Variable, inputShape: [Int], stride: Int, padding: Int) -> Variable {
    let dx = Tensor.conv2dBackwardInput(dy.value, w.value, inputShape: inputShape, stride: stride, padding: padding)
    return .record(.conv2dBackwardInput, dx, inputs: [dy, w],
                   vjp: { g, _ in [dy.requiresGrad ? conv2d(g, w, stride: stride, padding: padding) : nil,
                                   w.requiresGrad ? conv2dBackwardWeight(dy, g, weightShape: w.shape, stride: stride, padding: padding) : nil] })
}

/// conv2d's weight gradient; linear in dy and in x.
public func conv2dBackwardWeight(_ dy: Variable, _ x: Variable, weightShape: [Int], stride: Int, padding: Int) -> Variable {
    let dw = Tensor.conv2dBackwardWeight(dy.value, x.value, weightShape: weightShape, stride: stride, padding: padding)
    return .record(.conv2dBackwardWeight, dw, inputs: [dy, x],
                   vjp: { g, _ in [dy.requiresGrad ? conv2d(x, g, stride: stride, padding: padding) : nil,
                                   x.requiresGrad ? conv2dBackwardInput(dy, g, inputShape: x.shape, stride: stride, padding: padding) : nil] })
}

/// Adds a per-channel bias b [C] to x [N, C, …].
public func addChannelBias(_ x: Variable, _ b: Variable) -> Variable {
    precondition(x.shape.count >= 2 && b.shape == [x.shape[1]], "addChannelBias: bias \(b.shape) does not match channels of \(x.shape)")
    var bshape = [Int](repeating: 1, count: x.shape.count)
    bshape[1] = x.shape[1]
    return x + b.reshaped(bshape)
}

// MARK: - Pooling and flips

/// Max pool; its VJP scatters to the argmax positions, and that scatter's VJP gathers there.
/// Without a gradient to pass back (a frozen stem, a teacher) the indices are not computed.
public func maxPool2d(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0) -> Variable {
    guard GradMode.isEnabled, x.requiresGrad else {
        return .record(.maxPool2d, Tensor.maxPool2dValues(x.value, kernel: kernel, stride: stride, padding: padding), inputs: [x],
                       vjp: { _, _ in [nil] })
    }
    let (y, idx) = Tensor.maxPool2d(x.value, kernel: kernel, stride: stride, padding: padding)
    let xs = x.shape
    return .record(.maxPool2d, y, inputs: [x], vjp: { g, _ in [scatterAdd(g, indices: idx, shape: xs)] })
}

/// out[indices[i]] += g[i] into zeros of `shape`.
public func scatterAdd(_ g: Variable, indices: [Int32], shape: [Int]) -> Variable {
    let gs = g.shape
    return .record(.scatterAdd, Tensor.scatterAdd(g.value, indices: indices, shape: shape), inputs: [g],
                   vjp: { gg, _ in [gather(gg, indices: indices, shape: gs)] })
}

/// y[i] = x[indices[i]].
public func gather(_ x: Variable, indices: [Int32], shape: [Int]) -> Variable {
    let xs = x.shape
    return .record(.gather, Tensor.gather(x.value, indices: indices, shape: shape), inputs: [x],
                   vjp: { g, _ in [scatterAdd(g, indices: indices, shape: xs)] })
}

/// Average pool excluding padding from the count.
public func avgPool2d(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0) -> Variable {
    let xs = x.shape
    return .record(.avgPool2d, Tensor.avgPool2d(x.value, kernel: kernel, stride: stride, padding: padding), inputs: [x],
                   vjp: { g, _ in [avgPool2dBackward(g, inputShape: xs, kernel: kernel, stride: stride, padding: padding)] })
}

/// The adjoint of avgPool2d (its VJP is avgPool2d again).
public func avgPool2dBackward(_ g: Variable, inputShape: [Int], kernel: Int, stride: Int, padding: Int) -> Variable {
    .record(.avgPool2dBackward, Tensor.avgPool2dBackward(g.value, inputShape: inputShape, kernel: kernel, stride: stride, padding: padding),
            inputs: [g], vjp: { gg, _ in [avgPool2d(gg, kernel: kernel, stride: stride, padding: padding)] })
}

/// Mean over H and W: [N, C, H, W] → [N, C].
public func globalAvgPool(_ x: Variable) -> Variable {
    precondition(x.shape.count == 4, "globalAvgPool: input must be [N, C, H, W], got \(x.shape)")
    return x.reshaped([x.shape[0], x.shape[1], x.shape[2] * x.shape[3]]).mean(axis: 2)
}

/// Horizontal flip (reverses the last axis); its own adjoint.
public func flipHorizontal(_ x: Variable) -> Variable {
    .record(.flip, x.value.flippedLastAxis(), inputs: [x], vjp: { g, _ in [flipHorizontal(g)] })
}
