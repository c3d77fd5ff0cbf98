// The GEMM wrapper: row-major single-precision C = alpha·op(A)·op(B) + beta·C via cblas_sgemm.
import CBLAS

public enum BLAS {
    /// The kernel set OpenBLAS picked for this CPU ("Cooperlake", "Zen", …).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The OpenBLAS release, e.g. "0.3.21".
    public static var version: String {
        let words = configuration.split(separator: " ")
        return words.count > 1 ? String(words[1]) : "unknown"
    }

    /// The build's configuration string without the kernel set in use, e.g. "OpenBLAS 0.3.21
    /// NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY MAX_THREADS=64".
    public static var configuration: String {
        String(cString: openblas_get_config()).split(separator: " ").filter { $0 != coreName }.joined(separator: " ")
    }

    /// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.

    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        Threads.ensureConfigured()   // OpenBLAS at one thread, as our kernels assume
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            } else if beta != 1 {
                for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Tensor {
    /// Matrix product of 2-D tensors: a [m, k] (or [k, m] if transA) × b [k, n] (or [n, k] if transB).
    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: needs 2-D tensors, got \(a.shape) and \(b.shape)")
        let (m, ka) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(ka == kb, "matmul: inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") × \(b.shape)\(transB ? "ᵀ" : "")")
        return Tensor(shape: [m, n]) { c in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: ka,
                              a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                              c: c.baseAddress!, ldc: n)
                }
            }
        }
    }
}
