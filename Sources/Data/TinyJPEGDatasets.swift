// Tiny CUB-200-2011 and MIT Indoor-67 folders, written with libjpeg, for tests and for the
// end-to-end smoke run of Table 4 (which needs data without the 1 GB downloads).
import Foundation
import Tensor

/// The size of a tiny JPEG dataset.
public struct TinyJPEGConfig: Sendable, Equatable {
    public var classes: Int
    public var trainPerClass: Int
    public var testPerClass: Int
    /// Image sides are drawn from this range (both width and height).
    public var sides: ClosedRange<Int>
    public var seed: UInt64

    public init(classes: Int = 4, trainPerClass: Int = 3, testPerClass: Int = 2, sides: ClosedRange<Int> = 40...72,
                seed: UInt64 = 0) {
        precondition(classes >= 1 && trainPerClass >= 0 && testPerClass >= 0 && sides.lowerBound >= 8,
                     "TinyJPEGConfig: need ≥ 1 class, counts ≥ 0 and sides of at least 8 pixels")
        self.classes = classes
        self.trainPerClass = trainPerClass
        self.testPerClass = testPerClass
        self.sides = sides
        self.seed = seed
    }

    var perClass: Int { trainPerClass + testPerClass }

    /// Image `n` of class `label`: a noisy background with, inside `box`, a stripe pattern
    /// whose colour and direction depend on the class (so a network can learn the classes).
    public func picture(_ label: Int, _ n: Int, width: Int, height: Int, box: (x: Int, y: Int, w: Int, h: Int)) -> PixelImage {
        var rng = RNG(seed: mixSeed(mixSeed(seed, label), n))
        let hue = Double(label) / Double(classes) * 2 * .pi
        let colour = (0..<3).map { 128 + 100 * cos(hue + Double($0) * 2 * .pi / 3) }
        let vertical = label % 2 == 0
        let noise = (0..<(width * height)).map { _ in Double(rng.uniform(-20, 20)) }
        return PixelImage(width: width, height: height) { x, y in
            let inside = x >= box.x && x < box.x + box.w && y >= box.y && y < box.y + box.h
            let stripe = ((vertical ? x : y) / 3) % 2 == 0 ? 1.0 : 0.6
            let v = (0..<3).map { c -> UInt8 in
                let base = inside ? colour[c] * stripe : 110
                return UInt8(min(max(base + noise[y * width + x], 0), 255).rounded())
            }
            return (v[0], v[1], v[2])
        }
    }

    func size(_ rng: inout RNG) -> (Int, Int) {
        let span = UInt64(sides.count)
        return (sides.lowerBound + Int(rng.next() % span), sides.lowerBound + Int(rng.next() % span))
    }
}

extension Datasets {
    /// Writes the tiny version of a JPEG dataset at `directory`, laid out so that `open(id)`
    /// reads it when `directory` is its location.
    public static func writeTinyJPEG(_ id: DatasetID, to directory: String, config: TinyJPEGConfig = TinyJPEGConfig()) throws {
        switch id {
        case .cub200: try writeTinyCUB(to: directory, config: config)
        case .indoor67: try writeTinyIndoor67(to: directory, config: config)
        case .imagenet: try writeTinyImageNet(to: directory, config: config)
        case .cifar10, .fashionMNIST, .synthetic: throw DataError.notJPEG(name: id.rawValue)
        }
    }

