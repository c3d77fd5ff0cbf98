import Foundation
import GRDB
@testable import Store
import XCTest

/// The `cell_effect` view against differences and intervals worked out by hand, and the t
/// quantiles behind its intervals.
final class EffectTests: XCTestCase {
    /// Row 0, wrn-16-1 ← wrn-16-2, three seeds (errors in %):
    ///   0 student (ce)   9.00  9.50  8.80   the baseline
    ///   1 AT             8.20  8.70  8.30   d = −0.8, −0.8, −0.5
    ///   2 KD             8.60  9.70  (running)   d = −0.4, +0.2: two seeds paired
    ///   3 F-ActT         9.10  (failed) 8.60     d = +0.1, −0.2: two seeds paired, one failed
    ///   4 AT+KD          all three failed
    ///   5 teacher        7.00  7.40  6.90   (wrn-16-2, ce) d = −2.0, −2.1, −1.9
    /// Row 1, wrn-10-1 (no teacher): baseline 20.0, failed, 22.0; AT 19.0, 18.0, queued: one seed paired.
    /// Row 2, wrn-16-2 ← wrn-40-2: only a KD column, no baseline, so no effects.
    static func makeGrid() throws -> Store {
        let store = try Store.inMemory()
        try store.upsertGrid(name: "g", specPath: "g.yaml", specJSON: "{}", profile: "quick")
        var cells: [CellRecord] = []
        func add(_ row: Int, _ column: Int, _ rowLabel: String, _ columnLabel: String, student: String, method: String,
                 _ outcomes: [Double?], failed: Set<Int> = [], queued: Set<Int> = [], role: CellRole = .method,
                 paper: Double? = nil) throws {
            for (seed, error) in outcomes.enumerated() {
                let key = "r\(row)c\(column)s\(seed)"
                let status: RunStatus = failed.contains(seed) ? .failed : queued.contains(seed) ? .queued
                    : error == nil ? .running : .done
                try store.register(RunRecord(key: key, configJSON: "{}", student: student, method: method, seed: seed,
                                             dataset: "cifar10", profile: "quick", status: status, epochsTotal: 10,
                                             finalTestError: status == .done ? error : nil))
                cells.append(CellRecord(grid: "g", rowIndex: row, columnIndex: column, rowLabel: rowLabel,
                                        columnLabel: columnLabel, seed: seed, runKey: key, role: role, paperError: paper))
            }
        }
        let pair = "wrn-16-1 ← wrn-16-2"
        try add(0, 0, pair, "student", student: "wrn-16-1", method: "ce", [9.00, 9.50, 8.80], role: .baseline, paper: 8.77)
        try add(0, 1, pair, "AT", student: "wrn-16-1", method: "at", [8.20, 8.70, 8.30], paper: 7.93)
        try add(0, 2, pair, "KD", student: "wrn-16-1", method: "kd", [8.60, 9.70, nil], paper: 7.41)
        try add(0, 3, pair, "F-ActT", student: "wrn-16-1", method: "factt", [9.10, 1.0, 8.60], failed: [1])
        try add(0, 4, pair, "AT+KD", student: "wrn-16-1", method: "at+kd", [1, 1, 1], failed: [0, 1, 2])
        try add(0, 5, pair, "teacher", student: "wrn-16-2", method: "ce", [7.00, 7.40, 6.90], role: .teacher)
        try add(1, 0, "wrn-10-1", "student", student: "wrn-10-1", method: "ce", [20.0, 5.0, 22.0], failed: [1], role: .baseline)
        try add(1, 1, "wrn-10-1", "AT", student: "wrn-10-1", method: "at", [19.0, 18.0, nil], queued: [2])
        try add(2, 0, "wrn-16-2 ← wrn-40-2", "KD", student: "wrn-16-2", method: "kd", [6.0, 6.1, 6.2])
        try store.setCells(grid: "g", cells)
        return store
    }

