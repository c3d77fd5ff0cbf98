// Readers for the two fine-tuning datasets of the paper's Table 4: CUB-200-2011 (birds, cropped
// to their bounding boxes) and MIT Indoor-67 (scenes). Both give file lists; the JPEGs are
// decoded only when a batch asks for them. Every bad line names its file and line.
import Foundation

/// The non-empty lines of a text file with their 1-based line numbers, whitespace-trimmed.
func listLines(_ path: String) throws -> [(line: Int, text: String)] {
    let text = String(decoding: try readWhole(path), as: UTF8.self)
    var lines: [(Int, String)] = []
    // "\r\n" is one Character in Swift, so split on newline Characters, not on "\n".
    for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { lines.append((i + 1, trimmed)) }
    }
    return lines
}

func isDirectory(_ path: String) -> Bool {
    var directory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
}

func isFile(_ path: String) -> Bool {
    var directory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && !directory.boolValue
}

/// CUB-200-2011 (Wah et al. 2011): 11,788 bird photographs of 200 species, 5,994 for training
/// and 5,794 for testing, each with one bounding box. Layout of the unpacked `CUB_200_2011.tgz`:
/// `images.txt` ("<id> <class folder>/<file>.jpg"), `train_test_split.txt` ("<id> <1 train | 0 test>"),
/// `image_class_labels.txt` ("<id> <class 1…200>"), `bounding_boxes.txt` ("<id> <x> <y> <width> <height>"),
/// `classes.txt` ("<class> <name>", optional here) and `images/<class folder>/<file>.jpg`.
public enum CUB200 {
    public static let defaultDirectory = "data/CUB_200_2011"
    public static let numClasses = 200
    public static let trainCount = 5994
    public static let testCount = 5794
    public static let help = "download CUB_200_2011.tgz (https://www.vision.caltech.edu/datasets/cub_200_2011/) and "
        + "unpack it so that data/CUB_200_2011/images.txt and data/CUB_200_2011/images/ exist, or set CUB_DIR to the "
        + "unpacked CUB_200_2011 folder"

