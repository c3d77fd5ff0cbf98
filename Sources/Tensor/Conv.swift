// 2-D convolution (cross-correlation, as PyTorch) with its two backward kernels, by one of the
// algorithms (`ConvAlgorithm`), chosen per shape and pass (`ConvGeometry.algorithm(for:)`,
// measured on the machine at hand by `ConvTuning` when a run turns it on):
// - im2col + GEMM, any shape: one sample at a time, so the sample's column matrix stays in
//   cache and each GEMM writes its sample's [O, OH·OW] slice of the NCHW output in place (no
//   transposes, no batch-sized temporaries); on small output planes a few samples' columns side
//   by side, so the GEMM is wide enough (`groupSize`). Samples are split over threads; each
//   calls single-threaded OpenBLAS.
// - Winograd F(2×2, 3×3) and F(4×4, 3×3) for 3×3 stride-1 convolutions (Winograd.swift), the
//   latter also with its transforms vectorised over channels (small planes), and, for the
//   forward, with those transforms and the products fused per run of tiles (few channels); and
//   F(2×2, 5×5) by channel for 5×5 stride-1 convolutions (NIN).
// - direct, stride 1 or 2, square kernels up to 8×8: C kernels (CKernels, AVX-512 / AVX2 /
//   portable) on a flat zero-padded grid (stride 2: four phase planes), register-blocked over
//   output channels and positions; no GEMM, no transforms. A stride-2 input gradient is not a
//   convolution and stays im2col's (col2im).
// - forward: y[n] = W[O, C·KH·KW] · col(x[n]); 1×1 stride-1 convolutions need no im2col.
// - input gradient: for stride 1 it is itself a convolution of dy with the flipped, transposed
//   kernel (no col2im); otherwise dcol = Wᵀ · dy[n], then col2im.
// - weight gradient: dW = Σ_n dy[n] · col(x[n])ᵀ, accumulated per thread over a fixed split of
//   the batch and summed in chunk order, so results depend only on the thread count.

import CKernels

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
    /// Columns of the whole batch's im2col matrix: N·OH·OW.
    public var colCols: Int { n * oh * ow }
    /// Multiply-adds of the forward GEMM, times two.
    public var flops: Double { 2 * Double(o) * Double(colRows) * Double(colCols) }

    /// Elements of one sample's input (C·H·W) and output (O·OH·OW), and output positions (OH·OW).
    var sampleIn: Int { c * h * w }
    var sampleOut: Int { o * oh * ow }
    var positions: Int { oh * ow }
    /// 1×1, stride 1, no padding: a sample's input is already its column matrix.
    var isPointwise: Bool { kh == 1 && kw == 1 && stride == 1 && padding == 0 }
    /// Stride 1, square kernel, padding < kernel: the input gradient is a convolution of dy with
    /// the flipped, transposed kernel and padding KH − 1 − padding.
    var inputGradientIsConvolution: Bool { stride == 1 && kh == kw && padding <= kh - 1 }

    /// The forward's algorithm (`algorithm(for: .forward)`).
    public var algorithm: ConvAlgorithm { algorithm(for: .forward) }

    /// The algorithm the kernels use for `pass` of this shape: a forced one (`ConvAlgorithm.forcing`)
    /// where it applies, else the one `ConvTuning` measured fastest on this machine when a run
    /// turned tuning on, else `defaultAlgorithm(for:)`. The input gradient of a stride-1
    /// convolution is the forward of its transposed shape, so it takes that shape's choice.
    public func algorithm(for pass: ConvPass) -> ConvAlgorithm {
        if let forced = ConvAlgorithm.forced, supports(forced, pass) { return forced }
        return ConvTuning.choice(self, pass) ?? defaultAlgorithm(for: pass)
    }

    /// The choice without measurement (tests, and runs without tuning): Winograd F(2×2, 3×3) for
    /// 3×3 stride-1 convolutions with at least 8 input and output channels, else im2col + GEMM.
    /// Deterministic on every machine.
    public func defaultAlgorithm(for pass: ConvPass) -> ConvAlgorithm {
        Winograd.applies(to: self) && c >= 8 && o >= 8 ? .winograd : .im2col
    }

    /// Whether `algorithm` can compute `pass` of this shape.
    public func supports(_ algorithm: ConvAlgorithm, _ pass: ConvPass = .forward) -> Bool {
        switch algorithm {
        case .im2col: return true
        case .winograd, .winograd4, .winograd4c: return Winograd.applies(to: self)
        case .winograd4f: return Winograd.applies(to: self) && pass == .forward
        case .winograd5c: return Winograd.applies(to: self, kernel: 5)
        case .direct: return stride <= 2 && kh == kw && kh <= 8
        }
    }

    /// The algorithms that can compute `pass` of this shape, in `ConvAlgorithm.allCases` order.
    public func candidates(_ pass: ConvPass) -> [ConvAlgorithm] { ConvAlgorithm.allCases.filter { supports($0, pass) } }
}

