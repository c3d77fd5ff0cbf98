import XCTest
@testable import Tensor

final class BatchNormPoolTests: XCTestCase {
    /// Runs `body` at every SIMD level of the C kernels, best first, then restores the best.
    func atEveryLevel(_ body: (String) -> Void) {
        defer { SIMD.set(SIMD.supported) }
        for level in (0...SIMD.supported).reversed() {
            SIMD.set(level)
            body(SIMD.name(level))
        }
    }

    func testBatchNormTrainMatchesDirectComputationAndUpdatesRunningStats() {
        atEveryLevel { _ in checkBatchNormTrainMatchesDirectComputation() }
    }

    func checkBatchNormTrainMatchesDirectComputation() {
        var rng = RNG(seed: 5)
        let x = Tensor.normal([3, 4, 5, 7], mean: 0.5, std: 2, rng: &rng)
        let gamma = Tensor.uniform([4], rng: &rng), beta = Tensor.normal([4], rng: &rng)
        var rm = Tensor.normal([4], rng: &rng), rv = Tensor.uniform([4], low: 0.5, high: 2, rng: &rng)
        let (rm0, rv0) = (rm, rv)
        let (y, stats) = Tensor.batchNormTrain(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv)
        let ref = Naive.batchNormTrain(x, gamma: gamma.data, beta: beta.data, eps: 1e-5)
        XCTAssertLessThan(maxAbsDiff(y.data, ref.y), 1e-5 * max(1, maxAbs(ref.y)))
        for c in 0..<4 {
            XCTAssertEqual(Double(stats.mean[c]), ref.mean[c], accuracy: 1e-5)
            XCTAssertEqual(Double(rm.data[c]), 0.9 * Double(rm0.data[c]) + 0.1 * ref.mean[c], accuracy: 1e-5)
            // The running variance uses the unbiased estimate, as PyTorch.
            XCTAssertEqual(Double(rv.data[c]), 0.9 * Double(rv0.data[c]) + 0.1 * ref.unbiased[c], accuracy: 1e-5)
        }
        // Eval mode uses the running statistics.
        let ye = Tensor.batchNormEval(x, gamma: gamma, beta: beta, runningMean: rm, runningVar: rv)
        for (k, v) in ye.data.enumerated() {
            let c = (k / 35) % 4
            let want = (Double(x.data[k]) - Double(rm.data[c])) / (Double(rv.data[c]) + 1e-5).squareRoot() * Double(gamma.data[c]) + Double(beta.data[c])
            XCTAssertEqual(Double(v), want, accuracy: 1e-5)
        }
    }

    /// Statistics of planes far from zero, each with its own mean: the per-plane sums are
    /// combined about the channel's mean, so no cancellation loses the variance.
    func testBatchNormStatisticsOfOffsetPlanes() {
        atEveryLevel { level in checkStatisticsOfOffsetPlanes(level) }
    }

    func checkStatisticsOfOffsetPlanes(_ level: String) {
        var rng = RNG(seed: 8)
        var x = Tensor.normal([4, 2, 9, 9], std: 0.01, rng: &rng)
        for k in 0..<x.count { x.data[k] += 1000 + 0.5 * Float(k / (2 * 81)) }
        var rm = Tensor(zeros: [2]), rv = Tensor(repeating: 1, shape: [2])
        let (_, stats) = Tensor.batchNormTrain(x, gamma: Tensor(repeating: 1, shape: [2]), beta: Tensor(zeros: [2]),
                                               runningMean: &rm, runningVar: &rv)
        let ref = Naive.batchNormTrain(x, gamma: [1, 1], beta: [0, 0], eps: 1e-5)
        for c in 0..<2 {
            XCTAssertEqual(Double(stats.mean[c]), ref.mean[c], accuracy: 1e-4)
            let want = 1 / (ref.variance[c] + 1e-5).squareRoot()
            XCTAssertEqual(Double(stats.invStd[c]), want, accuracy: 1e-5 * want, "channel \(c), \(level)")
        }
    }