    func testPairedDifferencesAndIntervalsByHand() throws {
        let effects = try Self.makeGrid().cellEffects(grid: "g")
        XCTAssertEqual(effects.map { [$0.rowIndex, $0.columnIndex] }, [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [1, 1]],
                       "no row for a baseline, none for a row without one")
        XCTAssertTrue(effects.allSatisfy { $0.baselineColumn == 0 && $0.baselineLabel == "student" })
        let t2 = 4.302652729749464, t1 = 12.706204736174698
        func check(_ e: CellEffect, paired: Int, mean: Double, sd: Double, t: Double, better: Int, worse: Int,
                   line: UInt = #line) {
            XCTAssertEqual(e.seedsPaired, paired, line: line)
            XCTAssertEqual(e.meanDifference ?? .nan, mean, accuracy: 1e-9, line: line)
            XCTAssertEqual(e.sdDifference ?? .nan, sd, accuracy: 1e-9, line: line)
            XCTAssertEqual(e.tQuantile ?? .nan, t, accuracy: 1e-9, line: line)
            let half = t * sd / Double(paired).squareRoot()
            XCTAssertEqual(e.ciLow ?? .nan, mean - half, accuracy: 1e-9, line: line)
            XCTAssertEqual(e.ciHigh ?? .nan, mean + half, accuracy: 1e-9, line: line)
            XCTAssertEqual([e.seedsBetter, e.seedsWorse], [better, worse], line: line)
        }
        // AT: d = −0.8, −0.8, −0.5; mean −0.7, sd √(0.06 / 2) = 0.1732…, half-width 4.3027 · 0.1 = 0.4303.
        let at = effects[0]
        check(at, paired: 3, mean: -0.7, sd: 0.03.squareRoot(), t: t2, better: 3, worse: 0)
        XCTAssertEqual(at.ciLow!, -1.1302653, accuracy: 1e-7)
        XCTAssertEqual(at.ciHigh!, -0.2697347, accuracy: 1e-7)
        XCTAssertTrue(at.excludesZero)
        XCTAssertEqual([at.seeds, at.done, at.failed, at.baselineDone, at.baselineFailed], [3, 3, 0, 3, 0])
        XCTAssertEqual(at.network, "student")
        // KD, partial: d = −0.4, +0.2; mean −0.1, sd √0.18, half-width 12.706 · 0.3 = 3.8119.
        let kd = effects[1]
        check(kd, paired: 2, mean: -0.1, sd: 0.18.squareRoot(), t: t1, better: 1, worse: 1)
        XCTAssertEqual(kd.ciLow!, -3.9118614, accuracy: 1e-7)
        XCTAssertFalse(kd.excludesZero)
        XCTAssertEqual([kd.seeds, kd.done, kd.failed], [3, 2, 0])
        // F-ActT, one failed: d = +0.1, −0.2; mean −0.05, sd √0.045, half-width 12.706 · 0.15.
        let factt = effects[2]
        check(factt, paired: 2, mean: -0.05, sd: 0.045.squareRoot(), t: t1, better: 1, worse: 1)
        XCTAssertEqual([factt.done, factt.failed], [2, 1])
        // AT+KD, all failed: nothing to pair.
        XCTAssertEqual(effects[3], CellEffect(grid: "g", rowIndex: 0, columnIndex: 4, rowLabel: "wrn-16-1 ← wrn-16-2",
                                              columnLabel: "AT+KD", network: "student", baselineColumn: 0,
                                              baselineLabel: "student", seeds: 3, done: 0, failed: 3, baselineDone: 3,
                                              baselineFailed: 0, seedsPaired: 0, meanDifference: nil, sdDifference: nil,
                                              tQuantile: nil, ciLow: nil, ciHigh: nil, seedsBetter: 0, seedsWorse: 0))
        // The teacher's gap over the student: d = −2.0, −2.1, −1.9; mean −2, sd 0.1.
        let teacher = effects[4]
        check(teacher, paired: 3, mean: -2.0, sd: 0.1, t: t2, better: 3, worse: 0)
        XCTAssertEqual(teacher.network, "teacher")
        XCTAssertEqual(teacher.ciHigh!, -1.7515862, accuracy: 1e-7)
        // One seed paired (the baseline's seed 1 failed, the method's seed 2 is queued): a mean, no interval.
        let single = effects[5]
        XCTAssertEqual([single.seedsPaired, single.seedsBetter, single.baselineFailed, single.baselineDone], [1, 1, 1, 2])
        XCTAssertEqual(single.meanDifference ?? .nan, -1.0, accuracy: 1e-12)
        XCTAssertNil(single.sdDifference)
        XCTAssertNil(single.ciLow)
        XCTAssertNil(single.ciHigh)
        XCTAssertFalse(single.excludesZero)

        // The exact sign-flip test, by hand. AT: d = −0.8, −0.8, −0.5, |sum| 2.1; of the 8 sign
        // patterns only all-minus and all-plus reach it: p = 2/8. KD: d = −0.4, +0.2, |sum| 0.2;
        // every pattern (±0.6, ±0.2) reaches it: p = 1. The teacher: 2/8; one seed: 2/2.
        XCTAssertEqual(at.pSignFlip, 0.25)
        XCTAssertEqual(kd.pSignFlip, 1)
        XCTAssertEqual(teacher.pSignFlip, 0.25)
        XCTAssertEqual(single.pSignFlip, 1)
        XCTAssertNil(effects[3].pSignFlip, "nothing paired")
        // The paper's effect and the seeds it needs at our spread: AT 7.93 − 8.77 = −0.84 at sd
        // √0.03 (d_z 4.85): n = 2 gives λ = 6.86 < 16.33, n = 3 gives 8.40 ≥ 5.65, so 3 seeds.
        // KD 7.41 − 8.77 = −1.36 at sd √0.18 (d_z 3.21): n = 3 gives λ 5.55 < 5.65, n = 4 gives 6.41 ≥ 4.26.
        XCTAssertEqual(at.paperEffect ?? .nan, -0.84, accuracy: 1e-12)
        XCTAssertEqual(at.seedsNeeded, 3)
        XCTAssertEqual(kd.paperEffect ?? .nan, -1.36, accuracy: 1e-12)
        XCTAssertEqual(kd.seedsNeeded, 4)
        XCTAssertEqual(at.seedsNeeded, PairedPower.seedsNeeded(effect: -0.84, sd: 0.03.squareRoot()))
        XCTAssertEqual(kd.seedsNeeded, PairedPower.seedsNeeded(effect: -1.36, sd: 0.18.squareRoot()))
        XCTAssertNil(factt.paperEffect, "no paper number for the cell")
        XCTAssertNil(factt.seedsNeeded)
        XCTAssertNil(single.seedsNeeded, "one seed: no spread to speak of")
    }

