import XCTest
import Tensor
@testable import Autograd

/// Every op at first order, and at second order where the paper's methods need it.
final class OpGradientTests: XCTestCase {
    var rng = RNG(seed: 2024)

    func testArithmeticWithBroadcasting() {
        let a = spread([2, 3, 4], &rng), b = spread([3, 1], &rng), p = positive([2, 3, 4], &rng)
        assertGradients("add", [a, b], secondOrder: true, rng: &rng) { $0[0] + $0[1] }
        assertGradients("sub", [a, b], secondOrder: true, rng: &rng) { $0[0] - $0[1] }
        assertGradients("mul", [a, b], secondOrder: true, rng: &rng) { $0[0] * $0[1] }
        assertGradients("div", [a, p], secondOrder: true, rng: &rng) { $0[0] / $0[1] }
        assertGradients("scale+addScalar", [a], secondOrder: true, rng: &rng) { $0[0] * 3 + 1 }
        assertGradients("maximum", [a, spread([2, 3, 4], &rng)], secondOrder: true, rng: &rng) { Variable.maximum($0[0], $0[1]) * $0[0] }
        assertGradients("clamp", [a], secondOrder: true, rng: &rng) { $0[0].clamped(min: 0.14) * $0[0] }
        assertGradients("broadcast", [b], secondOrder: true, rng: &rng) { $0[0].broadcast(to: [2, 3, 4]) * $0[0] }
        assertGradients("sumToShape", [a], secondOrder: true, rng: &rng) { $0[0].sum(toShape: [3, 1]) * $0[0].sum(toShape: [3, 1]) }
        assertGradients("reshape", [a], secondOrder: true, rng: &rng) { $0[0].reshaped([6, 4]) * $0[0].reshaped([6, 4]) }
    }

    func testUnaryOps() {
        let x = spread([3, 5], &rng), p = positive([3, 5], &rng)
        assertGradients("pow2", [x], secondOrder: true, rng: &rng) { $0[0].pow(2) }
        assertGradients("pow4", [x], secondOrder: true, rng: &rng) { $0[0].pow(4) }
        assertGradients("pow-0.5", [p], secondOrder: true, rng: &rng) { $0[0].pow(-0.5) }
        assertGradients("abs", [x], secondOrder: true, rng: &rng) { $0[0].abs() * $0[0] }
        assertGradients("sqrt", [p], secondOrder: true, rng: &rng) { $0[0].sqrt() }
        assertGradients("exp", [x], secondOrder: true, rng: &rng) { $0[0].exp() }
        assertGradients("log", [p], secondOrder: true, rng: &rng) { $0[0].log() }
        // ReLU's second derivative is zero; the product makes its mask matter at second order.
        assertGradients("relu", [x], secondOrder: true, rng: &rng) { $0[0].relu() * $0[0] }
        assertGradients("neg", [x], secondOrder: false, rng: &rng) { -$0[0] }
    }

    func testReductions() {
        let x = spread([2, 3, 4], &rng)
        assertGradients("sum", [x], secondOrder: true, rng: &rng) { $0[0].sum() * $0[0].sum() }
        assertGradients("mean", [x], secondOrder: true, rng: &rng) { $0[0].mean() * $0[0] }
        for axis in 0..<3 {
            assertGradients("sum(axis: \(axis))", [x], secondOrder: true, rng: &rng) { $0[0].sum(axis: axis).pow(2) }
            assertGradients("mean(axis: \(axis))", [x], secondOrder: true, rng: &rng) { $0[0].mean(axis: axis, keepDims: true) * $0[0] }
            assertGradients("max(axis: \(axis))", [x], secondOrder: true, rng: &rng) { $0[0].max(axis: axis).pow(2) }
        }
    }

    func testSoftmaxFamilyNormaliseAndLosses() {
        let z = spread([3, 5], &rng, scale: 4), t = spread([3, 5], &rng, scale: 4)
        assertGradients("logSoftmax", [z], secondOrder: true, rng: &rng) { $0[0].logSoftmax(axis: 1) }
        assertGradients("softmax", [z], secondOrder: true, rng: &rng) { $0[0].softmax(axis: 1) }
        assertGradients("softmax(axis: 0)", [z], secondOrder: true, rng: &rng) { $0[0].softmax(axis: 0) }
        assertGradients("norm", [z], secondOrder: true, rng: &rng) { $0[0].norm(axis: 1) }
        assertGradients("normalise", [z], secondOrder: true, rng: &rng) { $0[0].normalized(axis: 1) }
        assertGradients("crossEntropy", [z], secondOrder: true, rng: &rng) { crossEntropy($0[0], labels: [4, 0, 2]) }
        assertGradients("klDivergence", [z, t], secondOrder: true, rng: &rng) { klDivergence(student: $0[0], teacher: $0[1], temperature: 4) }
    }

