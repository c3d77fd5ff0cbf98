// The figure `atx bench` prints for the input pipeline.
import Data
import Foundation

/// Seconds to build one batch of `batchSize` images (index gather, augmentation, normalisation,
/// labels) from `dataset` (default: 1024 synthetic 3-channel images): the median over `batches`
/// timed batches, after one untimed warm-up batch.
public func benchmarkBatchDecode(_ dataset: ImageDataset? = nil, batchSize: Int = 128, batches: Int = 50,
                                 augmentation: Augmentation = .standard) -> Double {
    precondition(batches >= 1, "benchmarkBatchDecode: need at least one timed batch")
    let data = dataset ?? SyntheticConfig(trainCount: 1024, testCount: 0).make().train
    let epoch = Batcher(data, batchSize: batchSize, augmentation: augmentation).epoch(0)
    _ = epoch[0]
    var times: [Double] = []
    for b in 0..<batches {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = epoch[b % epoch.count]
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    return times.sorted()[batches / 2]
}

/// Seconds to build one batch of `batchSize` CUB-sized JPEGs (500×375, cropped to a 400×300
/// box: decode, box crop, resize to `geometry.resize`, random crop, flip, normalise) on
/// `threads` threads: the median over `batches` timed batches, after one untimed warm-up.
/// The images are written to a temporary folder first and removed afterwards.
public func benchmarkJPEGBatch(batchSize: Int = 32, batches: Int = 5, geometry: ImageGeometry = .imageNet,
                               threads: Int = 1) throws -> Double {
    precondition(batchSize >= 1 && batches >= 1, "benchmarkJPEGBatch: need a positive batch size and batch count")
    let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("atx-jpeg-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = TinyJPEGConfig(classes: 2, trainPerClass: 0, testPerClass: 0, sides: 375...375)
    var paths: [String] = []
    for i in 0..<min(batchSize, 16) {
        let path = (dir as NSString).appendingPathComponent("\(i).jpg")
        try JPEG.write(config.picture(i % 2, i, width: 500, height: 375, box: (50, 40, 400, 300)), to: path)
        paths.append(path)
    }
    let count = batchSize * (batches + 1)
    let data = JPEGDataset(name: "bench", paths: (0..<count).map { paths[$0 % paths.count] },
                           labels: (0..<count).map { $0 % 2 }, boxes: Array(repeating: BoundingBox(x: 50, y: 40, width: 400, height: 300), count: count),
                           classNames: ["a", "b"], geometry: geometry, threads: threads)
    let epoch = Batcher(data, batchSize: batchSize, augmentation: .standard).epoch(0)
    _ = try epoch.batch(0)
    var times: [Double] = []
    for b in 1...batches {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try epoch.batch(b)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    return times.sorted()[batches / 2]
}
