import Foundation
import XCTest
@testable import Data

final class CUBReaderTests: XCTestCase {
    func tinyCUB() throws -> String {
        let dir = try temporaryDirectory(self)
        try Datasets.writeTinyCUB(to: dir, config: TinyJPEGConfig(classes: 3, trainPerClass: 3, testPerClass: 2))
        return dir
    }

    func testReadsSplitsLabelsAndBoxes() throws {
        let dir = try tinyCUB()
        let splits = try CUB200.load(directory: dir)
        XCTAssertEqual(splits.train.count, 9)
        XCTAssertEqual(splits.test.count, 6)
        XCTAssertEqual(splits.numClasses, 3)
        XCTAssertEqual(splits.train.labelCounts, [3, 3, 3])
        XCTAssertEqual(splits.test.labels, [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(splits.train.classNames, ["001.Tiny_bird_1", "002.Tiny_bird_2", "003.Tiny_bird_3"])
        XCTAssertEqual(splits.train.geometry, .imageNet)
        XCTAssertEqual(splits.train.normalization, .imageNet)
        // Image id 4 is the first test image (class 1, 4th image); its box is line 4 of bounding_boxes.txt.
        let boxLine = try String(contentsOfFile: join(dir, "bounding_boxes.txt"), encoding: .utf8).split(separator: "\n")[3]
        let numbers = boxLine.split(separator: " ").dropFirst().map { Double($0)! }
        XCTAssertEqual(splits.test.boxes[0], BoundingBox(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3]))
        XCTAssertEqual(splits.test.boxSources[0], join(dir, "bounding_boxes.txt") + ":4")
        XCTAssertTrue(splits.test.paths[0].hasSuffix("images/001.Tiny_bird_1/Tiny_Bird_0004_4.jpg"), splits.test.paths[0])
        XCTAssertTrue(try CUB200.load(directory: dir, cropToBoundingBoxes: false).train.boxes.allSatisfy { $0 == nil })
        // Without classes.txt, the classes are CUB's 200, named by their image folders.
        try FileManager.default.removeItem(atPath: join(dir, "classes.txt"))
        let unnamed = try CUB200.load(directory: dir)
        XCTAssertEqual(unnamed.numClasses, 200)
        XCTAssertEqual(unnamed.train.classNames[1], "002.Tiny_bird_2")
        XCTAssertEqual(unnamed.train.classNames[3], "class 4")
    }

    func testMissingFolderSaysWhatToDownload() throws {
        let dir = join(try temporaryDirectory(self), "CUB_200_2011")
        assertDataError(try CUB200.load(directory: dir), mentions: dir, "CUB-200-2011", "CUB_200_2011.tgz", "CUB_DIR")
        let locations = DataLocations.fromEnvironment(["CUB_DIR": dir, "INDOOR67_DIR": "/elsewhere"])
        XCTAssertEqual(locations.cub200, dir)
        XCTAssertEqual(locations.indoor67, "/elsewhere")
        XCTAssertEqual(DataLocations.fromEnvironment([:]).cub200, "data/CUB_200_2011")
        assertDataError(try Datasets.open(.cub200, locations: locations), mentions: dir, "CUB_DIR")
        assertDataError(try Datasets.inMemory(.cub200, locations: locations), mentions: "cub200", "JPEG files")
    }

    func testClassIDOutOfRangeNamesFileAndLine() throws {
        let dir = try tinyCUB()
        let path = join(dir, "image_class_labels.txt")
        try replaceLine(path, 5, with: "5 4")
        assertDataError(try CUB200.load(directory: dir), mentions: "\(path):5:", "class id 4", "1…3")
        try replaceLine(path, 5, with: "5 zero")
        assertDataError(try CUB200.load(directory: dir), mentions: "\(path):5:", "not an integer")
    }

    func testMalformedLinesNameFileAndLine() throws {
        for (name, line, text, fragment) in [
            ("images.txt", 2, "two", "expected '<image id> <path>'"),
            ("images.txt", 3, "1 001.Tiny_bird_1/again.jpg", "repeats line 1"),
            ("train_test_split.txt", 6, "6 2", "neither 1 (train) nor 0 (test)"),
            ("train_test_split.txt", 6, "99 1", "image id 99 is not in images.txt"),
            ("bounding_boxes.txt", 7, "7 1.0 2.0 -3.0 4.0", "width > 0"),
            ("bounding_boxes.txt", 7, "7 1.0 2.0 3.0", "expected '<image id> <x> <y> <width> <height>'"),
            ("classes.txt", 2, "7 002.Tiny_bird_2", "expected '2 <class name>'"),
        ] {
            let dir = try tinyCUB()
            let path = join(dir, name)
            try replaceLine(path, line, with: text)
            assertDataError(try CUB200.load(directory: dir), mentions: "\(path):\(line):", fragment)
        }
    }

    func testImageMissingFromATableIsNamed() throws {
        let dir = try tinyCUB()
        let path = join(dir, "bounding_boxes.txt")
        try replaceLine(path, 8, with: "")
        assertDataError(try CUB200.load(directory: dir), mentions: path, "no line for image id 8", "images.txt line 8")
        assertDataError(try CUB200.load(directory: join(dir, "nothing")), mentions: "CUB_DIR")
        try FileManager.default.removeItem(atPath: path)
        assertDataError(try CUB200.load(directory: dir), mentions: path, "not found")
    }

    func testListedImageThatDoesNotExist() throws {
        let dir = try tinyCUB()
        let image = join(dir, "images/002.Tiny_bird_2/Tiny_Bird_0002_7.jpg")
        try FileManager.default.removeItem(atPath: image)
        assertDataError(try CUB200.load(directory: dir), mentions: join(dir, "images.txt") + ":7:", image, "does not exist")
        XCTAssertEqual(try CUB200.load(directory: dir, checkFiles: false).train.count, 9)
    }

    func testCorruptJPEGFailsTheBatchNamingTheFile() throws {
        let dir = try tinyCUB()
        let image = join(dir, "images/003.Tiny_bird_3/Tiny_Bird_0001_11.jpg")
        let bytes = try contents(image)
        try Foundation.Data(bytes.prefix(200)).write(to: URL(fileURLWithPath: image))
        let splits = try CUB200.load(directory: dir, geometry: ImageGeometry(resize: 32, crop: 24))
        assertDataError(try splits.train.validate(), mentions: image, "cannot decode")
        let epoch = Batcher(splits.train, batchSize: 9, shuffle: false, augmentation: .standard).epoch(0)
        assertDataError(try epoch.batch(0), mentions: image)
        // A box entirely outside its image is an error naming the image and the box's line.
        try Foundation.Data(bytes).write(to: URL(fileURLWithPath: image))
        try replaceLine(join(dir, "bounding_boxes.txt"), 11, with: "11 500.0 500.0 10.0 10.0")
        let outside = try CUB200.load(directory: dir, geometry: ImageGeometry(resize: 32, crop: 24))
        assertDataError(try outside.train.validate(), mentions: image, "bounding_boxes.txt:11", "outside")
    }
}

final class Indoor67ReaderTests: XCTestCase {
    func tinyIndoor() throws -> String {
        let dir = try temporaryDirectory(self)
        try Datasets.writeTinyIndoor67(to: dir, config: TinyJPEGConfig(classes: 3, trainPerClass: 2, testPerClass: 1))
        return dir
    }