    func testMatmulAndLinear() {
        let a = spread([3, 4], &rng), b = spread([4, 2], &rng), bt = spread([2, 4], &rng), at = spread([4, 3], &rng)
        assertGradients("matmul", [a, b], secondOrder: true, rng: &rng) { Variable.matmul($0[0], $0[1]) }
        assertGradients("matmul Bᵀ", [a, bt], secondOrder: true, rng: &rng) { Variable.matmul($0[0], $0[1], transB: true) }
        assertGradients("matmul Aᵀ", [at, b], secondOrder: true, rng: &rng) { Variable.matmul($0[0], $0[1], transA: true) }
        assertGradients("matmul AᵀBᵀ", [at, bt], secondOrder: true, rng: &rng) { Variable.matmul($0[0], $0[1], transA: true, transB: true) }
        let bias = spread([2], &rng)
        assertGradients("linear", [a, bt, bias], secondOrder: true, rng: &rng) { linear($0[0], weight: $0[1], bias: $0[2]).pow(2) }
    }

    func testConvolutionAndItsBackwardOps() {
        for (k, s, p) in [(3, 1, 1), (3, 2, 1), (1, 2, 0), (5, 1, 2)] {
            let x = spread([2, 2, 5, 6], &rng), w = spread([3, 2, k, k], &rng, scale: 0.5)
            let g = ConvGeometry(input: x.shape, weight: w.shape, stride: s, padding: p)
            let dy = spread(g.outputShape, &rng)
            assertGradients("conv2d k\(k) s\(s) p\(p)", [x, w], secondOrder: true, rng: &rng) { conv2d($0[0], $0[1], stride: s, padding: p) }
            assertGradients("conv2dBackwardInput k\(k) s\(s) p\(p)", [dy, w], secondOrder: true, rng: &rng) {
                conv2dBackwardInput($0[0], $0[1], inputShape: x.shape, stride: s, padding: p)
            }
            assertGradients("conv2dBackwardWeight k\(k) s\(s) p\(p)", [dy, x], secondOrder: true, rng: &rng) {
                conv2dBackwardWeight($0[0], $0[1], weightShape: w.shape, stride: s, padding: p)
            }
        }
        let x = spread([2, 3, 4, 4], &rng), b = spread([3], &rng)
        assertGradients("addChannelBias", [x, b], secondOrder: true, rng: &rng) { addChannelBias($0[0], $0[1]).pow(2) }
    }

    func testPoolsAndFlip() {
        let x = spread([2, 2, 5, 7], &rng)
        assertGradients("maxPool2d 3/2/1", [x], secondOrder: true, rng: &rng) { maxPool2d($0[0], kernel: 3, stride: 2, padding: 1).pow(2) }
        assertGradients("maxPool2d 2/2/0", [x], secondOrder: true, rng: &rng) { maxPool2d($0[0], kernel: 2, stride: 2) * 1 }
        assertGradients("avgPool2d 3/2/1", [x], secondOrder: true, rng: &rng) { avgPool2d($0[0], kernel: 3, stride: 2, padding: 1).pow(2) }
        assertGradients("avgPool2d 2/1/0", [x], secondOrder: true, rng: &rng) { avgPool2d($0[0], kernel: 2, stride: 1) * 1 }
        let y = spread([2, 2, 3, 4], &rng)
        assertGradients("avgPool2dBackward", [y], secondOrder: true, rng: &rng) {
            avgPool2dBackward($0[0], inputShape: [2, 2, 5, 7], kernel: 3, stride: 2, padding: 1).pow(2)
        }
        let idx: [Int32] = [0, 5, 5, 9, 2, 11]
        assertGradients("scatterAdd", [spread([2, 3], &rng)], secondOrder: true, rng: &rng) { scatterAdd($0[0], indices: idx, shape: [12]).pow(2) }
        assertGradients("gather", [spread([12], &rng)], secondOrder: true, rng: &rng) { gather($0[0], indices: idx, shape: [2, 3]).pow(2) }
        assertGradients("globalAvgPool", [x], secondOrder: true, rng: &rng) { globalAvgPool($0[0]).pow(2) }
        assertGradients("flip", [x], secondOrder: true, rng: &rng) { flipHorizontal($0[0]) * $0[0] }
    }

