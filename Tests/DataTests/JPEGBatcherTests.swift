import Foundation
import Tensor
import XCTest
@testable import Data

final class JPEGBatcherTests: XCTestCase {
    func tiny(threads: Int? = 1) throws -> JPEGSplits {
        let dir = try temporaryDirectory(self)
        try Datasets.writeTinyCUB(to: dir, config: TinyJPEGConfig(classes: 3, trainPerClass: 4, testPerClass: 2))
        var splits = try CUB200.load(directory: dir, geometry: ImageGeometry(resize: 32, crop: 28))
        splits.train.threads = threads
        splits.test.threads = threads
        return splits
    }

    func testBatchesHaveTheCropSizeAndLabels() throws {
        let data = try tiny().train
        let epoch = Batcher(data, batchSize: 5, augmentation: .standard, seed: 3).epoch(1)
        XCTAssertEqual(epoch.count, 3)
        let batches = try (0..<epoch.count).map { try epoch.batch($0) }
        XCTAssertEqual(batches.map(\.images.shape), [[5, 3, 28, 28], [5, 3, 28, 28], [2, 3, 28, 28]])
        XCTAssertEqual(batches.flatMap(\.indices), epoch.order)
        XCTAssertEqual(batches.flatMap(\.labels), epoch.order.map { data.labels[$0] })
        XCTAssertEqual(epoch.order.sorted(), Array(0..<12))
        // Each image is the dataset's transform of its file under the position's random bits.
        let b = batches[1]
        for (k, index) in b.indices.enumerated() {
            let image = try data.transformed(index, bits: epoch.randomBits(at: 5 + k), augmentation: .standard)
            let expected = try data.batch(indices: [index], keys: [epoch.randomBits(at: 5 + k)], augmentation: .standard)
            XCTAssertEqual(Array(b.images.data[k * 3 * 784..<(k + 1) * 3 * 784]), expected.data)
            XCTAssertEqual([image.width, image.height], [28, 28])
        }
    }

    func testBatchesAreSeededAndIndependentOfThreads() throws {
        let one = try tiny(threads: 1).train
        var two = one
        two.threads = 2
        let a = Batcher(one, batchSize: 4, augmentation: .standard, seed: 11)
        let b = Batcher(two, batchSize: 4, augmentation: .standard, seed: 11)
        for e in [1, 2] {
            let ea = a.epoch(e), eb = b.epoch(e)
            XCTAssertEqual(ea.order, eb.order)
            for i in 0..<ea.count { XCTAssertEqual(try ea.batch(i).images, try eb.batch(i).images, "epoch \(e) batch \(i)") }
        }
        // A resumed run rebuilds any batch on its own; other epochs and seeds draw differently.
        XCTAssertEqual(try Batcher(one, batchSize: 4, augmentation: .standard, seed: 11).epoch(2).batch(2).images,
                       try a.epoch(2).batch(2).images)
        XCTAssertNotEqual(try a.epoch(1).batch(0).images, try a.epoch(2).batch(0).images)
        let other = Batcher(one, batchSize: 4, augmentation: .standard, seed: 12).epoch(1)
        XCTAssertNotEqual(other.order, a.epoch(1).order)
    }

    func testTestBatchesAreCentreCropsInOrder() throws {
        let test = try tiny().test
        let batcher = Batcher(test, batchSize: 4, shuffle: false)
        let first = try batcher.epoch(0).batch(0), again = try batcher.epoch(7).batch(0)
        XCTAssertEqual(first.indices, [0, 1, 2, 3])
        XCTAssertEqual(first.images, again.images)
        XCTAssertEqual(first.labels, [0, 0, 1, 1])
        let centre = try test.batch(indices: [0, 1, 2, 3], keys: [1, 2, 3, 4], augmentation: .none)
        XCTAssertEqual(first.images, centre)
        XCTAssertEqual(batcher.batchesPerEpoch, 2)
    }

    func testStratifiedSubsetAndGeometry() throws {
        let splits = try tiny()
        let subset = try splits.train.stratifiedSubset(6, seed: 4)
        XCTAssertEqual(subset.labelCounts, [2, 2, 2])
        XCTAssertEqual(try splits.train.stratifiedSubset(6, seed: 4).paths, subset.paths)
        XCTAssertTrue(Set(subset.paths).isSubset(of: splits.train.paths))
        assertDataError(try splits.train.stratifiedSubset(15, seed: 0), mentions: "4 images, 5 needed")
        let quick = splits.with(geometry: .quick)
        XCTAssertEqual(try Batcher(quick.test, batchSize: 2, shuffle: false).epoch(0).batch(0).images.shape, [2, 3, 112, 112])
    }

    func testWritersProduceLoadableDatasetsOfTheConfiguredSize() throws {
        let dir = try temporaryDirectory(self)
        let config = TinyJPEGConfig(classes: 5, trainPerClass: 2, testPerClass: 3, sides: 20...30, seed: 9)
        try Datasets.writeTinyCUB(to: join(dir, "cub"), config: config)
        try Datasets.writeTinyIndoor67(to: join(dir, "indoor"), config: config)
        let cub = try CUB200.load(directory: join(dir, "cub")), indoor = try Indoor67.load(directory: join(dir, "indoor"))
        for splits in [cub, indoor] {
            XCTAssertEqual([splits.train.count, splits.test.count, splits.numClasses], [10, 15, 5])
            try splits.train.validate()
            try splits.test.validate()
            for path in splits.train.paths.prefix(3) {
                let info = try JPEG.info(path: path)
                XCTAssertTrue((20...30).contains(info.width) && (20...30).contains(info.height) && info.components == 3)
            }
        }
        try Datasets.writeTinyJPEG(.indoor67, to: join(dir, "by-name"), config: config)
        let byName = try Datasets.open(.indoor67, locations: DataLocations(indoor67: join(dir, "by-name")))
        XCTAssertEqual((0..<byName.train.count).map(byName.train.label(at:)), indoor.train.labels)
        assertDataError(try Datasets.writeTinyJPEG(.cifar10, to: dir), mentions: "cifar10", "not read from JPEG files")
        // Same seed, same bytes.
        try Datasets.writeTinyCUB(to: join(dir, "again"), config: config)
        XCTAssertEqual(try contents(cub.train.paths[3]), try contents(join(dir, "again/images") + "/" +
                       cub.train.paths[3].components(separatedBy: "/images/").last!))
    }
}
