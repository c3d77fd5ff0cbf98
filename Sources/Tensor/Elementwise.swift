// Elementwise kernels with NumPy broadcasting, reductions over an axis, softmax, flips.
import CKernels

public enum BinaryOp: Sendable {
    case add, sub, mul, div, max
}

extension Tensor {
    /// The broadcast shape of two shapes (right-aligned, extents equal or 1), or a precondition
    /// failure naming the operation and both shapes.
    public static func broadcastShape(_ a: [Int], _ b: [Int], op: String = "broadcast") -> [Int] {
        let r = Swift.max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a
        let pb = [Int](repeating: 1, count: r - b.count) + b
        return (0..<r).map { i in
            precondition(pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1,
                         "\(op): shapes \(a) and \(b) cannot be broadcast together")
            return Swift.max(pa[i], pb[i])
        }
    }

    /// Row-major strides of `shape` viewed inside `outShape` (0 along broadcast dimensions).
    static func broadcastStrides(_ shape: [Int], in outShape: [Int]) -> [Int] {
        let r = outShape.count
        let padded = [Int](repeating: 1, count: r - shape.count) + shape
        var strides = [Int](repeating: 0, count: r)
        var s = 1
        for i in stride(from: r - 1, through: 0, by: -1) {
            strides[i] = padded[i] == 1 ? 0 : s
            s *= padded[i]
        }
        return strides
    }

    /// Visits every element of `outShape` in row-major order, giving the offsets into two
    /// broadcast operands. The innermost dimension is passed as a run (count, strides). Runs are
    /// independent, so with `parallel` they are split over threads (each writes its own runs).
    static func forEachBroadcastRun(_ outShape: [Int], _ sa: [Int], _ sb: [Int], parallel: Bool = false,
                                    _ body: (_ out: Int, _ a: Int, _ b: Int, _ count: Int, _ da: Int, _ db: Int) -> Void) {
        let r = outShape.count
        if r == 0 { body(0, 0, 0, 1, 0, 0); return }
        let inner = outShape[r - 1]
        let outer = outShape.product / Swift.max(inner, 1)
        if inner == 0 { return }
        func runs(_ rows: Range<Int>) {
            // The multi-index of the first row, then counted up row by row.
            var idx = [Int](repeating: 0, count: r)
            var rest = rows.lowerBound
            for d in stride(from: r - 2, through: 0, by: -1) { idx[d] = rest % outShape[d]; rest /= outShape[d] }
            for o in rows {
                var offA = 0, offB = 0
                for d in 0..<(r - 1) { offA += idx[d] * sa[d]; offB += idx[d] * sb[d] }
                body(o * inner, offA, offB, inner, sa[r - 1], sb[r - 1])
                var d = r - 2
                while d >= 0 {
                    idx[d] += 1
                    if idx[d] < outShape[d] { break }
                    idx[d] = 0; d -= 1
                }
            }
        }
        if parallel { Threads.parallelFor(outer, costPerItem: inner, runs) } else { runs(0..<outer) }
    }