    func testBatchNormTrainAndEvalAtBothOrders() {
        let x = spread([3, 2, 3, 4], &rng), gamma = positive([2], &rng), beta = spread([2], &rng)
        for training in [true, false] {
            assertGradients("batchNorm training=\(training)", [x, gamma, beta], secondOrder: true, rng: &rng,
                            tolerance: 3e-3) { v in
                var rm = Tensor(shape: [2], data: [0.1, -0.2]), rv = Tensor(shape: [2], data: [0.8, 1.3])
                return batchNorm(v[0], gamma: v[1], beta: v[2], runningMean: &rm, runningVar: &rv, training: training).pow(2)
            }
        }
    }

    /// batchNormReLU is relu(batchNorm(x)) fused: the same values, running statistics,
    /// gradients (fast path and differentiable VJP) and second-order products, in both modes.
    func testFusedBatchNormReLUEqualsTheComposedOps() throws {
        for training in [true, false] {
            let x = Variable(spread([3, 2, 3, 4], &rng), requiresGrad: true), gamma = Variable(positive([2], &rng), requiresGrad: true)
            let beta = Variable(spread([2], &rng), requiresGrad: true)
            let u = Variable(spread([3, 2, 3, 4], &rng)), v = Variable(spread([3, 2, 3, 4], &rng))
            var (rm1, rv1) = (Tensor(shape: [2], data: [0.1, -0.2]), Tensor(shape: [2], data: [0.8, 1.3]))
            var (rm2, rv2) = (rm1, rv1)
            let fused = batchNormReLU(x, gamma: gamma, beta: beta, runningMean: &rm1, runningVar: &rv1, training: training)
            let composed = batchNorm(x, gamma: gamma, beta: beta, runningMean: &rm2, runningVar: &rv2, training: training).relu()
            XCTAssertEqual(fused.value, composed.value)
            XCTAssertEqual([rm1, rv1], [rm2, rv2])
            XCTAssertTrue(fused.value.data.contains(0) && fused.value.data.contains { $0 > 0 }, "the mask should matter")
            for createGraph in [false, true] {
                let gf = try gradients(of: (fused * u).sum(), wrt: [x, gamma, beta], createGraph: createGraph)
                let gc = try gradients(of: (composed * u).sum(), wrt: [x, gamma, beta], createGraph: createGraph)
                for (a, b) in zip(gf, gc) { XCTAssertEqual(maxAbsDifference(a.value, b.value), 0, accuracy: 1e-6, "training \(training) createGraph \(createGraph)") }
                if createGraph {
                    // Hessian-vector products: ∇⟨∇ₓ⟨f, u⟩, v⟩.
                    let hf = try gradients(of: (gf[0] * v).sum(), wrt: [x, gamma, beta], allowUnused: true)
                    let hc = try gradients(of: (gc[0] * v).sum(), wrt: [x, gamma, beta], allowUnused: true)
                    for (a, b) in zip(hf, hc) { XCTAssertEqual(maxAbsDifference(a.value, b.value), 0, accuracy: 1e-6, "HVP training \(training)") }
                }
            }
        }
    }

