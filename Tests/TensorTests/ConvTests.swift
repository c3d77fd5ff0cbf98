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
    /// the same numbers when a call is repeated with the same thread count.
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
    }
}
