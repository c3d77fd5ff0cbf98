import Data
@testable import Experiments
import NN
@testable import Report
import Store
import XCTest

final class MarkdownTests: XCTestCase {
    func testTable1PartialGridGolden() {
        let markdown = Report.markdown(Fixture.table1())
        assertGolden(markdown, "table1.md")
        // The partial cells, independently of the golden file.
        XCTAssertTrue(markdown.contains("| NIN-thin, 0.2M | NIN-wide, 1M | 8.55 | 8.05 (3/5) | 7.55 |"))
        XCTAssertTrue(markdown.contains("| 8.55 (3/5, 1 failed) |"))
        XCTAssertTrue(markdown.contains("| 9.05 | — | 8.05 |\n"), "the AT+KD cell of row 3 has no done run")
        XCTAssertTrue(markdown.contains("| — (2 failed) |"))
        XCTAssertTrue(markdown.contains("| +0.04 (3/5, 1 failed) |"), "a difference says how many seeds it stands for")
    }

    /// The effect section against numbers worked out by hand (see `Fixture.handComputed`).
    func testEffectsWorkedOutByHandGolden() {
        let markdown = Report.markdown(Fixture.handComputed())
        assertGolden(markdown, "effects.md")
        let row = "| WRN-16-1, 0.2M | WRN-16-2, 0.7M | baseline "
            + "| -0.70 [-1.13, -0.27] ✓, 3/3 better, p = 0.25; paper -0.84, needs ~3 seeds "
            + "| -0.05 [-1.96, +1.86], 1/2 better, p = 1 (2/3 paired, 1 failed); paper -0.26, needs ~8 seeds "
            + "| -0.10 [-3.91, +3.71], 1/2 better, p = 1 (2/3 paired); paper -1.36, needs ~4 seeds "
            + "| — (3 failed); paper -1.26 "
            + "| -2.00 [-2.25, -1.75] ✓, 3/3 better, p = 0.25; paper -2.46, needs ~2 seeds |"
        XCTAssertTrue(markdown.contains(row), "the effect row")
        XCTAssertTrue(markdown.contains("**Verdict:** 3 of 3 methods with paired seeds (of 4) beat the baseline (student) "
            + "here (interval excludes 0 for 1); the paper: 4 of 4."))
        XCTAssertTrue(markdown.contains("](plots/table1-quick-effects.svg)"))
    }

    /// The smoke profile has one seed: every effect cell is filled, and says it has no interval.
    func testOneSeedEffectsSayThereIsNoInterval() {
        let input = Fixture.input(name: "table1", title: "Table 1, one seed", rows: Fixture.table1Rows, columns: Fixture.table1Columns,
                                  seeds: [0], profile: "smoke", dataset: .fashionMNIST, training: Fixture.training(epochs: 1),
                                  error: { r, c, _ in 50 + Double(r) - 2.5 * Double(c % 3) })
        let markdown = Report.markdown(input)
        XCTAssertTrue(markdown.contains("Only one seed is paired in each cell, so there is no interval"))
        let section = markdown.components(separatedBy: "## Effect of each method")[1].components(separatedBy: "\n## ")[0]
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| NIN") || $0.hasPrefix("| WRN") }
        XCTAssertEqual(rows.count, 4)
        for row in rows {
            let cells = row.split(separator: "|").dropFirst(3).map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(cells.count, 5, String(row))
            for cell in cells { XCTAssertTrue(cell.contains("/1 better, no interval; paper ") && cell.hasSuffix(", one seed: cannot tell the seeds needed"), cell) }
        }
        XCTAssertTrue(section.contains("| -2.50, 1/1 better, no interval; paper -0.84, one seed: cannot tell the seeds needed |"), "WRN-16-1 ← WRN-16-2, AT")
        XCTAssertTrue(section.contains("**Verdict:** AT beats the baseline (student) in 4 of 4 rows here (one seed: no intervals); "
            + "the paper: 4 of 4. F-ActT: 4 of 4; the paper: 4 of 4. KD: 0 of 4; the paper: 4 of 4."))
    }