    /// Five paired seeds: p = 4/32 when one difference has the other sign (flipping it, or all,
    /// keeps |sum| ≥ 2.3), and 2/32 = 0.0625 — the least five seeds can give — when all agree;
    /// seeds needed far beyond the table follow Guenther's approximation.
    func testFiveSeedsSignFlipAndSeedsNeededBeyondTheTable() throws {
        let store = try Store.inMemory()
        try store.upsertGrid(name: "g", specPath: "g.yaml", specJSON: "{}", profile: "paper")
        var cells: [CellRecord] = []
        let columns: [(String, [Double], CellRole, Double?)] = [
            ("student", [10, 10, 10, 10, 10], .baseline, 10.0),
            ("mixed", [9.0, 9.5, 9.8, 10.1, 9.3], .method, 9.9),     // d = −1, −0.5, −0.2, +0.1, −0.7
            ("agree", [9, 9, 9, 9, 9], .method, nil),               // d = −1 five times
            ("tiny", [9.0, 10.5, 9.2, 10.8, 9.9], .method, 9.99),   // a paper effect of −0.01 at a large spread
        ]
        for (c, (label, errors, role, paper)) in columns.enumerated() {
            for (seed, error) in errors.enumerated() {
                let key = "c\(c)s\(seed)"
                try store.register(RunRecord(key: key, configJSON: "{}", student: "wrn-16-1", method: c == 0 ? "ce" : "at", seed: seed,
                                             dataset: "cifar10", profile: "paper", status: .done, epochsTotal: 1, finalTestError: error))
                cells.append(CellRecord(grid: "g", rowIndex: 0, columnIndex: c, rowLabel: "wrn-16-1", columnLabel: label, seed: seed,
                                        runKey: key, role: role, paperError: paper))
            }
        }
        try store.setCells(grid: "g", cells)
        let effects = try store.cellEffects(grid: "g")
        XCTAssertEqual(effects.map(\.pSignFlip), [0.125, 0.0625, effects[2].pSignFlip])
        XCTAssertEqual(effects[0].seedsNeeded, PairedPower.seedsNeeded(effect: -0.1, sd: effects[0].sdDifference ?? .nan))
        XCTAssertNil(effects[1].seedsNeeded, "no paper number")
        let sd = try XCTUnwrap(effects[2].sdDifference)
        let guenther = Int(((1.959963984540054 + 0.8416212335729143) * sd / 0.01) * ((1.959963984540054 + 0.8416212335729143) * sd / 0.01)
                           + 1.959963984540054 * 1.959963984540054 / 2 + 1)
        XCTAssertEqual(effects[2].seedsNeeded, PairedPower.seedsNeeded(effect: -0.01, sd: sd))
        XCTAssertEqual(Double(effects[2].seedsNeeded ?? 0), Double(guenther), accuracy: 1, "beyond the table: ((z + z)·σ/δ)² + z²/2")
    }

