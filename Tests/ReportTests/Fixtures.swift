import Data
@testable import Experiments
import Foundation
import Report
import Store
import Training
import XCTest

/// Grids as the store would hold them, built from a status and a final error per (row, column, seed),
/// and presented as `atx table` presents them (`Tables.presentation`: layout, the paper's numbers,
/// display names).
enum Fixture {
    /// The counts the golden files print (3-channel models), whatever the fixture's dataset.
    static let parameterCounts = [
        "wrn-10-1": 77_850, "wrn-10-2": 304_042, "wrn-16-1": 175_066, "wrn-16-2": 691_674, "wrn-40-1": 563_930,
        "wrn-40-2": 2_243_546, "nin-thin": 206_640, "nin-thin-nobn": 205_923, "nin-thin-nobn-nopoolrelu": 205_923, "nin-wide": 1_005_642,
        "resnet-18": 11_689_512, "resnet-34": 21_797_672,   // with ImageNet's 1000-class head (Table 5)
    ]

    static let assumptions = [
        "NIN-thin widths are [86, 72, 43 | 86, 86, 86 | 86, 86, 86] (unpublished).",
        "F-ActT uses β_F = 1000, constant (unpublished).",
    ]

    static func training(epochs: Int, trainSubset: Int? = nil, testSubset: Int? = nil, batchSize: Int = 128) -> TrainingSettings {
        var t = TrainingSettings()
        t.epochs = epochs; t.batchSize = batchSize; t.trainSubset = trainSubset; t.testSubset = testSubset
        return t
    }

    /// A grid whose run for (row, column, seed) ends in `status(r, c, s)` with final test error
    /// `error(r, c, s)`; a done run has a curve falling from 80% to its final error, a running
    /// or failed one half of it. `share` maps a cell to another whose runs it reuses.
    static func input(name: String, title: String, rows: [Spec.Row], columns: [Spec.Column],
                      seeds: [Int], profile: String, dataset: DatasetID, training: TrainingSettings,
                      status: (Int, Int, Int) -> RunStatus = { _, _, _ in .done },
                      error: (Int, Int, Int) -> Double,
                      top5: ((Int, Int, Int) -> Double)? = nil,
                      share: [[Int]: [Int]] = [:]) -> TableInput {
        let spec = Spec(name: name, title: title, file: "experiments/\(name).yaml", dataset: .named(dataset), seeds: seeds,
                        training: training, rows: rows, columns: columns, profiles: [profile: Profile()], json: "{}")
        let rowDatasets = rows.map { ($0.dataset ?? spec.dataset).resolved() }
        var p = try! Tables.presentation(spec: spec, rowDatasets: rowDatasets, profile: profile, settings: training)
        p.rows = p.rows.map { row in
            var row = row
            row.student.parameters = parameterCounts[row.student.name]
            if let teacher = row.teacher { row.teacher?.parameters = parameterCounts[teacher.name] }
            return row
        }
        var runs: [String: RunRecord] = [:], epochs: [String: [EpochRow]] = [:], cells: [CellSummary] = []
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        for (r, row) in rows.enumerated() {
            for (c, column) in columns.enumerated() {
                let (sr, sc) = share[[r, c]].map { ($0[0], $0[1]) } ?? (r, c)
                var keys: [String] = []
                for (i, seed) in seeds.enumerated() {
                    let key = name.padding(toLength: 10, withPad: "0", startingAt: 0) + String(format: "%02d%02d%02d", sr, sc, seed)
                    keys.append(key)
                    guard runs[key] == nil else { continue }
                    let s = status(sr, sc, i), final = error(sr, sc, i)
                    let done = s == .done ? training.epochs : (s == .queued ? 0 : training.epochs / 2)
                    runs[key] = RunRecord(
                        key: key, configJSON: "{}", student: column.network == .teacher ? row.teacher! : row.student,
                        teacher: column.network == .teacher ? nil : row.teacher, method: column.method.name, seed: seed,
                        dataset: rowDatasets[r].rawValue, profile: profile, status: s, gitCommit: s == .queued ? nil : "0ec9ce8",
                        createdAt: created, failure: s == .failed ? "loss diverged (NaN) at epoch \(done)\nstack…" : nil,
                        epochsDone: done, epochsTotal: training.epochs, finalTestError: s == .done ? final : nil,
                        finalTestTop5Error: s == .done ? top5?(sr, sc, i) : nil)
                    epochs[key] = (0..<done).map { e in
                        let t = Double(e + 1) / Double(training.epochs)
                        let value = final + (80 - final) * exp(-6 * t) * (1 + 0.05 * Double(seed % 3))
                        return EpochRow(runKey: key, epoch: e + 1, trainLoss: 1, trainError: value / 2, testLoss: 1,
                                        testError: e + 1 == training.epochs ? final : value, learningRate: 0.1,
                                        seconds: 1, imagesPerSecond: 100)
                    }
                }
                cells.append(summary(grid: name, r, c, row: row, column: column, keys: keys, runs: runs))
            }
        }
        return TableInput(name: name, title: title, layout: p.layout, rows: p.rows, columns: p.columns, baselineColumn: p.baselineColumn,
                          seeds: seeds, profile: profile, training: p.training, dataset: p.dataset, paper: p.paper,
                          notComparable: p.notComparable, commit: "0ec9ce8", date: "2025-01-31",
                          assumptions: assumptions, cells: cells,
                          effects: effects(spec: spec, cells: cells, runs: runs, paper: p.paper),
                          runs: runs.values.sorted { $0.key < $1.key }, epochs: epochs)
    }