/// How a convolution is computed.
public enum ConvAlgorithm: String, Sendable, Codable, CaseIterable {
    /// im2col + GEMM (OpenBLAS), sample by sample.
    case im2col
    /// Winograd F(2×2, 3×3): 3×3, stride 1.
    case winograd
    /// Winograd F(4×4, 3×3): 3×3, stride 1; fewer multiplications, larger rounding error.
    case winograd4
    /// Winograd F(4×4, 3×3) with its transforms vectorised over channels (V [α][tiles][C]):
    /// whole vectors on small planes, where a row holds few tiles.
    case winograd4c
    /// Winograd F(4×4, 3×3) by channel with the transforms and the α products fused per run of
    /// tiles in C (no V or M in memory, no OpenBLAS): for few channels. Forward (and so the
    /// stride-1 input gradient) only.
    case winograd4f
    /// Winograd F(2×2, 5×5) by channel: 5×5, stride 1 (NIN's 5×5 layers); 36 multiplications per
    /// 2×2 outputs instead of 100.
    case winograd5c
    /// Direct convolution in C SIMD kernels: stride 1 or 2, square kernels up to 8×8.
    case direct

    @TaskLocal static var forced: ConvAlgorithm?

    /// Runs `body` with every convolution (and its gradients, at any order) that `algorithm`
    /// can compute computed by it; for tests, which must exercise each algorithm.
    public static func forcing<T>(_ algorithm: ConvAlgorithm?, _ body: () throws -> T) rethrows -> T {
        try $forced.withValue(algorithm) { try body() }
    }
}

/// The passes an algorithm is chosen for: the forward (and through it the stride-1 input
/// gradient) and the weight gradient.
public enum ConvPass: String, Sendable, Codable, CaseIterable {
    case forward, weightGradient
}

