// Batch normalisation over (N, H, W) per channel, as PyTorch's BatchNorm2d (also used for
// [N, C] inputs, with H = W = 1). Train: batch statistics (biased variance to normalise, the
// unbiased one for the running average, momentum 0.1). Eval: running statistics.

public struct BatchNormStats: Sendable {
    /// Per-channel batch mean and 1/sqrt(var + eps) used to normalise.
    public var mean: [Float]
    public var invStd: [Float]
}

extension Tensor {
    /// (outer N, channels C, inner H·W) of an [N, C, …] tensor.
    func channelSplit(op: String) -> (Int, Int, Int) {
        precondition(rank >= 2, "\(op): input must be [N, C, …], got \(shape)")
        return (shape[0], shape[1], shape[2...].reduce(1, *))
    }

    /// Training-mode batch norm. Updates `runningMean`/`runningVar` in place (momentum, unbiased variance).
    public static func batchNormTrain(_ x: Tensor, gamma: Tensor, beta: Tensor,
                                      runningMean: inout Tensor, runningVar: inout Tensor,
                                      momentum: Float = 0.1, eps: Float = 1e-5) -> (Tensor, BatchNormStats) {
        let (n, c, l) = x.channelSplit(op: "batchNorm")
        precondition(gamma.shape == [c] && beta.shape == [c] && runningMean.shape == [c] && runningVar.shape == [c],
                     "batchNorm: input \(x.shape) has \(c) channels; gamma \(gamma.shape), beta \(beta.shape), running stats \(runningMean.shape)/\(runningVar.shape)")
        let m = n * l
        precondition(m > 1, "batchNorm: training mode needs more than one value per channel, input \(x.shape)")
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        var unbiased = [Float](repeating: 0, count: c)
        x.data.withUnsafeBufferPointer { px in
            let mp = SendablePointer(&mean[0]), ip = SendablePointer(&invStd[0]), up = SendablePointer(&unbiased[0])
            let px = px.baseAddress!
            Threads.parallelFor(c, costPerItem: m) { chans in
                for ch in chans {
                    var s = 0.0
                    for b in 0..<n { let p = px + (b * c + ch) * l; for i in 0..<l { s += Double(p[i]) } }
                    let mu = s / Double(m)
                    var v = 0.0
                    for b in 0..<n { let p = px + (b * c + ch) * l; for i in 0..<l { let d = Double(p[i]) - mu; v += d * d } }
                    mp.p[ch] = Float(mu)
                    ip.p[ch] = Float(1 / (v / Double(m) + Double(eps)).squareRoot())
                    up.p[ch] = Float(v / Double(m - 1))
                }
            }
        }
        for ch in 0..<c {
            runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
            runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * unbiased[ch]
        }
        let stats = BatchNormStats(mean: mean, invStd: invStd)
        return (normalizeAffine(x, mean: mean, invStd: invStd, gamma: gamma, beta: beta), stats)
    }

    /// Eval-mode batch norm with running statistics.
    public static func batchNormEval(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                     eps: Float = 1e-5) -> Tensor {
        let (_, c, _) = x.channelSplit(op: "batchNorm")
        precondition(gamma.shape == [c] && beta.shape == [c] && runningMean.shape == [c] && runningVar.shape == [c],
                     "batchNorm: input \(x.shape) has \(c) channels; gamma \(gamma.shape), beta \(beta.shape), running stats \(runningMean.shape)/\(runningVar.shape)")
        return normalizeAffine(x, mean: runningMean.data, invStd: runningVar.data.map { 1 / ($0 + eps).squareRoot() },
                               gamma: gamma, beta: beta)
    }

    /// y = (x − mean[c]) · invStd[c] · gamma[c] + beta[c].
    static func normalizeAffine(_ x: Tensor, mean: [Float], invStd: [Float], gamma: Tensor, beta: Tensor) -> Tensor {
        let (n, c, l) = x.channelSplit(op: "batchNorm")
        return Tensor(shape: x.shape) { out in
            let o = SendablePointer(out.baseAddress!)
            x.data.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                Threads.parallelFor(n * c, costPerItem: l) { planes in
                    for pl in planes {
                        let ch = pl % c
                        let scale = invStd[ch] * gamma.data[ch], shift = beta.data[ch] - mean[ch] * scale
                        let s = px + pl * l, d = o.p + pl * l
                        for i in 0..<l { d[i] = s[i] * scale + shift }
                    }
                }
            }
        }
    }

    /// Backward of training-mode batch norm: (dx, dgamma, dbeta).
    public static func batchNormTrainBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, stats: BatchNormStats) -> (Tensor, Tensor, Tensor) {
        let (n, c, l) = x.channelSplit(op: "batchNormBackward")
        precondition(dy.shape == x.shape, "batchNormBackward: dy \(dy.shape) differs from x \(x.shape)")
        let m = Float(n * l)
        var dgamma = [Float](repeating: 0, count: c), dbeta = [Float](repeating: 0, count: c)
        let dx = Tensor(shape: x.shape) { out in
            let o = SendablePointer(out.baseAddress!)
            let gp = SendablePointer(&dgamma[0]), bp = SendablePointer(&dbeta[0])
            x.data.withUnsafeBufferPointer { px in
                dy.data.withUnsafeBufferPointer { pg in
                    let px = px.baseAddress!, pg = pg.baseAddress!
                    Threads.parallelFor(c, costPerItem: n * l) { chans in
                        for ch in chans {
                            let mu = stats.mean[ch], istd = stats.invStd[ch]
                            var sg = 0.0, sgx = 0.0
                            for b in 0..<n {
                                let xs = px + (b * c + ch) * l, gs = pg + (b * c + ch) * l
                                for i in 0..<l { sg += Double(gs[i]); sgx += Double(gs[i] * ((xs[i] - mu) * istd)) }
                            }
                            gp.p[ch] = Float(sgx); bp.p[ch] = Float(sg)
                            let k = gamma.data[ch] * istd
                            let mg = Float(sg) / m, mgx = Float(sgx) / m
                            for b in 0..<n {
                                let xs = px + (b * c + ch) * l, gs = pg + (b * c + ch) * l, d = o.p + (b * c + ch) * l
                                for i in 0..<l { d[i] = k * (gs[i] - mg - (xs[i] - mu) * istd * mgx) }
                            }
                        }
                    }
                }
            }
        }
        return (dx, Tensor(shape: [c], data: dgamma), Tensor(shape: [c], data: dbeta))
    }
}
