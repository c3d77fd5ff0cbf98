import Bench
import XCTest

final class BenchmarkTests: XCTestCase {
    func testBatchDecodeBenchmarkRuns() {
        let seconds = benchmarkBatchDecode(batches: 3)
        print(String(format: "decode+augment of a 128-image batch: %.3f ms (this build)", seconds * 1e3))
        XCTAssertGreaterThan(seconds, 0)
    }
}