    /// What the `cell_effect` view reports for these cells: each cell of a row against the row's
    /// baseline column, paired by seed (a cell's keys are in seed order).
    static func effects(spec: Spec, cells: [CellSummary], runs: [String: RunRecord], paper: PaperNumbers?) -> [CellEffect] {
        var out: [CellEffect] = []
        guard let b = spec.baselineColumn else { return [] }
        for r in spec.rows.indices {
            let rowCells = cells.filter { $0.rowIndex == r }
            guard let base = rowCells.first(where: { $0.columnIndex == b }) else { continue }
            let baseRuns = base.runKeys.map { runs[$0]! }
            for cell in rowCells where cell.columnIndex != base.columnIndex {
                let cellRuns = cell.runKeys.map { runs[$0]! }
                let d = zip(cellRuns, baseRuns).compactMap { m, b -> Double? in
                    guard m.status == .done, b.status == .done, let x = m.finalTestError, let y = b.finalTestError else { return nil }
                    return x - y
                }
                let n = d.count
                let mean = n > 0 ? d.reduce(0, +) / Double(n) : nil
                let sd = n > 1 ? (d.map { ($0 - mean!) * ($0 - mean!) }.reduce(0, +) / Double(n - 1)).squareRoot() : nil
                let t = n > 1 ? StudentT.criticalValue(df: n - 1) : nil
                let half = t.flatMap { t in sd.map { t * $0 / Double(n).squareRoot() } }
                // The sign-flip test by enumeration, and the seeds needed for the paper's effect.
                let p = n == 0 ? nil : Double((0..<(1 << n)).filter { pattern in
                    abs(d.enumerated().reduce(0) { $0 + ((pattern >> $1.offset) & 1 == 1 ? -$1.element : $1.element) })
                        >= abs(d.reduce(0, +)) - 1e-9
                }.count) / Double(1 << n)
                let paperEffect = paper.flatMap { p in p.errors[r][cell.columnIndex].flatMap { e in p.errors[r][base.columnIndex].map { e - $0 } } }
                let needed = n > 1 ? paperEffect.flatMap { PairedPower.seedsNeeded(effect: $0, sd: sd ?? 0) } : nil
                out.append(CellEffect(
                    grid: cell.grid, rowIndex: r, columnIndex: cell.columnIndex, rowLabel: cell.rowLabel,
                    columnLabel: cell.columnLabel, network: spec.role(ofColumn: cell.columnIndex) == .teacher ? "teacher" : "student",
                    baselineColumn: base.columnIndex, baselineLabel: base.columnLabel, seeds: cell.seeds, done: cell.done,
                    failed: cell.failed, baselineDone: base.done, baselineFailed: base.failed, seedsPaired: n,
                    meanDifference: mean, sdDifference: sd, tQuantile: t, ciLow: half.map { mean! - $0 },
                    ciHigh: half.map { mean! + $0 }, seedsBetter: d.filter { $0 < 0 }.count, seedsWorse: d.filter { $0 > 0 }.count,
                    pSignFlip: p, paperEffect: paperEffect, seedsNeeded: needed))
            }
        }
        return out
    }

    /// What the `cell_summary` view reports for these runs (numpy's linear quantiles).
    static func summary(grid: String, _ r: Int, _ c: Int, row: Spec.Row, column: Spec.Column,
                        keys: [String], runs: [String: RunRecord]) -> CellSummary {
        let cellRuns = keys.map { runs[$0]! }
        let errors = cellRuns.filter { $0.status == .done }.compactMap(\.finalTestError).sorted()
        func quantile(_ p: Double) -> Double? {
            guard !errors.isEmpty else { return nil }
            let x = p * Double(errors.count - 1), i = Int(x), w = x - Double(i)
            return i + 1 < errors.count ? errors[i] * (1 - w) + errors[i + 1] * w : errors[i]
        }
        return CellSummary(grid: grid, rowIndex: r, columnIndex: c,
                           rowLabel: row.student + (row.teacher.map { " ← " + $0 } ?? ""), columnLabel: column.label,
                           seeds: keys.count, done: cellRuns.filter { $0.status == .done }.count,
                           failed: cellRuns.filter { $0.status == .failed }.count,
                           running: cellRuns.filter { $0.status == .running }.count,
                           median: quantile(0.5), min: errors.first, max: errors.last, q1: quantile(0.25), q3: quantile(0.75),
                           top5Median: cellRuns.count == 1 && cellRuns[0].status == .done ? cellRuns[0].finalTestTop5Error : nil,
                           runKeys: keys)
    }