    func testEffectMarks() {
        func effect(_ mean: Double, _ low: Double?, _ high: Double?, paired: Int = 3) -> CellEffect {
            CellEffect(grid: "g", rowIndex: 0, columnIndex: 1, rowLabel: "a", columnLabel: "b", baselineColumn: 0,
                       baselineLabel: "student", seeds: 3, done: 3, failed: 0, baselineDone: 3, baselineFailed: 0,
                       seedsPaired: paired, meanDifference: mean, sdDifference: nil, tQuantile: nil, ciLow: low, ciHigh: high,
                       seedsBetter: mean < 0 ? paired : 0, seedsWorse: mean > 0 ? paired : 0)
        }
        XCTAssertEqual(Report.effectCell(effect(-0.5, -0.9, -0.1), paper: -0.84, seeds: 3), "-0.50 [-0.90, -0.10] ✓, 3/3 better; paper -0.84")
        XCTAssertEqual(Report.effectCell(effect(0.5, 0.1, 0.9), paper: -0.84, seeds: 3), "+0.50 [+0.10, +0.90] ✗, 0/3 better; paper -0.84")
        XCTAssertEqual(Report.effectCell(effect(-0.5, -0.9, 0.1), paper: -0.84, seeds: 3), "-0.50 [-0.90, +0.10], 3/3 better; paper -0.84")
        XCTAssertEqual(Report.effectCell(effect(-0.5, -0.9, -0.1), paper: nil, seeds: 3), "-0.50 [-0.90, -0.10] *, 3/3 better")
        XCTAssertEqual(Report.effectCell(effect(2.5, nil, nil, paired: 1), paper: -0.45, seeds: 1),
                       "+2.50, 0/1 better, no interval; paper -0.45, one seed: cannot tell the seeds needed")
        var tested = effect(-0.5, -0.9, -0.1)
        tested.pSignFlip = 0.25
        tested.seedsNeeded = 9
        XCTAssertEqual(Report.effectCell(tested, paper: -0.84, seeds: 3), "-0.50 [-0.90, -0.10] ✓, 3/3 better, p = 0.25; paper -0.84, needs ~9 seeds")
        tested.seedsNeeded = 1234
        XCTAssertEqual(Report.effectCell(tested, paper: -0.1, seeds: 3), "-0.50 [-0.90, -0.10] ✓, 3/3 better, p = 0.25; paper -0.10, needs ~1,234 seeds")
        XCTAssertEqual(Format.pValue(0.0625), "0.0625")
        XCTAssertEqual(Format.pValue(1), "1")
        XCTAssertEqual(Format.pValue(2 / 65536), "3.1e-05")
    }

    func testTable2TwoPartGolden() {
        assertGolden(Report.markdown(Fixture.table2()), "table2.md")
    }

    func testTable3MethodErrorGolden() {
        assertGolden(Report.markdown(Fixture.table3()), "table3.md")
    }

    /// Table 5 in the paper's layout: a line per model, top-1 and top-5 together; the paper has no
    /// number for the teacher.
    func testTable5TopOneAndFiveGolden() {
        let md = Report.markdown(Fixture.table5())
        assertGolden(md, "table5.md")
        XCTAssertTrue(md.contains("| ResNet-18-ResNet-34-AT | 29.61, 10.24 |"), md)
        XCTAssertTrue(md.contains("| ResNet-18-ResNet-34-AT | 29.3, 10.0 |"), "the paper's top-1, top-5")
        XCTAssertTrue(md.contains("| ResNet-18-ResNet-34-AT | +0.31, +0.24 |"), "both differences")
        XCTAssertTrue(md.contains("| ResNet-34 (teacher) | — |"), "no paper number for the teacher")
        XCTAssertFalse(md.contains("Not comparable"), "the paper profile on ImageNet")
    }

