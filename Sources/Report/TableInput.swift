// What a rendered table is made of: the grid's shape as the spec states it, the protocol it ran
// under, and the store's rows. Everything the output depends on is in here (the date and commit
// too), so rendering is a pure function and re-rendering with no new runs gives identical bytes.
import Store

/// Everything `Report.markdown(_:)` and `Report.figures(_:)` read.
public struct TableInput: Sendable {
    /// A row of the grid: the student network, and the teacher its methods learn from.
    public struct Row: Sendable, Equatable {
        public var student: String
        public var teacher: String?
        /// The row's own dataset (Table 4: one row per fine-tuning task), nil: the grid's.
        public var dataset: String?

        public init(student: String, teacher: String? = nil, dataset: String? = nil) {
            self.student = student; self.teacher = teacher; self.dataset = dataset
        }
    }

    /// A column of the grid: a method training the row's student, or (`network == .teacher`)
    /// the row's teacher itself.
    public struct Column: Sendable, Equatable {
        public enum Network: String, Sendable { case student, teacher }
        /// The column's header, e.g. "AT"; paper numbers are looked up by it.
        public var label: String
        /// The method's name in the store, e.g. "ce", "at", "at+kd".
        public var method: String
        public var network: Network

        public init(label: String, method: String, network: Network = .student) {
            self.label = label; self.method = method; self.network = network
        }
    }

    /// The spec's name, which picks the layout and the paper's numbers: "table1", "table2",
    /// "table3", or anything else for a generic rows × columns table without paper numbers.
    public var name: String
    public var title: String
    public var rows: [Row]
    public var columns: [Column]
    /// The seeds every cell should have, after the profile.
    public var seeds: [Int]
    /// The profile's name ("paper", "quick", "smoke", …) and the protocol it resolves to.
    public var profile: String
    public var training: TrainingProtocol
    /// The store's dataset name: "cifar10", "fashion-mnist" or "synthetic".
    public var dataset: String
    /// The source revision rendering the table, if known.
    public var commit: String?
    /// The rendering date as it should be printed, e.g. "2025-01-31".
    public var date: String
    /// Every assumption the spec relies on, one sentence each.
    public var assumptions: [String]
    /// Learnable parameters by model name ("wrn-16-1" → 175066), counted from the models.
    public var parameterCounts: [String: Int]
    /// The database path as users should type it in a query, e.g. "results/results.db".
    public var database: String
    /// The directory of the figures relative to the Markdown file, e.g. "plots".
    public var plotDirectory: String
    /// The grid's `cell_summary` rows (`Store.cellSummaries(grid:)`); a cell without a row has no runs.
    public var cells: [CellSummary]
    /// The grid's `cell_effect` rows (`Store.cellEffects(grid:)`): each cell against its row's baseline.
    public var effects: [CellEffect]
    /// The runs serving the grid (`Store.runs(grid:)`).
    public var runs: [RunRecord]
    /// Each run's epochs in order (`Store.epochs(key:)`), by run key.
    public var epochs: [String: [EpochRow]]

    public init(name: String, title: String, rows: [Row], columns: [Column], seeds: [Int], profile: String,
                training: TrainingProtocol, dataset: String, commit: String?, date: String, assumptions: [String],
                parameterCounts: [String: Int], database: String = "results/results.db", plotDirectory: String = "plots",
                cells: [CellSummary], effects: [CellEffect] = [], runs: [RunRecord], epochs: [String: [EpochRow]]) {
        self.name = name; self.title = title; self.rows = rows; self.columns = columns; self.seeds = seeds
        self.profile = profile; self.training = training; self.dataset = dataset; self.commit = commit
        self.date = date; self.assumptions = assumptions; self.parameterCounts = parameterCounts
        self.database = database; self.plotDirectory = plotDirectory
        self.cells = cells; self.effects = effects; self.runs = runs; self.epochs = epochs
    }

    /// The cell at (row, column), if the store has one.
    func cell(_ row: Int, _ column: Int) -> CellSummary? {
        cells.first { $0.rowIndex == row && $0.columnIndex == column }
    }

    /// Only the paper profile on CIFAR-10 can be held against the paper's numbers.
    /// Table 4: the paper profile on the real CUB-200-2011 and MIT Indoor-67.
    var isComparableWithPaper: Bool {
        profile == "paper" && (dataset == "cifar10" || (name == "table4" && rows.allSatisfy { ["cub200", "indoor67"].contains($0.dataset ?? "") }))
    }
}

/// The training protocol a profile resolves to, as the footnote states it.
public struct TrainingProtocol: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    /// The learning rate is multiplied by `lrDecay` at each milestone (1-indexed epochs).
    public var lrDecay: Double
    public var milestones: [Int]
    public var weightDecay: Double
    public var flip: Bool
    public var crop: Bool
    /// The number of training and test images used, nil for the whole split.
    public var trainSubset: Int?
    public var testSubset: Int?

    public init(epochs: Int, batchSize: Int, learningRate: Double, lrDecay: Double, milestones: [Int],
                weightDecay: Double, flip: Bool, crop: Bool, trainSubset: Int? = nil, testSubset: Int? = nil) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.lrDecay = lrDecay
        self.milestones = milestones; self.weightDecay = weightDecay; self.flip = flip; self.crop = crop
        self.trainSubset = trainSubset; self.testSubset = testSubset
    }

    /// E.g. "200 epochs, batch 128, lr 0.1 × 0.2 at epochs 60, 120, 160, weight decay 0.0005,
    /// flip + crop augmentation, all training images, all test images".
    public var summary: String {
        let schedule = milestones.isEmpty ? "" : " × \(Format.number(lrDecay)) at epoch\(milestones.count == 1 ? "" : "s") "
            + milestones.map(String.init).joined(separator: ", ")
        let augmentation = [flip ? "flip" : nil, crop ? "crop" : nil].compactMap { $0 }
        return [
            "\(epochs) epoch\(epochs == 1 ? "" : "s")",
            "batch \(batchSize)",
            "lr \(Format.number(learningRate))" + schedule,
            "weight decay \(Format.number(weightDecay))",
            augmentation.isEmpty ? "no augmentation" : augmentation.joined(separator: " + ") + " augmentation",
            trainSubset.map { "\(Format.thousands($0)) training images" } ?? "all training images",
            testSubset.map { "\(Format.thousands($0)) test images" } ?? "all test images",
        ].joined(separator: ", ")
    }
}
