import Foundation
import XCTest
@testable import Data

final class CIFAR10ReaderTests: XCTestCase {
    func testReadsRecords() throws {
        let dir = try temporaryDirectory(self)
        try writeCIFAR(in: dir, records: 3)
        let train = try CIFAR10.load(directory: dir, split: .train)
        let test = try CIFAR10.load(directory: dir, split: .test)
        XCTAssertEqual(train.count, 15)
        XCTAssertEqual(test.count, 3)
        XCTAssertEqual(train.channels, 3)
        XCTAssertEqual(train.labels, (0..<15).map { UInt8($0 % 10) })
        for n in [0, 4, 14] {
            XCTAssertEqual(Array(train.images[n * 3072..<(n + 1) * 3072]), (0..<3072).map { fixturePixel(n, $0) })
        }
        XCTAssertEqual(train.classNames?[3], "cat")
    }

    func testMissingFileIsNamed() throws {
        let dir = try temporaryDirectory(self)
        try writeCIFAR(in: dir)
        try FileManager.default.removeItem(atPath: join(dir, "data_batch_3.bin"))
        assertDataError(try CIFAR10.load(directory: dir, split: .train), mentions: join(dir, "data_batch_3.bin"), "not found")
    }

    func testPartialRecordIsAnError() throws {
        let dir = try temporaryDirectory(self)
        try writeCIFAR(in: dir)
        let path = join(dir, "test_batch.bin")
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Foundation.Data([1, 2, 3]))
        handle.closeFile()
        assertDataError(try CIFAR10.load(directory: dir, split: .test), mentions: path, "9222 bytes", "3073-byte records")
    }

    func testEmptyFileIsAnError() throws {
        let dir = try temporaryDirectory(self)
        try writeCIFAR(in: dir)
        let path = join(dir, "test_batch.bin")
        try Foundation.Data().write(to: URL(fileURLWithPath: path))
        assertDataError(try CIFAR10.load(directory: dir, split: .test), mentions: path, "size 0")
    }

    func testLabelOutOfRange() throws {
        let dir = try temporaryDirectory(self)
        try writeCIFAR(in: dir)
        let path = join(dir, "data_batch_2.bin")
        var bytes = [UInt8](try Foundation.Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[3073] = 10
        try Foundation.Data(bytes).write(to: URL(fileURLWithPath: path))
        assertDataError(try CIFAR10.load(directory: dir, split: .train), mentions: path, "label 10 of record 1")
    }
}

final class FashionMNISTReaderTests: XCTestCase {
    func testReadsGzipIDXAndPadsTo32() throws {
        let dir = try temporaryDirectory(self)
        writeIDX(in: dir, split: .train, count: 4)
        let train = try FashionMNIST.load(directory: dir, split: .train)
        XCTAssertEqual(train.count, 4)
        XCTAssertEqual(train.channels, 1)
        XCTAssertEqual(train.labels, [0, 3, 6, 9])
        for n in 0..<4 {
            for y in 0..<32 {
                for x in 0..<32 {
                    let inside = (2..<30).contains(y) && (2..<30).contains(x)
                    XCTAssertEqual(train.images[n * 1024 + y * 32 + x], inside ? fixturePixel(n, (y - 2) * 28 + x - 2) : 0)
                }
            }
        }
    }

    func testWrongMagic() throws {
        let dir = try temporaryDirectory(self)
        writeIDX(in: dir, imageMagic: 0x801)
        assertDataError(try FashionMNIST.load(directory: dir, split: .test),
                        mentions: join(dir, "t10k-images-idx3-ubyte.gz"), "magic number 0x00000801, expected 0x00000803")
    }

    func testTruncatedGzip() throws {
        let dir = try temporaryDirectory(self)
        writeIDX(in: dir, count: 20)
        let path = join(dir, "t10k-images-idx3-ubyte.gz")
        let whole = try Foundation.Data(contentsOf: URL(fileURLWithPath: path))
        for kept in [whole.count / 2, whole.count - 4] {  // mid-stream, and only the trailer's size field lost
            try whole.prefix(kept).write(to: URL(fileURLWithPath: path))
            assertDataError(try FashionMNIST.load(directory: dir, split: .test), mentions: path, "truncated gzip")
        }
    }

    func testPayloadShorterThanHeaderSays() throws {
        let dir = try temporaryDirectory(self)
        writeIDX(in: dir, count: 2)
        let path = join(dir, "t10k-images-idx3-ubyte.gz")
        writeGzip(bigEndian([0x803, 3, 28, 28]) + [UInt8](repeating: 7, count: 2 * 784 + 100), to: path)
        assertDataError(try FashionMNIST.load(directory: dir, split: .test), mentions: path, "2352 bytes of data, the file holds 1668")
    }

