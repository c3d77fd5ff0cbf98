// safetensors checkpoints: an 8-byte little-endian header length N, N bytes of JSON header
// (tensor name → dtype, shape, data_offsets; optional "__metadata__" of string pairs), then
// the raw little-endian tensor bytes. Offsets are relative to the first byte after the header.
import Foundation
import Tensor

// Tensor bytes are copied straight into Swift arrays, and I64 values into `Int`.
#if !_endian(little) || !_pointerBitWidth(_64)
#error("SafeTensors assumes a little-endian host with 64-bit Int")
#endif

/// A failure to read or write a safetensors file; the message names the file and, where one
/// is involved, the tensor.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file system refused to read or write the file.
    case io(file: String, reason: String)
    /// The file ends before its header or before the data of `tensor`.
    case truncated(file: String, tensor: String?, reason: String)
    /// The header is not valid safetensors JSON; `tensor` is the offending entry when known.
    case malformedHeader(file: String, tensor: String?, reason: String)
    /// No tensor of that name is in the file.
    case missingTensor(file: String, tensor: String)
    /// The tensor's element type is not one the accessor can return.
    case wrongDType(file: String, tensor: String, found: String, expected: [String])
    /// The tensor's shape and dtype call for a different number of bytes than it occupies.
    case sizeMismatch(file: String, tensor: String, dtype: String, shape: [Int], byteCount: Int)
    /// The tensor does not have the shape the caller requires.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    /// A tensor handed to the writer cannot be stored.
    case invalidTensor(file: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .io(file, reason):
            return "\(file): \(reason)"
        case let .truncated(file, tensor, reason):
            return "\(file): truncated\(tensor.map { " at tensor '\($0)'" } ?? ""): \(reason)"
        case let .malformedHeader(file, tensor, reason):
            return "\(file): malformed header\(tensor.map { " at tensor '\($0)'" } ?? ""): \(reason)"
        case let .missingTensor(file, tensor):
            return "\(file): no tensor '\(tensor)'"
        case let .wrongDType(file, tensor, found, expected):
            return "\(file): tensor '\(tensor)' has dtype \(found), expected "
                + expected.joined(separator: " or ")
        case let .sizeMismatch(file, tensor, dtype, shape, byteCount):
            return "\(file): tensor '\(tensor)' of dtype \(dtype) and shape \(shape) "
                + "does not fit its \(byteCount) bytes"
        case let .shapeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .invalidTensor(file, tensor, reason):
            return "\(file): cannot write tensor '\(tensor)': \(reason)"
        }
    }
}

/// Bytes per element of the dtypes the safetensors format defines.
private let elementSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
]

/// The byte size of `count(shape)` elements of `size` bytes, or nil on overflow.
private func byteCount(shape: [Int], elementSize size: Int) -> Int? {
    var total = size
    for extent in shape {
        let (product, overflow) = total.multipliedReportingOverflow(by: extent)
        if overflow { return nil }
        total = product
    }
    return total
}

/// A safetensors file read into memory, its header validated.
public struct SafeTensorsFile: Sendable {
    /// The dtype and shape of one stored tensor.
    public struct Entry: Sendable, Equatable {
        /// The safetensors dtype name: "F32", "I64", "F16", …
        public let dtype: String
        public let shape: [Int]
        /// Where the tensor's bytes lie, relative to the start of the data section.
        public let dataOffsets: Range<Int>
    }

    /// The file this was read from.
    public let url: URL
    /// The header's `__metadata__` string pairs (empty when absent).
    public let metadata: [String: String]
    /// Every tensor in the file, by name.
    public let entries: [String: Entry]
    private let bytes: Data
    private let dataStart: Int

    /// The tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// SHA-256 of the file's bytes as read (64 lowercase hex digits): its content identity.
    public var sha256: String { ContentHash.sha256(bytes) }

