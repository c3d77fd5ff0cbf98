// Helpers for the JPEG tests: Pillow through the Python interpreter of `ATX_PYTHON`.
import Foundation
import TestSupport
import XCTest
@testable import Data

/// The interpreter with Pillow, chosen as for every Python-driven test (`TestPython`): with
/// `ATX_PYTHON` set and no Pillow that is a failure, otherwise a skip with the reason printed.
func pillowPython() throws -> TestPython {
    try TestPython.require(["PIL.Image"], by: "JPEG tests")
}

struct PillowUnavailable: Error { let reason: String }

/// Runs the Python `script` with `arguments` under `python`, failing the test on a nonzero exit.
func runPython(_ python: TestPython, _ script: String, _ arguments: [String] = [],
               file: StaticString = #filePath, line: UInt = #line) throws {
    let result = try python.run(script: script, arguments)
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
