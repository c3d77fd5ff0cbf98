import ArgumentParser
import Experiments
import Foundation
import Report
import Store

struct Table: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a grid's table (paper layout, paper numbers, paired effects, spread, run keys), its error curves and effect figure from the database.")

    @OptionGroup var grid: GridOptions
    @Option(help: "Markdown output (default: results/<grid>.md); figures go to plots/ beside it.") var out: String?

    func run() throws {
        let g = try grid.grid()
        let store = try Store(path: grid.db)
        let input = try Tables.input(grid: g, store: store, database: grid.db, commit: Provenance.gitCommit())
        let path = out ?? "results/\(g.spec.name).md"
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        let plots = dir.appendingPathComponent(input.plotDirectory)
        try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
        let figures = Report.figures(input)
        for figure in figures {
            try figure.svg.write(to: plots.appendingPathComponent(figure.fileName), atomically: true, encoding: .utf8)
        }
        try Report.markdown(input).write(toFile: path, atomically: true, encoding: .utf8)
        print("wrote \(path) and \(figures.count) figure(s) in \(plots.path)")
    }
}
