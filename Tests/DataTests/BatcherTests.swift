import Dispatch
import Foundation
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

    func testPrefetchingGivesTheEpochsBatchesInOrder() throws {
        let epoch = Batcher(data, batchSize: 8, augmentation: .standard, seed: 7).epoch(3)
        for range in [nil, 4..<7, 6..<7, 2..<2] as [Range<Int>?] {
            let pass = epoch.prefetching(range)
            var got: [(Int, Batch)] = []
            while let next = try pass.next() { got.append(next) }
            XCTAssertNil(try pass.next())
            let expected = Array(range ?? epoch.indices)
            XCTAssertEqual(got.map(\.0), expected)
            XCTAssertEqual(got.map(\.1.images), expected.map { epoch[$0].images })
            XCTAssertEqual(got.map(\.1.labels), expected.map { epoch[$0].labels })
            XCTAssertEqual(got.map(\.1.indices), expected.map { epoch[$0].indices })
        }
    }

    func testPrefetchingBuildsTheNextBatchWhileTheCallerWorks() throws {
        let source = RecordingSource(data)
        let pass = Batcher(source, batchSize: 16, seed: 3).epoch(0).prefetching()
        XCTAssertEqual(try pass.next()?.index, 0)
        // The caller holds batch 0 and asks for nothing: batch 1 is built anyway, and no further one.
        XCTAssertEqual(source.requested.wait(timeout: .now() + 30), .success)   // batch 0
        XCTAssertEqual(source.requested.wait(timeout: .now() + 30), .success)   // batch 1
        XCTAssertEqual(source.firstIndices, [epochFirst(0, 16), epochFirst(1, 16)])
        while try pass.next() != nil {}
        XCTAssertEqual(source.firstIndices.count, 4)
    }

    func testAnUnreadableBatchThrowsInItsPlaceAndEndsThePass() throws {
        let source = RecordingSource(data)
        source.failing = 16   // batch 2 of the epoch in dataset order
        let pass = Batcher(source, batchSize: 8, shuffle: false).epoch(0).prefetching()
        XCTAssertEqual(try pass.next()?.index, 0)
        XCTAssertEqual(try pass.next()?.index, 1)
        XCTAssertThrowsError(try pass.next()) { XCTAssertEqual($0 as? RecordingSource.Unreadable, .image(16)) }
        XCTAssertNil(try pass.next())
        XCTAssertEqual(source.firstIndices, [0, 8, 16], "nothing is built after the unreadable batch")
    }

    /// The first dataset index of batch `b` of epoch 0 with seed 3.
    private func epochFirst(_ b: Int, _ batchSize: Int) -> Int { Batcher(data, batchSize: batchSize, seed: 3).epoch(0).order[b * batchSize] }
}

/// A batch source that records which batches it was asked for (by their first index), signals
/// each request, and fails on one image.
private final class RecordingSource: BatchSource, @unchecked Sendable {
    enum Unreadable: Error, Equatable { case image(Int) }
    let inner: ImageDataset
    let requested = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var firsts: [Int] = []
    var failing: Int?

    init(_ inner: ImageDataset) { self.inner = inner }
    var firstIndices: [Int] { lock.withLock { firsts } }
    var name: String { "recording" }
    var count: Int { inner.count }
    var channels: Int { inner.channels }
    var numClasses: Int { inner.numClasses }
    var batchSide: Int { inner.batchSide }
    func label(at index: Int) -> Int { inner.label(at: index) }
    func batch(indices: [Int], keys: [UInt64], augmentation: Augmentation) throws -> Tensor {
        lock.withLock { firsts.append(indices[0]) }
        defer { requested.signal() }
        if let failing, indices.contains(failing) { throw Unreadable.image(failing) }
        return inner.batch(indices: indices, keys: keys, augmentation: augmentation)
    }
}