    /// Reads `url` and checks its header: valid JSON, known dtypes, each tensor's byte range
    /// matching its shape, and the ranges tiling the data section without gaps or overlaps.
    public init(contentsOf url: URL) throws {
        let file = url.path
        do { bytes = try Data(contentsOf: url) } catch {
            throw SafeTensorsError.io(file: file, reason: "cannot read: \(error.localizedDescription)")
        }
        guard bytes.count >= 8 else {
            throw SafeTensorsError.truncated(file: file, tensor: nil,
                reason: "\(bytes.count) bytes, too short for the 8-byte header length")
        }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw SafeTensorsError.truncated(file: file, tensor: nil,
                reason: "header length \(headerLength) exceeds the \(bytes.count - 8) bytes that follow it")
        }
        self.url = url
        dataStart = 8 + Int(headerLength)
        let header: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: bytes[8..<dataStart]) as? [String: Any] else {
                throw SafeTensorsError.malformedHeader(file: file, tensor: nil, reason: "not a JSON object")
            }
            header = object
        } catch let error as SafeTensorsError { throw error } catch {
            throw SafeTensorsError.malformedHeader(file: file, tensor: nil,
                                                   reason: "invalid JSON: \(error.localizedDescription)")
        }

        var metadata: [String: String] = [:]
        if let object = header["__metadata__"] {
            guard let pairs = object as? [String: Any] else {
                throw SafeTensorsError.malformedHeader(file: file, tensor: nil, reason: "__metadata__ is not an object")
            }
            for (key, value) in pairs {
                guard let string = value as? String else {
                    throw SafeTensorsError.malformedHeader(file: file, tensor: nil,
                                                           reason: "__metadata__ value of '\(key)' is not a string")
                }
                metadata[key] = string
            }
        }
        self.metadata = metadata

        let dataSize = bytes.count - dataStart
        var entries: [String: Entry] = [:]
        for (name, object) in header where name != "__metadata__" {
            func malformed(_ reason: String) -> SafeTensorsError {
                .malformedHeader(file: file, tensor: name, reason: reason)
            }
            guard let fields = object as? [String: Any], let dtype = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int]
            else { throw malformed("needs a string dtype and integer arrays shape and data_offsets") }
            guard let size = elementSizes[dtype] else { throw malformed("unknown dtype \(dtype)") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw malformed("negative extent in shape \(shape)") }
            guard offsets.count == 2, 0 <= offsets[0], offsets[0] <= offsets[1] else {
                throw malformed("data_offsets \(offsets) is not a [begin, end] pair with 0 ≤ begin ≤ end")
            }
            guard offsets[1] <= dataSize else {
                throw SafeTensorsError.truncated(file: file, tensor: name,
                    reason: "data_offsets \(offsets) run past the \(dataSize) data bytes in the file")
            }
            let range = offsets[0]..<offsets[1]
            guard byteCount(shape: shape, elementSize: size) == range.count else {
                throw SafeTensorsError.sizeMismatch(file: file, tensor: name, dtype: dtype,
                                                    shape: shape, byteCount: range.count)
            }
            entries[name] = Entry(dtype: dtype, shape: shape, dataOffsets: range)
        }

        var end = 0
        let ordered = entries.sorted { a, b in
            (a.value.dataOffsets.lowerBound, a.value.dataOffsets.upperBound)
                < (b.value.dataOffsets.lowerBound, b.value.dataOffsets.upperBound)
        }
        for (name, entry) in ordered {
            let begin = entry.dataOffsets.lowerBound
            guard begin == end else {
                throw SafeTensorsError.malformedHeader(file: file, tensor: name,
                    reason: begin < end ? "data at \(begin) overlaps the previous tensor, which ends at \(end)"
                                        : "gap of \(begin - end) bytes before its data at \(begin)")
            }
            end = entry.dataOffsets.upperBound
        }
        guard end == dataSize else {
            throw SafeTensorsError.malformedHeader(file: file, tensor: nil,
                reason: "\(dataSize - end) bytes after the last tensor's data")
        }
        self.entries = entries
    }

    /// The named tensor's dtype and shape.
    public func entry(named name: String) throws -> Entry {
        guard let entry = entries[name] else {
            throw SafeTensorsError.missingTensor(file: url.path, tensor: name)
        }
        return entry
    }

    /// The named tensor as Float32; F64, F16 and BF16 data are converted (F64 rounds to nearest).
    public func tensor(named name: String) throws -> Tensor {
        let entry = try entry(named: name)
        let data: [Float]
        switch entry.dtype {
        case "F32": data = elements(entry, as: Float.self)
        case "F64": data = elements(entry, as: Double.self).map(Float.init)
        case "F16": data = elements(entry, as: UInt16.self).map(floatFromHalf)
        case "BF16": data = elements(entry, as: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
        default:
            throw SafeTensorsError.wrongDType(file: url.path, tensor: name, found: entry.dtype,
                                              expected: ["F32", "F64", "F16", "BF16"])
        }
        return Tensor(shape: entry.shape, data: data)
    }

    /// The named tensor as Float32, which must have shape `expectedShape`.
    public func tensor(named name: String, expectedShape: [Int]) throws -> Tensor {
        let found = try entry(named: name).shape
        guard found == expectedShape else {
            throw SafeTensorsError.shapeMismatch(file: url.path, tensor: name, expected: expectedShape, found: found)
        }
        return try tensor(named: name)
    }

    /// The named I64 tensor (labels, counters) with its shape.
    public func int64s(named name: String) throws -> (shape: [Int], values: [Int]) {
        let entry = try entry(named: name)
        guard entry.dtype == "I64" else {
            throw SafeTensorsError.wrongDType(file: url.path, tensor: name, found: entry.dtype, expected: ["I64"])
        }
        return (entry.shape, elements(entry, as: Int.self))
    }

    /// Copies the entry's bytes into an array of `T` (the validated range holds whole elements).
    private func elements<T: BitwiseCopyable>(_ entry: Entry, as _: T.Type) -> [T] {
        let range = (dataStart + entry.dataOffsets.lowerBound)..<(dataStart + entry.dataOffsets.upperBound)
        let count = range.count / MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[range])) }
            initialized = count
        }
    }
}

