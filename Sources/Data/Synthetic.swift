// A seeded synthetic dataset for fast tests: each image is a sinusoidal grating under a
// Gaussian window at a random position, plus pixel noise. The class fixes the grating's
// orientation (one of ⌈K/2⌉ angles in [0°, 90°]) and period (4 or 8 pixels), so the classes
// survive a horizontal flip (which maps θ to −θ) and a crop, and a small CNN learns them easily.
import Foundation
import Tensor

/// The size and seed of a synthetic dataset.
public struct SyntheticConfig: Sendable, Equatable {
    public var trainCount: Int
    public var testCount: Int
    public var channels: Int
    public var numClasses: Int
    public var seed: UInt64

    public init(trainCount: Int = 1000, testCount: Int = 200, channels: Int = 3, numClasses: Int = 10, seed: UInt64 = 0) {
        precondition(trainCount >= 0 && testCount >= 0 && channels >= 1 && (2...256).contains(numClasses),
                     "SyntheticConfig: need counts ≥ 0, channels ≥ 1, 2…256 classes")
        self.trainCount = trainCount
        self.testCount = testCount
        self.channels = channels
        self.numClasses = numClasses
        self.seed = seed
    }

    /// Round numbers close to the generator's pixel statistics (grey background, ±100 gratings, noise σ 12).
    public var normalization: Normalization {
        Normalization(mean: [Float](repeating: 0.5, count: channels), std: [Float](repeating: 0.09, count: channels))
    }

    /// Both splits; labels cycle 0, 1, …, K−1 so every class has ⌊N/K⌋ or ⌈N/K⌉ images.
    public func make() -> DatasetSplits {
        DatasetSplits(dataset: .synthetic, train: generate(trainCount, split: .train, stream: 1),
                      test: generate(testCount, split: .test, stream: 2))
    }

    func generate(_ count: Int, split: Split, stream: Int) -> ImageDataset {
        var rng = RNG(seed: mixSeed(seed, stream))
        let labels = (0..<count).map { UInt8($0 % numClasses) }
        let angles = (numClasses + 1) / 2
        let side = ImageDataset.side, plane = side * side
        var images = [UInt8](repeating: 0, count: count * channels * plane)
        var pattern = [Double](repeating: 0, count: plane)
        for n in 0..<count {
            let label = Int(labels[n])
            let theta = Double.pi / 2 * Double(label % angles) / Double(max(angles - 1, 1))
            let wavenumber = 2 * Double.pi / (label < angles ? 4 : 8)
            let (kx, ky) = (wavenumber * cos(theta), wavenumber * sin(theta))
            let cx = Double(rng.uniform(10, 22)), cy = Double(rng.uniform(10, 22))
            let phase = Double(rng.uniform(0, 2 * .pi))
            for y in 0..<side {
                for x in 0..<side {
                    let (dx, dy) = (Double(x) - cx, Double(y) - cy)
                    pattern[y * side + x] = exp(-(dx * dx + dy * dy) / 72) * cos(kx * Double(x) + ky * Double(y) + phase)
                }
            }
            for c in 0..<channels {
                let gain = 100 * Double(rng.uniform(0.6, 1))
                for i in 0..<plane {
                    let v = 128 + gain * pattern[i] + 12 * Double(rng.normal())
                    images[(n * channels + c) * plane + i] = UInt8(min(max(v.rounded(), 0), 255))
                }
            }
        }
        return ImageDataset(name: "synthetic \(split)", images: images, labels: labels, channels: channels,
                            numClasses: numClasses, classNames: nil, normalization: normalization)
    }
}
