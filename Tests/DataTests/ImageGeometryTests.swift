import Foundation
import Tensor
import XCTest
@testable import Data

final class ImageGeometryTests: XCTestCase {
    /// Pixel (x, y) encodes its own position: R = x, G = y, B = x + y.
    let grid = PixelImage(width: 50, height: 30) { x, y in (UInt8(x), UInt8(y), UInt8(x + y)) }

    func testTorchvisionResizeSizes() {
        XCTAssertTrue(PixelImage.resizedSize(width: 500, height: 375, shorterSide: 256) == (341, 256))
        XCTAssertTrue(PixelImage.resizedSize(width: 375, height: 500, shorterSide: 256) == (256, 341))
        XCTAssertTrue(PixelImage.resizedSize(width: 300, height: 300, shorterSide: 256) == (256, 256))
        XCTAssertTrue(PixelImage.resizedSize(width: 50, height: 30, shorterSide: 128) == (213, 128))
        let resized = grid.resized(shorterSide: 12)
        XCTAssertEqual([resized.width, resized.height], [20, 12])
    }

    func testCentreCropOriginRoundsHalfToEven() {
        XCTAssertTrue(PixelImage.centreCropOrigin(width: 341, height: 256, side: 224) == (58, 16))  // 58.5 → 58
        XCTAssertTrue(PixelImage.centreCropOrigin(width: 343, height: 256, side: 224) == (60, 16))  // 59.5 → 60
        XCTAssertTrue(PixelImage.centreCropOrigin(width: 224, height: 224, side: 224) == (0, 0))
    }

    func testCropTakesTheRegion() {
        let crop = grid.cropped(x: 7, y: 4, width: 10, height: 5)
        XCTAssertEqual([crop.width, crop.height], [10, 5])
        for y in 0..<5 { for x in 0..<10 {
            XCTAssertEqual([crop[x, y, 0], crop[x, y, 1]], [UInt8(x + 7), UInt8(y + 4)])
        } }
    }

    func testBoundingBoxCropRoundsAndClamps() throws {
        let box = try XCTUnwrap(grid.cropped(to: BoundingBox(x: 2.4, y: 3.6, width: 10.2, height: 5.0)))
        XCTAssertEqual([box.width, box.height, Int(box[0, 0, 0]), Int(box[0, 0, 1])], [11, 5, 2, 4])  // x 2…13, y 4…9
        let clamped = try XCTUnwrap(grid.cropped(to: BoundingBox(x: 45, y: 20, width: 30, height: 30)))
        XCTAssertEqual([clamped.width, clamped.height], [5, 10])
        XCTAssertNil(grid.cropped(to: BoundingBox(x: 60, y: 0, width: 5, height: 5)))
    }

    func testFlipMirrors() {
        let flipped = grid.flipped()
        for y in [0, 13, 29] { for x in [0, 1, 24, 49] {
            XCTAssertEqual(flipped[x, y, 0], grid[49 - x, y, 0])
            XCTAssertEqual(flipped[x, y, 1], grid[49 - x, y, 1])
        } }
        XCTAssertEqual(flipped.flipped(), grid)
    }

    func testResizeKeepsConstantsAndIdentity() {
        let grey = PixelImage(width: 40, height: 25) { _, _ in (77, 140, 203) }
        for (w, h) in [(13, 7), (80, 50), (40, 9), (3, 25)] {
            XCTAssertTrue(grey.resized(width: w, height: h).pixels.allSatisfy { [77, 140, 203].contains($0) }, "\(w)×\(h)")
        }
        XCTAssertEqual(grid.resized(width: 50, height: 30), grid)
    }

    func testDownscalingIsAntialiased() {
        // One bright column in four: a 4× reduction must average it (≈ 64), not sample it (0 or 255).
        let stripes = PixelImage(width: 64, height: 8) { x, _ in x % 4 == 0 ? (255, 255, 255) : (0, 0, 0) }
        let small = stripes.resized(width: 16, height: 8)
        for x in 1..<15 { XCTAssertEqual(Double(small[x, 3, 0]), 63.75, accuracy: 1.5, "column \(x)") }
    }

