import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The scale-out backend: PostgreSQL through PostgresNIO. One writer connection per node carries the
/// grouped write transactions; a small pool of reader connections serves reads. App nodes keep no
/// state of their own, so several can share one database.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    let writer: PostgresConnection
    let readers: Locked<[PostgresConnection]>
    let readerSlots: DispatchSemaphore
    let allReaders: [PostgresConnection]
    let writeQueue = DispatchQueue(label: "candor.postgres.writer")
    let readQueue = DispatchQueue(label: "candor.postgres.reader", attributes: .concurrent)
    let logger: Logger

    /// Connects to `postgres://user:password@host:port/database`.
    public static func connect(url: String, readerCount: Int = 4, logger: Logger) async throws -> PostgresDatabase {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host
        else { throw CandorStoreError.configuration("database URL must look like postgres://user:password@host:port/database") }
        let configuration = PostgresConnection.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: components.path.isEmpty ? nil : String(components.path.dropFirst()), tls: .disable)
        var connections = [PostgresConnection]()
        for index in 0...readerCount {
            connections.append(try await PostgresConnection.connect(configuration: configuration, id: index, logger: logger))
        }
        return PostgresDatabase(writer: connections[0], readers: Array(connections.dropFirst()), logger: logger)
    }

    init(writer: PostgresConnection, readers: [PostgresConnection], logger: Logger) {
        self.writer = writer
        self.allReaders = readers
        self.readers = Locked(readers)
        self.readerSlots = DispatchSemaphore(value: readers.count)
        self.logger = logger
    }

    public var files: [String] { [] }

    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        let connection = PostgresBlockingConnection(connection: writer, logger: logger)
        return try await withCheckedThrowingContinuation { continuation in
            writeQueue.async {
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
            try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)", [])
            let done = Set(try connection.query("SELECT version FROM schema_migrations", []).map { $0.int(0) })
            for (index, statements) in Migrations.postgres.enumerated() where !done.contains(Int64(index + 1)) {
                for statement in statements { try connection.execute(statement, []) }
                try connection.execute("INSERT INTO schema_migrations (version) VALUES (?)", [.int(Int64(index + 1))])
            }
        }
    }

    public func purgeFreedSpace() async throws {
        // PostgreSQL reclaims dead tuples with VACUUM; the erased rows' key is already destroyed.
        let connection = PostgresBlockingConnection(connection: writer, logger: logger)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            writeQueue.async {
                continuation.resume(with: Result {
                    for table in ["subjects", "profile_values", "consents", "subject_keys", "outbox", "idempotency"] {
                        try connection.execute("VACUUM \(table)", [])
                    }
                })
            }
        }
    }

    public func close() async throws {
        try await writer.close()
        for reader in allReaders { try await reader.close() }
    }
}

/// A PostgreSQL connection driven synchronously from a dispatch thread (never a Swift concurrency
/// thread), so that the store's transaction logic is the same code on both backends.
struct PostgresBlockingConnection: SQLConnection, @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger

    func transaction<T>(readOnly: Bool, _ body: (SQLConnection) throws -> T) throws -> T {
        try execute(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", [])
        do {
            let result = try body(self)
            try execute("COMMIT", [])
            return result
        } catch {
            try? execute("ROLLBACK", [])
            throw error
        }
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        _ = try query(sql, arguments)
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let statement = PostgresQuery(unsafeSQL: Self.numberPlaceholders(sql), binds: Self.bindings(arguments))
        let connection = self.connection
        let logger = self.logger
        return try blockingAwait {
            var rows = [SQLRow]()
            for try await row in try await connection.query(statement, logger: logger) {
                rows.append(SQLRow(row.map(Self.value)))
            }
            return rows
        }
    }

    func savepoint<T>(_ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT candor_job", [])
        do {
            let result = try body()
            try execute("RELEASE SAVEPOINT candor_job", [])
            return result
        } catch {
            try execute("ROLLBACK TO SAVEPOINT candor_job", [])
            try execute("RELEASE SAVEPOINT candor_job", [])
            throw error
        }
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

/// Waits for async work from a dispatch thread. Only ever called off the Swift concurrency pool, so
/// blocking here cannot starve the tasks that complete the work.
func blockingAwait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Locked<Result<T, Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, Error>
        do { result = .success(try await operation()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    return try outcome.withLock { $0! }.get()
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
