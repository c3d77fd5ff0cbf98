import Foundation
import XCTest
@testable import Data

/// The real Fashion-MNIST files (Debian's `dataset-fashion-mnist`), when installed.
final class FashionMNISTRealTests: XCTestCase {
    func directory() throws -> String {
        let dir = DataLocations.fromEnvironment().fashionMNIST
        guard FileManager.default.fileExists(atPath: dir) else {
            throw XCTSkip("Fashion-MNIST not found at \(dir): install the Debian package dataset-fashion-mnist or set FASHION_MNIST_DIR")
        }
        return dir
    }

    func testTestSplit() throws {
        let test = try FashionMNIST.load(directory: try directory(), split: .test)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(test.labelCounts, [Int](repeating: 1000, count: 10))
        XCTAssertEqual(Array(test.labels.prefix(5)), [9, 2, 1, 1, 6])
        XCTAssertEqual(test.images.prefix(64).max(), 0, "the 2-pixel padding is black")
    }

    /// The 60 000 training images: counts, the well-known first labels, and the written-down
    /// normalisation constants recomputed from the padded images.
    func testTrainSplitAndNormalisationConstants() throws {
        let train = try FashionMNIST.load(directory: try directory(), split: .train)
        XCTAssertEqual(train.count, 60000)
        XCTAssertEqual(train.labelCounts, [Int](repeating: 6000, count: 10))
        XCTAssertEqual(Array(train.labels.prefix(5)), [9, 0, 0, 3, 0])
        let stats = train.pixelStatistics()
        print("Fashion-MNIST train statistics (padded 32×32): mean \(stats.mean), std \(stats.std)")
        XCTAssertEqual(stats.mean[0], FashionMNIST.normalization.mean[0], accuracy: 5e-6)
        XCTAssertEqual(stats.std[0], FashionMNIST.normalization.std[0], accuracy: 5e-6)
        XCTAssertEqual(stats.mean[0] * 1024 / 784, 0.2860, accuracy: 1e-4, "raw 28×28 mean")
    }
}
