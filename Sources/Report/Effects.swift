// Does the method help, here? Each method cell against its row's baseline (the row's student
// trained with plain cross-entropy), paired by seed, as the store's `cell_effect` view computes
// it; beside it the paper's effect from its own numbers, a one-line verdict, and a figure.
// Unlike "ours minus the paper's", this comparison carries over to another dataset or budget:
// both sides of a difference ran under the same protocol.
import Foundation
import Store

extension Report {
    /// The effect section's lines (heading included).
    static func effectSection(_ input: TableInput) -> [String] {
        let n = input.seeds.count
        var out = ["## Effect of each method, paired by seed", ""]
        guard let first = input.effects.first else {
            return out + ["No column trains the row's student with plain cross-entropy (method `ce`), so there is no "
                          + "baseline to pair the methods with."]
        }
        let baseline = "`\(first.baselineLabel)`"
        out += ["For each seed done in both, d = error(cell) − error(\(baseline)) of the same row and seed, in percentage "
                + "points (negative: the cell's error is lower). Runs of one seed share the student's initialisation, the "
                + "training batches and their order, the augmentation draws and the training subset; only the method "
                + "differs. A cell: the mean of d, its 95% interval from the t distribution over the paired differences "
                + "(n − 1 degrees of freedom), how many seeds improved, `p`: the exact paired sign-flip test's p-value "
                + "(the share of the 2^n patterns of signs on the n differences whose sum is at least as far from 0 as "
                + "ours; it needs no normal approximation, and with n seeds it cannot go below 2/2^n), then the paper's "
                + "effect from its own numbers (cell − \(baseline)) and `needs ~N seeds`: how many paired seeds a "
                + "two-sided paired t test (α 0.05, power 0.8) needs to detect the paper's effect at the spread of our "
                + "differences. ✓: our interval excludes 0 on the paper's side; ✗: it excludes 0 on the other side; `*`: "
                + "it excludes 0 where the paper has no number. `2/5 paired`: only 2 of the 5 seeds are done in both; "
                + "`1 failed`: one of the cell's runs failed. "
                + (input.columns.contains { $0.network == .teacher } ? "The teacher column is the teacher's gap over the student. " : "")
                + "This is the comparison that carries over to another dataset or budget (README, \"Reading the effect "
                + "section\"); the store answers it too: `sqlite3 \(input.database) \"SELECT * FROM cell_effect WHERE grid = "
                + "'\(input.name)'\"`.", ""]
        let paired = input.effects.map(\.seedsPaired).filter { $0 > 0 }
        if !paired.isEmpty, paired.allSatisfy({ $0 == 1 }) {
            out += ["Only one seed is paired in each cell, so there is no interval: each number is that seed's difference "
                    + "and says nothing about the spread over seeds, nor how many seeds the paper's effect needs.", ""]
        } else if let most = paired.max() {
            out += ["With \(most) paired seed\(most == 1 ? "" : "s") no sign-flip p can go below \(Format.pValue(2 / pow(2, Double(most)))): "
                    + "an interval that contains 0, or a p above 0.05, says \"not resolved at this number of seeds\", not "
                    + "\"no effect\".", ""]
        }
        out += input.layout.renderEffects(input, header: "effect") { r, c in
            if input.effects.contains(where: { $0.rowIndex == r && $0.baselineColumn == c }) { return "baseline" }
            guard let e = input.effect(r, c) else { return "—" }
            return effectCell(e, paper: paperEffect(input, e), seeds: n)
        }
        out += ["", verdict(input), "",
                "![Effects paired by seed, with the paper's](\(input.plotDirectory)/\(effectFigureFileName(input)))"]
        return out
    }

