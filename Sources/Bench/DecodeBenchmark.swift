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
