// Typed command-line values: each parses (and lists what it accepts) in one place, so the
// commands get checked values, not strings.
import ArgumentParser
import Bench
import Data
import NN
import Training

/// A comma-separated list of values, e.g. `--threads 1,2`.
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument, CustomStringConvertible {
    var values: [Element]
    init(_ values: [Element]) { self.values = values }
    init?(argument: String) {
        var values: [Element] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = Element(argument: String(part)) else { return nil }
            values.append(v)
        }
        self.values = values
    }
    var description: String { values.map { $0.defaultValueDescription }.joined(separator: ",") }
    var defaultValueDescription: String { description }
    static var allValueStrings: [String] { Element.allValueStrings }
}

/// The sections of `atx bench`.
enum BenchSection: String, CaseIterable, ExpressibleByArgument {
    case steps, conv, grid, blas
}

extension StepBenchCase: ExpressibleByArgument {
    public init?(argument: String) {
        guard let c = StepBenchCase.named(argument) else { return nil }
        self = c
    }
    public var defaultValueDescription: String { name }
    public static var allValueStrings: [String] { table.map(\.name) }
}

extension Mapping: ExpressibleByArgument {}

extension MethodKind: ExpressibleByArgument {}

extension KDForm: ExpressibleByArgument {}

extension WeightInitialization: ExpressibleByArgument {}

extension PaddingMode: ExpressibleByArgument {}

extension DatasetChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { description }
    public static var allValueStrings: [String] { DatasetChoice.names }
}

extension Split: ExpressibleByArgument {
    public static var allValueStrings: [String] { ["train", "test"] }
}