    /// Reads both splits from `directory`. With `cropToBoundingBoxes` (the paper's protocol) every
    /// image is cropped to its box before resizing. With `checkFiles`, every listed image must exist.
    /// Classes are `classes.txt` when present (else 200, named by their image folders).
    public static func load(directory: String, geometry: ImageGeometry = .imageNet, cropToBoundingBoxes: Bool = true,
                            checkFiles: Bool = true) throws -> JPEGSplits {
        let file = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        let imagesList = file("images.txt")
        guard isFile(imagesList) else { throw DataError.missingDataset(name: "CUB-200-2011", directory: directory, help: help) }

        // images.txt: id → (relative path, line)
        var order: [Int] = []
        var images: [Int: (path: String, line: Int)] = [:]
        for (line, text) in try listLines(imagesList) {
            let parts = text.split(maxSplits: 1, whereSeparator: \.isWhitespace)
            guard parts.count == 2, let id = Int(parts[0]) else {
                throw DataError.badLine(path: imagesList, line: line, reason: "expected '<image id> <path>', got '\(text)'")
            }
            let path = parts[1].trimmingCharacters(in: .whitespaces)
            if let first = images[id] {
                throw DataError.badLine(path: imagesList, line: line, reason: "image id \(id) repeats line \(first.line)")
            }
            images[id] = (path, line)
            order.append(id)
        }

        // The per-image tables: id → fields, each id of images.txt exactly once.
        func table(_ name: String, fields: Int, format: String) throws -> [Int: (fields: [Substring], line: Int)] {
            let path = file(name)
            var rows: [Int: ([Substring], Int)] = [:]
            for (line, text) in try listLines(path) {
                let parts = text.split(whereSeparator: \.isWhitespace)
                guard parts.count == fields + 1, let id = Int(parts[0]) else {
                    throw DataError.badLine(path: path, line: line, reason: "expected '\(format)', got '\(text)'")
                }
                guard images[id] != nil else {
                    throw DataError.badLine(path: path, line: line, reason: "image id \(id) is not in images.txt")
                }
                if let first = rows[id] {
                    throw DataError.badLine(path: path, line: line, reason: "image id \(id) repeats line \(first.1)")
                }
                rows[id] = (Array(parts[1...]), line)
            }
            if let missing = order.first(where: { rows[$0] == nil }) {
                throw DataError.malformed(path: path, reason: "no line for image id \(missing) (images.txt line \(images[missing]!.line))")
            }
            return rows.mapValues { (fields: $0.0, line: $0.1) }
        }

        let classesPath = file("classes.txt")
        var classNames: [String]? = nil
        if isFile(classesPath) {
            var names: [String] = []
            for (line, text) in try listLines(classesPath) {
                let parts = text.split(maxSplits: 1, whereSeparator: \.isWhitespace)
                guard parts.count == 2, Int(parts[0]) == names.count + 1 else {
                    throw DataError.badLine(path: classesPath, line: line,
                                            reason: "expected '\(names.count + 1) <class name>', got '\(text)'")
                }
                names.append(String(parts[1]))
            }
            classNames = names
        }
        let classCount = classNames?.count ?? numClasses

        let labelsPath = file("image_class_labels.txt"), splitPath = file("train_test_split.txt")
        let boxesPath = file("bounding_boxes.txt")
        let labelRows = try table("image_class_labels.txt", fields: 1, format: "<image id> <class id>")
        let splitRows = try table("train_test_split.txt", fields: 1, format: "<image id> <1 train | 0 test>")
        let boxRows = try table("bounding_boxes.txt", fields: 4, format: "<image id> <x> <y> <width> <height>")

        var names = classNames ?? [String](repeating: "", count: classCount)
        var train: (paths: [String], labels: [Int], boxes: [BoundingBox?], sources: [String]) = ([], [], [], [])
        var test = train
        for id in order {
            let (relative, line) = images[id]!
            let (labelFields, labelLine) = labelRows[id]!
            guard let classID = Int(labelFields[0]) else {
                throw DataError.badLine(path: labelsPath, line: labelLine, reason: "class id '\(labelFields[0])' is not an integer")
            }
            guard (1...classCount).contains(classID) else {
                throw DataError.badLine(path: labelsPath, line: labelLine, reason: "class id \(classID) is outside 1…\(classCount)")
            }
            let (splitFields, splitLine) = splitRows[id]!
            guard let flag = Int(splitFields[0]), flag == 0 || flag == 1 else {
                throw DataError.badLine(path: splitPath, line: splitLine, reason: "split flag '\(splitFields[0])' is neither 1 (train) nor 0 (test)")
            }
            let (boxFields, boxLine) = boxRows[id]!
            let numbers = boxFields.compactMap { Double($0) }
            guard numbers.count == 4, numbers.allSatisfy(\.isFinite), numbers[0] >= 0, numbers[1] >= 0,
                  numbers[2] > 0, numbers[3] > 0 else {
                throw DataError.badLine(path: boxesPath, line: boxLine,
                                        reason: "bounding box '\(boxFields.joined(separator: " "))' is not x ≥ 0, y ≥ 0, width > 0, height > 0")
            }
            let path = file("images/" + relative)
            if checkFiles && !isFile(path) { throw DataError.listedFileMissing(path: imagesList, line: line, file: path) }
            if classNames == nil && names[classID - 1].isEmpty {
                names[classID - 1] = relative.split(separator: "/").dropLast().last.map(String.init) ?? "class \(classID)"
            }
            let box = cropToBoundingBoxes ? BoundingBox(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3]) : nil
            let entry = (path, classID - 1, box, "\(boxesPath):\(boxLine)")
            if flag == 1 {
                train.paths.append(entry.0); train.labels.append(entry.1); train.boxes.append(entry.2); train.sources.append(entry.3)
            } else {
                test.paths.append(entry.0); test.labels.append(entry.1); test.boxes.append(entry.2); test.sources.append(entry.3)
            }
        }
        for c in names.indices where names[c].isEmpty { names[c] = "class \(c + 1)" }
        func dataset(_ split: Split, _ s: (paths: [String], labels: [Int], boxes: [BoundingBox?], sources: [String])) -> JPEGDataset {
            JPEGDataset(name: "cub200 \(split)", paths: s.paths, labels: s.labels, boxes: s.boxes, boxSources: s.sources,
                        classNames: names, geometry: geometry)
        }
        return JPEGSplits(dataset: .cub200, train: dataset(.train, train), test: dataset(.test, test))
    }
}