    func testViewColumnsAsDocumented() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        _ = try Store(path: path)
        let columns = try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT name FROM pragma_table_info('cell_effect')").map { $0["name"] as String }
        }
        XCTAssertEqual(columns, [
            "grid", "row_index", "column_index", "row_label", "column_label", "network", "baseline_column",
            "baseline_label", "seeds", "done", "failed", "baseline_done", "baseline_failed", "seeds_paired",
            "mean_difference", "sd_difference", "t_quantile", "ci_low", "ci_high", "seeds_better", "seeds_worse",
            "ci_excludes_zero", "p_sign_flip", "paper_effect", "seeds_needed",
        ])
    }

    func testTQuantiles() throws {
        XCTAssertEqual(StudentT.quantile975(df: 1), tan(0.475 * Double.pi), accuracy: 1e-10)
        XCTAssertEqual(StudentT.quantile975(df: 2), 0.95 * (2 / 0.0975).squareRoot(), accuracy: 1e-10)
        // Standard tables (e.g. scipy.stats.t.ppf(0.975, df)).
        for (df, t) in [(4, 2.7764451052), (10, 2.2281388520), (30, 2.0422724563), (100, 1.9839715185)] {
            XCTAssertEqual(StudentT.quantile975(df: df), t, accuracy: 1e-9, "df \(df)")
        }
        // Beyond the table, the expansion agrees with the exact quantile.
        for df in [101, 150, 1000] {
            XCTAssertEqual(StudentT.criticalValue(df: df), StudentT.quantile975(df: df), accuracy: 1e-7, "df \(df)")
        }
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        _ = try Store(path: path)
        let table = try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT df, t_975 FROM t_quantiles ORDER BY df").map { ($0["df"] as Int, $0["t_975"] as Double) }
        }
        XCTAssertEqual(table.map(\.0), Array(1...StudentT.tabulated))
        for (df, t) in table { XCTAssertEqual(t, StudentT.criticalValue(df: df), "df \(df)") }
        // The view's fallback SQL computes the same expansion.
        let fallback = try DatabaseQueue(path: path).read { db in
            try Double.fetchOne(db, sql: "SELECT \(StudentT.largeDFSQL("?"))", arguments: [150, 150, 150, 150, 150, 150])
        }
        XCTAssertEqual(try XCTUnwrap(fallback), StudentT.criticalValue(df: 150), accuracy: 1e-12)
    }

    /// The view reads each cell's role, not its labels: a row whose teacher is its student's own
    /// network (self-distillation) still has its teacher column, and a baseline not in column 0.
    func testRolesNotLabelsDecide() throws {
        let store = try Store.inMemory()
        try store.upsertGrid(name: "g", specPath: "g.yaml", specJSON: "{}", profile: "quick")
        var cells: [CellRecord] = []
        for (column, label, method, error, role) in [(0, "KD", "kd", 8.0, CellRole.method), (1, "student", "ce", 9.0, .baseline),
                                                     (2, "teacher", "ce", 8.5, .teacher)] {
            let key = "c\(column)"
            try store.register(RunRecord(key: key, configJSON: "{}", student: "wrn-16-1", method: method, seed: 0, dataset: "cifar10",
                                         profile: "quick", status: .done, epochsTotal: 1, finalTestError: error))
            cells.append(CellRecord(grid: "g", rowIndex: 0, columnIndex: column, rowLabel: "wrn-16-1 ← wrn-16-1",
                                    columnLabel: label, seed: 0, runKey: key, role: role))
        }
        try store.setCells(grid: "g", cells)
        let effects = try store.cellEffects(grid: "g")
        XCTAssertEqual(effects.map(\.columnIndex), [0, 2])
        XCTAssertTrue(effects.allSatisfy { $0.baselineColumn == 1 })
        XCTAssertEqual(effects.map(\.network), ["student", "teacher"])
        XCTAssertEqual(effects.map { $0.meanDifference ?? .nan }, [-1.0, -0.5])
    }

    /// A database made before v2-cell-effect gains the view on open, keeps its rows, and gets its
    /// cells' roles by the rule the earlier view applied (v4-cell-roles).
    func testMigratesAVersion1DatabaseForward() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v1-initial")
        try queue.write { db in
            // Rows as version 1 had them (RunRecord has the columns of later migrations too).
            for (key, student, method, error) in [("a", "wrn-16-1", "ce", 9.0), ("b", "wrn-16-1", "at", 8.5), ("t", "wrn-16-2", "ce", 7.0)] {
                try db.execute(sql: """
                    INSERT INTO runs (key, config_json, student, method, seed, dataset, profile, status, created_at,
                                      epochs_total, final_test_error)
                    VALUES (?, '{}', ?, ?, 0, 'cifar10', 'quick', 'done', '2026-01-01 00:00:00.000', 1, ?)
                    """, arguments: [key, student, method, error])
            }
            try GridRecord(name: "g", specPath: "g.yaml", specJSON: "{}", profile: "quick").insert(db)
            for (column, label, key) in [(0, "student", "a"), (1, "AT", "b"), (2, "teacher", "t")] {
                try db.execute(sql: """
                    INSERT INTO cells (grid, row_index, column_index, row_label, column_label, seed, run_key)
                    VALUES ('g', 0, ?, 'wrn-16-1 ← wrn-16-2', ?, 0, ?)
                    """, arguments: [column, label, key])
            }
        }
        let store = try Store(path: path)
        XCTAssertEqual(try store.cells(grid: "g").map(\.role), [.baseline, .method, .teacher])
        let effects = try store.cellEffects(grid: "g")
        XCTAssertEqual(effects.count, 2)
        XCTAssertEqual(effects.first?.meanDifference ?? .nan, -0.5, accuracy: 1e-12)
        XCTAssertEqual(effects.map(\.network), ["student", "teacher"])
        assertSound(store)
    }
}
