import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Store
@testable import Report
@testable import Experiments
import XCTest

final class FigureTests: XCTestCase {
    func testOneFigurePerRowLinkedFromTheTable() {
        let input = Fixture.table1()
        let figures = Report.figures(input)
        XCTAssertEqual(figures.map(\.fileName), [
            "table1-quick-row1-nin-thin-nin-wide.svg", "table1-quick-row2-wrn-16-1-wrn-16-2.svg",
            "table1-quick-row3-wrn-16-1-wrn-40-1.svg", "table1-quick-row4-wrn-16-2-wrn-40-2.svg",
            "table1-quick-effects.svg",
        ])
        let markdown = Report.markdown(input)
        for figure in figures { XCTAssertTrue(markdown.contains("](plots/\(figure.fileName))"), figure.fileName) }
    }

    func testFigureIsWellFormedWithAxesLegendAndPaperMarks() throws {
        let svg = Report.figures(Fixture.table1())[0].svg
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
        for text in [">epoch</text>", ">test error (%)</text>", ">NIN-thin, 0.2M ← NIN-wide, 1M</text>",
                     ">AT (3/5)</text>", ">AT+KD</text>", ">paper, final epoch</text>", ">learning-rate drop</text>"] {
            XCTAssertTrue(svg.contains(text), text)
        }
        // One median line per column, a band for each column with several epochs, one paper tick per column.
        XCTAssertEqual(svg.components(separatedBy: "<path d=").count - 1, 6)
        XCTAssertEqual(svg.components(separatedBy: "<polygon").count - 1, 6)
        XCTAssertEqual(svg.components(separatedBy: "stroke-width=\"3\"").count - 1, 6 + 1, "six ticks and the legend's")
    }