    /// "-0.70 [-1.13, -0.27] ✓, 3/3 better, p = 0.25; paper -0.84, needs ~4 seeds",
    /// "+0.50, 0/1 better, no interval; paper -0.84, one seed: cannot tell the seeds needed",
    /// "-0.10 [-3.91, +3.71], 1/2 better, p = 1 (2/3 paired); paper -1.36, needs ~9 seeds", "— (3 failed); paper -1.26".
    static func effectCell(_ e: CellEffect, paper: Double?, seeds n: Int) -> String {
        var notes: [String] = []
        if e.meanDifference != nil, e.seedsPaired < n { notes.append("\(e.seedsPaired)/\(n) paired") }
        if e.failed > 0 { notes.append("\(e.failed) failed") }
        if e.baselineFailed > 0 { notes.append("baseline: \(e.baselineFailed) failed") }
        var text: String
        if let mean = e.meanDifference {
            text = Format.signed(mean)
            if let low = e.ciLow, let high = e.ciHigh {
                text += " [\(Format.signed(low)), \(Format.signed(high))]" + mark(e, paper: paper)
            }
            text += ", \(e.seedsBetter)/\(e.seedsPaired) better" + (e.ciLow == nil ? ", no interval" : "")
                + (e.seedsPaired > 1 ? e.pSignFlip.map { ", p = \(Format.pValue($0))" } ?? "" : "")
        } else {
            text = "—"
            if notes.isEmpty { notes.append("no seed done in both") }
        }
        if !notes.isEmpty { text += " (\(notes.joined(separator: ", ")))" }
        guard let paper else { return text }
        text += "; paper \(Format.signed(paper))"
        if let needed = e.seedsNeeded {
            text += ", needs ~\(Format.thousands(needed)) seed\(needed == 1 ? "" : "s")"
        } else if e.seedsPaired == 1, paper != 0 {
            text += ", one seed: cannot tell the seeds needed"
        }
        return text
    }

    /// " ✓" (the interval excludes 0 on the paper's side), " ✗" (on the other side), " *" (the
    /// paper has no effect to compare with), "" (the interval contains 0).
    static func mark(_ e: CellEffect, paper: Double?) -> String {
        guard e.excludesZero, let high = e.ciHigh else { return "" }
        guard let paper, paper != 0 else { return " *" }
        return (high < 0) == (paper < 0) ? " ✓" : " ✗"
    }

    /// The paper's effect: its error for the cell minus its error for the row's baseline.
    static func paperEffect(_ input: TableInput, _ e: CellEffect) -> Double? {
        guard let ours = input.paperError(e.rowIndex, e.columnIndex),
              let base = input.paperError(e.rowIndex, e.baselineColumn) else { return nil }
        return ours - base
    }

    /// One line: how many rows (or, with one row, methods) beat the baseline here, how many of
    /// them with an interval below 0, and how many in the paper. Teacher columns do not count.
    static func verdict(_ input: TableInput) -> String {
        let paper = input.paper
        let baseline = "the baseline (\(input.effects.first?.baselineLabel ?? "ce"))"
        let methods = input.columns.indices.filter { c in
            input.columns[c].network == .student && input.effects.contains { $0.columnIndex == c }
        }
        guard !methods.isEmpty else { return "**Verdict:** no method column to compare with \(baseline)." }
        // (beats here, of, interval below 0, paper beats, of) over a set of cells.
        func count(_ cells: [CellEffect]) -> (Int, Int, Int, Int, Int) {
            let measured = cells.compactMap { e in e.meanDifference.map { (e, $0) } }
            let papers = cells.compactMap { e in paperEffect(input, e) }
            return (measured.filter { $0.1 < 0 }.count, measured.count,
                    measured.filter { $0.0.excludesZero && ($0.0.ciHigh ?? 0) < 0 }.count,
                    papers.filter { $0 < 0 }.count, papers.count)
        }
        func paperClause(_ beats: Int, _ of: Int) -> String { paper == nil || of == 0 ? "" : "; the paper: \(beats) of \(of)" }
        // With a single seed paired everywhere there is no interval to speak of.
        let intervals = input.effects.contains { $0.ciLow != nil }
        if input.rows.count == 1 {
            let (beats, of, below, pBeats, pOf) = count(input.effects.filter { methods.contains($0.columnIndex) })
            let noun = methods.count == 1 ? "method" : "methods"
            return "**Verdict:** \(beats) of \(of) \(noun)\(of < methods.count ? " with paired seeds (of \(methods.count))" : "") "
                + "beat\(of == 1 ? "s" : "") \(baseline) here (\(intervals ? "interval excludes 0 for \(below)" : "one seed: no intervals"))"
                + "\(paperClause(pBeats, pOf))."
        }
        let clauses = methods.enumerated().map { i, c in
            let (beats, of, below, pBeats, pOf) = count(input.effects.filter { $0.columnIndex == c })
            let rows = of < input.rows.count ? " rows with paired seeds" : " rows"
            let label = input.columns[c].label
            if i == 0 {
                return "\(label) beats \(baseline) in \(beats) of \(of)\(rows) here "
                    + "(\(intervals ? "interval excludes 0 in \(below)" : "one seed: no intervals"))\(paperClause(pBeats, pOf))."
            }
            return "\(label): \(beats) of \(of)\(of < input.rows.count ? rows : "")\(intervals ? " (\(below))" : "")\(paperClause(pBeats, pOf))."
        }
        return "**Verdict:** " + clauses.joined(separator: " ")
    }