    /// The ReLU fused into BN: forward max(BN(x), 0) in both modes, and the backward with the
    /// mask applied inside equal, bit for bit, to ReLU's backward followed by BN's.
    /// Planes of 35 and 63 values, at every SIMD level: blocks of two vectors, then a whole
    /// vector and a masked one. A NaN stays NaN through the fused ReLU (divergence must show).
    func testBatchNormWithFusedReLU() {
        atEveryLevel { _ in
            for shape in [[3, 4, 5, 7], [2, 4, 7, 9]] { checkBatchNormWithFusedReLU(shape) }
            var x = Tensor(repeating: 1, shape: [2, 1, 3, 3])
            x.data[4] = .nan
            let y = Tensor.batchNormEval(x, gamma: Tensor(repeating: 1, shape: [1]), beta: Tensor(zeros: [1]),
                                         runningMean: Tensor(zeros: [1]), runningVar: Tensor(repeating: 1, shape: [1]), relu: true)
            XCTAssertTrue(y.data[4].isNaN)
            XCTAssertEqual(y.data[5], 1 / (1 + 1e-5 as Float).squareRoot())
        }
    }

    func checkBatchNormWithFusedReLU(_ shape: [Int]) {
        var rng = RNG(seed: 6)
        let x = Tensor.normal(shape, mean: 0.5, std: 2, rng: &rng), dy = Tensor.normal(x.shape, rng: &rng)
        let gamma = Tensor.uniform([4], rng: &rng), beta = Tensor.normal([4], rng: &rng)
        var rm = Tensor(zeros: [4]), rv = Tensor(repeating: 1, shape: [4])
        let (plain, stats) = Tensor.batchNormTrain(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv)
        let (fused, fusedStats) = Tensor.batchNormTrain(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, relu: true)
        XCTAssertEqual(fused, plain.relu())
        XCTAssertEqual(fusedStats.mean, stats.mean)
        XCTAssertEqual(Tensor.batchNormEval(x, gamma: gamma, beta: beta, runningMean: rm, runningVar: rv, relu: true),
                       Tensor.batchNormEval(x, gamma: gamma, beta: beta, runningMean: rm, runningVar: rv).relu())
        let (dx, dgamma, dbeta) = Tensor.batchNormTrainBackward(dy, x: x, gamma: gamma, beta: beta, stats: stats, relu: true)
        let (dx2, dgamma2, dbeta2) = Tensor.batchNormTrainBackward(Tensor.reluBackward(dy, output: fused), x: x, gamma: gamma, beta: beta, stats: stats)
        XCTAssertEqual([dx, dgamma, dbeta], [dx2, dgamma2, dbeta2])
    }

    func testBatchNormBackwardMatchesCentralDifferencesInDouble() {
        atEveryLevel { _ in checkBackwardMatchesCentralDifferences() }
    }

