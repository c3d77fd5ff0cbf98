// Batch norm as an op, alone or fused with the ReLU that follows it in every network here
// (one pass forward, the ReLU mask applied inside BN's backward). The forward uses the fused
// kernels. The gradient rule is written in differentiable ops, so second order is exact too;
// in training mode the first-order backward keeps a fused raw kernel (`Op.fastKernels`), one
// pass where the rule takes a dozen.
import Tensor

/// x [N, C, …]; gamma, beta [C]. In training mode the running statistics are updated in place
/// (momentum 0.1, unbiased variance); in eval mode they normalise.
public func batchNorm(_ x: Variable, gamma: Variable, beta: Variable,
                      runningMean: inout Tensor, runningVar: inout Tensor,
                      training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Variable {
    batchNormOp(x, gamma: gamma, beta: beta, runningMean: &runningMean, runningVar: &runningVar,
                training: training, momentum: momentum, eps: eps, relu: false)
}

/// relu(batchNorm(x)) as one op: the same values and gradients, one pass less each way.
public func batchNormReLU(_ x: Variable, gamma: Variable, beta: Variable,
                          runningMean: inout Tensor, runningVar: inout Tensor,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Variable {
    batchNormOp(x, gamma: gamma, beta: beta, runningMean: &runningMean, runningVar: &runningVar,
                training: training, momentum: momentum, eps: eps, relu: true)
}

func batchNormOp(_ x: Variable, gamma: Variable, beta: Variable, runningMean: inout Tensor, runningVar: inout Tensor,
                 training: Bool, momentum: Float, eps: Float, relu: Bool) -> Variable {
    let shape = x.shape
    precondition(shape.count >= 2, "batchNorm: input must be [N, C, …], got \(shape)")
    let n = shape[0], c = shape[1], l = shape[2...].reduce(1, *)
    /// The gradient reaching BN: g, or g times ReLU's constant mask [y > 0].
    func beforeReLU(_ g: Variable, _ y: Tensor) -> Variable { relu ? g.maskedByPositive(of: y) : g }

    if !training {
        let y = Tensor.batchNormEval(x.value, gamma: gamma.value, beta: beta.value,
                                     runningMean: runningMean, runningVar: runningVar, eps: eps, relu: relu)
        let invStd = Variable(Tensor(shape: [1, c, 1], data: runningVar.data.map { 1 / ($0 + eps).squareRoot() }))
        let mean = Variable(Tensor(shape: [1, c, 1], data: runningMean.data))
        // Only the gradients wanted: a frozen BN layer (Table 4's fine-tuning) needs just dx,
        // one scaling of g, not x̂ and the two parameter sums.
        return .record(relu ? .batchNormReLUEval : .batchNormEval, y, inputs: [x, gamma, beta], vjp: { g, _ in
            let g3 = beforeReLU(g, y).reshaped([n, c, l])
            return [x.requiresGrad ? (g3 * gamma.reshaped([1, c, 1]) * invStd).reshaped(shape) : nil,
                    gamma.requiresGrad ? (g3 * ((x.reshaped([n, c, l]) - mean) * invStd)).sum(axis: 2).sum(axis: 0) : nil,
                    beta.requiresGrad ? g3.sum(axis: 2).sum(axis: 0) : nil]
        })
    }

    let (y, stats) = Tensor.batchNormTrain(x.value, gamma: gamma.value, beta: beta.value,
                                           runningMean: &runningMean, runningVar: &runningVar,
                                           momentum: momentum, eps: eps, relu: relu)
    return .record(relu ? .batchNormReLU : .batchNorm, y, inputs: [x, gamma, beta], vjp: { g, _ in
        // Differentiable form of the fused backward below.
        func channelMean(_ v: Variable) -> Variable { v.mean(axis: 2, keepDims: true).mean(axis: 0, keepDims: true) }
        let x3 = x.reshaped([n, c, l]), g3 = beforeReLU(g, y).reshaped([n, c, l])
        let d = x3 - channelMean(x3)
        let invStd = (channelMean(d * d) + eps).pow(-0.5)
        let xhat = d * invStd
        let dx = gamma.reshaped([1, c, 1]) * invStd * (g3 - channelMean(g3) - xhat * channelMean(g3 * xhat))
        return [dx.reshaped(shape), (g3 * xhat).sum(axis: 2).sum(axis: 0), g3.sum(axis: 2).sum(axis: 0)]
    }, fast: { g in
        let (dx, dgamma, dbeta) = Tensor.batchNormTrainBackward(g, x: x.value, gamma: gamma.value, beta: beta.value,
                                                                stats: stats, relu: relu)
        return [dx, dgamma, dbeta]
    })
}