    func testEffectFigureIsWellFormedWithIntervalsAndPaperTicks() throws {
        let svg = try XCTUnwrap(Report.figures(Fixture.handComputed()).last).svg
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
        for text in [">WRN-16-1 ← WRN-16-2</text>", ">AT</text>", ">KD (2/3)</text>", ">F-ActT (2/3)</text>",
                     ">-0.70 [-1.13, -0.27]</text>", ">no paired seed (3 failed)</text>", ">paper's effect, from its numbers</text>",
                     ">test error minus student's, same seed (percentage points)</text>"] {
            XCTAssertTrue(svg.contains(text), text)
        }
        // A mean per cell with paired seeds (4) and the legend's two; five paper ticks and the legend's.
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4 + 2)
        XCTAssertEqual(svg.components(separatedBy: "stroke=\"#222\" stroke-width=\"3\"").count - 1, 5 + 1)
        // Filled where the interval excludes 0: AT and the teacher.
        XCTAssertEqual(svg.components(separatedBy: "fill=\"white\" stroke=\"#").count - 1, 2 + 1, "KD, F-ActT and the legend's")
        XCTAssertNil(Report.figures(Fixture.input(name: "g", title: "no baseline", rows: [Spec.Row(student: "wrn-10-1", teacher: "wrn-10-2")],
                                                  columns: [Fixture.column("AT", .at)], seeds: [0],
                                                  profile: "smoke", dataset: .synthetic, training: Fixture.training(epochs: 2),
                                                  error: { _, _, _ in 10 }))
            .first { $0.fileName.hasSuffix("effects.svg") }, "no baseline, no effect figure")
    }

    func testColumnsWithoutDoneRunsDrawNothing() {
        let svg = Report.figures(Fixture.table1())[2].svg  // row 3: AT+KD has no done run
        XCTAssertTrue(svg.contains(">AT+KD (0/5)</text>"))
        XCTAssertEqual(svg.components(separatedBy: "<path d=").count - 1, 5)
    }

    func testLongRunsGetAZoomOnTheLastQuarter() {
        let long = Report.figures(Fixture.table3())[0].svg, short = Report.figures(Fixture.smoke())[0].svg
        XCTAssertTrue(long.contains(">last 50 epochs</text>"))
        XCTAssertEqual(long.components(separatedBy: "<clipPath").count - 1, 2)
        XCTAssertEqual(short.components(separatedBy: "<clipPath").count - 1, 1)
        XCTAssertFalse(short.contains("paper, final epoch"), "the smoke grid has no paper numbers")
    }

    func testCurveIsTheMedianAndRangeOverRunsPerEpoch() {
        func rows(_ key: String, _ errors: [Double]) -> [EpochRow] {
            errors.enumerated().map { EpochRow(runKey: key, epoch: $0 + 1, trainLoss: 0, trainError: 0, testLoss: 0,
                                               testError: $1, learningRate: 0.1, seconds: 1, imagesPerSecond: 1) }
        }
        let points = Report.curve([rows("a", [50, 20, 10]), rows("b", [40, .nan, 12]), rows("c", [60, 30]),
                                   rows("d", [45, 25, 11])])
        XCTAssertEqual(points, [
            CurvePlot.Point(epoch: 1, median: 47.5, min: 40, max: 60),
            CurvePlot.Point(epoch: 2, median: 25, min: 20, max: 30),
            CurvePlot.Point(epoch: 3, median: 11, min: 10, max: 12),
        ])
    }

    func testYAxisIsLogarithmicForWideRangesAndLinearOtherwise() {
        let wide = CurvePlot.YAxis(values: [5.2, 80])
        XCTAssertTrue(wide.log)
        XCTAssertEqual(wide.ticks, [5, 7, 10, 20, 30, 40, 50, 70, 90])
        let narrow = CurvePlot.YAxis(values: [30, 44])
        XCTAssertFalse(narrow.log)
        XCTAssertEqual(narrow.ticks, [25, 30, 35, 40, 45, 50])
        XCTAssertFalse(CurvePlot.YAxis(values: [0, 50]).log, "zero error cannot go on a log axis")
        XCTAssertEqual(CurvePlot.niceTicks(0, 200, integer: true), [0, 50, 100, 150, 200])
        XCTAssertEqual(CurvePlot.niceTicks(0, 2, integer: true), [0, 1, 2])
    }

    /// The figures byte for byte: an error-curve figure with partial cells and the paper's ticks,
    /// one without (Table 3: one line per method), and the effect figure worked out by hand.
    func testFiguresGolden() {
        let table1 = Report.figures(Fixture.table1())
        assertGolden(table1[1].svg, "table1-quick-row2.svg")
        XCTAssertEqual(table1[1].fileName, "table1-quick-row2-wrn-16-1-wrn-16-2.svg")
        assertGolden(Report.figures(Fixture.table3())[0].svg, "table3-paper-row1.svg")
        let effects = Report.figures(Fixture.handComputed()).last
        XCTAssertEqual(effects?.fileName, "table1-quick-effects.svg")
        assertGolden(effects?.svg ?? "", "effects.svg")
    }

    /// Writes the figures of every fixture to ATX_FIGURE_DIR, when set, for looking at them.
    func testWriteFiguresForInspection() throws {
        guard let dir = ProcessInfo.processInfo.environment["ATX_FIGURE_DIR"] else {
            throw XCTSkip("ATX_FIGURE_DIR is not set: no figures written for inspection")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for input in [Fixture.table1(), Fixture.table1(profile: "paper", dataset: .cifar10), Fixture.table2(), Fixture.handComputed(),
                      Fixture.table3(), Fixture.smoke()] {
            for figure in Report.figures(input) {
                try figure.svg.write(toFile: "\(dir)/\(figure.fileName)", atomically: true, encoding: .utf8)
            }
            try Report.markdown(input).write(toFile: "\(dir)/\(input.name)-\(input.profile).md", atomically: true, encoding: .utf8)
        }
        // An attention figure as `atx attention` composes it: the input, then a map per group,
        // teacher above student, upscaled to the input's displayed size.
        func blob(_ size: Int, spread: Float) -> [Float] {
            (0..<size * size).map { i in
                let x: Float = (Float(i % size) + 0.5) / Float(size) - 0.45
                let y: Float = (Float(i / size) + 0.5) / Float(size) - 0.55
                return exp(-(x * x + y * y) / spread)
            }
        }
        let object = blob(32, spread: 0.05)
        let planes: [Float] = [0.9, 0.5, 0.2].flatMap { (level: Float) in object.map { 0.15 + level * $0 } }
        let input = RGBImage(planar: planes, channels: 3, width: 32, height: 32).resized(width: 96, height: 96, .nearest)
        let rows: [[RGBImage?]] = [(RGB(0xE1, 0x57, 0x59), Float(0.02)), (RGB(0x4E, 0x79, 0xA7), Float(0.04))].map { frame, spread in
            let maps: [RGBImage?] = [32, 16, 8].map { (size: Int) -> RGBImage? in
                RGBImage(heatMap: blob(size, spread: spread), width: size, height: size, size: (96, 96)).framed(frame, thickness: 3)
            }
            return [input.framed(frame, thickness: 3)] + maps + [RGBImage.colorbar(.jet, width: 10, height: 96)]
        }
        try PNG.write(RGBImage.grid(rows, padding: 6), to: "\(dir)/attention.png")
    }
}