    /// A column training the row's student with `kind` (defaults), or the teacher column.
    static func column(_ label: String, _ kind: MethodKind, mapping: Mapping? = nil, network: Spec.Network = .student) -> Spec.Column {
        Spec.Column(label: label, method: try! Method(kind: kind, mapping: mapping), network: network)
    }

    static let table1Columns = [
        column("student", .ce), column("AT", .at), column("F-ActT", .factt), column("KD", .kd), column("AT+KD", .atkd),
        column("teacher", .ce, network: .teacher),
    ]

    static let table1Rows = [
        Spec.Row(student: "nin-thin", teacher: "nin-wide"), Spec.Row(student: "wrn-16-1", teacher: "wrn-16-2"),
        Spec.Row(student: "wrn-16-1", teacher: "wrn-40-1"), Spec.Row(student: "wrn-16-2", teacher: "wrn-40-2"),
    ]

    /// Table 1 under the quick profile with partial cells: (NIN, AT) 3/5 done, 2 running;
    /// (WRN-16-1 ← WRN-16-2, F-ActT) 3/5 done, 1 failed; (WRN-16-1 ← WRN-40-1, AT+KD) none done;
    /// (WRN-16-2 ← WRN-40-2, KD) 2 failed, none done. The WRN-16-1 baseline is shared by two rows.
    static func table1(profile: String = "quick", dataset: DatasetID = .fashionMNIST) -> TableInput {
        input(name: "table1", title: "Table 1: activation-based attention transfer (AT) with various architectures",
              rows: table1Rows, columns: table1Columns, seeds: [0, 1, 2, 3, 4], profile: profile, dataset: dataset,
              training: profile == "paper" ? training(epochs: 200) : training(epochs: 10, trainSubset: 2000),
              status: { r, c, s in
                  switch (r, c) {
                  case (0, 1): return s < 3 ? .done : .running
                  case (1, 2): return s < 3 ? .done : s == 3 ? .failed : .queued
                  case (2, 4): return .queued
                  case (3, 3): return s < 2 ? .failed : .queued
                  default: return .done
                  }
              },
              error: { r, c, s in 6 + Double(r) + 0.5 * Double(5 - c) + [0.13, -0.21, 0.05, 0.32, -0.08][s] },
              share: [[2, 0]: [1, 0]])
    }

    static func table2() -> TableInput {
        input(name: "table2", title: "Table 2: attention transfer with different attention mappings (WRN-16-2 → WRN-16-1)",
              rows: [Spec.Row(student: "wrn-16-1", teacher: "wrn-16-2")],
              columns: [column("no attention transfer", .ce), column("F_sum", .at, mapping: .sum1), column("F_sum^2", .at),
                        column("F_sum^4", .at, mapping: .sum4), column("F_max^1", .at, mapping: .max1)],
              seeds: [0, 1, 2, 3, 4], profile: "paper", dataset: .cifar10, training: training(epochs: 200),
              status: { _, c, s in c == 4 && s == 4 ? .running : .done },
              error: { _, c, s in [8.81, 8.02, 7.90, 8.15, 8.04][c] + [0.0, 0.11, -0.09, 0.2, -0.14][s] })
    }

    static func table3() -> TableInput {
        input(name: "table3", title: "Table 3: gradient-based attention transfer (NIN-wide → NIN-thin without BN)",
              rows: [Spec.Row(student: "nin-thin-nobn-nopoolrelu", teacher: "nin-wide")],
              columns: [column("student baseline", .ce), column("min-l2", .minL2), column("grad-based AT", .gradAT),
                        column("KD", .kd), column("symmetry norm", .symmetry), column("activation-based AT", .at)],
              seeds: [0, 1, 2, 3, 4], profile: "paper", dataset: .cifar10, training: training(epochs: 200),
              status: { _, c, s in c == 2 ? (s == 0 ? .failed : .done) : c == 4 ? .queued : .done },
              error: { _, c, s in [13.9, 12.4, 12.3, 12.0, 11.9, 11.0][c] + [0.1, -0.2, 0.0, 0.3, -0.1][s] })
    }

