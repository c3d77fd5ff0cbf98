// Winograd F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// CVPR 2016) for 3×3 stride-1 convolutions: each 2×2 output tile costs 16 multiplications per
// (input, output) channel pair instead of 36, as 16 GEMMs over a block of samples:
//   forward   M_α[O, T] = U_α[O, C] · V_α[C, T],   U = G w Gᵀ,  V = Bᵀ d B,  y = Aᵀ M A;
//   weight    dU_α[O, C] = Σ dM_α[O, T] · V_α[C, T]ᵀ,  dM = A dy Aᵀ,  dw = Gᵀ dU G.
// α runs over the 4×4 tile positions, T over the tiles of a block of samples; d is the 4×4
// input tile at (2·ty − p, 2·tx − p). The input gradient of a stride-1 convolution is itself a
// convolution (see Conv.swift), so it takes this path too. Every step is exact algebra with
// coefficients ±1 and ½; only the rounding differs from im2col + GEMM.

/// The tiling of one convolution's output into 2×2 tiles, sample by sample.
struct WinogradPlan {
    let g: ConvGeometry
    /// Tile rows and columns; columns padded to a multiple of 4 (the SIMD width), so a sample
    /// holds `th · twp` tiles (padding tiles compute on zeros and are dropped).
    let th, tw, twp: Int
    /// Samples per GEMM block, chosen so a block has about `targetTiles` tiles.
    let samplesPerBlock: Int

    /// Tiles per row of V and M (one block), and the distance between their α planes: a 64-byte
    /// pad keeps the 16 planes, written and read together, off the same cache sets.
    let rowLength, inputAlphaStride, outputAlphaStride: Int

    init(_ g: ConvGeometry) {
        self.g = g
        th = (g.oh + 1) / 2
        tw = (g.ow + 1) / 2
        twp = (tw + 3) / 4 * 4
        // V and M of a block take 64·(C + O) bytes per tile: about 512 KB keeps them in L2.
        let targetTiles = min(256, max(16, 8192 / (g.c + g.o)))
        samplesPerBlock = max(1, min(g.n, targetTiles / (th * twp)))
        rowLength = samplesPerBlock * th * twp
        inputAlphaStride = g.c * rowLength + 16
        outputAlphaStride = g.o * rowLength + 16
    }

    var tilesPerSample: Int { th * twp }
}

extension ConvGeometry {
    /// Whether the Winograd path can compute this convolution (3×3, stride 1, padding at most 2).
    public var winogradApplies: Bool { Winograd.applies(to: self) }
}

enum Winograd {
    typealias V4 = SIMD4<Float>

    /// Whether `g` can take this path: 3×3, stride 1, padding at most 2.
    static func applies(to g: ConvGeometry) -> Bool {
        g.kh == 3 && g.kw == 3 && g.stride == 1 && g.padding <= 2
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V4 { UnsafeRawPointer(p).loadUnaligned(as: V4.self) }
    @inline(__always) static func store(_ v: V4, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V4.self) }

    // MARK: - Transforms

