// 2-D convolution as im2col + one GEMM over the whole batch, with its two backward kernels
// (input: GEMM + col2im; weight: im2col + GEMM). Cross-correlation, as in PyTorch.

/// The sizes of one convolution. x: [N, C, H, W], w: [O, C, KH, KW], y: [N, O, OH, OW].
public struct ConvGeometry: Equatable, Hashable, Sendable {
    public let n, c, h, w, o, kh, kw, stride, padding, oh, ow: Int

    public init(input: [Int], weight: [Int], stride: Int, padding: Int, op: String = "conv2d") {
        precondition(input.count == 4, "\(op): input must be [N, C, H, W], got \(input)")
        precondition(weight.count == 4, "\(op): weight must be [O, C, KH, KW], got \(weight)")
        precondition(input[1] == weight[1],
                     "\(op): input \(input) has \(input[1]) channels but weight \(weight) expects \(weight[1])")
        precondition(stride >= 1 && padding >= 0, "\(op): stride \(stride) must be ≥ 1 and padding \(padding) ≥ 0")
        n = input[0]; c = input[1]; h = input[2]; w = input[3]
        o = weight[0]; kh = weight[2]; kw = weight[3]
        self.stride = stride; self.padding = padding
        oh = (h + 2 * padding - kh) / stride + 1
        ow = (w + 2 * padding - kw) / stride + 1
        precondition(h + 2 * padding >= kh && w + 2 * padding >= kw,
                     "\(op): kernel \(kh)×\(kw) larger than padded input \(h)×\(w) (padding \(padding))")
    }

    public var inputShape: [Int] { [n, c, h, w] }
    public var weightShape: [Int] { [o, c, kh, kw] }
    public var outputShape: [Int] { [n, o, oh, ow] }
    /// Rows of the im2col matrix: C·KH·KW.
    public var colRows: Int { c * kh * kw }
    /// Columns of the im2col matrix: N·OH·OW.
    public var colCols: Int { n * oh * ow }
    /// Multiply-adds of the forward GEMM, times two.
    public var flops: Double { 2 * Double(o) * Double(colRows) * Double(colCols) }
}