public enum ConvKernels {
    /// col[(c, ki, kj), (oy, ox)] = x[c, oy·s − p + ki, ox·s − p + kj] (0 outside), for one
    /// sample x: [C, H, W] → col: [C·KH·KW, OH·OW].
    /// `ld` is the distance between the rows of col (default OH·OW; larger when col holds a
    /// group of samples side by side).
    public static func im2col(sample x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>, ld: Int? = nil) {
        let L = g.positions, plane = g.h * g.w, ld = ld ?? L
        for r in 0..<g.colRows {
            let c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw
            let src = x + c * plane, dst = col + r * ld
            // Valid output rows: 0 ≤ oy·s − p + ki < h; valid columns likewise.
            let (oyLo, oyHi) = validRange(g.oh, g.h, g.stride, ki - g.padding)
            let (oxLo, oxHi) = validRange(g.ow, g.w, g.stride, kj - g.padding)
            if oyLo >= oyHi || oxLo >= oxHi { dst.update(repeating: 0, count: L); continue }
            dst.update(repeating: 0, count: oyLo * g.ow)
            (dst + oyHi * g.ow).update(repeating: 0, count: (g.oh - oyHi) * g.ow)
            if g.stride == 1 && g.ow == g.w {
                // Rows are contiguous in both: one flat copy shifted by (ki − p)·w + (kj − p),
                // then zero the columns it wrapped in from the neighbouring rows.
                let shift = (ki - g.padding) * g.w + (kj - g.padding)
                let a = oyLo * g.ow, b = oyHi * g.ow
                let lo = min(max(a, -shift), b), hi = max(min(b, plane - shift), lo)
                (dst + a).update(repeating: 0, count: lo - a)
                (dst + lo).update(from: src + lo + shift, count: hi - lo)
                (dst + hi).update(repeating: 0, count: b - hi)
                for oy in oyLo..<oyHi {
                    let row = dst + oy * g.ow
                    for ox in 0..<oxLo { row[ox] = 0 }
                    for ox in oxHi..<g.ow { row[ox] = 0 }
                }
            } else {
                let x0 = kj - g.padding   // input column of ox = 0
                for oy in oyLo..<oyHi {
                    let row = dst + oy * g.ow
                    let s = src + (oy * g.stride - g.padding + ki) * g.w + x0
                    for ox in 0..<oxLo { row[ox] = 0 }
                    var ox = oxLo
                    if g.stride == 2 {
                        // Every other element: the even lanes of 8 consecutive ones, while inside the row.
                        while ox + 4 <= oxHi && 2 * ox + x0 + 8 <= g.w {
                            let pair = UnsafeRawPointer(s + 2 * ox).loadUnaligned(as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(row + ox).storeBytes(of: pair.evenHalf, as: SIMD4<Float>.self)
                            ox += 4
                        }
                    }
                    while ox < oxHi { row[ox] = s[ox * g.stride]; ox += 1 }
                    for ox in oxHi..<g.ow { row[ox] = 0 }
                }
            }
        }
    }

    /// The adjoint of `im2col(sample:)`: x[c, iy, ix] = Σ of the col entries that read it.
    /// Overwrites x: [C, H, W].
    public static func col2im(sample col: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>, ld: Int? = nil) {
        let plane = g.h * g.w, ld = ld ?? g.positions
        x.update(repeating: 0, count: g.sampleIn)
        for r in 0..<g.colRows {
            let c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw
            let src = col + r * ld, dst = x + c * plane
            let (oyLo, oyHi) = validRange(g.oh, g.h, g.stride, ki - g.padding)
            let (oxLo, oxHi) = validRange(g.ow, g.w, g.stride, kj - g.padding)
            for oy in oyLo..<max(oyLo, oyHi) {
                let s = src + oy * g.ow
                let d = dst + (oy * g.stride - g.padding + ki) * g.w - g.padding + kj
                if g.stride == 1 {
                    for ox in oxLo..<max(oxLo, oxHi) { d[ox] += s[ox] }
                } else {
                    for ox in oxLo..<max(oxLo, oxHi) { d[ox * g.stride] += s[ox] }
                }
            }
        }
    }

    /// The output indices o in 0..<outCount with 0 ≤ o·stride + offset < inCount, as lo..<hi.
    static func validRange(_ outCount: Int, _ inCount: Int, _ stride: Int, _ offset: Int) -> (Int, Int) {
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let hi = inCount - offset <= 0 ? 0 : min(outCount, (inCount - offset + stride - 1) / stride)
        return (min(lo, outCount), hi)
    }

    /// Samples per GEMM: on small output planes a group of samples' columns side by side, so a
    /// GEMM has about 512 columns instead of OH·OW (49 on ResNet-18's 7×7 layers), but at
    /// least two groups per thread when the batch allows.
    static func groupSize(_ g: ConvGeometry) -> Int {
        let target = (512 + g.positions - 1) / g.positions
        return max(1, min(target, g.n / (2 * Threads.count), g.n))
    }

    /// The groups of `groupSize` samples: group i is samples i·size ..< min(n, (i + 1)·size).
    static func groups(_ g: ConvGeometry, _ size: Int) -> Int { (g.n + size - 1) / size }

    /// dy of samples s ..< s + count as [O, count·L] (each sample's L outputs side by side), or
    /// dy itself for one sample.
    static func gatherOutputs(_ dy: UnsafePointer<Float>, _ g: ConvGeometry, _ samples: Range<Int>,
                              _ buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let L = g.positions, count = samples.count
        if count == 1 { return dy + samples.lowerBound * g.sampleOut }
        for (b, n) in samples.enumerated() {
            for o in 0..<g.o { (buffer + o * count * L + b * L).update(from: dy + n * g.sampleOut + o * L, count: L) }
        }
        return UnsafePointer(buffer)
    }

    /// y[n] = W · col(x[n]) for every sample: x [N, C, H, W], w [O, C, KH, KW] → y [N, O, OH, OW];
    /// a group of samples per GEMM (`groupSize`), groups split over threads.
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, _ y: UnsafeMutablePointer<Float>) {
        let K = g.colRows, L = g.positions, size = groupSize(g)
        let yP = SendablePointer(y)
        Threads.parallelFor(groups(g, size), costPerItem: g.o * K * L * size) { range in
            let col = g.isPointwise && size == 1 ? nil : UnsafeMutablePointer<Float>.allocateLines(K * L * size)
            let out = size == 1 ? nil : UnsafeMutablePointer<Float>.allocateLines(g.o * L * size)
            defer { col?.deallocate(); out?.deallocate() }
            for group in range {
                let samples = (group * size)..<min(g.n, (group + 1) * size), count = samples.count
                guard count > 1, let col, let out else {
                    // One sample: its GEMM writes its NCHW slice in place.
                    let n = samples.lowerBound
                    var b = x + n * g.sampleIn
                    if let col { im2col(sample: b, g, col); b = UnsafePointer(col) }
                    BLAS.gemm(m: g.o, n: L, k: K, a: w, lda: K, b: b, ldb: L, c: yP.p + n * g.sampleOut, ldc: L)
                    continue
                }
                for (b, n) in samples.enumerated() { im2col(sample: x + n * g.sampleIn, g, col + b * L, ld: count * L) }
                BLAS.gemm(m: g.o, n: count * L, k: K, a: w, lda: K, b: col, ldb: count * L, c: out, ldc: count * L)
                for (b, n) in samples.enumerated() {
                    for o in 0..<g.o { (yP.p + n * g.sampleOut + o * L).update(from: out + o * count * L + b * L, count: L) }
                }
            }
        }
    }