    // MARK: - Figure

    /// The effect figure's file name, e.g. "table1-quick-effects.svg".
    public static func effectFigureFileName(_ input: TableInput) -> String {
        let name = [input.name, input.profile, "effects"].joined(separator: "-")
        return String(name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "-" }) + ".svg"
    }

    /// Per row, each cell's mean difference with its interval and the paper's effect beside it;
    /// nil when no row has a baseline.
    static func effectFigure(_ input: TableInput) -> Figure? {
        guard let first = input.effects.first else { return nil }
        let n = input.seeds.count
        let groups = input.rows.indices.compactMap { r -> EffectPlot.Group? in
            let effects = input.effects.filter { $0.rowIndex == r }.sorted { $0.columnIndex < $1.columnIndex }
            guard !effects.isEmpty else { return nil }
            return EffectPlot.Group(label: pair(input.rows[r]), items: effects.map { e in
                let paired = e.meanDifference != nil && e.seedsPaired < n ? " (\(e.seedsPaired)/\(n))" : ""
                let value: String
                if let mean = e.meanDifference {
                    value = Format.signed(mean)
                        + (e.ciLow.flatMap { lo in e.ciHigh.map { " [\(Format.signed(lo)), \(Format.signed($0))]" } } ?? ", 1 seed")
                } else {
                    value = e.failed > 0 ? "no paired seed (\(e.failed) failed)" : "no paired seed"
                }
                return EffectPlot.Item(label: input.columns[e.columnIndex].label + paired,
                                       color: CurvePlot.palette[e.columnIndex % CurvePlot.palette.count],
                                       mean: e.meanDifference, low: e.ciLow, high: e.ciHigh, excludesZero: e.excludesZero,
                                       paper: paperEffect(input, e), value: value)
            })
        }
        let setting = "\(input.dataset), profile \(input.profile), \(Format.list("seed", input.seeds.map(String.init)))"
        let plot = EffectPlot(title: "Effect of each column vs the baseline (\(first.baselineLabel)), paired by seed",
                              subtitle: "\(input.name): \(setting)", baseline: first.baselineLabel, groups: groups,
                              paperLegend: input.paper != nil)
        return Figure(fileName: effectFigureFileName(input), svg: plot.svg())
    }
}

extension TableInput {
    /// The effect of the cell at (row, column), if the store has one (not for a baseline).
    func effect(_ row: Int, _ column: Int) -> CellEffect? {
        effects.first { $0.rowIndex == row && $0.columnIndex == column }
    }
}

extension TableLayout {
    /// The effect block: as `render`, but Table 2's baseline line is left out (its effect is
    /// the reference, not a result).
    func renderEffects(_ input: TableInput, header: String, cell: (Int, Int) -> String) -> [String] {
        guard self == .baselineAndMappings else { return render(input, header: header, cell: cell) }
        let mappings = input.columns.indices.filter { $0 != input.baselineColumn }
        return Self.transposed(input, columns: mappings, corner: "attention mapping function", header: header, cell: cell)
    }
}

/// A forest plot of paired effects: a group per table row, a line per cell with its mean
/// difference (filled when the interval excludes 0) and interval, the paper's effect as a tick.
struct EffectPlot: SVGDrawing {
    struct Item {
        var label: String
        var color: String
        var mean, low, high: Double?
        var excludesZero: Bool
        var paper: Double?
        /// The numbers, printed at the right.
        var value: String
    }

    struct Group {
        var label: String
        var items: [Item]
    }

    var title: String
    var subtitle: String
    var baseline: String
    var groups: [Group]
    var paperLegend: Bool

    static let labelX = 20.0, left = 250.0, right = 640.0, valueX = 656.0, width = 880.0
    static let top = 82.0, groupGap = 28.0, itemHeight = 24.0

