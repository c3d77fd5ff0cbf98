// A grid's results as Markdown in the paper's layout: our numbers, the paper's, the difference,
// each method's effect paired by seed beside the paper's, the spread over seeds, links to the error curves, the runs behind every cell and a footnote
// with everything needed to judge the numbers.
import Store

/// Renders a grid's tables and figures from the store's rows. Pure functions of `TableInput`.
public enum Report {
    /// The Markdown document for `input` (ending in a newline).
    public static func markdown(_ input: TableInput) -> String {
        let paper = input.paper
        let layout = input.layout
        let n = input.seeds.count
        var out: [String] = ["# \(input.title)", ""]
        if let reason = input.notComparable {
            out += ["> **Not comparable with the paper's numbers:** " + reason
                    + (paper != nil ? " The paper's numbers below are for orientation only." : ""), ""]
        }
        if let outdated = input.outdatedCells {
            out += ["> **Runs of an earlier configuration:** \(outdated.count) of \(outdated.of) cells hold runs that the spec, as "
                    + "this atx resolves it, no longer plans (an edited spec, or a computation that changed: a new default, a "
                    + "fixed formula). Their numbers are shown, but the notes below describe the current configuration; "
                    + "`\(outdated.command)` trains the current runs and keeps the earlier ones in the store.", ""]
        }
        if layout == .methodError || layout == .topOneAndFive {
            out += [input.rows.map { "Student ← teacher: \(pair($0, sizes: true))." }.joined(separator: " "), ""]
        }

        out += ["## Ours: test error (%)", "",
                "The final epoch's test error, median over the seeds. `8.93 (3/5)`: only 3 of the 5 seeds are done, "
                    + "and the median is theirs; `—`: no seed is done; `1 failed`: one of the cell's runs failed "
                    + "(listed under the runs below).", ""]
        if layout == .fineTuning {
            out += ["The fine-tuning tasks as columns, the methods as lines as in the paper; `27.0 (-1.5)`: the error and, in "
                    + "brackets, its difference to the student line of the same task.", ""]
        }
        if layout == .topOneAndFive {
            out += ["`30.43, 10.81`: the top-1 and the top-5 error, as the paper prints them.", ""]
        }
        out += layout.render(input, header: layout.header) { r, c in
            let value = input.cell(r, c)?.median
            var text = value.map { Format.fixed($0, layout == .fineTuning ? 1 : 2) }
            if layout == .fineTuning, let v = value, let b = input.baselineColumn, b != c, let base = input.cell(r, b)?.median {
                text! += " (\(Format.signed1(v - base)))"
            }
            if layout == .topOneAndFive, text != nil { text! += ", " + (input.cell(r, c)?.top5Median.map { Format.fixed($0) } ?? "—") }
            return annotate(text, input.cell(r, c), seeds: n)
        }

        out += ["", "## The paper's numbers", ""]
        if let paper {
            out += ["As printed in the paper (\(paper.rule)), \(paper.setting).", ""]
            out += layout.render(input, header: layout.header) { r, c in
                guard let v = input.paperError(r, c) else { return "—" }
                var text = Format.fixed(v, paper.decimals)
                if layout == .fineTuning, let b = input.baselineColumn, b != c, let base = input.paperError(r, b) {
                    text += " (\(Format.signed1(v - base)))"
                }
                if layout == .topOneAndFive { text += ", " + (input.paperTop5Error(r, c).map { Format.fixed($0, paper.decimals) } ?? "—") }
                return text
            }
            out += ["", "## Ours minus the paper's", "",
                    "Positive: our error is higher. A cell with missing seeds says so, as above.", ""]
            out += layout.render(input, header: "difference") { r, c in
                let cell = input.cell(r, c)
                guard let ours = cell?.median, let theirs = input.paperError(r, c) else { return "—" }
                var text = Format.signed(ours - theirs)
                if layout == .topOneAndFive {
                    text += ", " + (cell?.top5Median.flatMap { o in input.paperTop5Error(r, c).map { Format.signed(o - $0) } } ?? "—")
                }
                return annotate(text, cell, seeds: n)
            }
        } else {
            out += ["The paper has no table for this grid."]
        }

        out += [""] + effectSection(input)

        out += ["", "## Spread over seeds", "", "Minimum–maximum of the final epoch's test error"
                + (layout == .topOneAndFive ? " (top-1)" : "") + " over the done seeds.", ""]
        out += layout.render(input, header: "min–max") { r, c in
            let cell = input.cell(r, c)
            let range = cell.flatMap { c in c.min.flatMap { lo in c.max.map { "\(Format.fixed(lo))–\(Format.fixed($0))" } } }
            return annotate(range, cell, seeds: n)
        }

        out += ["", "## Error curves", "",
                "Test error per epoch: the median over the done seeds, the band their minimum–maximum"
                    + (paper == nil ? "." : "; ticks at the right edge mark the paper's final numbers."), ""]
        for (r, row) in input.rows.enumerated() {
            out.append("![\(pair(row)): test error per epoch](\(input.plotDirectory)/\(figureFileName(input, row: r)))")
        }

        out += ["", "## Runs behind each cell", ""] + runsSection(input)
        out += ["", "## Notes", ""] + notes(input)
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: - Cells

    /// `text` (nil: no seed done) with how many seeds it stands for when that is not all of
    /// them, and how many failed: "8.93 (3/5, 1 failed)", "— (2 failed)".
    static func annotate(_ text: String?, _ cell: CellSummary?, seeds: Int) -> String {
        let done = cell?.done ?? 0, failed = cell?.failed ?? 0
        var notes: [String] = []
        if text != nil, done < seeds { notes.append("\(done)/\(seeds)") }
        if failed > 0 { notes.append("\(failed) failed") }
        let value = text ?? "—"
        return notes.isEmpty ? value : "\(value) (\(notes.joined(separator: ", ")))"
    }

    // MARK: - Labels

    /// "WRN-16-1, 0.2M": the paper's name and rounded parameter count.
    static func network(_ network: TableInput.Network) -> String {
        network.display + (network.parameters.map { ", " + Format.parameters($0) } ?? "")
    }

    /// "WRN-16-1 ← WRN-16-2", or with `sizes` "WRN-16-1, 0.2M ← WRN-16-2, 0.7M"; a row with its own
    /// task adds it: "ResNet-18 ← ResNet-34 (ImageNet→CUB)".
    static func pair(_ row: TableInput.Row, sizes: Bool = false) -> String {
        let name = { (n: TableInput.Network) in sizes ? network(n) : n.display }
        return name(row.student) + (row.teacher.map { " ← " + name($0) } ?? "") + (row.task.map { " (\($0))" } ?? "")
    }

    // MARK: - Traceability and footnote

    static func runsSection(_ input: TableInput) -> [String] {
        var out = ["Each cell's runs, by seed, with one query against the store, e.g. "
                   + "`sqlite3 \(input.database) \"SELECT * FROM run_final WHERE key IN (…)\"`.", "",
                   "| student ← teacher | column | seeds | query |", "|---|---|---|---|"]
        let n = input.seeds.count
        for (r, row) in input.rows.enumerated() {
            for (c, column) in input.columns.enumerated() {
                let cell = input.cell(r, c)
                var status = ["\(cell?.done ?? 0)/\(n) done"]
                if let failed = cell?.failed, failed > 0 { status.append("\(failed) failed") }
                if let running = cell?.running, running > 0 { status.append("\(running) running") }
                let keys = cell?.runKeys ?? []
                let query = keys.isEmpty ? "—"
                    : "`SELECT * FROM run_final WHERE key IN (\(keys.map { "'\($0)'" }.joined(separator: ", "))) ORDER BY seed;`"
                out.append("| \(pair(row)) | \(escape(column.label)) | \(status.joined(separator: ", ")) | \(query) |")
            }
        }
        let cellKeys = Set(input.cells.flatMap(\.runKeys))
        let failed = input.runs.filter { $0.status == .failed && cellKeys.contains($0.key) }
        if !failed.isEmpty {
            out += ["", "Failed runs:", ""]
            for run in failed.sorted(by: { ($0.student, $0.method, $0.seed, $0.key) < ($1.student, $1.method, $1.seed, $1.key) }) {
                let reason = run.failure.map { firstLine($0, limit: 200) } ?? "no reason recorded"
                out.append("- `\(run.key)` (\(run.student), \(run.method), seed \(run.seed)), after \(run.epochsDone) of "
                    + "\(run.epochsTotal) epochs: \(reason)")
            }
        }
        return out
    }

    static func notes(_ input: TableInput) -> [String] {
        var networks: [TableInput.Network] = []
        for row in input.rows {
            for n in [row.student] + (row.teacher.map { [$0] } ?? []) where !networks.contains(where: { $0.name == n.name }) {
                networks.append(n)
            }
        }
        let counts = networks.compactMap { n in n.parameters.map { "`\(n.name)` \(Format.thousands($0))" } }
        let cellKeys = Set(input.cells.flatMap(\.runKeys))
        var byCommit: [String: Int] = [:]
        for run in input.runs where run.status == .done && cellKeys.contains(run.key) {
            byCommit[run.gitCommit ?? "unknown", default: 0] += 1
        }
        let trainedAt = byCommit.sorted { $0.key < $1.key }.map { "`\($0.key)` (\($0.value) run\($0.value == 1 ? "" : "s"))" }

        var out = [
            "- Dataset: \(input.dataset).",
            "- Profile `\(input.profile)`: \(input.training.summary).",
            "- Reported: the test error (%) after each run's final epoch; a cell is the median over its done seeds "
                + "(the mean of the middle two for an even count), never over fewer seeds without saying so.",
            "- Seeds: \(input.seeds.map(String.init).joined(separator: ", ")) (\(input.seeds.count) per cell).",
        ]
        if !counts.isEmpty {
            out.append("- Parameters (learnable, counted from our models; rounded to 0.1M in the tables): "
                + counts.joined(separator: ", ") + ".")
        }
        out.append("- Rendered at commit `\(input.commit ?? "unknown")` on \(input.date)"
            + (trainedAt.isEmpty ? "." : "; done runs trained at commit \(trainedAt.joined(separator: ", "))."))
        if input.assumptions.isEmpty {
            out.append("- Assumptions: none.")
        } else {
            out.append("- Assumptions:")
            out += input.assumptions.map { "  - \($0)" }
        }
        return out
    }

    static func escape(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }

    static func firstLine(_ text: String, limit: Int) -> String {
        let line = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return escape(line.count > limit ? line.prefix(limit) + "…" : line)
    }
}

extension TableLayout {
    /// What a cell's value is called in one-value-per-line layouts.
    var header: String { self == .topOneAndFive ? "top-1, top-5 error" : "error" }