    /// Each convolution algorithm forced on the three convolution ops (conv2d and its two
    /// gradients, which call each other at higher orders), at first and second order, on shapes
    /// it takes: 3×3 with padding 0–2, 5×5 with padding 2 and 4 (winograd5c, direct), and for the
    /// direct kernels 1×1 too; channels and sizes not multiples of a vector width.
    func testEveryConvolutionAlgorithmAtBothOrders() {
        for algorithm in ConvAlgorithm.allCases {
            for (k, p, c, o, h, w) in [(3, 1, 3, 5, 5, 6), (3, 0, 2, 3, 6, 5), (3, 2, 2, 2, 4, 5), (1, 0, 3, 2, 4, 5), (5, 2, 2, 3, 5, 6),
                                        (5, 4, 2, 2, 3, 4)] {
                let x = spread([2, c, h, w], &rng, scale: 0.5), wt = spread([o, c, k, k], &rng, scale: 0.3)
                let g = ConvGeometry(input: x.shape, weight: wt.shape, stride: 1, padding: p)
                guard g.supports(algorithm) else { continue }
                let dy = spread(g.outputShape, &rng, scale: 0.5)
                let label = "\(algorithm) k\(k) p\(p)"
                ConvAlgorithm.forcing(algorithm) {
                    XCTAssertEqual(g.algorithm(for: .forward), algorithm)
                    // A forward-only algorithm (winograd4f) leaves the weight gradient to the default.
                    XCTAssertEqual(g.algorithm(for: .weightGradient),
                                   g.supports(algorithm, .weightGradient) ? algorithm : g.defaultAlgorithm(for: .weightGradient))
                    assertGradients("conv2d \(label)", [x, wt], secondOrder: true, rng: &rng) { conv2d($0[0], $0[1], stride: 1, padding: p) }
                    assertGradients("conv2dBackwardInput \(label)", [dy, wt], secondOrder: true, rng: &rng) {
                        conv2dBackwardInput($0[0], $0[1], inputShape: x.shape, stride: 1, padding: p)
                    }
                    assertGradients("conv2dBackwardWeight \(label)", [dy, x], secondOrder: true, rng: &rng) {
                        conv2dBackwardWeight($0[0], $0[1], weightShape: wt.shape, stride: 1, padding: p)
                    }
                }
            }
        }
        // The direct kernels at stride 2 (forward and weight gradient; col2im for the input gradient).
        for (k, p) in [(3, 1), (1, 0)] {
            let x = spread([2, 3, 6, 5], &rng, scale: 0.5), wt = spread([2, 3, k, k], &rng, scale: 0.3)
            let g = ConvGeometry(input: x.shape, weight: wt.shape, stride: 2, padding: p)
            let dy = spread(g.outputShape, &rng, scale: 0.5)
            ConvAlgorithm.forcing(.direct) {
                XCTAssertEqual(g.algorithm(for: .forward), .direct)
                assertGradients("conv2d direct s2 k\(k)", [x, wt], secondOrder: true, rng: &rng) { conv2d($0[0], $0[1], stride: 2, padding: p) }
                assertGradients("conv2dBackwardInput direct s2 k\(k)", [dy, wt], secondOrder: true, rng: &rng) {
                    conv2dBackwardInput($0[0], $0[1], inputShape: x.shape, stride: 2, padding: p)
                }
                assertGradients("conv2dBackwardWeight direct s2 k\(k)", [dy, x], secondOrder: true, rng: &rng) {
                    conv2dBackwardWeight($0[0], $0[1], weightShape: wt.shape, stride: 2, padding: p)
                }
            }
        }
    }