    func testLabelOutOfRange() throws {
        let dir = try temporaryDirectory(self)
        writeIDX(in: dir, count: 3, labels: [1, 12, 2])
        assertDataError(try FashionMNIST.load(directory: dir, split: .test),
                        mentions: join(dir, "t10k-labels-idx1-ubyte.gz"), "label 12 of record 1")
    }

    func testImageLabelCountMismatch() throws {
        let dir = try temporaryDirectory(self)
        writeIDX(in: dir, count: 3, labels: [1, 2])
        assertDataError(try FashionMNIST.load(directory: dir, split: .test),
                        mentions: join(dir, "t10k-images-idx3-ubyte.gz"), "3 images", join(dir, "t10k-labels-idx1-ubyte.gz"), "2 labels")
    }

    func testMissingFile() throws {
        let dir = try temporaryDirectory(self)
        assertDataError(try FashionMNIST.load(directory: dir, split: .train),
                        mentions: join(dir, "train-images-idx3-ubyte.gz"), "not found")
    }
}

final class OpenByNameTests: XCTestCase {
    func testNamesParseIntoChoices() {
        XCTAssertNil(DatasetChoice("cifar100"))
        XCTAssertEqual(DatasetChoice("auto"), .auto)
        XCTAssertEqual(DatasetChoice("fashion-mnist"), .named(.fashionMNIST))
        XCTAssertEqual(DatasetChoice.names, ["auto", "cifar10", "fashion-mnist", "synthetic", "cub200", "indoor67", "imagenet"])
        XCTAssertEqual(DatasetChoice.named(.cub200).resolved(), .cub200)
    }

    func testAutoPrefersCIFARWhenPresent() throws {
        let cifar = try temporaryDirectory(self), fashion = try temporaryDirectory(self)
        writeIDX(in: fashion, split: .train, count: 5)
        writeIDX(in: fashion, split: .test, count: 2)
        let noCIFAR = DataLocations(cifar10: cifar, fashionMNIST: fashion)
        XCTAssertEqual(DatasetChoice.auto.resolved(noCIFAR), .fashionMNIST)
        let fm = try Datasets.inMemory(DatasetChoice.auto.resolved(noCIFAR), locations: noCIFAR)
        XCTAssertEqual(fm.dataset, .fashionMNIST)
        XCTAssertEqual([fm.inChannels, fm.numClasses, fm.trainCount, fm.testCount], [1, 10, 5, 2])
        XCTAssertEqual(fm.classNames?.last, "Ankle boot")

        try writeCIFAR(in: cifar, records: 2)
        XCTAssertEqual(DatasetChoice.auto.resolved(noCIFAR), .cifar10)
        let c = try Datasets.inMemory(.cifar10, locations: noCIFAR, trainSubset: 10, subsetSeed: 3)
        XCTAssertEqual(c.dataset, .cifar10)
        XCTAssertEqual([c.inChannels, c.numClasses, c.trainCount, c.testCount], [3, 10, 10, 2])
        XCTAssertEqual(c.train.labelCounts, [Int](repeating: 1, count: 10))
    }

    func testAutoWithPartialCIFARFailsLoudly() throws {
        let cifar = try temporaryDirectory(self)
        try writeCIFAR(in: cifar)
        try FileManager.default.removeItem(atPath: join(cifar, "test_batch.bin"))
        let locations = DataLocations(cifar10: cifar, fashionMNIST: "/nonexistent")
        assertDataError(try Datasets.open(DatasetChoice.auto.resolved(locations), locations: locations),
                        mentions: join(cifar, "test_batch.bin"))
    }

    func testSyntheticByName() throws {
        let s = try Datasets.inMemory(.synthetic, synthetic: SyntheticConfig(trainCount: 40, testCount: 20, channels: 2, numClasses: 4))
        XCTAssertEqual(s.dataset, .synthetic)
        XCTAssertEqual([s.inChannels, s.numClasses, s.trainCount, s.testCount], [2, 4, 40, 20])
        XCTAssertNil(s.classNames)
    }

    func testEnvironmentOverridesDefaults() {
        XCTAssertEqual(DataLocations.fromEnvironment([:]),
                       DataLocations(cifar10: "data/cifar-10-batches-bin", fashionMNIST: "/usr/share/datasets/fashion-mnist"))
        XCTAssertEqual(DataLocations.fromEnvironment(["CIFAR10_DIR": "/a", "FASHION_MNIST_DIR": "/b"]),
                       DataLocations(cifar10: "/a", fashionMNIST: "/b"))
        XCTAssertEqual(DataLocations.fromEnvironment(["CIFAR10_DIR": ""]).cifar10, "data/cifar-10-batches-bin")
    }
}
