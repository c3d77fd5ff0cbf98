// The Python interpreter the interop tests drive: $ATX_PYTHON (`make test` points it at the
// venv it sets up under .build/), else .build/venv/bin/python when present, else
// python3 from the PATH. With ATX_PYTHON set, an interpreter that cannot import what a test
// needs is a failure; otherwise the test is skipped with the reason printed.
// A library target (TestSupport) shared by the test targets that drive Python.
import Foundation
import XCTest

public struct TestPython: Sendable {
    public let command: [String]
    public let explicit: Bool

    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    public static let resolved: TestPython = {
        if let path = ProcessInfo.processInfo.environment["ATX_PYTHON"], !path.isEmpty {
            return TestPython(command: [path], explicit: true)
        }
        let venv = repository.appendingPathComponent(".build/venv/bin/python").path
        if FileManager.default.isExecutableFile(atPath: venv) { return TestPython(command: [venv], explicit: false) }
        return TestPython(command: ["/usr/bin/env", "python3"], explicit: false)
    }()

    public struct Unavailable: Error, CustomStringConvertible { public let description: String }

    /// Runs the interpreter with `arguments`; stdout and stderr together.
    public func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    public func run(script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        try run(["-c", script] + arguments)
    }

    /// The interpreter, once it imports `modules`; see the type's comment for what happens otherwise.
    public static func require(_ modules: [String], by test: String) throws -> TestPython {
        let python = resolved
        let reason: String
        do {
            let probe = try python.run(script: "import " + modules.joined(separator: ", "))
            if probe.status == 0 { return python }
            reason = "\(python.command.joined(separator: " ")) cannot import \(modules.joined(separator: ", ")): "
                + (probe.output.split(separator: "\n").last.map(String.init) ?? "exit status \(probe.status)")
        } catch {
            reason = "cannot run \(python.command.joined(separator: " ")): \(error)"
        }
        if python.explicit { throw Unavailable(description: "\(test): ATX_PYTHON is set but \(reason)") }
        print("\(test): skipping Python interop: \(reason) (make test sets up .build/venv and ATX_PYTHON)")
        throw XCTSkip(reason)
    }
}
