import Foundation
import GRDB
@testable import Store
import XCTest

/// Opening files: a new file is initialised; anything else that is not a current atx database is
/// refused and left byte-identical; a lock held too long is reported.
final class SchemaTests: XCTestCase {
    func testMigrationFromEmptyCreatesTablesViewsAndIdentification() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results/nested/results.db").path
        let store = try Store(path: path)
        try store.upsertGrid(name: "table1", specPath: "experiments/table1.yaml", specJSON: "{}", profile: "smoke")
        let reopened = try Store(path: path)
        XCTAssertEqual(try reopened.grids().map(\.name), ["table1"])

        let db = try DatabaseQueue(path: path)
        try db.read { db in
            let objects = try Row.fetchAll(db, sql: "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
                .map { "\($0["type"] as String) \($0["name"] as String)" }
            XCTAssertEqual(Set(objects), [
                "table grdb_migrations", "table grids", "table runs", "table epochs", "table cells",
                "index cells_run_key", "view run_final", "view grid_status", "view cell_summary",
                "table t_quantiles", "view cell_effect", "table database_identity", "table power_thresholds",
            ])
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA application_id"), 0x6174_7800)
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal")
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"), Schema.knownMigrations)
            XCTAssertEqual(Schema.knownMigrations, ["v1-initial", "v2-cell-effect", "v3-runs-blas-kernels", "v4-cell-roles",
                                                    "v5-database-identity-and-data", "v6-effect-tests", "v7-epoch-beta-top5"])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT id FROM database_identity")?.count, 32)
            XCTAssertEqual(try Row.fetchAll(db, sql: "SELECT * FROM cell_summary"), [])
            XCTAssertEqual(try Row.fetchAll(db, sql: "SELECT * FROM cell_effect"), [])
        }
        assertSound(store)
    }

    func testEmptyFileIsInitialised() throws {
        let directory = try temporaryDirectory(self)
        let path = directory.appendingPathComponent("results.db").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        try Store(path: path).register(makeRun("a"))
        XCTAssertEqual(try Store(path: path).runs().map(\.key), ["a"])

        // What an atx killed before its first migration committed leaves behind.
        let unfinished = directory.appendingPathComponent("unfinished.db").path
        try DatabaseQueue(path: unfinished).write {
            try $0.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        }
        assertSound(try Store(path: unfinished))
    }

    func testTextFileIsRefusedUntouched() throws {
        let directory = try temporaryDirectory(self)
        let path = directory.appendingPathComponent("notes.db").path
        try Data("not a database\n".utf8).write(to: URL(fileURLWithPath: path))
        try assertRefusedUntouched(path, directory: directory, .notAnAtxDatabase(path: path))
    }

    func testOtherApplicationsDatabasesAreRefusedUntouched() throws {
        let directory = try temporaryDirectory(self)
        let withTable = directory.appendingPathComponent("other.db").path
        try DatabaseQueue(path: withTable).write { try $0.execute(sql: "CREATE TABLE notes (body TEXT)") }
        try assertRefusedUntouched(withTable, directory: directory, .notAnAtxDatabase(path: withTable))

        let withID = directory.appendingPathComponent("other-id.db").path
        try DatabaseQueue(path: withID).writeWithoutTransaction { try $0.execute(sql: "PRAGMA application_id = 42") }
        try assertRefusedUntouched(withID, directory: directory, .notAnAtxDatabase(path: withID))
    }

    func testNewerSchemaIsRefusedUntouched() throws {
        let directory = try temporaryDirectory(self)
        let path = directory.appendingPathComponent("results.db").path
        try Store(path: path).register(makeRun("a"))
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v99-future')")
        }
        try assertRefusedUntouched(path, directory: directory,
                                   .newerSchema(path: path, found: ["v99-future"], known: Schema.knownMigrations))
    }

    func testLockHeldBeyondBusyTimeoutIsReported() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("results.db").path
        try Store(path: path).register(makeRun("a"))
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: path, configuration: configuration)
        try holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        defer { try? holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") } }

        let start = Date()
        assertThrows(.locked(path: path)) {
            try Store(path: path, busyTimeout: 0.2).heartbeat(key: "a")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(try Store(path: path).run(key: "a")?.key, "a", "reads are not blocked by a writer")
    }

    func testConcurrentCreationOfOneNewFile() throws {
        let directory = try temporaryDirectory(self)
        for attempt in 0..<10 {
            let path = directory.appendingPathComponent("results-\(attempt).db").path
            let errors = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                do { _ = try Store(path: path) } catch { errors.update { $0.append("\(error)") } }
            }
            XCTAssertEqual(errors.value, [])
            assertSound(try Store(path: path))
        }
    }

    /// `path` is refused, by `Store(path:)` and as a merge shard, and its bytes stay the same.
    /// No file appears beside it, except for a WAL-mode database, where a reader may create empty
    /// -wal and -shm files.
    private func assertRefusedUntouched(_ path: String, directory: URL, _ expected: StoreError,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        func files() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix("main-") }.sorted()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let filesBefore = try files()
        assertThrows(expected, file: file, line: line) { try Store(path: path) }
        let main = try Store(path: directory.appendingPathComponent("main-\(UUID()).db").path)
        assertThrows(expected, file: file, line: line) { try main.merge(shardPath: path) }

        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "bytes changed", file: file, line: line)
        let appeared = Set(try files()).subtracting(filesBefore)
        if before.count > 18, before[18] == 2 {  // the header's write version: 2 in WAL mode
            XCTAssertTrue(appeared.isSubset(of: [path + "-wal", path + "-shm"].map { URL(fileURLWithPath: $0).lastPathComponent }),
                          "\(appeared)", file: file, line: line)
            let wal = directory.appendingPathComponent(URL(fileURLWithPath: path + "-wal").lastPathComponent).path
            XCTAssertEqual(try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int ?? 0, 0,
                           "the -wal holds nothing", file: file, line: line)
        } else {
            XCTAssertEqual(appeared, [], "files appeared", file: file, line: line)
        }
        XCTAssertTrue(expected.description.contains(path), file: file, line: line)
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
