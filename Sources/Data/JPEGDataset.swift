// A dataset of JPEG files, decoded lazily batch by batch (CUB-200-2011, MIT Indoor-67): only the
// file list, labels and boxes are held, so memory does not grow with the dataset.
//
// Per image: decode to RGB → crop to its bounding box, if it has one → resize so the shorter side
// is `geometry.resize` (Pillow's antialiased bilinear, see Resize.swift) → a `geometry.crop`
// square: a random one (uniform corner) when the augmentation crops, else the centre one →
// mirror with probability 1/2 when it flips → normalise (ImageNet constants by default).
// That is torchvision's `Resize(256), RandomCrop(224), RandomHorizontalFlip()` for training and
// `Resize(256), CenterCrop(224)` for testing. ImageNet trains on scale-and-aspect crops instead
// (`RandomCrop.scaleAndAspect`: the official imagenet.py's `RandomSizedCrop(224)`).
import Dispatch
import Foundation
import Tensor

extension Normalization {
    /// The ImageNet constants torchvision's pretrained models expect.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
}

/// The sizes a JPEG dataset's images are brought to.
public struct ImageGeometry: Sendable, Equatable, Hashable, Codable {
    /// Shorter side after resizing.
    public var resize: Int
    /// Side of the square crop a batch holds.
    public var crop: Int

    public init(resize: Int, crop: Int) {
        precondition(crop >= 1 && resize >= crop, "ImageGeometry: need 1 ≤ crop (\(crop)) ≤ resize (\(resize))")
        self.resize = resize
        self.crop = crop
    }

    /// The ImageNet protocol: shorter side 256, crops of 224.
    public static let imageNet = ImageGeometry(resize: 256, crop: 224)
    /// A quarter of the pixels: shorter side 128, crops of 112.
    public static let quick = ImageGeometry(resize: 128, crop: 112)
}

/// How a training batch's random crop is drawn.
public enum RandomCrop: Sendable, Equatable {
    /// A uniform `crop`-sized square of the image resized to shorter side `resize` (CUB-200-2011,
    /// MIT Indoor-67: the paper's "rescale to 256 in one dimension and then take a random crop").
    case afterResize
    /// A region of 8–100% of the image's area and aspect ratio 3/4–4/3, resized to a `crop`
    /// square: `RandomSizedCrop` of the cvtransforms the official imagenet.py uses (84bedb5
    /// `imagenet.py:77–81`; the class at 30d9524 `cvtransforms.py:123–159`), ten attempts, then
    /// the centre crop of the image resized to shorter side `crop`. Resampled bilinearly
    /// (Resize.swift) where the original is bicubic.
    case scaleAndAspect
}

/// Labelled JPEG files; a batch is decoded and transformed from the files when it is asked for.
public struct JPEGDataset: Sendable {
    /// For messages, e.g. "cub200 train".
    public let name: String
    /// paths: [N], the image files.
    public let paths: [String]
    /// labels: [N], each in 0..<numClasses.
    public let labels: [Int]
    /// boxes: [N], the region each image is cropped to before resizing (nil: the whole image).
    public let boxes: [BoundingBox?]
    /// Where each box was read from ("…/bounding_boxes.txt:12"), for messages; [N] or empty.
    public let boxSources: [String]
    public let numClasses: Int
    public let classNames: [String]
    public var geometry: ImageGeometry
    /// How training crops are drawn (testing always takes the centre crop after resizing).
    public var randomCrop: RandomCrop
    public var normalization: Normalization
    /// Threads decoding a batch (nil: `Threads.count`); batches do not depend on it.
    public var threads: Int?

    public init(name: String, paths: [String], labels: [Int], boxes: [BoundingBox?]? = nil, boxSources: [String] = [],
                classNames: [String], geometry: ImageGeometry = .imageNet, randomCrop: RandomCrop = .afterResize,
                normalization: Normalization = .imageNet, threads: Int? = nil) {
        precondition(labels.count == paths.count, "JPEGDataset \(name): \(paths.count) paths but \(labels.count) labels")
        precondition(labels.allSatisfy { (0..<classNames.count).contains($0) },
                     "JPEGDataset \(name): labels must lie in 0..<\(classNames.count)")
        precondition(boxes.map { $0.count == paths.count } ?? true, "JPEGDataset \(name): need one box per image")
        precondition(boxSources.isEmpty || boxSources.count == paths.count, "JPEGDataset \(name): need one box source per image")
        precondition(normalization.mean.count == 3, "JPEGDataset \(name): normalisation must be 3-channel")
        precondition(threads.map { $0 >= 1 } ?? true, "JPEGDataset \(name): threads must be positive")
        self.name = name
        self.paths = paths
        self.labels = labels
        self.boxes = boxes ?? [BoundingBox?](repeating: nil, count: paths.count)
        self.boxSources = boxSources
        self.numClasses = classNames.count
        self.classNames = classNames
        self.geometry = geometry
        self.randomCrop = randomCrop
        self.normalization = normalization
        self.threads = threads
    }