/// IEEE 754 binary16 bits to Float (exact; `Float16` is unavailable on Intel macOS).
private func floatFromHalf(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 == 0 ? 1 : -1
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0: return sign * Float(mantissa) * 0x1p-24
    case 0x1F: return Float(bitPattern: UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | mantissa << 13)
    default: return Float(bitPattern: UInt32(bits & 0x8000) << 16 | (exponent + 112) << 23 | mantissa << 13)
    }
}

/// Writing safetensors checkpoints.
public enum SafeTensors {
    /// Writes `tensors` as F32 and `int64s` (shape, values) as I64 with `metadata` to `url`,
    /// replacing any file there atomically: the bytes go to a temporary file in the same
    /// directory, are flushed to disk, and the temporary file is renamed over `url`.
    ///
    /// The layout is deterministic: I64 tensors first, then F32 (largest alignment first, as
    /// the official writer orders them), each group sorted by name; the header's keys are
    /// sorted and it is padded with spaces so the data section starts at a multiple of 8.
    public static func write(tensors: [String: Tensor], int64s: [String: ([Int], [Int])] = [:],
                             metadata: [String: String], to url: URL) throws {
        let file = url.path
        for (name, (shape, values)) in int64s {
            guard shape.allSatisfy({ $0 >= 0 }), shape.product == values.count else {
                throw SafeTensorsError.invalidTensor(file: file, tensor: name,
                    reason: "shape \(shape) does not hold \(values.count) values")
            }
        }
        for name in Array(tensors.keys) + Array(int64s.keys) {
            guard !name.isEmpty, name != "__metadata__" else {
                throw SafeTensorsError.invalidTensor(file: file, tensor: name, reason: "reserved or empty name")
            }
            guard tensors[name] == nil || int64s[name] == nil else {
                throw SafeTensorsError.invalidTensor(file: file, tensor: name, reason: "given both as F32 and as I64")
            }
        }

        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var offset = 0
        func place(_ name: String, dtype: String, shape: [Int], byteCount: Int) {
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + byteCount]]
            offset += byteCount
        }
        let int64Items = int64s.sorted { $0.key < $1.key }, floatItems = tensors.sorted { $0.key < $1.key }
        for (name, (shape, values)) in int64Items { place(name, dtype: "I64", shape: shape, byteCount: 8 * values.count) }
        for (name, tensor) in floatItems { place(name, dtype: "F32", shape: tensor.shape, byteCount: 4 * tensor.count) }

        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, (_, values)) in int64Items { values.withUnsafeBytes { out.append(contentsOf: $0) } }
        for (_, tensor) in floatItems { tensor.data.withUnsafeBytes { out.append(contentsOf: $0) } }

        try writeAtomically(out, to: url)
    }

    /// Writes `data` to a temporary file beside `url`, syncs it, and renames it to `url`.
    private static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw SafeTensorsError.io(file: url.path, reason: "cannot create \(temporary.path)")
            }
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
            guard rename(temporary.path, url.path) == 0 else {
                throw SafeTensorsError.io(file: url.path, reason: "cannot rename \(temporary.path) into place: "
                                                                  + String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? SafeTensorsError { throw error }
            throw SafeTensorsError.io(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
