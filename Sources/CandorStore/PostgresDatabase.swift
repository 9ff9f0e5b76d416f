import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The scale-out backend: PostgreSQL through PostgresNIO. A few writer connections per node each carry
/// grouped write transactions (the store spreads subjects over them, so one subject's writes stay in
/// order on one connection); a small pool of reader connections serves reads. App nodes keep no
/// state of their own, so several can share one database.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    let writers: [PostgresConnection]
    let writeQueues: [DispatchQueue]
    let readers: Locked<[PostgresConnection]>
    let readerSlots: DispatchSemaphore
    let allReaders: [PostgresConnection]
    let readQueue = DispatchQueue(label: "candor.postgres.reader", attributes: .concurrent)
    let logger: Logger

    /// Connects to `postgres://user:password@host:port/database`.
    public static func connect(url: String, readerCount: Int = 4, writerCount: Int = 4, logger: Logger) async throws -> PostgresDatabase {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host
        else { throw CandorStoreError.configuration("database URL must look like postgres://user:password@host:port/database") }
        let configuration = PostgresConnection.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: components.path.isEmpty ? nil : String(components.path.dropFirst()), tls: .disable)
        var connections = [PostgresConnection]()
        for index in 0..<(readerCount + max(1, writerCount)) {
            connections.append(try await PostgresConnection.connect(configuration: configuration, id: index, logger: logger))
        }
        let writers = Array(connections.prefix(max(1, writerCount)))
        return PostgresDatabase(writers: writers, readers: Array(connections.dropFirst(writers.count)), logger: logger)
    }

    init(writers: [PostgresConnection], readers: [PostgresConnection], logger: Logger) {
        self.writers = writers
        self.writeQueues = writers.indices.map { DispatchQueue(label: "candor.postgres.writer.\($0)") }
        self.allReaders = readers
        self.readers = Locked(readers)
        self.readerSlots = DispatchSemaphore(value: readers.count)
        self.logger = logger
    }

    public var files: [String] { [] }

    public var writerCount: Int { writers.count }

    public func write<T: Sendable>(shard: Int, _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        let connection = PostgresBlockingConnection(connection: writers[shard], logger: logger)
        return try await withCheckedThrowingContinuation { continuation in
            writeQueues[shard].async {
                continuation.resume(with: Result { try connection.transaction(readOnly: false, body) })
            }
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            readQueue.async { [self] in
                readerSlots.wait()
                let leased = readers.withLock { $0.removeLast() }
                defer {
                    readers.withLock { $0.append(leased) }
                    readerSlots.signal()
                }
                let connection = PostgresBlockingConnection(connection: leased, logger: logger)
                continuation.resume(with: Result { try connection.transaction(readOnly: true, body) })
            }
        }
    }

    public func migrate() async throws {
        try await write { connection in
            // One node migrates at a time; the others wait here and then find nothing to do.
            try connection.execute("SELECT pg_advisory_xact_lock(727274)", [])
            try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)", [])
            let done = Set(try connection.query("SELECT name FROM schema_migrations", []).map { $0.text(0) })
            for migration in Migrations.all where !done.contains(migration.name) {
                for statement in migration.postgres { try connection.execute(statement, []) }
                try connection.execute("INSERT INTO schema_migrations (name) VALUES (?)", [.text(migration.name)])
            }
        }
    }

    /// Runs one maintenance statement that PostgreSQL refuses inside a transaction (`VACUUM ANALYZE …`),
    /// on the first writer's queue between its transactions.
    public func maintain(_ sql: String) async throws {
        let connection = PostgresBlockingConnection(connection: writers[0], logger: logger)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            writeQueues[0].async {
                continuation.resume(with: Result { _ = try connection.send(sql, []).wait() })
            }
        }
    }

    public func purgeFreedSpace() async throws {
        // Nothing to do at once: the erased person's key is destroyed in the same transaction, and
        // PostgreSQL's autovacuum reclaims the dead row versions of the deleted projections.
    }

    public func isUniqueViolation(_ error: Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    public func close() async throws {
        for writer in writers { try await writer.close() }
        for reader in allReaders { try await reader.close() }
    }
}

/// A PostgreSQL connection driven synchronously from a dispatch thread (never a Swift concurrency
/// thread), so that the store's transaction logic is the same code on both backends.
///
/// Statements that return no rows are pipelined: sent at once, in order, and only waited for at the
/// next query, savepoint end or commit. A transaction of many inserts then costs about one round trip
/// per query instead of one per statement. Errors are still reported before anything commits.
final class PostgresBlockingConnection: SQLConnection, @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    private var pending: [EventLoopFuture<PostgresQueryResult>] = []

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func transaction<T>(readOnly: Bool, _ body: (SQLConnection) throws -> T) throws -> T {
        try execute(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", [])
        do {
            let result = try body(self)
            // COMMIT of a failed transaction only answers ROLLBACK, so every error must be seen first.
            try flush()
            _ = try send("COMMIT", []).wait()
            return result
        } catch {
            try? flush()
            _ = try? send("ROLLBACK", []).wait()
            throw error
        }
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        pending.append(send(sql, arguments))
        if pending.count >= 512 { try flush() }
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let result: PostgresQueryResult
        do {
            result = try send(sql, arguments).wait()
        } catch {
            // An earlier pipelined statement may have failed first; its error is the one that matters.
            try flush()
            throw error
        }
        try flush()
        return result.rows.map { SQLRow($0.map(Self.value)) }
    }

    func savepoint<T>(_ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT candor_job", [])
        do {
            let result = try body()
            try flush()
            try execute("RELEASE SAVEPOINT candor_job", [])
            return result
        } catch {
            try? flush()
            _ = try send("ROLLBACK TO SAVEPOINT candor_job", []).wait()
            try execute("RELEASE SAVEPOINT candor_job", [])
            throw error
        }
    }

    /// Waits for every pipelined statement and throws the first error among them.
    func flush() throws {
        let waiting = pending
        pending = []
        var firstError: Error?
        for future in waiting {
            do { _ = try future.wait() } catch { if firstError == nil { firstError = error } }
        }
        if let firstError { throw firstError }
    }

    fileprivate func send(_ sql: String, _ arguments: [SQLValue]) -> EventLoopFuture<PostgresQueryResult> {
        connection.query(PostgresQuery(unsafeSQL: Self.numberPlaceholders(sql), binds: Self.bindings(arguments)), logger: logger)
    }

    /// Turns `?` placeholders into `$1, $2, …` (Candor's SQL has no `?` inside string literals).
    static func numberPlaceholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.count + 16)
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                out += "$\(index)"
            } else {
                out.append(character)
            }
        }
        return out
    }

    static func bindings(_ arguments: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: bindings.appendNull()
            case .int(let number): bindings.append(number)
            case .double(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .blob(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        return bindings
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int8, .int4, .int2: return (try? cell.decode(Int64.self)).map(SQLValue.int) ?? .null
        case .float8, .float4, .numeric: return (try? cell.decode(Double.self)).map(SQLValue.double) ?? .null
        case .bytea: return (try? cell.decode(ByteBuffer.self)).map { .blob(Array($0.readableBytesView)) } ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .int($0 ? 1 : 0) } ?? .null
        default: return (try? cell.decode(String.self)).map(SQLValue.text) ?? .null
        }
    }
}

/// Failures of the storage layer itself (not of the caller's input).
public enum CandorStoreError: Error, CustomStringConvertible {
    case configuration(String)
    case corrupt(String)

    public var description: String {
        switch self {
        case .configuration(let text): "configuration: \(text)"
        case .corrupt(let text): "corrupt data: \(text)"
        }
    }
}
