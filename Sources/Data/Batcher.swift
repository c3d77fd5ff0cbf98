// Seeded per-epoch shuffling and batching.
//
// Resume: everything random about epoch e — its order and each image's flip and crop — is a
// pure function of (seed, e, position in the epoch), with no RNG state carried between epochs
// or batches. A resumed run needs only the seed and the epoch/batch counters; any batch can be
// rebuilt on its own (`batcher.epoch(e)[b]`).
//
// A `Batcher` cuts any `BatchSource`: the in-memory 32×32 `ImageDataset`s, and the file-backed
// `JPEGDataset`s (CUB-200-2011, MIT Indoor-67) whose batches are decoded from the files on access.
//
// Loops read an epoch through `EpochBatches.prefetching()`, which builds the next batch on a
// background thread while the caller trains on the current one: reading and decoding leave the
// step's critical path. A batch is a pure function of its position, so the batches are the same
// whichever thread builds them and whatever the thread count.
import Dispatch
import Tensor

/// What a `Batcher` cuts into batches.
public protocol BatchSource: Sendable {
    /// For messages, e.g. "cifar10 train".
    var name: String { get }
    var count: Int { get }
    var channels: Int { get }
    var numClasses: Int { get }
    /// Side S of the square images of a batch.
    var batchSide: Int { get }
    /// The label of image `index`, in 0..<numClasses.
    func label(at index: Int) -> Int
    /// images: [B, C, S, S] of `indices`, image k transformed as the 64 random bits `keys[k]`
    /// draw under `augmentation`. Throws when an image cannot be read (file-backed sources).
    func batch(indices: [Int], keys: [UInt64], augmentation: Augmentation) throws -> Tensor
}

extension ImageDataset: BatchSource {
    public var batchSide: Int { ImageDataset.side }
    public func label(at index: Int) -> Int { Int(labels[index]) }
    public func batch(indices: [Int], keys: [UInt64], augmentation: Augmentation) -> Tensor {
        batch(indices: indices, transforms: keys.map(augmentation.transform))
    }
}

extension JPEGDataset: BatchSource {
    public var batchSide: Int { geometry.crop }
    public func label(at index: Int) -> Int { labels[index] }
}

/// One batch: images: [B, C, S, S] (S = 32 for the in-memory datasets), labels: [B], and the
/// dataset indices they came from.
public struct Batch: Sendable {
    public let images: Tensor
    public let labels: [Int]
    public let indices: [Int]
}

/// Cuts a dataset into batches, epoch by epoch; the last partial batch is kept.
public struct Batcher: Sendable {
    public let dataset: any BatchSource
    public let batchSize: Int
    /// When false, every epoch visits the images in dataset order (evaluation).
    public let shuffle: Bool
    /// For a `JPEGDataset`, `crop` means a random crop (else the centre crop) and `flip` a random
    /// mirror; `padding` is unused.
    public let augmentation: Augmentation
    public let seed: UInt64

    public init(_ dataset: any BatchSource, batchSize: Int, shuffle: Bool = true,
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

    /// The 64 random bits that draw the transform of the image at `position` of the epoch: a
    /// function of (seed, epoch, position) only.
    public func randomBits(at position: Int) -> UInt64 { mixSeed(key, position) }

    /// The transform of the image at `position` of the epoch (for the 32×32 in-memory datasets).
    public func transform(at position: Int) -> ImageTransform {
        batcher.augmentation.transform(randomBits(at: position))
    }

    /// Batch `b`; throws when an image cannot be read (a corrupt JPEG names its file).
    public func batch(_ b: Int) throws -> Batch {
        precondition(indices.contains(b), "EpochBatches: batch \(b) outside 0..<\(endIndex)")
        let positions = b * batcher.batchSize..<Swift.min((b + 1) * batcher.batchSize, order.count)
        let picked = Array(order[positions])
        let images = try batcher.dataset.batch(indices: picked, keys: positions.map(randomBits(at:)),
                                               augmentation: batcher.augmentation)
        return Batch(images: images, labels: picked.map(batcher.dataset.label(at:)), indices: picked)
    }

    /// Batch `b`. In-memory datasets never fail; for a file-backed one an unreadable image stops
    /// the process with its error, so loops over JPEG datasets should call `batch(_:)` instead.
    public subscript(b: Int) -> Batch {
        do { return try batch(b) } catch { preconditionFailure("\(error)") }
    }

    /// Batches `range` of the epoch, in order, for one pass: while the caller works on batch b,
    /// batch b + 1 is built on a background thread.
    public func prefetching(_ range: Range<Int>? = nil) -> PrefetchingBatches {
        PrefetchingBatches(self, range: range ?? indices)
    }
}

/// One pass over batches of an epoch, one batch ahead (`EpochBatches.prefetching`). `next()`
/// returns the batches in order, then nil; a batch that cannot be read throws at its own place
/// in the order, as `EpochBatches.batch(_:)` would, and ends the pass. At most one batch is built
/// ahead, and nothing is left running once the pass is dropped.
public final class PrefetchingBatches {
    private let batches: EpochBatches
    private let range: Range<Int>
    private var pending: Pending?
    private let queue = DispatchQueue(label: "atx.prefetch")

    /// A batch being built: its result, handed over through the semaphore.
    private final class Pending: @unchecked Sendable {
        let index: Int
        var result: Result<Batch, Error>?
        let done = DispatchSemaphore(value: 0)
        init(index: Int) { self.index = index }
    }

    init(_ batches: EpochBatches, range: Range<Int>) {
        precondition(range.clamped(to: batches.indices) == range, "prefetching: batches \(range) outside 0..<\(batches.endIndex)")
        self.batches = batches
        self.range = range
        start(range.lowerBound)
    }

    /// The next batch and its index in the epoch, or nil after the last.
    public func next() throws -> (index: Int, batch: Batch)? {
        guard let current = pending else { return nil }
        current.done.wait()
        pending = nil
        let batch = try current.result!.get()   // a batch that cannot be read ends the pass
        start(current.index + 1)
        return (current.index, batch)
    }

    private func start(_ b: Int) {
        guard range.contains(b) else { return }
        let work = Pending(index: b), batches = self.batches
        pending = work
        queue.async {
            work.result = Result { try batches.batch(b) }
            work.done.signal()
        }
    }

    deinit {
        // A pass left early (a failed batch, every member ended) waits for the batch in flight.
        pending?.done.wait()
    }
}
