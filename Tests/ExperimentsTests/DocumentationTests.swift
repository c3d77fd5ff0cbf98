import Foundation
import XCTest
@testable import Experiments
import Training

/// The repository's documents agree with the code: the README's assumptions section is what
/// `Assumptions` renders, docs/protocol.md lists every assumption, the README's profile table
/// states what the specs run, and every citation of the protocol names a section it has.
final class DocumentationTests: XCTestCase {
    static let root = SpecTests.root
    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The lines of `markdown` from the `## …` heading that starts with `heading` up to the next
    /// `## ` heading (excluded) or the end.
    static func section(_ markdown: String, _ heading: String) -> [Substring]? {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(heading) }) else { return nil }
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix("## ") } ?? lines.endIndex
        return Array(lines[start..<end])
    }

    /// `ATX_UPDATE_README=1 swift test --filter DocumentationTests` rewrites the section.
    func testReadmeAssumptionsSectionIsRenderedFromTheList() throws {
        let url = Self.root.appendingPathComponent("README.md")
        let readme = try String(contentsOf: url, encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try XCTUnwrap(lines.firstIndex { $0 == Assumptions.readmeHeading }, "README.md has no \(Assumptions.readmeHeading)")
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix("## ") } ?? lines.endIndex
        let current = lines[start..<end].joined(separator: "\n").trimmingCharacters(in: .newlines)
        let expected = Assumptions.readmeSection()
        if current != expected.trimmingCharacters(in: .newlines), ProcessInfo.processInfo.environment["ATX_UPDATE_README"] == "1" {
            let before = lines[..<start].joined(separator: "\n"), after = lines[end...].joined(separator: "\n")
            try (before + "\n" + expected + (after.isEmpty ? "" : "\n" + after)).write(to: url, atomically: true, encoding: .utf8)
            return
        }
        XCTAssertEqual(current, expected.trimmingCharacters(in: .newlines), """
            README.md's "Deviations and assumptions" differs from Sources/Experiments/Assumptions.swift; \
            rewrite it with ATX_UPDATE_README=1 swift test --filter DocumentationTests
            """)
        for line in expected.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 95, String(line)) }
    }

    func testProtocolListsEveryAssumptionOnce() throws {
        let section = try XCTUnwrap(Self.section(try Self.text("docs/protocol.md"), "## 8. Assumptions")).joined(separator: "\n")
        let listed = section.split(separator: "\n").filter { $0.hasPrefix("- [`") }.map { line in
            String(line.dropFirst(4).prefix { $0 != "`" })
        }
        XCTAssertEqual(listed, Assumptions.all.map(\.id), "docs/protocol.md §8 lists the assumptions of Assumptions.all, in order")
        XCTAssertEqual(Set(Assumptions.all.map(\.id)).count, Assumptions.all.count, "ids are unique")
    }

    /// The footnotes of the repository's grids, word for word (they were written by hand before
    /// the list existed; the list must not change them by accident; issue 18 changed KD, β's decay
    /// and Table 3's networks and recipe).
    func testFootnotesOfTheRepositoryGrids() throws {
        let table1 = try Grid(spec: try SpecTests.spec("table1"), profile: "quick", locations: SpecTests.noCIFAR)
        XCTAssertEqual(Tables.assumptions(table1), [
            "CIFAR-10 was not present, so the grid ran on Fashion-MNIST (28×28 padded to 32×32, one channel, normalised with its own training-set mean 0.2190 and std 0.3318).",
            "NIN pools are 3×3 with stride 2 and padding 1 (max after block 0, average excluding padding after block 1), giving the original's 16×16 and 8×8 sizes.",
            "NIN-thin widths are unpublished; we use [86, 72, 43 | 86, 86, 86 | 86, 86, 86] (0.2M parameters).",
            "KD: T = 4, α = 0.9, the soft term normalised as the official code of January 2017 (α·T²·2/K on the batch-mean KL).",
            "F-ActT weight β_F = 1000 (the paper gives none), drops with the learning rate, ×0.2 at each of its drops, with 1×1 adapters where channel counts differ.",
            "AT+KD's β = 1000 drops with the learning rate, ×0.2 at each of its drops; the paper decays it but publishes no schedule.",
            "The learning-rate drops scale with the epochs (at 0.3, 0.6 and 0.8 of them, as 60, 120, 160 of 200).",
            "Test error is measured on a stratified subset of the test set (the same for every run).",
        ])
        let table3 = try Grid(spec: try SpecTests.spec("table3"), profile: "paper", locations: SpecTests.noCIFAR)
        XCTAssertEqual(Tables.assumptions(table3), [
            "CIFAR-10 was not present, so the grid ran on Fashion-MNIST (28×28 padded to 32×32, one channel, normalised with its own training-set mean 0.2190 and std 0.3318).",
            "NIN pools are 3×3 with stride 2 and padding 1 (max after block 0, average excluding padding after block 1), giving the original's 16×16 and 8×8 sizes.",
            "NIN-thin widths are unpublished; we use [86, 72, 43 | 86, 86, 86 | 86, 86, 86] (0.2M parameters).",
            "Without ReLU before pooling, a block's pooled last convolution feeds the next block unchanged, and AT reads that convolution's output.",
            "KD: T = 4, α = 0.9, the soft term normalised as the official code of January 2017 (α·T²·2/K on the batch-mean KL).",
            "min-l2 (double backprop) weight β = 2000 (unpublished).",
            "Gradient-based AT weight β = 2000 (unpublished).",
            "Symmetry-norm weight β = 2000 (unpublished).",
            "Learning rate 0.01 (the paper gives none; in our trial the student without BN diverged at 0.03 and above); both teachers are trained in the grid with the students' flips-only, no-weight-decay recipe; the paper reports single runs, we report the median over the seeds.",
        ])
        let smoke = try Grid(spec: try SpecTests.spec("smoke"), profile: "smoke")
        XCTAssertEqual(Tables.assumptions(smoke), [
            "KD: T = 4, α = 0.9, the soft term normalised as the official code of January 2017 (α·T²·2/K on the batch-mean KL).",
            "The learning-rate drops scale with the epochs (at 0.3, 0.6 and 0.8 of them, as 60, 120, 160 of 200).",
            "Test error is measured on a stratified subset of the test set (the same for every run).",
        ])
    }

    /// README's profile table (epochs, learning-rate drops, training and test images, seeds) is
    /// what experiments/table1.yaml runs under each profile.
    func testReadmeProfileTableDescribesTable1() throws {
        let readme = try Self.text("README.md")
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `") }.compactMap { line -> [String]? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return cells.count >= 7 ? cells : nil
        }
        let spec = try SpecTests.spec("table1")
        var checked: [String] = []
        for cells in rows {
            let profile = String(cells[0].dropFirst().prefix { $0 != "`" })
            guard spec.profiles[profile] != nil else { continue }
            let grid = try Grid(spec: spec, profile: profile, locations: SpecTests.noCIFAR)
            let s = grid.settings
            func numbers(_ text: String) -> [Int] {
                text.replacingOccurrences(of: ",", with: "").split { !$0.isNumber }.compactMap { Int($0) }
            }
            // "15 (drops at 5, 9, 12)" or "200 (lr drops at 60, 120, 160)" or "1".
            let epochs = numbers(cells[1])
            XCTAssertEqual(epochs.first, s.epochs, "\(profile): epochs")
            XCTAssertEqual(Array(epochs.dropFirst()), RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones),
                           "\(profile): learning-rate drops in README (\(cells[1]))")
            // "all", "40", or "1,000 (100 per class)".
            func images(_ text: String) -> Int? { text == "all" ? nil : numbers(text).first }
            XCTAssertEqual(images(cells[2]), s.trainSubset, "\(profile): training images")
            XCTAssertEqual(images(cells[3]), s.testSubset, "\(profile): test images")
            XCTAssertEqual(Int(cells[4]), grid.seeds.count, "\(profile): seeds")
            // "110 runs, …"
            XCTAssertEqual(numbers(cells[5]).first, grid.runs.count, "\(profile): Table 1 runs")
            checked.append(profile)
        }
        XCTAssertEqual(Set(checked), Set(spec.profiles.keys), "README's profile table has one row per profile of table1.yaml")
    }

    /// A fresh clone stands on its own: nothing cites the specification outside the repository,
    /// and every citation of docs/protocol.md names a section it has.
    func testCitationsOfTheProtocolNameItsSections() throws {
        let protocolText = try Self.text("docs/protocol.md")
        let sections = Set(protocolText.split(separator: "\n").filter { $0.hasPrefix("## ") }.compactMap { Int($0.dropFirst(3).prefix { $0.isNumber }) })
        XCTAssertEqual(sections, Set(1...9))
        let outside = "PAPER" + ".md"
        let marker = "docs/protocol.md" + " §"   // split, so this file does not cite itself
        var cited = 0
        let fm = FileManager.default
        var files = ["README.md", "Makefile"]
        for dir in ["Sources", "Tests", "scripts", "experiments"] {
            let base = Self.root.appendingPathComponent(dir)
            for case let path as String in fm.enumerator(atPath: base.path)! where !path.contains("Golden/") {
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: base.appendingPathComponent(path).path, isDirectory: &isDir), !isDir.boolValue {
                    files.append("\(dir)/\(path)")
                }
            }
        }
        for file in files {
            guard let text = try? Self.text(file) else { continue }
            XCTAssertFalse(text.contains(outside), "\(file) cites \(outside); cite docs/protocol.md instead")
            var rest = Substring(text)
            while let r = rest.range(of: marker) {
                rest = rest[r.upperBound...]
                let n = Int(rest.prefix { $0.isNumber })
                XCTAssertTrue(n.map(sections.contains) ?? false, "\(file) cites \(marker)\(rest.prefix(3)), which it does not have")
                cited += 1
            }
        }
        XCTAssertGreaterThan(cited, 5)
    }
}
