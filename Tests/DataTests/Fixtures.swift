// Small dataset files written by the tests themselves, in each real format.
import CZlib
import Foundation
import Tensor
import XCTest
@testable import Data

/// A fresh temporary folder, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("atx-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

func join(_ directory: String, _ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

/// Pixel `i` of image `n` in the fixtures (any byte pattern that differs between images and pixels).
func fixturePixel(_ n: Int, _ i: Int) -> UInt8 { UInt8((n * 31 + i * 7) % 256) }

/// CIFAR-10 batches with `records` images per file; image n of the train split (file-major) has
/// label n % 10 and pixels `fixturePixel(n, ·)`; the test file repeats the first train file.
func writeCIFAR(in directory: String, records: Int = 3) throws {
    for (f, name) in (CIFAR10.trainFiles + CIFAR10.testFiles).enumerated() {
        var bytes: [UInt8] = []
        for r in 0..<records {
            let n = (f % 5) * records + r
            bytes.append(UInt8(n % 10))
            bytes += (0..<3072).map { fixturePixel(n, $0) }
        }
        try Foundation.Data(bytes).write(to: URL(fileURLWithPath: join(directory, name)))
    }
}

/// A gzip file written through zlib.
func writeGzip(_ bytes: [UInt8], to path: String) {
    let file = gzopen(path, "wb")!
    bytes.withUnsafeBytes { _ = gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    gzclose(file)
}

func bigEndian(_ words: [Int]) -> [UInt8] { words.flatMap { w in (0..<4).reversed().map { UInt8((w >> (8 * $0)) & 0xFF) } } }

/// A Fashion-MNIST split of `count` 28×28 images with pixels `fixturePixel(n, ·)` and labels
/// (n · 3) % 10, as gzip IDX files; `labels` overrides the labels file.
func writeIDX(in directory: String, split: Split = .test, count: Int = 3, labels: [UInt8]? = nil,
              imageMagic: Int = 0x803) {
    let names = FashionMNIST.files(split)
    let pixels = (0..<count).flatMap { n in (0..<784).map { fixturePixel(n, $0) } }
    writeGzip(bigEndian([imageMagic, count, 28, 28]) + pixels, to: join(directory, names.images))
    let labels = labels ?? (0..<count).map { UInt8($0 * 3 % 10) }
    writeGzip(bigEndian([0x801, labels.count]) + labels, to: join(directory, names.labels))
}

/// Asserts that `body` throws a `DataError` whose message contains each of `fragments`.
func assertDataError<T>(_ body: @autoclosure () throws -> T, mentions fragments: String...,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let error = error as? DataError else { return XCTFail("not a DataError: \(error)", file: file, line: line) }
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' does not mention '\(fragment)'", file: file, line: line)
        }
    }
}

/// A one-channel dataset whose normalisation leaves pixel/255, so tests can read bytes back.
func plainDataset(_ images: [UInt8], labels: [UInt8], channels: Int = 1, numClasses: Int = 10) -> ImageDataset {
    ImageDataset(name: "plain", images: images, labels: labels, channels: channels, numClasses: numClasses,
                 classNames: nil, normalization: Normalization(mean: .init(repeating: 0, count: channels),
                                                               std: .init(repeating: 1, count: channels)))
}

/// The bytes back from a batch built with `plainDataset`.
func bytes(_ t: Tensor) -> [UInt8] { t.data.map { UInt8(($0 * 255).rounded()) } }
