// Measures the convolution kernels against a bare cblas_sgemm of the same GEMM shape, in the
// same process and run, so the ratio is meaningful on a shared, noisy machine. The bare sgemm
// is one full-batch call threaded by OpenBLAS itself (our kernels keep OpenBLAS at one thread
// and split samples over threads).
import CBLAS
import Foundation
import NN
import Tensor

public struct ConvBenchCase: Sendable {
    public var name: String
    public var geometry: ConvGeometry
    public init(name: String, geometry: ConvGeometry) { self.name = name; self.geometry = geometry }

    /// The distinct convolutions of WRN-16-k at 32×32 for a batch (stem, the three groups' convs and 1×1 shortcuts).
    public static func wrn(depth: Int = 16, widen k: Int = 1, batch: Int, inChannels: Int = 3) -> [ConvBenchCase] {
        let w = [16, 16 * k, 32 * k, 64 * k]
        func g(_ name: String, _ cin: Int, _ cout: Int, _ size: Int, _ kernel: Int, _ stride: Int) -> ConvBenchCase {
            ConvBenchCase(name: name, geometry: ConvGeometry(input: [batch, cin, size, size], weight: [cout, cin, kernel, kernel],
                                                             stride: stride, padding: kernel / 2))
        }
        var cases = [g("conv0 \(inChannels)→16 3×3 @32", inChannels, 16, 32, 3, 1)]
        if w[1] != 16 { cases.append(g("g0.b0.conv0 16→\(w[1]) 3×3 @32", 16, w[1], 32, 3, 1)) }
        cases.append(g("g0 \(w[1])→\(w[1]) 3×3 @32", w[1], w[1], 32, 3, 1))
        cases.append(g("g1.b0.conv0 \(w[1])→\(w[2]) 3×3 s2 @32", w[1], w[2], 32, 3, 2))
        cases.append(g("g1.b0.convdim \(w[1])→\(w[2]) 1×1 s2 @32", w[1], w[2], 32, 1, 2))
        cases.append(g("g1 \(w[2])→\(w[2]) 3×3 @16", w[2], w[2], 16, 3, 1))
        cases.append(g("g2.b0.conv0 \(w[2])→\(w[3]) 3×3 s2 @16", w[2], w[3], 16, 3, 2))
        cases.append(g("g2.b0.convdim \(w[2])→\(w[3]) 1×1 s2 @16", w[2], w[3], 16, 1, 2))
        cases.append(g("g2 \(w[3])→\(w[3]) 3×3 @8", w[3], w[3], 8, 3, 1))
        return cases
    }

    /// The distinct convolutions of NIN (NIN-wide's widths unless given) at 32×32: each block's
    /// 5×5 (3×3 in the last) convolution and its 1×1 convolutions.
    public static func nin(widths: [Int] = NetworkInNetwork.wide, batch: Int, inChannels: Int = 3) -> [ConvBenchCase] {
        var cases: [ConvBenchCase] = [], cin = inChannels, side = 32
        for b in 0..<3 {
            for j in 0..<3 {
                let cout = widths[3 * b + j], k = j > 0 ? 1 : b < 2 ? 5 : 3
                let g = ConvGeometry(input: [batch, cin, side, side], weight: [cout, cin, k, k], stride: 1, padding: k / 2)
                if !cases.contains(where: { $0.geometry == g }) {
                    cases.append(ConvBenchCase(name: "block\(b).conv\(j) \(cin)→\(cout) \(k)×\(k) @\(side)", geometry: g))
                }
                cin = cout
            }
            side /= 2
        }
        return cases
    }

    /// The distinct convolutions of ResNet-18 at 224×224 (Table 4's fine-tuning step): the 7×7/2
    /// stem, each layer's 3×3 convolutions, its strided first convolution and 1×1 shortcut.
    public static func resnet18(batch: Int, side: Int = 224) -> [ConvBenchCase] {
        func g(_ name: String, _ cin: Int, _ cout: Int, _ size: Int, _ kernel: Int, _ stride: Int, _ padding: Int) -> ConvBenchCase {
            ConvBenchCase(name: name, geometry: ConvGeometry(input: [batch, cin, size, size], weight: [cout, cin, kernel, kernel],
                                                             stride: stride, padding: padding))
        }
        var cases = [g("conv1 3→64 7×7 s2 @\(side)", 3, 64, side, 7, 2, 3)]
        var s = side / 4
        cases.append(g("layer1 64→64 3×3 @\(s)", 64, 64, s, 3, 1, 1))
        for (l, w) in [(2, 128), (3, 256), (4, 512)] {
            cases.append(g("layer\(l).0.conv1 \(w / 2)→\(w) 3×3 s2 @\(s)", w / 2, w, s, 3, 2, 1))
            cases.append(g("layer\(l).0.downsample \(w / 2)→\(w) 1×1 s2 @\(s)", w / 2, w, s, 1, 2, 0))
            s /= 2
            cases.append(g("layer\(l) \(w)→\(w) 3×3 @\(s)", w, w, s, 3, 1, 1))
        }
        return cases
    }
}

