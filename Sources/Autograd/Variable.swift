// A define-by-run graph. Every op records its inputs and one gradient rule, a vector-Jacobian
// product written in differentiable ops: with `createGraph: true` it is evaluated with recording
// on, so the gradients can be differentiated again (as PyTorch's
// `torch.autograd.grad(..., create_graph=True)`); without, the same rule runs with recording off
// (every op in it returns a constant), as tinygrad's `gradient.py`. A separate raw kernel
// (`fast:`) exists only where it computes differently (`Op.fastKernels`).
import Tensor

/// A tensor in the graph: a leaf (parameter or input), a constant, or an op's output.
public final class Variable: @unchecked Sendable {
    public let value: Tensor
    /// Whether gradients flow to this variable (leaves marked so, or outputs of such).
    public let requiresGrad: Bool
    let node: Node?
    /// A label used in error messages (parameter names, op names).
    public let name: String

    /// A leaf. Parameters and inputs whose gradient is wanted pass `requiresGrad: true`.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String = "leaf") {
        self.value = value
        self.requiresGrad = requiresGrad
        self.node = nil
        self.name = name
    }

    init(value: Tensor, node: Node) {
        self.value = value
        self.requiresGrad = true
        self.node = node
        self.name = node.op.rawValue
    }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { node == nil }

    /// The same value, cut off from the graph.
    public func detached() -> Variable { Variable(value) }

    /// Records an op: `vjp` maps the output gradient `g` to one gradient per input (nil where
    /// the input needs none), using differentiable ops. It also receives the op's own output
    /// `y` (the recorded variable), so a rule can reuse the forward's result and stay
    /// differentiable (exp's is g·y) without the node holding its output. `fast`, allowed only
    /// for the ops in `Op.fastKernels`, is a raw kernel for the same first-order product, used
    /// when no graph of the gradient is requested.
    public static func record(_ op: Op, _ value: Tensor, inputs: [Variable],
                              vjp: @escaping (_ g: Variable, _ y: Variable) -> [Variable?],
                              fast: ((Tensor) -> [Tensor?])? = nil) -> Variable {
        Profiler.lap(op.profileLabel(backward: false).rawValue)
        assert(fast == nil || Op.fastKernels.contains(op), "autograd: op '\(op)' has a fast kernel but is not in Op.fastKernels")
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return Variable(value) }
        return Variable(value: value, node: Node(op: op, inputs: inputs, vjp: vjp, fast: fast))
    }
}

final class Node {
    let op: Op
    let inputs: [Variable]
    let vjp: (Variable, Variable) -> [Variable?]
    let fast: ((Tensor) -> [Tensor?])?
    init(op: Op, inputs: [Variable], vjp: @escaping (Variable, Variable) -> [Variable?], fast: ((Tensor) -> [Tensor?])?) {
        self.op = op; self.inputs = inputs; self.vjp = vjp; self.fast = fast
    }
}

/// Whether ops record a graph. Off inside `withoutGraph` (frozen networks such as the teacher).
public enum GradMode {
    @TaskLocal static var enabled = true
    @TaskLocal static var createGraph = false

    public static var isEnabled: Bool { enabled }

    /// Runs `body` with recording off: every op returns a constant, nothing is kept.
    public static func withoutGraph<T>(_ body: () throws -> T) rethrows -> T {
        try $enabled.withValue(false) { try body() }
    }
}

public enum AutogradError: Error, CustomStringConvertible, Equatable {
    case notScalar(shape: [Int])
    case notInGraph(name: String, shape: [Int])

    public var description: String {
        switch self {
        case .notScalar(let s): return "gradients(of:): the loss must be a single value, got shape \(s)"
        case .notInGraph(let n, let s):
            return "gradients(of:wrt:): '\(n)' \(s) is not part of the loss's graph (it does not require gradients or the loss does not depend on it)"
        }
    }
}

/// Gradients of a scalar `loss` with respect to `wrt`. With `createGraph`, the returned
/// gradients are themselves differentiable functions of the graph's leaves.
public func gradients(of loss: Variable, wrt: [Variable], createGraph: Bool = false,
                      allowUnused: Bool = false) throws -> [Variable] {
    guard loss.value.count == 1 else { throw AutogradError.notScalar(shape: loss.shape) }
    // Topological order of the nodes the loss depends on (iterative DFS).
    var order: [Variable] = []
    var seen = Set<ObjectIdentifier>()
    Profiler.measure(ProfileLabel.autogradBookkeeping.rawValue) {
        var stack: [(Variable, Int)] = []
        if loss.requiresGrad { stack.append((loss, 0)); seen.insert(ObjectIdentifier(loss)) }
        while let (v, i) = stack.popLast() {
            if let node = v.node, i < node.inputs.count {
                stack.append((v, i + 1))
                let child = node.inputs[i]
                if child.requiresGrad, seen.insert(ObjectIdentifier(child)).inserted { stack.append((child, 0)) }
            } else {
                order.append(v)
            }
        }
    }
    for w in wrt where !seen.contains(ObjectIdentifier(w)) && !allowUnused {
        throw AutogradError.notInGraph(name: w.name, shape: w.shape)
    }
    let wanted = Set(wrt.map { ObjectIdentifier($0) })

    func run() -> [Variable] {
        var grads: [ObjectIdentifier: Variable] = [ObjectIdentifier(loss): Variable(Tensor(repeating: 1, shape: loss.shape))]
        for v in order.reversed() {
            guard let node = v.node, let g = grads[ObjectIdentifier(v)] else { continue }
            if !wanted.contains(ObjectIdentifier(v)) { grads[ObjectIdentifier(v)] = nil }
            Profiler.measure(node.op.profileLabel(backward: true).rawValue) {
                // Without createGraph, recording is off here: the rule's ops return constants.
                let inputGrads: [Variable?]
                if !createGraph, let fast = node.fast {
                    inputGrads = fast(g.value).map { $0.map { Variable($0) } }
                } else {
                    inputGrads = node.vjp(g, v)
                }
                precondition(inputGrads.count == node.inputs.count, "autograd: op '\(node.op)' returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, gi) in zip(node.inputs, inputGrads) {
                    guard input.requiresGrad, let gi else { continue }
                    precondition(gi.shape == input.shape, "autograd: op '\(node.op)' gave a gradient of shape \(gi.shape) for input '\(input.name)' of shape \(input.shape)")
                    let key = ObjectIdentifier(input)
                    grads[key] = grads[key].map { $0 + gi } ?? gi
                }
            }
        }
        return wrt.map { grads[ObjectIdentifier($0)] ?? Variable(Tensor(zeros: $0.shape)) }
    }
    if createGraph {
        return GradMode.$enabled.withValue(true) { GradMode.$createGraph.withValue(true) { run() } }
    }
    return GradMode.$enabled.withValue(false) { run() }
}