    func svg() -> String {
        let plotBottom = Self.top + groups.reduce(0) { $0 + Self.groupGap + Double($1.items.count) * Self.itemHeight } + 6
        let height = plotBottom + 100
        let items = groups.flatMap(\.items)
        let values = [0.0] + items.flatMap { [$0.mean, $0.low, $0.high, $0.paper].compactMap { $0 } }
        let lo = values.min()!, hi = values.max()!, pad = Swift.max((hi - lo) * 0.08, 0.1)
        let ticks = CurvePlot.niceTicks(lo - pad, hi + pad, integer: false)
        let xLow = ticks.first!, xHigh = ticks.last!
        func px(_ v: Double) -> Double { Self.left + (Self.right - Self.left) * (v - xLow) / (xHigh - xLow) }
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals = step >= 1 ? 0 : Int((-log10(step)).rounded(.up))

        var out = header(width: Self.width, height: height, titleX: Self.labelX, title: title, subtitle: subtitle)
        for t in ticks {
            out.append(line(px(t), Self.top, px(t), plotBottom, stroke: t == 0 ? "#333" : "#e4e4e4", dash: t == 0 ? "4 3" : nil))
            out.append(line(px(t), plotBottom, px(t), plotBottom + 5, stroke: "#333"))
            out.append(text(px(t), plotBottom + 20, Format.fixed(t, decimals), size: 12, anchor: "middle"))
        }
        if !ticks.contains(0) {
            out.append(line(px(0), Self.top, px(0), plotBottom, stroke: "#333", dash: "4 3"))
        }
        out.append(text((Self.left + Self.right) / 2, plotBottom + 42,
                        "test error minus \(baseline)'s, same seed (percentage points)", size: 13, anchor: "middle"))
        var y = Self.top
        for group in groups {
            y += Self.groupGap
            out.append(text(Self.labelX, y - 8, group.label, size: 13, weight: "bold"))
            for item in group.items {
                let cy = y + Self.itemHeight / 2 - 4
                out.append(text(Self.labelX + 16, cy + 4, item.label, size: 13))
                if let paper = item.paper {
                    out.append(line(px(paper), cy + 3, px(paper), cy + 13, stroke: "#222", width: 3))
                }
                if let low = item.low, let high = item.high {
                    out.append(line(px(low), cy, px(high), cy, stroke: item.color, width: 2))
                    out.append(line(px(low), cy - 5, px(low), cy + 5, stroke: item.color, width: 2))
                    out.append(line(px(high), cy - 5, px(high), cy + 5, stroke: item.color, width: 2))
                }
                if let mean = item.mean {
                    out.append("<circle cx=\"\(f(px(mean)))\" cy=\"\(f(cy))\" r=\"4.5\" fill=\"\(item.excludesZero ? item.color : "white")\" "
                        + "stroke=\"\(item.color)\" stroke-width=\"2\"/>")
                }
                out.append(text(Self.valueX, cy + 4, item.value, size: 12, fill: item.mean == nil ? "#888" : "#222"))
                y += Self.itemHeight
            }
        }
        out.append("<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(Self.right - Self.left))\" "
            + "height=\"\(f(plotBottom - Self.top))\" fill=\"none\" stroke=\"#333\"/>")
        // Legend, under the axis.
        let ly = plotBottom + 72
        var x = Self.labelX + 16
        out.append(line(x, ly, x + 30, ly, stroke: "#666", width: 2))
        out.append("<circle cx=\"\(f(x + 15))\" cy=\"\(f(ly))\" r=\"4.5\" fill=\"#666\" stroke=\"#666\" stroke-width=\"2\"/>")
        out.append(text(x + 40, ly + 4, "ours: mean, 95% interval (filled: excludes 0)", size: 12, fill: "#555"))
        x += 340
        out.append("<circle cx=\"\(f(x + 6))\" cy=\"\(f(ly))\" r=\"4.5\" fill=\"white\" stroke=\"#666\" stroke-width=\"2\"/>")
        out.append(text(x + 18, ly + 4, "contains 0 or one seed", size: 12, fill: "#555"))
        if paperLegend {
            x += 190
            out.append(line(x + 6, ly - 5, x + 6, ly + 5, stroke: "#222", width: 3))
            out.append(text(x + 18, ly + 4, "paper's effect, from its numbers", size: 12, fill: "#555"))
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
