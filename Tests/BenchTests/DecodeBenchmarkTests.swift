import Bench
import XCTest

final class BenchmarkTests: XCTestCase {
    func testBatchDecodeBenchmarkRuns() {
        let seconds = benchmarkBatchDecode(batches: 3)
        print(String(format: "decode+augment of a 128-image batch: %.3f ms (this build)", seconds * 1e3))
        XCTAssertGreaterThan(seconds, 0)
    }

    func testJPEGBatchBenchmarkRuns() throws {
        let seconds = try benchmarkJPEGBatch(batchSize: 4, batches: 1)
        print(String(format: "JPEG decode+resize+crop of a 4-image 224 batch: %.1f ms (this build)", seconds * 1e3))
        XCTAssertGreaterThan(seconds, 0)
    }
}
