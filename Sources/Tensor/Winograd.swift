// Winograd F(m×m, 3×3), m = 2 or 4 (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016), for 3×3 stride-1 convolutions, and F(2×2, 5×5) for 5×5 ones (NIN's
// widest layers): each m×m output tile costs (m+r−1)² multiplications per (input, output)
// channel pair instead of r²m² (16 instead of 36 for F(2×2, 3×3), 36 instead of 144 for
// F(4×4, 3×3), 36 instead of 100 for F(2×2, 5×5)), as (m+r−1)² GEMMs over a block of samples:
//   forward   M_α[O, T] = U_α[O, C] · V_α[C, T],   U = G w Gᵀ,  V = Bᵀ d B,  y = Aᵀ M A;
//   weight    dU_α[O, C] = Σ dM_α[O, T] · V_α[C, T]ᵀ,  dM = A dy Aᵀ,  dw = Gᵀ dU G.
// α runs over the (m+r−1)² tile positions, T over the tiles of a block of samples; d is the
// (m+r−1)×(m+r−1) input tile at (m·ty − p, m·tx − p). F(4×4, 3×3) and F(2×2, 5×5) interpolate
// at the same six points, so they share Bᵀ and the input transform. The input gradient of a
// stride-1 convolution is itself a convolution (see Conv.swift), so it takes this path too.
// Every step is exact algebra; only the rounding differs from a direct sum. F(2×2, 3×3)'s
// coefficients are ±1 and ½; F(4×4, 3×3)'s reach 8 and 1/24, F(2×2, 5×5)'s 5 and 1/24, so their
// rounding errors are about 10–20× larger (still ~1e-6 of the largest output;
// Tests/TensorTests/ConvTests.swift measures it). F(2×2, 5×5) has the channel-vectorised
// transforms only.
//
// The transforms are C (CKernels: AVX-512, AVX2 or portable, picked at run time), the GEMMs
// OpenBLAS at one thread; `fusedForward` does the products in C as well, a run of tiles at a
// time, so V and M never leave L1 (for few channels, where V's and M's trips to L2 and
// OpenBLAS's calls on 16×16 matrices weigh most). Two schedules, chosen by the number of
// blocks, give the same numbers: with enough blocks each thread takes whole blocks; with few
// (wide layers at small batches, where one block holds the batch) the threads share each
// block: transforms split over planes, GEMMs over α. Each α's GEMM and each plane's transform
// is computed the same way in both, so the forward result does not even depend on the thread
// count.
import CKernels
import Foundation

/// The tiling of one convolution's output into m×m tiles, sample by sample, and its blocks.
struct WinogradPlan {
    let g: ConvGeometry
    let m: Int
    /// The kernel's side: 3, or 5 (F(2×2, 5×5)).
    let r: Int
    /// V [α][T][C], M [α][T][O], U [α][C][O], transforms vectorised over channels (true), or
    /// V [α][C][T], M [α][O][T], U [α][O][C], transforms vectorised over a row of tiles.
    let byChannel: Bool
    /// (m + r − 1)²: the tile positions, one GEMM each.
    let alphas: Int
    let samplesPerBlock: Int
    var c: atx_wino_plan

    init(_ g: ConvGeometry, m: Int, byChannel: Bool = false) {
        r = g.kh
        precondition(g.kw == r && (r == 3 && (m == 2 || m == 4) || r == 5 && m == 2 && byChannel),
                     "Winograd: F(2×2) or F(4×4) for 3×3 kernels, F(2×2) by channel for 5×5; got m = \(m), kernel \(g.kh)×\(g.kw)")
        self.g = g
        self.m = m
        self.byChannel = byChannel
        alphas = (m + r - 1) * (m + r - 1)
        let th = (g.oh + m - 1) / m, tw = (g.ow + m - 1) / m, tiles = th * tw
        // A block's V and M take alphas·(C + O) floats per tile: about half the L2 keeps them in
        // cache. When U itself is larger than that it streams from memory once per block, so a
        // block gets at least 64 tiles to reuse it over.
        let budget = CacheSizes.l2 / 2
        var target = max(1, budget / (alphas * (g.c + g.o) * 4))
        if alphas * g.o * g.c * 4 > budget { target = max(target, 64) }
        samplesPerBlock = max(1, min(g.n, (target + tiles - 1) / tiles))
        let rowLength = samplesPerBlock * tiles
        // 64 floats of slack after each α plane: the transforms read up to a vector past a row's
        // last tile, and the pad keeps the planes, used together, off the same cache sets. Each
        // plane starts on a cache line (the buffers are allocated on lines).
        func stride(_ channels: Int) -> Int { (channels * rowLength + 15) / 16 * 16 + 64 }
        c = atx_wino_plan(m: Int32(m), r: Int32(r), c: Int32(g.c), h: Int32(g.h), w: Int32(g.w), pad: Int32(g.padding),
                          o: Int32(g.o), oh: Int32(g.oh), ow: Int32(g.ow), th: Int32(th), tw: Int32(tw),
                          tilesPerSample: tiles, rowLength: rowLength,
                          inputAlphaStride: stride(g.c), outputAlphaStride: stride(g.o))
    }

