import Foundation
import XCTest
@testable import Tensor

final class ConvTests: XCTestCase {
    /// Odd shapes: batch 3, 5×7 images, strides 1 and 2, padding 0/1/2, 1×1, 3×3 and 5×5 kernels.
    func testConvAndBothBackwardsMatchDirectLoops() {
        var rng = RNG(seed: 7)
        var checked = 0
        for (kernel, padding) in [(1, 0), (3, 0), (3, 1), (5, 1), (5, 2), (1, 1)] {
            for stride in [1, 2] {
                let x = Tensor.normal([3, 4, 5, 7], rng: &rng)
                let w = Tensor.normal([6, 4, kernel, kernel], rng: &rng)
                let g = ConvGeometry(input: x.shape, weight: w.shape, stride: stride, padding: padding)
                let y = Tensor.conv2d(x, w, stride: stride, padding: padding)
                XCTAssertEqual(y.shape, g.outputShape)
                let yRef = Naive.conv2d(x, w, stride: stride, padding: padding)
                XCTAssertLessThan(maxAbsDiff(y.data, yRef), 1e-5 * max(1, maxAbs(yRef)), "forward k\(kernel) s\(stride) p\(padding)")

                let dy = Tensor.normal(g.outputShape, rng: &rng)
                let (dxRef, dwRef) = Naive.conv2dBackward(dy, x, w, stride: stride, padding: padding)
                let dx = Tensor.conv2dBackwardInput(dy, w, inputShape: x.shape, stride: stride, padding: padding)
                let dw = Tensor.conv2dBackwardWeight(dy, x, weightShape: w.shape, stride: stride, padding: padding)
                XCTAssertLessThan(maxAbsDiff(dx.data, dxRef), 1e-5 * max(1, maxAbs(dxRef)), "dx k\(kernel) s\(stride) p\(padding)")
                XCTAssertLessThan(maxAbsDiff(dw.data, dwRef), 1e-5 * max(1, maxAbs(dwRef)), "dw k\(kernel) s\(stride) p\(padding)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 12)
    }

    /// Winograd F(2×2, 3×3), forced on every 3×3 stride-1 shape it takes (odd sizes, padding 0–2,
    /// few channels, batches spanning several blocks), against the direct loops; and the
    /// automatic choice on a shape that picks it.
    func testWinogradMatchesDirectLoops() {
        var rng = RNG(seed: 21)
        for (n, c, o, h, w, padding) in [(3, 4, 6, 5, 7, 1), (2, 9, 8, 6, 6, 0), (5, 8, 3, 7, 4, 2), (20, 8, 16, 8, 8, 1), (2, 1, 1, 3, 3, 1)] {
            let x = Tensor.normal([n, c, h, w], rng: &rng), wt = Tensor.normal([o, c, 3, 3], rng: &rng)
            let g = ConvGeometry(input: x.shape, weight: wt.shape, stride: 1, padding: padding)
            let label = "x \(x.shape) w \(wt.shape) p\(padding)"
            let y = Tensor.conv2d(x, wt, stride: 1, padding: padding, algorithm: .winograd)
            let yRef = Naive.conv2d(x, wt, stride: 1, padding: padding)
            XCTAssertLessThan(maxAbsDiff(y.data, yRef), 1e-5 * max(1, maxAbs(yRef)), "forward \(label)")
            let dy = Tensor.normal(g.outputShape, rng: &rng)
            let (dxRef, dwRef) = Naive.conv2dBackward(dy, x, wt, stride: 1, padding: padding)
            let dx = Tensor.conv2dBackwardInput(dy, wt, inputShape: x.shape, stride: 1, padding: padding, algorithm: .winograd)
            let dw = Tensor.conv2dBackwardWeight(dy, x, weightShape: wt.shape, stride: 1, padding: padding, algorithm: .winograd)
            XCTAssertLessThan(maxAbsDiff(dx.data, dxRef), 1e-5 * max(1, maxAbs(dxRef)), "dx \(label)")
            XCTAssertLessThan(maxAbsDiff(dw.data, dwRef), 1e-5 * max(1, maxAbs(dwRef)), "dw \(label)")
        }
        let g = ConvGeometry(input: [2, 16, 8, 8], weight: [16, 16, 3, 3], stride: 1, padding: 1)
        XCTAssertEqual(g.algorithm, .winograd)
        XCTAssertEqual(ConvGeometry(input: [2, 3, 8, 8], weight: [16, 3, 3, 3], stride: 1, padding: 1).algorithm, .im2col)
        XCTAssertEqual(ConvGeometry(input: [2, 16, 8, 8], weight: [16, 16, 3, 3], stride: 2, padding: 1).algorithm, .im2col)
    }

    /// im2col and col2im of one sample are adjoint, ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩, for the
    /// strided path and the flat-copy path of stride 1, and im2col matches the definition.
    func testCol2imIsTheAdjointOfIm2col() {
        var rng = RNG(seed: 3)
        for (weight, stride, padding) in [([1, 3, 3, 3], 2, 1), ([1, 3, 3, 3], 1, 1), ([1, 3, 5, 5], 1, 1), ([1, 3, 3, 3], 1, 0), ([1, 3, 1, 1], 1, 1)] {
            let g = ConvGeometry(input: [1, 3, 6, 5], weight: weight, stride: stride, padding: padding)
            let x = Tensor.normal(g.inputShape, rng: &rng)
            let c = Tensor.normal([g.colRows, g.colCols], rng: &rng)
            var col = [Float](repeating: .nan, count: c.count), back = [Float](repeating: .nan, count: x.count)
            x.data.withUnsafeBufferPointer { px in col.withUnsafeMutableBufferPointer { ConvKernels.im2col(sample: px.baseAddress!, g, $0.baseAddress!) } }
            c.data.withUnsafeBufferPointer { pc in back.withUnsafeMutableBufferPointer { ConvKernels.col2im(sample: pc.baseAddress!, g, $0.baseAddress!) } }
            for r in 0..<g.colRows {
                let ch = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw
                for oy in 0..<g.oh { for ox in 0..<g.ow {
                    let iy = oy * stride - padding + ki, ix = ox * stride - padding + kj
                    let expected: Float = iy < 0 || iy >= g.h || ix < 0 || ix >= g.w ? 0 : x[0, ch, iy, ix]
                    XCTAssertEqual(col[r * g.colCols + oy * g.ow + ox], expected, "im2col \(weight) s\(stride) p\(padding) row \(r) (\(oy), \(ox))")
                } }
            }
            let lhs = zip(col, c.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x.data, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "\(weight) s\(stride) p\(padding)")
        }
    }

    /// The same numbers with one thread and with two (up to summation order), and bit for bit
    /// the same numbers when a call is repeated with the same thread count; every algorithm's
    /// forward is bit for bit the same at one and two threads.
    func testThreadCountDoesNotChangeResults() {
        var rng = RNG(seed: 11)
        let x = Tensor.normal([9, 16, 16, 16], rng: &rng), w = Tensor.normal([16, 16, 3, 3], rng: &rng)
        let before = Threads.count
        defer { Threads.set(before) }
        func run() -> [Tensor] {
            let y = Tensor.conv2d(x, w, stride: 1, padding: 1), y2 = Tensor.conv2d(x, w, stride: 2, padding: 1)
            return [y, Tensor.conv2dBackwardInput(y, w, inputShape: x.shape, stride: 1, padding: 1),
                    Tensor.conv2dBackwardWeight(y, x, weightShape: w.shape, stride: 1, padding: 1),
                    y2, Tensor.conv2dBackwardInput(y2, w, inputShape: x.shape, stride: 2, padding: 1),
                    Tensor.conv2dBackwardWeight(y2, x, weightShape: w.shape, stride: 2, padding: 1)]
        }
        Threads.set(1)
        let one = run()
        Threads.set(2)
        let two = run(), again = run()
        for (i, (a, b)) in zip(one, two).enumerated() {
            let bd = b.data.map(Double.init)
            XCTAssertLessThan(maxAbsDiff(a.data, bd), 1e-5 * maxAbs(bd), "result \(i)")
        }
        XCTAssertEqual(two, again)
        // Every algorithm's forward computes each sample the same way whatever the thread count.
        let w5 = Tensor.normal([16, 16, 5, 5], rng: &rng)
        for (w, padding) in [(w, 1), (w5, 2)] {
            let g = ConvGeometry(input: x.shape, weight: w.shape, stride: 1, padding: padding)
            for a in ConvAlgorithm.allCases where g.supports(a) {
                Threads.set(1)
                let y1 = Tensor.conv2d(x, w, stride: 1, padding: padding, algorithm: a)
                Threads.set(2)
                XCTAssertEqual(Tensor.conv2d(x, w, stride: 1, padding: padding, algorithm: a), y1, "\(a) forward \(w.shape)")
            }
        }
    }

    /// Every algorithm, forced on odd shapes it takes (odd sizes, padding 0–2 and more for the
    /// direct kernels, channels that are not multiples of any vector width, batch 1 and several,
    /// 1×1 to 7×7 kernels), at every SIMD level this CPU runs (AVX-512, AVX2, portable) and at
    /// one and two threads, against the direct loops: forward, input gradient, weight gradient.
    func testEveryAlgorithmAtEverySIMDLevelMatchesDirectLoops() {
        var rng = RNG(seed: 29)
        let before = Threads.count
        defer { Threads.set(before); SIMD.set(SIMD.supported) }
        // (n, c, o, h, w, kernel, padding)
        let shapes = [(3, 4, 6, 5, 7, 3, 1), (2, 9, 8, 6, 6, 3, 0), (5, 8, 3, 7, 4, 3, 2), (1, 17, 13, 19, 23, 3, 1),
                      (2, 1, 1, 3, 3, 3, 1), (4, 33, 18, 9, 13, 3, 1), (3, 5, 7, 9, 11, 5, 2), (2, 3, 5, 10, 9, 1, 0),
                      (2, 6, 9, 12, 12, 7, 3), (1, 3, 4, 6, 5, 3, 3), (20, 8, 16, 8, 8, 3, 1),
                      (2, 19, 21, 8, 9, 5, 1), (1, 4, 3, 7, 6, 5, 4), (3, 17, 16, 9, 10, 5, 0)]
        // The references once per shape; then every level, thread count and algorithm.
        let cases = shapes.map { (n, c, o, h, w, k, padding) in
            let x = Tensor.normal([n, c, h, w], rng: &rng), wt = Tensor.normal([o, c, k, k], rng: &rng)
            let g = ConvGeometry(input: x.shape, weight: wt.shape, stride: 1, padding: padding)
            let dy = Tensor.normal(g.outputShape, rng: &rng)
            let (dxRef, dwRef) = Naive.conv2dBackward(dy, x, wt, stride: 1, padding: padding)
            return (g, x, wt, dy, Naive.conv2d(x, wt, stride: 1, padding: padding), dxRef, dwRef)
        }
        var checked = Set<ConvAlgorithm>()
        for level in (0...SIMD.supported).reversed() {
            SIMD.set(level)
            XCTAssertEqual(SIMD.level, level)
            for threads in [1, 2] {
                Threads.set(threads)
                for (g, x, wt, dy, yRef, dxRef, dwRef) in cases {
                    let (c, o, k, padding) = (g.c, g.o, g.kh, g.padding)
                    for a in ConvAlgorithm.allCases where g.supports(a) {
                        let label = "\(a) \(SIMD.name(level)) \(threads) threads x \(x.shape) w \(wt.shape) p\(padding)"
                        let y = Tensor.conv2d(x, wt, stride: 1, padding: padding, algorithm: a)
                        XCTAssertLessThan(maxAbsDiff(y.data, yRef), 1e-5 * max(1, maxAbs(yRef)), "forward \(label)")
                        // The input gradient is the transposed shape's forward when padding < kernel.
                        if padding <= k - 1,
                           ConvGeometry(input: dy.shape, weight: [c, o, k, k], stride: 1, padding: k - 1 - padding).supports(a) {
                            let dx = Tensor.conv2dBackwardInput(dy, wt, inputShape: x.shape, stride: 1, padding: padding, algorithm: a)
                            XCTAssertLessThan(maxAbsDiff(dx.data, dxRef), 1e-5 * max(1, maxAbs(dxRef)), "dx \(label)")
                        }
                        if g.supports(a, .weightGradient) {
                            let dw = Tensor.conv2dBackwardWeight(dy, x, weightShape: wt.shape, stride: 1, padding: padding, algorithm: a)
                            XCTAssertLessThan(maxAbsDiff(dw.data, dwRef), 1e-5 * max(1, maxAbs(dwRef)), "dw \(label)")
                        }
                        checked.insert(a)
                    }
                }
            }
        }
        XCTAssertEqual(checked, Set(ConvAlgorithm.allCases))
        // Stride 2 (the direct kernels' phase planes; the input gradient is im2col's col2im).
        for level in (0...SIMD.supported).reversed() {
            SIMD.set(level)
            for (n, c, o, h, w, k, padding) in [(2, 3, 5, 9, 8, 3, 1), (3, 17, 9, 10, 11, 3, 0), (1, 3, 4, 15, 13, 7, 3), (2, 5, 6, 8, 7, 1, 0), (2, 4, 3, 9, 9, 5, 2)] {
                let x = Tensor.normal([n, c, h, w], rng: &rng), wt = Tensor.normal([o, c, k, k], rng: &rng)
                let g = ConvGeometry(input: x.shape, weight: wt.shape, stride: 2, padding: padding)
                let dy = Tensor.normal(g.outputShape, rng: &rng)
                let yRef = Naive.conv2d(x, wt, stride: 2, padding: padding)
                let (_, dwRef) = Naive.conv2dBackward(dy, x, wt, stride: 2, padding: padding)
                XCTAssertTrue(g.supports(.direct, .forward) && g.supports(.direct, .weightGradient))
                let label = "direct \(SIMD.name(level)) stride 2 x \(x.shape) w \(wt.shape) p\(padding)"
                let y = Tensor.conv2d(x, wt, stride: 2, padding: padding, algorithm: .direct)
                XCTAssertLessThan(maxAbsDiff(y.data, yRef), 1e-5 * max(1, maxAbs(yRef)), "forward \(label)")
                let dw = Tensor.conv2dBackwardWeight(dy, x, weightShape: wt.shape, stride: 2, padding: padding, algorithm: .direct)
                XCTAssertLessThan(maxAbsDiff(dw.data, dwRef), 1e-5 * max(1, maxAbs(dwRef)), "dw \(label)")
            }
        }
    }

    /// Winograd with few samples per thread shares each block between the threads (transforms
    /// by plane, GEMMs by α) instead of handing out blocks: the same numbers either way, and on
    /// wide layers U is large enough that a block takes several samples.
    func testWinogradSchedulesAgree() {
        var rng = RNG(seed: 41)
        let before = Threads.count
        defer { Threads.set(before) }
        let x = Tensor.normal([3, 64, 5, 5], rng: &rng)
        for (a, m, k) in [(ConvAlgorithm.winograd, 2, 3), (.winograd4, 4, 3), (.winograd4c, 4, 3), (.winograd5c, 2, 5)] {
            let w = Tensor.normal([48, 64, k, k], rng: &rng), padding = k / 2
            let g = ConvGeometry(input: x.shape, weight: w.shape, stride: 1, padding: padding)
            let dy = Tensor.normal(g.outputShape, rng: &rng)
            let plan = { WinogradPlan(g, m: m, byChannel: a == .winograd4c || a == .winograd5c) }
            XCTAssertGreaterThan(plan().samplesPerBlock, 1, "\(a)")
            Threads.set(1)
            let y1 = Tensor.conv2d(x, w, padding: padding, algorithm: a)
            let dw1 = Tensor.conv2dBackwardWeight(dy, x, weightShape: w.shape, padding: padding, algorithm: a)
            Threads.set(2)
            XCTAssertFalse(plan().threadsTakeBlocks)
            XCTAssertEqual(Tensor.conv2d(x, w, padding: padding, algorithm: a), y1, "\(a) forward")
            XCTAssertEqual(Tensor.conv2dBackwardWeight(dy, x, weightShape: w.shape, padding: padding, algorithm: a), dw1, "\(a) weight gradient")
            let yRef = Naive.conv2d(x, w, stride: 1, padding: padding)
            XCTAssertLessThan(maxAbsDiff(y1.data, yRef), 1e-5 * maxAbs(yRef), "\(a)")
        }
    }

    /// The rounding error of each algorithm against a float64 reference on realistic shapes and
    /// magnitudes (He-initialised weights, unit-variance inputs and output gradients): a WRN
    /// layer at CIFAR size, a wide layer at ResNet-18's 14×14 scale and a NIN 5×5 layer. Winograd
    /// F(4×4, 3×3)'s and F(2×2, 5×5)'s errors are about 10–20× F(2×2, 3×3)'s: near 1e-5 of the
    /// largest output, 2e-6 in RMS; the figures are printed.
    func testRoundingErrorOfEachAlgorithmOnRealisticShapes() {
        var rng = RNG(seed: 5)
        for (n, c, side, k) in [(4, 32, 16, 3), (1, 96, 14, 3), (1, 48, 16, 5)] {
            let x = Tensor.normal([n, c, side, side], rng: &rng)
            let w = Tensor.normal([c, c, k, k], rng: &rng).scaled(by: (2 / Float(k * k * c)).squareRoot())
            let padding = k / 2
            let g = ConvGeometry(input: x.shape, weight: w.shape, stride: 1, padding: padding)
            let dy = Tensor.normal(g.outputShape, rng: &rng)
            let yRef = Naive.conv2d(x, w, stride: 1, padding: padding)
            let (dxRef, dwRef) = Naive.conv2dBackward(dy, x, w, stride: 1, padding: padding)
            /// max |a − ref| / max |ref| and ‖a − ref‖₂ / ‖ref‖₂.
            func errors(_ a: Tensor, _ ref: [Double]) -> (Double, Double) {
                var e2 = 0.0, r2 = 0.0
                for (v, r) in zip(a.data, ref) { e2 += (Double(v) - r) * (Double(v) - r); r2 += r * r }
                return (maxAbsDiff(a.data, ref) / maxAbs(ref), (e2 / r2).squareRoot())
            }
            for a in ConvAlgorithm.allCases where g.supports(a) {
                let y = errors(Tensor.conv2d(x, w, padding: padding, algorithm: a), yRef)
                let dx = errors(Tensor.conv2dBackwardInput(dy, w, inputShape: x.shape, padding: padding, algorithm: a), dxRef)
                let dw = g.supports(a, .weightGradient)
                    ? errors(Tensor.conv2dBackwardWeight(dy, x, weightShape: w.shape, padding: padding, algorithm: a), dwRef) : nil
                print(String(format: "rounding %@ x [%d, %d, %d, %d] %d×%d: forward max %.1e rms %.1e, dx max %.1e rms %.1e",
                             a.rawValue, n, c, side, side, k, k, y.0, y.1, dx.0, dx.1)
                      + (dw.map { String(format: ", dw max %.1e rms %.1e", $0.0, $0.1) } ?? ""))
                let (maxBound, rmsBound) = [.winograd4, .winograd4c, .winograd4f, .winograd5c].contains(a) ? (3e-5, 6e-6) : (4e-6, 1.5e-6)
                for (what, e) in [("forward", y), ("dx", dx)] + (dw.map { [("dw", $0)] } ?? []) {
                    XCTAssertLessThan(e.0, maxBound, "\(a) \(what) max, c \(c)")
                    XCTAssertLessThan(e.1, rmsBound, "\(a) \(what) rms, c \(c)")
                }
            }
        }
    }

    /// The default choice (no tuning) is fixed, and a tuned choice is one of the shape's
    /// candidates, the same on every call, written to the cache and read back from it; the cache
    /// keeps entries another build wrote, and sets aside a file it cannot read.
    func testAlgorithmChoiceDefaultsAndTuning() throws {
        let g = ConvGeometry(input: [4, 16, 8, 8], weight: [16, 16, 3, 3], stride: 1, padding: 1)
        XCTAssertFalse(ConvTuning.isEnabled)
        XCTAssertEqual(g.algorithm(for: .forward), .winograd)
        XCTAssertEqual(g.algorithm(for: .weightGradient), .winograd)
        XCTAssertEqual(g.candidates(.forward), [.im2col, .winograd, .winograd4, .winograd4c, .winograd4f, .direct])
        XCTAssertEqual(g.candidates(.weightGradient), [.im2col, .winograd, .winograd4, .winograd4c, .direct], "winograd4f: forwards only")
        let strided = ConvGeometry(input: [4, 16, 8, 8], weight: [16, 16, 3, 3], stride: 2, padding: 1)
        XCTAssertEqual(strided.candidates(.forward), [.im2col, .direct])
        let stride3 = ConvGeometry(input: [4, 16, 8, 8], weight: [16, 16, 3, 3], stride: 3, padding: 1)
        XCTAssertEqual(stride3.candidates(.forward), [.im2col])
        XCTAssertEqual(ConvAlgorithm.forcing(.winograd4) { [g.algorithm, strided.algorithm] }, [.winograd4, .im2col], "forced where it applies")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("atx-tuning-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let previous = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"]
        setenv("XDG_CACHE_HOME", directory.path, 1)
        ConvTuning.isEnabled = true
        defer {
            ConvTuning.isEnabled = false
            if let previous { setenv("XDG_CACHE_HOME", previous, 1) } else { unsetenv("XDG_CACHE_HOME") }
            ConvTuning.forgetForTests()
        }
        let chosen = g.algorithm(for: .forward)
        XCTAssertTrue(g.candidates(.forward).contains(chosen))
        XCTAssertEqual(g.algorithm(for: .forward), chosen)
        XCTAssertNil(ConvTuning.choice(stride3, .forward), "one candidate: nothing to measure")
        let data = try Data(contentsOf: ConvTuning.cacheURL)
        let table = try JSONDecoder().decode([String: ConvTuning.Entry].self, from: data)
        XCTAssertEqual(table[ConvTuning.cacheKey(g, .forward)]?.algorithm, chosen)
        XCTAssertEqual(Set(table[ConvTuning.cacheKey(g, .forward)]?.seconds.keys.map { $0 } ?? []), Set(g.candidates(.forward).map(\.rawValue)))
        // A new process (here: forgetting what this one decided) reads the same choice back.
        ConvTuning.forgetForTests()
        XCTAssertEqual(g.algorithm(for: .forward), chosen)

        // An entry written by another build (an algorithm this one does not know) neither hides
        // the entries this build can read nor is dropped when the file is written again.
        var raw = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: ConvTuning.cacheURL)) as? [String: Any])
        raw["a newer build's shape"] = ["algorithm": "winograd9", "seconds": ["winograd9": 0.001, "im2col": 0.002]]
        try JSONSerialization.data(withJSONObject: raw).write(to: ConvTuning.cacheURL)
        ConvTuning.forgetForTests()
        XCTAssertEqual(g.algorithm(for: .forward), chosen, "read back beside an unknown algorithm")
        let other = ConvGeometry(input: [2, 8, 6, 6], weight: [8, 8, 3, 3], stride: 1, padding: 1)
        _ = other.algorithm(for: .forward)   // measured and written
        let after = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: ConvTuning.cacheURL)) as? [String: Any])
        for key in ["a newer build's shape", ConvTuning.cacheKey(g, .forward), ConvTuning.cacheKey(other, .forward)] {
            XCTAssertNotNil(after[key], key)
        }
        // A file that is not a table at all is set aside, not overwritten.
        try Data("not json".utf8).write(to: ConvTuning.cacheURL)
        ConvTuning.forgetForTests()
        XCTAssertTrue(g.candidates(.forward).contains(g.algorithm(for: .forward)))
        XCTAssertEqual(try String(contentsOf: ConvTuning.cacheURL.appendingPathExtension("unreadable"), encoding: .utf8), "not json")
        XCTAssertNotNil(try JSONDecoder().decode([String: ConvTuning.Entry].self, from: Data(contentsOf: ConvTuning.cacheURL))[ConvTuning.cacheKey(g, .forward)])
    }
}