/// MIT Indoor-67 (Quattoni & Torralba 2009): 67 indoor scene categories, with the official
/// split of 80 training and 20 test images per class (5,360 / 1,340). Layout: `Images/<scene>/…jpg`
/// (the unpacked `indoorCVPR_09.tar`) beside `TrainImages.txt` and `TestImages.txt`, whose lines
/// name images relative to `Images/` ("kitchen/int474.jpg"). Classes are the sorted scene folders.
public enum Indoor67 {
    public static let defaultDirectory = "data/indoor67"
    public static let numClasses = 67
    public static let trainCount = 5360
    public static let testCount = 1340
    public static let help = "download indoorCVPR_09.tar, TrainImages.txt and TestImages.txt "
        + "(https://web.mit.edu/torralba/www/indoor.html); unpack the tar into data/indoor67 so that "
        + "data/indoor67/Images/<scene>/ exist, put the two lists beside Images/, or set INDOOR67_DIR to that folder"

    /// Reads both splits from `directory`; with `checkFiles`, every listed image must exist.
    public static func load(directory: String, geometry: ImageGeometry = .imageNet, checkFiles: Bool = true) throws -> JPEGSplits {
        let file = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        let imagesDirectory = file("Images")
        guard isDirectory(imagesDirectory) else {
            throw DataError.missingDataset(name: "MIT Indoor-67", directory: directory, help: help)
        }
        let scenes = try FileManager.default.contentsOfDirectory(atPath: imagesDirectory)
            .filter { !$0.hasPrefix(".") && isDirectory((imagesDirectory as NSString).appendingPathComponent($0)) }
            .sorted()
        guard !scenes.isEmpty else { throw DataError.malformed(path: imagesDirectory, reason: "holds no scene folders") }
        let classOf = Dictionary(uniqueKeysWithValues: scenes.enumerated().map { ($1, $0) })

        func split(_ split: Split, list name: String) throws -> JPEGDataset {
            let listPath = file(name)
            guard isFile(listPath) else { throw DataError.missingFile(path: listPath) }
            var paths: [String] = [], labels: [Int] = []
            for (line, text) in try listLines(listPath) {
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count >= 2, !parts.contains(where: { $0.isEmpty || $0 == ".." }) else {
                    throw DataError.badLine(path: listPath, line: line, reason: "expected '<scene>/<file>.jpg', got '\(text)'")
                }
                guard let label = classOf[String(parts[0])] else {
                    throw DataError.badLine(path: listPath, line: line,
                                            reason: "scene '\(parts[0])' is not a folder of \(imagesDirectory)")
                }
                let path = (imagesDirectory as NSString).appendingPathComponent(text)
                if checkFiles && !isFile(path) { throw DataError.listedFileMissing(path: listPath, line: line, file: path) }
                paths.append(path)
                labels.append(label)
            }
            return JPEGDataset(name: "indoor67 \(split)", paths: paths, labels: labels, classNames: scenes, geometry: geometry)
        }
        return JPEGSplits(dataset: .indoor67, train: try split(.train, list: "TrainImages.txt"),
                          test: try split(.test, list: "TestImages.txt"))
    }
}

/// ImageNet, ILSVRC2012 (Russakovsky et al. 2015): 1000 classes, 1,281,167 training and 50,000
/// validation images, in the folder layout most training code reads: `train/<wnid>/*.JPEG` and
/// `val/<wnid>/*.JPEG`, the validation images sorted into the same class folders. Classes are the
/// sorted WordNet ids (`n01440764` …), which is also the class order of torchvision's pretrained
/// weights. The paper's Table 5 tests on the validation set, as does atx ("test" here).
public enum ImageNet {
    public static let defaultDirectory = "data/imagenet"
    public static let numClasses = 1000
    public static let trainCount = 1_281_167
    public static let testCount = 50_000
    /// A folder written by `Datasets.writeTinyImageNet` declares itself in this file ("train N",
    /// "val M"): its counts replace ILSVRC2012's, which any other folder must have.
    public static let generatedMarker = "ATX-GENERATED"
    public static let help = "download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar (https://image-net.org, "
        + "after registering); unpack the training tar into data/imagenet/train and each class tar inside it into "
        + "train/<wnid>/, unpack the validation tar into data/imagenet/val and sort it into val/<wnid>/ folders (README "
        + "\"Table 5: ImageNet\" gives the commands), or set IMAGENET_DIR to the folder holding train/ and val/"