    /// dx[n] = col2im(Wᵀ · dy[n]) for every sample (any stride): dy [N, O, OH, OW] → dx [N, C, H, W];
    /// a group of samples per GEMM.
    static func backwardInputByCol2im(_ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry,
                                      _ dx: UnsafeMutablePointer<Float>) {
        let K = g.colRows, L = g.positions, size = groupSize(g)
        let dxP = SendablePointer(dx)
        Threads.parallelFor(groups(g, size), costPerItem: g.o * K * L * size) { range in
            let dcol = UnsafeMutablePointer<Float>.allocateLines(K * L * size)
            let dyGroup = UnsafeMutablePointer<Float>.allocateLines(size > 1 ? g.o * L * size : 0)
            defer { dcol.deallocate(); dyGroup.deallocate() }
            for group in range {
                let samples = (group * size)..<min(g.n, (group + 1) * size), count = samples.count
                let d = gatherOutputs(dy, g, samples, dyGroup)
                BLAS.gemm(transA: true, m: K, n: count * L, k: g.o, a: w, lda: K, b: d, ldb: count * L, c: dcol, ldc: count * L)
                for (b, n) in samples.enumerated() { col2im(sample: dcol + b * L, g, dxP.p + n * g.sampleIn, ld: count * L) }
            }
        }
    }

    /// dW = Σ_n dy[n] · col(x[n])ᵀ, a group of samples per GEMM: per-chunk partial sums over a
    /// split of the groups fixed by the thread count, added in chunk order. dw: [O, C·KH·KW].
    static func backwardWeight(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ g: ConvGeometry,
                               _ dw: UnsafeMutablePointer<Float>) {
        let K = g.colRows, L = g.positions, size = g.o * K, group = groupSize(g), groupCount = groups(g, group)
        let chunks = Threads.chunks(groupCount, costPerItem: g.o * K * L * group)
        let partials = UnsafeMutablePointer<Float>.allocateLines(size * (chunks - 1))
        defer { partials.deallocate() }
        let dwP = SendablePointer(dw), partP = SendablePointer(partials)
        if g.n == 0 { dw.update(repeating: 0, count: size) }
        Threads.forEachChunk(groupCount, chunks: chunks) { chunk, range in
            let acc = chunk == 0 ? dwP.p : partP.p + (chunk - 1) * size
            let col = g.isPointwise && group == 1 ? nil : UnsafeMutablePointer<Float>.allocateLines(K * L * group)
            let dyGroup = UnsafeMutablePointer<Float>.allocateLines(group > 1 ? g.o * L * group : 0)
            defer { col?.deallocate(); dyGroup.deallocate() }
            for i in range {
                let samples = (i * group)..<min(g.n, (i + 1) * group), count = samples.count
                var b = x + samples.lowerBound * g.sampleIn
                if let col {
                    for (k, n) in samples.enumerated() { im2col(sample: x + n * g.sampleIn, g, col + k * L, ld: count * L) }
                    b = UnsafePointer(col)
                }
                let d = gatherOutputs(dy, g, samples, dyGroup)
                BLAS.gemm(transB: true, m: g.o, n: K, k: count * L, a: d, lda: count * L, b: b, ldb: count * L,
                          beta: i == range.lowerBound ? 0 : 1, c: acc, ldc: K)
            }
        }
        for chunk in 1..<chunks {
            let p = partials + (chunk - 1) * size
            for i in 0..<size { dw[i] += p[i] }
        }
    }

