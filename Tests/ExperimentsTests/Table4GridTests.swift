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

    func testRunKeysOfTheOlderGridsAreUnchanged() throws {
        let grid = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke", locations: SpecTests.noCIFAR)
        var legacy: [String: String] = [:]
        for run in grid.runs {
            legacy[run.key] = try Grid.key(run.config, teacherKey: run.teacherKey.flatMap { legacy[$0] }, data: nil).key
        }
        XCTAssertEqual(grid.runs.map { legacy[$0.key] }, Self.olderSmokeKeys)
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
}
