// The thread count is set in one place: `Threads.set(_:)` sets the number of chunks our
// parallel loops split into. OpenBLAS itself always runs single-threaded: every GEMM is called
// from inside our own chunks (one sample or one block per call), so no BLAS worker ever
// busy-waits on the other core between calls, and results depend only on the thread count.
// The loops run on CThreads' workers, which wait for the next loop spinning for half a
// millisecond before they sleep (see pool.c).
import CBLAS
import CThreads
import Foundation

public enum Threads {
    nonisolated(unsafe) private static var current: Int = ProcessInfo.processInfo.activeProcessorCount
    nonisolated(unsafe) private static var configured = false

    /// Number of threads our kernels use.
    public static var count: Int {
        ensureConfigured()
        return current
    }

    /// Applies the default configuration (all cores, OpenBLAS at one thread) if `set` was never called.
    static func ensureConfigured() { if !configured { set(current) } }

    /// Sets the thread count of our loops (OpenBLAS stays at one thread) and, once, the heap
    /// policy (see `Heap`). Call before starting work.
    public static func set(_ n: Int) {
        precondition(n >= 1, "Threads.set: thread count must be at least 1, got \(n)")
        current = n
        configured = true
        openblas_set_num_threads(1)
        Heap.configure()
    }

    /// Runs `body(range)` over `0..<n` split into contiguous chunks, in parallel when the work is
    /// worth it (`n * costPerItem` large enough).
    public static func parallelFor(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        forEachChunk(n, chunks: chunks(n, costPerItem: costPerItem)) { _, r in body(r) }
    }

    /// How many chunks `parallelFor` splits `n` items into: one when single-threaded or when the
    /// work is small, else `chunksPerThread` per thread (at most n). Several chunks per thread
    /// let a thread that was descheduled on a shared machine hand work to the others; the count
    /// depends only on the thread count and the work, so per-chunk partial sums are reproducible.
    static func chunks(_ n: Int, costPerItem: Int = 1) -> Int {
        let threads = count
        if threads <= 1 || n * costPerItem < 32_768 || n < 2 { return 1 }
        return min(n, threads * chunksPerThread)
    }

    static let chunksPerThread = 4

    /// Runs `body(chunk, range)` for `chunks` contiguous pieces of `0..<n` in parallel; the split
    /// depends only on `n` and `chunks`, so per-chunk partial results are reproducible.
    static func forEachChunk(_ n: Int, chunks: Int, _ body: (Int, Range<Int>) -> Void) {
        precondition(chunks >= 1, "Threads.forEachChunk: need at least one chunk")
        if chunks == 1 { if n > 0 { body(0, 0..<n) }; return }
        withoutActuallyEscaping(body) { escaping in
            var job = ChunkJob(n: n, chunks: chunks, body: escaping)
            withUnsafeMutablePointer(to: &job) { context in
                atx_pool_run(Int32(count), chunks, { context, c in
                    let job = context!.assumingMemoryBound(to: ChunkJob.self).pointee
                    job.body(c, Threads.chunkRange(job.n, chunks: job.chunks, c))
                }, context)
            }
        }
    }

    /// The `c`-th of `chunks` contiguous, nearly equal pieces of `0..<n`.
    static func chunkRange(_ n: Int, chunks: Int, _ c: Int) -> Range<Int> {
        (n * c / chunks)..<(n * (c + 1) / chunks)
    }
}

/// One `forEachChunk` call as the worker threads (CThreads' atx_pool_run) see it: its body is
/// called from several threads at once, each with its own chunk, and outlives no call.
private struct ChunkJob {
    let n, chunks: Int
    let body: (Int, Range<Int>) -> Void
}

/// A raw pointer that may cross into a parallel loop's chunks (disjoint writes only).
public struct SendablePointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

extension UnsafeMutablePointer where Pointee == Float {
    /// Scratch of `count` floats on whole cache lines (64-byte aligned), so the C kernels'
    /// vector stores into it never split a line: with the heap's 16-byte alignment the
    /// Winograd transforms ran up to 1.8× slower. Freed with `deallocate()`.
    static func allocateLines(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }
}

/// glibc's heap policy for tensor-sized blocks. By default malloc serves blocks above a
/// (dynamic) threshold with fresh mmaps and returns them on free, so every op's output and
/// every temporary costs a page fault per 4 KB on first touch; a training step spent as much
/// time in the kernel as in user code. Raising the mmap threshold to its maximum (32 MB) and
/// never trimming keeps freed blocks in the heap for the next step. Blocks above 32 MB (a
/// ResNet's 224×224 activations at batch 16 are 51 MB) would still be fresh mmaps, faulted in
/// each step, two threads faulting in parallel contending for the kernel's locks (11% of a
/// two-thread ResNet step in system time), so mmap is not used for blocks at all.
enum Heap {
    private static let configured: Void = {
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_MMAP_MAX, 0)
        mallopt(M_TRIM_THRESHOLD, Int32.max)
    }()

    static func configure() { configured }
}