    func testGenericGridGolden() {
        assertGolden(Report.markdown(Fixture.smoke()), "smoke.md")
    }

    func testRenderingIsAPureFunctionOfTheRows() {
        let input = Fixture.table1()
        XCTAssertEqual(Report.markdown(input), Report.markdown(input))
        XCTAssertEqual(Report.figures(input), Report.figures(input))
        // The order the store returns rows in does not matter.
        var shuffled = input
        var rng = SystemRandomNumberGenerator()
        shuffled.cells.shuffle(using: &rng)
        shuffled.runs.shuffle(using: &rng)
        XCTAssertEqual(Report.markdown(shuffled), Report.markdown(input))
        XCTAssertEqual(Report.figures(shuffled), Report.figures(input))
    }

    func testOnlyThePaperProfileOnCIFAR10IsComparable() {
        let warning = "**Not comparable with the paper's numbers:**"
        XCTAssertFalse(Report.markdown(Fixture.table1(profile: "paper", dataset: .cifar10)).contains(warning))
        XCTAssertTrue(Report.markdown(Fixture.table1(profile: "paper", dataset: .fashionMNIST))
            .contains("\(warning) these runs use profile `paper` (200 epochs, all training images) on Fashion-MNIST;"))
        XCTAssertTrue(Report.markdown(Fixture.table1(profile: "quick", dataset: .cifar10))
            .contains("\(warning) these runs use profile `quick` (10 epochs, 2,000 training images) on CIFAR-10;"))
    }

    func testCellAnnotations() {
        func cell(done: Int, failed: Int) -> CellSummary {
            CellSummary(grid: "g", rowIndex: 0, columnIndex: 0, rowLabel: "a", columnLabel: "b", seeds: 5, done: done,
                        failed: failed, running: 0, median: nil, min: nil, max: nil, q1: nil, q3: nil, runKeys: [])
        }
        XCTAssertEqual(Report.annotate("8.93", cell(done: 5, failed: 0), seeds: 5), "8.93")
        XCTAssertEqual(Report.annotate("8.93", cell(done: 3, failed: 0), seeds: 5), "8.93 (3/5)")
        XCTAssertEqual(Report.annotate("8.93", cell(done: 3, failed: 1), seeds: 5), "8.93 (3/5, 1 failed)")
        XCTAssertEqual(Report.annotate(nil, cell(done: 0, failed: 2), seeds: 5), "— (2 failed)")
        XCTAssertEqual(Report.annotate(nil, cell(done: 0, failed: 0), seeds: 5), "—")
        XCTAssertEqual(Report.annotate(nil, nil, seeds: 5), "—")
    }

    func testNamesAndParameterCountsAreSpelledLikeThePaper() {
        let counts = [175_066: "0.2M", 691_674: "0.7M", 563_930: "0.6M", 2_243_546: "2.2M", 1_005_642: "1M", 206_640: "0.2M",
                      205_923: "0.2M", 38_400: "38K"]
        for (count, text) in counts { XCTAssertEqual(Format.parameters(count), text, "\(count)") }
        let names = ["wrn-16-1": "WRN-16-1", "wrn-40-2": "WRN-40-2", "nin-thin": "NIN-thin", "nin-thin-nobn": "NIN-thin", "nin-thin-nobn-nopoolrelu": "NIN-thin", "nin-wide-nopoolrelu": "NIN-wide",
                     "nin-wide": "NIN-wide", "resnet-18": "ResNet-18", "resnet-34": "ResNet-34", "other-net": "other-net"]
        for (name, text) in names { XCTAssertEqual(Model.displayName(name), text) }
        XCTAssertEqual(Format.signed(0.004), "0.00")
        XCTAssertEqual(Format.signed(-0.004), "0.00")
        XCTAssertEqual(Format.signed(-0.25), "-0.25")
        XCTAssertEqual(Format.signed(1.5), "+1.50")
        XCTAssertEqual(Format.signed1(-1.5), "-1.5")
        XCTAssertEqual(Format.signed1(0.04), "0.0")
        XCTAssertEqual(DatasetID.allCases.map(\.descriptor.displayName),
                       ["CIFAR-10", "Fashion-MNIST", "synthetic data", "CUB-200-2011", "MIT Indoor-67", "ImageNet (ILSVRC2012)"])
        XCTAssertEqual(Format.thousands(50_000), "50,000")
    }