    /// The Markdown lines of one block; `header` names the value in one-value-per-line layouts.
    func render(_ input: TableInput, header: String, cell: (Int, Int) -> String) -> [String] {
        let all = Array(input.columns.indices)
        switch self {
        case .matrix:
            return Self.matrix(input, columns: all, cell: cell)
        case .baselineAndMappings:
            let baseline = all.filter { $0 == input.baselineColumn }
            return Self.matrix(input, columns: baseline, cell: cell) + [""]
                + Self.transposed(input, columns: all.filter { !baseline.contains($0) }, corner: "attention mapping function",
                                  header: header, cell: cell)
        case .methodError:
            return Self.transposed(input, columns: all, corner: "method", header: header, cell: cell)
        case .topOneAndFive:
            return Self.transposed(input, columns: all, corner: "model", header: header, cell: cell)
        case .fineTuning:
            let head = ["method"] + input.rows.map { $0.task ?? Report.pair($0) }
            return [Self.line(head), Self.rule(head.count)] + all.map { c in
                Self.line([Report.escape(input.columns[c].label)] + input.rows.indices.map { cell($0, c) })
            }
        }
    }

    /// `| student | teacher | labels… |`, a line per row (no teacher column when no row has one).
    static func matrix(_ input: TableInput, columns: [Int], cell: (Int, Int) -> String) -> [String] {
        let teachers = input.rows.contains { $0.teacher != nil }
        let head = ["student"] + (teachers ? ["teacher"] : []) + columns.map { Report.escape(input.columns[$0].label) }
        return [line(head), rule(head.count)] + input.rows.indices.map { r in
            let row = input.rows[r]
            let names = [Report.network(row.student)] + (teachers ? [row.teacher.map { Report.network($0) } ?? "—"] : [])
            return line(names + columns.map { cell(r, $0) })
        }
    }

    /// `| corner | header |`, a line per column; with several rows, a value column per row.
    static func transposed(_ input: TableInput, columns: [Int], corner: String, header: String,
                           cell: (Int, Int) -> String) -> [String] {
        let head = [corner] + (input.rows.count == 1 ? [header] : input.rows.map { Report.pair($0) })
        return [line(head), rule(head.count)] + columns.map { c in
            line([Report.escape(input.columns[c].label)] + input.rows.indices.map { cell($0, c) })
        }
    }

    private static func line(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }

    private static func rule(_ count: Int) -> String { "|" + String(repeating: "---|", count: count) }
}