    /// u[α][o][c] = (G w[o, c] Gᵀ)[α] for w [O, C, 3, 3].
    static func transformWeights(_ w: UnsafePointer<Float>, o: Int, c: Int, _ u: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 12) { gw in   // G·w: 4×3
            for oc in 0..<o {
                for ic in 0..<c {
                    let k = w + (oc * c + ic) * 9
                    for j in 0..<3 {
                        let (a, b, d) = (k[j], k[3 + j], k[6 + j])
                        gw[j] = a; gw[3 + j] = (a + b + d) * 0.5; gw[6 + j] = (a - b + d) * 0.5; gw[9 + j] = d
                    }
                    for i in 0..<4 {
                        let (a, b, d) = (gw[3 * i], gw[3 * i + 1], gw[3 * i + 2])
                        let at = u + (4 * i * o + oc) * c + ic, step = o * c
                        at[0] = a; at[step] = (a + b + d) * 0.5; at[2 * step] = (a - b + d) * 0.5; at[3 * step] = d
                    }
                }
            }
        }
    }

    /// dw[o, c] = Gᵀ du[·][o][c] G: the adjoint of `transformWeights`, du [16][O][C] → dw [O, C, 3, 3].
    static func transformWeightGradient(_ du: UnsafePointer<Float>, o: Int, c: Int, _ dw: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 12) { t in   // Gᵀ·dU: 3×4
            let step = o * c
            for oc in 0..<o {
                for ic in 0..<c {
                    let m = du + oc * c + ic
                    for j in 0..<4 {
                        let (m0, m1, m2, m3) = (m[j * step], m[(4 + j) * step], m[(8 + j) * step], m[(12 + j) * step])
                        t[j] = m0 + (m1 + m2) * 0.5; t[4 + j] = (m1 - m2) * 0.5; t[8 + j] = (m1 + m2) * 0.5 + m3
                    }
                    let k = dw + (oc * c + ic) * 9
                    for i in 0..<3 {
                        let (r0, r1, r2, r3) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3])
                        k[3 * i] = r0 + (r1 + r2) * 0.5; k[3 * i + 1] = (r1 - r2) * 0.5; k[3 * i + 2] = (r1 + r2) * 0.5 + r3
                    }
                }
            }
        }
    }

    /// v[α][c][t] = (Bᵀ d B)[α] for every tile t of the `count` samples of a block starting at x.
    static func transformInput(_ x: UnsafePointer<Float>, count: Int, _ p: WinogradPlan, _ v: UnsafeMutablePointer<Float>) {
        let g = p.g, twp = p.twp, rows = 2 * p.th + 2, alphaStride = p.inputAlphaStride
        // Each plane is first copied into a zero-bordered buffer, row r holding input row r − p
        // from column p on, so every tile reads inside it and loads never straddle recent stores.
        let stride = 2 * twp + 8
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: rows * stride)
        padded.initialize(repeating: 0, count: rows * stride)
        let rowPass = UnsafeMutablePointer<Float>.allocate(capacity: rows * 4 * twp)   // [row][j][tx]
        defer { padded.deallocate(); rowPass.deallocate() }
        let copyRows = max(0, min(g.h, rows - g.padding)), copyColumns = min(g.w, stride - g.padding)
        for s in 0..<count {
            for ch in 0..<g.c {
                let plane = x + (s * g.c + ch) * g.h * g.w
                for iy in 0..<copyRows { copy(plane + iy * g.w, to: padded + (iy + g.padding) * stride + g.padding, count: copyColumns) }
                // Row pass: along x, t = [d0 − d2, d1 + d2, d2 − d1, d1 − d3] with d_j = row[2·tx + j]
                // of the padded row: d0, d1 the even and odd lanes of 8 elements, d2, d3 the same
                // moved on by one with the next two elements.
                for r in 0..<rows {
                    let row = padded + r * stride, out = rowPass + r * 4 * twp
                    var tx = 0
                    while tx < twp {
                        let pair = UnsafeRawPointer(row + 2 * tx).loadUnaligned(as: SIMD8<Float>.self), next = load(row + 2 * tx + 8)
                        let d0 = pair.evenHalf, d1 = pair.oddHalf
                        let d2 = V4(d0[1], d0[2], d0[3], next[0]), d3 = V4(d1[1], d1[2], d1[3], next[1])
                        store(d0 - d2, out + tx); store(d1 + d2, out + twp + tx)
                        store(d2 - d1, out + 2 * twp + tx); store(d1 - d3, out + 3 * twp + tx)
                        tx += 4
                    }
                }
                // Column pass: the same combination of rows 2·ty + i.
                let dst = v + ch * p.rowLength + s * p.tilesPerSample
                for ty in 0..<p.th {
                    let r0 = rowPass + 2 * ty * 4 * twp, r1 = r0 + 4 * twp, r2 = r1 + 4 * twp, r3 = r2 + 4 * twp
                    let t = dst + ty * twp
                    for j in 0..<4 {
                        var tx = 0
                        while tx < twp {
                            let o = j * twp + tx
                            let a = load(r0 + o), b = load(r1 + o), c = load(r2 + o), d = load(r3 + o)
                            store(a - c, t + j * alphaStride + tx)
                            store(b + c, t + (4 + j) * alphaStride + tx)
                            store(c - b, t + (8 + j) * alphaStride + tx)
                            store(b - d, t + (12 + j) * alphaStride + tx)
                            tx += 4
                        }
                    }
                }
            }
        }
    }

    /// A short copy, inline (a memmove call per 32-float row costs more than the copy).
    @inline(__always)
    static func copy(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 4 <= count { store(load(src + i), dst + i); i += 4 }
        while i < count { dst[i] = src[i]; i += 1 }
    }

    /// even[k] = row[2k], odd[k] = row[2k + 1] for the elements of a row of `width`.
    @inline(__always)
    static func deinterleave(_ row: UnsafePointer<Float>, width: Int, _ even: UnsafeMutablePointer<Float>,
                             _ odd: UnsafeMutablePointer<Float>) {
        var k = 0
        while 2 * k + 8 <= width {
            let pair = UnsafeRawPointer(row + 2 * k).loadUnaligned(as: SIMD8<Float>.self)
            store(pair.evenHalf, even + k); store(pair.oddHalf, odd + k)
            k += 4
        }
        while 2 * k < width {
            even[k] = row[2 * k]
            if 2 * k + 1 < width { odd[k] = row[2 * k + 1] }
            k += 1
        }
    }

    /// y[s, o] = Aᵀ m A for every tile of the `count` samples of a block: m [16][O][tiles] → y [count, O, OH, OW].
    static func transformOutput(_ m: UnsafePointer<Float>, count: Int, _ p: WinogradPlan, _ y: UnsafeMutablePointer<Float>) {
        let g = p.g, twp = p.twp, alphaStride = p.outputAlphaStride
        for s in 0..<count {
            for oc in 0..<g.o {
                let src = m + oc * p.rowLength + s * p.tilesPerSample
                let plane = y + (s * g.o + oc) * g.oh * g.ow
                for ty in 0..<p.th {
                    var tx = 0
                    while tx < p.tw {
                        let t = src + ty * twp + tx
                        // Aᵀ along y (rows i of the tile) for each column j, then along x.
                        @inline(__always) func column(_ j: Int) -> (V4, V4) {
                            let m0 = load(t + j * alphaStride), m1 = load(t + (4 + j) * alphaStride)
                            let m2 = load(t + (8 + j) * alphaStride), m3 = load(t + (12 + j) * alphaStride)
                            return (m0 + m1 + m2, m1 - m2 - m3)
                        }
                        let (a0, b0) = column(0), (a1, b1) = column(1), (a2, b2) = column(2), (a3, b3) = column(3)
                        let y00 = a0 + a1 + a2, y01 = a1 - a2 - a3
                        let y10 = b0 + b1 + b2, y11 = b1 - b2 - b3
                        let row0 = plane + 2 * ty * g.ow
                        if 2 * (tx + 4) <= g.ow && 2 * ty + 1 < g.oh {
                            let row1 = row0 + g.ow
                            UnsafeMutableRawPointer(row0 + 2 * tx).storeBytes(of: interleave(y00, y01), as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(row1 + 2 * tx).storeBytes(of: interleave(y10, y11), as: SIMD8<Float>.self)
                        } else {
                            for k in 0..<min(4, p.tw - tx) {
                                let ox = 2 * (tx + k)
                                row0[ox] = y00[k]
                                if ox + 1 < g.ow { row0[ox + 1] = y01[k] }
                                if 2 * ty + 1 < g.oh {
                                    row0[g.ow + ox] = y10[k]
                                    if ox + 1 < g.ow { row0[g.ow + ox + 1] = y11[k] }
                                }
                            }
                        }
                        tx += 4
                    }
                }
            }
        }
    }

    /// dm[α][o][t] = (A dy Aᵀ)[α] for every tile of the `count` samples of a block: the adjoint
    /// of `transformOutput`; dy [count, O, OH, OW], outputs past OH/OW counting as zero.
    static func transformOutputGradient(_ dy: UnsafePointer<Float>, count: Int, _ p: WinogradPlan, _ dm: UnsafeMutablePointer<Float>) {
        let g = p.g, twp = p.twp, alphaStride = p.outputAlphaStride, lane = twp + 4
        let lanes = UnsafeMutablePointer<Float>.allocate(capacity: 4 * lane)   // g00, g01, g10, g11 by tx
        defer { lanes.deallocate() }
        for s in 0..<count {
            for oc in 0..<g.o {
                let plane = dy + (s * g.o + oc) * g.oh * g.ow
                let dst = dm + oc * p.rowLength + s * p.tilesPerSample
                for ty in 0..<p.th {
                    for a in 0..<2 {
                        let oy = 2 * ty + a
                        if oy >= g.oh || 2 * twp > g.ow { (lanes + 2 * a * lane).update(repeating: 0, count: 2 * lane) }
                        if oy < g.oh { deinterleave(plane + oy * g.ow, width: g.ow, lanes + 2 * a * lane, lanes + (2 * a + 1) * lane) }
                    }
                    let t = dst + ty * twp
                    var tx = 0
                    while tx < twp {
                        let g00 = load(lanes + tx), g01 = load(lanes + lane + tx)
                        let g10 = load(lanes + 2 * lane + tx), g11 = load(lanes + 3 * lane + tx)
                        // u_a = [g_a0, g_a0 + g_a1, g_a0 − g_a1, −g_a1] along x; then the same along y.
                        @inline(__always) func column(_ j: Int, _ u0: V4, _ u1: V4) {
                            store(u0, t + j * alphaStride + tx)
                            store(u0 + u1, t + (4 + j) * alphaStride + tx)
                            store(u0 - u1, t + (8 + j) * alphaStride + tx)
                            store(-u1, t + (12 + j) * alphaStride + tx)
                        }
                        column(0, g00, g10)
                        column(1, g00 + g01, g10 + g11)
                        column(2, g00 - g01, g10 - g11)
                        column(3, -g01, -g11)
                        tx += 4
                    }
                }
            }
        }
    }

    /// (a0, b0, a1, b1, …): two outputs of adjacent columns per tile.
    @inline(__always)
    static func interleave(_ a: V4, _ b: V4) -> SIMD8<Float> {
        SIMD8(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])
    }

    // MARK: - Convolutions

    /// y = conv2d(x, w) for a 3×3 stride-1 convolution: x [N, C, H, W], w [O, C, 3, 3] → y [N, O, OH, OW].
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, _ y: UnsafeMutablePointer<Float>) {
        let p = WinogradPlan(g)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * g.o * g.c)
        defer { u.deallocate() }
        transformWeights(w, o: g.o, c: g.c, u)
        let blocks = (g.n + p.samplesPerBlock - 1) / p.samplesPerBlock
        let yP = SendablePointer(y)
        Threads.parallelFor(blocks, costPerItem: 16 * g.o * g.c * p.rowLength) { range in
            let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * p.inputAlphaStride)
            let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * p.outputAlphaStride)
            defer { v.deallocate(); m.deallocate() }
            for b in range {
                let first = b * p.samplesPerBlock, count = min(p.samplesPerBlock, g.n - first)
                transformInput(x + first * g.sampleIn, count: count, p, v)
                let n = count * p.tilesPerSample
                for a in 0..<16 {
                    BLAS.gemm(m: g.o, n: n, k: g.c, a: u + a * g.o * g.c, lda: g.c, b: v + a * p.inputAlphaStride, ldb: p.rowLength,
                              c: m + a * p.outputAlphaStride, ldc: p.rowLength)
                }
                transformOutput(m, count: count, p, yP.p + first * g.sampleOut)
            }
        }
    }

    /// dw = Σ over the batch of the weight gradient of a 3×3 stride-1 convolution, per-chunk
    /// partial sums of dU over a split of the blocks fixed by the thread count, added in chunk
    /// order, then transformed back. dy [N, O, OH, OW], x [N, C, H, W] → dw [O, C, 3, 3].
    static func backwardWeight(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ g: ConvGeometry,
                               _ dw: UnsafeMutablePointer<Float>) {
        let p = WinogradPlan(g)
        let blocks = (g.n + p.samplesPerBlock - 1) / p.samplesPerBlock
        let size = 16 * g.o * g.c
        let chunks = Threads.chunks(blocks, costPerItem: size * p.rowLength)
        let du = UnsafeMutablePointer<Float>.allocate(capacity: size * chunks)
        defer { du.deallocate() }
        if blocks == 0 { du.update(repeating: 0, count: size) }
        let duP = SendablePointer(du)
        Threads.forEachChunk(blocks, chunks: chunks) { chunk, range in
            let acc = duP.p + chunk * size
            let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * p.inputAlphaStride)
            let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * p.outputAlphaStride)
            defer { v.deallocate(); m.deallocate() }
            for b in range {
                let first = b * p.samplesPerBlock, count = min(p.samplesPerBlock, g.n - first)
                transformInput(x + first * g.sampleIn, count: count, p, v)
                transformOutputGradient(dy + first * g.sampleOut, count: count, p, m)
                let n = count * p.tilesPerSample
                for a in 0..<16 {
                    BLAS.gemm(transB: true, m: g.o, n: g.c, k: n, a: m + a * p.outputAlphaStride, lda: p.rowLength,
                              b: v + a * p.inputAlphaStride, ldb: p.rowLength, beta: b == range.lowerBound ? 0 : 1,
                              c: acc + a * g.o * g.c, ldc: g.c)
                }
            }
        }
        for chunk in 1..<chunks {
            let part = du + chunk * size
            for i in 0..<size { du[i] += part[i] }
        }
        transformWeightGradient(du, o: g.o, c: g.c, dw)
    }
}