    /// Writes a tiny CUB-200-2011 folder at `directory`: `images.txt`, `train_test_split.txt`,
    /// `image_class_labels.txt`, `bounding_boxes.txt`, `classes.txt` and
    /// `images/<NNN.Class_name>/<file>.jpg`, with `config.classes` classes of
    /// `trainPerClass + testPerClass` images each (the first `trainPerClass` of each class for training).
    public static func writeTinyCUB(to directory: String, config: TinyJPEGConfig = TinyJPEGConfig()) throws {
        let fm = FileManager.default
        let root = directory as NSString
        var images = "", split = "", labels = "", boxes = "", classes = ""
        var rng = RNG(seed: mixSeed(config.seed, -7))
        var id = 0
        for c in 0..<config.classes {
            let folder = String(format: "%03d.Tiny_bird_%d", c + 1, c + 1)
            classes += "\(c + 1) \(folder)\n"
            try fm.createDirectory(atPath: root.appendingPathComponent("images/\(folder)"), withIntermediateDirectories: true)
            for n in 0..<config.perClass {
                id += 1
                let (w, h) = config.size(&rng)
                let bw = w / 2 + Int(rng.next() % UInt64(w / 2)), bh = h / 2 + Int(rng.next() % UInt64(h / 2))
                let bx = Int(rng.next() % UInt64(w - bw + 1)), by = Int(rng.next() % UInt64(h - bh + 1))
                let name = "\(folder)/Tiny_Bird_\(String(format: "%04d", n + 1))_\(id).jpg"
                try JPEG.write(config.picture(c, n, width: w, height: h, box: (bx, by, bw, bh)),
                               to: root.appendingPathComponent("images/\(name)"))
                images += "\(id) \(name)\n"
                split += "\(id) \(n < config.trainPerClass ? 1 : 0)\n"
                labels += "\(id) \(c + 1)\n"
                boxes += "\(id) \(Double(bx)) \(Double(by)) \(Double(bw)) \(Double(bh))\n"
            }
        }
        for (name, text) in [("images.txt", images), ("train_test_split.txt", split), ("image_class_labels.txt", labels),
                             ("bounding_boxes.txt", boxes), ("classes.txt", classes)] {
            try text.write(toFile: root.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    /// Writes a tiny MIT Indoor-67 folder at `directory`: `Images/<scene>/<file>.jpg`,
    /// `TrainImages.txt` and `TestImages.txt`, with `config.classes` scenes.
    public static func writeTinyIndoor67(to directory: String, config: TinyJPEGConfig = TinyJPEGConfig()) throws {
        let fm = FileManager.default
        let root = directory as NSString
        var train = "", test = ""
        var rng = RNG(seed: mixSeed(config.seed, -67))
        for c in 0..<config.classes {
            let scene = "scene\(String(format: "%02d", c))"
            try fm.createDirectory(atPath: root.appendingPathComponent("Images/\(scene)"), withIntermediateDirectories: true)
            for n in 0..<config.perClass {
                let (w, h) = config.size(&rng)
                let name = "\(scene)/img_\(n).jpg"
                try JPEG.write(config.picture(c, n, width: w, height: h, box: (0, 0, w, h)),
                               to: root.appendingPathComponent("Images/\(name)"))
                if n < config.trainPerClass { train += name + "\n" } else { test += name + "\n" }
            }
        }
        try train.write(toFile: root.appendingPathComponent("TrainImages.txt"), atomically: true, encoding: .utf8)
        try test.write(toFile: root.appendingPathComponent("TestImages.txt"), atomically: true, encoding: .utf8)
    }

    /// Writes a tiny ImageNet folder at `directory`: `train/<wnid>/` and `val/<wnid>/` for
    /// `config.classes` made-up WordNet ids (n00000000, n00000001, …), with `trainPerClass` and
    /// `testPerClass` images each, and the `ImageNet.generatedMarker` file that declares its counts.
    public static func writeTinyImageNet(to directory: String, config: TinyJPEGConfig = TinyJPEGConfig()) throws {
        let fm = FileManager.default
        let root = directory as NSString
        var rng = RNG(seed: mixSeed(config.seed, -1000))
        for c in 0..<config.classes {
            let wnid = String(format: "n%08d", c)
            for split in ["train", "val"] {
                try fm.createDirectory(atPath: root.appendingPathComponent("\(split)/\(wnid)"), withIntermediateDirectories: true)
            }
            for n in 0..<config.perClass {
                let (w, h) = config.size(&rng)
                let split = n < config.trainPerClass ? "train" : "val"
                try JPEG.write(config.picture(c, n, width: w, height: h, box: (0, 0, w, h)),
                               to: root.appendingPathComponent("\(split)/\(wnid)/\(wnid)_\(n).JPEG"))
            }
        }
        try "classes \(config.classes)\ntrain \(config.classes * config.trainPerClass)\nval \(config.classes * config.testPerClass)\n"
            .write(toFile: root.appendingPathComponent(ImageNet.generatedMarker), atomically: true, encoding: .utf8)
    }
}
