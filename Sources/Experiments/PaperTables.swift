// The paper's tables (Zagoruyko & Komodakis, ICLR 2017; docs/protocol.md §7): how each is laid
// out, the numbers it prints, and when ours can be held against them. A spec reproduces one of
// them when it has the table's name ("table1" … "table5"; the paper's ImageNet experiment is
// our Table 5); cells are found by the row's networks
// (and dataset) and the column's label, which the specs in experiments/ copy from the paper.
import Data
import Report

/// One of the paper's tables.
public enum PaperTable: String, CaseIterable, Sendable {
    case table1, table2, table3, table4, table5

    /// How the rendered table is laid out.
    public var layout: TableLayout {
        switch self {
        case .table1: return .matrix
        case .table2: return .baselineAndMappings
        case .table3: return .methodError
        case .table4: return .fineTuning
        case .table5: return .topOneAndFive
        }
    }

    /// How the paper aggregated its runs.
    public var rule: String {
        switch self {
        case .table1, .table2: return "median of 5 runs"
        case .table3, .table4, .table5: return "single runs"
        }
    }

    /// The number of decimals the paper prints.
    public var decimals: Int {
        switch self {
        case .table1, .table2: return 2
        case .table3, .table4, .table5: return 1
        }
    }

    /// Where the paper's numbers come from, as the rendered table says it.
    public var setting: String {
        switch self {
        case .table1, .table2, .table3: return DatasetID.cifar10.descriptor.displayName
        case .table4: return "ImageNet-pretrained, fine-tuned"
        case .table5: return "ImageNet (ILSVRC2012) validation set, top-1 and top-5 error, single crop"
        }
    }

    /// The datasets on which the paper profile reproduces the paper's setting: every row's
    /// dataset must be one of them (Table 4: each task's own).
    public var datasets: [DatasetID] {
        switch self {
        case .table1, .table2, .table3: return [.cifar10]
        case .table4: return [.cub200, .indoor67]
        case .table5: return [.imagenet]
        }
    }

    /// The paper's error for `column` of the row (student, teacher[, dataset]), if it reports one.
    public func error(student: String, teacher: String?, column: String, dataset: DatasetID? = nil) -> Double? {
        row(student, teacher, dataset)?.errors.first { $0.0 == column }?.1
    }

    /// The paper's top-5 error for `column` of the row, where it reports one (Table 5).
    public func top5Error(student: String, teacher: String?, column: String, dataset: DatasetID? = nil) -> Double? {
        row(student, teacher, dataset)?.top5.first { $0.0 == column }?.1
    }

    func row(_ student: String, _ teacher: String?, _ dataset: DatasetID?) -> Row? {
        rows.first { $0.student == student && $0.teacher == teacher && ($0.dataset == nil || $0.dataset == dataset) }
    }

    struct Row {
        var student: String, teacher: String
        var dataset: DatasetID? = nil
        var errors: [(String, Double)]
        var top5: [(String, Double)] = []
    }

    var rows: [Row] {
        switch self {
        case .table1:
            // Activation-based AT with various architectures.
            let columns = ["student", "AT", "F-ActT", "KD", "AT+KD", "teacher"]
            return [
                Row(student: "nin-thin", teacher: "nin-wide", errors: Array(zip(columns, [9.38, 8.93, 9.05, 8.55, 8.33, 7.28]))),
                Row(student: "wrn-16-1", teacher: "wrn-16-2", errors: Array(zip(columns, [8.77, 7.93, 8.51, 7.41, 7.51, 6.31]))),
                Row(student: "wrn-16-1", teacher: "wrn-40-1", errors: Array(zip(columns, [8.77, 8.25, 8.62, 8.39, 8.01, 6.58]))),
                Row(student: "wrn-16-2", teacher: "wrn-40-2", errors: Array(zip(columns, [6.31, 5.85, 6.24, 6.08, 5.71, 5.23]))),
            ]
        case .table2:
            // Attention mappings, WRN-16-2 teacher → WRN-16-1 student.
            return [Row(student: "wrn-16-1", teacher: "wrn-16-2", errors: [
                ("no attention transfer", 8.77), ("F_sum", 7.99), ("F_sum^2", 7.93), ("F_sum^4", 8.09), ("F_max^1", 8.08)])]
        case .table3:
            // Gradient-based AT, NIN-wide teacher → NIN-thin student without batch norm.
            return [Row(student: "nin-thin-nobn-nopoolrelu", teacher: "nin-wide", errors: [
                ("student baseline", 13.5), ("min-l2", 12.5), ("grad-based AT", 12.1), ("KD", 12.1),
                ("symmetry norm", 11.8), ("activation-based AT", 11.2)])]
        case .table4:
            // ImageNet-pretrained ResNet-18 fine-tuned with a ResNet-34 teacher (one number per cell).
            let columns = ["student", "KD", "AT", "teacher"]
            return [
                Row(student: "resnet-18", teacher: "resnet-34", dataset: .cub200, errors: Array(zip(columns, [28.5, 27.0, 27.0, 26.5]))),
                Row(student: "resnet-18", teacher: "resnet-34", dataset: .indoor67, errors: Array(zip(columns, [28.2, 28.1, 27.1, 26.0]))),
            ]
        case .table5:
            // ImageNet, ResNet-18 from scratch with a pretrained ResNet-34 teacher (§4.2.2; the official
            // README at a28b02e, README.md:85–88, gives the same top-1, top-5 pairs). The paper has no
            // number for the teacher.
            let columns = ["ResNet-18", "ResNet-18-ResNet-34-AT"]
            return [Row(student: "resnet-18", teacher: "resnet-34", errors: Array(zip(columns, [30.4, 29.3])),
                        top5: Array(zip(columns, [10.8, 10.0])))]
        }
    }
}