    var tilesPerSample: Int { c.tilesPerSample }
    var rowLength: Int { c.rowLength }
    var inputAlphaStride: Int { c.inputAlphaStride }
    var outputAlphaStride: Int { c.outputAlphaStride }
    var blocks: Int { (g.n + samplesPerBlock - 1) / samplesPerBlock }

    /// The samples of block b.
    func samples(_ b: Int) -> Range<Int> { (b * samplesPerBlock)..<min(g.n, (b + 1) * samplesPerBlock) }

    /// Whether threads take whole blocks (enough of them to share out) rather than share each block.
    var threadsTakeBlocks: Bool { Threads.count == 1 || blocks >= 2 * Threads.count }

    /// GEMM flops of one block (the cost per item of a parallel loop over blocks).
    var blockCost: Int { alphas * g.o * g.c * rowLength }

    /// Work units of the input (output) transforms of `samples` samples: planes, or (by channel)
    /// samples × blocks of a vector's worth of channels.
    func inputUnits(_ samples: Int) -> Int { samples * (byChannel ? Int(atx_winoc_blocks(Int32(g.c))) : g.c) }
    func outputUnits(_ samples: Int) -> Int { samples * (byChannel ? Int(atx_winoc_blocks(Int32(g.o))) : g.o) }

    func inputTransform(_ x: UnsafePointer<Float>, _ units: Range<Int>, _ v: UnsafeMutablePointer<Float>) {
        withUnsafePointer(to: c) { plan in
            if byChannel { atx_winoc_input(plan, x, units.lowerBound, units.upperBound, v) }
            else { atx_wino_input(plan, x, units.lowerBound, units.upperBound, v) }
        }
    }

    func outputTransform(_ m: UnsafePointer<Float>, _ units: Range<Int>, _ y: UnsafeMutablePointer<Float>) {
        withUnsafePointer(to: c) { plan in
            if byChannel { atx_winoc_output(plan, m, units.lowerBound, units.upperBound, y) }
            else { atx_wino_output(plan, m, units.lowerBound, units.upperBound, y) }
        }
    }

    func outputGradientTransform(_ dy: UnsafePointer<Float>, _ units: Range<Int>, _ dm: UnsafeMutablePointer<Float>) {
        withUnsafePointer(to: c) { plan in
            if byChannel { atx_winoc_output_grad(plan, dy, units.lowerBound, units.upperBound, dm) }
            else { atx_wino_output_grad(plan, dy, units.lowerBound, units.upperBound, dm) }
        }
    }
}

extension ConvGeometry {
    /// Whether the Winograd paths can compute this convolution (3×3, stride 1, padding at most 2).
    public var winogradApplies: Bool { Winograd.applies(to: self) }
}

enum Winograd {
    /// Whether `g` can take the F(m×m, 3×3) paths: 3×3, stride 1, padding at most 2.
    static func applies(to g: ConvGeometry) -> Bool { applies(to: g, kernel: 3) }

    /// Whether `g` is an r×r stride-1 convolution with padding at most r − 1 (F(2×2, 5×5) for r = 5).
    static func applies(to g: ConvGeometry, kernel r: Int) -> Bool {
        g.kh == r && g.kw == r && g.stride == 1 && g.padding <= r - 1
    }

    /// u = (G w Gᵀ)[α] for every kernel, as [α][O][C] (split over output channels) or, by
    /// channel, [α][C][O] (split over input channels).
    static func transformWeights(_ w: UnsafePointer<Float>, _ p: WinogradPlan, _ u: UnsafeMutablePointer<Float>) {
        let g = p.g, uP = SendablePointer(u)
        Threads.parallelFor(p.byChannel ? g.c : g.o, costPerItem: (p.byChannel ? g.o : g.c) * p.alphas * 8) { r in
            if p.byChannel {
                atx_winoc_weights(Int32(p.m), Int32(p.r), w, Int32(g.o), Int32(g.c), Int32(r.lowerBound), Int32(r.upperBound), uP.p)
            } else {
                atx_wino_weights(Int32(p.m), w, Int32(g.o), Int32(g.c), Int32(r.lowerBound), Int32(r.upperBound), uP.p)
            }
        }
    }

