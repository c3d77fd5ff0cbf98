// From a grid and the store to what the renderer needs: the table's shape, the protocol, the
// assumptions it relies on, parameter counts from the models, and the store's rows.
import Foundation
import NN
import Report
import Store
import Tensor
import Training

public enum Tables {
    public static func input(grid: Grid, store: Store, database: String, commit: String?) throws -> TableInput {
        let name = grid.spec.name
        let runs = try store.runs(grid: name)
        var epochs: [String: [EpochRow]] = [:]
        for r in runs { epochs[r.key] = try store.epochs(key: r.key) }
        let channels = grid.dataset == "fashion-mnist" ? 1 : 3
        var counts: [String: Int] = [:]
        for model in Set(grid.spec.rows.flatMap { [$0.student] + ($0.teacher.map { [$0] } ?? []) }) {
            var rng = RNG(seed: 0)
            counts[model] = try Model(name: model, inChannels: channels, rng: &rng).parameterCount
        }
        // The newest finish among the grid's runs: re-rendering with no new runs gives the same bytes.
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let date = runs.compactMap(\.finishedAt).max().map { formatter.string(from: $0) } ?? "no finished runs"
        let s = grid.settings
        return TableInput(
            name: name, title: grid.spec.title,
            rows: grid.spec.rows.enumerated().map { i, row in
                TableInput.Row(student: row.student, teacher: row.teacher, dataset: row.dataset == nil ? nil : grid.rowDatasets[i])
            },
            columns: grid.spec.columns.map { TableInput.Column(label: $0.label, method: $0.method.name, network: $0.network == .teacher ? .teacher : .student) },
            seeds: grid.seeds, profile: grid.profile,
            training: TrainingProtocol(epochs: s.epochs, batchSize: s.batchSize, learningRate: Double(s.learningRate), lrDecay: Double(s.lrDecay),
                                       milestones: RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones), weightDecay: Double(s.weightDecay),
                                       flip: s.flip, crop: s.crop, trainSubset: s.trainSubset, testSubset: s.testSubset),
            dataset: grid.dataset, commit: commit, date: date, assumptions: assumptions(grid), parameterCounts: counts,
            database: database, cells: try store.cellSummaries(grid: name), effects: try store.cellEffects(grid: name),
            runs: runs, epochs: epochs)
    }

    /// The documented assumptions this grid relies on, as footnote sentences: those of
    /// `Assumptions.all` (docs/protocol.md §8, README "Deviations and assumptions") that apply to it.
    public static func assumptions(_ grid: Grid) -> [String] { Assumptions.footnotes(for: grid) }
}