    /// a ∘ b elementwise with broadcasting.
    public static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
        if a.shape == b.shape {
            return Tensor(shape: a.shape) { out in
                let o = SendablePointer(out.baseAddress!)
                a.data.withUnsafeBufferPointer { pa in
                    b.data.withUnsafeBufferPointer { pb in
                        let pa = pa.baseAddress!, pb = pb.baseAddress!
                        Threads.parallelFor(a.count) { r in
                            switch op {
                            case .add: for i in r { o.p[i] = pa[i] + pb[i] }
                            case .sub: for i in r { o.p[i] = pa[i] - pb[i] }
                            case .mul: for i in r { o.p[i] = pa[i] * pb[i] }
                            case .div: for i in r { o.p[i] = pa[i] / pb[i] }
                            case .max: for i in r { o.p[i] = Swift.max(pa[i], pb[i]) }
                            }
                        }
                    }
                }
            }
        }
        let shape = broadcastShape(a.shape, b.shape, op: "\(op)")
        let sa = broadcastStrides(a.shape, in: shape), sb = broadcastStrides(b.shape, in: shape)
        return Tensor(shape: shape) { out in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    let out = SendablePointer(out.baseAddress!), pa = pa.baseAddress!, pb = pb.baseAddress!
                    forEachBroadcastRun(shape, sa, sb, parallel: true) { o, ia, ib, n, da, db in
                        let out = out.p
                        switch op {
                        case .add: broadcastRun(out + o, pa + ia, da, pb + ib, db, n, +)
                        case .sub: broadcastRun(out + o, pa + ia, da, pb + ib, db, n, -)
                        case .mul: broadcastRun(out + o, pa + ia, da, pb + ib, db, n, *)
                        case .div: broadcastRun(out + o, pa + ia, da, pb + ib, db, n, /)
                        case .max: broadcastRun(out + o, pa + ia, da, pb + ib, db, n, Swift.max)
                        }
                    }
                }
            }
        }
    }

    /// out[k] = f(a[k·da], b[k·db]) for k in 0..<n, with the common strides (1 or 0) as
    /// separate loops so each vectorises.
    @inline(__always)
    static func broadcastRun(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ da: Int,
                             _ b: UnsafePointer<Float>, _ db: Int, _ n: Int, _ f: (Float, Float) -> Float) {
        switch (da, db) {
        case (1, 1): for k in 0..<n { out[k] = f(a[k], b[k]) }
        case (1, 0): let bv = b[0]; for k in 0..<n { out[k] = f(a[k], bv) }
        case (0, 1): let av = a[0]; for k in 0..<n { out[k] = f(av, b[k]) }
        default: for k in 0..<n { out[k] = f(a[k * da], b[k * db]) }
        }
    }

    /// f applied to every element (in parallel for large tensors). `f` is called per element;
    /// hot kernels use `elementwise`, whose loop is written inside its closure.
    public func map(_ f: (Float) -> Float) -> Tensor {
        elementwise { x, y, r in for i in r { y[i] = f(x[i]) } }
    }

    /// A tensor of the same shape whose elements `body(x, y, range)` writes for each range of a
    /// parallel split, from this tensor's elements x.
    @inline(__always)
    func elementwise(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void) -> Tensor {
        Tensor(shape: shape) { out in
            let o = SendablePointer(out.baseAddress!)
            data.withUnsafeBufferPointer { p in
                let p = p.baseAddress!
                Threads.parallelFor(count) { r in body(p, o.p, r) }
            }
        }
    }

    /// scale · x^p elementwise; small integer exponents by multiplication (powf is several times
    /// slower, and x·x is the correctly rounded square).
    public func pow(_ p: Float, scale: Float = 1) -> Tensor {
        switch p {
        case 0: return Tensor(repeating: scale, shape: shape)
        case 1: return elementwise { x, y, r in for i in r { y[i] = scale * x[i] } }
        case 2: return elementwise { x, y, r in for i in r { y[i] = scale * (x[i] * x[i]) } }
        case 3: return elementwise { x, y, r in for i in r { y[i] = scale * (x[i] * x[i] * x[i]) } }
        case 4: return elementwise { x, y, r in for i in r { let s = x[i] * x[i]; y[i] = scale * (s * s) } }
        default: return elementwise { x, y, r in for i in r { y[i] = scale * powf(x[i], p) } }
        }
    }

    /// x · s elementwise.
    public func scaled(by s: Float) -> Tensor {
        elementwise { x, y, r in for i in r { y[i] = x[i] * s } }
    }

    /// max(x, 0) elementwise.
    public func relu() -> Tensor {
        elementwise { x, y, r in for i in r { y[i] = Swift.max(x[i], 0) } }
    }

    /// ReLU's input gradient from its output: g · [y > 0] (y > 0 exactly where x > 0), as a
    /// product with a 0/1 mask, without materialising the mask.
    public static func reluBackward(_ g: Tensor, output y: Tensor) -> Tensor {
        precondition(g.shape == y.shape, "reluBackward: gradient \(g.shape) differs from output \(y.shape)")
        return Tensor(shape: y.shape) { out in
            let o = SendablePointer(out.baseAddress!)
            g.data.withUnsafeBufferPointer { pg in
                y.data.withUnsafeBufferPointer { py in
                    let pg = pg.baseAddress!, py = py.baseAddress!
                    Threads.parallelFor(y.count) { r in
                        for i in r { let m: Float = py[i] > 0 ? 1 : 0; o.p[i] = pg[i] * m }
                    }
                }
            }
        }
    }

    /// The tensor repeated along its broadcast dimensions to `target`.
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let s = Tensor.broadcastShape(shape, target, op: "broadcast(to:)")
        precondition(s == target, "broadcast(to:): shape \(shape) cannot be broadcast to \(target)")
        let sa = Tensor.broadcastStrides(shape, in: target)
        return Tensor(shape: target) { out in
            data.withUnsafeBufferPointer { p in
                let out = SendablePointer(out.baseAddress!)
                Tensor.forEachBroadcastRun(target, sa, sa, parallel: true) { o, ia, _, n, da, _ in
                    let dst = out.p + o
                    switch da {
                    case 0: dst.update(repeating: p[ia], count: n)
                    case 1: dst.update(from: p.baseAddress! + ia, count: n)
                    default: for k in 0..<n { dst[k] = p[ia + k * da] }
                    }
                }
            }
        }
    }

    /// The adjoint of `broadcast(to:)`: sums over the dimensions along which `target` broadcasts.
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let s = Tensor.broadcastShape(target, shape, op: "sum(toShape:)")
        precondition(s == shape, "sum(toShape:): shape \(shape) does not reduce to \(target)")
        let padded = [Int](repeating: 1, count: shape.count - target.count) + target
        if let k = (0...shape.count).first(where: { padded[..<$0] == shape[..<$0] && padded[$0...].allSatisfy { $0 == 1 } }) {
            // Trailing dimensions only ([N, D] → [N, 1]): each row's sum, as sum(axis:) takes it.
            return Tensor.rowSums(self, rows: shape[..<k].reduce(1, *), length: shape[k...].reduce(1, *), shape: target)
        }
        let st = Tensor.broadcastStrides(target, in: shape)
        var out = [Float](repeating: 0, count: target.product)
        data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { po in
                Tensor.forEachBroadcastRun(shape, st, st) { o, it, _, n, dt, _ in
                    var it = it
                    for k in 0..<n { po[it] += p[o + k]; it += dt }
                }
            }
        }
        return Tensor(shape: target, data: out)
    }

    /// Splits the shape around `axis` into (outer, n, inner).
    func axisSplit(_ axis: Int, op: String) -> (Int, Int, Int) {
        precondition(axis >= 0 && axis < rank, "\(op): axis \(axis) out of range for shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    func reducedShape(_ axis: Int, keepDims: Bool) -> [Int] {
        var s = shape
        if keepDims { s[axis] = 1 } else { s.remove(at: axis) }
        return s
    }

    /// The sums of `rows` consecutive runs of `length` elements, vectorised in C (atx_plane_sums:
    /// the lanes' partial sums, then the lanes in order), the rows split over threads: a row's
    /// sum does not depend on the thread count.
    static func rowSums(_ x: Tensor, rows: Int, length: Int, shape: [Int]) -> Tensor {
        Tensor(shape: shape) { out in
            let out = SendablePointer(out.baseAddress!)
            x.data.withUnsafeBufferPointer { p in
                let p = p.baseAddress!
                Threads.parallelFor(rows, costPerItem: length) { r in
                    atx_plane_sums(p, length, 1, r.lowerBound, r.upperBound, nil, out.p)
                }
            }
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner) = axisSplit(axis, op: "sum(axis:)")
        if inner == 1 { return Tensor.rowSums(self, rows: outer, length: n, shape: reducedShape(axis, keepDims: keepDims)) }
        return Tensor(shape: reducedShape(axis, keepDims: keepDims)) { out in
            let out = SendablePointer(out.baseAddress!)
            data.withUnsafeBufferPointer { p in
                let p = p.baseAddress!
                // Each output element sums its n inputs in order; split over outer rows, or over
                // the inner positions when there is one row.
                func sums(_ os: Range<Int>, _ positions: Range<Int>) {
                    for o in os {
                        let dst = out.p + o * inner
                        for i in positions { dst[i] = 0 }
                        for k in 0..<n {
                            let src = p + (o * n + k) * inner
                            for i in positions { dst[i] += src[i] }
                        }
                    }
                }
                if outer > 1 {
                    Threads.parallelFor(outer, costPerItem: n * inner) { sums($0, 0..<inner) }
                } else {
                    Threads.parallelFor(inner, costPerItem: n * outer) { sums(0..<outer, $0) }
                }
            }
        }
    }

    /// Sum of all elements (accumulated in Double).
    public func sum() -> Float {
        data.withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) }
            return Float(s)
        }
    }

    /// Maximum over one axis and the index (first maximum) along that axis.
    public func max(axis: Int, keepDims: Bool = false) -> (values: Tensor, indices: [Int32]) {
        let (outer, n, inner) = axisSplit(axis, op: "max(axis:)")
        precondition(n > 0, "max(axis:): empty axis \(axis) in shape \(shape)")
        var idx = [Int32](repeating: 0, count: outer * inner)
        let values = Tensor(shape: reducedShape(axis, keepDims: keepDims)) { out in
            data.withUnsafeBufferPointer { p in
                for o in 0..<outer {
                    for i in 0..<inner {
                        var best = p[o * n * inner + i], bi: Int32 = 0
                        for k in 1..<n where p[(o * n + k) * inner + i] > best {
                            best = p[(o * n + k) * inner + i]; bi = Int32(k)
                        }
                        out[o * inner + i] = best
                        idx[o * inner + i] = bi
                    }
                }
            }
        }
        return (values, idx)
    }

    /// One-hot mask (same shape as self) of the first maximum along `axis`.
    public func argmaxMask(axis: Int) -> Tensor {
        let (outer, n, inner) = axisSplit(axis, op: "argmaxMask")
        let (_, idx) = max(axis: axis)
        var m = Tensor(zeros: shape)
        for o in 0..<outer { for i in 0..<inner { m.data[(o * n + Int(idx[o * inner + i])) * inner + i] = 1 } }
        return m
    }

    /// log-softmax along `axis`, computed stably.
    public func logSoftmax(axis: Int) -> Tensor {
        let (outer, n, inner) = axisSplit(axis, op: "logSoftmax")
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { p in
                for o in 0..<outer {
                    for i in 0..<inner {
                        var m = -Float.infinity
                        for k in 0..<n { m = Swift.max(m, p[(o * n + k) * inner + i]) }
                        var s: Double = 0
                        for k in 0..<n { s += Double(expf(p[(o * n + k) * inner + i] - m)) }
                        let lse = m + Float(log(s))
                        for k in 0..<n { out[(o * n + k) * inner + i] = p[(o * n + k) * inner + i] - lse }
                    }
                }
            }
        }
    }

    public func softmax(axis: Int) -> Tensor { logSoftmax(axis: axis).map { expf($0) } }

    /// Reverses the last axis (horizontal flip of NCHW images).
    public func flippedLastAxis() -> Tensor {
        precondition(rank >= 1, "flip: needs at least one dimension, got a scalar")
        let w = shape[rank - 1], rows = count / Swift.max(w, 1)
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { p in
                for r in 0..<rows { for j in 0..<w { out[r * w + j] = p[r * w + w - 1 - j] } }
            }
        }
    }

    /// Permutes the dimensions: result.shape[i] = shape[perm[i]].
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.sorted() == Array(0..<rank), "permute: \(perm) is not a permutation of the axes of \(shape)")
        let newShape = perm.map { shape[$0] }
        var srcStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { srcStrides[i] = srcStrides[i + 1] * shape[i + 1] }
        let st = perm.map { srcStrides[$0] }
        return Tensor(shape: newShape) { out in
            data.withUnsafeBufferPointer { p in
                Tensor.forEachBroadcastRun(newShape, st, st) { o, ia, _, n, da, _ in
                    var ia = ia
                    for k in 0..<n { out[o + k] = p[ia]; ia += da }
                }
            }
        }
    }
}

import Foundation
