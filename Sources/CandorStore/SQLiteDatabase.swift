import Foundation
import GRDB
import GRDBSQLite

/// SQLite's SQLITE_TRANSIENT: copy the bound bytes before the bind call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
/// Bound for an empty text, which has no buffer of its own.
nonisolated(unsafe) private let emptyText: UnsafePointer<CChar> = UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)

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

/// One SQLite connection as a `SQLConnection`.
///
/// Statements run through SQLite's C API on GRDB's cached prepared statements: binding the arguments
/// with `sqlite3_bind_*` and reading columns with `sqlite3_column_*` directly. GRDB's own path converts
/// every argument to `StatementArguments` and every column to a `DatabaseValue` and runs its observation
/// bookkeeping per statement; on the decision journal that was as much CPU as SQLite's own work (1M
/// people, 64 clients, perf). Nothing here uses GRDB's observation, and these statements never begin or
/// end transactions (GRDB does that around `write`). A statement that fails is run once more through
/// GRDB, which then raises the `DatabaseError` with its usual bookkeeping: a failed statement changed
/// nothing (SQLite undoes a statement that fails), so running it again is safe.
struct GRDBConnection: SQLConnection {
    let db: Database

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        // Cached: the same few statements run for every write, so compiling them once matters.
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        if Self.bind(arguments, to: handle, expected: Int(sqlite3_bind_parameter_count(handle))) {
            var code = sqlite3_step(handle)
            while code == SQLITE_ROW { code = sqlite3_step(handle) }
            sqlite3_reset(handle)
            if code == SQLITE_DONE { return }
        }
        try statement.execute(arguments: StatementArguments(arguments.map(\.grdb)))
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        if Self.bind(arguments, to: handle, expected: Int(sqlite3_bind_parameter_count(handle))) {
            var rows = [SQLRow]()
            let columns = sqlite3_column_count(handle)
            var code = sqlite3_step(handle)
            while code == SQLITE_ROW {
                var values = [SQLValue]()
                values.reserveCapacity(Int(columns))
                for column in 0..<columns { values.append(Self.value(handle, column)) }
                rows.append(SQLRow(values))
                code = sqlite3_step(handle)
            }
            sqlite3_reset(handle)
            if code == SQLITE_DONE { return rows }
        }
        return try queryThroughGRDB(statement, arguments)
    }

    /// Binds the arguments (after a reset); false when their number does not match, so GRDB names the error.
    private static func bind(_ arguments: [SQLValue], to handle: OpaquePointer, expected: Int) -> Bool {
        guard arguments.count == expected else { return false }
        sqlite3_reset(handle)
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch argument {
            case .null: code = sqlite3_bind_null(handle, index)
            case .int(let number): code = sqlite3_bind_int64(handle, index, number)
            case .double(let number): code = sqlite3_bind_double(handle, index, number)
            case .text(var text):
                // SQLITE_TRANSIENT: SQLite copies the bytes before this call returns.
                code = text.withUTF8 { bytes in
                    sqlite3_bind_text(handle, index, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } ?? emptyText,
                                      Int32(bytes.count), sqliteTransient)
                }
            case .blob(let bytes):
                code = bytes.withUnsafeBytes { raw in
                    raw.baseAddress.map { sqlite3_bind_blob(handle, index, $0, Int32(raw.count), sqliteTransient) } ?? sqlite3_bind_zeroblob(handle, index, 0)
                }
            }
            if code != SQLITE_OK { return false }
        }
        return true
    }

    /// One column of the current row, as GRDB would have read it.
    private static func value(_ handle: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(handle, column))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(handle, column))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(handle, column) else { return .text("") }
            let count = Int(sqlite3_column_bytes(handle, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    private func queryThroughGRDB(_ statement: Statement, _ arguments: [SQLValue]) throws -> [SQLRow] {
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
