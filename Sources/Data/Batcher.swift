// Seeded per-epoch shuffling and batching.
//
// Resume: everything random about epoch e — its order and each image's flip and crop — is a
// pure function of (seed, e, position in the epoch), with no RNG state carried between epochs
// or batches. A resumed run needs only the seed and the epoch/batch counters; any batch can be
// rebuilt on its own (`batcher.epoch(e)[b]`).
import Tensor

/// One batch: images: [B, C, 32, 32], labels: [B], and the dataset indices they came from.
public struct Batch: Sendable {
    public let images: Tensor
    public let labels: [Int]
    public let indices: [Int]
}

/// Cuts a dataset into batches, epoch by epoch; the last partial batch is kept.
public struct Batcher: Sendable {
    public let dataset: ImageDataset
    public let batchSize: Int
    /// When false, every epoch visits the images in dataset order (evaluation).
    public let shuffle: Bool
    public let augmentation: Augmentation
    public let seed: UInt64

    public init(_ dataset: ImageDataset, batchSize: Int, shuffle: Bool = true,
                augmentation: Augmentation = .none, seed: UInt64 = 0) {
        precondition(batchSize >= 1, "Batcher: batch size must be positive, got \(batchSize)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.augmentation = augmentation
        self.seed = seed
    }

    /// ⌈N / batchSize⌉.
    public var batchesPerEpoch: Int { (dataset.count + batchSize - 1) / batchSize }

    /// The batches of epoch `epoch` (any integer; the caller's numbering), decoded lazily on access.
    public func epoch(_ epoch: Int) -> EpochBatches {
        let key = mixSeed(seed, epoch)
        var rng = RNG(seed: mixSeed(key, -1))
        let order = shuffle ? rng.permutation(dataset.count) : Array(0..<dataset.count)
        return EpochBatches(batcher: self, key: key, order: order)
    }
}

/// The batches of one epoch, in order: a random-access collection, so a resumed run can start
/// at batch b with `epoch[b...]`. Each access decodes and augments its batch afresh.
public struct EpochBatches: RandomAccessCollection, Sendable {
    public let batcher: Batcher
    let key: UInt64
    /// order: [N], the dataset index visited at each position of the epoch.
    public let order: [Int]

    public var startIndex: Int { 0 }
    public var endIndex: Int { batcher.batchesPerEpoch }

    /// The transform of the image at `position` of the epoch.
    public func transform(at position: Int) -> ImageTransform {
        batcher.augmentation.transform(mixSeed(key, position))
    }

    public subscript(b: Int) -> Batch {
        precondition(indices.contains(b), "EpochBatches: batch \(b) outside 0..<\(endIndex)")
        let positions = b * batcher.batchSize..<Swift.min((b + 1) * batcher.batchSize, order.count)
        let picked = Array(order[positions])
        let images = batcher.dataset.batch(indices: picked, transforms: positions.map(transform(at:)))
        return Batch(images: images, labels: picked.map { Int(batcher.dataset.labels[$0]) }, indices: picked)
    }
}