    func testPaperNumbersMatchPaperMD() {
        let t1 = PaperTable.table1
        XCTAssertEqual(t1.error(student: "wrn-16-2", teacher: "wrn-40-2", column: "AT+KD"), 5.71)
        XCTAssertEqual(t1.error(student: "nin-thin", teacher: "nin-wide", column: "teacher"), 7.28)
        XCTAssertEqual(PaperTable.table2.error(student: "wrn-16-1", teacher: "wrn-16-2", column: "F_sum^4"), 8.09)
        XCTAssertEqual(PaperTable.table3.error(student: "nin-thin-nobn-nopoolrelu", teacher: "nin-wide", column: "symmetry norm"), 11.8)
        XCTAssertEqual(PaperTable.table4.error(student: "resnet-18", teacher: "resnet-34", column: "AT", dataset: .indoor67), 27.1)
        XCTAssertNil(PaperTable.table4.error(student: "resnet-18", teacher: "resnet-34", column: "AT"), "Table 4 is per task")
        XCTAssertEqual(PaperTable.table5.error(student: "resnet-18", teacher: "resnet-34", column: "ResNet-18"), 30.4)
        XCTAssertEqual(PaperTable.table5.top5Error(student: "resnet-18", teacher: "resnet-34", column: "ResNet-18-ResNet-34-AT"), 10.0)
        XCTAssertNil(PaperTable(rawValue: "smoke"))
    }

    /// Table 4 in the paper's layout: methods as lines, tasks as columns, each cell with its
    /// difference to the student line, the paper's numbers (looked up per task) beside ours.
    func testTable4LayoutHasTasksAsColumnsAndDifferencesToTheStudent() {
        let rows = [Spec.Row(student: "resnet-18", teacher: "resnet-34", dataset: .named(.cub200)),
                    Spec.Row(student: "resnet-18", teacher: "resnet-34", dataset: .named(.indoor67))]
        let columns = [Fixture.column("student", .ce), Fixture.column("KD", .kd), Fixture.column("AT", .at),
                       Fixture.column("teacher", .ce, network: .teacher)]
        let errors: [[Double]] = [[30.0, 28.5, 27.25, 26.0], [29.0, 29.5, 28.0, 27.0]]
        let input = Fixture.input(name: "table4", title: "Table 4", rows: rows, columns: columns, seeds: [0], profile: "paper",
                                  dataset: .cub200, training: Fixture.training(epochs: 30)) { r, c, _ in errors[r][c] }
        let md = Report.markdown(input)
        XCTAssertFalse(md.contains("Not comparable"), "the paper profile on both real datasets")
        XCTAssertTrue(md.contains("| method | ImageNet→CUB | ImageNet→Scenes |"))
        XCTAssertTrue(md.contains("| student | 30.0 | 29.0 |"), md)
        XCTAssertTrue(md.contains("| KD | 28.5 (-1.5) | 29.5 (+0.5) |"), md)
        XCTAssertTrue(md.contains("| AT | 27.2 (-2.8) | 28.0 (-1.0) |") || md.contains("| AT | 27.3 (-2.8) | 28.0 (-1.0) |"), md)
        XCTAssertTrue(md.contains("| AT | 27.0 (-1.5) | 27.1 (-1.1) |"), "the paper's numbers per task")
        XCTAssertTrue(md.contains("| teacher | 26.5 (-2.0) | 26.0 (-2.2) |"))
        XCTAssertTrue(md.contains("ResNet-18 ← ResNet-34 (ImageNet→Scenes)"))
    }
}
