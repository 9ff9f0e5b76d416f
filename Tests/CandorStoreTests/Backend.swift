import CandorCore
import CandorStore
import Foundation
import Logging
import PostgresNIO
import Testing

/// A database the store contract runs against. SQLite always; PostgreSQL when
/// `CANDOR_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1:55432/postgres`).
enum Backend: Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres(url: String)

    /// The backends this run can reach.
    static var available: [Backend] {
        var backends: [Backend] = [.sqlite]
        if let url = ProcessInfo.processInfo.environment["CANDOR_TEST_POSTGRES_URL"], !url.isEmpty {
            backends.append(.postgres(url: url))
        }
        return backends
    }

    var testDescription: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
    }

    var isSQLite: Bool { if case .sqlite = self { true } else { false } }

    /// At most this many PostgreSQL test databases are open at once (each holds three connections).
    static let postgresSlots = AsyncSemaphore(8)

    static let logger: Logger = {
        var logger = Logger(label: "candor.tests")
        logger.logLevel = .critical
        return logger
    }()

    /// A fresh, empty database of this kind, and the function that throws it away afterwards.
    func makeDatabase() async throws -> (database: SQLDatabase, dispose: @Sendable () async -> Void) {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let database = try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path)
            return (database, {
                try? await database.close()
                try? FileManager.default.removeItem(at: directory)
            })
        case .postgres(let url):
            // One database per test, so tests are independent and can run in parallel — but only a few at
            // a time, so that a server with the default max_connections (100) is never exhausted.
            let name = "candor_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            guard var components = URLComponents(string: url) else { throw CandorStoreError.configuration("bad CANDOR_TEST_POSTGRES_URL") }
            components.path = "/" + name
            await Self.postgresSlots.acquire()
            let database: SQLDatabase
            do {
                try await Self.administer(url, "CREATE DATABASE \(name)")
                database = try await PostgresDatabase.connect(url: components.string!, readerCount: 2, logger: Self.logger)
            } catch {
                try? await Self.administer(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                await Self.postgresSlots.release()
                throw error
            }
            return (database, {
                try? await database.close()
                try? await Self.administer(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                await Self.postgresSlots.release()
            })
        }
    }

    /// Runs one statement outside a transaction on the server named by the URL (CREATE / DROP DATABASE).
    static func administer(_ url: String, _ sql: String) async throws {
        guard let components = URLComponents(string: url), let host = components.host else {
            throw CandorStoreError.configuration("bad CANDOR_TEST_POSTGRES_URL")
        }
        let configuration = PostgresConnection.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: components.path.count > 1 ? String(components.path.dropFirst()) : "postgres", tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}

/// A counting semaphore for async code.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
    }
}

/// A clock the tests move by hand (consent expiry).
final class TestClock: CandorClock, @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64

    init(start: Int64 = Timestamp.millis(Date())) { millis = start }

    func nowMillis() -> Int64 { lock.withLock { millis } }

    func advance(byMillis delta: Int64) { lock.withLock { millis += delta } }
}

/// A path for an SQLite file in a fresh temporary directory, for tests that open the same file more than
/// once (as a second process would, or after a close); the directory is removed once `body` ends.
/// Two stores on one SQLite file, as two processes would have (a server and `candor erase`, say), and
/// the first store's seeded principal; both are closed afterwards.
func withTwoStoresOnOneSQLiteFile(_ body: (CandorStore, CandorStore, Principal) async throws -> Void) async throws {
    try await withTemporarySQLitePath { path in
        let raw = ServerSecrets.generateRaw()
        let nodeA = try await CandorStore(database: try SQLiteDatabase(path: path), secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
        let principal = try await Harness.seed(nodeA)
        let nodeB = try await CandorStore(database: try SQLiteDatabase(path: path), secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
        try await body(nodeA, nodeB, principal)
        try await nodeB.close()
        try await nodeA.close()
    }
}

func withTemporarySQLitePath(_ body: (String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-file-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try await body(directory.appendingPathComponent("candor.sqlite").path)
}
