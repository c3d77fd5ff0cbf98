import Foundation
import XCTest
@testable import Tensor

/// The parallel loops on CThreads' workers: every chunk runs exactly once with its own range,
/// across thousands of back-to-back loops, loops after the workers fell asleep, loops started
/// from inside a chunk, and loops started by two threads at once.
final class ThreadsTests: XCTestCase {
    /// Counts, per chunk, how often it ran and with which range.
    final class Record: @unchecked Sendable {
        let lock = NSLock()
        var ranges: [Int: [Range<Int>]] = [:]
        func add(_ c: Int, _ r: Range<Int>) { lock.lock(); ranges[c, default: []].append(r); lock.unlock() }
    }

    func check(n: Int, chunks: Int, file: StaticString = #filePath, line: UInt = #line) {
        let record = Record()
        Threads.forEachChunk(n, chunks: chunks) { c, r in record.add(c, r) }
        XCTAssertEqual(record.ranges.count, chunks, "n \(n) chunks \(chunks)", file: file, line: line)
        for c in 0..<chunks {
            XCTAssertEqual(record.ranges[c], [Threads.chunkRange(n, chunks: chunks, c)], "chunk \(c) of \(chunks)", file: file, line: line)
        }
    }

    func testEveryChunkRunsOnceWithItsRange() {
        let before = Threads.count
        defer { Threads.set(before) }
        for threads in [1, 2, 3, 5] {
            Threads.set(threads)
            for (n, chunks) in [(1, 1), (7, 2), (100, 8), (5, 5), (1000, 37), (0, 3)] { check(n: n, chunks: chunks) }
        }
    }

    func testBackToBackLoopsAndLoopsAfterTheWorkersSlept() {
        let before = Threads.count
        defer { Threads.set(before) }
        Threads.set(2)
        var sums = [Int](repeating: 0, count: 8)
        for i in 0..<20_000 {
            sums.withUnsafeMutableBufferPointer { b in
                let p = SendablePointer(b.baseAddress!)
                Threads.forEachChunk(8, chunks: 8) { c, r in p.p[c] += r.count }
            }
            if i % 2_000 == 0 { usleep(2_000) }   // longer than the workers spin: they sleep and are woken
        }
        XCTAssertEqual(sums, [Int](repeating: 20_000, count: 8))
    }

    func testLoopInsideAChunkRunsOnItsThread() {
        let before = Threads.count
        defer { Threads.set(before) }
        Threads.set(2)
        let record = Record()
        Threads.forEachChunk(4, chunks: 4) { c, _ in
            Threads.forEachChunk(6, chunks: 3) { d, r in record.add(c * 10 + d, r) }
        }
        XCTAssertEqual(record.ranges.count, 12)
        for c in 0..<4 {
            for d in 0..<3 { XCTAssertEqual(record.ranges[c * 10 + d], [(2 * d)..<(2 * d + 2)]) }
        }
    }

    func testLoopsFromTwoThreadsAtOnce() {
        let before = Threads.count
        defer { Threads.set(before) }
        Threads.set(2)
        let records = [Record(), Record()]
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            for _ in 0..<2_000 { Threads.forEachChunk(16, chunks: 4) { c, r in records[t].add(c, r) } }
        }
        for record in records {
            XCTAssertEqual(record.ranges.count, 4)
            for c in 0..<4 { XCTAssertEqual(record.ranges[c]?.count, 2_000) }
        }
    }
}
