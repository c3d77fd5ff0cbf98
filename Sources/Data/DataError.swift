// Errors for bad or missing data: each message names the file (or dataset) and what is wrong.

/// Why a dataset could not be opened or read.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist.
    case missingFile(path: String)
    /// The file exists but could not be opened or decompressed.
    case unreadable(path: String, reason: String)
    /// The gzip stream ends before its end marker.
    case truncated(path: String, reason: String)
    /// An IDX file starts with the wrong magic number.
    case badMagic(path: String, found: UInt32, expected: UInt32)
    /// A file of fixed-size records whose size is not a positive whole number of records.
    case notWholeRecords(path: String, size: Int, recordSize: Int)
    /// A header or payload that does not have the expected layout.
    case malformed(path: String, reason: String)
    /// A label byte outside `0..<numClasses`; `index` is the record's position in the file.
    case labelOutOfRange(path: String, index: Int, label: Int, numClasses: Int)
    /// An images file and its labels file hold different numbers of items.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A JPEG dataset asked for in memory (only the 32×32 datasets are), or the reverse.
    case notInMemory(name: String)
    case notJPEG(name: String)
    /// A stratified subset that cannot be drawn.
    case badSubset(dataset: String, requested: Int, reason: String)
    /// An image file that libjpeg cannot decode (corrupt, truncated, or not a JPEG).
    case corruptImage(path: String, reason: String)
    /// Line `line` (1-based) of a list file is malformed or names something out of range.
    case badLine(path: String, line: Int, reason: String)
    /// Line `line` of the list `path` names an image file that does not exist.
    case listedFileMissing(path: String, line: Int, file: String)
    /// A dataset folder that is not there; `help` says what to download and where to put it.
    case missingDataset(name: String, directory: String, help: String)

    public var description: String {
        switch self {
        case let .missingFile(path):
            return "\(path): file not found"
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .truncated(path, reason):
            return "\(path): truncated gzip stream (\(reason))"
        case let .badMagic(path, found, expected):
            return "\(path): wrong IDX magic number 0x\(hex(found)), expected 0x\(hex(expected))"
        case let .notWholeRecords(path, size, recordSize):
            return "\(path): size \(size) bytes is not a positive whole number of \(recordSize)-byte records"
        case let .malformed(path, reason):
            return "\(path): \(reason)"
        case let .labelOutOfRange(path, index, label, numClasses):
            return "\(path): label \(label) of record \(index) is outside 0..<\(numClasses)"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels"
        case let .notInMemory(name):
            return "\(name) is read from JPEG files batch by batch, not held in memory as 32×32 images"
        case let .notJPEG(name):
            return "\(name) is held in memory as 32×32 images, not read from JPEG files"
        case let .badSubset(dataset, requested, reason):
            return "\(dataset): cannot take a stratified subset of \(requested): \(reason)"
        case let .corruptImage(path, reason):
            return "\(path): cannot decode the JPEG: \(reason)"
        case let .badLine(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .listedFileMissing(path, line, file):
            return "\(path):\(line): names \(file), which does not exist"
        case let .missingDataset(name, directory, help):
            return "\(name) not found at \(directory): \(help)"
        }
    }
}

private func hex(_ x: UInt32) -> String {
    let digits = String(x, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}