    func testReadsListsWithSortedScenes() throws {
        let dir = try tinyIndoor()
        // A scene whose name sorts first, listed last, with Windows line ends.
        try FileManager.default.createDirectory(atPath: join(dir, "Images/airport_inside"), withIntermediateDirectories: true)
        try JPEG.write(testPicture(width: 20, height: 30), to: join(dir, "Images/airport_inside/a 1.jpg"))
        let train = try String(contentsOfFile: join(dir, "TrainImages.txt"), encoding: .utf8)
        try (train.replacingOccurrences(of: "\n", with: "\r\n") + "airport_inside/a 1.jpg\r\n")
            .write(toFile: join(dir, "TrainImages.txt"), atomically: true, encoding: .utf8)
        let splits = try Indoor67.load(directory: dir)
        XCTAssertEqual(splits.train.classNames, ["airport_inside", "scene00", "scene01", "scene02"])
        XCTAssertEqual(splits.train.count, 7)
        XCTAssertEqual(splits.train.labels, [1, 1, 2, 2, 3, 3, 0])
        XCTAssertEqual(splits.test.labels, [1, 2, 3])
        XCTAssertEqual(splits.train.paths.last, join(dir, "Images/airport_inside/a 1.jpg"))
        XCTAssertTrue(splits.train.boxes.allSatisfy { $0 == nil })
        let opened = try Datasets.open(.indoor67, locations: DataLocations(indoor67: dir), geometry: .quick)
        XCTAssertEqual(opened.test.batchSide, ImageGeometry.quick.crop)
        XCTAssertEqual(opened.test.count, 3)
    }

