// Table 4's grid: per-row datasets, the weights' content hash in the run identity (not its path),
// freezing and image size in the configuration, and run keys of the older grids unchanged.
import Foundation
import Tensor
import XCTest
import Data
@testable import Experiments
import NN
import Training

final class Table4GridTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atx-t4-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// Stand-ins for the weights: the grid only hashes them.
    func writeWeights(_ dir: URL, _ contents: String = "a") throws {
        for depth in [18, 34] {
            try Data("\(contents)\(depth)".utf8).write(to: dir.appendingPathComponent("resnet\(depth)-imagenet.safetensors"))
        }
    }

    /// The smoke grid's keys without the data, as computed before the fine-tuning fields existed
    /// (commit 3bba491): the new optional fields are left out of the encoding, so they are
    /// byte-identical, and a database of then resolves the grid to them (`DataIdentityTests`).
    static let olderSmokeKeys = ["ca024348dccc7bd0", "257bdccadc2a6588", "4a012034b4032bfb", "27a7171f9754240f",
                                 "a49265ddd0ba611c", "8dd4b197c531fc3f", "b9936ca2cd258a2b", "677bda3346306554"]

    /// The keys without the data of `grid`'s runs, in order (students follow their teacher's).
    static func legacyKeys(_ grid: Grid) throws -> [String] {
        var legacy: [String: String] = [:]
        for run in grid.runs {
            legacy[run.key] = try Grid.key(run.config, teacherKey: run.teacherKey.flatMap { legacy[$0] }, data: nil).key
        }
        return grid.runs.map { legacy[$0.key] ?? "" }
    }

    /// The smoke grid's runs now compute the official code's forms of January 2017 (a WRN's
    /// initialisation, the crops' padding, KD's normalisation): other computations, so other keys.
    /// The same configurations in the forms the older runs computed (Kaiming, reflect-101, KD of
    /// 2018) have exactly the older keys, so those runs stay what they were and are never reused
    /// as the new ones.
    func testOlderRunsKeepTheirKeysInTheFormsTheyComputed() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        var older: [String: String] = [:]
        for (i, (run, key)) in zip(grid.runs, try Self.legacyKeys(grid)).enumerated() {
            XCTAssertEqual(run.config.initialization, .code2017)
            XCTAssertEqual(run.config.paddingMode, .symmetric)
            var old = run.config
            old.initialization = nil; old.paddingMode = nil
            if case .kd(let t, let a, _) = old.method { old.method = .kd(temperature: t, alpha: a, form: .code2018) }
            let oldKey = try Grid.key(old, teacherKey: run.teacherKey.flatMap { older[$0] }, data: nil).key
            older[run.key] = oldKey
            XCTAssertEqual(oldKey, Self.olderSmokeKeys[i], "\(run.config.student) \(run.config.method.name) in the older forms")
            XCTAssertNotEqual(key, Self.olderSmokeKeys[i], "\(run.config.student) \(run.config.method.name) now")
        }
        for run in grid.runs {
            for field in ["pretrained", "freezing", "geometry", "groups"] { XCTAssertFalse(run.identityJSON.contains(field), field) }
        }
        XCTAssertEqual(grid.datasets, [.synthetic])
    }

    func testTable4GridRowsTeachersWeightsAndIdentity() throws {
        let weights = try temporaryDirectory()
        try writeWeights(weights)
        let spec = try SpecTests.spec("table4")
        let grid = try Grid(spec: spec, profile: "paper", weightsDirectory: weights.path)
        XCTAssertEqual(grid.rowDatasets, [.cub200, .indoor67])
        XCTAssertEqual(grid.datasets, [.cub200, .indoor67])
        XCTAssertEqual(grid.cells.count, 8)
        XCTAssertEqual(grid.runs.count, 8, "per task: the teacher, then ce, KD and AT students")
        XCTAssertTrue(grid.missingWeights.isEmpty)
        let hash18 = ContentHash.sha256(Data("a18".utf8)), hash34 = ContentHash.sha256(Data("a34".utf8))
        for run in grid.runs {
            let c = run.config
            XCTAssertEqual(c.freezing, Freezing(batchNorm: true, stem: true, groups: [0]))
            XCTAssertEqual(c.geometry, ImageGeometry(resize: 256, crop: 224))
            XCTAssertEqual(c.pretrained?.sha256, c.student == "resnet-18" ? hash18 : hash34)
            XCTAssertEqual(c.epochs, 30); XCTAssertEqual(c.batchSize, 32); XCTAssertEqual(c.learningRate, 0.01)
            XCTAssertEqual(c.milestones, [15, 23]); XCTAssertEqual(c.lrDecay, 0.1)
            if let t = run.teacherKey {
                let teacher = try XCTUnwrap(grid.run(t))
                XCTAssertEqual(teacher.config.student, "resnet-34")
                XCTAssertEqual(teacher.config.dataset, c.dataset, "the teacher is fine-tuned on the student's task")
                XCTAssertEqual(teacher.config.seed, c.seed)
            }
            if case .at(_, _, let groups) = c.method { XCTAssertEqual(groups, [2, 3]) }
            // The stored configuration decodes back for the worker, the file path included.
            XCTAssertEqual(try Worker.decodeConfig(run.identityJSON), c)
            XCTAssertTrue(run.identityJSON.contains(weights.path))
        }

        // The same weights elsewhere: the same keys. Other weights: other keys.
        let moved = try temporaryDirectory()
        try writeWeights(moved)
        XCTAssertEqual(try Grid(spec: spec, profile: "paper", weightsDirectory: moved.path).runs.map(\.key), grid.runs.map(\.key))
        let other = try temporaryDirectory()
        try writeWeights(other, "b")
        let otherKeys = try Grid(spec: spec, profile: "paper", weightsDirectory: other.path).runs.map(\.key)
        XCTAssertTrue(Set(otherKeys).isDisjoint(with: grid.runs.map(\.key)))
        // The smoke profile's image size is in the identity too.
        let smoke = try Grid(spec: spec, profile: "smoke", weightsDirectory: weights.path)
        XCTAssertEqual(smoke.runs.first?.config.geometry, ImageGeometry(resize: 72, crop: 64))
        XCTAssertTrue(Set(smoke.runs.map(\.key)).isDisjoint(with: grid.runs.map(\.key)))
    }

    /// Without weights or datasets the grid still plans, and says what is missing and what to do.
    func testMissingInputsSayWhatToDownloadAndWhere() throws {
        let empty = try temporaryDirectory()
        let grid = try Grid(spec: try SpecTests.spec("table4"), profile: "paper", weightsDirectory: empty.path)
        XCTAssertEqual(grid.missingWeights.count, 2)
        let missing = grid.missingInputs(locations: DataLocations(cub200: empty.appendingPathComponent("cub").path,
                                                                  indoor67: empty.appendingPathComponent("indoor").path))
        XCTAssertEqual(missing.count, 4, "\(missing)")
        let text = missing.joined(separator: "\n")
        for needle in ["scripts/export-torchvision --arch resnet18 --weights imagenet", "resnet34", "ATX_WEIGHTS_DIR",
                       "CUB_200_2011.tgz", "CUB_DIR", "indoorCVPR_09.tar", "INDOOR67_DIR"] {
            XCTAssertTrue(text.contains(needle), "no '\(needle)' in: \(text)")
        }
    }

    func testSpecRejectsBadFineTuningKeys() throws {
        let base = try String(contentsOf: SpecTests.root.appendingPathComponent("experiments/table4.yaml"), encoding: .utf8)
        for (from, to, message) in [("groups: [2, 3]}", "groups: []}", "distinct"),
                                    ("image: {resize: 256, crop: 224}", "image: {resize: 200, crop: 224}", "must not exceed"),
                                    ("dataset: cub200}", "dataset: birds}", "accepted"),
                                    ("{label: KD, method: kd,", "{label: KD, method: kd, groups: [1],", "does not take groups")] {
            XCTAssertThrowsError(try Spec.parse(base.replacingOccurrences(of: from, with: to), file: "t4.yaml"), message) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
        }
    }

    /// Table 5: ResNet-18 from scratch, its teacher the pretrained ResNet-34 evaluated once (0
    /// epochs, seed 0, whole training split, no freezing) for every seed; AT on the last two
    /// groups; ImageNet's crops. A spec whose pretrained teachers have no weights is refused.
    func testTable5TeacherIsThePretrainedWeightsEvaluatedOnce() throws {
        let weights = try temporaryDirectory()
        try writeWeights(weights)
        var spec = try SpecTests.spec("table5")
        XCTAssertEqual(spec.teachers, .pretrained)
        spec.seeds = [0, 1]
        let grid = try Grid(spec: spec, profile: "paper", weightsDirectory: weights.path)
        XCTAssertEqual(grid.datasets, [.imagenet])
        XCTAssertEqual(grid.cells.count, 6)
        XCTAssertEqual(grid.runs.count, 5, "one teacher run for both seeds, then ce and AT per seed")
        let teachers = grid.runs.filter { $0.config.student == "resnet-34" }
        XCTAssertEqual(teachers.count, 1)
        let teacher = teachers[0].config
        XCTAssertEqual(teacher.epochs, 0); XCTAssertEqual(teacher.seed, 0); XCTAssertEqual(teacher.milestones, [])
        XCTAssertNil(teacher.trainSubset); XCTAssertNil(teacher.freezing)
        XCTAssertEqual(teacher.pretrained?.sha256, ContentHash.sha256(Data("a34".utf8)))
        for run in grid.runs where run.config.student == "resnet-18" {
            let c = run.config
            XCTAssertNil(c.pretrained, "the student is trained from scratch")
            XCTAssertEqual(c.epochs, 100); XCTAssertEqual(c.batchSize, 256); XCTAssertEqual(c.milestones, [30, 60, 90])
            XCTAssertEqual(c.lrDecay, 0.1); XCTAssertEqual(c.weightDecay, 1e-4)
            XCTAssertEqual(c.geometry, .imageNet)
            if case .at(.sum2, 1000, let groups) = c.method {
                XCTAssertEqual(groups, [2, 3])
                XCTAssertEqual(run.teacherKey, teachers[0].key)
            } else {
                XCTAssertEqual(c.method, .ce)
            }
        }
        XCTAssertEqual(grid.cells.filter { $0.columnLabel == "ResNet-34 (teacher)" }.map(\.runKey), [teachers[0].key, teachers[0].key])
        XCTAssertEqual(grid.cells.filter { $0.columnLabel == "ResNet-18" }.map(\.paperError), [30.4, 30.4])

        let text = try String(contentsOfFile: spec.file, encoding: .utf8)
        let noWeights = text.replacingOccurrences(of: "    resnet-34: data/weights/resnet34-imagenet.safetensors\n", with: "")
            .replacingOccurrences(of: "  pretrained:\n", with: "")
        XCTAssertThrowsError(try Spec.parse(noWeights, file: "t5.yaml")) { e in
            XCTAssertTrue("\(e)".contains("t5.yaml") && "\(e)".contains("teacher") && "\(e)".contains("resnet-34"), "\(e)")
        }
        XCTAssertThrowsError(try Spec.parse(text.replacingOccurrences(of: "teacher: pretrained", with: "teacher: borrowed"), file: "t5.yaml")) { e in
            XCTAssertTrue("\(e)".contains("'borrowed'") && "\(e)".contains("same-seed, pretrained"), "\(e)")
        }
    }
}
