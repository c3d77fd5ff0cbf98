import Tensor
import XCTest
@testable import Data

final class AugmentationTests: XCTestCase {
    /// Two 3-channel images with distinct bytes everywhere that matters.
    let data = plainDataset((0..<2).flatMap { n in (0..<3072).map { fixturePixel(n, $0) } }, labels: [4, 7], channels: 3)

    /// Pixel (y, x) of channel c of image n, as stored.
    func source(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> UInt8 { data.images[n * 3072 + c * 1024 + y * 32 + x] }

    /// PyTorch's `nn.ReflectionPad2d(p)` of one channel, written out: the edge pixel is not repeated.
    func reflectPadded(_ n: Int, _ c: Int, _ p: Int) -> [[UInt8]] {
        func pad<T>(_ row: [T]) -> [T] { Array(row[1...p].reversed()) + row + Array(row[(31 - p)..<31].reversed()) }
        return pad((0..<32).map { y in pad((0..<32).map { source(n, c, y, $0) }) })
    }

    func testIdentityIsChannelPlanarDecode() {
        let out = bytes(data.batch(indices: [1, 0]))
        XCTAssertEqual(data.batch(indices: [1, 0]).shape, [2, 3, 32, 32])
        XCTAssertEqual(out, Array(data.images[3072...]) + Array(data.images[..<3072]))
    }

    func testFlipIsExactMirror() {
        let out = bytes(data.batch(indices: [0], transforms: [ImageTransform(flip: true)]))
        for c in 0..<3 { for y in 0..<32 { for x in 0..<32 {
            XCTAssertEqual(out[c * 1024 + y * 32 + x], source(0, c, y, 31 - x))
        } } }
    }

    func testCropAtPaddingOffsetIsIdentity() {
        let crop = ImageTransform(cropX: 4, cropY: 4, padding: 4)
        XCTAssertEqual(data.batch(indices: [0, 1], transforms: [crop, crop]), data.batch(indices: [0, 1]))
    }

    func testCropsMatchPyTorchReflectionPad() {
        for (x0, y0, flip) in [(0, 0, false), (8, 8, false), (1, 6, true), (0, 8, true)] {
            let out = bytes(data.batch(indices: [1], transforms: [ImageTransform(flip: flip, cropX: x0, cropY: y0, padding: 4)]))
            for c in 0..<3 {
                let padded = reflectPadded(1, c, 4)
                for y in 0..<32 { for x in 0..<32 {
                    XCTAssertEqual(out[c * 1024 + y * 32 + x], padded[y0 + y][x0 + (flip ? 31 - x : x)], "crop (\(x0), \(y0)) flip \(flip)")
                } }
            }
        }
        // Spelled out for crop (0, 0): row 0 of the output is source row 4, and column 0 is source column 4.
        let out = bytes(data.batch(indices: [1], transforms: [ImageTransform(cropX: 0, cropY: 0, padding: 4)]))
        XCTAssertEqual(out[0], source(1, 0, 4, 4))
        XCTAssertEqual(out[3 * 32 + 5], source(1, 0, 1, 1))
        XCTAssertEqual(out[4 * 32 + 4], source(1, 0, 0, 0))
    }

    /// OpenCV's `BORDER_REFLECT` (numpy's "symmetric"), which the official code of January 2017
    /// pads with: the edge pixel is repeated, `cba|abcd…`.
    func symmetricPadded(_ n: Int, _ c: Int, _ p: Int) -> [[UInt8]] {
        func pad<T>(_ row: [T]) -> [T] { Array(row[0..<p].reversed()) + row + Array(row[(32 - p)...].reversed()) }
        return pad((0..<32).map { y in pad((0..<32).map { source(n, c, y, $0) }) })
    }

    func testSymmetricPaddingRepeatsTheEdgeAsTheCodeOf2017() {
        for (x0, y0, flip) in [(0, 0, false), (8, 8, false), (1, 6, true), (0, 8, true), (3, 0, false)] {
            let t = ImageTransform(flip: flip, cropX: x0, cropY: y0, padding: 4, paddingMode: .symmetric)
            let out = bytes(data.batch(indices: [0], transforms: [t]))
            for c in 0..<3 {
                let padded = symmetricPadded(0, c, 4)
                for y in 0..<32 { for x in 0..<32 {
                    XCTAssertEqual(out[c * 1024 + y * 32 + x], padded[y0 + y][x0 + (flip ? 31 - x : x)], "crop (\(x0), \(y0)) flip \(flip)")
                } }
            }
        }
        // Spelled out for crop (0, 0): output (3, 3) is source (0, 0) itself, where reflect-101 has (1, 1).
        let out = bytes(data.batch(indices: [0], transforms: [ImageTransform(cropX: 0, cropY: 0, padding: 4, paddingMode: .symmetric)]))
        XCTAssertEqual(out[3 * 32 + 3], source(0, 0, 0, 0))
        XCTAssertEqual(out[0], source(0, 0, 3, 3))
        XCTAssertEqual(reflect(-1, .symmetric), 0); XCTAssertEqual(reflect(32, .symmetric), 31); XCTAssertEqual(reflect(35, .symmetric), 28)
        XCTAssertEqual(reflect(-1, .reflect), 1); XCTAssertEqual(reflect(32, .reflect), 30)
        // The augmentation carries its mode into the transforms it draws.
        let drawn = Augmentation(flip: true, crop: true, paddingMode: .symmetric).transform(0x1234_5678_9ABC_DEF0)
        XCTAssertEqual(drawn.paddingMode, .symmetric)
    }

    func testNormalisationUsesTheDatasetConstants() {
        let images = (0..<3072).map { UInt8($0 % 256) }
        let cifar = ImageDataset(name: "c", images: images, labels: [0], channels: 3, numClasses: 10,
                                 classNames: nil, normalization: CIFAR10.normalization)
        let out = cifar.batch(indices: [0])
        let (mean, std): ([Float], [Float]) = ([125.3, 123.0, 113.9], [63.0, 62.1, 66.7])
        for i in stride(from: 0, to: 3072, by: 97) {
            XCTAssertEqual(out.data[i], (Float(images[i]) - mean[i / 1024]) / std[i / 1024], accuracy: 1e-5)
        }
    }

    func testSwitchesDrawTheRightTransforms() {
        func transforms(_ a: Augmentation) -> [ImageTransform] {
            let epoch = Batcher(data, batchSize: 2, augmentation: a, seed: 9).epoch(0)
            return (0..<2000).map(epoch.transform(at:))
        }
        XCTAssertTrue(transforms(.none).allSatisfy { $0 == .identity })
        let flips = transforms(.flipOnly)
        XCTAssertTrue(flips.allSatisfy { $0.cropX == 0 && $0.cropY == 0 && $0.padding == 0 })
        XCTAssertEqual(Double(flips.filter(\.flip).count) / 2000, 0.5, accuracy: 0.05)
        let crops = transforms(Augmentation(flip: false, crop: true))
        XCTAssertFalse(crops.contains { $0.flip })
        XCTAssertEqual(Set(crops.map(\.cropX)), Set(0...8))
        XCTAssertEqual(Set(crops.map(\.cropY)), Set(0...8))
        let both = transforms(.standard)
        XCTAssertTrue(both.contains { $0.flip } && both.contains { !$0.flip } && both.allSatisfy { $0.padding == 4 })
    }
}