    func testMissingFolderSaysWhatToDownload() throws {
        let dir = join(try temporaryDirectory(self), "indoor67")
        assertDataError(try Indoor67.load(directory: dir), mentions: dir, "Indoor-67", "indoorCVPR_09.tar", "INDOOR67_DIR")
        let partial = try tinyIndoor()
        try FileManager.default.removeItem(atPath: join(partial, "TestImages.txt"))
        assertDataError(try Indoor67.load(directory: partial), mentions: join(partial, "TestImages.txt"), "not found")
    }

    func testBadLinesNameFileAndLine() throws {
        for (line, text, fragment) in [
            (2, "kitchen/int474.jpg", "scene 'kitchen' is not a folder"),
            (3, "no_slash.jpg", "expected '<scene>/<file>.jpg'"),
            (1, "scene00/../../etc.jpg", "expected '<scene>/<file>.jpg'"),
            (4, "scene01/missing.jpg", "does not exist"),
        ] {
            let dir = try tinyIndoor()
            let path = join(dir, "TrainImages.txt")
            try replaceLine(path, line, with: text)
            assertDataError(try Indoor67.load(directory: dir), mentions: "\(path):\(line):", fragment)
        }
    }

    func testCorruptJPEGFailsTheBatchNamingTheFile() throws {
        let dir = try tinyIndoor()
        let image = join(dir, "Images/scene01/img_2.jpg")
        try Foundation.Data("GIF89a, not a JPEG".utf8).write(to: URL(fileURLWithPath: image))
        let test = try Indoor67.load(directory: dir, geometry: ImageGeometry(resize: 32, crop: 24)).test
        assertDataError(try Batcher(test, batchSize: 2, shuffle: false).epoch(0).batch(0), mentions: image, "cannot decode")
    }
}

final class ImageNetReaderTests: XCTestCase {
    /// A generated folder: 3 classes, 2 training and 1 validation image each, declaring its counts.
    func tinyImageNet() throws -> String {
        let dir = try temporaryDirectory(self)
        try Datasets.writeTinyImageNet(to: dir, config: TinyJPEGConfig(classes: 3, trainPerClass: 2, testPerClass: 1))
        return dir
    }

