// Pooling kernels. Max pooling returns the flat index (into x) of each window's maximum, so its
// backward is a scatter-add and the adjoint of that scatter is a gather at the same indices.

/// Window geometry of a 2-D pool over x: [N, C, H, W] → [N, C, OH, OW].
public struct PoolGeometry: Equatable, Sendable {
    public let n, c, h, w, kernel, stride, padding, oh, ow: Int
    public init(input: [Int], kernel: Int, stride: Int, padding: Int, op: String) {
        precondition(input.count == 4, "\(op): input must be [N, C, H, W], got \(input)")
        precondition(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel,
                     "\(op): kernel \(kernel), stride \(stride), padding \(padding) invalid (padding at most half the kernel)")
        n = input[0]; c = input[1]; h = input[2]; w = input[3]
        precondition(h + 2 * padding >= kernel && w + 2 * padding >= kernel,
                     "\(op): kernel \(kernel) larger than padded input \(h)×\(w)")
        self.kernel = kernel; self.stride = stride; self.padding = padding
        oh = (h + 2 * padding - kernel) / stride + 1
        ow = (w + 2 * padding - kernel) / stride + 1
    }
    public var outputShape: [Int] { [n, c, oh, ow] }
}

extension Tensor {
    /// Max pool; padding never wins (it counts as −∞). Returns the flat argmax index per output.
    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> (Tensor, [Int32]) {
        let g = PoolGeometry(input: x.shape, kernel: kernel, stride: stride, padding: padding, op: "maxPool2d")
        precondition(x.count < Int(Int32.max), "maxPool2d: tensor too large for 32-bit indices")
        var idx = [Int32](repeating: 0, count: g.outputShape.product)
        let y = Tensor(shape: g.outputShape) { out in
            let o = SendablePointer(out.baseAddress!)
            idx.withUnsafeMutableBufferPointer { pi in
                let ip = SendablePointer(pi.baseAddress!)
                x.data.withUnsafeBufferPointer { px in
                    let px = px.baseAddress!
                    // Each window's valid rows and columns are worked out once per output row and
                    // column, so the scan itself has no bounds tests; it keeps the first maximum in
                    // (row, column) order, as a scan that skips the padding would.
                    let columns = (0..<g.ow).map { ox -> (Int, Int) in
                        let ix0 = ox * g.stride - g.padding
                        return (Swift.max(0, -ix0), Swift.min(g.kernel, g.w - ix0))
                    }
                    Threads.parallelFor(g.n * g.c, costPerItem: g.oh * g.ow * g.kernel * g.kernel) { planes in
                        columns.withUnsafeBufferPointer { columns in
                            for plane in planes {
                                let base = plane * g.h * g.w, src = px + base
                                for oy in 0..<g.oh {
                                    let iy0 = oy * g.stride - g.padding
                                    let kyLo = Swift.max(0, -iy0), kyHi = Swift.min(g.kernel, g.h - iy0)
                                    let out = (plane * g.oh + oy) * g.ow
                                    for ox in 0..<g.ow {
                                        let ix0 = ox * g.stride - g.padding
                                        let (kxLo, kxHi) = columns[ox]
                                        var bi = (iy0 + kyLo) * g.w + ix0 + kxLo
                                        var best = src[bi]
                                        for ky in kyLo..<kyHi {
                                            let row = (iy0 + ky) * g.w + ix0
                                            for kx in kxLo..<kxHi where src[row + kx] > best {
                                                best = src[row + kx]
                                                bi = row + kx
                                            }
                                        }
                                        o.p[out + ox] = best
                                        ip.p[out + ox] = Int32(base + bi)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, idx)
    }

    /// Max pool's values alone (no argmax indices), for inputs no gradient flows back to (Table
    /// 4's frozen stem): the maximum over the window's rows first, for a whole row at once, then
    /// over its columns. The same maxima as `maxPool2d` (for inputs without NaN).
    public static func maxPool2dValues(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let g = PoolGeometry(input: x.shape, kernel: kernel, stride: stride, padding: padding, op: "maxPool2d")
        return Tensor(shape: g.outputShape) { out in
            let o = SendablePointer(out.baseAddress!)
            x.data.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                let columns = (0..<g.ow).map { ox -> (Int, Int) in
                    let ix0 = ox * g.stride - g.padding
                    return (Swift.max(0, ix0), Swift.min(g.w, ix0 + g.kernel))
                }
                Threads.parallelFor(g.n * g.c, costPerItem: g.oh * g.ow * g.kernel * 2) { planes in
                    let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: g.w)
                    defer { rowMax.deallocate() }
                    columns.withUnsafeBufferPointer { columns in
                        for plane in planes {
                            let src = px + plane * g.h * g.w
                            for oy in 0..<g.oh {
                                let iy0 = oy * g.stride - g.padding
                                let lo = Swift.max(0, iy0), hi = Swift.min(g.h, iy0 + g.kernel)
                                rowMax.update(from: src + lo * g.w, count: g.w)
                                for iy in (lo + 1)..<Swift.max(lo + 1, hi) {
                                    let row = src + iy * g.w
                                    var ix = 0
                                    while ix + 4 <= g.w {   // four at a time: a select, no branch
                                        let v = UnsafeRawPointer(row + ix).loadUnaligned(as: SIMD4<Float>.self)
                                        let m = UnsafeRawPointer(rowMax + ix).loadUnaligned(as: SIMD4<Float>.self)
                                        UnsafeMutableRawPointer(rowMax + ix).storeBytes(of: m.replacing(with: v, where: v .> m), as: SIMD4<Float>.self)
                                        ix += 4
                                    }
                                    while ix < g.w { let v = row[ix]; rowMax[ix] = v > rowMax[ix] ? v : rowMax[ix]; ix += 1 }
                                }
                                let dst = o.p + (plane * g.oh + oy) * g.ow
                                for ox in 0..<g.ow {
                                    let (a, b) = columns[ox]
                                    var best = rowMax[a]
                                    for ix in (a + 1)..<Swift.max(a + 1, b) { let v = rowMax[ix]; best = v > best ? v : best }
                                    dst[ox] = best
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// out = zeros(shape); out[indices[i]] += g[i].
    public static func scatterAdd(_ g: Tensor, indices: [Int32], shape: [Int]) -> Tensor {
        precondition(g.count == indices.count, "scatterAdd: \(g.count) values for \(indices.count) indices (g \(g.shape))")
        var out = [Float](repeating: 0, count: shape.product)
        g.data.withUnsafeBufferPointer { pg in
            out.withUnsafeMutableBufferPointer { po in
                for i in 0..<indices.count { po[Int(indices[i])] += pg[i] }
            }
        }
        return Tensor(shape: shape, data: out)
    }

    /// y[i] = x[indices[i]], shaped `shape`.
    public static func gather(_ x: Tensor, indices: [Int32], shape: [Int]) -> Tensor {
        precondition(shape.product == indices.count, "gather: shape \(shape) for \(indices.count) indices")
        return Tensor(shape: shape) { out in
            x.data.withUnsafeBufferPointer { px in for i in 0..<indices.count { out[i] = px[Int(indices[i])] } }
        }
    }

    /// Average pool; the divisor counts only the window's positions inside the input
    /// (PyTorch's `count_include_pad=False`).
    public static func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let g = PoolGeometry(input: x.shape, kernel: kernel, stride: stride, padding: padding, op: "avgPool2d")
        return Tensor(shape: g.outputShape) { out in
            x.data.withUnsafeBufferPointer { px in
                avgPoolWindows(g) { plane, k, iy0, iy1, ix0, ix1 in
                    var s: Float = 0
                    for iy in iy0..<iy1 { for ix in ix0..<ix1 { s += px[plane * g.h * g.w + iy * g.w + ix] } }
                    out[k] = s / Float((iy1 - iy0) * (ix1 - ix0))
                }
            }
        }
    }

    /// The adjoint of `avgPool2d`: spreads each output gradient over its window.
    public static func avgPool2dBackward(_ dy: Tensor, inputShape: [Int], kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let g = PoolGeometry(input: inputShape, kernel: kernel, stride: stride, padding: padding, op: "avgPool2dBackward")
        precondition(dy.shape == g.outputShape, "avgPool2dBackward: dy \(dy.shape) does not match pooled shape \(g.outputShape) of \(inputShape)")
        var out = [Float](repeating: 0, count: inputShape.product)
        dy.data.withUnsafeBufferPointer { pg in
            out.withUnsafeMutableBufferPointer { po in
                avgPoolWindows(g) { plane, k, iy0, iy1, ix0, ix1 in
                    let v = pg[k] / Float((iy1 - iy0) * (ix1 - ix0))
                    for iy in iy0..<iy1 { for ix in ix0..<ix1 { po[plane * g.h * g.w + iy * g.w + ix] += v } }
                }
            }
        }
        return Tensor(shape: inputShape, data: out)
    }

    /// Calls body(plane, outputIndex, iy0, iy1, ix0, ix1) for every window, clipped to the input.
    static func avgPoolWindows(_ g: PoolGeometry, _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        for plane in 0..<(g.n * g.c) {
            for oy in 0..<g.oh {
                let iy0 = Swift.max(oy * g.stride - g.padding, 0), iy1 = Swift.min(oy * g.stride - g.padding + g.kernel, g.h)
                for ox in 0..<g.ow {
                    let ix0 = Swift.max(ox * g.stride - g.padding, 0), ix1 = Swift.min(ox * g.stride - g.padding + g.kernel, g.w)
                    body(plane, (plane * g.oh + oy) * g.ow + ox, iy0, iy1, ix0, ix1)
                }
            }
        }
    }
}