    /// A convolution shape that takes the Winograd path, at both orders.
    func testWinogradConvolutionAtBothOrders() {
        let x = spread([1, 8, 4, 4], &rng, scale: 0.2), w = spread([8, 8, 3, 3], &rng, scale: 0.1)
        XCTAssertEqual(ConvGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1).algorithm, .winograd)
        assertGradients("conv2d winograd", [x, w], secondOrder: true, rng: &rng) { conv2d($0[0], $0[1], stride: 1, padding: 1) }
    }

    /// One gradient check per `Op` case, at first and second order, named by the op it checks:
    /// a new op without a case here fails this test. Each case's graph must record its op, so a
    /// case cannot stand for an op it does not exercise.
    func testEveryOpHasAGradientCheckAtBothOrders() {
        let a = spread([2, 3, 4], &rng), b = spread([3, 1], &rng), p = positive([2, 3, 4], &rng), m = spread([3, 5], &rng)
        let x = spread([2, 2, 5, 6], &rng), w = spread([3, 2, 3, 3], &rng, scale: 0.5), dy = spread([2, 3, 5, 6], &rng)
        let idx: [Int32] = [0, 5, 5, 9, 2, 11], mask = spread([2, 3, 4], &rng)
        func bn(_ v: [Variable], training: Bool, relu: Bool) -> Variable {
            var rm = Tensor(shape: [2], data: [0.1, -0.2]), rv = Tensor(shape: [2], data: [0.8, 1.3])
            return relu ? batchNormReLU(v[0], gamma: v[1], beta: v[2], runningMean: &rm, runningVar: &rv, training: training)
                        : batchNorm(v[0], gamma: v[1], beta: v[2], runningMean: &rm, runningVar: &rv, training: training)
        }
        let bnInputs = [spread([3, 2, 3, 4], &rng), positive([2], &rng), spread([2], &rng)]
        // (inputs, loss, tolerance) per op; products make the second derivative non-trivial.
        let cases: [Op: ([Tensor], ([Variable]) -> Variable, Double)] = [
            .sumToShape: ([a], { $0[0].sum(toShape: [3, 1]) * $0[0].sum(toShape: [3, 1]) }, 2e-3),
            .broadcast: ([b], { $0[0].broadcast(to: [2, 3, 4]) * $0[0] }, 2e-3),
            .reshape: ([a], { $0[0].reshaped([6, 4]) * $0[0].reshaped([6, 4]) }, 2e-3),
            .add: ([a, b], { ($0[0] + $0[1]) * $0[0] }, 2e-3),
            .sub: ([a, b], { ($0[0] - $0[1]) * $0[0] }, 2e-3),
            .mul: ([a, b], { $0[0] * $0[1] }, 2e-3),
            .div: ([a, p], { $0[0] / $0[1] }, 2e-3),
            .scale: ([a], { ($0[0] * 3) * $0[0] }, 2e-3),
            .addScalar: ([a], { ($0[0] + 1) * $0[0] }, 2e-3),
            .maximum: ([a, spread([2, 3, 4], &rng)], { Variable.maximum($0[0], $0[1]) * $0[0] }, 2e-3),
            .clampMin: ([a], { $0[0].clamped(min: 0.14) * $0[0] }, 2e-3),
            .pow: ([a], { $0[0].pow(3) }, 2e-3),
            .abs: ([a], { $0[0].abs() * $0[0] }, 2e-3),
            .sqrt: ([p], { $0[0].sqrt() }, 2e-3),
            .exp: ([a], { $0[0].exp() }, 2e-3),
            .log: ([p], { $0[0].log() }, 2e-3),
            .relu: ([a], { $0[0].relu() * $0[0] }, 2e-3),
            .reluBackward: ([a], { $0[0].maskedByPositive(of: mask) * $0[0] }, 2e-3),
            .sum: ([a], { $0[0].sum() * $0[0].sum() }, 2e-3),
            .sumAxis: ([a], { $0[0].sum(axis: 1).pow(2) }, 2e-3),
            .maxAxis: ([a], { $0[0].max(axis: 2).pow(2) }, 2e-3),
            .logSoftmax: ([m], { $0[0].logSoftmax(axis: 1) * $0[0] }, 2e-3),
            .softmax: ([m], { $0[0].softmax(axis: 1) * $0[0] }, 2e-3),
            .norm: ([m], { $0[0].norm(axis: 1) }, 2e-3),
            .matmul: ([m, spread([5, 2], &rng)], { Variable.matmul($0[0], $0[1]).pow(2) }, 2e-3),
            .conv2d: ([x, w], { conv2d($0[0], $0[1], stride: 1, padding: 1).pow(2) }, 2e-3),
            .conv2dBackwardInput: ([dy, w], { conv2dBackwardInput($0[0], $0[1], inputShape: x.shape, stride: 1, padding: 1).pow(2) }, 2e-3),
            .conv2dBackwardWeight: ([dy, x], { conv2dBackwardWeight($0[0], $0[1], weightShape: w.shape, stride: 1, padding: 1).pow(2) }, 2e-3),
            .maxPool2d: ([x], { maxPool2d($0[0], kernel: 3, stride: 2, padding: 1).pow(2) }, 2e-3),
            .scatterAdd: ([spread([2, 3], &rng)], { scatterAdd($0[0], indices: idx, shape: [12]).pow(2) }, 2e-3),
            .gather: ([spread([12], &rng)], { gather($0[0], indices: idx, shape: [2, 3]).pow(2) }, 2e-3),
            .avgPool2d: ([x], { avgPool2d($0[0], kernel: 3, stride: 2, padding: 1).pow(2) }, 2e-3),
            .avgPool2dBackward: ([spread([2, 2, 3, 3], &rng)], {
                avgPool2dBackward($0[0], inputShape: x.shape, kernel: 3, stride: 2, padding: 1).pow(2)
            }, 2e-3),
            .flip: ([x], { flipHorizontal($0[0]) * $0[0] }, 2e-3),
            .batchNorm: (bnInputs, { bn($0, training: true, relu: false).pow(2) }, 3e-3),
            .batchNormEval: (bnInputs, { bn($0, training: false, relu: false).pow(2) }, 3e-3),
            .batchNormReLU: (bnInputs, { bn($0, training: true, relu: true).pow(2) }, 3e-3),
            .batchNormReLUEval: (bnInputs, { bn($0, training: false, relu: true).pow(2) }, 3e-3),
        ]
        for op in Op.allCases where op != .custom {
            guard let (inputs, loss, tolerance) = cases[op] else {
                XCTFail("op \(op) has no gradient check: add a case to testEveryOpHasAGradientCheckAtBothOrders")
                continue
            }
            XCTAssertTrue(recordedOps(loss(inputs.map { Variable($0, requiresGrad: true) })).contains(op), "the case for \(op) does not record it")
            assertGradients("\(op)", inputs, secondOrder: true, rng: &rng, tolerance: tolerance, loss)
        }
    }

    /// The ops recorded in `loss`'s graph.
    private func recordedOps(_ loss: Variable) -> Set<Op> {
        var ops = Set<Op>(), stack = [loss], seen = Set<ObjectIdentifier>()
        while let v = stack.popLast() {
            guard let node = v.node, seen.insert(ObjectIdentifier(v)).inserted else { continue }
            ops.insert(node.op)
            stack += node.inputs
        }
        return ops
    }

    /// Every op's gradient rule gives the same numbers evaluated with recording off (the
    /// first-order backward) as with it on (createGraph).
    func testRulesGiveTheSameNumbersWithRecordingOffAndOn() throws {
        let a = spread([2, 3, 4], &rng), b = spread([3, 1], &rng), p = positive([2, 3, 4], &rng), m = spread([3, 4], &rng)
        let x = spread([2, 2, 5, 6], &rng), w = spread([3, 2, 3, 3], &rng, scale: 0.5), dy = spread([2, 3, 5, 6], &rng)
        let cases: [(String, [Tensor], ([Variable]) -> Variable)] = [
            ("add", [a, b], { $0[0] + $0[1] }), ("sub", [a, b], { $0[0] - $0[1] }), ("mul", [a, b], { $0[0] * $0[1] }),
            ("div", [a, positive([3, 1], &rng)], { $0[0] / $0[1] }), ("scale", [a], { $0[0] * 3 }),
            ("broadcast", [b], { $0[0].broadcast(to: [2, 3, 4]) }), ("sumToShape", [a], { $0[0].sum(toShape: [3, 1]) }),
            ("reshape", [a], { $0[0].reshaped([6, 4]) }), ("addScalar", [a], { $0[0] + 2 }),
            ("maximum", [a, spread([2, 3, 4], &rng)], { Variable.maximum($0[0], $0[1]) }), ("clamp", [a], { $0[0].clamped(min: 0.1) }),
            ("pow2", [a], { $0[0].pow(2) }), ("pow-0.5", [p], { $0[0].pow(-0.5) }), ("pow3 scaled", [a], { $0[0].pow(3, scale: -2) }),
            ("abs", [a], { $0[0].abs() }), ("relu", [a], { $0[0].relu() }),
            ("sqrt", [p], { $0[0].sqrt() }), ("exp", [a], { $0[0].exp() }), ("log", [p], { $0[0].log() }),
            ("sum", [a], { $0[0].sum() }), ("sumAxis", [a], { $0[0].sum(axis: 1) }), ("maxAxis", [a], { $0[0].max(axis: 2) }),
            ("logSoftmax", [m], { $0[0].logSoftmax(axis: 1) }),
            ("softmax", [m], { $0[0].softmax(axis: 1) }), ("norm", [m], { $0[0].norm(axis: 1) }),
            ("matmul", [m, spread([4, 2], &rng)], { Variable.matmul($0[0], $0[1]) }),
            ("matmul AᵀBᵀ", [spread([4, 3], &rng), spread([2, 4], &rng)], { Variable.matmul($0[0], $0[1], transA: true, transB: true) }),
            ("conv2d", [x, w], { conv2d($0[0], $0[1], stride: 1, padding: 1) }),
            ("conv2dBackwardInput", [dy, w], { conv2dBackwardInput($0[0], $0[1], inputShape: x.shape, stride: 1, padding: 1) }),
            ("conv2dBackwardWeight", [dy, x], { conv2dBackwardWeight($0[0], $0[1], weightShape: w.shape, stride: 1, padding: 1) }),
            ("maxPool2d", [x], { maxPool2d($0[0], kernel: 3, stride: 2, padding: 1) }),
            ("avgPool2d", [x], { avgPool2d($0[0], kernel: 3, stride: 2, padding: 1) }),
            ("avgPool2dBackward", [spread([2, 2, 3, 3], &rng)], { avgPool2dBackward($0[0], inputShape: x.shape, kernel: 3, stride: 2, padding: 1) }),
            ("scatterAdd", [spread([2, 3], &rng)], { scatterAdd($0[0], indices: [0, 5, 5, 9, 2, 11], shape: [12]) }),
            ("gather", [spread([12], &rng)], { gather($0[0], indices: [0, 5, 5, 9, 2, 11], shape: [2, 3]) }),
            ("flip", [x], { flipHorizontal($0[0]) }),
            ("batchNormEval", [x, positive([2], &rng), spread([2], &rng)], { v in
                var rm = Tensor(shape: [2], data: [0.1, -0.2]), rv = Tensor(shape: [2], data: [0.8, 1.3])
                return batchNorm(v[0], gamma: v[1], beta: v[2], runningMean: &rm, runningVar: &rv, training: false)
            }),
            ("batchNormReLUEval", [x, positive([2], &rng), spread([2], &rng)], { v in
                var rm = Tensor(shape: [2], data: [0.1, -0.2]), rv = Tensor(shape: [2], data: [0.8, 1.3])
                return batchNormReLU(v[0], gamma: v[1], beta: v[2], runningMean: &rm, runningVar: &rv, training: false)
            }),
        ]
        for (name, inputs, op) in cases {
            let vars = inputs.map { Variable($0, requiresGrad: true) }
            let y = op(vars)
            let loss = (y * Variable(spread(y.shape, &rng))).sum()
            let off = try gradients(of: loss, wrt: vars)
            let on = try gradients(of: loss, wrt: vars, createGraph: true)
            for (f, c) in zip(off, on) {
                XCTAssertEqual(maxAbsDifference(f.value, c.value), 0, accuracy: 1e-5 * max(1, c.value.data.map { Swift.abs($0) }.max() ?? 0), name)
            }
        }
    }

    /// Every raw first-order kernel (`Op.fastKernels`) equals the gradient rule it stands in for
    /// (evaluated through createGraph), and every op that keeps one is covered here.
    func testFastKernelsEqualTheirRules() throws {
        var covered = Set<Op>()
        for relu in [false, true] {
            for shape in [[4, 3, 2, 5], [6, 3]] {
                let c = shape[1]
                let x = Variable(spread(shape, &rng), requiresGrad: true), gamma = Variable(positive([c], &rng), requiresGrad: true)
                let beta = Variable(spread([c], &rng), requiresGrad: true)
                var rm = Tensor(zeros: [c]), rv = Tensor(repeating: 1, shape: [c])
                let u = Variable(spread(shape, &rng))
                let y = relu ? batchNormReLU(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, training: true)
                             : batchNorm(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, training: true)
                if relu { XCTAssertTrue(y.value.data.contains(0) && y.value.data.contains { $0 > 0 }, "the mask should matter") }
                let loss = (y * u).sum()
                covered.formUnion(opsWithFastKernels(loss))
                let fast = try gradients(of: loss, wrt: [x, gamma, beta])
                let rule = try gradients(of: loss, wrt: [x, gamma, beta], createGraph: true)
                for (f, r) in zip(fast, rule) {
                    for (a, b) in zip(f.value.data, r.value.data) { XCTAssertEqual(a, b, accuracy: 1e-4, "relu \(relu) shape \(shape)") }
                }
            }
        }
        XCTAssertEqual(covered, Op.fastKernels, "every op with a fast kernel needs a case here")
    }

    /// The ops in `loss`'s graph recorded with a raw kernel.
    private func opsWithFastKernels(_ loss: Variable) -> Set<Op> {
        var ops = Set<Op>(), stack = [loss], seen = Set<ObjectIdentifier>()
        while let v = stack.popLast() {
            guard let node = v.node, seen.insert(ObjectIdentifier(v)).inserted else { continue }
            if node.fast != nil { ops.insert(node.op) }
            stack += node.inputs
        }
        return ops
    }
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "compare: shapes \(a.shape) and \(b.shape)")
    return zip(a.data, b.data).map { Swift.abs($0 - $1) }.max() ?? 0
}
