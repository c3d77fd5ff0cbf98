// The command line as users type it: flags parse into the project's types (methods, datasets,
// mappings, bench rows), and bad values get messages that name the flag, the value and what is
// accepted. In swift-argument-parser's style: parse, validate, the error text.
import ArgumentParser
@testable import atx
import Data
import Training
import XCTest

final class CLIParsingTests: XCTestCase {
    /// The message `atx` prints for `arguments` given to `command`, which must fail to parse or validate.
    func failure<C: ParsableCommand>(_ command: C.Type, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try command.parse(arguments)
            XCTFail("\(arguments) parsed", file: file, line: line)
            return ""
        } catch {
            return command.message(for: error)
        }
    }

    func testTrainParsesMethodMappingAndDatasetIntoTypes() throws {
        let t = try Train.parse(["--student", "wrn-16-1", "--method", "at+kd", "--mapping", "sum4", "--beta", "500",
                                 "--dataset", "fashion-mnist", "--teacher-checkpoint", "t/model.safetensors", "--out", "run"])
        XCTAssertEqual(t.method, .atkd)
        XCTAssertEqual(t.mapping, .sum4)
        XCTAssertEqual(t.dataset, .named(.fashionMNIST))
        XCTAssertEqual(try t.hyperparameters(), .atkd(mapping: .sum4, beta: 500, temperature: 4, alpha: 0.9, schedule: .learningRate, form: .code2017))
        let defaults = try Train.parse(["--student", "wrn-10-1", "--out", "run"])
        XCTAssertEqual(defaults.method, .ce)
        XCTAssertEqual(defaults.dataset, .auto)
        XCTAssertNil(defaults.mapping)
    }

    func testUnknownValuesNameTheFlagAndListWhatIsAccepted() {
        let method = failure(Train.self, ["--student", "wrn-10-1", "--method", "fitnet", "--out", "run"])
        XCTAssertTrue(method.contains("'fitnet'") && method.contains("--method"), method)
        for accepted in MethodKind.allCases { XCTAssertTrue(method.contains("- \(accepted)\n") || method.hasSuffix("- \(accepted)"), "\(accepted): \(method)") }
        let dataset = failure(Train.self, ["--student", "wrn-10-1", "--dataset", "cifar100", "--out", "run"])
        XCTAssertTrue(dataset.contains("'cifar100'") && dataset.contains("--dataset"), dataset)
        for accepted in DatasetChoice.names { XCTAssertTrue(dataset.contains("- \(accepted)\n") || dataset.hasSuffix("- \(accepted)"), "\(accepted): \(dataset)") }
        let mapping = failure(Train.self, ["--student", "wrn-10-1", "--mapping", "sum3", "--out", "run"])
        XCTAssertTrue(mapping.contains("'sum3'") && mapping.contains("max1"), mapping)
        let row = failure(BenchCommand.self, ["--cases", "wrn-16-1,vgg-16"])
        XCTAssertTrue(row.contains("vgg-16") && row.contains("--cases"), row)
    }

    func testValidationSaysWhatIsWrongWithTheValue() {
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--method", "kd", "--beta", "1", "--teacher-checkpoint", "t", "--out", "r"]),
                       "--method kd: method 'kd' does not take 'beta'; it takes: temperature, alpha")
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--method", "kd", "--mapping", "sum1", "--teacher-checkpoint", "t", "--out", "r"]),
                       "--method kd: method 'kd' does not take a mapping; only at and at+kd match attention maps")
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--method", "at", "--out", "r"]),
                       "--method at needs --teacher-checkpoint (train the teacher first with --method ce)")
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--threads", "0", "--out", "r"]), "--threads must be at least 1, got 0")
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--train-subset", "-5", "--out", "r"]),
                       "--train-subset must be a positive number of images, got -5")
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--epochs", "0", "--out", "r"]),
                       "--epochs must be a positive number of epochs, got 0")
        XCTAssertEqual(failure(Train.self, ["--student", "wrn-10-1", "--lr", "-0.1", "--out", "r"]), "--lr must be a positive number, got -0.1")
        XCTAssertEqual(failure(Run.self, ["experiments/smoke.yaml", "--jobs", "0"]), "--jobs and --threads must be at least 1")
        XCTAssertEqual(failure(Attention.self, ["--checkpoint", "m", "--tile", "0", "--out", "a.png"]), "--tile must be at least 1, got 0")
    }

    func testSubcommandsAreFoundByName() throws {
        XCTAssertTrue(try ATX.parseAsRoot(["plan", "experiments/table1.yaml", "--profile", "paper"]) is Plan)
        XCTAssertTrue(try ATX.parseAsRoot(["bench", "--quick", "--threads", "1,2"]) is BenchCommand)
        let bench = try BenchCommand.parse(["--threads", "1,2", "--cases", "wrn-16-1,resnet-18 224 fine-tune"])
        XCTAssertEqual(bench.threads.values, [1, 2])
        XCTAssertEqual(bench.rows.map(\.name), ["wrn-16-1", "resnet-18 224 fine-tune"])
    }
}
