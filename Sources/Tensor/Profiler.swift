// An opt-in wall-clock profile by label (`atx bench` uses it for the share of time per layer
// kind). Off by default: then every entry point is one branch on a global flag. Call it from
// one thread (the one running the graph); kernels may go parallel inside a timed region.
import Dispatch

public enum Profiler {
    /// Whether timings are collected. Set it only while no work is running.
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) private static var totals: [String: Double] = [:]
    nonisolated(unsafe) private static var lapStart: UInt64 = 0
    /// Depth of nested `measure` calls: laps inside a measured region are not charged twice.
    nonisolated(unsafe) private static var depth = 0

    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Runs `body`, adding its wall time to `label` when profiling (unless nested in another
    /// `measure`, which is charged instead); restarts the lap clock.
    @inline(__always)
    public static func measure<T>(_ label: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = now
        depth += 1
        defer {
            depth -= 1
            let end = now
            if depth == 0 { totals[label(), default: 0] += Double(end - start) * 1e-9 }
            lapStart = end
        }
        return try body()
    }

    /// Adds the time since the last lap (or `measure`) to `label`: ops call this once their
    /// result exists, so the work between two ops is charged to the second.
    @inline(__always)
    public static func lap(_ label: @autoclosure () -> String) {
        guard isEnabled, depth == 0 else { return }
        let end = now
        totals[label(), default: 0] += Double(end - lapStart) * 1e-9
        lapStart = end
    }

    /// Seconds per label since the last `reset`.
    public static var totalsByLabel: [String: Double] { totals }

    public static func reset() {
        totals = [:]
        work = [:]
        lapStart = now
    }

    // MARK: - Work of the convolution kernels

    nonisolated(unsafe) private static var work: [ConvWork: Work] = [:]
    nonisolated(unsafe) private static var inWork = false

    /// Direct-convolution flops done and seconds spent in the kernels of one kind.
    public struct Work: Codable, Sendable, Equatable {
        public var flops = 0.0, seconds = 0.0
        public init(flops: Double = 0, seconds: Double = 0) { self.flops = flops; self.seconds = seconds }
        public var gflops: Double { seconds > 0 ? flops / seconds * 1e-9 : 0 }
    }

    /// Runs `body`, a convolution kernel of `kind` worth `flops`, charging its flops and wall
    /// time to `kind` when profiling (a kernel called from inside another is not charged twice).
    @inline(__always)
    public static func work<T>(_ kind: ConvWork, flops: Double, _ body: () throws -> T) rethrows -> T {
        guard isEnabled, !inWork else { return try body() }
        inWork = true
        let start = now
        defer {
            work[kind, default: Work()].flops += flops
            work[kind, default: Work()].seconds += Double(now - start) * 1e-9
            inWork = false
        }
        return try body()
    }

    /// Work per kind since the last `reset`.
    public static var workByKind: [ConvWork: Work] { work }
}

/// The convolution kernels by kind, for `Profiler.work`.
public enum ConvWork: String, CaseIterable, Codable, Sendable {
    case forward, inputGradient = "input gradient", weightGradient = "weight gradient"
}