    func testWindowedResizeIsResizeThenCrop() {
        let picture = testPicture(width: 97, height: 61)
        for (w, h, window) in [(40, 25, (3, 2, 30, 20)), (150, 94, (0, 0, 150, 94)), (150, 94, (120, 70, 30, 24)),
                               (97, 30, (10, 5, 60, 20)), (50, 61, (0, 11, 50, 50)), (97, 61, (5, 6, 7, 8))] {
            XCTAssertEqual(picture.resized(width: w, height: h, window: window),
                           picture.resized(width: w, height: h).cropped(x: window.0, y: window.1, width: window.2, height: window.3),
                           "\(w)×\(h) window \(window)")
        }
    }

    func testUpscalingInterpolatesLinearly() {
        // Pillow's pixel-centre convention: output x samples source position (x + 0.5) / 2 − 0.5.
        let ramp = PixelImage(width: 4, height: 1) { x, _ in (UInt8(x * 80), 0, 0) }
        XCTAssertEqual((0..<8).map { Int(ramp.resized(width: 8, height: 1)[$0, 0, 0]) }, [0, 20, 60, 100, 140, 180, 220, 240])
    }
}

final class JPEGDatasetTransformTests: XCTestCase {
    func tinyCUB(_ geometry: ImageGeometry = ImageGeometry(resize: 32, crop: 24)) throws -> JPEGSplits {
        let dir = try temporaryDirectory(self)
        try Datasets.writeTinyCUB(to: dir)
        return try CUB200.load(directory: dir, geometry: geometry)
    }

    func testTrainingDrawsCoverCropsAndFlips() throws {
        let data = try tinyCUB().train
        var corners = Set<[Int]>(), flips = 0
        var rng = RNG(seed: 5)
        for _ in 0..<2000 {
            let d = data.draw(rng.next(), width: 40, height: 32, augmentation: .standard)
            corners.insert([d.x, d.y])
            flips += d.flip ? 1 : 0
        }
        XCTAssertEqual(corners, Set((0...16).flatMap { x in (0...8).map { [x, $0] } }))
        XCTAssertEqual(Double(flips) / 2000, 0.5, accuracy: 0.05)
        let test = data.draw(rng.next(), width: 40, height: 32, augmentation: .none)
        XCTAssertTrue(test == (8, 4, false))
    }

    func testTransformIsBoxCropResizeCropFlip() throws {
        let data = try tinyCUB().train
        for index in [0, 5] {
            let box = try XCTUnwrap(data.boxes[index])
            let expected = try XCTUnwrap(try JPEG.decode(path: data.paths[index]).cropped(to: box)).resized(shorterSide: 32)
            XCTAssertEqual(try data.resized(index), expected)
            XCTAssertEqual(min(expected.width, expected.height), 32)
            for bits: UInt64 in [0, 0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0] {
                let (x, y, flip) = data.draw(bits, width: expected.width, height: expected.height, augmentation: .standard)
                let crop = expected.cropped(x: x, y: y, width: 24, height: 24)
                XCTAssertEqual(try data.transformed(index, bits: bits, augmentation: .standard), flip ? crop.flipped() : crop)
            }
            let (cx, cy) = PixelImage.centreCropOrigin(width: expected.width, height: expected.height, side: 24)
            XCTAssertEqual(try data.transformed(index, bits: 99, augmentation: .none), expected.cropped(x: cx, y: cy, width: 24, height: 24))
        }
    }

    func testBatchIsImageNetNormalisedPlanar() throws {
        let data = try tinyCUB().test
        let tensor = try data.batch(indices: [2, 0], keys: [0, 0], augmentation: .none)
        XCTAssertEqual(tensor.shape, [2, 3, 24, 24])
        XCTAssertEqual(try data.batch(indices: [], keys: [], augmentation: .none).shape, [0, 3, 24, 24])
        let image = try data.transformed(0, bits: 0, augmentation: .none)
        let (mean, std): ([Float], [Float]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        for c in 0..<3 { for (x, y) in [(0, 0), (23, 5), (11, 17)] {
            let got = tensor.data[((1 * 3 + c) * 24 + y) * 24 + x]
            XCTAssertEqual(got, (Float(image[x, y, c]) / 255 - mean[c]) / std[c], accuracy: 1e-5)
        } }
    }
}
