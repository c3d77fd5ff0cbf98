import XCTest
@testable import Tensor

final class ElementwiseTests: XCTestCase {
    func testBroadcastingBinaryOpsAndTheirAdjoint() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3], data: [10, 20, 30])
        XCTAssertEqual(Tensor.binary(a, b, .add).data, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual(Tensor.binary(a, Tensor(shape: [2, 1], data: [2, 3]), .mul).data, [2, 4, 6, 12, 15, 18])
        XCTAssertEqual(Tensor.binary(a, Tensor(scalar: 2), .div).data, [0.5, 1, 1.5, 2, 2.5, 3])
        XCTAssertEqual(Tensor.binary(a, b, .max).shape, [2, 3])
        XCTAssertEqual(a.sum(toShape: [3]).data, [5, 7, 9])
        XCTAssertEqual(a.sum(toShape: [2, 1]).data, [6, 15])
        XCTAssertEqual(b.broadcast(to: [2, 3]).data, [10, 20, 30, 10, 20, 30])
    }

    func testReductionsSoftmaxFlipPermute() {
        let a = Tensor(shape: [2, 3], data: [1, 5, 3, 4, 2, 6])
        XCTAssertEqual(a.sum(axis: 0).data, [5, 7, 9])
        XCTAssertEqual(a.sum(axis: 1, keepDims: true).shape, [2, 1])
        let (m, i) = a.max(axis: 1)
        XCTAssertEqual(m.data, [5, 6]); XCTAssertEqual(i, [1, 2])
        XCTAssertEqual(a.argmaxMask(axis: 0).data, [0, 1, 0, 1, 0, 1])
        let s = a.softmax(axis: 1)
        XCTAssertEqual(s.sum(axis: 1).data[0], 1, accuracy: 1e-6)
        let big = Tensor(shape: [1, 2], data: [1000, 0])   // stable
        XCTAssertEqual(big.logSoftmax(axis: 1).data[0], 0, accuracy: 1e-6)
        XCTAssertEqual(a.flippedLastAxis().data, [3, 5, 1, 6, 2, 4])
        XCTAssertEqual(a.permuted([1, 0]).data, [1, 4, 5, 2, 3, 6])
    }

    func testRNGIsSeededAndRestorable() {
        var a = RNG(seed: 42), b = RNG(seed: 42)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        var c = RNG(state: a.state)
        XCTAssertEqual(a.uniform(), c.uniform())
        let p = a.permutation(100)
        XCTAssertEqual(p.sorted(), Array(0..<100))
        XCTAssertNotEqual(p, Array(0..<100))
        let xs = (0..<20000).map { _ in Double(a.normal()) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let v = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03); XCTAssertEqual(v, 1, accuracy: 0.05)
        XCTAssertTrue((0..<1000).allSatisfy { _ in let u = a.uniform(); return u >= 0 && u < 1 })
    }

    func testMatmulTransposes() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1])
        XCTAssertEqual(Tensor.matmul(a, b).data, [4, 5, 10, 11])
        XCTAssertEqual(Tensor.matmul(a, a, transB: true).data, [14, 32, 32, 77])
        XCTAssertEqual(Tensor.matmul(a, a, transA: true).shape, [3, 3])
    }

    /// The dedicated kernels against their definitions: ReLU and its backward from the output,
    /// integer and general powers, and broadcasting with every stride pattern of the inner run.
    func testReluPowAndBroadcastKernels() {
        var rng = RNG(seed: 8)
        let x = Tensor.normal([3, 5, 7], rng: &rng), g = Tensor.normal([3, 5, 7], rng: &rng)
        XCTAssertEqual(x.scaled(by: -1.5).data, x.data.map { $0 * -1.5 })
        let y = x.relu()
        XCTAssertEqual(y.data, x.data.map { Swift.max($0, 0) })
        XCTAssertEqual(Tensor.reluBackward(g, output: y).data, zip(g.data, x.data).map { $0 * ($1 > 0 ? 1 : 0) })
        for p: Float in [0, 1, 2, 3, 4, -0.5, 1.5] {
            let base = p == Float(Int(p)) ? x : x.map { Swift.abs($0) + 0.1 }
            let got = base.pow(p, scale: 3), want = base.data.map { 3 * powf($0, p) }
            for (a, b) in zip(got.data, want) { XCTAssertEqual(a, b, accuracy: 1e-5 * Swift.max(1, Swift.abs(b)), "p \(p)") }
        }
        let a = Tensor.normal([2, 3, 4], rng: &rng)
        for bShape in [[2, 3, 4], [4], [3, 1], [2, 1, 4], [1], [2, 3, 1]] {
            let b = Tensor.normal(bShape, rng: &rng)
            let bb = b.broadcast(to: a.shape)
            XCTAssertEqual(Tensor.binary(a, b, .sub).data, zip(a.data, bb.data).map { $0 - $1 }, "a − b \(bShape)")
            XCTAssertEqual(Tensor.binary(b, a, .div).data, zip(bb.data, a.data).map { $0 / $1 }, "b / a \(bShape)")
            XCTAssertEqual(Tensor.binary(a, b, .max).data, zip(a.data, bb.data).map { Swift.max($0, $1) }, "max \(bShape)")
        }
        let col = Tensor.normal([3, 1], rng: &rng)
        XCTAssertEqual(col.broadcast(to: [2, 3, 4]).data, (0..<24).map { col.data[($0 / 4) % 3] })
    }
}
