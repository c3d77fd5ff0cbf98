// Stochastic gradient descent exactly as torch.optim.SGD with momentum, dampening 0, no
// Nesterov: d = g + wd·p; buf = d on the first step, else momentum·buf + d; p −= lr·buf.
import Tensor

public struct SGD {
    public var momentum: Float
    public var weightDecay: Float
    /// Momentum buffers by parameter name; absent until a parameter's first step.
    public var buffers: [String: Tensor] = [:]

    public init(momentum: Float, weightDecay: Float) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// A new optimiser (as the official code creates at each learning-rate drop): buffers reset.
    public mutating func resetMomentum() { buffers = [:] }

    public mutating func step(_ name: String, parameter p: inout Tensor, gradient g: Tensor, learningRate lr: Float) {
        precondition(p.shape == g.shape, "SGD: gradient \(g.shape) for parameter '\(name)' \(p.shape)")
        let wd = weightDecay, mom = momentum
        var buf = buffers[name] ?? Tensor(zeros: [])
        let first = buf.count != p.count
        if first { buf = Tensor(zeros: p.shape) }
        p.data.withUnsafeMutableBufferPointer { pp in
            g.data.withUnsafeBufferPointer { gp in
                buf.data.withUnsafeMutableBufferPointer { bp in
                    for i in 0..<pp.count {
                        let d = gp[i] + wd * pp[i]
                        let b = first ? d : mom * bp[i] + d
                        bp[i] = b
                        pp[i] -= lr * b
                    }
                }
            }
        }
        buffers[name] = buf
    }
}
