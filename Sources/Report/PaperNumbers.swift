// The paper's CIFAR-10 test errors (%), as printed in Zagoruyko & Komodakis, ICLR 2017
// (docs/protocol.md §7). Cells are found by the row's networks and the column's label, which the specs
// in experiments/ copy from the paper's headers.

/// One of the paper's tables.
public struct PaperTable: Sendable {
    /// How the paper aggregated its runs, e.g. "median of 5 runs".
    public let rule: String
    /// The number of decimals the paper prints.
    public let decimals: Int
    let values: [Key: Double]

    struct Key: Hashable {
        var student: String, teacher: String?, column: String
        var dataset: String? = nil
    }

    /// The paper's error for `column` of the row (student, teacher), if it reports one.
    public func error(student: String, teacher: String?, column: String, dataset: String? = nil) -> Double? {
        values[Key(student: student, teacher: teacher, column: column, dataset: dataset)]
    }

    /// The paper's tables by spec name: "table1", "table2", "table3".
    public static func named(_ name: String) -> PaperTable? {
        switch name {
        case "table1": return table1
        case "table2": return table2
        case "table3": return table3
        case "table4": return table4
        default: return nil
        }
    }

    private init(rule: String, decimals: Int, rows: [(student: String, teacher: String, errors: [(String, Double)])],
                 dataset: [String?]? = nil) {
        self.rule = rule
        self.decimals = decimals
        var values: [Key: Double] = [:]
        for (i, row) in rows.enumerated() {
            for (column, error) in row.errors {
                values[Key(student: row.student, teacher: row.teacher, column: column, dataset: dataset?[i] ?? nil)] = error
            }
        }
        self.values = values
    }

    private static func table1Row(_ errors: [Double]) -> [(String, Double)] {
        Array(zip(["student", "AT", "F-ActT", "KD", "AT+KD", "teacher"], errors))
    }

    /// Table 1: activation-based AT with various architectures.
    static let table1 = PaperTable(rule: "median of 5 runs", decimals: 2, rows: [
        ("nin-thin", "nin-wide", table1Row([9.38, 8.93, 9.05, 8.55, 8.33, 7.28])),
        ("wrn-16-1", "wrn-16-2", table1Row([8.77, 7.93, 8.51, 7.41, 7.51, 6.31])),
        ("wrn-16-1", "wrn-40-1", table1Row([8.77, 8.25, 8.62, 8.39, 8.01, 6.58])),
        ("wrn-16-2", "wrn-40-2", table1Row([6.31, 5.85, 6.24, 6.08, 5.71, 5.23])),
    ])

    /// Table 2: attention mappings, WRN-16-2 teacher → WRN-16-1 student.
    static let table2 = PaperTable(rule: "median of 5 runs", decimals: 2, rows: [
        ("wrn-16-1", "wrn-16-2", [("no attention transfer", 8.77), ("F_sum", 7.99), ("F_sum^2", 7.93),
                                  ("F_sum^4", 8.09), ("F_max^1", 8.08)]),
    ])

    /// Table 3: gradient-based AT, NIN-wide teacher → NIN-thin student without batch norm.
    static let table3 = PaperTable(rule: "single runs", decimals: 1, rows: [
        ("nin-thin-nobn", "nin-wide", [("student baseline", 13.5), ("min-l2", 12.5), ("grad-based AT", 12.1),
                                       ("KD", 12.1), ("symmetry norm", 11.8), ("activation-based AT", 11.2)]),
    ])

    /// Table 4: ImageNet-pretrained ResNet-18 fine-tuned with a ResNet-34 teacher (one number per cell).
    static let table4 = PaperTable(rule: "single runs", decimals: 1, rows: [
        ("resnet-18", "resnet-34", [("student", 28.5), ("KD", 27.0), ("AT", 27.0), ("teacher", 26.5)]),
        ("resnet-18", "resnet-34", [("student", 28.2), ("KD", 28.1), ("AT", 27.1), ("teacher", 26.0)]),
    ], dataset: ["cub200", "indoor67"])
}
