import Tensor
import XCTest
@testable import Data

final class BatcherTests: XCTestCase {
    let data = SyntheticConfig(trainCount: 50, testCount: 0, channels: 1, numClasses: 5, seed: 1).make().train

    func testShuffleIsSeededAndChangesEachEpoch() {
        let a = Batcher(data, batchSize: 8, seed: 42), b = Batcher(data, batchSize: 8, seed: 42)
        XCTAssertEqual(a.epoch(0).order, b.epoch(0).order)
        XCTAssertEqual(a.epoch(0).order.sorted(), Array(0..<50))
        XCTAssertNotEqual(a.epoch(0).order, a.epoch(1).order)
        XCTAssertNotEqual(a.epoch(0).order, Batcher(data, batchSize: 8, seed: 43).epoch(0).order)
        XCTAssertEqual(Batcher(data, batchSize: 8, shuffle: false).epoch(5).order, Array(0..<50))
    }

    func testLastPartialBatchIsKept() {
        let epoch = Batcher(data, batchSize: 16, seed: 3).epoch(2)
        XCTAssertEqual(epoch.count, 4)
        XCTAssertEqual(epoch.map(\.labels.count), [16, 16, 16, 2])
        XCTAssertEqual(epoch.last?.images.shape, [2, 1, 32, 32])
        XCTAssertEqual(epoch.flatMap(\.indices), epoch.order)
        XCTAssertEqual(epoch.flatMap(\.labels), epoch.order.map { Int(data.labels[$0]) })
    }

    func testAnyBatchRebuildsIdenticallyForResume() {
        let batcher = Batcher(data, batchSize: 8, augmentation: .standard, seed: 7)
        let run = Array(batcher.epoch(3))
        let resumed = Batcher(data, batchSize: 8, augmentation: .standard, seed: 7).epoch(3)[4...]
        XCTAssertEqual(resumed.map(\.images), run[4...].map(\.images))
        XCTAssertNotEqual(batcher.epoch(4)[0].images, run[0].images)
    }
}