    /// Differences worked out by hand: one row of Table 1 (WRN-16-1 ← WRN-16-2), three seeds.
    /// student 9.00 9.50 8.80; AT 8.20 8.70 8.30 (d −0.8 −0.8 −0.5: −0.70 [−1.13, −0.27]);
    /// KD 8.60 9.70 running (d −0.4 +0.2: −0.10 [−3.91, +3.71], 2/3 paired); F-ActT 9.10 failed
    /// 8.60 (d +0.1 −0.2: −0.05 [−1.96, +1.86]); AT+KD all failed; teacher 7.00 7.40 6.90
    /// (d −2.0 −2.1 −1.9: −2.00 [−2.25, −1.75]). t_{0.975,2} = 4.3027, t_{0.975,1} = 12.706.
    /// (The other fixtures' differences are the same for every seed, so their intervals have no width.)
    static func handComputed() -> TableInput {
        let errors: [[Double]] = [[9.00, 9.50, 8.80], [8.20, 8.70, 8.30], [9.10, 0, 8.60], [8.60, 9.70, 0], [0, 0, 0],
                                  [7.00, 7.40, 6.90]]
        return input(name: "table1", title: "Table 1, one row, three seeds (effects worked out by hand)",
                     rows: [table1Rows[1]], columns: table1Columns, seeds: [0, 1, 2], profile: "quick", dataset: .cifar10,
                     training: training(epochs: 10, trainSubset: 2000),
                     status: { _, c, s in
                         switch (c, s) {
                         case (2, 1), (4, _): return .failed
                         case (3, 2): return .running
                         default: return .done
                         }
                     },
                     error: { _, c, s in errors[c][s] })
    }

    /// Table 5 (ImageNet) under the paper profile, one seed, with top-5 errors.
    static func table5() -> TableInput {
        input(name: "table5", title: "Table 5: attention transfer on ImageNet (ResNet-34 → ResNet-18, from scratch)",
              rows: [Spec.Row(student: "resnet-18", teacher: "resnet-34")],
              columns: [column("ResNet-18", .ce), column("ResNet-18-ResNet-34-AT", .at),
                        column("ResNet-34 (teacher)", .ce, network: .teacher)],
              seeds: [0], profile: "paper", dataset: .imagenet, training: training(epochs: 100, batchSize: 256),
              error: { _, c, _ in [30.57, 29.61, 26.70][c] }, top5: { _, c, _ in [10.93, 10.24, 8.58][c] })
    }

    /// smoke.yaml: a grid the paper has no table for.
    static func smoke() -> TableInput {
        input(name: "smoke", title: "Smoke grid (synthetic data; not a paper table)",
              rows: [Spec.Row(student: "wrn-10-1", teacher: "wrn-10-2")],
              columns: [column("student", .ce), column("AT", .at), column("KD", .kd), column("teacher", .ce, network: .teacher)],
              seeds: [0, 1], profile: "smoke", dataset: .synthetic,
              training: training(epochs: 2, trainSubset: 100, testSubset: 50, batchSize: 25),
              status: { _, c, s in c == 2 && s == 1 ? .failed : .done },
              error: { _, c, s in [40.0, 36.0, 38.0, 30.0][c] + 2 * Double(s) })
    }
}

/// Compares `actual` with Tests/ReportTests/Golden/`name`; on a mismatch names the first
/// differing line and writes the actual text next to a `diff` command.
/// `ATX_UPDATE_GOLDEN=1 swift test --filter ReportTests` rewrites the golden files.
func assertGolden(_ actual: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name)")
    if ProcessInfo.processInfo.environment["ATX_UPDATE_GOLDEN"] == "1" {
        XCTAssertNoThrow(try actual.write(to: golden, atomically: true, encoding: .utf8), file: file, line: line)
        return
    }
    guard let expected = try? String(contentsOf: golden, encoding: .utf8) else {
        XCTFail("no golden file \(golden.path); create it with ATX_UPDATE_GOLDEN=1", file: file, line: line)
        return
    }
    guard actual != expected else { return }
    let actualPath = FileManager.default.temporaryDirectory.appendingPathComponent("atx-actual-\(name)")
    try? actual.write(to: actualPath, atomically: true, encoding: .utf8)
    let a = actual.components(separatedBy: "\n"), e = expected.components(separatedBy: "\n")
    let i = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
    XCTFail("""
        \(name) differs from its golden file at line \(i + 1):
          expected: \(i < e.count ? e[i] : "<end of file>")
          actual:   \(i < a.count ? a[i] : "<end of file>")
        see: diff \(golden.path) \(actualPath.path)
        accept: ATX_UPDATE_GOLDEN=1 swift test --filter ReportTests
        """, file: file, line: line)
}
