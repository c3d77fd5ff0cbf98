// The datasets atx reads, as one type that carries what the rest of atx needs to know about each
// (`DatasetID.descriptor`), the choice a spec or flag makes (`DatasetChoice`, with "auto"
// resolved here and nowhere else), and the one place that decides how a dataset is read
// (`Datasets.open`: in memory at 32×32, or JPEG files decoded per batch).
import Foundation

/// A dataset by the name specs, flags and the store use.
public enum DatasetID: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case cifar10
    case fashionMNIST = "fashion-mnist"
    case synthetic
    case cub200
    case indoor67
    case imagenet

    public var description: String { rawValue }

    /// What atx needs to know about the dataset.
    public var descriptor: DatasetDescriptor {
        switch self {
        case .cifar10:
            return DatasetDescriptor(id: self, storage: .inMemory, trainImages: 50_000, testImages: 10_000, classes: 10, channels: 3,
                                     displayName: "CIFAR-10", taskName: "CIFAR-10")
        case .fashionMNIST:
            return DatasetDescriptor(id: self, storage: .inMemory, trainImages: 60_000, testImages: 10_000, classes: 10, channels: 1,
                                     displayName: "Fashion-MNIST", taskName: "Fashion-MNIST")
        case .synthetic:
            let s = SyntheticConfig()
            return DatasetDescriptor(id: self, storage: .inMemory, trainImages: s.trainCount, testImages: s.testCount,
                                     classes: s.numClasses, channels: s.channels, displayName: "synthetic data", taskName: "synthetic")
        case .cub200:
            return DatasetDescriptor(id: self, storage: .jpeg, trainImages: CUB200.trainCount, testImages: CUB200.testCount,
                                     classes: CUB200.numClasses, channels: 3, displayName: "CUB-200-2011", taskName: "CUB")
        case .indoor67:
            return DatasetDescriptor(id: self, storage: .jpeg, trainImages: Indoor67.trainCount, testImages: Indoor67.testCount,
                                     classes: Indoor67.numClasses, channels: 3, displayName: "MIT Indoor-67", taskName: "Scenes")
        case .imagenet:
            return DatasetDescriptor(id: self, storage: .jpeg, trainImages: ImageNet.trainCount, testImages: ImageNet.testCount,
                                     classes: ImageNet.numClasses, channels: 3, displayName: "ImageNet (ILSVRC2012)", taskName: "ImageNet")
        }
    }
}

/// A dataset's properties: how it is stored, its split sizes, classes, channels and names.
public struct DatasetDescriptor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        /// Decoded once into memory as 32×32 images (`ImageDataset`).
        case inMemory
        /// JPEG files decoded per batch at the run's `ImageGeometry` (`JPEGDataset`).
        case jpeg
    }

    public let id: DatasetID
    public let storage: Storage
    /// Images in the full training and test splits.
    public let trainImages, testImages: Int
    public let classes: Int
    public let channels: Int
    /// As tables and figures name it: "CIFAR-10", "CUB-200-2011".
    public let displayName: String
    /// As the paper names it as a fine-tuning task (Table 4's "ImageNet→CUB"): "CUB", "Scenes".
    public let taskName: String

    public var isJPEG: Bool { storage == .jpeg }

    /// The side of a batch's square images: 32 in memory, the geometry's crop for JPEG files.
    public func imageSide(_ geometry: ImageGeometry) -> Int { isJPEG ? geometry.crop : ImageDataset.side }
}

/// A spec's or flag's dataset: a named one, or "auto" (CIFAR-10 when present, else Fashion-MNIST).
public enum DatasetChoice: Equatable, Sendable, CustomStringConvertible {
    case auto
    case named(DatasetID)

    /// "auto" or a `DatasetID`'s name; nil for anything else.
    public init?(_ text: String) {
        if text == "auto" { self = .auto } else if let id = DatasetID(rawValue: text) { self = .named(id) } else { return nil }
    }

