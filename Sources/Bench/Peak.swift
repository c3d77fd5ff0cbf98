// The machine's floating-point peak, measured in the run: every thread runs the C kernels' FMA
// loop (12 independent vector FMA chains at the best SIMD level the CPU runs) at once, so
// "how far from the limit" is a figure of this machine and this moment, not a number from a
// datasheet or another node.
import Dispatch
import Foundation
import Tensor

/// The FMA peak at one thread count.
public struct PeakResult: Codable, Sendable {
    public var threads: Int
    /// The instruction-set level of the loop (`SIMD.name`).
    public var level: String
    /// Floating-point operations per second of all threads together, in GFLOP/s.
    public var gflops: Double
}

public enum Peak {
    /// The best of three runs of about `seconds` each of `threads` threads running the FMA loop together.
    public static func measure(threads: Int, seconds: Double = 0.2) -> PeakResult {
        let level = SIMD.supported
        let perIteration = SIMD.fmaLoop(level: level, iterations: 1)   // flops of one round on one thread
        func run(_ iterations: Int) -> (Double, Double) {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = SIMD.fmaLoop(level: level, iterations: iterations) }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            return (Double(threads) * perIteration * Double(iterations), elapsed)
        }
        // Calibrate the iteration count on a short run, then take the best of three.
        let (_, probe) = run(100_000)
        let iterations = max(100_000, Int(Double(100_000) * seconds / max(probe, 1e-6)))
        var best = 0.0
        for _ in 0..<3 {
            let (flops, elapsed) = run(iterations)
            best = max(best, flops / elapsed)
        }
        return PeakResult(threads: threads, level: SIMD.name(level), gflops: best * 1e-9)
    }
}