    func checkBackwardMatchesCentralDifferences() {
        var rng = RNG(seed: 9)
        let x = Tensor.normal([3, 2, 5, 7], rng: &rng)
        let gamma = Tensor.uniform([2], low: 0.5, high: 1.5, rng: &rng), beta = Tensor.normal([2], rng: &rng)
        let dy = Tensor.normal(x.shape, rng: &rng)
        var rm = Tensor(zeros: [2]), rv = Tensor(repeating: 1, shape: [2])
        let (_, stats) = Tensor.batchNormTrain(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv)
        let (dx, dgamma, dbeta) = Tensor.batchNormTrainBackward(dy, x: x, gamma: gamma, beta: beta, stats: stats)
        func loss(_ x: Tensor, _ gamma: [Float], _ beta: [Float]) -> Double {
            zip(Naive.batchNormTrain(x, gamma: gamma, beta: beta, eps: 1e-5).y, dy.data).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        let h: Float = 1e-2
        for k in stride(from: 0, to: x.count, by: 7) {
            var xp = x, xm = x
            xp.data[k] += h; xm.data[k] -= h
            let num = (loss(xp, gamma.data, beta.data) - loss(xm, gamma.data, beta.data)) / Double(2 * h)
            XCTAssertEqual(Double(dx.data[k]), num, accuracy: 2e-3 * max(1, abs(num)), "dx[\(k)]")
        }
        for c in 0..<2 {
            var gp = gamma.data, gm = gamma.data
            gp[c] += h; gm[c] -= h
            XCTAssertEqual(Double(dgamma.data[c]), (loss(x, gp, beta.data) - loss(x, gm, beta.data)) / Double(2 * h), accuracy: 1e-3)
            var bp = beta.data, bm = beta.data
            bp[c] += h; bm[c] -= h
            XCTAssertEqual(Double(dbeta.data[c]), (loss(x, gamma.data, bp) - loss(x, gamma.data, bm)) / Double(2 * h), accuracy: 1e-3)
        }
    }

    func testMaxPoolWithPaddingAndItsIndices() {
        // One 4×5 plane with distinct values; 3×3 windows, stride 2, padding 1.
        let x = Tensor(shape: [1, 1, 4, 5], data: (0..<20).map { Float(($0 * 7) % 20) })
        let (y, idx) = Tensor.maxPool2d(x, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [1, 1, 2, 3])
        for oy in 0..<2 { for ox in 0..<3 {
            var best = -Float.infinity
            for iy in max(0, 2 * oy - 1)...min(3, 2 * oy + 1) { for ix in max(0, 2 * ox - 1)...min(4, 2 * ox + 1) { best = max(best, x[0, 0, iy, ix]) } }
            XCTAssertEqual(y[0, 0, oy, ox], best)
            XCTAssertEqual(x.data[Int(idx[oy * 3 + ox])], best)
        } }
        // Negative inputs: padding must not win.
        let neg = x.map { -$0 - 1 }
        XCTAssertTrue(Tensor.maxPool2d(neg, kernel: 3, stride: 2, padding: 1).0.data.allSatisfy { $0 <= -1 })
        // The values-only kernel gives the same maxima on odd shapes, kernels, strides and padding.
        var rng = RNG(seed: 9)
        for (k, s, p) in [(3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 3, 2), (1, 1, 0)] {
            let t = Tensor.normal([2, 3, 9, 11], rng: &rng)
            XCTAssertEqual(Tensor.maxPool2dValues(t, kernel: k, stride: s, padding: p), Tensor.maxPool2d(t, kernel: k, stride: s, padding: p).0,
                           "k\(k) s\(s) p\(p)")
            XCTAssertEqual(Tensor.maxPool2dValues(neg, kernel: k, stride: s, padding: p), Tensor.maxPool2d(neg, kernel: k, stride: s, padding: p).0)
        }
    }

    func testAvgPoolExcludesPaddingFromTheCountAndItsBackwardIsTheAdjoint() {
        let x = Tensor(shape: [1, 1, 3, 3], data: (1...9).map(Float.init))
        let y = Tensor.avgPool2d(x, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y[0, 0, 0, 0], (1 + 2 + 4 + 5) / 4)     // corner window: 4 real pixels
        XCTAssertEqual(y[0, 0, 1, 1], (5 + 6 + 8 + 9) / 4)
        var rng = RNG(seed: 2)
        let xs = Tensor.normal([2, 3, 5, 7], rng: &rng)
        let ys = Tensor.avgPool2d(xs, kernel: 3, stride: 2, padding: 1)
        let g = Tensor.normal(ys.shape, rng: &rng)
        let back = Tensor.avgPool2dBackward(g, inputShape: xs.shape, kernel: 3, stride: 2, padding: 1)
        let lhs = zip(ys.data, g.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let rhs = zip(xs.data, back.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-4)
    }
}
