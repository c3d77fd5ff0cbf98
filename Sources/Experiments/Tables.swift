// From a grid and the store to what the renderer needs: the table's shape and layout, the
// paper's numbers for its cells, every display name, the protocol, the assumptions it relies on,
// parameter counts from the models, and the store's rows. Report knows no dataset, table or model
// by name; this is where they are spelled.
import Data
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
        // The newest finish among the grid's runs: re-rendering with no new runs gives the same bytes.
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let date = runs.compactMap(\.finishedAt).max().map { formatter.string(from: $0) } ?? "no finished runs"
        let p = try presentation(spec: grid.spec, rowDatasets: grid.rowDatasets, profile: grid.profile, settings: grid.settings)
        // Cells recorded before the store knew the paper's numbers (v6) get them now, for the
        // effect view's paper effect and seeds needed.
        try store.setPaperErrors(grid: name, p.paper?.errors ?? grid.spec.rows.map { _ in grid.spec.columns.map { _ in nil } })
        let cells = try store.cellSummaries(grid: name)
        // The runs the grid plans now, per cell, against those the store's cells hold.
        let planned = Dictionary(grouping: try grid.resolved(in: store, recording: false).cells) { [$0.row, $0.column] }
            .mapValues { Set($0.map(\.runKey)) }
        let outdated = cells.filter { Set($0.runKeys) != planned[[$0.rowIndex, $0.columnIndex]] ?? [] }.count
        var input = TableInput(
            name: name, title: grid.spec.title, layout: p.layout, rows: p.rows, columns: p.columns, baselineColumn: p.baselineColumn,
            seeds: grid.seeds, profile: grid.profile, training: p.training, dataset: p.dataset, paper: p.paper,
            notComparable: p.notComparable, commit: commit, date: date, assumptions: assumptions(grid),
            database: database, cells: cells, effects: try store.cellEffects(grid: name),
            runs: runs, epochs: epochs)
        if outdated > 0 {
            input.outdatedCells = (outdated, cells.count, "atx run \(grid.spec.file) --profile \(grid.profile) --db \(database)")
        }
        return input
    }

    /// How a spec's table is presented, whatever the store holds.
    public struct Presentation: Sendable {
        public var layout: TableLayout
        public var rows: [TableInput.Row]
        public var columns: [TableInput.Column]
        public var baselineColumn: Int?
        public var training: TrainingProtocol
        public var dataset: String
        public var paper: PaperNumbers?
        public var notComparable: String?
    }

    /// The presentation of `spec` under `profile`, whose settings are `settings`, when its rows ran
    /// on `rowDatasets`.
    public static func presentation(spec: Spec, rowDatasets: [DatasetID], profile: String, settings s: TrainingSettings) throws -> Presentation {
        precondition(rowDatasets.count == spec.rows.count, "presentation: \(rowDatasets.count) datasets for \(spec.rows.count) rows")
        var distinct: [DatasetID] = []
        for d in rowDatasets where !distinct.contains(d) { distinct.append(d) }
        var networks: [String: TableInput.Network] = [:]
        func network(_ model: String, _ dataset: DatasetID) throws -> TableInput.Network {
            if let n = networks[model] { return n }
            var rng = RNG(seed: 0)
            let count = try Model(name: model, inChannels: dataset.descriptor.channels, numClasses: dataset.descriptor.classes,
                                  rng: &rng).parameterCount
            let n = TableInput.Network(name: model, display: Model.displayName(model), parameters: count)
            networks[model] = n
            return n
        }
        // Rows name their task only where the spec gives rows their own datasets (Table 4).
        let ownDatasets = spec.rows.contains { $0.dataset != nil }
        let rows = try spec.rows.enumerated().map { i, row in
            TableInput.Row(student: try network(row.student, rowDatasets[i]), teacher: try row.teacher.map { try network($0, rowDatasets[i]) },
                           task: ownDatasets ? "ImageNet→" + rowDatasets[i].descriptor.taskName : nil)
        }
        let training = TrainingProtocol(epochs: s.epochs, batchSize: s.batchSize, learningRate: Double(s.learningRate),
                                        lrDecay: Double(s.lrDecay), milestones: RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones),
                                        weightDecay: Double(s.weightDecay), flip: s.flip, crop: s.crop,
                                        trainSubset: s.trainSubset, testSubset: s.testSubset)
        let table = spec.paperTable
        let paper = table.map { t in
            PaperNumbers(rule: t.rule, decimals: t.decimals, setting: t.setting, errors: spec.rows.enumerated().map { i, row in
                spec.columns.map { t.error(student: row.student, teacher: row.teacher, column: $0.label, dataset: ownDatasets ? rowDatasets[i] : nil) }
            }, top5Errors: t.layout != .topOneAndFive ? nil : spec.rows.enumerated().map { i, row in
                spec.columns.map { t.top5Error(student: row.student, teacher: row.teacher, column: $0.label, dataset: ownDatasets ? rowDatasets[i] : nil) }
            })
        }
        let dataset = distinct.map(\.descriptor.displayName).joined(separator: " and ")
        return Presentation(
            layout: table?.layout ?? .matrix, rows: rows,
            columns: spec.columns.map { TableInput.Column(label: $0.label, network: $0.network == .teacher ? .teacher : .student) },
            baselineColumn: spec.baselineColumn, training: training, dataset: dataset, paper: paper,
            notComparable: notComparable(table, profile: profile, datasets: distinct, settings: s, display: dataset))
    }

    /// Why a table's numbers cannot be held against the paper's, nil when they can: only the paper
    /// profile on the paper's own datasets (CIFAR-10; Table 4: the real CUB-200-2011 and MIT
    /// Indoor-67, from torchvision's ImageNet weights) follows its protocol.
    static func notComparable(_ table: PaperTable?, profile: String, datasets: [DatasetID], settings s: TrainingSettings,
                              display: String) -> String? {
        let paperDatasets = table?.datasets ?? [.cifar10]
        if profile == "paper" && datasets.allSatisfy(paperDatasets.contains) { return nil }
        if table == .table5 {
            return "these runs use profile `\(profile)` (\(s.epochs) epoch\(s.epochs == 1 ? "" : "s"), "
                + (s.trainSubset.map { Format.thousands($0) + " training images" } ?? "all training images") + ") on \(display); "
                + "only profile `paper` on the real ILSVRC2012 follows the official code's recipe."
        }
        if table == .table4 {
            return "these runs use profile `\(profile)` (\(s.epochs) epochs) on \(display); only profile `paper` on the real "
                + "CUB-200-2011 and MIT Indoor-67, from torchvision's ImageNet weights, follows our fine-tuning recipe."
        }
        let images = s.trainSubset.map { Format.thousands($0) + " training images" } ?? "all training images"
        return "these runs use profile `\(profile)` (\(s.epochs) epochs, \(images)) on \(display); the paper's protocol is "
            + "profile `paper` (200 epochs, all training images) on CIFAR-10."
    }

    /// The documented assumptions this grid relies on, as footnote sentences: those of
    /// `Assumptions.all` (docs/protocol.md §8, README "Deviations and assumptions") that apply to it.
    public static func assumptions(_ grid: Grid) -> [String] { Assumptions.footnotes(for: grid) }
}
