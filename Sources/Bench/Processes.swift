// The benchmark's child processes: `atx bench --step-only` copies (for the grid figure and the
// OpenBLAS kernel sets, which OpenBLAS reads only when it loads) and `scripts/bench-torch` for
// the PyTorch figure of a row. Both sides of the `--step-only` protocol live here: the child
// prints "ready" after its warm-up, waits for a line on stdin, then prints its figures as JSON.
import Foundation
import Training

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum BenchProcesses {
    /// The Python to run scripts/bench-torch with: `option` ("none": no PyTorch), else
    /// `make bench-torch`'s venv when it exists.
    public static func torchInterpreter(_ option: String?) -> String? {
        if option == "none" { return nil }
        if let option { return option }
        let venv = ".build/venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    /// PyTorch's images/s for one row at `threads`, and torch's version, from scripts/bench-torch
    /// in a child process.
    /// With `torchvisionLayout` ("contiguous", "channels_last"), torchvision's own network in that memory format.
    public static func torchStep(_ python: String, _ c: StepBenchCase, threads: Int, reps: Int, batch: Int,
                                 torchvisionLayout: String? = nil) throws -> (Double, String) {
        struct Line: Decodable { var images_per_second: Double; var torch: String }
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "scripts/bench-torch", "--case", c.name, "--threads", String(threads), "--reps", String(reps),
                       "--batch", String(batch)] + (torchvisionLayout.map { ["--impl", "torchvision", "--layout", $0] } ?? [])
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let r = try? JSONDecoder().decode(Line.self, from: Data(line.utf8)) else {
            throw BenchError("bench: scripts/bench-torch with \(python) failed for row '\(c.name)' (exit \(p.terminationStatus)); `make bench-torch` sets up its venv")
        }
        return (r.images_per_second, r.torch)
    }

    /// The child side of `--step-only`: one row's step figures as a JSON line on stdout; with
    /// `waitForGo`, "ready" after the warm-up and a line on stdin before timing.
    public static func stepOnlyChild(_ c: StepBenchCase, batch: Int, threads: Int, reps: Int, waitForGo: Bool) throws {
        let bench = try StepBench(c, batch: batch)
        let result = try bench.measure(threads: threads, reps: reps) {
            guard waitForGo else { return }
            print("ready")
            fflush(nil)
            _ = readLine()
        }
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        fflush(nil)
    }

    /// Runs `copies` `atx bench --step-only` processes at `threads` threads, releases them
    /// together after their warm-up, and returns their figures.
    /// With `coreType`, the children start with OPENBLAS_CORETYPE set to it (unset if empty);
    /// `quiet` discards what they print on stderr.
    public static func spawnSteps(_ c: StepBenchCase, batch: Int, threads: Int, copies: Int, reps: Int,
                                  coreType: String? = nil, quiet: Bool = false) throws -> [StepBenchResult] {
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
            if quiet { p.standardError = FileHandle.nullDevice }
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
        for child in children { child.2.fileHandleForWriting.write(Data("go\n".utf8)) }
        for i in 0..<copies { readLines(i) { $0.last?.hasPrefix("{") == true } }
        for child in children { child.0.waitUntilExit() }
        return try lines.map { l in
            guard let line = l.last(where: { $0.hasPrefix("{") }) else {
                throw BenchError("bench: a --step-only child printed no result (\(l))")
            }
            return try JSONDecoder().decode(StepBenchResult.self, from: Data(line.utf8))
        }
    }
}