public struct ConvBenchRow: Sendable, Codable {
    public var name: String
    public var threads: Int
    /// The algorithms the kernels pick for this shape: forward, input gradient (the forward of
    /// the transposed shape for stride 1, else im2col), weight gradient.
    public var chosen: [ConvAlgorithm]
    /// GFLOPS (direct-convolution flops over time) of forward, input gradient and weight
    /// gradient, per algorithm that applies (nil for a pass it does not compute), and of a bare
    /// full-batch sgemm of the same shapes.
    public var byAlgorithm: [String: [Double?]]
    public var sgemm: [Double]
}

public enum ConvBenchmark {
    /// Median seconds of `reps` runs of `body` after one warm-up run.
    public static func time(reps: Int = 5, _ body: () -> Void) -> Double {
        body()
        var t: [Double] = []
        for _ in 0..<reps {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return t.sorted()[t.count / 2]
    }

    public static func run(_ c: ConvBenchCase, threads: Int, reps: Int = 5) -> ConvBenchRow {
        Threads.set(threads)
        let g = c.geometry
        var rng = RNG(seed: 1)
        let x = Tensor.normal(g.inputShape, rng: &rng), w = Tensor.normal(g.weightShape, rng: &rng)
        let dy = Tensor.normal(g.outputShape, rng: &rng)
        let flops = g.flops
        var byAlgorithm: [String: [Double?]] = [:]
        for algorithm in ConvAlgorithm.allCases where g.supports(algorithm) {
            let fwd = time(reps: reps) { _ = Tensor.conv2d(x, w, stride: g.stride, padding: g.padding, algorithm: algorithm) }
            let bwdIn = time(reps: reps) {
                _ = Tensor.conv2dBackwardInput(dy, w, inputShape: g.inputShape, stride: g.stride, padding: g.padding, algorithm: algorithm)
            }
            let bwdW = !g.supports(algorithm, .weightGradient) ? nil : time(reps: reps) {
                _ = Tensor.conv2dBackwardWeight(dy, x, weightShape: g.weightShape, stride: g.stride, padding: g.padding, algorithm: algorithm)
            }
            byAlgorithm[algorithm.rawValue] = [fwd, bwdIn, bwdW].map { $0.map { flops / $0 / 1e9 } }
        }
        // Bare GEMMs of the same shapes: W[O, CKK]·col[CKK, NL]; Wᵀ·dY; dY·colᵀ.
        let a = [Float](repeating: 0.5, count: g.o * g.colRows)
        let b = [Float](repeating: 0.25, count: g.colRows * g.colCols)
        let d = [Float](repeating: 0.125, count: g.o * g.colCols)
        var cOut = [Float](repeating: 0, count: Swift.max(g.o * g.colCols, g.colRows * g.colCols, g.o * g.colRows))
        func gemmTime(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ pa: [Float], _ lda: Int, _ pb: [Float], _ ldb: Int) -> Double {
            time(reps: reps) {
                pa.withUnsafeBufferPointer { ap in pb.withUnsafeBufferPointer { bp in cOut.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda,
                              b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: n)
                } } }
            }
        }
        openblas_set_num_threads(Int32(threads))
        let sF = gemmTime(false, false, g.o, g.colCols, g.colRows, a, g.colRows, b, g.colCols)
        let sI = gemmTime(true, false, g.colRows, g.colCols, g.o, a, g.colRows, d, g.colCols)
        let sW = gemmTime(false, true, g.o, g.colRows, g.colCols, d, g.colCols, b, g.colCols)
        openblas_set_num_threads(1)
        let transposed = g.stride == 1 && g.kh == g.kw && g.padding <= g.kh - 1
            ? ConvGeometry(input: g.outputShape, weight: [g.c, g.o, g.kh, g.kw], stride: 1, padding: g.kh - 1 - g.padding).algorithm(for: .forward)
            : .im2col
        return ConvBenchRow(name: c.name, threads: threads, chosen: [g.algorithm(for: .forward), transposed, g.algorithm(for: .weightGradient)],
                            byAlgorithm: byAlgorithm,
                            sgemm: [sF, sI, sW].map { flops / $0 / 1e9 })
    }
}
