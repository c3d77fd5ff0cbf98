// Error curves: for each row of a grid, the test error per epoch of every column, the median
// over the done seeds with their minimum–maximum band, as one SVG figure.
import Store

/// A figure to write next to the Markdown, under the table's plot directory.
public struct Figure: Sendable, Equatable {
    /// The file name alone, e.g. "table1-paper-row2-wrn-16-1-wrn-16-2.svg" (see `Report.figureFileName`).
    public var fileName: String
    /// The whole SVG document.
    public var svg: String
}

extension Report {
    /// One error-curve figure per row of `input`, in row order, then the effect figure (when a
    /// row has a baseline).
    public static func figures(_ input: TableInput) -> [Figure] {
        curveFigures(input) + (effectFigure(input).map { [$0] } ?? [])
    }

    /// One error-curve figure per row of `input`, in row order.
    static func curveFigures(_ input: TableInput) -> [Figure] {
        let runs = Dictionary(input.runs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        return input.rows.indices.map { r in
            let series = input.columns.indices.map { c in
                let cell = input.cell(r, c)
                let done = (cell?.runKeys ?? []).filter { runs[$0]?.status == .done }
                let column = input.columns[c]
                let partial = done.count < input.seeds.count ? " (\(done.count)/\(input.seeds.count))" : ""
                return CurvePlot.Series(
                    label: column.label + partial, color: CurvePlot.palette[c % CurvePlot.palette.count],
                    dashed: column.network == .teacher, points: curve(done.map { input.epochs[$0] ?? [] }),
                    paper: input.paperError(r, c))
            }
            let setting = "\(input.dataset), profile \(input.profile), "
                + "\(Format.list("seed", input.seeds.map(String.init)))"
            let plot = CurvePlot(title: pair(input.rows[r], sizes: true), subtitle: "\(input.name): \(setting)",
                                 epochs: input.training.epochs, milestones: input.training.milestones,
                                 series: series, paperLegend: input.paper != nil)
            return Figure(fileName: figureFileName(input, row: r), svg: plot.svg())
        }
    }

    /// The file name of row `row`'s figure, e.g. "table1-quick-row2-wrn-16-1-wrn-16-2.svg".
    public static func figureFileName(_ input: TableInput, row: Int) -> String {
        let networks = ([input.rows[row].student] + (input.rows[row].teacher.map { [$0] } ?? [])).map(\.name)
        let name = ([input.name, input.profile, "row\(row + 1)"] + networks).joined(separator: "-")
        return String(name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "-" }) + ".svg"
    }

    /// Per epoch, the median, minimum and maximum test error over the runs that recorded it
    /// (non-finite errors of a diverged run are left out).
    static func curve(_ runs: [[EpochRow]]) -> [CurvePlot.Point] {
        var byEpoch: [Int: [Double]] = [:]
        for rows in runs {
            for row in rows where row.testError.isFinite { byEpoch[row.epoch, default: []].append(row.testError) }
        }
        return byEpoch.keys.sorted().map { epoch in
            let values = byEpoch[epoch]!.sorted()
            let mid = values.count / 2
            let median = values.count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2
            return CurvePlot.Point(epoch: epoch, median: median, min: values.first!, max: values.last!)
        }
    }
}
