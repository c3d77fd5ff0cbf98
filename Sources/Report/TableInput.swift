// What a rendered table is made of: the grid's shape as the spec states it, the protocol it ran
// under, and the store's rows. Everything the output depends on is in here (the date and commit
// too), so rendering is a pure function and re-rendering with no new runs gives identical bytes.
import Store

/// Everything `Report.markdown(_:)` and `Report.figures(_:)` read. Report knows no dataset, table
/// or model by name: the layout, the baseline column, the paper's numbers and every display name
/// come in here (`Experiments.Tables` computes them).
public struct TableInput: Sendable {
    /// A network of a row, as the tables print it.
    public struct Network: Sendable, Equatable {
        /// The name users type, e.g. "wrn-16-1".
        public var name: String
        /// The paper's spelling, e.g. "WRN-16-1".
        public var display: String
        /// Learnable parameters, counted from the model.
        public var parameters: Int?

        public init(name: String, display: String, parameters: Int? = nil) {
            self.name = name; self.display = display; self.parameters = parameters
        }
    }

    /// A row of the grid: the student network, and the teacher its methods learn from.
    public struct Row: Sendable, Equatable {
        public var student: Network
        public var teacher: Network?
        /// The row's task when rows differ in dataset (Table 4: "ImageNet→CUB"), nil otherwise.
        public var task: String?

        public init(student: Network, teacher: Network? = nil, task: String? = nil) {
            self.student = student; self.teacher = teacher; self.task = task
        }
    }

    /// A column of the grid: a method training the row's student, or (`network == .teacher`)
    /// the row's teacher itself.
    public struct Column: Sendable, Equatable {
        public enum Network: String, Sendable { case student, teacher }
        /// The column's header, e.g. "AT".
        public var label: String
        public var network: Network

        public init(label: String, network: Network = .student) {
            self.label = label; self.network = network
        }
    }

    /// The spec's name (figure file names, queries against the store).
    public var name: String
    public var title: String
    /// How the cells are laid out (after the paper's table the grid reproduces).
    public var layout: TableLayout
    public var rows: [Row]
    public var columns: [Column]
    /// The column every other is paired with: the row's student trained with plain cross-entropy.
    public var baselineColumn: Int?
    /// The seeds every cell should have, after the profile.
    public var seeds: [Int]
    /// The profile's name ("paper", "quick", "smoke", …) and the protocol it resolves to.
    public var profile: String
    public var training: TrainingProtocol
    /// The dataset (or datasets) as printed, e.g. "Fashion-MNIST".
    public var dataset: String
    /// The paper's numbers for this grid's cells, nil when the paper has no such table.
    public var paper: PaperNumbers?
    /// Why these numbers cannot be held against the paper's (the profile, the dataset), as one
    /// sentence; nil when they can.
    public var notComparable: String?
    /// How many of the store's cells hold runs the spec no longer plans (an edited spec, or a
    /// computation atx changed), nil when none do: the numbers then describe other runs than the
    /// footnote, until `atx run` trains the current ones.
    public var outdatedCells: (count: Int, of: Int, command: String)?
    /// The source revision rendering the table, if known.
    public var commit: String?
    /// The rendering date as it should be printed, e.g. "2025-01-31".
    public var date: String
    /// Every assumption the spec relies on, one sentence each.
    public var assumptions: [String]
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

    public init(name: String, title: String, layout: TableLayout, rows: [Row], columns: [Column], baselineColumn: Int?,
                seeds: [Int], profile: String, training: TrainingProtocol, dataset: String, paper: PaperNumbers?,
                notComparable: String?, commit: String?, date: String, assumptions: [String],
                database: String = "results/results.db", plotDirectory: String = "plots",
                cells: [CellSummary], effects: [CellEffect] = [], runs: [RunRecord], epochs: [String: [EpochRow]]) {
        self.name = name; self.title = title; self.layout = layout; self.rows = rows; self.columns = columns
        self.baselineColumn = baselineColumn; self.seeds = seeds
        self.profile = profile; self.training = training; self.dataset = dataset; self.paper = paper
        self.notComparable = notComparable; self.commit = commit
        self.date = date; self.assumptions = assumptions
        self.database = database; self.plotDirectory = plotDirectory
        self.cells = cells; self.effects = effects; self.runs = runs; self.epochs = epochs
    }

    /// The cell at (row, column), if the store has one.
    func cell(_ row: Int, _ column: Int) -> CellSummary? {
        cells.first { $0.rowIndex == row && $0.columnIndex == column }
    }

    /// The paper's error for the cell at (row, column), if it reports one.
    func paperError(_ row: Int, _ column: Int) -> Double? { paper?.errors[row][column] }

    /// The paper's top-5 error for the cell at (row, column), if it reports one.
    func paperTop5Error(_ row: Int, _ column: Int) -> Double? { paper?.top5Errors?[row][column] }
}

/// How a grid's cells are laid out, after the paper's tables.
public enum TableLayout: Sendable, Equatable {
    /// Table 1 and any other grid: one line per row, `| student | teacher | columns… |`.
    case matrix
    /// Table 2: the networks with the baseline, then one line per other column (an attention mapping).
    case baselineAndMappings
    /// Table 3: one line per method, `| method | error |`.
    case methodError
    /// Table 4: one line per method, a column per row's task ("ImageNet→CUB"), each value with its
    /// difference to the baseline line.
    case fineTuning
    /// Table 5: one line per model, `| model | top-1, top-5 error |`.
    case topOneAndFive
}

/// The paper's numbers for a grid's cells, with how the paper got them.
public struct PaperNumbers: Sendable, Equatable {
    /// How the paper aggregated its runs, e.g. "median of 5 runs".
    public var rule: String
    /// The number of decimals the paper prints.
    public var decimals: Int
    /// Where the paper's numbers come from, as the table says it: "CIFAR-10".
    public var setting: String
    /// Test error (%) by row and column, nil where the paper has no number.
    public var errors: [[Double?]]
    /// Top-5 test error (%) by row and column, where the paper reports one (Table 5).
    public var top5Errors: [[Double?]]?

    public init(rule: String, decimals: Int, setting: String, errors: [[Double?]], top5Errors: [[Double?]]? = nil) {
        self.rule = rule; self.decimals = decimals; self.setting = setting; self.errors = errors; self.top5Errors = top5Errors
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
