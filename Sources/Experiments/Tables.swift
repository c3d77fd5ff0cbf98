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
            rows: grid.spec.rows.map { TableInput.Row(student: $0.student, teacher: $0.teacher) },
            columns: grid.spec.columns.map { TableInput.Column(label: $0.label, method: $0.method.name, network: $0.network == .teacher ? .teacher : .student) },
            seeds: grid.seeds, profile: grid.profile,
            training: TrainingProtocol(epochs: s.epochs, batchSize: s.batchSize, learningRate: Double(s.learningRate), lrDecay: Double(s.lrDecay),
                                       milestones: RunConfig.scaledMilestones(epochs: s.epochs, fractions: s.milestones), weightDecay: Double(s.weightDecay),
                                       flip: s.flip, crop: s.crop, trainSubset: s.trainSubset, testSubset: s.testSubset),
            dataset: grid.dataset, commit: commit, date: date, assumptions: assumptions(grid), parameterCounts: counts,
            database: database, cells: try store.cellSummaries(grid: name), effects: try store.cellEffects(grid: name),
            runs: runs, epochs: epochs)
    }

    /// The documented assumptions (PAPER.md and README "Deviations and assumptions") this grid relies on.
    public static func assumptions(_ grid: Grid) -> [String] {
        let models = Set(grid.spec.rows.flatMap { [$0.student] + ($0.teacher.map { [$0] } ?? []) })
        let methods = grid.spec.columns.map(\.method)
        var out: [String] = []
        if grid.dataset == "fashion-mnist" {
            out.append("CIFAR-10 was not present, so the grid ran on Fashion-MNIST (28×28 padded to 32×32, one channel, normalised with its own training-set mean 0.2190 and std 0.3318).")
        }
        if models.contains(where: { $0.hasPrefix("nin") }) {
            out.append("NIN pools are 3×3 with stride 2 and padding 1 (max after block 0, average excluding padding after block 1), giving the original's 16×16 and 8×8 sizes.")
        }
        if models.contains(where: { $0.hasPrefix("nin-thin") }) {
            out.append("NIN-thin widths are unpublished; we use [86, 72, 43 | 86, 86, 86 | 86, 86, 86] (0.2M parameters).")
        }
        for m in methods {
            switch m {
            case .factt(let beta): out.append("F-ActT weight β_F = \(Format(beta)) (unpublished), constant, with 1×1 adapters where channel counts differ.")
            case .atkd(_, _, _, _, let decay):
                out.append(decay == 1 ? "AT+KD keeps β constant: the paper's decay of β is unpublished." : "AT+KD decays β by ×\(Format(decay)) per epoch (the paper's schedule is unpublished).")
            case .gradAT(let beta): out.append("Gradient-based AT weight β = \(Format(beta)) (unpublished).")
            case .minL2(let beta): out.append("min-l2 (double backprop) weight β = \(Format(beta)) (unpublished).")
            case .symmetry(let beta): out.append("Symmetry-norm weight β = \(Format(beta)) (unpublished).")
            default: break
            }
        }
        if grid.spec.name == "table3" {
            out.append("The teacher (NIN-wide) is trained with the same flips-only, no-weight-decay recipe as the students; the paper reports single runs, we report the median over the seeds.")
        }
        if grid.settings.epochs != 200 {
            out.append("The learning-rate drops scale with the epochs (at 0.3, 0.6 and 0.8 of them, as 60, 120, 160 of 200).")
        }
        if grid.settings.testSubset != nil {
            out.append("Test error is measured on a stratified subset of the test set (the same for every run).")
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    static func Format(_ v: Float) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}