    /// y = conv2d(x, w) for stride 1 or 2 by the direct C kernels, samples split over threads.
    static func directForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, _ y: UnsafeMutablePointer<Float>) {
        let packed = UnsafeMutablePointer<Float>.allocateLines(atx_direct_packed_size(Int32(g.o), Int32(g.c), Int32(g.kh)))
        defer { packed.deallocate() }
        atx_direct_pack(w, Int32(g.o), Int32(g.c), Int32(g.kh), packed)
        let yP = SendablePointer(y)
        Threads.parallelFor(g.n, costPerItem: g.o * g.colRows * g.positions) { samples in
            atx_direct_forward(x + samples.lowerBound * g.sampleIn, packed, Int32(samples.count), Int32(g.c), Int32(g.h), Int32(g.w),
                               Int32(g.o), Int32(g.kh), Int32(g.padding), Int32(g.stride), yP.p + samples.lowerBound * g.sampleOut)
        }
    }

    /// dW for stride 1 or 2 by the direct C kernels: per-chunk partial sums over a split of the batch
    /// fixed by the thread count, added in chunk order.
    static func directBackwardWeight(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ g: ConvGeometry,
                                     _ dw: UnsafeMutablePointer<Float>) {
        let size = g.o * g.colRows
        let chunks = Threads.chunks(g.n, costPerItem: g.o * g.colRows * g.positions)
        let partials = UnsafeMutablePointer<Float>.allocateLines(size * (chunks - 1))
        defer { partials.deallocate() }
        let dwP = SendablePointer(dw), partP = SendablePointer(partials)
        if g.n == 0 { dw.update(repeating: 0, count: size) }
        Threads.forEachChunk(g.n, chunks: chunks) { chunk, samples in
            let acc = chunk == 0 ? dwP.p : partP.p + (chunk - 1) * size
            atx_direct_weight_grad(x + samples.lowerBound * g.sampleIn, dy + samples.lowerBound * g.sampleOut, Int32(samples.count),
                                   Int32(g.c), Int32(g.h), Int32(g.w), Int32(g.o), Int32(g.kh), Int32(g.padding), Int32(g.stride), acc)
        }
        for chunk in 1..<chunks {
            let p = partials + (chunk - 1) * size
            for i in 0..<size { dw[i] += p[i] }
        }
    }

}

extension Tensor {
    /// y = conv2d(x, w): x [N, C, H, W], w [O, C, KH, KW] → [N, O, OH, OW]. No bias (see `addChannelBias`).
    /// `algorithm` overrides the shape's choice (`ConvGeometry.algorithm`), for tests and the bench.
    public static func conv2d(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Int = 0, algorithm: ConvAlgorithm? = nil) -> Tensor {
        let g = ConvGeometry(input: x.shape, weight: w.shape, stride: stride, padding: padding)
        let chosen = algorithm ?? g.algorithm(for: .forward)
        precondition(g.supports(chosen), "conv2d: \(chosen) cannot compute weight \(w.shape) stride \(stride) padding \(padding) (Winograd: 3×3 or (winograd5c) 5×5, stride 1, padding < kernel; direct: stride 1 or 2, square kernel)")
        return Profiler.work(.forward, flops: g.flops) { Tensor(shape: g.outputShape) { y in
            x.data.withUnsafeBufferPointer { px in
                w.data.withUnsafeBufferPointer { pw in
                    let (px, pw, py) = (px.baseAddress!, pw.baseAddress!, y.baseAddress!)
                    switch chosen {
                    case .im2col: ConvKernels.forward(px, pw, g, py)
                    case .winograd: Winograd.forward(px, pw, g, m: 2, py)
                    case .winograd4: Winograd.forward(px, pw, g, m: 4, py)
                    case .winograd4c: Winograd.forward(px, pw, g, m: 4, byChannel: true, py)
                    case .winograd4f: Winograd.fusedForward(px, pw, g, py)
                    case .winograd5c: Winograd.forward(px, pw, g, m: 2, byChannel: true, py)
                    case .direct: ConvKernels.directForward(px, pw, g, py)
                    }
                }
            }
        } }
    }

