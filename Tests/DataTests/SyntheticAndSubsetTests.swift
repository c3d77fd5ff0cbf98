import Foundation
import Tensor
import XCTest
@testable import Data

final class SyntheticTests: XCTestCase {
    func testSeededAndBalanced() {
        let config = SyntheticConfig(trainCount: 60, testCount: 30, channels: 3, numClasses: 6, seed: 11)
        let a = config.make(), b = config.make()
        XCTAssertEqual(a.train.images, b.train.images)
        XCTAssertNotEqual(Array(a.train.images.prefix(a.test.images.count)), a.test.images)
        var other = config
        other.seed = 12
        XCTAssertNotEqual(other.make().train.images, a.train.images)
        XCTAssertEqual(a.train.labelCounts, [Int](repeating: 10, count: 6))
        XCTAssertEqual(a.test.labelCounts, [Int](repeating: 5, count: 6))
    }

    /// The classes are separable from cheap flip- and shift-invariant features (structure tensor
    /// for orientation, second/first difference energy for period): a nearest-centroid classifier
    /// on them is far above the 10 % chance level, so a small CNN has something to learn.
    func testClassesAreLearnable() {
        let splits = SyntheticConfig(trainCount: 300, testCount: 200, channels: 1, numClasses: 10, seed: 3).make()
        func features(_ d: ImageDataset, _ n: Int) -> [Double] {
            func p(_ y: Int, _ x: Int) -> Double { Double(d.images[n * 1024 + y * 32 + x]) }
            var (jxx, jyy, jxy, curvature) = (0.0, 0.0, 0.0, 0.0)
            for y in 1..<31 { for x in 1..<31 {
                let gx = p(y, x + 1) - p(y, x - 1), gy = p(y + 1, x) - p(y - 1, x)
                let lx = p(y, x + 1) + p(y, x - 1) - 2 * p(y, x), ly = p(y + 1, x) + p(y - 1, x) - 2 * p(y, x)
                (jxx, jyy, jxy, curvature) = (jxx + gx * gx, jyy + gy * gy, jxy + abs(gx * gy), curvature + lx * lx + ly * ly)
            } }
            let energy = jxx + jyy
            return [jxx / energy, jxy / energy, curvature / energy]
        }
        var centroids = [[Double]](repeating: [0, 0, 0], count: 10)
        for n in 0..<splits.train.count {
            let c = Int(splits.train.labels[n])
            centroids[c] = zip(centroids[c], features(splits.train, n)).map { $0 + $1 / 30 }
        }
        let correct = (0..<splits.test.count).filter { n in
            let f = features(splits.test, n)
            let guess = centroids.indices.min { a, b in
                zip(centroids[a], f).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < zip(centroids[b], f).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }
            return guess == Int(splits.test.labels[n])
        }.count
        XCTAssertGreaterThan(Double(correct) / Double(splits.test.count), 0.5)
    }
}

final class StratifiedSubsetTests: XCTestCase {
    let data = SyntheticConfig(trainCount: 103, testCount: 0, channels: 1, numClasses: 5, seed: 2).make().train

    func testExactPerClassCountsAndDeterminism() throws {
        let a = try data.stratifiedSubset(100, seed: 1)
        XCTAssertEqual(a.labelCounts, [20, 20, 20, 20, 20])
        XCTAssertEqual(a.count, 100)
        XCTAssertEqual(try data.stratifiedSubset(100, seed: 1).images, a.images)
        let b = try data.stratifiedSubset(50, seed: 1), c = try data.stratifiedSubset(50, seed: 2)
        XCTAssertEqual(b.labelCounts, [10, 10, 10, 10, 10])
        XCTAssertNotEqual(b.images, c.images)
    }

    func testSubsetKeepsImagesWithTheirLabels() throws {
        let subset = try data.stratifiedSubset(10, seed: 4)
        for n in 0..<subset.count {
            let image = subset.images[n * 1024..<(n + 1) * 1024]
            let original = (0..<data.count).first { data.images[$0 * 1024..<($0 + 1) * 1024] == image }
            XCTAssertEqual(original.map { data.labels[$0] }, subset.labels[n])
        }
    }

    func testImpossibleRequestsAreErrors() {
        assertDataError(try data.stratifiedSubset(12, seed: 0), mentions: "synthetic train", "12", "multiple of the 5 classes")
        assertDataError(try data.stratifiedSubset(0, seed: 0), mentions: "multiple")
        assertDataError(try data.stratifiedSubset(105, seed: 0), mentions: "class 3 has 20 images, 21 needed")
    }
}

final class NormalisationTests: XCTestCase {
    func testCIFARConstants() {
        XCTAssertEqual(CIFAR10.normalization.mean, [Float(125.3 / 255), Float(123.0 / 255), Float(113.9 / 255)])
        XCTAssertEqual(CIFAR10.normalization.std, [Float(63.0 / 255), Float(62.1 / 255), Float(66.7 / 255)])
        XCTAssertEqual(CIFAR10.normalization.mean[0], 0.49137, accuracy: 1e-5)
    }

    func testPixelStatisticsOfAKnownImage() {
        let data = plainDataset([UInt8](repeating: 0, count: 512) + [UInt8](repeating: 255, count: 512), labels: [0])
        let stats = data.pixelStatistics()
        XCTAssertEqual(stats.mean[0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(stats.std[0], 0.5, accuracy: 1e-6)
    }

    func testSyntheticConstantsAreCloseToItsStatistics() {
        let data = SyntheticConfig(trainCount: 200, testCount: 0, channels: 2).make().train
        let stats = data.pixelStatistics(), constants = data.normalization
        for c in 0..<2 {
            XCTAssertEqual(stats.mean[c], constants.mean[c], accuracy: 0.02)
            XCTAssertEqual(stats.std[c], constants.std[c], accuracy: 0.03)
        }
    }
}