    /// Reads both splits from `directory`. Every class folder of `train/` must be a WordNet id
    /// and `val/` must have the same folders; the image counts must be ILSVRC2012's (or the
    /// generated folder's own, `generatedMarker`), so an incomplete extraction fails here.
    public static func load(directory: String, geometry: ImageGeometry = .imageNet) throws -> JPEGSplits {
        let file = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        let trainDirectory = file("train"), valDirectory = file("val")
        guard isDirectory(trainDirectory), isDirectory(valDirectory) else {
            throw DataError.missingDataset(name: "ImageNet (ILSVRC2012)", directory: directory, help: help)
        }
        var expected = (train: trainCount, val: testCount, classes: numClasses)
        let marker = file(generatedMarker)
        if isFile(marker) {
            var counts: [String: Int] = [:]
            for (line, text) in try listLines(marker) {
                let parts = text.split(whereSeparator: \.isWhitespace)
                guard parts.count == 2, ["train", "val", "classes"].contains(parts[0]), let n = Int(parts[1]), n >= 1 else {
                    throw DataError.badLine(path: marker, line: line, reason: "expected 'train N', 'val N' or 'classes N', got '\(text)'")
                }
                counts[String(parts[0])] = n
            }
            guard let t = counts["train"], let v = counts["val"], let c = counts["classes"] else {
                throw DataError.malformed(path: marker, reason: "needs the lines 'classes N', 'train N' and 'val N'")
            }
            expected = (t, v, c)
        }

        func folders(_ path: String) throws -> (classes: [String], loose: [String]) {
            let entries = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
            let classes = entries.filter { isDirectory((path as NSString).appendingPathComponent($0)) }
            return (classes, entries.filter { !classes.contains($0) })
        }
        let (wnids, _) = try folders(trainDirectory)
        if let bad = wnids.first(where: { !isWordNetID($0) }) {
            throw DataError.malformed(path: (trainDirectory as NSString).appendingPathComponent(bad),
                                      reason: "is not a WordNet id folder (n followed by 8 digits, e.g. n01440764)")
        }
        guard wnids.count == expected.classes else {
            throw DataError.malformed(path: trainDirectory, reason: "holds \(wnids.count) class folders; ILSVRC2012 has "
                                      + "\(expected.classes): the extraction is incomplete (\(help))")
        }
        let (valFolders, valLoose) = try folders(valDirectory)
        if valFolders.isEmpty && !valLoose.isEmpty {
            throw DataError.malformed(path: valDirectory, reason: "holds \(valLoose.count) files but no class folders: sort the "
                                      + "validation images into val/<wnid>/ (README \"Table 5: ImageNet\")")
        }
        guard valFolders == wnids else {
            let missing = wnids.first { !valFolders.contains($0) }, extra = valFolders.first { !wnids.contains($0) }
            throw DataError.malformed(path: valDirectory, reason: missing.map { "has no folder \($0), which train/ has" }
                                      ?? "has folder \(extra ?? "?"), which train/ does not")
        }

        func split(_ split: Split, _ root: String, expected count: Int) throws -> JPEGDataset {
            var paths: [String] = [], labels: [Int] = []
            for (label, wnid) in wnids.enumerated() {
                let folder = (root as NSString).appendingPathComponent(wnid)
                for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where !name.hasPrefix(".") {
                    paths.append((folder as NSString).appendingPathComponent(name))
                    labels.append(label)
                }
            }
            guard paths.count == count else {
                throw DataError.malformed(path: root, reason: "holds \(paths.count) images; ILSVRC2012's \(split == .train ? "training" : "validation") "
                                          + "set has \(count): the extraction is incomplete or the folder holds other files")
            }
            return JPEGDataset(name: "imagenet \(split)", paths: paths, labels: labels, classNames: wnids, geometry: geometry,
                               randomCrop: .scaleAndAspect)
        }
        return JPEGSplits(dataset: .imagenet, train: try split(.train, trainDirectory, expected: expected.train),
                          test: try split(.test, valDirectory, expected: expected.val))
    }

    /// "n" followed by 8 digits.
    static func isWordNetID(_ name: String) -> Bool {
        name.count == 9 && name.first == "n" && name.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }
}
