import Foundation
import GRDB

/// The embedded backend: SQLite in WAL mode through GRDB, with durable commits
/// (`synchronous=FULL`) and `secure_delete` so erased rows are overwritten in the file.
///
/// WAL pages are copied into the main file by a connection of its own in the background (see
/// `WALCheckpointer`), not by the writer after its commits: the single writer is what every write
/// waits on, and SQLite's automatic checkpoint made every few commits pay for copying and syncing
/// thousands of pages. The writer still checkpoints when the WAL grows past `writerCheckpointPages`
/// (a safety net when the background copy falls behind; by then most pages are already copied).
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    let pool: DatabasePool
    let path: String
    private let checkpointer: WALCheckpointer
    /// 64 MiB of WAL with 4 KiB pages.
    static let writerCheckpointPages = 16_384

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 8
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // 8 MiB of page cache per connection (the default is 2 MiB): the hot pages of the
            // write path — subject rows, ledger heads, index interiors — stay in memory.
            try db.execute(sql: "PRAGMA cache_size = -8192")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerCheckpointPages)")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        checkpointer = try WALCheckpointer(path: path, configuration: configuration)
    }

    public var files: [String] { [path, path + "-wal"] }

    /// SQLite has a single writer.
    public var writerCount: Int { 1 }

    public func write<T: Sendable>(shard: Int, _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await pool.write { db in try body(GRDBConnection(db: db)) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await pool.read { db in try body(GRDBConnection(db: db)) }
    }

    public func migrate() async throws {
        var migrator = DatabaseMigrator()
        for migration in Migrations.all {
            migrator.registerMigration(migration.name) { db in
                for statement in migration.sqlite { try db.execute(sql: statement) }
            }
        }
        try migrator.migrate(pool)
    }

    public func purgeFreedSpace() async throws {
        // Copy every WAL frame into the main file (where secure_delete zeroed erased cells) and
        // truncate the WAL, so no old page image of an erased subject survives in it.
        // SQLite answers SQLITE_BUSY at once, without waiting, while another connection checkpoints
        // (the background copy, or another process's): wait for it to finish and try again.
        var attempt = 0
        while true {
            do {
                _ = try await pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
                return
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 200 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(25))
            }
        }
    }

    public func isUniqueViolation(_ error: Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
    }

    /// Closes the pool. `DatabasePool.close()` blocks until every connection is back, and a connection
    /// can be handed back by a task that needs a thread of Swift's cooperative pool to finish: blocking
    /// those threads here (two of them on a 2-core machine, when two stores close at once) deadlocked a
    /// test run. So the wait happens on a Dispatch thread, never on the cooperative pool.
    public func close() async throws {
        await checkpointer.stop()
        let pool = self.pool
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, Error>) in
            DispatchQueue.global().async {
                do { try pool.close(); done.resume() } catch { done.resume(throwing: error) }
            }
        }
    }
}

struct GRDBConnection: SQLConnection {
    let db: Database

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        // Cached: the same few statements run for every write, so compiling them once matters.
        try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(arguments.map(\.grdb)))
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        statement.arguments = StatementArguments(arguments.map(\.grdb))
        let cursor = try Row.fetchCursor(statement)
        var rows = [SQLRow]()
        while let row = try cursor.next() {
            var values = [SQLValue]()
            values.reserveCapacity(row.count)
            for index in 0..<row.count {
                switch (row[index] as DatabaseValue).storage {
                case .null: values.append(.null)
                case .int64(let number): values.append(.int(number))
                case .double(let number): values.append(.double(number))
                case .string(let text): values.append(.text(text))
                case .blob(let data): values.append(.blob(Array(data)))
                }
            }
            rows.append(SQLRow(values))
        }
        return rows
    }

    func savepoint<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        try db.inSavepoint {
            result = try body()
            return .commit
        }
        return result!
    }
}

extension SQLValue {
    var grdb: DatabaseValueConvertible? {
        switch self {
        case .null: nil
        case .int(let number): number
        case .double(let number): number
        case .text(let text): text
        case .blob(let bytes): Data(bytes)
        }
    }
}

/// Copies committed WAL pages into the main database file from a connection of its own, so the writer's
/// commits do not stop to do it. A passive checkpoint never blocks the writer or readers: it copies what
/// no reader still needs and syncs the main file. It runs again at once while it finds pages to copy,
/// and every 100 ms otherwise.
final class WALCheckpointer: Sendable {
    private let connection: DatabaseQueue
    private let loop: Locked<Task<Void, Never>?> = Locked(nil)

    init(path: String, configuration: Configuration) throws {
        connection = try DatabaseQueue(path: path, configuration: configuration)
        let connection = self.connection
        loop.withLock {
            $0 = Task.detached(priority: .utility) {
                var backfilled = 0
                var busy = false
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(busy ? 10 : 100))
                    // SQLITE_BUSY (another checkpoint is running, e.g. the writer's) is fine: it copies them.
                    let result = try? await connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                    guard let result else { busy = false; continue }
                    // The count restarts at zero when the writer starts the WAL over.
                    let copied = result.checkpointedFrameCount >= backfilled ? result.checkpointedFrameCount - backfilled : result.checkpointedFrameCount
                    backfilled = result.checkpointedFrameCount
                    busy = copied >= 256
                }
            }
        }
    }

    deinit { loop.withLock { $0?.cancel() } }

    /// Stops the loop and closes the connection.
    func stop() async {
        let task = loop.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
        try? connection.close()
    }
}
