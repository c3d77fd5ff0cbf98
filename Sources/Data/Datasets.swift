// One entry point: a dataset by name.
import Foundation

/// Where the real datasets live.
public struct DataLocations: Sendable, Equatable {
    /// Folder of the CIFAR-10 binary batches.
    public var cifar10: String
    /// Folder of the Fashion-MNIST `.gz` IDX files.
    public var fashionMNIST: String
    /// The unpacked `CUB_200_2011` folder (holding `images.txt` and `images/`).
    public var cub200: String
    /// The MIT Indoor-67 folder (holding `Images/`, `TrainImages.txt`, `TestImages.txt`).
    public var indoor67: String

    public init(cifar10: String = CIFAR10.defaultDirectory, fashionMNIST: String = FashionMNIST.defaultDirectory,
                cub200: String = CUB200.defaultDirectory, indoor67: String = Indoor67.defaultDirectory) {
        self.cifar10 = cifar10
        self.fashionMNIST = fashionMNIST
        self.cub200 = cub200
        self.indoor67 = indoor67
    }

    /// `$CIFAR10_DIR`, `$FASHION_MNIST_DIR`, `$CUB_DIR` and `$INDOOR67_DIR` when set and
    /// non-empty, else the defaults.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> DataLocations {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        return DataLocations(cifar10: value("CIFAR10_DIR") ?? CIFAR10.defaultDirectory,
                             fashionMNIST: value("FASHION_MNIST_DIR") ?? FashionMNIST.defaultDirectory,
                             cub200: value("CUB_DIR") ?? CUB200.defaultDirectory,
                             indoor67: value("INDOOR67_DIR") ?? Indoor67.defaultDirectory)
    }

    /// True when any CIFAR-10 file is in `cifar10`; a partial set then fails loudly naming the
    /// missing file instead of silently falling back to Fashion-MNIST.
    public var hasCIFAR10: Bool {
        (CIFAR10.trainFiles + CIFAR10.testFiles).contains {
            FileManager.default.fileExists(atPath: (cifar10 as NSString).appendingPathComponent($0))
        }
    }
}

public enum Datasets {
    /// The names `open` accepts.
    public static let names = ["cifar10", "fashion-mnist", "synthetic", "auto"]

    /// Opens a dataset by name: "cifar10", "fashion-mnist", "synthetic" (made from `synthetic`),
    /// or "auto" (CIFAR-10 when its files are present, else Fashion-MNIST). With `trainSubset`,
    /// the training split is cut to a stratified subset drawn with `subsetSeed`.
    public static func open(_ name: String, locations: DataLocations = .fromEnvironment(),
                            synthetic: SyntheticConfig = SyntheticConfig(),
                            trainSubset: Int? = nil, subsetSeed: UInt64 = 0) throws -> DatasetSplits {
        var splits: DatasetSplits
        switch name {
        case "cifar10":
            splits = DatasetSplits(name: name, train: try CIFAR10.load(directory: locations.cifar10, split: .train),
                                   test: try CIFAR10.load(directory: locations.cifar10, split: .test))
        case "fashion-mnist":
            splits = DatasetSplits(name: name, train: try FashionMNIST.load(directory: locations.fashionMNIST, split: .train),
                                   test: try FashionMNIST.load(directory: locations.fashionMNIST, split: .test))
        case "synthetic":
            splits = synthetic.make()
        case "auto":
            return try open(locations.hasCIFAR10 ? "cifar10" : "fashion-mnist", locations: locations,
                            trainSubset: trainSubset, subsetSeed: subsetSeed)
        default:
            throw DataError.unknownDataset(name: name, accepted: names)
        }
        if let trainSubset { splits.train = try splits.train.stratifiedSubset(trainSubset, seed: subsetSeed) }
        return splits
    }

    /// The names `openJPEG` accepts: the fine-tuning datasets of the paper's Table 4.
    public static let jpegNames = ["cub200", "indoor67"]

    /// Opens "cub200" (cropped to bounding boxes) or "indoor67" from `locations`, its images
    /// brought to `geometry`; a missing folder says what to download and where to put it. With
    /// `trainSubset`, the training split is cut to a stratified subset drawn with `subsetSeed`.
    public static func openJPEG(_ name: String, locations: DataLocations = .fromEnvironment(),
                                geometry: ImageGeometry = .imageNet,
                                trainSubset: Int? = nil, subsetSeed: UInt64 = 0) throws -> JPEGSplits {
        var splits: JPEGSplits
        switch name {
        case "cub200": splits = try CUB200.load(directory: locations.cub200, geometry: geometry)
        case "indoor67": splits = try Indoor67.load(directory: locations.indoor67, geometry: geometry)
        default: throw DataError.unknownDataset(name: name, accepted: jpegNames)
        }
        if let trainSubset { splits.train = try splits.train.stratifiedSubset(trainSubset, seed: subsetSeed) }
        return splits
    }
}
