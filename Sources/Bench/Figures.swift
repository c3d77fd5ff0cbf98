// The figures `atx bench` prints, one measurement at a time (the command prints each as it
// comes), and the JSON report they make together.
import Foundation
import Tensor
import Training

/// Everything `atx bench --json` writes.
public struct BenchReport: Codable, Sendable {
    public var date: String
    public var machine: String
    public var blasCore: String
    public var blasKernels: String
    public var batch: Int
    public var steps: [StepBenchResult] = []
    public var convolutions: [ConvBenchRow] = []
    public var grid: [GridResult] = []
    /// WRN-16-1 step images/s at one thread per OPENBLAS_CORETYPE.
    public var blasCores: [String: Double] = [:]
    /// The FMA peak measured in this run, per thread count.
    public var peak: [PeakResult] = []
    /// The C kernels' instruction-set level (AVX-512, AVX2+FMA, portable).
    public var simdLevel: String

    /// A report of this machine, now, with no figures yet.
    public init(batch: Int) {
        date = ISO8601DateFormatter().string(from: Date())
        machine = Machine.description
        blasCore = BLAS.coreName
        blasKernels = BLASKernels.description
        simdLevel = SIMD.name(SIMD.level)
        self.batch = batch
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }
}

/// `processes` one-thread processes side by side against one `processes`-thread process.
public struct GridResult: Codable, Sendable {
    public var name: String
    public var processes: Int
    public var oneThreadEach: [Double]
    public var oneProcess: Double
    public var sideBySide: Double { oneThreadEach.reduce(0, +) }
}

/// How a benchmark run measures: batch size, repetitions, and the PyTorch interpreter, if any.
public struct BenchSettings: Sendable {
    public var batch: Int
    public var reps: Int
    public var torchPython: String?
    public init(batch: Int, reps: Int, torchPython: String?) {
        self.batch = batch; self.reps = reps; self.torchPython = torchPython
    }

    /// One row's training steps at `threads` (profiled for two steps), then PyTorch's figure of
    /// the same row when there is an interpreter.
    public func step(_ c: StepBenchCase, threads: Int) throws -> StepBenchResult {
        var r = try StepBench(c, batch: batch).measure(threads: threads, reps: reps, profileSteps: 2)
        if let torchPython {
            let (ips, version) = try BenchProcesses.torchStep(torchPython, c, threads: threads, reps: reps, batch: c.batch ?? batch)
            r.torchImagesPerSecond = ips
            r.torchVersion = version
            if c.comparesWithTorchvision {
                var layouts: [String: Double] = [:]
                for layout in ["contiguous", "channels_last"] {
                    layouts[layout] = try BenchProcesses.torchStep(torchPython, c, threads: threads, reps: reps, batch: c.batch ?? batch,
                                                                   torchvisionLayout: layout).0
                }
                r.torchvisionImagesPerSecond = layouts
            }
        }
        return r
    }

    /// One convolution's GFLOPS per algorithm and of a bare sgemm at `threads`.
    public func convolution(_ c: ConvBenchCase, threads: Int) -> ConvBenchRow {
        ConvBenchmark.run(c, threads: threads, reps: reps)
    }

    /// The grid figure of one row: `processes` one-thread child processes against one child at
    /// `processes` threads.
    public func grid(_ c: StepBenchCase, processes: Int) throws -> GridResult {
        let single = try BenchProcesses.spawnSteps(c, batch: batch, threads: processes, copies: 1, reps: reps)
        let side = try BenchProcesses.spawnSteps(c, batch: batch, threads: 1, copies: processes, reps: reps)
        return GridResult(name: c.name, processes: processes, oneThreadEach: side.map(\.imagesPerSecond),
                          oneProcess: single[0].imagesPerSecond)
    }

    /// The kernel sets `blasCores` times (nil: OPENBLAS_CORETYPE unset).
    public static let coreTypes: [String?] = [nil, "Prescott", "Haswell", "Zen", "SkylakeX", "Cooperlake"]

    /// The WRN-16-1 step at one thread in a child process started with OPENBLAS_CORETYPE =
    /// `coreType` (nil: unset), which OpenBLAS reads only when it loads: images/s.
    public func blasCore(_ coreType: String?) throws -> Double {
        let c = StepBenchCase.named("wrn-16-1")!
        return try BenchProcesses.spawnSteps(c, batch: batch, threads: 1, copies: 1, reps: reps, coreType: coreType ?? "")[0].imagesPerSecond
    }
}

extension StepBench {
    /// Runs `steps` steps and calls `report(step, residentMB, peakResidentMB, seconds)` every
    /// 100 steps and after the last.
    public func memoryLoop(steps: Int, threads: Int, report: (Int, Double, Double, Double) -> Void) throws {
        Threads.set(threads)
        let start = Date()
        for s in 1...steps {
            try runStep()
            if s % 100 == 0 || s == steps {
                report(s, Machine.residentMB, Machine.peakResidentMB, Date().timeIntervalSince(start))
            }
        }
    }
}

/// This machine, from /proc and getrusage.
public enum Machine {
    /// CPU model and logical CPU count.
    public static var description: String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) CPUs"
    }

    /// Current resident set size (/proc/self/statm).
    public static var residentMB: Double {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    /// Peak resident set size so far (getrusage).
    public static var peakResidentMB: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
