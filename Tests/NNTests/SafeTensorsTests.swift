import Foundation
import NN
import Tensor
import TestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    // MARK: Fixtures

    /// Floats whose bits a lossy path would change: signed zero, subnormals, extremes, infinities.
    private let awkwardFloats: [Float] = [0, -0.0, 1.0 / 3, -1.5, .leastNonzeroMagnitude, .leastNormalMagnitude,
                                          .greatestFiniteMagnitude, -.infinity, .infinity, .pi, 1e-7, -123_456.789]

    private var sampleTensors: [String: Tensor] {
        [
            "weights": Tensor(shape: [3, 4], data: awkwardFloats),
            "bn.bias": Tensor(shape: [5], data: (0..<5).map { Float($0) * 0.1 - 0.2 }),
            "scalar": Tensor(scalar: 42.5),
            "empty": Tensor(shape: [0, 3], data: []),
        ]
    }
    private let sampleInt64s: [String: ([Int], [Int])] = ["labels": ([2, 3], [0, 9, -3, 1 << 40, .max, .min])]
    private let sampleMetadata = ["student": "wrn-16-1", "method": "at", "note": "ünïcode / \"quoted\""]

    private func writeSample(_ name: String = "sample.safetensors") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try SafeTensors.write(tensors: sampleTensors, int64s: sampleInt64s, metadata: sampleMetadata, to: url)
        return url
    }

    /// Writes a file byte by byte from a header object (or raw header text) and a data section.
    private func rawFile(_ name: String, header: [String: Any]? = nil, headerText: String? = nil,
                         data: [UInt8]) throws -> URL {
        let json = try headerText.map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: header ?? [:])
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Data($0) }
        bytes.append(json)
        bytes.append(contentsOf: data)
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url
    }

    private func entry(_ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> [String: Any] {
        ["dtype": dtype, "shape": shape, "data_offsets": [begin, end]]
    }

    private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    /// Asserts `body` throws the SafeTensorsError case `kind` whose message mentions every fragment.
    private func assertError<T>(_ kind: String, mentions fragments: [String], _ body: () throws -> T,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? SafeTensorsError else {
                return XCTFail("not a SafeTensorsError: \(error)", file: file, line: line)
            }
            let message = error.description
            XCTAssertEqual(Mirror(reflecting: error).children.first?.label, kind, message, file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' does not mention '\(fragment)'",
                              file: file, line: line)
            }
        }
    }

    // MARK: Round trip and layout

    func testRoundTripIsBitIdentical() throws {
        let file = try SafeTensorsFile(contentsOf: try writeSample())
        XCTAssertEqual(file.metadata, sampleMetadata)
        XCTAssertEqual(file.names, ["bn.bias", "empty", "labels", "scalar", "weights"])
        for (name, tensor) in sampleTensors {
            let read = try file.tensor(named: name)
            XCTAssertEqual(read.shape, tensor.shape, name)
            XCTAssertEqual(bits(read.data), bits(tensor.data), name)
            XCTAssertEqual(try file.entry(named: name).dtype, "F32")
        }
        let labels = try file.int64s(named: "labels")
        XCTAssertEqual(labels.shape, [2, 3])
        XCTAssertEqual(labels.values, sampleInt64s["labels"]!.1)
        XCTAssertEqual(try file.entry(named: "labels").dtype, "I64")
    }

    func testLayoutIsAlignedPaddedAndDeterministic() throws {
        let url = try writeSample()
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(headerLength % 8, 0)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{"))
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces).last, "}")
        // I64 first (8-byte aligned), then F32 sorted by name, back to back.
        let file = try SafeTensorsFile(contentsOf: url)
        let order = file.names.sorted { file.entries[$0]!.dataOffsets.lowerBound < file.entries[$1]!.dataOffsets.lowerBound }
        XCTAssertEqual(order.filter { $0 != "empty" }, ["labels", "bn.bias", "scalar", "weights"])
        XCTAssertEqual(try file.entry(named: "labels").dataOffsets, 0..<48)
        XCTAssertEqual(bytes.count, 8 + headerLength + 48 + 4 * (5 + 1 + 12))
        XCTAssertEqual(try Data(contentsOf: try writeSample("again.safetensors")), bytes)
    }

    func testReadsF64F16AndBF16AsFloat() throws {
        var data = [UInt8]()
        for d in [1.0 / 3, -2.5, 1e300] { withUnsafeBytes(of: d.bitPattern.littleEndian) { data += $0 } }
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x7C00, 0x7E00]
        let bfloats: [UInt16] = [0x3F80, 0xC0A0, 0xFF80]
        for h in halves + bfloats { withUnsafeBytes(of: h.littleEndian) { data += $0 } }
        let url = try rawFile("mixed.safetensors", header: [
            "d": entry("F64", [3], 0, 24), "h": entry("F16", [7], 24, 38), "b": entry("BF16", [3], 38, 44),
        ], data: data)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, [:])
        XCTAssertEqual(try file.tensor(named: "d").data, [Float(1.0 / 3), -2.5, .infinity])
        let h = try file.tensor(named: "h").data
        XCTAssertEqual(Array(h.prefix(6)), [1, -2, 65504, 0x1p-24, -0x1p-14, .infinity])
        XCTAssertTrue(h[6].isNaN)
        XCTAssertEqual(try file.tensor(named: "b").data, [1, -5, -.infinity])
    }

    // MARK: Atomic writes

    func testAtomicWriteLeavesNoTemporaryFiles() throws {
        let url = try writeSample()
        try SafeTensors.write(tensors: ["x": Tensor(scalar: 1)], metadata: [:], to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sample.safetensors"])
        XCTAssertEqual(try SafeTensorsFile(contentsOf: url).names, ["x"])

        let missing = directory.appendingPathComponent("no/such/dir/out.safetensors")
        assertError("io", mentions: [missing.path]) {
            try SafeTensors.write(tensors: ["x": Tensor(scalar: 1)], metadata: [:], to: missing)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sample.safetensors"])
    }

    func testWriterRejectsInvalidTensorsAndKeepsTheOldFile() throws {
        let url = try writeSample()
        let before = try Data(contentsOf: url)
        assertError("invalidTensor", mentions: [url.lastPathComponent, "'labels'", "[4]"]) {
            try SafeTensors.write(tensors: [:], int64s: ["labels": ([4], [1, 2])], metadata: [:], to: url)
        }
        assertError("invalidTensor", mentions: [url.lastPathComponent, "'both'"]) {
            try SafeTensors.write(tensors: ["both": Tensor(scalar: 0)], int64s: ["both": ([1], [0])],
                                  metadata: [:], to: url)
        }
        assertError("invalidTensor", mentions: [url.lastPathComponent, "'__metadata__'"]) {
            try SafeTensors.write(tensors: ["__metadata__": Tensor(scalar: 0)], metadata: [:], to: url)
        }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["sample.safetensors"])
    }

    // MARK: Errors

    func testTruncatedFiles() throws {
        let url = try writeSample()
        let bytes = try Data(contentsOf: url)
        let name = url.lastPathComponent

        try bytes.prefix(5).write(to: url)
        assertError("truncated", mentions: [name, "5 bytes"]) { try SafeTensorsFile(contentsOf: url) }

        try bytes.prefix(40).write(to: url)
        assertError("truncated", mentions: [name, "header length"]) { try SafeTensorsFile(contentsOf: url) }

        try bytes.dropLast(4).write(to: url)  // cuts into the last tensor, "weights"
        assertError("truncated", mentions: [name, "'weights'"]) { try SafeTensorsFile(contentsOf: url) }

        assertError("io", mentions: ["absent.safetensors"]) {
            try SafeTensorsFile(contentsOf: directory.appendingPathComponent("absent.safetensors"))
        }
    }

    func testMalformedHeaders() throws {
        let url = try writeSample()
        var bytes = try Data(contentsOf: url)
        bytes[8] = UInt8(ascii: "x")  // the header's opening brace
        try bytes.write(to: url)
        assertError("malformedHeader", mentions: [url.lastPathComponent, "JSON"]) { try SafeTensorsFile(contentsOf: url) }

        let array = try rawFile("array.safetensors", headerText: "[1, 2]", data: [])
        assertError("malformedHeader", mentions: ["array.safetensors", "object"]) { try SafeTensorsFile(contentsOf: array) }

        let badShape = try rawFile("shape.safetensors",
                                   header: ["w": ["dtype": "F32", "shape": "2x2", "data_offsets": [0, 16]]],
                                   data: .init(repeating: 0, count: 16))
        assertError("malformedHeader", mentions: ["shape.safetensors", "'w'"]) { try SafeTensorsFile(contentsOf: badShape) }

        let unknown = try rawFile("unknown.safetensors", header: ["w": entry("F128", [1], 0, 16)],
                                  data: .init(repeating: 0, count: 16))
        assertError("malformedHeader", mentions: ["unknown.safetensors", "'w'", "F128"]) {
            try SafeTensorsFile(contentsOf: unknown)
        }

        let metadata = try rawFile("metadata.safetensors", header: ["__metadata__": ["epoch": 3]], data: [])
        assertError("malformedHeader", mentions: ["metadata.safetensors", "epoch"]) {
            try SafeTensorsFile(contentsOf: metadata)
        }

        // Trailing spaces (the official writer's padding) and no tensors at all are fine.
        let padded = try rawFile("padded.safetensors", headerText: "{\"__metadata__\": {\"k\": \"v\"}}   ", data: [])
        XCTAssertEqual(try SafeTensorsFile(contentsOf: padded).metadata, ["k": "v"])
    }

    func testBadOffsets() throws {
        let zeros = [UInt8](repeating: 0, count: 16)
        let cases: [(String, [String: Any], String, String)] = [
            ("gap", ["a": entry("F32", [1], 0, 4), "b": entry("F32", [2], 8, 16)], "'b'", "gap"),
            ("overlap", ["a": entry("F32", [2], 0, 8), "b": entry("F32", [3], 4, 16)], "'b'", "overlaps"),
            ("reversed", ["a": entry("F32", [0], 16, 12)], "'a'", "begin ≤ end"),
            ("negative", ["a": entry("F32", [1], -4, 0)], "'a'", "begin ≤ end"),
            ("trailing", ["a": entry("F32", [2], 0, 8)], "last tensor", "8 bytes after"),
        ]
        for (name, header, tensor, reason) in cases {
            let url = try rawFile("\(name).safetensors", header: header, data: zeros)
            assertError("malformedHeader", mentions: ["\(name).safetensors", tensor, reason]) {
                try SafeTensorsFile(contentsOf: url)
            }
        }
        let beyond = try rawFile("beyond.safetensors", header: ["a": entry("F32", [8], 0, 32)], data: zeros)
        assertError("truncated", mentions: ["beyond.safetensors", "'a'", "[0, 32]"]) {
            try SafeTensorsFile(contentsOf: beyond)
        }
    }

    func testShapeNotMatchingByteRange() throws {
        let url = try rawFile("size.safetensors", header: ["w": entry("F32", [2, 3], 0, 16)],
                              data: .init(repeating: 0, count: 16))
        assertError("sizeMismatch", mentions: ["size.safetensors", "'w'", "[2, 3]", "16 bytes"]) {
            try SafeTensorsFile(contentsOf: url)
        }
        let labels = try rawFile("labels.safetensors", header: ["labels": entry("I64", [3], 0, 16)],
                                 data: .init(repeating: 0, count: 16))
        assertError("sizeMismatch", mentions: ["labels.safetensors", "'labels'", "I64"]) {
            try SafeTensorsFile(contentsOf: labels)
        }
    }

    func testMissingTensorWrongDTypeAndShape() throws {
        let url = try writeSample()
        let file = try SafeTensorsFile(contentsOf: url)
        let name = url.lastPathComponent
        assertError("missingTensor", mentions: [name, "'expected.logits'"]) { try file.tensor(named: "expected.logits") }
        assertError("missingTensor", mentions: [name, "'targets'"]) { try file.int64s(named: "targets") }
        assertError("wrongDType", mentions: [name, "'labels'", "I64", "F32"]) { try file.tensor(named: "labels") }
        assertError("wrongDType", mentions: [name, "'weights'", "F32", "I64"]) { try file.int64s(named: "weights") }
        assertError("shapeMismatch", mentions: [name, "'weights'", "[4, 3]", "[3, 4]"]) {
            try file.tensor(named: "weights", expectedShape: [4, 3])
        }
        XCTAssertEqual(try file.tensor(named: "weights", expectedShape: [3, 4]).shape, [3, 4])

        let bytes = try rawFile("bytes.safetensors", header: ["mask": entry("U8", [4], 0, 4)], data: [1, 0, 1, 1])
        assertError("wrongDType", mentions: ["bytes.safetensors", "'mask'", "U8"]) {
            try SafeTensorsFile(contentsOf: bytes).tensor(named: "mask")
        }
    }

    // MARK: Reference fixtures

    func testReadsEveryReferenceFixture() throws {
        // The committed fixtures (reference/fixtures), and $ATX_REFERENCE_DIR when it is set.
        let committed = TestPython.repository.appendingPathComponent("reference/fixtures").path
        var folders = [committed]
        if let extra = ProcessInfo.processInfo.environment["ATX_REFERENCE_DIR"] {
            if FileManager.default.fileExists(atPath: extra) { folders.append(extra) }
            else { print("SafeTensorsTests: ATX_REFERENCE_DIR=\(extra) does not exist; reading the committed fixtures only") }
        }
        for path in folders {
            let names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".safetensors") }.sorted()
            XCTAssertFalse(names.isEmpty, "no *.safetensors in \(path)")
            for name in names {
                let start = Date()
                let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path).appendingPathComponent(name))
                let input = try file.tensor(named: "input")
                XCTAssertEqual(input.rank, 4, name)
                let labels = try file.int64s(named: "labels")
                XCTAssertEqual(labels.values.count, input.shape[0], name)
                XCTAssertEqual(try file.tensor(named: "expected.logits").shape.first, input.shape[0], name)
                XCTAssertNotNil(file.metadata["student"], name)
                XCTAssertNotNil(file.metadata["method"], name)
                var floats = 0
                for tensorName in file.names where tensorName != "labels" {
                    // The ResNet case's sampled gradients store their element indices as I64.
                    if tensorName.hasSuffix(".index") { XCTAssertFalse(try file.int64s(named: tensorName).values.isEmpty); continue }
                    floats += try file.tensor(named: tensorName).count
                }
                print(String(format: "SafeTensorsTests: %@: %d tensors, %d floats, read in %.3f s", name,
                             file.names.count, floats, Date().timeIntervalSince(start)))
            }
        }
    }

    // MARK: Python interop

    private func python(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        try TestPython.resolved.run(script: script, arguments)
    }

    private func requirePythonSafeTensors() throws {
        _ = try TestPython.require(["safetensors", "numpy"], by: "SafeTensorsTests")
    }

    func testPythonReadsWhatSwiftWrites() throws {
        try requirePythonSafeTensors()
        let url = try writeSample()
        // Python reports every tensor's dtype, shape and raw bits; Swift compares them.
        let (status, output) = try python("""
            import json, sys
            import numpy as np
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], "np") as f:
                metadata = f.metadata()
            report = {name: {"dtype": str(a.dtype), "shape": list(a.shape),
                             "bits": a.view(np.uint32 if a.dtype == np.float32 else np.int64).ravel().tolist()}
                      for name, a in tensors.items()}
            print(json.dumps({"metadata": metadata, "tensors": report}))
            """, [url.path])
        XCTAssertEqual(status, 0, output)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertEqual(report["metadata"] as? [String: String], sampleMetadata)
        let tensors = try XCTUnwrap(report["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(Set(tensors.keys), Set(sampleTensors.keys).union(["labels"]))
        for (name, tensor) in sampleTensors {
            XCTAssertEqual(tensors[name]?["dtype"] as? String, "float32", name)
            XCTAssertEqual(tensors[name]?["shape"] as? [Int], tensor.shape, name)
            XCTAssertEqual((tensors[name]?["bits"] as? [Int])?.map(UInt32.init), bits(tensor.data), name)
        }
        XCTAssertEqual(tensors["labels"]?["dtype"] as? String, "int64")
        XCTAssertEqual(tensors["labels"]?["shape"] as? [Int], [2, 3])
        XCTAssertEqual(tensors["labels"]?["bits"] as? [Int], sampleInt64s["labels"]!.1)
    }

    func testSwiftReadsWhatPythonWrites() throws {
        try requirePythonSafeTensors()
        let url = directory.appendingPathComponent("python.safetensors")
        let (status, output) = try python("""
            import sys
            import numpy as np
            from safetensors.numpy import save_file
            save_file({
                "input": (np.arange(24, dtype=np.float32) / 8 - 1).reshape(2, 3, 2, 2),
                "labels": np.array([7, 0], dtype=np.int64),
                "double": np.array([[1 / 3, -2.5]], dtype=np.float64),
                "half": np.array([1, -2, 65504, 0.1], dtype=np.float16),
                "scalar": np.array(3.25, dtype=np.float32),
            }, sys.argv[1], metadata={"student": "wrn-16-1", "method": "at"})
            """, [url.path])
        XCTAssertEqual(status, 0, output)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, ["student": "wrn-16-1", "method": "at"])
        XCTAssertEqual(file.names, ["double", "half", "input", "labels", "scalar"])
        XCTAssertEqual(try file.tensor(named: "input", expectedShape: [2, 3, 2, 2]).data, (0..<24).map { Float($0) / 8 - 1 })
        XCTAssertEqual(try file.int64s(named: "labels").values, [7, 0])
        XCTAssertEqual(try file.tensor(named: "double", expectedShape: [1, 2]).data, [Float(1.0 / 3), -2.5])
        XCTAssertEqual(try file.tensor(named: "half").data, [1, -2, 65504, 0.0999755859375])
        XCTAssertEqual(try file.tensor(named: "scalar", expectedShape: []).data, [3.25])
    }
}
