// Helpers for the JPEG tests: Pillow through the Python interpreter of `ATX_PYTHON`.
import Foundation
import XCTest
@testable import Data

/// The output of running `arguments` (first one looked up on PATH), or the failure's message.
func run(_ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The Python interpreter that has Pillow: `$ATX_PYTHON` (set by `make test`), else
/// `.build/venv/bin/python` when present, else `python3` (as the interop tests choose).
/// When `ATX_PYTHON` is set and Pillow does not import, the test fails; when it is unset and
/// the interpreter lacks Pillow, the test is skipped with the reason printed.
func pillowPython(file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let configured = ProcessInfo.processInfo.environment["ATX_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
    let venv = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/venv/bin/python").path
    let python = configured ?? (FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3")
    let check = run([python, "-c", "import PIL.Image; print(PIL.__version__)"])
    if check.status == 0 { return python }
    let lastLine = check.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit status \(check.status)"
    let reason = "\(python) cannot import Pillow (\(lastLine))"
    if configured != nil {
        XCTFail("ATX_PYTHON is set but \(reason)", file: file, line: line)
        throw PillowUnavailable(reason: reason)
    }
    print("skipping: \(reason); set ATX_PYTHON to an interpreter with Pillow to run this test")
    throw XCTSkip(reason)
}

struct PillowUnavailable: Error { let reason: String }

/// Runs the Python `script` with `arguments` under `python`, failing the test on a nonzero exit.
func runPython(_ python: String, _ script: String, _ arguments: [String] = [],
               file: StaticString = #filePath, line: UInt = #line) throws {
    let result = run([python, "-c", script] + arguments)
    guard result.status == 0 else {
        XCTFail("python failed (\(result.status)): \(result.output)", file: file, line: line)
        throw PillowUnavailable(reason: result.output)
    }
}

/// Raw bytes of a file.
func contents(_ path: String) throws -> [UInt8] { [UInt8](try Foundation.Data(contentsOf: URL(fileURLWithPath: path))) }

/// The largest per-byte difference of two equally long byte arrays.
func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count, "maxDifference: \(a.count) vs \(b.count) bytes")
    return zip(a, b).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
}

/// A smooth-ish colour test picture with some detail, `width`×`height`.
func testPicture(width: Int, height: Int, seed: Int = 0) -> PixelImage {
    PixelImage(width: width, height: height) { x, y in
        let r = (x * 255) / max(width - 1, 1)
        let g = (y * 255) / max(height - 1, 1)
        let b = ((x / 4 + y / 4 + seed) % 2) * 160 + 40
        return (UInt8(r), UInt8(g), UInt8(b))
    }
}

/// Overwrites line `number` (1-based) of the text file at `path` with `text`.
func replaceLine(_ path: String, _ number: Int, with text: String) throws {
    var lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
    lines[number - 1] = text
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
}