    /// dx = conv2dBackwardInput(dy, w): the transposed convolution, dy [N, O, OH, OW] → [N, C, H, W].
    /// `algorithm` applies to the convolution that stride-1 input gradients are computed as.
    public static func conv2dBackwardInput(_ dy: Tensor, _ w: Tensor, inputShape: [Int], stride: Int = 1, padding: Int = 0,
                                           algorithm: ConvAlgorithm? = nil) -> Tensor {
        let g = ConvGeometry(input: inputShape, weight: w.shape, stride: stride, padding: padding, op: "conv2dBackwardInput")
        precondition(dy.shape == g.outputShape,
                     "conv2dBackwardInput: dy \(dy.shape) does not match output shape \(g.outputShape) of input \(inputShape) and weight \(w.shape)")
        return Profiler.work(.inputGradient, flops: g.flops) {
            if g.inputGradientIsConvolution {
                return conv2d(dy, w.flippedTransposedKernel(), stride: 1, padding: g.kh - 1 - padding, algorithm: algorithm)
            }
            return Tensor(shape: g.inputShape) { dx in
                dy.data.withUnsafeBufferPointer { pdy in
                    w.data.withUnsafeBufferPointer { pw in
                        ConvKernels.backwardInputByCol2im(pdy.baseAddress!, pw.baseAddress!, g, dx.baseAddress!)
                    }
                }
            }
        }
    }

    /// dw = conv2dBackwardWeight(dy, x): dy [N, O, OH, OW], x [N, C, H, W] → [O, C, KH, KW].
    public static func conv2dBackwardWeight(_ dy: Tensor, _ x: Tensor, weightShape: [Int], stride: Int = 1, padding: Int = 0,
                                            algorithm: ConvAlgorithm? = nil) -> Tensor {
        let g = ConvGeometry(input: x.shape, weight: weightShape, stride: stride, padding: padding, op: "conv2dBackwardWeight")
        precondition(dy.shape == g.outputShape,
                     "conv2dBackwardWeight: dy \(dy.shape) does not match output shape \(g.outputShape) of input \(x.shape) and weight \(weightShape)")
        let chosen = algorithm ?? g.algorithm(for: .weightGradient)
        precondition(g.supports(chosen, .weightGradient), "conv2dBackwardWeight: \(chosen) cannot compute weight \(weightShape) stride \(stride) padding \(padding) (Winograd: 3×3 or (winograd5c) 5×5, stride 1, padding < kernel; direct: stride 1 or 2, square kernel)")
        return Profiler.work(.weightGradient, flops: g.flops) { Tensor(shape: g.weightShape) { dw in
            dy.data.withUnsafeBufferPointer { pdy in
                x.data.withUnsafeBufferPointer { px in
                    let (pdy, px, pdw) = (pdy.baseAddress!, px.baseAddress!, dw.baseAddress!)
                    switch chosen {
                    case .im2col: ConvKernels.backwardWeight(pdy, px, g, pdw)
                    case .winograd: Winograd.backwardWeight(pdy, px, g, m: 2, pdw)
                    case .winograd4: Winograd.backwardWeight(pdy, px, g, m: 4, pdw)
                    case .winograd4c: Winograd.backwardWeight(pdy, px, g, m: 4, byChannel: true, pdw)
                    case .winograd4f: fatalError("conv2dBackwardWeight: winograd4f computes forwards only")   // traps even unchecked
                    case .winograd5c: Winograd.backwardWeight(pdy, px, g, m: 2, byChannel: true, pdw)
                    case .direct: ConvKernels.directBackwardWeight(pdy, px, g, pdw)
                    }
                }
            }
        } }
    }

    /// w̃[c, o, i, j] = w[o, c, KH − 1 − i, KW − 1 − j] for a kernel w [O, C, KH, KW]: flipping
    /// both axes reverses a kernel's taps.
    func flippedTransposedKernel() -> Tensor {
        let (o, c, taps) = (shape[0], shape[1], shape[2] * shape[3])
        return Tensor(shape: [c, o, shape[2], shape[3]]) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, d = SendablePointer(out.baseAddress!)
                Threads.parallelFor(o, costPerItem: c * taps) { rows in
                    for oc in rows {
                        for ic in 0..<c {
                            let from = s + (oc * c + ic) * taps, to = d.p + (ic * o + oc) * taps
                            for t in 0..<taps { to[t] = from[taps - 1 - t] }
                        }
                    }
                }
            }
        }
    }
}
