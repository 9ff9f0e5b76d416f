import Foundation

/// A value bound into or read out of SQL, the same on every backend.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLValue {
    /// An optional text as a SQL value.
    static func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
    /// An optional integer as a SQL value.
    static func int(_ value: Int64?) -> SQLValue { value.map(SQLValue.int) ?? .null }
    /// An optional Int as a SQL value.
    static func int(_ value: Int?) -> SQLValue { value.map { SQLValue.int(Int64($0)) } ?? .null }
}

/// One result row, read by column position in the order of the SELECT list.
public struct SQLRow: Sendable {
    public let values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }

    /// The text at a column (empty when null).
    public func text(_ index: Int) -> String { optionalText(index) ?? "" }
    /// The text at a column, or nil when null.
    public func optionalText(_ index: Int) -> String? {
        switch values[index] {
        case .text(let text): text
        case .blob(let bytes): String(decoding: bytes, as: UTF8.self)
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .null: nil
        }
    }
    /// The integer at a column (0 when null).
    public func int(_ index: Int) -> Int64 { optionalInt(index) ?? 0 }
    /// The integer at a column, or nil when null.
    public func optionalInt(_ index: Int) -> Int64? {
        switch values[index] {
        case .int(let number): number
        case .double(let number): Int64(number)
        case .text(let text): Int64(text)
        default: nil
        }
    }
    /// The bytes at a column (empty when null).
    public func blob(_ index: Int) -> [UInt8] {
        switch values[index] {
        case .blob(let bytes): bytes
        case .text(let text): Array(text.utf8)
        default: []
        }
    }
    /// Whether a column is null.
    public func isNull(_ index: Int) -> Bool { values[index] == .null }
}

/// The SQL spoken by a backend; Candor writes `?` placeholders and portable SQL, and the few places
/// that differ ask the dialect.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// Appended to a SELECT that must lock the rows it reads for the rest of the transaction.
    /// SQLite has one writer at a time, so it needs nothing.
    var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }

    /// Appended to a SELECT over `subjects s …` to lock the subject's row: every write to one subject
    /// (and so to its ledger chain) is serialised across nodes.
    var lockSubject: String { self == .postgres ? " FOR UPDATE OF s" : "" }

    /// A condition that is true when the JSON array of strings in `column` holds the value bound to the
    /// one `?` it contains (a decision's offers, for instance).
    func jsonArrayContains(_ column: String) -> String {
        switch self {
        case .sqlite: "EXISTS (SELECT 1 FROM json_each(\(column)) WHERE value = ?)"
        case .postgres: "EXISTS (SELECT 1 FROM json_array_elements_text(\(column)::json) AS element(value) WHERE element.value = ?)"
        }
    }
}

/// A connection inside a transaction. Synchronous on purpose: a transaction runs on a thread of its own,
/// and the store's logic is written once over this protocol for every backend.
public protocol SQLConnection {
    /// Runs a statement that returns no rows.
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    /// Runs a query and returns all its rows.
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Runs `body` in a savepoint: if it throws, only its own changes are rolled back.
    func savepoint<T>(_ body: () throws -> T) throws -> T
}

extension SQLConnection {
    func execute(_ sql: String, _ arguments: SQLValue...) throws { try execute(sql, arguments) }
    func query(_ sql: String, _ arguments: SQLValue...) throws -> [SQLRow] { try query(sql, arguments) }
    func queryOne(_ sql: String, _ arguments: SQLValue...) throws -> SQLRow? { try query(sql, arguments).first }
}

/// A database backend: durable write transactions and consistent reads.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// How many write transactions can run at once (SQLite: one writer; PostgreSQL: one per writer connection).
    var writerCount: Int { get }
    /// Runs `body` in one write transaction on writer `shard` (0..<writerCount) and returns after the
    /// commit is durable.
    func write<T: Sendable>(shard: Int, _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T
    /// Runs `body` in a read-only transaction over a consistent snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T
    /// Applies the schema migrations that have not run yet.
    func migrate() async throws
    /// Files on disk that hold data (for erasure checks and size reports); empty for a server database.
    var files: [String] { get }
    /// Makes erased data unrecoverable from files beyond the main database (SQLite's WAL).
    func purgeFreedSpace() async throws
    /// Whether an error is a uniqueness violation (two writers claimed the same key at once).
    func isUniqueViolation(_ error: Error) -> Bool
    /// Closes connections.
    func close() async throws
}

extension SQLDatabase {
    /// Runs `body` in one write transaction on the first writer.
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await write(shard: 0, body)
    }
}

/// A tiny mutex-protected box.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Helpers for `IN (…)` lists bound as parameters.
enum SQLList {
    /// `?, ?, …`: one placeholder per value.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// The values in slices of at most `size`, each to be bound as one list: bound parameters are
    /// limited per statement (SQLite 32,766, PostgreSQL 65,535), and a long list is no faster to run.
    static func chunks<T>(_ values: [T], of size: Int = 500) -> [ArraySlice<T>] {
        stride(from: 0, to: values.count, by: size).map { values[$0..<min($0 + size, values.count)] }
    }

    /// Inserts `rows`, up to `size` of them a statement: `head` is `INSERT INTO t (a, b) VALUES `, and
    /// `tuple` one row's `(?, ?)`. Rows that share a statement share its work too: SQLite keeps its
    /// cursors open from one row to the next, where separate statements each open them and seek from the root.
    static func insert(_ connection: SQLConnection, _ head: String, tuple: String, rows: [[SQLValue]], size: Int = 100) throws {
        for chunk in chunks(rows, of: size) {
            try connection.execute(head + Array(repeating: tuple, count: chunk.count).joined(separator: ", "), chunk.flatMap { $0 })
        }
    }
}
