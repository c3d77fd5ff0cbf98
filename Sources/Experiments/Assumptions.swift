// The one list of the project's assumptions and deviations (docs/protocol.md §8). The README's
// "Deviations and assumptions" section is rendered from it (a test checks that README.md holds
// exactly `Assumptions.readmeSection()`), and the footnote of a rendered table takes from it the
// sentences that apply to the table's grid (`Tables.assumptions`).
import Data
import Training

/// One assumption: the README's paragraph and the table footnote's sentences where it applies.
public struct Assumption: Sendable {
    /// A stable name; docs/protocol.md §8 lists every assumption under it.
    public let id: String
    /// The README bullet's bold lead, e.g. "Dataset."
    public let title: String
    /// The README bullet's text after the title, one paragraph.
    public let readme: String
    /// The footnote sentences for `grid`, empty when the grid does not rely on the assumption.
    public let footnotes: @Sendable (Grid) -> [String]
}

public enum Assumptions {
    /// In footnote order: a table's assumptions appear in this order, then by column within one.
    public static let all: [Assumption] = [
        Assumption(
            id: "dataset", title: "Dataset.",
            readme: "Without CIFAR-10 on the machine, grids run on Fashion-MNIST: 28×28 padded with zeros to 32×32 so the same "
                + "architectures apply, one input channel, normalised with its training set's mean 0.2190 and std 0.3318 "
                + "(computed once over the padded images; a test recomputes them). Such tables are not comparable with the paper's.",
            footnotes: { grid in
                !grid.datasets.contains(.fashionMNIST) ? [] : [
                    "CIFAR-10 was not present, so the grid ran on Fashion-MNIST (28×28 padded to 32×32, one channel, "
                        + "normalised with its own training-set mean 0.2190 and std 0.3318)."]
            }),
        Assumption(
            id: "nin", title: "NIN.",
            readme: "Pools are 3×3, stride 2, padding 1 (max after block 0; average after block 1, padding excluded from the "
                + "count), giving the original's 16×16 and 8×8 sizes. NIN-thin widths are unpublished: "
                + "[86, 72, 43 | 86, 86, 86 | 86, 86, 86] (206,640 parameters with BN, 205,923 without). Without BN, "
                + "convolutions carry biases (initialised to 0). Weights are Kaiming-initialised (fan-in; the authors' Lua NIN "
                + "draws fan-out). Table 3's networks have no ReLU before each pooling layer, "
                + "the global one included (`nin-thin-nobn-nopoolrelu`, `nin-wide-nopoolrelu`), as the paper says; how the "
                + "ReLU-less last convolution of a block meets the next block is not said: the next block starts with its "
                + "convolution as usual.",
            footnotes: { grid in
                let models = models(grid)
                var out: [String] = []
                if models.contains(where: { $0.hasPrefix("nin") }) {
                    out.append("NIN pools are 3×3 with stride 2 and padding 1 (max after block 0, average excluding padding "
                        + "after block 1), giving the original's 16×16 and 8×8 sizes.")
                }
                if models.contains(where: { $0.hasPrefix("nin-thin") }) {
                    out.append("NIN-thin widths are unpublished; we use [86, 72, 43 | 86, 86, 86 | 86, 86, 86] (0.2M parameters).")
                }
                if models.contains(where: { $0.hasSuffix("-nopoolrelu") }) {
                    out.append("Without ReLU before pooling, a block's pooled last convolution feeds the next block unchanged, and "
                        + "AT reads that convolution's output.")
                }
                return out
            }),
        Assumption(
            id: "kd", title: "KD.",
            readme: "T = 4 and α = 0.9 in every table: the paper gives them for the ResNet transfers, and we keep them for "
                + "NIN (Table 1's first row, Table 3). The soft term is normalised as the official code of January 2017 "
                + "did (`kd_form: 2017`, the default: α·T²·2/K on the batch-mean KL; `kd_form: 2018` gives α·T²), in Table 4 "
                + "too, where there is no official code: a weight of 0.144 on CUB-200-2011 (K = 200) and 0.43 on Indoor-67.",
            footnotes: { grid in
                methods(grid).compactMap {
                    switch $0 {
                    case .kd(let t, let a, let form), .atkd(_, _, let t, let a, _, let form, _):
                        return "KD: T = \(format(t)), α = \(format(a)), the soft term normalised as the official code of "
                            + (form == .code2017 ? "January 2017 (α·T²·2/K on the batch-mean KL)." : "July 2018 (α·T² on the batch-mean KL).")
                    default: return nil
                    }
                }
            }),
        Assumption(
            id: "at", title: "AT.",
            readme: "β = 1000 with the mean over batch and positions (the code's form), kept when the batch size changes; "
                + "only the three group outputs are matched.",
            footnotes: { _ in [] }),
        Assumption(
            id: "factt", title: "F-ActT",
            readme: "(no official code): per-sample L2-normalised full activations at every group output, mean squared "
                + "difference, β_F = 1000 (the paper gives no value), decayed as below; a learnable 1×1 convolution "
                + "(Kaiming-initialised) maps student to teacher channels where they differ, trained with the student and "
                + "discarded after.",
            footnotes: { grid in
                methods(grid).compactMap {
                    guard case .factt(let beta, let schedule) = $0 else { return nil }
                    return "F-ActT weight β_F = \(format(beta)) (the paper gives none), \(describe(schedule, grid)), with 1×1 "
                        + "adapters where channel counts differ."
                }
            }),
        Assumption(
            id: "beta-decay", title: "β's decay (AT+KD, F-ActT).",
            readme: "The paper decays β for AT+KD and for F-ActT but publishes no schedule (nor does the official code, "
                + "which never added it): β is multiplied by the learning rate's decay at each of its milestones "
                + "(`beta_decay: lr`, the default: it fades the transfer term as the labels take over, follows every profile's "
                + "schedule without a constant of its own). `beta_decay: constant` or a per-epoch factor can be set.",
            footnotes: { grid in
                methods(grid).compactMap {
                    guard case .atkd(_, let beta, _, _, let schedule, _, _) = $0 else { return nil }
                    return "AT+KD's β = \(format(beta)) \(describe(schedule, grid)); the paper decays it but publishes no schedule."
                }
            }),
        Assumption(
            id: "gradient-methods", title: "Gradient-based methods",
            readme: "(grad-AT, min-l2, symmetry norm): β = 2000 (unpublished), loss CE + (β/2)·‖·‖² with the batch-mean "
                + "cross-entropy's input gradient. The symmetry norm runs the student a second time on the flipped batch "
                + "through the same parameters.",
            footnotes: { grid in
                methods(grid).compactMap {
                    switch $0 {
                    case .gradAT(let beta): return "Gradient-based AT weight β = \(format(beta)) (unpublished)."
                    case .minL2(let beta): return "min-l2 (double backprop) weight β = \(format(beta)) (unpublished)."
                    case .symmetry(let beta): return "Symmetry-norm weight β = \(format(beta)) (unpublished)."
                    case .ce, .at, .kd, .atkd, .factt: return nil
                    }
                }
            }),
        Assumption(
            id: "table3", title: "Table 3.",
            readme: "The paper gives the setting (flips only, no weight decay) but no learning rate, schedule or epochs, "
                + "nor how its teachers were trained. Both teachers (NIN-wide for grad-AT and KD; NIN-wide without ReLU "
                + "before pooling for activation-based AT) are trained in the grid by the students' recipe: 200 epochs, "
                + "learning rate 0.01 ×0.2 at 60, 120 and 160 (the CIFAR schedule; in a trial on Fashion-MNIST, 0.1, 0.05 "
                + "and 0.03 made the student without BN diverge in its first epoch and 0.02 barely trained). The paper "
                + "reports single runs; we "
                + "report the median over the seeds.",
            footnotes: { grid in
                grid.spec.paperTable != .table3 ? [] : [
                    "Learning rate \(format(grid.settings.learningRate)) (the paper gives none; in our trial the student "
                        + "without BN diverged at 0.03 and above); both teachers are trained in the grid with the students' flips-only, "
                        + "no-weight-decay recipe; the paper reports single runs, we report the median over the seeds."]
            }),
        Assumption(
            id: "profiles", title: "Profiles.",
            readme: "Only `paper` is the paper's protocol (200 epochs, milestones 60/120/160, all images). `quick` and `smoke` "
                + "scale epochs and subsets; learning-rate milestones scale with the epochs (0.3, 0.6, 0.8 of them, rounded "
                + "to the nearest epoch: 15 epochs drop at 5, 9 and 12). Training subsets are stratified (same count per "
                + "class, drawn with the run's seed); test subsets (`quick` and `smoke`) are stratified with seed 0, the "
                + "same for every run.",
            footnotes: { grid in
                var out: [String] = []
                let cifarFractions = TrainingSettings().milestones   // 60, 120, 160 of 200 (the other schedules state their own drops)
                if grid.settings.epochs != 200 && grid.settings.milestones.count == cifarFractions.count
                    && zip(grid.settings.milestones, cifarFractions).allSatisfy({ abs($0 - $1) < 1e-6 }) {
                    out.append("The learning-rate drops scale with the epochs (at 0.3, 0.6 and 0.8 of them, as 60, 120, 160 of 200).")
                }
                if grid.settings.testSubset != nil {
                    out.append("Test error is measured on a stratified subset of the test set (the same for every run).")
                }
                return out
            }),
        Assumption(
            id: "table4-recipe", title: "Table 4's fine-tuning recipe.",
            readme: "The paper gives none. Every network (the ResNet-34 teacher too) starts from torchvision's ImageNet "
                + "weights (IMAGENET1K_V1, exported by `scripts/export-torchvision`) with a fresh head; SGD with momentum "
                + "0.9, learning rate 0.01, weight decay 10⁻⁴, batch 32, 30 epochs, the rate ×0.1 at epochs 15 and 23 "
                + "(the usual recipe for fine-tuning ImageNet ResNets on a few thousand images: a tenth of the from-scratch "
                + "rate so the pretrained features are kept, long enough for the new head to converge). Images: shorter side "
                + "256, random 224 crop and flip for training, the centre crop for testing; CUB-200-2011 cropped to its "
                + "bounding boxes. One seed, as the paper reports one number per cell. The weights' SHA-256 is part of "
                + "every run's identity.",
            footnotes: { grid in
                grid.spec.paperTable != .table4 ? [] : [
                    "The fine-tuning recipe is ours (unpublished): ImageNet weights for every network, SGD momentum 0.9, "
                        + "learning rate \(format(grid.settings.learningRate)), weight decay \(format(grid.settings.weightDecay)), "
                        + "batch \(grid.settings.batchSize), \(grid.settings.epochs) epoch\(grid.settings.epochs == 1 ? "" : "s"), "
                        + drops(grid) + "; images resized to \((grid.settings.image ?? .imageNet).resize), crops of \((grid.settings.image ?? .imageNet).crop)."]
            }),
        Assumption(
            id: "table4-freezing", title: "Table 4's freezing.",
            readme: "\"Batch norm fixed\" is read as every BN layer in eval mode (running statistics in training too) "
                + "with its affine parameters frozen; \"first group frozen\" as `layer1` and the stem before it frozen "
                + "(no gradient, no update, no weight decay). AT matches only `layer3` and `layer4` (F_sum², β = 1000), as "
                + "the paper says.",
            footnotes: { grid in
                guard let f = grid.settings.freeze, !f.isEmpty else { return [] }
                return ["Frozen: " + [f.batchNorm ? "every BN layer (eval statistics)" : nil, f.stem ? "the stem" : nil,
                                      f.groups.isEmpty ? nil : "groups \(f.groups.map(String.init).joined(separator: ", ")) (0-based)"]
                    .compactMap { $0 }.joined(separator: ", ") + "; the stem with the first group is our reading."]
            }),
        Assumption(
            id: "table5-recipe", title: "Table 5 (ImageNet).",
            readme: "The paper kept \"hyperparameters from finetuning experiments\" without giving them; we take the official "
                + "imagenet.py's (84bedb5): ResNet-18 from scratch, 100 epochs, batch 256, SGD with momentum 0.9, learning rate "
                + "0.1 ×0.1 at epochs 30, 60 and 90, weight decay 10⁻⁴, β = 1000, scale-and-aspect crops of 224 and flips for "
                + "training (resampled bilinearly where the original is bicubic), shorter side 256 and the centre 224 for "
                + "validation. AT matches only the last two groups, as the paper says (imagenet.py matches all four). The "
                + "student is torchvision's ResNet-18 (imagenet.py's own is post-activation, without BN on its shortcut "
                + "convolutions); the teacher is torchvision's pretrained ResNet-34 (IMAGENET1K_V1), evaluated and not "
                + "trained. One seed, as the paper reports one number per cell.",
            footnotes: { grid in
                grid.spec.paperTable != .table5 ? [] : [
                    "The recipe is the official imagenet.py's (the paper gives none): SGD momentum 0.9, learning rate "
                        + "\(format(grid.settings.learningRate)), weight decay \(format(grid.settings.weightDecay)), batch "
                        + "\(grid.settings.batchSize), \(grid.settings.epochs) epoch\(grid.settings.epochs == 1 ? "" : "s"), " + drops(grid)
                        + "; scale-and-aspect crops of \((grid.settings.image ?? .imageNet).crop) (validation: resized to "
                        + "\((grid.settings.image ?? .imageNet).resize), centre crop); the teacher is the pretrained weights, "
                        + "evaluated, not trained."]
            }),
        Assumption(
            id: "engine", title: "Engine.",
            readme: "Batch norm supports second-order gradients exactly (its VJP is built from differentiable ops when "
                + "`createGraph` is set). Max over an axis and max pooling send the gradient to the first maximum.",
            footnotes: { _ in [] }),
    ]