    /// Every name `init` accepts, "auto" first.
    public static var names: [String] { ["auto"] + DatasetID.allCases.map(\.rawValue) }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .named(let id): return id.rawValue
        }
    }

    /// The dataset this choice means on a machine whose data lie at `locations`.
    public func resolved(_ locations: DataLocations = .fromEnvironment()) -> DatasetID {
        switch self {
        case .auto: return locations.hasCIFAR10 ? .cifar10 : .fashionMNIST
        case .named(let id): return id
        }
    }
}

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
    /// The ImageNet folder (holding `train/<wnid>/` and `val/<wnid>/`).
    public var imagenet: String

    public init(cifar10: String = CIFAR10.defaultDirectory, fashionMNIST: String = FashionMNIST.defaultDirectory,
                cub200: String = CUB200.defaultDirectory, indoor67: String = Indoor67.defaultDirectory,
                imagenet: String = ImageNet.defaultDirectory) {
        self.cifar10 = cifar10
        self.fashionMNIST = fashionMNIST
        self.cub200 = cub200
        self.indoor67 = indoor67
        self.imagenet = imagenet
    }

    /// `$CIFAR10_DIR`, `$FASHION_MNIST_DIR`, `$CUB_DIR`, `$INDOOR67_DIR` and `$IMAGENET_DIR` when
    /// set and non-empty, else the defaults.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> DataLocations {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        return DataLocations(cifar10: value("CIFAR10_DIR") ?? CIFAR10.defaultDirectory,
                             fashionMNIST: value("FASHION_MNIST_DIR") ?? FashionMNIST.defaultDirectory,
                             cub200: value("CUB_DIR") ?? CUB200.defaultDirectory,
                             indoor67: value("INDOOR67_DIR") ?? Indoor67.defaultDirectory,
                             imagenet: value("IMAGENET_DIR") ?? ImageNet.defaultDirectory)
    }

    /// The folder of a JPEG dataset (nil for the in-memory ones, whose files lie in theirs).
    public func directory(_ id: DatasetID) -> String? {
        switch id {
        case .cub200: return cub200
        case .indoor67: return indoor67
        case .imagenet: return imagenet
        case .cifar10, .fashionMNIST, .synthetic: return nil
        }
    }

    /// True when any CIFAR-10 file is in `cifar10`; a partial set then fails loudly naming the
    /// missing file instead of silently falling back to Fashion-MNIST.
    public var hasCIFAR10: Bool {
        (CIFAR10.trainFiles + CIFAR10.testFiles).contains {
            FileManager.default.fileExists(atPath: (cifar10 as NSString).appendingPathComponent($0))
        }
    }
}

/// A run's two splits, whatever holds them: the 32×32 in-memory datasets or JPEG files.
public struct TrainingData: Sendable {
    public let dataset: DatasetID
    public let train: any BatchSource
    public let test: any BatchSource

    public init(dataset: DatasetID, train: any BatchSource, test: any BatchSource) {
        precondition(train.channels == test.channels && train.numClasses == test.numClasses,
                     "TrainingData \(dataset): train and test differ in channels or classes")
        self.dataset = dataset; self.train = train; self.test = test
    }

    public init(_ splits: DatasetSplits) { self.init(dataset: splits.dataset, train: splits.train, test: splits.test) }
}

public enum Datasets {
    /// A run's data: `id`'s two splits, read the way the dataset is stored (in memory, or JPEG
    /// files at `geometry`), with a stratified training subset of `trainSubset` images drawn with
    /// `subsetSeed` and a stratified test subset of `testSubset` drawn with seed 0 (the same for
    /// every run). A missing folder says what to download and where to put it.
    public static func open(_ id: DatasetID, locations: DataLocations = .fromEnvironment(), geometry: ImageGeometry = .imageNet,
                            synthetic: SyntheticConfig = SyntheticConfig(),
                            trainSubset: Int? = nil, testSubset: Int? = nil, subsetSeed: UInt64 = 0) throws -> TrainingData {
        switch id.descriptor.storage {
        case .inMemory:
            return TrainingData(try inMemory(id, locations: locations, synthetic: synthetic, trainSubset: trainSubset,
                                             testSubset: testSubset, subsetSeed: subsetSeed))
        case .jpeg:
            var splits: JPEGSplits
            switch id {
            case .cub200: splits = try CUB200.load(directory: locations.cub200, geometry: geometry)
            case .indoor67: splits = try Indoor67.load(directory: locations.indoor67, geometry: geometry)
            case .imagenet: splits = try ImageNet.load(directory: locations.imagenet, geometry: geometry)
            case .cifar10, .fashionMNIST, .synthetic: throw DataError.notJPEG(name: id.rawValue)
            }
            if let trainSubset { splits.train = try splits.train.stratifiedSubset(trainSubset, seed: subsetSeed) }
            if let testSubset { splits.test = try splits.test.stratifiedSubset(testSubset, seed: 0) }
            return TrainingData(dataset: id, train: splits.train, test: splits.test)
        }
    }

    /// An in-memory dataset's splits with their raw images (`atx attention` draws them); subsets as
    /// in `open`. A JPEG dataset is an error that says so.
    public static func inMemory(_ id: DatasetID, locations: DataLocations = .fromEnvironment(),
                                synthetic: SyntheticConfig = SyntheticConfig(),
                                trainSubset: Int? = nil, testSubset: Int? = nil, subsetSeed: UInt64 = 0) throws -> DatasetSplits {
        var splits: DatasetSplits
        switch id {
        case .cifar10:
            splits = DatasetSplits(dataset: id, train: try CIFAR10.load(directory: locations.cifar10, split: .train),
                                   test: try CIFAR10.load(directory: locations.cifar10, split: .test))
        case .fashionMNIST:
            splits = DatasetSplits(dataset: id, train: try FashionMNIST.load(directory: locations.fashionMNIST, split: .train),
                                   test: try FashionMNIST.load(directory: locations.fashionMNIST, split: .test))
        case .synthetic:
            splits = synthetic.make()
        case .cub200, .indoor67, .imagenet:
            throw DataError.notInMemory(name: id.rawValue)
        }
        if let trainSubset { splits.train = try splits.train.stratifiedSubset(trainSubset, seed: subsetSeed) }
        if let testSubset { splits.test = try splits.test.stratifiedSubset(testSubset, seed: 0) }
        return splits
    }
}
