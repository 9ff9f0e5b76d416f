import CandorStore
import Foundation
import Testing

@Suite("SQLite WAL checkpoints")
struct WALCheckpointTests {
    @Test("Committed pages reach the main file in the background, long before the writer's own checkpoint threshold")
    func backgroundCheckpoint() async throws {
        try await withTemporarySQLitePath { path in
            let database = try SQLiteDatabase(path: path)
            func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0 }

            // Given about 8 MB committed in 40 transactions: ~2,000 WAL pages, far below the 16,384 at
            // which the writer would checkpoint after a commit itself
            try await database.write { try $0.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)", []) }
            let body = String(repeating: "x", count: 4_000)
            for batch in 0..<40 {
                try await database.write { connection in
                    for row in 0..<50 { try connection.execute("INSERT INTO t (id, body) VALUES (?, ?)", [.int(Int64(batch * 50 + row)), .text(body)]) }
                }
            }

            // Then, with no further write, the pages are copied into the main file within a few seconds
            let deadline = Date().addingTimeInterval(5)
            while size(path) < 8_000_000, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(size(path) >= 8_000_000)
            let rows = try await database.read { try $0.query("SELECT count(*) FROM t", []).first?.int(0) }
            #expect(rows == 2_000)
            try await database.close()
        }
    }
}
