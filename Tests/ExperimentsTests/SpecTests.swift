import Foundation
import Tensor
import XCTest
import Data
import NN
@testable import Experiments
import Training

final class SpecTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func spec(_ name: String) throws -> Spec { try Spec.load(root.appendingPathComponent("experiments/\(name).yaml").path) }
    /// Locations without CIFAR-10, so "auto" is Fashion-MNIST whatever this machine has.
    static let noCIFAR = DataLocations(cifar10: "/nonexistent", fashionMNIST: FashionMNIST.defaultDirectory)

    func testEverySpecInTheRepositoryDecodesUnderEveryProfile() throws {
        let dir = Self.root.appendingPathComponent("experiments")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertTrue(Set(files).isSuperset(of: ["table1.yaml", "table2.yaml", "table3.yaml", "smoke.yaml"]))
        for f in files {
            let spec = try Spec.load(dir.appendingPathComponent(f).path)
            for profile in spec.profiles.keys { XCTAssertFalse(try Grid(spec: spec, profile: profile, locations: Self.noCIFAR).runs.isEmpty) }
        }
    }

    /// Table 1's 120 cells map to fewer unique runs: shared baselines and teachers.
    /// Table 3 as the paper ran it: the student without ReLU before pooling; the activation-based AT
    /// cell learns from its own teacher (NIN-wide with BN, without ReLU before pooling), trained in
    /// the grid before it; grad-AT and KD (2017's form) from the 1M NIN-wide.
    func testTable3HasItsOwnATTeacher() throws {
        let grid = try Grid(spec: try Self.spec("table3"), profile: "smoke", locations: Self.noCIFAR)
        let byLabel = Dictionary(uniqueKeysWithValues: grid.cells.map { ($0.columnLabel, $0.runKey) })
        func run(_ label: String) throws -> PlannedRun { try XCTUnwrap(byLabel[label].flatMap(grid.run)) }
        func teacher(_ label: String) throws -> PlannedRun { try XCTUnwrap(try run(label).teacherKey.flatMap(grid.run)) }
        XCTAssertTrue(grid.cells.allSatisfy { grid.run($0.runKey).map { $0.config.student == "nin-thin-nobn-nopoolrelu" } ?? false })
        XCTAssertEqual(try teacher("activation-based AT").config.student, "nin-wide-nopoolrelu")
        XCTAssertEqual(try teacher("activation-based AT").config.method, .ce)
        XCTAssertEqual(try teacher("grad-based AT").config.student, "nin-wide")
        XCTAssertEqual(try teacher("KD").config.student, "nin-wide")
        XCTAssertEqual(try run("KD").config.method, .kd(temperature: 4, alpha: 0.9, form: .code2017))
        let order = grid.runs.map(\.key)
        XCTAssertLessThan(try XCTUnwrap(order.firstIndex(of: try teacher("activation-based AT").key)),
                          try XCTUnwrap(order.firstIndex(of: try run("activation-based AT").key)), "the teacher first")
        XCTAssertEqual(grid.runs.count, 8, "the student's six columns and two teachers (one seed)")
        // A column's own teacher only where the method learns from one, never on the teacher column.
        let bad = "name: x\nseeds: [0]\nrows: [{student: wrn-10-1, teacher: wrn-10-2}]\ncolumns: [{method: ce, teacher: wrn-16-1}]\n"
        XCTAssertThrowsError(try Spec.parse(bad, file: "x.yaml")) { e in XCTAssertTrue("\(e)".contains("columns[0].teacher"), "\(e)") }
    }

    func testTable1CellsDeduplicateIntoRuns() throws {
        let grid = try Grid(spec: try Self.spec("table1"), profile: "paper", locations: Self.noCIFAR)
        XCTAssertEqual(grid.cells.count, 120)
        // Per seed: 4 teachers + 2 more student baselines (nin-thin, wrn-16-1; wrn-16-2's is row 2's
        // teacher) + 4 rows × 4 distillation methods = 22.
        XCTAssertEqual(grid.runs.count, 110)
        print("table1: \(grid.cells.count) cells → \(grid.runs.count) unique runs")
        func key(_ row: Int, _ column: Int, seed: Int = 0) -> String {
            grid.cells.first { $0.row == row && $0.column == column && $0.seed == seed }!.runKey
        }
        XCTAssertEqual(key(1, 0), key(2, 0), "the WRN-16-1 baseline serves rows 2 and 3")
        XCTAssertEqual(key(1, 5), key(3, 0), "WRN-16-2 as row 2's teacher is row 4's student baseline")
        XCTAssertNotEqual(key(1, 1), key(2, 1), "AT from different teachers are different runs")
        XCTAssertNotEqual(key(1, 0, seed: 0), key(1, 0, seed: 1))
        // Teachers come before their students.
        let order = Dictionary(uniqueKeysWithValues: grid.runs.enumerated().map { ($1.key, $0) })
        for run in grid.runs { if let t = run.teacherKey { XCTAssertLessThan(order[t]!, order[run.key]!) } }
        // Shared across tables: Table 2's F_sum^2 is Table 1's AT on row 2.
        let t2 = try Grid(spec: try Self.spec("table2"), profile: "paper", locations: Self.noCIFAR)
        XCTAssertEqual(t2.cells.first { $0.row == 0 && $0.column == 2 && $0.seed == 3 }!.runKey, key(1, 1, seed: 3))
        XCTAssertEqual(t2.cells.first { $0.row == 0 && $0.column == 0 && $0.seed == 3 }!.runKey, key(1, 0, seed: 3))
    }

    /// The paired effects compare the runs of one seed within a row: their configurations differ
    /// in the method and the teacher only (the seed, subset, batches and schedule are the same),
    /// and the row's baseline column is cross-entropy on the row's student, the label's first part.
    func testRunsOfOneRowAndSeedDifferOnlyInMethodAndTeacher() throws {
        for name in ["table1", "table2", "table3", "smoke"] {
            let grid = try Grid(spec: try Self.spec(name), profile: name == "smoke" ? "smoke" : "quick",
                                locations: Self.noCIFAR)
            for cell in grid.cells where grid.spec.columns[cell.column].network == .student {
                let baseline = grid.cells.first { $0.row == cell.row && $0.seed == cell.seed && $0.column == 0 }!
                var config = grid.run(cell.runKey)!.config, base = grid.run(baseline.runKey)!.config
                XCTAssertEqual(base.method, .ce, name)
                XCTAssertEqual(base.student, String(cell.rowLabel.components(separatedBy: " ← ")[0]), name)
                XCTAssertEqual(config.seed, UInt64(cell.seed))
                config.method = .ce; config.teacher = nil; base.teacher = nil
                XCTAssertEqual(config, base, "\(name) row \(cell.row) column \(cell.column) seed \(cell.seed)")
            }
        }
    }

    func testIdentityIgnoresKeyOrderAndLabelsButNotHyperparameters() throws {
        let base = """
        name: t
        dataset: synthetic
        seeds: [0]
        training: {epochs: 3, batch_size: 10, learning_rate: 0.1}
        rows: [{student: wrn-10-1, teacher: wrn-10-2}]
        columns: [{label: AT, method: at, beta: 1000}]
        """
        let reordered = """
        columns: [{beta: 1000, method: at, label: "a different label"}]
        rows: [{teacher: wrn-10-2, student: wrn-10-1}]
        training: {learning_rate: 0.1, batch_size: 10, epochs: 3}
        seeds: [0]
        dataset: synthetic
        name: other-name
        """
        let changed = base.replacingOccurrences(of: "beta: 1000", with: "beta: 500")
        func keys(_ text: String) throws -> [String] { try Grid(spec: try Spec.parse(text, file: "t.yaml"), profile: "paper").runs.map(\.key) }
        XCTAssertEqual(try keys(base), try keys(reordered))
        XCTAssertNotEqual(try keys(base).last, try keys(changed).last)
        XCTAssertEqual(try keys(base).first, try keys(changed).first, "the teacher run does not depend on the student's β")
        XCTAssertEqual(try keys(base).first!.count, 16)
    }

    func testProfilesScaleTheProtocol() throws {
        let spec = try Self.spec("table1")
        let smoke = try Grid(spec: spec, profile: "smoke", locations: Self.noCIFAR)
        XCTAssertEqual(smoke.seeds, [0, 1])
        XCTAssertEqual(smoke.settings.epochs, 1)
        XCTAssertEqual(smoke.runs.count, 44)
        let paper = try Grid(spec: spec, profile: "paper", locations: Self.noCIFAR)
        XCTAssertEqual(paper.runs[0].config.milestones, [60, 120, 160])
        XCTAssertEqual(paper.datasets, [.fashionMNIST])
        XCTAssertThrowsError(try Grid(spec: spec, profile: "fast")) { e in
            XCTAssertTrue("\(e)".contains("no profile 'fast'") && "\(e)".contains("quick"), "\(e)")
        }
    }

    /// Run keys are content hashes of the resolved configuration and the data: a change to how a
    /// configuration encodes would orphan every stored run. The key without the data is pinned from
    /// a run recorded on 2026-12-02 (the smoke grid's first teacher), the one a database made before
    /// data fingerprints holds: the same configuration in the forms it computed (Kaiming's
    /// initialisation, reflect-101 padding) still has it. The keys of today's configuration (the
    /// official code's forms of January 2017, issue 18) and the synthetic data's fingerprint are
    /// pinned too.
    func testRunKeysAreStable() throws {
        let grid = try Grid(spec: try Self.spec("smoke"), profile: "smoke", locations: Self.noCIFAR)
        let teacher = try XCTUnwrap(grid.runs.first { $0.config.student == "wrn-10-2" && $0.config.seed == 0 })
        var older = teacher.config
        older.initialization = nil; older.paddingMode = nil
        XCTAssertEqual(try Grid.key(older, teacherKey: nil, data: nil).key, "ca024348dccc7bd0")
        XCTAssertEqual(try Grid.key(teacher.config, teacherKey: nil, data: nil).key, "c9f7dc6ed884180d")
        XCTAssertEqual(teacher.dataFingerprint.prefix(16), "\(SpecTests.syntheticFingerprint)")
        XCTAssertEqual(teacher.key, "121ff419f88a7c1e")
        XCTAssertTrue(teacher.identityJSON.contains("\"data\":\"\(teacher.dataFingerprint)\""))
    }

    /// The first 16 hex digits of the default synthetic data's fingerprint.
    static let syntheticFingerprint = "7a31f12d0499a0eb"

    func testSHA256KnownAnswers() {
        // Run keys are the first 16 hex digits of the identity's SHA-256 (NN's ContentHash).
        XCTAssertEqual(ContentHash.sha256(Data("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(ContentHash.sha256(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(ContentHash.sha256(Data(String(repeating: "a", count: 1000).utf8)).prefix(16), "41edece42d63e8d9")
    }

    /// Every decoding error names the file, the key path and the bad value, and lists what is accepted.
    func testDecodingErrorsNameFileKeyPathAndValue() {
        let good = """
        name: t
        seeds: [0, 1]
        rows:
          - {student: wrn-16-1, teacher: wrn-16-2}
        columns:
          - {label: AT, method: at, beta: 1000}
        """
        func error(_ text: String) -> String {
            do { _ = try Spec.parse(text, file: "bad.yaml"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(error(good), "no error")
        let cases: [(String, String, [String])] = [
            ("student: wrn-16-1,", "student: resnet-9,", ["bad.yaml:4", "rows[0].student", "resnet-9", "accepted", "wrn-16-1"]),
            ("teacher: wrn-16-2}", "teacher: wrn-15-2}", ["rows[0].teacher", "depth 15", "6n+4"]),
            ("method: at,", "method: fitnet,", ["bad.yaml:6", "columns[0].method", "'fitnet'", "at+kd"]),
            ("beta: 1000}", "beta: 1000, temperature: 4}", ["columns[0].temperature", "does not take 'temperature'", "it takes: beta"]),
            ("seeds: [0, 1]", "seeds: [0, one]", ["seeds[1]", "expected an integer", "'one'"]),
            ("seeds: [0, 1]", "seeds: []", ["seeds", "at least one seed"]),
            (", teacher: wrn-16-2}", "}", ["rows[0].teacher", "missing", "needs a teacher"]),
            ("name: t", "name: t\nprofiles: {quick: {epochs: zero}}", ["profiles.quick.epochs", "'zero'"]),
            ("name: t", "name: t\ndataset: imagenet21k", ["dataset", "'imagenet21k'", "fashion-mnist", "imagenet"]),
            ("name: t", "name: t\ntraining: {epochs: 10, learning_rat: 0.1}", ["training.learning_rat", "unknown key", "learning_rate"]),
            ("  - {label: AT, method: at, beta: 1000}", "  - at", ["columns[0]", "expected a mapping", "'at'"]),
        ]
        for (old, new, needles) in cases {
            let message = error(good.replacingOccurrences(of: old, with: new))
            for n in needles { XCTAssertTrue(message.contains(n), "'\(n)' not in: \(message)") }
            XCTAssertTrue(message.hasPrefix("bad.yaml"), message)
        }
        XCTAssertTrue(error("rows: [{student: wrn-16-1}]\nname: t\nseeds: [0]\ncolumns: []").contains("the grid is empty"))
        XCTAssertTrue(error("name: [unclosed").contains("not valid YAML"))
        XCTAssertTrue(error("").contains("empty"))
    }
}
