// The thread count is set in one place: `Threads.set(_:)` sets both OpenBLAS's pool and the
// number of chunks our own parallel loops split into. Default: all cores.
import CBLAS
import Dispatch
import Foundation

public enum Threads {
    nonisolated(unsafe) private static var current: Int = ProcessInfo.processInfo.activeProcessorCount
    nonisolated(unsafe) private static var configured = false

    /// Number of threads our kernels and OpenBLAS use.
    public static var count: Int {
        if !configured { set(current) }
        return current
    }

    /// Sets the thread count for OpenBLAS and our own loops. Call before starting work.
    public static func set(_ n: Int) {
        precondition(n >= 1, "Threads.set: thread count must be at least 1, got \(n)")
        current = n
        configured = true
        openblas_set_num_threads(Int32(n))
    }

    /// Runs `body(range)` over `0..<n` split into at most `count` contiguous chunks,
    /// in parallel when the work is worth it (`n * costPerItem` large enough).

    public static func parallelFor(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = count
        if threads <= 1 || n * costPerItem < 32_768 || n < 2 {
            if n > 0 { body(0..<n) }
            return
        }
        let chunks = min(threads, n)
        withoutActuallyEscaping(body) { escaping in
            let boxed = UnsafeSendableClosure(escaping)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                if lo < hi { boxed.body(lo..<hi) }
            }
        }
    }
}

/// Wraps a non-escaping closure so `concurrentPerform` may call it from several threads.
/// Safe because `parallelFor` hands each chunk a disjoint range and waits for all of them.
public struct UnsafeSendableClosure: @unchecked Sendable {
    public let body: (Range<Int>) -> Void
    public init(_ body: @escaping (Range<Int>) -> Void) { self.body = body }
}

/// A raw pointer that may cross into `concurrentPerform` (disjoint writes only).
public struct SendablePointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