    /// The α GEMMs of one block: M_α = U_α · V_α over `tiles` tiles (by channel: M_α = V_α · U_α,
    /// tiles by channels), for α in `alphas`.
    static func forwardGEMMs(_ p: WinogradPlan, _ alphas: Range<Int>, tiles: Int, u: UnsafePointer<Float>,
                             v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>) {
        let g = p.g
        for a in alphas {
            if p.byChannel {
                BLAS.gemm(m: tiles, n: g.o, k: g.c, a: v + a * p.inputAlphaStride, lda: g.c, b: u + a * g.o * g.c, ldb: g.o,
                          c: m + a * p.outputAlphaStride, ldc: g.o)
            } else {
                BLAS.gemm(m: g.o, n: tiles, k: g.c, a: u + a * g.o * g.c, lda: g.c, b: v + a * p.inputAlphaStride, ldb: p.rowLength,
                          c: m + a * p.outputAlphaStride, ldc: p.rowLength)
            }
        }
    }

    /// y = conv2d(x, w) for an r×r stride-1 convolution with m×m tiles: x [N, C, H, W], w [O, C, r, r] → y [N, O, OH, OW].
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, m: Int, byChannel: Bool = false,
                        _ y: UnsafeMutablePointer<Float>) {
        let p = WinogradPlan(g, m: m, byChannel: byChannel)
        let u = UnsafeMutablePointer<Float>.allocateLines(p.alphas * g.o * g.c)
        defer { u.deallocate() }
        transformWeights(w, p, u)
        let yP = SendablePointer(y)
        if p.threadsTakeBlocks {
            Threads.parallelFor(p.blocks, costPerItem: p.blockCost) { range in
                let v = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.inputAlphaStride)
                let mm = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.outputAlphaStride)
                defer { v.deallocate(); mm.deallocate() }
                for b in range {
                    let s = p.samples(b)
                    p.inputTransform(x + s.lowerBound * g.sampleIn, 0..<p.inputUnits(s.count), v)
                    forwardGEMMs(p, 0..<p.alphas, tiles: s.count * p.tilesPerSample, u: u, v: v, m: mm)
                    p.outputTransform(mm, 0..<p.outputUnits(s.count), yP.p + s.lowerBound * g.sampleOut)
                }
            }
            return
        }
        let v = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.inputAlphaStride)
        let mm = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.outputAlphaStride)
        defer { v.deallocate(); mm.deallocate() }
        let vP = SendablePointer(v), mP = SendablePointer(mm)
        for b in 0..<p.blocks {
            let s = p.samples(b), tiles = s.count * p.tilesPerSample
            let xb = x + s.lowerBound * g.sampleIn, yb = y + s.lowerBound * g.sampleOut
            let yb2 = SendablePointer(yb)
            Threads.parallelFor(p.inputUnits(s.count), costPerItem: p.tilesPerSample * p.alphas * 8) { q in
                p.inputTransform(xb, q, vP.p)
            }
            Threads.parallelFor(p.alphas, costPerItem: g.o * g.c * tiles) { alphas in
                forwardGEMMs(p, alphas, tiles: tiles, u: u, v: vP.p, m: mP.p)
            }
            Threads.parallelFor(p.outputUnits(s.count), costPerItem: p.tilesPerSample * p.alphas * 8) { q in
                p.outputTransform(mP.p, q, yb2.p)
            }
        }
    }

    /// y = conv2d(x, w) by the fused F(4×4) kernel (atx_winof_forward), whole samples per thread:
    /// each sample is computed the same way whatever the thread count.
    static func fusedForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, _ y: UnsafeMutablePointer<Float>) {
        let p = WinogradPlan(g, m: 4, byChannel: true)
        let u = UnsafeMutablePointer<Float>.allocateLines(p.alphas * g.o * g.c)
        defer { u.deallocate() }
        transformWeights(w, p, u)
        let yP = SendablePointer(y)
        Threads.parallelFor(g.n, costPerItem: p.alphas * g.o * g.c * p.tilesPerSample) { samples in
            withUnsafePointer(to: p.c) { plan in
                atx_winof_forward(plan, x, u, samples.lowerBound, samples.upperBound, yP.p)
            }
        }
    }

    /// dw = Σ over the batch of the weight gradient of an r×r stride-1 convolution with m×m
    /// tiles. dU is summed over the blocks in order; when threads take whole blocks, each chunk
    /// of blocks (a split fixed by the thread count) has its own partial dU, added in chunk
    /// order. dy [N, O, OH, OW], x [N, C, H, W] → dw [O, C, r, r].
    static func backwardWeight(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ g: ConvGeometry, m: Int, byChannel: Bool = false,
                               _ dw: UnsafeMutablePointer<Float>) {
        let p = WinogradPlan(g, m: m, byChannel: byChannel)
        let size = p.alphas * g.o * g.c
        let chunks = p.threadsTakeBlocks ? Threads.chunks(p.blocks, costPerItem: p.blockCost) : 1
        let du = UnsafeMutablePointer<Float>.allocateLines(size * chunks)
        defer { du.deallocate() }
        if p.blocks == 0 { du.update(repeating: 0, count: size) }
        let duP = SendablePointer(du)
        func gemms(_ alphas: Range<Int>, tiles: Int, v: UnsafePointer<Float>, m mm: UnsafePointer<Float>,
                   accumulate: Bool, into acc: UnsafeMutablePointer<Float>) {
            for a in alphas {
                if p.byChannel {   // dU_α [C][O] = V_αᵀ · dM_α
                    BLAS.gemm(transA: true, m: g.c, n: g.o, k: tiles, a: v + a * p.inputAlphaStride, lda: g.c,
                              b: mm + a * p.outputAlphaStride, ldb: g.o, beta: accumulate ? 1 : 0, c: acc + a * g.o * g.c, ldc: g.o)
                } else {           // dU_α [O][C] = dM_α · V_αᵀ
                    BLAS.gemm(transB: true, m: g.o, n: g.c, k: tiles, a: mm + a * p.outputAlphaStride, lda: p.rowLength,
                              b: v + a * p.inputAlphaStride, ldb: p.rowLength, beta: accumulate ? 1 : 0,
                              c: acc + a * g.o * g.c, ldc: g.c)
                }
            }
        }
        if p.threadsTakeBlocks {
            Threads.forEachChunk(p.blocks, chunks: chunks) { chunk, range in
                let acc = duP.p + chunk * size
                let v = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.inputAlphaStride)
                let mm = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.outputAlphaStride)
                defer { v.deallocate(); mm.deallocate() }
                for b in range {
                    let s = p.samples(b)
                    p.inputTransform(x + s.lowerBound * g.sampleIn, 0..<p.inputUnits(s.count), v)
                    p.outputGradientTransform(dy + s.lowerBound * g.sampleOut, 0..<p.outputUnits(s.count), mm)
                    gemms(0..<p.alphas, tiles: s.count * p.tilesPerSample, v: v, m: mm, accumulate: b != range.lowerBound, into: acc)
                }
            }
            if chunks > 1 {
                // Σ of the partials in chunk order, element by element (split over threads).
                Threads.parallelFor(size, costPerItem: chunks) { r in
                    for chunk in 1..<chunks {
                        let part = duP.p + chunk * size
                        for i in r { duP.p[i] += part[i] }
                    }
                }
            }
        } else {
            let v = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.inputAlphaStride)
            let mm = UnsafeMutablePointer<Float>.allocateLines(p.alphas * p.outputAlphaStride)
            defer { v.deallocate(); mm.deallocate() }
            let vP = SendablePointer(v), mP = SendablePointer(mm)
            for b in 0..<p.blocks {
                let s = p.samples(b), tiles = s.count * p.tilesPerSample
                let xb = x + s.lowerBound * g.sampleIn, dyb = dy + s.lowerBound * g.sampleOut
                Threads.parallelFor(p.inputUnits(s.count), costPerItem: p.tilesPerSample * p.alphas * 8) { q in
                    p.inputTransform(xb, q, vP.p)
                }
                Threads.parallelFor(p.outputUnits(s.count), costPerItem: p.tilesPerSample * p.alphas * 8) { q in
                    p.outputGradientTransform(dyb, q, mP.p)
                }
                Threads.parallelFor(p.alphas, costPerItem: g.o * g.c * tiles) { alphas in
                    gemms(alphas, tiles: tiles, v: vP.p, m: mP.p, accumulate: b > 0, into: duP.p)
                }
            }
        }
        let dwP = SendablePointer(dw)
        Threads.parallelFor(p.byChannel ? g.c : g.o, costPerItem: (p.byChannel ? g.o : g.c) * p.alphas * 8) { r in
            if p.byChannel {
                atx_winoc_weight_grad(Int32(m), Int32(p.r), duP.p, Int32(g.o), Int32(g.c), Int32(r.lowerBound), Int32(r.upperBound), dwP.p)
            } else {
                atx_wino_weight_grad(Int32(m), duP.p, Int32(g.o), Int32(g.c), Int32(r.lowerBound), Int32(r.upperBound), dwP.p)
            }
        }
    }
}

/// Cache sizes of this machine, as the C library reports them (sysconf), for block sizes.
enum CacheSizes {
    /// Bytes of L2 per core; 1 MB when the system does not say.
    static let l2: Int = {
        let reported = sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))
        return reported > 0 ? reported : 1 << 20
    }()
}
