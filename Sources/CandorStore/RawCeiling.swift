import Foundation

/// The raw SQLite ceiling on this disk, with the same pragmas the store uses: what a benchmark of
/// Candor's own write path is compared with.
public enum RawSQLiteCeiling {
    /// Single-row durable transactions per second, and rows per second inserted in batches.
    public static func measure(directory: String, seconds: Double = 3, batchRows: Int = 200_000) async throws -> (singleRowPerSecond: Double, batchedRowsPerSecond: Double) {
        let path = (directory as NSString).appendingPathComponent("raw-ceiling.sqlite")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let database = try SQLiteDatabase(path: path)
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await database.write { try $0.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, subject_id TEXT NOT NULL, value TEXT NOT NULL)", []) }
        let payload = String(repeating: "x", count: 200)
        var count = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            let subject = "sub_\(count)"
            try await database.write { try $0.execute("INSERT INTO t (subject_id, value) VALUES (?, ?)", [.text(subject), .text(payload)]) }
            count += 1
        }
        let single = Double(count) / Date().timeIntervalSince(start)
        let batchStart = Date()
        var inserted = 0
        while inserted < batchRows {
            let base = inserted
            try await database.write { connection in
                for index in 0..<10_000 { try connection.execute("INSERT INTO t (subject_id, value) VALUES (?, ?)", [.text("sub_\(base + index)"), .text(payload)]) }
            }
            inserted += 10_000
        }
        let batched = Double(inserted) / Date().timeIntervalSince(batchStart)
        try await database.close()
        return (single, batched)
    }
}
