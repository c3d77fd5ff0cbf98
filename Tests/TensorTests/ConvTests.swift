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

    /// im2col and col2im are adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.
    func testCol2imIsTheAdjointOfIm2col() {
        var rng = RNG(seed: 3)
        let g = ConvGeometry(input: [2, 3, 6, 5], weight: [1, 3, 3, 3], stride: 2, padding: 1)
        let x = Tensor.normal(g.inputShape, rng: &rng)
        let c = Tensor.normal([g.colRows, g.colCols], rng: &rng)
        var col = [Float](repeating: 0, count: c.count), back = [Float](repeating: 0, count: x.count)
        x.data.withUnsafeBufferPointer { px in col.withUnsafeMutableBufferPointer { ConvKernels.im2col(px.baseAddress!, g, $0.baseAddress!) } }
        c.data.withUnsafeBufferPointer { pc in back.withUnsafeMutableBufferPointer { ConvKernels.col2im(pc.baseAddress!, g, $0.baseAddress!) } }
        let lhs = zip(col, c.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(x.data, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))
    }

    /// The same numbers with one thread and with two.
    func testThreadCountDoesNotChangeResults() {
        var rng = RNG(seed: 11)
        let x = Tensor.normal([8, 16, 16, 16], rng: &rng), w = Tensor.normal([16, 16, 3, 3], rng: &rng)
        let before = Threads.count
        defer { Threads.set(before) }
        Threads.set(1)
        let y1 = Tensor.conv2d(x, w, stride: 1, padding: 1)
        let d1 = Tensor.conv2dBackwardInput(y1, w, inputShape: x.shape, stride: 1, padding: 1)
        Threads.set(2)
        let y2 = Tensor.conv2d(x, w, stride: 1, padding: 1)
        let d2 = Tensor.conv2dBackwardInput(y1, w, inputShape: x.shape, stride: 1, padding: 1)
        let y2d = y2.data.map(Double.init), d2d = d2.data.map(Double.init)
        XCTAssertLessThan(maxAbsDiff(y1.data, y2d), 1e-5 * maxAbs(y2d))
        XCTAssertLessThan(maxAbsDiff(d1.data, d2d), 1e-5 * maxAbs(d2d))
    }
}
