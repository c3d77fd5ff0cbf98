// Images held compactly as bytes; decoded to normalised Float tensors only per batch.
import Tensor


/// Per-channel mean and standard deviation of pixel/255; a network sees (pixel/255 − mean) / std.
public struct Normalization: Sendable, Equatable {
    /// mean: [C]
    public var mean: [Float]
    /// std: [C]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && !mean.isEmpty && std.allSatisfy { $0 > 0 },
                     "Normalization: need one mean and one positive std per channel, got \(mean) and \(std)")
        self.mean = mean
        self.std = std
    }

    /// Constants written on the 0…255 scale, as the paper gives them (`mean/255`, `std/255`).
    public init(mean255: [Double], std255: [Double]) {
        self.init(mean: mean255.map { Float($0 / 255) }, std: std255.map { Float($0 / 255) })
    }

    /// The normalised value of every byte, channel by channel: [C, 256].
    func lookupTable() -> [Float] {
        mean.indices.flatMap { c in
            (0..<256).map { v in Float((Double(v) / 255 - Double(mean[c])) / Double(std[c])) }
        }
    }
}

/// One split of a dataset: images as bytes, labels as bytes.
public struct ImageDataset: Sendable {
    /// Side of every stored image: the in-memory datasets are 32×32 (Fashion-MNIST is zero-padded to it).
    public static let side = 32

    /// For messages, e.g. "cifar10 train".
    public let name: String
    /// images: [N, C, 32, 32], channel-planar bytes.
    public let images: [UInt8]
    /// labels: [N], each in 0..<numClasses.
    public let labels: [UInt8]
    public let channels: Int
    public let numClasses: Int
    /// The name of each class, when the dataset defines them.
    public let classNames: [String]?
    public let normalization: Normalization

    public init(name: String, images: [UInt8], labels: [UInt8], channels: Int, numClasses: Int,
                classNames: [String]?, normalization: Normalization) {
        precondition(channels >= 1 && images.count == labels.count * channels * ImageDataset.side * ImageDataset.side,
                     "ImageDataset \(name): \(images.count) image bytes do not make \(labels.count) images of \(channels)×32×32")
        precondition((1...256).contains(numClasses) && labels.allSatisfy { Int($0) < numClasses },
                     "ImageDataset \(name): labels must lie in 0..<\(numClasses)")
        precondition(normalization.mean.count == channels, "ImageDataset \(name): normalisation is not \(channels)-channel")
        precondition(classNames.map { $0.count == numClasses } ?? true, "ImageDataset \(name): need \(numClasses) class names")
        self.name = name
        self.images = images
        self.labels = labels
        self.channels = channels
        self.numClasses = numClasses
        self.classNames = classNames
        self.normalization = normalization
    }

    /// Number of images.
    public var count: Int { labels.count }

    /// Bytes per image: C·32·32.
    public var imageSize: Int { channels * ImageDataset.side * ImageDataset.side }

    /// How many images each class has: [numClasses].
    public var labelCounts: [Int] {
        var counts = [Int](repeating: 0, count: numClasses)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// Per-channel mean and population standard deviation of pixel/255 over all images —
    /// how the written-down normalisation constants are (re)computed.
    public func pixelStatistics() -> Normalization {
        var histogram = [Int](repeating: 0, count: channels * 256)
        let plane = ImageDataset.side * ImageDataset.side
        images.withUnsafeBufferPointer { px in
            histogram.withUnsafeMutableBufferPointer { h in
                for n in 0..<count {
                    for c in 0..<channels {
                        let base = (n * channels + c) * plane
                        for i in base..<base + plane { h[c * 256 + Int(px[i])] += 1 }
                    }
                }
            }
        }
        var mean = [Float](), std = [Float]()
        for c in 0..<channels {
            let bins = histogram[c * 256..<(c + 1) * 256]
            let total = Double(bins.reduce(0, +))
            let m = zip(bins, 0...).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / total
            let m2 = zip(bins, 0...).reduce(0.0) { $0 + Double($1.0) * Double($1.1 * $1.1) } / total
            mean.append(Float(m / 255))
            std.append(Float((m2 - m * m).squareRoot() / 255))
        }
        return Normalization(mean: mean, std: std)
    }

    /// A class-balanced subset of `total` images, `total / numClasses` from each class, chosen
    /// by a seeded shuffle of each class (same `seed`, same subset) and kept in file order.
    /// `total` must be a positive multiple of `numClasses` (10 000 → 1 000 per class for
    /// CIFAR-10) and no class may have fewer images than its share; otherwise this throws.
    public func stratifiedSubset(_ total: Int, seed: UInt64) throws -> ImageDataset {
        let chosen = try stratifiedIndices(labels: labels.map(Int.init), numClasses: numClasses, classNames: classNames,
                                           total: total, seed: seed, dataset: name)
        return selecting(chosen, name: "\(name) (stratified \(total))")
    }

    /// The images at `indices`, in that order.
    func selecting(_ indices: [Int], name: String) -> ImageDataset {
        let size = imageSize
        var picked = [UInt8](repeating: 0, count: indices.count * size)
        picked.withUnsafeMutableBufferPointer { dst in
            images.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    (dst.baseAddress! + k * size).update(from: src.baseAddress! + i * size, count: size)
                }
            }
        }
        return ImageDataset(name: name, images: picked, labels: indices.map { labels[$0] }, channels: channels,
                            numClasses: numClasses, classNames: classNames, normalization: normalization)
    }
}

/// The indices of a class-balanced subset of `total` images, `total / numClasses` from each
/// class, chosen by a seeded shuffle of each class and returned in file order.
func stratifiedIndices(labels: [Int], numClasses: Int, classNames: [String]?, total: Int, seed: UInt64,
                       dataset name: String) throws -> [Int] {
    guard total > 0, total % numClasses == 0 else {
        throw DataError.badSubset(dataset: name, requested: total,
                                  reason: "it must be a positive multiple of the \(numClasses) classes")
    }
    let perClass = total / numClasses
    var byClass = [[Int]](repeating: [], count: numClasses)
    for (i, label) in labels.enumerated() { byClass[label].append(i) }
    var chosen: [Int] = []
    for (c, members) in byClass.enumerated() {
        guard members.count >= perClass else {
            let named = classNames.map { " ('\($0[c])')" } ?? ""
            throw DataError.badSubset(dataset: name, requested: total,
                                      reason: "class \(c)\(named) has \(members.count) images, \(perClass) needed")
        }
        var rng = RNG(seed: mixSeed(seed, c))
        chosen += rng.permutation(members.count).prefix(perClass).map { members[$0] }
    }
    return chosen.sorted()
}

/// The train and test splits of one dataset.
public struct DatasetSplits: Sendable {
    public let dataset: DatasetID
    public var train: ImageDataset
    public var test: ImageDataset

    public init(dataset: DatasetID, train: ImageDataset, test: ImageDataset) {
        precondition(train.channels == test.channels && train.numClasses == test.numClasses,
                     "DatasetSplits \(dataset): train and test differ in channels or classes")
        self.dataset = dataset
        self.train = train
        self.test = test
    }

    public var inChannels: Int { train.channels }
    public var numClasses: Int { train.numClasses }
    public var classNames: [String]? { train.classNames }
    public var trainCount: Int { train.count }
    public var testCount: Int { test.count }
}

/// SplitMix64's finaliser: a bijective 64-bit hash.
func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// A seed derived from a parent seed and an integer (epoch, class, position …).
func mixSeed(_ seed: UInt64, _ n: Int) -> UInt64 { mix64(seed ^ mix64(UInt64(bitPattern: Int64(n)))) }
