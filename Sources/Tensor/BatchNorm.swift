// Batch normalisation over (N, H, W) per channel, as PyTorch's BatchNorm2d (also used for
// [N, C] inputs, with H = W = 1). Train: batch statistics (biased variance to normalise, the
// unbiased one for the running average, momentum 0.1). Eval: running statistics.
//
// The kernels are memory-bound, so every pass walks the tensor in storage order (sample by
// sample, all channels), which the hardware prefetchers follow; per-channel sums are kept per
// chunk of samples (SIMD sums of each plane in Float, accumulated in Double) and added in chunk
// order, so results depend only on the thread count.

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

    /// For each channel, Σ over samples of `plane(b, ch)` (a per-plane sum, or two of them),
    /// over chunks of samples in parallel, added in chunk order.
    static func channelSums(n: Int, c: Int, l: Int, _ plane: (_ b: Int, _ ch: Int) -> (Float, Float)) -> ([Double], [Double]) {
        let chunks = Threads.chunks(n, costPerItem: c * l)
        var partial = [Double](repeating: 0, count: 2 * c * chunks)
        partial.withUnsafeMutableBufferPointer { pp in
            let pp = SendablePointer(pp.baseAddress!)
            Threads.forEachChunk(n, chunks: chunks) { chunk, samples in
                let s0 = pp.p + 2 * c * chunk, s1 = s0 + c
                for b in samples {
                    for ch in 0..<c {
                        let (a, d) = plane(b, ch)
                        s0[ch] += Double(a); s1[ch] += Double(d)
                    }
                }
            }
        }
        var first = [Double](repeating: 0, count: c), second = first
        for chunk in 0..<chunks {
            for ch in 0..<c { first[ch] += partial[2 * c * chunk + ch]; second[ch] += partial[2 * c * chunk + c + ch] }
        }
        return (first, second)
    }

    /// Training-mode batch norm, followed by max(·, 0) when `relu` (one pass instead of two).
    /// Updates `runningMean`/`runningVar` in place (momentum, unbiased variance).
    public static func batchNormTrain(_ x: Tensor, gamma: Tensor, beta: Tensor,
                                      runningMean: inout Tensor, runningVar: inout Tensor,
                                      momentum: Float = 0.1, eps: Float = 1e-5, relu: Bool = false) -> (Tensor, BatchNormStats) {
        let (n, c, l) = x.channelSplit(op: "batchNorm")
        precondition(gamma.shape == [c] && beta.shape == [c] && runningMean.shape == [c] && runningVar.shape == [c],
                     "batchNorm: input \(x.shape) has \(c) channels; gamma \(gamma.shape), beta \(beta.shape), running stats \(runningMean.shape)/\(runningVar.shape)")
        let m = n * l
        precondition(m > 1, "batchNorm: training mode needs more than one value per channel, input \(x.shape)")
        // Two passes: the mean, then the squared deviations from it.
        let (sums, _) = x.data.withUnsafeBufferPointer { px in
            let px = px.baseAddress!
            return channelSums(n: n, c: c, l: l) { b, ch in (Reduce.sum(px + (b * c + ch) * l, l), 0) }
        }
        let mean = sums.map { Float($0 / Double(m)) }
        let (squares, _) = x.data.withUnsafeBufferPointer { px in
            let px = px.baseAddress!
            return channelSums(n: n, c: c, l: l) { b, ch in (Reduce.sumOfSquares(px + (b * c + ch) * l, l, minus: mean[ch]), 0) }
        }
        let invStd = squares.map { Float(1 / ($0 / Double(m) + Double(eps)).squareRoot()) }
        for ch in 0..<c {
            runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
            runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(squares[ch] / Double(m - 1))
        }
        let stats = BatchNormStats(mean: mean, invStd: invStd)
        return (normalizeAffine(x, mean: mean, invStd: invStd, gamma: gamma, beta: beta, relu: relu), stats)
    }

    /// Eval-mode batch norm with running statistics, followed by max(·, 0) when `relu`.
    public static func batchNormEval(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                     eps: Float = 1e-5, relu: Bool = false) -> Tensor {
        let (_, c, _) = x.channelSplit(op: "batchNorm")
        precondition(gamma.shape == [c] && beta.shape == [c] && runningMean.shape == [c] && runningVar.shape == [c],
                     "batchNorm: input \(x.shape) has \(c) channels; gamma \(gamma.shape), beta \(beta.shape), running stats \(runningMean.shape)/\(runningVar.shape)")
        return normalizeAffine(x, mean: runningMean.data, invStd: runningVar.data.map { 1 / ($0 + eps).squareRoot() },
                               gamma: gamma, beta: beta, relu: relu)
    }

    /// y = (x − mean[c]) · invStd[c] · gamma[c] + beta[c], then max(y, 0) when `relu`.
    static func normalizeAffine(_ x: Tensor, mean: [Float], invStd: [Float], gamma: Tensor, beta: Tensor, relu: Bool) -> Tensor {
        let (n, c, l) = x.channelSplit(op: "batchNorm")
        let scale = (0..<c).map { invStd[$0] * gamma.data[$0] }
        let shift = (0..<c).map { beta.data[$0] - mean[$0] * scale[$0] }
        return Tensor(shape: x.shape) { out in
            let o = SendablePointer(out.baseAddress!)
            x.data.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                Threads.parallelFor(n * c, costPerItem: l) { planes in
                    for pl in planes {
                        let (a, b) = (scale[pl % c], shift[pl % c])
                        let s = px + pl * l, d = o.p + pl * l
                        if relu {
                            for i in 0..<l { d[i] = Swift.max(s[i] * a + b, 0) }
                        } else {
                            for i in 0..<l { d[i] = s[i] * a + b }
                        }
                    }
                }
            }
        }
    }

    /// Backward of training-mode batch norm: (dx, dgamma, dbeta). With `reluOutput` (the output
    /// of a fused BN-ReLU), dy is first masked by [output > 0], as ReLU's backward would.
    public static func batchNormTrainBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, stats: BatchNormStats,
                                              reluOutput: Tensor? = nil) -> (Tensor, Tensor, Tensor) {
        let (n, c, l) = x.channelSplit(op: "batchNormBackward")
        precondition(dy.shape == x.shape, "batchNormBackward: dy \(dy.shape) differs from x \(x.shape)")
        precondition(reluOutput.map { $0.shape == x.shape } ?? true, "batchNormBackward: ReLU output \(reluOutput!.shape) differs from x \(x.shape)")
        let m = Float(n * l), masked = reluOutput != nil
        var dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
        let dx = Tensor(shape: x.shape) { out in
            let o = SendablePointer(out.baseAddress!)
            x.data.withUnsafeBufferPointer { px in
                dy.data.withUnsafeBufferPointer { pg in
                    (reluOutput?.data ?? [0]).withUnsafeBufferPointer { py in
                        let px = px.baseAddress!, pg = pg.baseAddress!, py = py.baseAddress!
                        // Pass 1: Σ g and Σ g·(x − mean) per channel, where g is dy, or dy·[y > 0]
                        // kept in dx's storage for pass 2.
                        let (sg, sgxc) = channelSums(n: n, c: c, l: l) { b, ch in
                            let at = (b * c + ch) * l
                            var gs = pg + at
                            if masked {
                                let d = o.p + at, ys = py + at
                                for i in 0..<l { let mask: Float = ys[i] > 0 ? 1 : 0; d[i] = gs[i] * mask }
                                gs = UnsafePointer(d)
                            }
                            return (Reduce.sum(gs, l), Reduce.dot(gs, px + at, l, minus: stats.mean[ch]))
                        }
                        // Σ g·x̂ = invStd·Σ g·(x − mean).
                        let sgx = (0..<c).map { sgxc[$0] * Double(stats.invStd[$0]) }
                        for ch in 0..<c { dgamma[ch] = Float(sgx[ch]); dbeta[ch] = Float(sg[ch]) }
                        let k = (0..<c).map { gamma.data[$0] * stats.invStd[$0] }
                        let mg = sg.map { Float($0) / m }, mgx = sgx.map { Float($0) / m }
                        // Pass 2: dx = k·(g − mean(g) − x̂·mean(g·x̂)), in place over the masked
                        // gradient or from dy (separate loops: a maybe-aliased source would keep
                        // the loop from vectorising).
                        Threads.parallelFor(n * c, costPerItem: l) { planes in
                            for pl in planes {
                                let ch = pl % c
                                let (kc, mgc, mgxc, mu, istd) = (k[ch], mg[ch], mgx[ch], stats.mean[ch], stats.invStd[ch])
                                let xs = px + pl * l, d = o.p + pl * l
                                if masked {
                                    for i in 0..<l { d[i] = kc * (d[i] - mgc - (xs[i] - mu) * istd * mgxc) }
                                } else {
                                    let gs = pg + pl * l
                                    for i in 0..<l { d[i] = kc * (gs[i] - mgc - (xs[i] - mu) * istd * mgxc) }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, Tensor(shape: [c], data: dgamma), Tensor(shape: [c], data: dbeta))
    }
}
