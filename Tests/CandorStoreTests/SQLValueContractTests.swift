import CandorStore
import Foundation
import Testing

/// Every value a store writes comes back exactly as written, on both backends: SQLite binds and reads
/// them through its C API directly (`GRDBConnection`), so text in any script, empty text versus NULL,
/// blobs and the extremes of numbers are checked here rather than trusted.
@Suite("SQL values")
struct SQLValueContractTests {
    @Test("every kind of value round-trips exactly, and a failed statement raises the database error and leaves the connection usable", arguments: Backend.available)
    func roundTrip(backend: Backend) async throws {
        let (database, dispose) = try await backend.makeDatabase()
        defer { Task { await dispose() } }
        let blob = database.dialect == .sqlite ? "BLOB" : "BYTEA"
        let real = database.dialect == .sqlite ? "REAL" : "DOUBLE PRECISION"
        let integer = database.dialect == .sqlite ? "INTEGER" : "BIGINT"
        let written: [[SQLValue]] = [
            [.int(1), .text("plain ascii"), .int(Int64.max), .double(0.5), .blob([0, 1, 2, 255])],
            [.int(2), .text("שלום — עברית, emoji 🏃‍♀️, and a \"quote\""), .int(Int64.min), .double(-1e300), .blob([])],
            [.int(3), .text(""), .int(0), .double(0), .null],
            [.int(4), .null, .null, .null, .blob(Array(repeating: 7, count: 10_000))],
            [.int(5), .text(String(repeating: "long text ", count: 2_000)), .int(-1), .double(3.141592653589793), .blob([0])],
        ]
        try await database.write(shard: 0) { connection in
            try connection.execute("CREATE TABLE value_check (id \(integer) PRIMARY KEY, words TEXT, number \(integer), fraction \(real), bytes \(blob))", [])
            for row in written {
                try connection.execute("INSERT INTO value_check (id, words, number, fraction, bytes) VALUES (?, ?, ?, ?, ?)", row)
            }
        }
        let read = try await database.read { connection in
            try connection.query("SELECT id, words, number, fraction, bytes FROM value_check ORDER BY id", []).map(\.values)
        }
        #expect(read.count == written.count)
        for (got, want) in zip(read, written) {
            #expect(got == want, "row \(want[0])")
        }

        // A statement that breaks a constraint raises the database's error, recognised as such, and changes nothing;
        // the same statement then runs again on the same connection.
        let insert = "INSERT INTO value_check (id, words) VALUES (?, ?)"
        await #expect {
            try await database.write(shard: 0) { connection in try connection.execute(insert, [.int(1), .text("duplicate")]) }
        } throws: { database.isUniqueViolation($0) }
        try await database.write(shard: 0) { connection in try connection.execute(insert, [.int(6), .text("after the failure")]) }
        let after = try await database.read { connection in
            try connection.query("SELECT words FROM value_check WHERE id IN (1, 6) ORDER BY id", []).map { $0.text(0) }
        }
        #expect(after == ["plain ascii", "after the failure"])
    }
}
