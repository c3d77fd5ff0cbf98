import ArgumentParser
import Foundation
import Tensor
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training-step throughput next to PyTorch, time per layer kind, convolution GFLOPS, grid throughput, OpenBLAS kernel sets.",
        discussion: """
        Every figure is measured in this run, on this machine. Steps use batch 128 on 32×32×3 synthetic
        images: decode, forward, backward, SGD update (the trainer's own step); the median of --reps after
        one warm-up step. With a PyTorch interpreter (--torch-python, or `make bench-torch`'s venv at
        .build/venv-bench), each row is timed by scripts/bench-torch right after ours, at the same thread
        count, and the ratio printed; without one, no ratio is printed.
        """)

    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Comma-separated thread counts to measure.") var threads = "1,2"
    @Option(help: "Timed steps (and kernel repetitions) per figure; the median is reported.") var reps = 5
    @Option(help: "Comma-separated rows (default: all): \(StepBenchCase.table.map(\.name).joined(separator: ", ")).")
    var cases: String?
    @Option(help: "Python with torch for the PyTorch figures (default: .build/venv-bench/bin/python, `make bench-torch`'s venv, when it exists; 'none' to skip).")
    var torchPython: String?
    @Flag(help: "Fewer rows (wrn-16-1, the AT pair, inference) and 3 repetitions.") var quick = false
    @Option(help: "Comma-separated sections to run: steps, conv, grid, blas (default: all).") var sections = "steps,conv,grid,blas"
    @Option(help: "Write every figure to this JSON file.") var json: String?
    @Flag(help: "Only time the steps of one --cases row at the first --threads count; print its figures as JSON (used for the grid figure).")
    var stepOnly = false
    @Flag(help: "With --step-only: print 'ready' after the warm-up and wait for a line on stdin.") var waitForGo = false
    @Option(help: "Instead of benchmarking, run this many steps of the AT pair and print the RSS every 100 steps.")
    var memorySteps: Int?

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads: expected comma-separated positive integers, got '\(threads)'")
        }
        let reps = quick ? min(self.reps, 3) : self.reps
        let rows = try selectedCases()
        let run = Set(sections.split(separator: ",").map(String.init))
        guard run.isSubset(of: ["steps", "conv", "grid", "blas"]) else {
            throw ValidationError("--sections: expected a comma-separated subset of steps, conv, grid, blas, got '\(sections)'")
        }
        if stepOnly { return try stepOnly(rows[0], threads: counts[0], reps: reps) }
        if let memorySteps { return try memoryLoop(steps: memorySteps, threads: counts.max()!) }

        var report = BenchReport(date: ISO8601DateFormatter().string(from: Date()), machine: Machine.description,
                                 blasCore: BLAS.coreName, blasKernels: BLASKernels.description, batch: batch)
        say("\(report.machine), \(report.date)\nOpenBLAS kernels: \(report.blasKernels)")
        if run.contains("steps") { try steps(rows, counts, reps, &report) }
        if run.contains("conv") { convolutions(counts, reps, &report) }
        if run.contains("grid") { try grid(rows, counts, reps, &report) }
        if run.contains("blas") { try blasCores(reps, &report) }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            say("\nwrote \(json)")
        }
    }

    func steps(_ rows: [StepBenchCase], _ counts: [Int], _ reps: Int, _ report: inout BenchReport) throws {
        let torch = torchInterpreter()
        say("\nTraining steps, batch \(batch), 32×32×3 (rows named with a size: that size and their own batch): images/s (median of \(reps)); "
            + (torch.map { "PyTorch measured by scripts/bench-torch (\($0)) right after each row; ratio = ours / PyTorch" }
               ?? "no PyTorch in this run (`make bench-torch` sets it up), so no ratio"))
        say(pad("row", 22) + " thr     ours   PyTorch   ratio   CPU s/step  sys")
        for t in counts {
            for c in rows {
                var r = try StepBench(c, batch: batch).measure(threads: t, reps: reps, profileSteps: 2)
                if let torch {
                    let (ips, version) = try torchStep(torch, c, threads: t, reps: reps)
                    r.torchImagesPerSecond = ips
                    r.torchVersion = version
                }
                report.steps.append(r)
                let theirs = r.torchImagesPerSecond.map { String(format: "%7.1f", $0) } ?? "      –"
                let ratio = r.torchImagesPerSecond.map { String(format: "%5.2f×", r.imagesPerSecond / $0) } ?? "     –"
                say(pad(r.name, 22) + String(format: " %3d  %7.1f  ", t, r.imagesPerSecond) + theirs + "  " + ratio
                    + String(format: "   %8.3f  %3.0f%%", r.cpuSecondsPerStep, 100 * r.systemSecondsPerStep / r.cpuSecondsPerStep))
            }
        }
        if let v = report.steps.compactMap(\.torchVersion).first { say("PyTorch \(v)") }
        printProfile(report.steps)
    }

    /// The Python to run scripts/bench-torch with, if any.
    func torchInterpreter() -> String? {
        if torchPython == "none" { return nil }
        if let torchPython { return torchPython }
        let venv = ".build/venv-bench/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    /// PyTorch's images/s for one row at `threads`, from scripts/bench-torch in a child process.
    func torchStep(_ python: String, _ c: StepBenchCase, threads: Int, reps: Int) throws -> (Double, String) {
        struct Line: Decodable { var images_per_second: Double; var torch: String }
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "scripts/bench-torch", "--case", c.name, "--threads", String(threads), "--reps", String(reps),
                       "--batch", String(c.batch ?? batch)]
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let r = try? JSONDecoder().decode(Line.self, from: Data(line.utf8)) else {
            throw ValidationError("bench: scripts/bench-torch with \(python) failed for row '\(c.name)' (exit \(p.terminationStatus)); `make bench-torch` sets up its venv")
        }
        return (r.images_per_second, r.torch)
    }

    func convolutions(_ counts: [Int], _ reps: Int, _ report: inout BenchReport) {
        say("\nConvolutions, batch \(batch): GFLOPS (direct-convolution flops / time) forward / input grad / weight grad,")
        say("per algorithm, next to a bare full-batch sgemm of the same GEMM shapes; * = the algorithm the kernels pick")
        func cells(_ v: [Double]?) -> String {
            guard let v else { return pad("–", 19, left: true) }
            return String(format: "%5.0f /%5.0f /%5.0f", v[0], v[1], v[2])
        }
        for k in quick ? [1] : [1, 2] {
            say("WRN-16-\(k)" + pad("", 29) + " thr  im2col               winograd             bare sgemm")
            for t in counts {
                for c in ConvBenchCase.wrn(widen: k, batch: batch) {
                    let r = ConvBenchmark.run(c, threads: t, reps: reps)
                    report.convolutions.append(r)
                    let mark = { (a: ConvAlgorithm) in r.algorithm == a ? "*" : " " }
                    say(pad(r.name, 36) + String(format: " %3d ", t) + cells(r.byAlgorithm["im2col"]) + mark(.im2col) + " "
                        + cells(r.byAlgorithm["winograd"]) + (r.byAlgorithm["winograd"] == nil ? " " : mark(.winograd)) + " " + cells(r.sgemm))
                }
            }
        }
    }

    func grid(_ rows: [StepBenchCase], _ counts: [Int], _ reps: Int, _ report: inout BenchReport) throws {
        if counts.contains(1), let multi = counts.filter({ $0 > 1 }).min() {
            say("\nGrid throughput: \(multi) one-thread processes side by side vs one \(multi)-thread process (images/s)")
            for c in rows where c.trains && (!quick || c.name == "wrn-16-1") {
                let single = try spawnSteps(c, threads: multi, copies: 1, reps: reps)
                let side = try spawnSteps(c, threads: 1, copies: multi, reps: reps)
                let g = GridResult(name: c.name, processes: multi, oneThreadEach: side.map(\.imagesPerSecond),
                                   oneProcess: single[0].imagesPerSecond)
                report.grid.append(g)
                say(pad(c.name, 22) + String(format: " %@ = %.1f  vs  %.1f  (×%.2f)",
                                                g.oneThreadEach.map { String(format: "%.1f", $0) }.joined(separator: " + "),
                                                g.sideBySide, g.oneProcess, g.sideBySide / g.oneProcess))
            }
        }
    }

    /// OpenBLAS reads OPENBLAS_CORETYPE when it loads, so each kernel set is timed in a child
    /// process started with it: the WRN-16-1 step at one thread.
    func blasCores(_ reps: Int, _ report: inout BenchReport) throws {
        let current = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        say("\nOpenBLAS kernel sets (OPENBLAS_CORETYPE, read at load; this process: \(current ?? "unset") → \(BLAS.coreName)):")
        say("WRN-16-1 training step, 1 thread, images/s (ratio to the one in use)")
        let c = StepBenchCase.named("wrn-16-1")!
        var results: [(String, Double)] = []
        for core in [nil, "Prescott", "Haswell", "Zen", "SkylakeX", "Cooperlake"] as [String?] {
            let r = try spawnSteps(c, threads: 1, copies: 1, reps: reps, coreType: core ?? "")[0]
            results.append((core ?? "unset (autodetect)", r.imagesPerSecond))
        }
        let inUse = results.first { $0.0 == current }?.1 ?? results[0].1
        for (core, ips) in results {
            report.blasCores[core] = ips
            say(pad(core, 22) + String(format: " %7.1f  (×%.2f)", ips, ips / inUse))
        }
    }

    func selectedCases() throws -> [StepBenchCase] {
        let names = cases.map { $0.split(separator: ",").map(String.init) }
            ?? (quick ? ["wrn-16-1", "wrn-16-1←wrn-16-2 at", "wrn-16-2 inference"] : StepBenchCase.table.map(\.name))
        return try names.map { name in
            guard let c = StepBenchCase.named(name) else {
                throw ValidationError("--cases: unknown row '\(name)'; rows: \(StepBenchCase.table.map(\.name).joined(separator: ", "))")
            }
            return c
        }
    }

    /// The per-kind shares of the profiled steps, one line per row.
    func printProfile(_ results: [StepBenchResult]) {
        let columns: [(String, [String])] = [
            ("conv f", ["conv forward"]), ("conv b", ["conv backward"]), ("BN f", ["BN(+ReLU) forward"]), ("BN b", ["BN(+ReLU) backward"]),
            ("ReLU", ["ReLU forward", "ReLU backward"]), ("pool", ["pooling forward", "pooling backward"]),
            ("add", ["add forward", "add backward"]), ("linear", ["linear forward", "linear backward"]),
            ("loss+", ["loss & other ops forward", "loss & other ops backward"]), ("optim", ["optimizer"]),
            ("data", ["data"]), ("graph", ["autograd bookkeeping"]),
        ]
        say("\nShare of a step per kind (% of the profiled step; loss+ = loss and other ops; BN includes the ReLU fused into it;\ngraph = autograd bookkeeping; rest = unattributed, mostly freeing the graph)")
        say(pad("row", 22) + " thr  ms/step" + columns.map { pad($0.0, 7, left: true) }.joined() + "   rest")
        for r in results where r.profiledStepSeconds > 0 {
            let total = r.profiledStepSeconds
            var line = pad(r.name, 22) + String(format: " %3d %8.1f", r.threads, total * 1000)
            var attributed = 0.0
            for (_, labels) in columns {
                let s = labels.reduce(0) { $0 + (r.profile[$1] ?? 0) }
                attributed += s
                line += String(format: " %5.1f%%", 100 * s / total)
            }
            say(line + String(format: " %5.1f%%", 100 * (total - attributed) / total))
        }
    }

    /// The `--step-only` mode: one row's step figures as a JSON line.
    func stepOnly(_ c: StepBenchCase, threads: Int, reps: Int) throws {
        let bench = try StepBench(c, batch: batch)
        let result = try bench.measure(threads: threads, reps: reps) {
            guard waitForGo else { return }
            print("ready")
            fflush(nil)
            _ = readLine()
        }
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }

    /// Runs `copies` `--step-only` processes at `threads` threads, releases them together after
    /// their warm-up, and returns their figures.
    /// With `coreType`, the children start with OPENBLAS_CORETYPE set to it (unset if empty).
    func spawnSteps(_ c: StepBenchCase, threads: Int, copies: Int, reps: Int, coreType: String? = nil) throws -> [StepBenchResult] {
        let children = try (0..<copies).map { _ -> (Process, Pipe, Pipe) in
            let p = Process(), out = Pipe(), input = Pipe()
            p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            if let coreType {
                var environment = ProcessInfo.processInfo.environment
                environment["OPENBLAS_CORETYPE"] = coreType.isEmpty ? nil : coreType
                environment["ATX_BLAS_CHOSEN"] = environment["ATX_BLAS_CHOSEN"] ?? "bench"   // measure this set, select nothing
                p.environment = environment
            }
            p.arguments = ["bench", "--step-only", "--wait-for-go", "--cases", c.name, "--threads", String(threads),
                           "--reps", String(reps), "--batch", String(batch)]
            p.standardOutput = out
            p.standardInput = input
            try p.run()
            return (p, out, input)
        }
        var lines: [[String]] = Array(repeating: [], count: copies)
        func readLines(_ i: Int, until done: ([String]) -> Bool) {
            var buffer = Data()
            while !done(lines[i]) {
                let chunk = children[i].1.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer += chunk
                while let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    lines[i].append(String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self))
                    buffer = Data(buffer[(nl + 1)...])
                }
            }
        }
        for i in 0..<copies { readLines(i) { $0.contains("ready") } }
        for child in children { child.2.fileHandleForWriting.write("go\n".data(using: .utf8)!) }
        for i in 0..<copies { readLines(i) { $0.last?.hasPrefix("{") == true } }
        for child in children { child.0.waitUntilExit() }
        return try lines.map { l in
            guard let line = l.last(where: { $0.hasPrefix("{") }) else {
                throw ValidationError("bench: a --step-only child printed no result (\(l))")
            }
            return try JSONDecoder().decode(StepBenchResult.self, from: Data(line.utf8))
        }
    }

    /// Runs steps of the AT pair and prints the resident set size every 100 steps.
    func memoryLoop(steps: Int, threads: Int) throws {
        let c = StepBenchCase.named("wrn-16-1←wrn-16-2 at")!
        let bench = try StepBench(c, batch: batch)
        Threads.set(threads)
        print("\(c.name), batch \(batch), \(threads) threads: resident set size (MB) every 100 steps")
        let start = Date()
        for s in 1...steps {
            try bench.runStep()
            if s % 100 == 0 || s == steps {
                print(String(format: "step %5d  rss %7.1f MB  peak %7.1f MB  %.0f s", s, Machine.residentMB, Machine.peakResidentMB,
                             Date().timeIntervalSince(start)))
                fflush(nil)
            }
        }
    }
}

/// Everything `--json` writes.
struct BenchReport: Codable {
    var date: String
    var machine: String
    var blasCore: String
    var blasKernels: String
    var batch: Int
    var steps: [StepBenchResult] = []
    var convolutions: [ConvBenchRow] = []
    var grid: [GridResult] = []
    /// WRN-16-1 step images/s at one thread per OPENBLAS_CORETYPE.
    var blasCores: [String: Double] = [:]
}

struct GridResult: Codable {
    var name: String
    var processes: Int
    var oneThreadEach: [Double]
    var oneProcess: Double
    var sideBySide: Double { oneThreadEach.reduce(0, +) }
}

enum Machine {
    /// CPU model and logical CPU count.
    static var description: String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) CPUs"
    }

    /// Current resident set size (/proc/self/statm).
    static var residentMB: Double {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    /// Peak resident set size so far (getrusage).
    static var peakResidentMB: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
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
