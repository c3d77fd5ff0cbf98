import ArgumentParser
import Autograd
import Bench
import Foundation
import Tensor

/// `atx bench` (the struct is not named after the command: `Bench` is the library).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training-step throughput next to PyTorch, time per layer kind, convolution GFLOPS, grid throughput, OpenBLAS kernel sets.",
        discussion: """
        Every figure is measured in this run, on this machine. Steps use batch 128 on 32×32×3 synthetic
        images: decode, forward, backward, SGD update (the trainer's own step); the median of --reps after
        one warm-up step. With a PyTorch interpreter (--torch-python, or `make bench-torch`'s venv at
        .build/venv), each row is timed by scripts/bench-torch right after ours, at the same thread
        count, and the ratio printed; without one, no ratio is printed.
        """)

    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Comma-separated thread counts to measure.") var threads = CommaSeparated<Int>([1, 2])
    @Option(help: "Timed steps (and kernel repetitions) per figure; the median is reported.") var reps = 5
    @Option(help: "Comma-separated rows (default: all): \(StepBenchCase.table.map(\.name).joined(separator: ", ")).")
    var cases: CommaSeparated<StepBenchCase>?
    @Option(help: "Python with torch for the PyTorch figures (default: .build/venv/bin/python, `make bench-torch`'s venv, when it exists; 'none' to skip).")
    var torchPython: String?
    @Flag(help: "Fewer rows (wrn-16-1, the AT pair, inference) and 3 repetitions.") var quick = false
    @Option(help: "Comma-separated sections to run: steps, conv, grid, blas (default: all).")
    var sections = CommaSeparated<BenchSection>(BenchSection.allCases)
    @Option(help: "Write every figure to this JSON file.") var json: String?
    @Flag(help: "Only time the steps of one --cases row at the first --threads count; print its figures as JSON (used for the grid figure).")
    var stepOnly = false
    @Flag(help: "With --step-only: print 'ready' after the warm-up and wait for a line on stdin.") var waitForGo = false
    @Option(help: "Instead of benchmarking, run this many steps of the AT pair and print the RSS every 100 steps.")
    var memorySteps: Int?

    func validate() throws {
        guard !threads.values.isEmpty, threads.values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads: expected comma-separated positive integers, got '\(threads)'")
        }
        guard batch >= 1, reps >= 1 else { throw ValidationError("--batch and --reps must be at least 1") }
    }

    var rows: [StepBenchCase] {
        cases?.values ?? (quick ? ["wrn-16-1", "wrn-16-1←wrn-16-2 at", "wrn-16-2 inference"].compactMap(StepBenchCase.named)
                                : StepBenchCase.table)
    }

    func run() throws {
        let counts = threads.values
        let settings = BenchSettings(batch: batch, reps: quick ? min(reps, 3) : reps,
                                     torchPython: BenchProcesses.torchInterpreter(torchPython))
        if stepOnly {
            return try BenchProcesses.stepOnlyChild(rows[0], batch: batch, threads: counts[0], reps: settings.reps, waitForGo: waitForGo)
        }
        if let memorySteps { return try memoryLoop(steps: memorySteps, threads: counts.max()!) }

        var report = BenchReport(batch: batch)
        say("\(report.machine), \(report.date)\nOpenBLAS kernels: \(report.blasKernels)")
        let run = Set(sections.values)
        if run.contains(.steps) { try steps(rows, counts, settings, &report) }
        if run.contains(.conv) { convolutions(counts, settings, &report) }
        if run.contains(.grid) { try grid(rows, counts, settings, &report) }
        if run.contains(.blas) { try blasCores(settings, &report) }
        if let json {
            try report.write(to: json)
            say("\nwrote \(json)")
        }
    }

    func steps(_ rows: [StepBenchCase], _ counts: [Int], _ settings: BenchSettings, _ report: inout BenchReport) throws {
        say("\nTraining steps, batch \(batch), 32×32×3 (rows named with a size: that size and their own batch): images/s (median of \(settings.reps)); "
            + (settings.torchPython.map { "PyTorch measured by scripts/bench-torch (\($0)) right after each row; ratio = ours / PyTorch" }
               ?? "no PyTorch in this run (`make bench-torch` sets it up), so no ratio"))
        let peaks = measurePeaks(counts, &report)
        say(pad("row", 22) + " thr     ours   PyTorch   ratio   CPU s/step  sys")
        for t in counts {
            for c in rows {
                let r = try settings.step(c, threads: t)
                report.steps.append(r)
                let theirs = r.comparedImagesPerSecond.map { String(format: "%7.1f", $0) } ?? "      –"
                let ratio = r.comparedImagesPerSecond.map { String(format: "%5.2f×", r.imagesPerSecond / $0) } ?? "     –"
                say(pad(r.name, 22) + String(format: " %3d  %7.1f  ", t, r.imagesPerSecond) + theirs + "  " + ratio
                    + String(format: "   %8.3f  %3.0f%%", r.cpuSecondsPerStep, 100 * r.systemSecondsPerStep / r.cpuSecondsPerStep))
                if let tv = r.torchvisionImagesPerSecond, let reference = r.torchImagesPerSecond {
                    say(pad("", 22) + String(format: "      PyTorch = torchvision resnet18, the faster of contiguous %.1f and channels_last %.1f (reference/models.py: %.1f, ratio %.2f×)",
                                             tv["contiguous"] ?? .nan, tv["channels_last"] ?? .nan, reference, r.imagesPerSecond / reference))
                }
            }
        }
        if let v = report.steps.compactMap(\.torchVersion).first { say("PyTorch \(v)") }
        printProfile(report.steps)
        printConvWork(report.steps, peaks)
    }

    /// The FMA peak at each thread count, measured now.
    func measurePeaks(_ counts: [Int], _ report: inout BenchReport) -> [Int: PeakResult] {
        var peaks: [Int: PeakResult] = [:]
        for t in counts {
            let p = Peak.measure(threads: t)
            peaks[t] = p
            report.peak.append(p)
        }
        say("FMA peak measured now (\(peaks.values.first?.level ?? "")): "
            + counts.map { String(format: "%d thread%@ %.0f GFLOP/s", $0, $0 == 1 ? "" : "s", peaks[$0]!.gflops) }.joined(separator: ", "))
        return peaks
    }

    func convolutions(_ counts: [Int], _ settings: BenchSettings, _ report: inout BenchReport) {
        say("\nConvolutions, batch \(batch): GFLOPS (direct-convolution flops / time) forward / input grad / weight grad,")
        say("per algorithm, next to a bare full-batch sgemm of the same GEMM shapes; * = the algorithm the kernels pick"
            + (ConvTuning.isEnabled ? " (measured on this machine, cached)" : " (fixed default: tuning off)"))
        let peaks = report.peak.isEmpty ? measurePeaks(counts, &report) : Dictionary(uniqueKeysWithValues: report.peak.map { ($0.threads, $0) })
        /// "fwd / dx / dw" GFLOPS, * after the passes the kernels compute with `a`.
        func cells(_ v: [Double?]?, _ a: ConvAlgorithm?, _ chosen: [ConvAlgorithm]) -> String {
            guard let v else { return pad("–", 22, left: true) }
            return (0..<3).map { i in
                (v[i].map { String(format: "%5.0f", $0) } ?? pad("–", 5, left: true)) + (a != nil && chosen[i] == a ? "*" : " ")
            }.joined(separator: "/")
        }
        let sets = [("WRN-16-1", ConvBenchCase.wrn(widen: 1, batch: batch))] + (quick ? [] : [
            ("WRN-16-2", ConvBenchCase.wrn(widen: 2, batch: batch)), ("NIN-wide", ConvBenchCase.nin(batch: batch)),
            ("ResNet-18, batch 16", ConvBenchCase.resnet18(batch: 16))])
        for (title, cases) in sets {
            say(pad(title, 36) + " thr" + (ConvAlgorithm.allCases.map(\.rawValue) + ["bare sgemm"]).map { "  " + pad($0, 21) }.joined()
                + "  best % of peak")
            for t in counts {
                for c in cases {
                    let r = settings.convolution(c, threads: t)
                    report.convolutions.append(r)
                    let columns = ConvAlgorithm.allCases.map { cells(r.byAlgorithm[$0.rawValue], $0, r.chosen) }
                    let best = (0..<3).map { i in r.byAlgorithm.values.compactMap { $0[i] }.max() ?? 0 }
                    let share = peaks[t].map { p in best.map { String(format: "%3.0f", 100 * $0 / p.gflops) }.joined(separator: "/") } ?? ""
                    say(pad(r.name, 36) + String(format: " %3d ", t) + columns.joined(separator: " ") + " " + cells(r.sgemm, nil, r.chosen)
                        + "  " + share)
                }
            }
        }
    }

    func grid(_ rows: [StepBenchCase], _ counts: [Int], _ settings: BenchSettings, _ report: inout BenchReport) throws {
        if counts.contains(1), let multi = counts.filter({ $0 > 1 }).min() {
            say("\nGrid throughput: \(multi) one-thread processes side by side vs one \(multi)-thread process (images/s)")
            for c in rows where c.trains && (!quick || c.name == "wrn-16-1") {
                let g = try settings.grid(c, processes: multi)
                report.grid.append(g)
                say(pad(c.name, 22) + String(format: " %@ = %.1f  vs  %.1f  (×%.2f)",
                                                g.oneThreadEach.map { String(format: "%.1f", $0) }.joined(separator: " + "),
                                                g.sideBySide, g.oneProcess, g.sideBySide / g.oneProcess))
            }
        }
    }

    /// Each kernel set is timed in a child process started with it (OpenBLAS reads
    /// OPENBLAS_CORETYPE when it loads): the WRN-16-1 step at one thread.
    func blasCores(_ settings: BenchSettings, _ report: inout BenchReport) throws {
        let current = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        say("\nOpenBLAS kernel sets (OPENBLAS_CORETYPE, read at load; this process: \(current ?? "unset") → \(BLAS.coreName)):")
        say("WRN-16-1 training step, 1 thread, images/s (ratio to the one in use)")
        var results: [(String, Double)] = []
        for core in BenchSettings.coreTypes {
            results.append((core ?? "unset (autodetect)", try settings.blasCore(core)))
        }
        let inUse = results.first { $0.0 == current }?.1 ?? results[0].1
        for (core, ips) in results {
            report.blasCores[core] = ips
            say(pad(core, 22) + String(format: " %7.1f  (×%.2f)", ips, ips / inUse))
        }
    }

    /// The per-kind shares of the profiled steps, one line per row.
    func printProfile(_ results: [StepBenchResult]) {
        let columns: [(String, [ProfileLabel])] = [
            ("conv f", [.convForward]), ("conv b", [.convBackward]), ("BN f", [.batchNormForward]), ("BN b", [.batchNormBackward]),
            ("ReLU", [.reluForward, .reluBackward]), ("pool", [.poolingForward, .poolingBackward]),
            ("add", [.addForward, .addBackward]), ("linear", [.linearForward, .linearBackward]),
            ("loss+", [.otherForward, .otherBackward]), ("optim", [.optimizer]),
            ("data", [.data]), ("graph", [.autogradBookkeeping]),
        ]
        say("\nShare of a step per kind (% of the profiled step; loss+ = loss and other ops; BN includes the ReLU fused into it;\ngraph = autograd bookkeeping; rest = unattributed, mostly freeing the graph)")
        say(pad("row", 22) + " thr  ms/step" + columns.map { pad($0.0, 7, left: true) }.joined() + "   rest")
        for r in results where r.profiledStepSeconds > 0 {
            let total = r.profiledStepSeconds
            var line = pad(r.name, 22) + String(format: " %3d %8.1f", r.threads, total * 1000)
            var attributed = 0.0
            for (_, labels) in columns {
                let s = labels.reduce(0) { $0 + (r.profile[$1.rawValue] ?? 0) }
                attributed += s
                line += String(format: " %5.1f%%", 100 * s / total)
            }
            say(line + String(format: " %5.1f%%", 100 * (total - attributed) / total))
        }
    }

    /// The convolution kernels' GFLOP/s in the profiled steps, by kind, as a share of the FMA peak
    /// at the same thread count, beside the row's ratio to PyTorch.
    func printConvWork(_ results: [StepBenchResult], _ peaks: [Int: PeakResult]) {
        say("\nConvolution kernels in the profiled steps: GFLOP/s (direct-convolution flops / kernel wall time) and share of the FMA peak above")
        say(pad("row", 22) + " thr   ratio" + (ConvWork.allCases.map(\.rawValue) + ["all"]).map { pad($0, 17, left: true) }.joined()
            + "   conv share of step")
        for r in results {
            guard let work = r.convWork, let peak = peaks[r.threads]?.gflops else { continue }
            let ratio = r.comparedImagesPerSecond.map { String(format: "%6.2f×", r.imagesPerSecond / $0) } ?? "      –"
            var all = Profiler.Work()
            var line = pad(r.name, 22) + String(format: " %3d ", r.threads) + ratio
            for kind in ConvWork.allCases {
                let w = work[kind.rawValue] ?? Profiler.Work()
                all.flops += w.flops; all.seconds += w.seconds
                line += w.seconds > 0 ? String(format: "   %6.0f (%3.0f%%)", w.gflops, 100 * w.gflops / peak) : pad("–", 17, left: true)
            }
            line += String(format: "   %6.0f (%3.0f%%)", all.gflops, 100 * all.gflops / peak)
            say(line + String(format: "   %5.0f%%", r.profiledStepSeconds > 0 ? 100 * all.seconds / r.profiledStepSeconds : 0))
        }
    }

    /// Runs steps of the AT pair and prints the resident set size every 100 steps.
    func memoryLoop(steps: Int, threads: Int) throws {
        let c = StepBenchCase.named("wrn-16-1←wrn-16-2 at")!
        let bench = try StepBench(c, batch: batch)
        print("\(c.name), batch \(batch), \(threads) threads: resident set size (MB) every 100 steps")
        try bench.memoryLoop(steps: steps, threads: threads) { s, rss, peak, seconds in
            print(String(format: "step %5d  rss %7.1f MB  peak %7.1f MB  %.0f s", s, rss, peak, seconds))
            fflush(nil)
        }
    }
}

/// Prints a line and flushes, so progress shows when stdout is a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
    let p = String(repeating: " ", count: max(0, n - s.count))
    return left ? p + s : s + p
}
