// Batch normalisation over (N, H, W) per channel, as PyTorch's BatchNorm2d (also used for
// [N, C] inputs, with H = W = 1). Train: batch statistics (biased variance to normalise, the
// unbiased one for the running average, momentum 0.1). Eval: running statistics.
//
// The kernels are memory-bound, so each reads the tensors as few times as it can, in storage
// order (sample by sample, all channels), which the hardware prefetchers follow; the loops over
// a plane are C (`atx_bn_*` in CKernels, AVX-512 / AVX2 / portable). Statistics are SIMD sums of
// each plane in Float, kept per plane and added per channel in Double in sample order
// afterwards, so results depend only on the machine's SIMD level, never on the thread count.

import CKernels

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

    /// `fill(planes, out)` over ranges of the planes p = b·C + ch of an [N, C, L] tensor, in
    /// parallel, each writing `count` floats per plane at out + count·p; then, per channel and
    /// for each of the `count` values, their sum over the samples in Double, in sample order.
    static func channelSums(n: Int, c: Int, l: Int, count: Int,
                            _ fill: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> [[Double]] {
        var planes = [Float](repeating: 0, count: n * c * count)
        planes.withUnsafeMutableBufferPointer { pp in
            let pp = SendablePointer(pp.baseAddress!)
            Threads.parallelFor(n * c, costPerItem: l) { range in fill(range, pp.p) }
        }
        return (0..<count).map { v in
            (0..<c).map { ch in (0..<n).reduce(0.0) { $0 + Double(planes[($1 * c + ch) * count + v]) } }
        }
    }

    /// A channel's scale and shift: BN(x) = x·scale + shift.
    static func affine(mean: [Float], invStd: [Float], gamma: Tensor, beta: Tensor) -> (scale: [Float], shift: [Float]) {
        let scale = (0..<mean.count).map { invStd[$0] * gamma.data[$0] }
        return (scale, (0..<mean.count).map { beta.data[$0] - mean[$0] * scale[$0] })
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
        // Two passes: the mean, then the squared deviations from it. (One pass of shifted sums,
        // reading each plane once from memory and again from cache, measured no faster, in
        // Swift or in C: the activations stay in the last-level cache.)
        let mean = x.data.withUnsafeBufferPointer { px in
            channelSums(n: n, c: c, l: l, count: 1) { planes, out in
                atx_plane_sums(px.baseAddress!, l, Int32(c), planes.lowerBound, planes.upperBound, nil, out)
            }[0].map { Float($0 / Double(m)) }
        }
        let squares = x.data.withUnsafeBufferPointer { px in
            channelSums(n: n, c: c, l: l, count: 1) { planes, out in
                atx_plane_sums(px.baseAddress!, l, Int32(c), planes.lowerBound, planes.upperBound, mean, out)
            }[0]
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
        let (scale, shift) = affine(mean: mean, invStd: invStd, gamma: gamma, beta: beta)
        return Tensor(shape: x.shape) { out in
            let o = SendablePointer(out.baseAddress!)
            x.data.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                Threads.parallelFor(n * c, costPerItem: l) { planes in
                    atx_bn_affine(px, l, Int32(c), planes.lowerBound, planes.upperBound, scale, shift, relu ? 1 : 0, o.p)
                }
            }
        }
    }

    /// Backward of training-mode batch norm: (dx, dgamma, dbeta). With `relu` (a fused BN-ReLU),
    /// dy is first masked by [output > 0], as ReLU's backward would; the output is recomputed
    /// from x, gamma and beta, bit for bit as the forward made it, instead of being read.
    public static func batchNormTrainBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, beta: Tensor, stats: BatchNormStats,
                                              relu: Bool = false) -> (Tensor, Tensor, Tensor) {
        let (n, c, l) = x.channelSplit(op: "batchNormBackward")
        precondition(dy.shape == x.shape, "batchNormBackward: dy \(dy.shape) differs from x \(x.shape)")
        let m = Float(n * l)
        let (scale, shift) = affine(mean: stats.mean, invStd: stats.invStd, gamma: gamma, beta: beta)
        let masked: Int32 = relu ? 1 : 0
        return x.data.withUnsafeBufferPointer { px in
            dy.data.withUnsafeBufferPointer { pg in
                let px = px.baseAddress!, pg = pg.baseAddress!
                // Pass 1: Σ g and Σ g·(x − mean) per channel, where g = dy, or dy·[x·scale + shift > 0].
                let sums = channelSums(n: n, c: c, l: l, count: 2) { planes, out in
                    atx_bn_grad_sums(px, pg, l, Int32(c), planes.lowerBound, planes.upperBound, scale, shift, masked, stats.mean, out)
                }
                // Σ g·x̂ = invStd·Σ g·(x − mean).
                let sg = sums[0].map { Float($0) }, sgx = (0..<c).map { Float(sums[1][$0] * Double(stats.invStd[$0])) }
                let k = (0..<c).map { gamma.data[$0] * stats.invStd[$0] }
                let mg = sg.map { $0 / m }, mgx = sgx.map { $0 / m }
                // Pass 2: dx = k·(g − mean(g) − x̂·mean(g·x̂)).
                let dx = Tensor(shape: x.shape) { out in
                    let o = SendablePointer(out.baseAddress!)
                    Threads.parallelFor(n * c, costPerItem: l) { planes in
                        atx_bn_grad_input(px, pg, l, Int32(c), planes.lowerBound, planes.upperBound, scale, shift, masked,
                                          k, mg, stats.mean, stats.invStd, mgx, o.p)
                    }
                }
                return (dx, Tensor(shape: [c], data: sgx), Tensor(shape: [c], data: sg))
            }
        }
    }
}