public enum ConvKernels {
    /// col[(c, ki, kj), (n, oy, ox)] = x[n, c, oy·s − p + ki, ox·s − p + kj] (0 outside).
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>) {
        let L = g.oh * g.ow, cols = g.colCols
        let colP = SendablePointer(col)
        Threads.parallelFor(g.colRows, costPerItem: cols) { rows in
            let col = colP.p
            for r in rows {
                let c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw
                let rowBase = col + r * cols
                // ox range where ix = ox·s − p + kj is inside [0, w)
                var oxLo = 0
                while oxLo < g.ow && oxLo * g.stride - g.padding + kj < 0 { oxLo += 1 }
                var oxHi = g.ow
                while oxHi > oxLo && (oxHi - 1) * g.stride - g.padding + kj >= g.w { oxHi -= 1 }
                for n in 0..<g.n {
                    let plane = x + (n * g.c + c) * g.h * g.w
                    for oy in 0..<g.oh {
                        let dst = rowBase + n * L + oy * g.ow
                        let iy = oy * g.stride - g.padding + ki
                        if iy < 0 || iy >= g.h {
                            dst.update(repeating: 0, count: g.ow)
                            continue
                        }
                        if oxLo > 0 { dst.update(repeating: 0, count: oxLo) }
                        if oxHi < g.ow { (dst + oxHi).update(repeating: 0, count: g.ow - oxHi) }
                        let src = plane + iy * g.w - g.padding + kj
                        if g.stride == 1 {
                            if oxHi > oxLo { (dst + oxLo).update(from: src + oxLo, count: oxHi - oxLo) }
                        } else {
                            var ox = oxLo
                            while ox < oxHi { dst[ox] = src[ox * g.stride]; ox += 1 }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: x[n, c, iy, ix] += col[(c, ki, kj), (n, oy, ox)]. Overwrites x.
    public static func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>) {
        let L = g.oh * g.ow, cols = g.colCols
        let xP = SendablePointer(x)
        Threads.parallelFor(g.c, costPerItem: g.kh * g.kw * cols) { channels in
            let x = xP.p
            for c in channels {
                for n in 0..<g.n { (x + (n * g.c + c) * g.h * g.w).update(repeating: 0, count: g.h * g.w) }
                for ki in 0..<g.kh {
                    for kj in 0..<g.kw {
                        let r = (c * g.kh + ki) * g.kw + kj
                        let rowBase = col + r * cols
                        var oxLo = 0
                        while oxLo < g.ow && oxLo * g.stride - g.padding + kj < 0 { oxLo += 1 }
                        var oxHi = g.ow
                        while oxHi > oxLo && (oxHi - 1) * g.stride - g.padding + kj >= g.w { oxHi -= 1 }
                        for n in 0..<g.n {
                            let plane = x + (n * g.c + c) * g.h * g.w
                            for oy in 0..<g.oh {
                                let iy = oy * g.stride - g.padding + ki
                                if iy < 0 || iy >= g.h { continue }
                                let src = rowBase + n * L + oy * g.ow
                                let dst = plane + iy * g.w - g.padding + kj
                                var ox = oxLo
                                if g.stride == 1 {
                                    while ox < oxHi { dst[ox] += src[ox]; ox += 1 }
                                } else {
                                    while ox < oxHi { dst[ox * g.stride] += src[ox]; ox += 1 }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// [N, O, L] ↔ [O, N·L] (both directions are the same block transpose with roles swapped).
    static func nolToOnl(_ src: UnsafePointer<Float>, n: Int, o: Int, l: Int, _ dst: UnsafeMutablePointer<Float>) {
        let dP = SendablePointer(dst)
        Threads.parallelFor(o, costPerItem: n * l) { os in
            for oc in os { for b in 0..<n { (dP.p + oc * n * l + b * l).update(from: src + (b * o + oc) * l, count: l) } }
        }
    }

    static func onlToNol(_ src: UnsafePointer<Float>, n: Int, o: Int, l: Int, _ dst: UnsafeMutablePointer<Float>) {
        let dP = SendablePointer(dst)
        Threads.parallelFor(n, costPerItem: o * l) { bs in
            for b in bs { for oc in 0..<o { (dP.p + (b * o + oc) * l).update(from: src + oc * n * l + b * l, count: l) } }
        }
    }
}

extension Tensor {
    /// y = conv2d(x, w): x [N, C, H, W], w [O, C, KH, KW] → [N, O, OH, OW]. No bias (see `addChannelBias`).
    public static func conv2d(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Int = 0) -> Tensor {
        let g = ConvGeometry(input: x.shape, weight: w.shape, stride: stride, padding: padding)
        var col = [Float](repeating: 0, count: g.colRows * g.colCols)
        var onl = [Float](repeating: 0, count: g.o * g.colCols)
        x.data.withUnsafeBufferPointer { px in col.withUnsafeMutableBufferPointer { ConvKernels.im2col(px.baseAddress!, g, $0.baseAddress!) } }
        w.data.withUnsafeBufferPointer { pw in
            col.withUnsafeBufferPointer { pc in
                onl.withUnsafeMutableBufferPointer { po in
                    BLAS.gemm(m: g.o, n: g.colCols, k: g.colRows, a: pw.baseAddress!, lda: g.colRows,
                              b: pc.baseAddress!, ldb: g.colCols, c: po.baseAddress!, ldc: g.colCols)
                }
            }
        }
        return Tensor(shape: g.outputShape) { out in
            onl.withUnsafeBufferPointer { ConvKernels.onlToNol($0.baseAddress!, n: g.n, o: g.o, l: g.oh * g.ow, out.baseAddress!) }
        }
    }

    /// dx = conv2dBackwardInput(dy, w): the transposed convolution, dy [N, O, OH, OW] → [N, C, H, W].
    public static func conv2dBackwardInput(_ dy: Tensor, _ w: Tensor, inputShape: [Int], stride: Int = 1, padding: Int = 0) -> Tensor {
        let g = ConvGeometry(input: inputShape, weight: w.shape, stride: stride, padding: padding, op: "conv2dBackwardInput")
        precondition(dy.shape == g.outputShape,
                     "conv2dBackwardInput: dy \(dy.shape) does not match output shape \(g.outputShape) of input \(inputShape) and weight \(w.shape)")
        var onl = [Float](repeating: 0, count: g.o * g.colCols)
        var col = [Float](repeating: 0, count: g.colRows * g.colCols)
        dy.data.withUnsafeBufferPointer { p in onl.withUnsafeMutableBufferPointer { ConvKernels.nolToOnl(p.baseAddress!, n: g.n, o: g.o, l: g.oh * g.ow, $0.baseAddress!) } }
        w.data.withUnsafeBufferPointer { pw in
            onl.withUnsafeBufferPointer { po in
                col.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(transA: true, m: g.colRows, n: g.colCols, k: g.o, a: pw.baseAddress!, lda: g.colRows,
                              b: po.baseAddress!, ldb: g.colCols, c: pc.baseAddress!, ldc: g.colCols)
                }
            }
        }
        return Tensor(shape: g.inputShape) { dx in
            col.withUnsafeBufferPointer { ConvKernels.col2im($0.baseAddress!, g, dx.baseAddress!) }
        }
    }

    /// dw = conv2dBackwardWeight(dy, x): dy [N, O, OH, OW], x [N, C, H, W] → [O, C, KH, KW].
    public static func conv2dBackwardWeight(_ dy: Tensor, _ x: Tensor, weightShape: [Int], stride: Int = 1, padding: Int = 0) -> Tensor {
        let g = ConvGeometry(input: x.shape, weight: weightShape, stride: stride, padding: padding, op: "conv2dBackwardWeight")
        precondition(dy.shape == g.outputShape,
                     "conv2dBackwardWeight: dy \(dy.shape) does not match output shape \(g.outputShape) of input \(x.shape) and weight \(weightShape)")
        var onl = [Float](repeating: 0, count: g.o * g.colCols)
        var col = [Float](repeating: 0, count: g.colRows * g.colCols)
        dy.data.withUnsafeBufferPointer { p in onl.withUnsafeMutableBufferPointer { ConvKernels.nolToOnl(p.baseAddress!, n: g.n, o: g.o, l: g.oh * g.ow, $0.baseAddress!) } }
        x.data.withUnsafeBufferPointer { px in col.withUnsafeMutableBufferPointer { ConvKernels.im2col(px.baseAddress!, g, $0.baseAddress!) } }
        return Tensor(shape: g.weightShape) { dw in
            onl.withUnsafeBufferPointer { po in
                col.withUnsafeBufferPointer { pc in
                    BLAS.gemm(transB: true, m: g.o, n: g.colRows, k: g.colCols, a: po.baseAddress!, lda: g.colCols,
                              b: pc.baseAddress!, ldb: g.colCols, c: dw.baseAddress!, ldc: g.colRows)
                }
            }
        }
    }
}