    /// The assumptions `grid` relies on, as footnote sentences, each once.
    public static func footnotes(for grid: Grid) -> [String] {
        var seen = Set<String>()
        return all.flatMap { $0.footnotes(grid) }.filter { seen.insert($0).inserted }
    }

    /// The heading of the README section this list renders.
    public static let readmeHeading = "## Deviations and assumptions"

    static let readmeIntro = "Where the paper and its official code of January 2017 (a28b02e, which produced the paper's "
        + "CIFAR numbers) disagree we follow the code; where the paper describes what that code never implemented (β's "
        + "decay, Table 3's networks, the ImageNet groups) we follow the paper; where neither says, we choose and say so "
        + "here (and in the footnote of every rendered table that relies on it). This list is generated from "
        + "`Sources/Experiments/Assumptions.swift` (a test checks that it matches); docs/protocol.md §8 gives each "
        + "assumption's reasons and §9 the line-by-line audit."

    /// The README's "Deviations and assumptions" section, heading included, wrapped at `width`
    /// columns, ending with a newline.
    public static func readmeSection(width: Int = 95) -> String {
        var lines = [readmeHeading, ""] + wrap(readmeIntro, width: width) + [""]
        for a in all {
            lines += wrap("- **\(a.title)** \(a.readme)", width: width, indent: "  ")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Greedy word wrap; continuation lines start with `indent`. A word longer than a line stays
    /// whole, and a word that would read as a list marker at the start of a line ("+", "-", "*",
    /// "1.") stays on the line of the word before it.
    static func wrap(_ text: String, width: Int, indent: String = "") -> [String] {
        var words: [String] = []
        for word in text.split(separator: " ").map(String.init) {
            let marker = ["+", "-", "*"].contains(word) || (word.dropLast().allSatisfy(\.isNumber) && [".", ")"].contains(word.last))
            if marker, let last = words.popLast() { words.append(last + " " + word) } else { words.append(word) }
        }
        var lines: [String] = []
        var line = ""
        for word in words {
            if line.isEmpty {
                line = (lines.isEmpty ? "" : indent) + word
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = indent + word
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    static func models(_ grid: Grid) -> Set<String> {
        Set(grid.spec.rows.flatMap { [$0.student] + ($0.teacher.map { [$0] } ?? []) } + grid.spec.columns.compactMap(\.teacher))
    }

    static func methods(_ grid: Grid) -> [Method] { grid.spec.columns.map(\.method) }

    /// "×0.1 at epochs 15, 23", or "no learning-rate drop".
    static func drops(_ grid: Grid) -> String {
        let m = RunConfig.scaledMilestones(epochs: grid.settings.epochs, fractions: grid.settings.milestones)
        return m.isEmpty ? "no learning-rate drop" : "×\(format(grid.settings.lrDecay)) at epoch\(m.count == 1 ? "" : "s") "
            + m.map(String.init).joined(separator: ", ")
    }

    /// "drops with the learning rate, ×0.2 at each of its drops", "constant", "decays ×0.95 per epoch".
    static func describe(_ schedule: BetaSchedule, _ grid: Grid) -> String {
        switch schedule {
        case .constant: return "constant"
        case .perEpoch(let f): return "decays ×\(format(f)) per epoch"
        case .learningRate: return "drops with the learning rate, ×\(format(grid.settings.lrDecay)) at each of its drops"
        }
    }

    static func format(_ v: Float) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}
