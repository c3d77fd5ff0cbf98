// Readers for the CIFAR-10 binary batches and the gzip-compressed Fashion-MNIST IDX files.
import CZlib
import Foundation
import Tensor

/// Which half of a dataset.
public enum Split: String, Sendable {
    case train, test
}

/// CIFAR-10, binary version: records of 1 label byte + 3072 image bytes (R, G, B planes of 32×32).
public enum CIFAR10 {
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"]
    /// The official code's constants (paper §6).
    public static let normalization = Normalization(mean255: [125.3, 123.0, 113.9], std255: [63.0, 62.1, 66.7])
    /// Where the files are looked for when `$CIFAR10_DIR` is unset (relative to the current directory).
    public static let defaultDirectory = "data/cifar-10-batches-bin"
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    static let recordSize = 1 + 3 * 32 * 32

    /// Reads one split from `directory`: 50 000 train or 10 000 test images, [N, 3, 32, 32].
    public static func load(directory: String, split: Split) throws -> ImageDataset {
        let paths = (split == .train ? trainFiles : testFiles).map { (directory as NSString).appendingPathComponent($0) }
        var images: [UInt8] = [], labels: [UInt8] = []
        for path in paths {
            let bytes = try readFile(path)
            guard !bytes.isEmpty, bytes.count % recordSize == 0 else {
                throw DataError.notWholeRecords(path: path, size: bytes.count, recordSize: recordSize)
            }
            let records = bytes.count / recordSize
            images.reserveCapacity(images.count + records * (recordSize - 1))
            for r in 0..<records {
                let label = bytes[r * recordSize]
                guard label < 10 else {
                    throw DataError.labelOutOfRange(path: path, index: r, label: Int(label), numClasses: 10)
                }
                labels.append(label)
                images += bytes[r * recordSize + 1..<(r + 1) * recordSize]
            }
        }
        return ImageDataset(name: "cifar10 \(split)", images: images, labels: labels, channels: 3,
                            numClasses: 10, classNames: classNames, normalization: normalization)
    }
}

/// Fashion-MNIST: IDX files of 28×28 grey images, zero-padded here to 32×32 (2 pixels each
/// side) so the CIFAR architectures apply unchanged; one channel.
public enum FashionMNIST {
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// Mean and population std of pixel/255 over the 60 000 training images *as the network
    /// sees them*, i.e. zero-padded to 32×32 (the raw 28×28 figures are 0.2860 and 0.3530).
    /// Computed once with `pixelStatistics()`; `DataTests` recomputes and checks them.
    public static let normalization = Normalization(mean: [0.21900], std: [0.33181])
    /// Debian's `dataset-fashion-mnist`; `$FASHION_MNIST_DIR` overrides it.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The images and labels file of a split.
    public static func files(_ split: Split) -> (images: String, labels: String) {
        let prefix = split == .train ? "train" : "t10k"
        return ("\(prefix)-images-idx3-ubyte.gz", "\(prefix)-labels-idx1-ubyte.gz")
    }

    /// Reads one split from `directory`: 60 000 train or 10 000 test images, [N, 1, 32, 32].
    public static func load(directory: String, split: Split) throws -> ImageDataset {
        let names = files(split)
        let imagesPath = (directory as NSString).appendingPathComponent(names.images)
        let labelsPath = (directory as NSString).appendingPathComponent(names.labels)
        let raw = try readFile(imagesPath)
        let dims = try idxDimensions(raw, path: imagesPath, rank: 3)
        guard dims[1] == 28, dims[2] == 28 else {
            throw DataError.malformed(path: imagesPath, reason: "images are \(dims[1])×\(dims[2]), expected 28×28")
        }
        let labelBytes = try readFile(labelsPath)
        let labelCount = try idxDimensions(labelBytes, path: labelsPath, rank: 1)[0]
        guard labelCount == dims[0] else {
            throw DataError.countMismatch(imagesPath: imagesPath, images: dims[0], labelsPath: labelsPath, labels: labelCount)
        }
        let labels = Array(labelBytes[8...])
        if let bad = labels.firstIndex(where: { $0 >= 10 }) {
            throw DataError.labelOutOfRange(path: labelsPath, index: bad, label: Int(labels[bad]), numClasses: 10)
        }
        return ImageDataset(name: "fashion-mnist \(split)", images: padTo32(raw, count: dims[0], headerSize: 16),
                            labels: labels, channels: 1, numClasses: 10, classNames: classNames,
                            normalization: normalization)
    }
}

/// The dimensions of an IDX file of unsigned bytes with `rank` dimensions (magic 0x0000_08RR,
/// then one big-endian UInt32 per dimension), checking that the payload has exactly that size.
func idxDimensions(_ bytes: [UInt8], path: String, rank: Int) throws -> [Int] {
    let header = 4 * (rank + 1)
    guard bytes.count >= header else {
        throw DataError.malformed(path: path, reason: "\(bytes.count) bytes, too short for a \(header)-byte IDX header")
    }
    func word(_ i: Int) -> UInt32 { bytes[4 * i..<4 * i + 4].reduce(0) { $0 << 8 | UInt32($1) } }
    let magic = UInt32(0x0800 + rank)
    guard word(0) == magic else { throw DataError.badMagic(path: path, found: word(0), expected: magic) }
    let dims = (1...rank).map { Int(word($0)) }
    guard bytes.count - header == dims.product else {
        throw DataError.malformed(path: path, reason: "header promises \(dims.map(String.init).joined(separator: "×")) = "
                                  + "\(dims.product) bytes of data, the file holds \(bytes.count - header)")
    }
    return dims
}

/// 28×28 images after a `headerSize`-byte header, zero-padded by 2 on each side: [count, 1, 32, 32].
func padTo32(_ raw: [UInt8], count: Int, headerSize: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count * 32 * 32)
    raw.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for n in 0..<count {
                for r in 0..<28 {
                    (dst.baseAddress! + n * 1024 + (r + 2) * 32 + 2)
                        .update(from: src.baseAddress! + headerSize + n * 784 + r * 28, count: 28)
                }
            }
        }
    }
    return out
}

/// The whole content of `path`, decompressed if it is gzip (zlib passes other files through as they are).
func readFile(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError.missingFile(path: path)
    }
    guard !isDirectory.boolValue else { throw DataError.unreadable(path: path, reason: "it is a directory") }
    guard let file = gzopen(path, "rb") else {
        throw DataError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    defer { gzclose(file) }
    gzbuffer(file, 1 << 18)
    let chunk = 1 << 22
    var bytes: [UInt8] = []
    while true {
        let piece = [UInt8](unsafeUninitializedCapacity: chunk) { buffer, count in
            count = max(Int(gzread(file, buffer.baseAddress, UInt32(chunk))), 0)
        }
        bytes += piece
        if piece.count < chunk { break }
    }
    var code: Int32 = 0
    let message = String(cString: gzerror(file, &code))
    if code == Z_BUF_ERROR { throw DataError.truncated(path: path, reason: message) }
    if code != Z_OK { throw DataError.unreadable(path: path, reason: code == Z_ERRNO ? String(cString: strerror(errno)) : message) }
    return bytes
}
