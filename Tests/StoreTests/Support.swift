import Foundation
import XCTest
import Store

/// A fresh directory under the system temporary directory, removed after the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("atx-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

func makeRun(_ key: String, status: RunStatus = .queued, teacherKey: String? = nil, epochsDone: Int = 0,
             finalTestError: Double? = nil, createdAt: Date = Date()) -> RunRecord {
    RunRecord(key: key, configJSON: #"{"key":"\#(key)"}"#, student: "wrn-16-1", teacher: teacherKey.map { _ in "wrn-16-2" },
              teacherKey: teacherKey, method: teacherKey == nil ? "ce" : "at", seed: 0, dataset: "cifar10",
              profile: "smoke", status: status, createdAt: createdAt, epochsDone: epochsDone, epochsTotal: 3,
              finalTestError: finalTestError)
}

func makeEpoch(_ key: String, _ epoch: Int, testError: Double = 0.5) -> EpochRow {
    EpochRow(runKey: key, epoch: epoch, trainLoss: 1, trainError: 0.4, testLoss: 1.1, testError: testError,
             learningRate: 0.1, seconds: 2, imagesPerSecond: 100, parts: ["ce": 1])
}

func assertSound(_ store: Store, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(try store.integrityProblems(), [], file: file, line: line)
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows<T>(_ expected: StoreError, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> T) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? StoreError, expected, "\(error)", file: file, line: line)
    }
}