    func testReadsClassFoldersInWordNetOrder() throws {
        let dir = try tinyImageNet()
        let splits = try ImageNet.load(directory: dir, geometry: ImageGeometry(resize: 40, crop: 32))
        XCTAssertEqual(splits.dataset, .imagenet)
        XCTAssertEqual(splits.train.classNames, ["n00000000", "n00000001", "n00000002"])
        XCTAssertEqual(splits.train.labels, [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(splits.test.labels, [0, 1, 2])
        XCTAssertTrue(splits.test.paths[1].hasSuffix("val/n00000001/n00000001_2.JPEG"), splits.test.paths[1])
        XCTAssertEqual(splits.train.randomCrop, .scaleAndAspect)
        XCTAssertEqual(try Datasets.open(.imagenet, locations: DataLocations(imagenet: dir)).train.count, 6)
        XCTAssertEqual(DataLocations.fromEnvironment(["IMAGENET_DIR": dir]).imagenet, dir)
        XCTAssertEqual(DataLocations.fromEnvironment([:]).imagenet, "data/imagenet")
    }

    func testMissingFolderSaysWhatToDownload() throws {
        let dir = join(try temporaryDirectory(self), "imagenet")
        assertDataError(try ImageNet.load(directory: dir), mentions: dir, "ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar",
                        "IMAGENET_DIR", "val/<wnid>/")
        assertDataError(try Datasets.inMemory(.imagenet), mentions: "imagenet", "JPEG files")
    }

    /// Without the generated folder's own counts, ILSVRC2012's apply: 3 class folders are an
    /// incomplete extraction; so are missing images once the counts are right.
    func testAnIncompleteExtractionFails() throws {
        let dir = try tinyImageNet()
        let marker = join(dir, ImageNet.generatedMarker)
        try FileManager.default.removeItem(atPath: marker)
        assertDataError(try ImageNet.load(directory: dir), mentions: join(dir, "train"), "holds 3 class folders", "1000")
        try "classes 3\ntrain 6\nval 3\n".write(toFile: marker, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: join(dir, "train/n00000002/n00000002_1.JPEG"))
        assertDataError(try ImageNet.load(directory: dir), mentions: join(dir, "train"), "holds 5 images", "has 6")
        try "classes 3\ntrain six\n".write(toFile: marker, atomically: true, encoding: .utf8)
        assertDataError(try ImageNet.load(directory: dir), mentions: marker + ":2", "train six")
    }

    func testFoldersThatAreNotTheUsualLayoutAreNamed() throws {
        var dir = try tinyImageNet()
        try FileManager.default.createDirectory(atPath: join(dir, "train/cats"), withIntermediateDirectories: true)
        assertDataError(try ImageNet.load(directory: dir), mentions: join(dir, "train/cats"), "WordNet id")

        // Validation images not yet sorted into class folders.
        dir = try tinyImageNet()
        let val = join(dir, "val")
        for wnid in try FileManager.default.contentsOfDirectory(atPath: val) {
            for file in try FileManager.default.contentsOfDirectory(atPath: join(val, wnid)) {
                try FileManager.default.moveItem(atPath: join(val, "\(wnid)/\(file)"), toPath: join(val, file))
            }
            try FileManager.default.removeItem(atPath: join(val, wnid))
        }
        assertDataError(try ImageNet.load(directory: dir), mentions: val, "3 files but no class folders", "val/<wnid>/")

        // A class folder of train/ that val/ lacks.
        dir = try tinyImageNet()
        try FileManager.default.removeItem(atPath: join(dir, "val/n00000001"))
        assertDataError(try ImageNet.load(directory: dir), mentions: join(dir, "val"), "no folder n00000001")
    }

    /// Training crops: 8–100% of the area at aspect 3/4–4/3 (up to rounding), inside the image,
    /// the same for the same bits; a batch holds `crop`-sided squares; tests take the centre.
    func testScaleAndAspectCropsFollowTheOfficialRecipe() throws {
        var areas: [Double] = []
        for k in 0..<2000 {
            let bits = mix64(UInt64(k))
            guard let r = JPEGDataset.scaleAndAspectWindow(bits, width: 120, height: 90) else { XCTFail("no window for \(k)"); continue }
            XCTAssertTrue(r.x >= 0 && r.y >= 0 && r.x + r.width <= 120 && r.y + r.height <= 90, "\(r)")
            let aspect = Double(r.width) / Double(r.height)
            XCTAssertTrue(aspect >= 0.75 * 0.95 && aspect <= 4.0 / 3.0 / 0.95, "aspect \(aspect) of \(r)")
            areas.append(Double(r.width * r.height) / (120 * 90))
            XCTAssertTrue(r == JPEGDataset.scaleAndAspectWindow(bits, width: 120, height: 90)!)
        }
        XCTAssertGreaterThanOrEqual(areas.min()!, 0.07)
        XCTAssertLessThanOrEqual(areas.max()!, 1.0)
        // Uniform in area over attempts that fit: the mean lies well inside (0.08, 1).
        let mean = areas.reduce(0, +) / Double(areas.count)
        XCTAssertTrue(mean > 0.4 && mean < 0.6, "mean area \(mean)")
        // Too thin an image for any window of 8% at aspect 3/4 or more: none in ten attempts.
        XCTAssertNil(JPEGDataset.scaleAndAspectWindow(1, width: 400, height: 1))

        let splits = try ImageNet.load(directory: try tinyImageNet(), geometry: ImageGeometry(resize: 40, crop: 32))
        let crop = try splits.train.transformed(0, bits: 12345, augmentation: Augmentation(flip: true, crop: true))
        XCTAssertEqual([crop.width, crop.height], [32, 32])
        let centre = try splits.test.transformed(0, bits: 12345, augmentation: Augmentation(flip: false, crop: false))
        let resized = try splits.test.resized(0)
        let (x, y) = PixelImage.centreCropOrigin(width: resized.width, height: resized.height, side: 32)
        XCTAssertEqual(centre, resized.cropped(x: x, y: y, width: 32, height: 32))
    }
}