    public var count: Int { paths.count }
    public var channels: Int { 3 }

    /// How many images each class has: [numClasses].
    public var labelCounts: [Int] {
        var counts = [Int](repeating: 0, count: numClasses)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// Image `index` decoded and cropped to its box (what resizing starts from).
    public func decoded(_ index: Int) throws -> PixelImage {
        let image = try JPEG.decode(path: paths[index])
        guard let box = boxes[index] else { return image }
        guard let inside = image.cropped(to: box) else {
            let source = boxSources.isEmpty ? "" : " (\(boxSources[index]))"
            throw DataError.malformed(path: paths[index], reason: "bounding box \(box)\(source) lies outside the "
                                      + "\(image.width)×\(image.height) image")
        }
        return inside
    }

    /// Image `index` decoded, cropped to its box and resized to shorter side `geometry.resize`.
    public func resized(_ index: Int) throws -> PixelImage {
        try decoded(index).resized(shorterSide: geometry.resize)
    }

    /// The crop corner and flip that `bits` draw for a `width`×`height` resized image: a uniform
    /// corner when `augmentation.crop` (else the centre crop), a flip with probability 1/2 when
    /// `augmentation.flip` — the same bit layout as the 32×32 datasets' `Augmentation`.
    public func draw(_ bits: UInt64, width: Int, height: Int, augmentation: Augmentation) -> (x: Int, y: Int, flip: Bool) {
        let side = geometry.crop
        let flip = augmentation.flip && mix64(bits) & 1 == 1
        guard augmentation.crop else {
            let (x, y) = PixelImage.centreCropOrigin(width: width, height: height, side: side)
            return (x, y, flip)
        }
        return (Int(((bits >> 32) * UInt64(width - side + 1)) >> 32),
                Int(((bits & 0xFFFF_FFFF) * UInt64(height - side + 1)) >> 32), flip)
    }

    /// The region of a `width`×`height` image that a scale-and-aspect crop takes for `bits`, nil
    /// when ten attempts find none that fits (`RandomCrop.scaleAndAspect`).
    public static func scaleAndAspectWindow(_ bits: UInt64, width: Int, height: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        var rng = RNG(seed: mix64(bits ^ 0x5CA1_EA5F))
        let area = Double(width * height)
        for _ in 0..<10 {
            let target = Double(rng.uniform(0.08, 1)) * area
            let aspect = Double(rng.uniform(3.0 / 4.0, 4.0 / 3.0))
            var w = Int((target * aspect).squareRoot().rounded()), h = Int((target / aspect).squareRoot().rounded())
            if rng.next() & 1 == 1 { swap(&w, &h) }
            guard w >= 1, h >= 1, w <= width, h <= height else { continue }
            let x = Int(rng.next() % UInt64(width - w + 1)), y = Int(rng.next() % UInt64(height - h + 1))
            return (x, y, w, h)
        }
        return nil
    }

    /// Image `index` as a batch holds it, before normalisation: `geometry.crop` square, 8-bit RGB.
    /// Only the crop is resampled (the same pixels as resizing the whole image, then cropping).
    public func transformed(_ index: Int, bits: UInt64, augmentation: Augmentation) throws -> PixelImage {
        let image = try decoded(index)
        if augmentation.crop && randomCrop == .scaleAndAspect {
            let side = geometry.crop
            let flip = augmentation.flip && mix64(bits) & 1 == 1
            let crop: PixelImage
            if let r = Self.scaleAndAspectWindow(bits, width: image.width, height: image.height) {
                crop = image.cropped(x: r.x, y: r.y, width: r.width, height: r.height).resized(width: side, height: side)
            } else {
                let (w, h) = PixelImage.resizedSize(width: image.width, height: image.height, shorterSide: side)
                let (x, y) = PixelImage.centreCropOrigin(width: w, height: h, side: side)
                crop = image.resized(width: w, height: h, window: (x, y, side, side))
            }
            return flip ? crop.flipped() : crop
        }
        let (w, h) = PixelImage.resizedSize(width: image.width, height: image.height, shorterSide: geometry.resize)
        let (x, y, flip) = draw(bits, width: w, height: h, augmentation: augmentation)
        let crop = image.resized(width: w, height: h, window: (x, y, geometry.crop, geometry.crop))
        return flip ? crop.flipped() : crop
    }

    /// The images at `indices`, transformed with the random bits `keys[k]` for `indices[k]` and
    /// normalised: images: [B, 3, S, S], S = geometry.crop. Decoding runs on `threads` threads;
    /// a file that cannot be decoded throws (the first such in `indices` order).
    public func batch(indices: [Int], keys: [UInt64], augmentation: Augmentation) throws -> Tensor {
        precondition(indices.allSatisfy { (0..<count).contains($0) }, "\(name).batch: index outside 0..<\(count)")
        precondition(keys.count == indices.count, "\(name).batch: need one key per index")
        guard !indices.isEmpty else { return Tensor(zeros: [0, 3, geometry.crop, geometry.crop]) }
        var crops = [Result<PixelImage, Error>?](repeating: nil, count: indices.count)
        crops.withUnsafeMutableBufferPointer { results in
            let out = SendableResults(results.baseAddress!)
            parallelEach(indices.count, threads: threads ?? Threads.count) { k in
                out.p[k] = Result { try transformed(indices[k], bits: keys[k], augmentation: augmentation) }
            }
        }
        let images = try crops.map { try $0!.get() }
        let side = geometry.crop, plane = side * side
        let table = normalization.lookupTable()
        return Tensor(shape: [indices.count, 3, side, side]) { out in
            table.withUnsafeBufferPointer { lut in
                for (k, image) in images.enumerated() {
                    image.pixels.withUnsafeBufferPointer { px in
                        for c in 0..<3 {
                            let dst = out.baseAddress! + (k * 3 + c) * plane
                            let l = lut.baseAddress! + c * 256
                            for i in 0..<plane { dst[i] = l[Int(px[3 * i + c])] }
                        }
                    }
                }
            }
        }
    }

    /// The images at `indices`, in that order.
    public func selecting(_ indices: [Int], name: String) -> JPEGDataset {
        JPEGDataset(name: name, paths: indices.map { paths[$0] }, labels: indices.map { labels[$0] },
                    boxes: indices.map { boxes[$0] }, boxSources: boxSources.isEmpty ? [] : indices.map { boxSources[$0] },
                    classNames: classNames, geometry: geometry, randomCrop: randomCrop, normalization: normalization, threads: threads)
    }

    /// A class-balanced subset, `total / numClasses` images per class, as `ImageDataset.stratifiedSubset`.
    public func stratifiedSubset(_ total: Int, seed: UInt64) throws -> JPEGDataset {
        let chosen = try stratifiedIndices(labels: labels, numClasses: numClasses, classNames: classNames,
                                           total: total, seed: seed, dataset: name)
        return selecting(chosen, name: "\(name) (stratified \(total))")
    }

    /// Decodes every image once (on `threads` threads), so that a corrupt file or a box outside
    /// its image fails now rather than in the middle of training; throws for the first bad one.
    public func validate() throws {
        guard count > 0 else { return }
        var failures = [Error?](repeating: nil, count: count)
        failures.withUnsafeMutableBufferPointer { results in
            let out = SendableErrors(results.baseAddress!)
            parallelEach(count, threads: threads ?? Threads.count) { i in
                do { _ = try decoded(i) } catch { out.p[i] = error }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }
}

/// The train and test splits of a JPEG dataset.
public struct JPEGSplits: Sendable {
    public let dataset: DatasetID
    public var train: JPEGDataset
    public var test: JPEGDataset

    public init(dataset: DatasetID, train: JPEGDataset, test: JPEGDataset) {
        precondition(train.classNames == test.classNames, "JPEGSplits \(dataset): train and test have different classes")
        self.dataset = dataset
        self.train = train
        self.test = test
    }

    public var numClasses: Int { train.numClasses }

    /// Both splits with `geometry`.
    public func with(geometry: ImageGeometry) -> JPEGSplits {
        var copy = self
        copy.train.geometry = geometry
        copy.test.geometry = geometry
        return copy
    }
}

private struct SendableResults: @unchecked Sendable {
    let p: UnsafeMutablePointer<Result<PixelImage, Error>?>
    init(_ p: UnsafeMutablePointer<Result<PixelImage, Error>?>) { self.p = p }
}

private struct SendableErrors: @unchecked Sendable {
    let p: UnsafeMutablePointer<Error?>
    init(_ p: UnsafeMutablePointer<Error?>) { self.p = p }
}

private struct SendableBody: @unchecked Sendable {
    let body: (Int) -> Void
}

/// Runs `body(i)` for every i in 0..<n on up to `threads` threads (each i exactly once).
func parallelEach(_ n: Int, threads: Int, _ body: (Int) -> Void) {
    let chunks = min(n, max(threads, 1))
    if chunks <= 1 { for i in 0..<n { body(i) }; return }
    withoutActuallyEscaping(body) { escaping in
        let boxed = SendableBody(body: escaping)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in stride(from: c, to: n, by: chunks) { boxed.body(i) }
        }
    }
}
