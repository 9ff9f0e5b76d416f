import CandorCore
import CandorStore
import Foundation
import Testing

/// A migrated store over a fresh database with a small registry, and a principal allowed to do everything:
///
/// - purposes `newsletter` (consent), `offers` (consent), `support` (contract), each with notice v1;
/// - fields `interests` (multi choice; newsletter + offers), `channels` (multi choice; newsletter),
///   `shoe_size` (number 30–50; offers), `nickname` (text; support);
/// - team `ops` holding every purpose with roles admin, read, write, erase, and one secret key.
struct Harness: Sendable {
    let backend: Backend
    let store: CandorStore
    let secrets: ServerSecrets
    let clock: TestClock
    let principal: Principal

    static let notice = ["en": NoticeText(title: "Why we ask", why: "To tailor what we send you", benefit: "Fewer, better messages")]

    /// Runs `body` against a fresh store on `backend`, and throws the database away afterwards.
    static func with(_ backend: Backend, _ body: (Harness) async throws -> Void) async throws {
        let (database, dispose) = try await backend.makeDatabase()
        do {
            let raw = ServerSecrets.generateRaw()
            let secrets = try ServerSecrets(masterKey: raw.master, signingKey: raw.signing)
            let clock = TestClock()
            let store = try await CandorStore(database: database, secrets: secrets, clock: clock)
            let principal = try await seed(store)
            try await body(Harness(backend: backend, store: store, secrets: secrets, clock: clock, principal: principal))
            // Decisions still queued are written while the database is open (as `CandorStore.close` does).
            try await store.flushDecisionLog()
        } catch {
            await dispose()
            throw error
        }
        await dispose()
    }

    static func seed(_ store: CandorStore) async throws -> Principal {
        for (key, basis, term) in [("newsletter", "consent", "DirectMarketing"), ("offers", "consent", "Marketing"), ("support", "contract", "CustomerCare")] {
            _ = try await store.createPurpose(
                PurposeInput(key: key, names: ["en": key.capitalized], legalBasis: basis, retentionDays: 730, dpvTerm: term, isMarketing: basis == "consent", notice: notice),
                by: nil)
        }
        let fields = [
            FieldInput(key: "interests", type: "multi_choice", options: ["running", "hiking", "yoga"], purposes: ["newsletter", "offers"], labels: ["en": "What do you enjoy?"]),
            FieldInput(key: "channels", type: "multi_choice", options: ["email", "sms", "post"], purposes: ["newsletter"], labels: ["en": "How should we reach you?"]),
            FieldInput(key: "shoe_size", type: "number", purposes: ["offers"], labels: ["en": "Shoe size (EU)"], minimum: 30, maximum: 50),
            FieldInput(key: "nickname", type: "text", purposes: ["support"], labels: ["en": "What should we call you?"], maxLength: 40),
        ]
        for field in fields { _ = try await store.createField(field, by: nil) }
        _ = try await store.saveTeam(
            TeamInput(key: "ops", name: "Operations", purposes: ["newsletter", "offers", "support"], roles: ["admin", "read", "write", "erase"]),
            replace: false, by: nil)
        let outcome = try await store.createKey(KeyInput(name: "test key", team: "ops"), by: nil)
        let created = try #require(outcome.freshValue)
        let secret = try #require(created.secret)
        return try #require(store.authenticate(secret))
    }

    // MARK: - Acting as the principal

    /// Creates a subject and returns its id.
    @discardableResult
    func newSubject(externalId: String? = nil, email: String? = nil) async throws -> String {
        let outcome = try await store.createSubject(SubjectInput(externalId: externalId, email: email), by: principal)
        return try #require(outcome.freshValue).id
    }

    /// The notice versions currently shown for every purpose, as a correct caller cites them.
    var currentNotices: [String: Int] {
        store.registry.purposes.compactMapValues(\.currentNoticeVersion)
    }

    /// Declares values for a subject, citing the current notices of the purposes the fields serve.
    @discardableResult
    func declare(_ subjectId: String, _ values: [String: JSONValue], idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<DeclarationReceipt> {
        let fields = store.registry.fields
        let needed = Set(values.keys.flatMap { fields[$0]?.purposes ?? [] })
        let input = DeclarationInput(
            values: values.sorted { $0.key < $1.key }.map { DeclaredValueInput(field: $0.key, value: $0.value) },
            notices: currentNotices.filter { needed.contains($0.key) })
        return try await store.declare(subjectId: subjectId, input, by: principal, idempotency: idempotency)
    }

    /// Grants consent for purposes, citing their current notices.
    func grant(_ subjectId: String, _ purposes: String..., expiresAt: String? = nil) async throws {
        let inputs = purposes.map { ConsentInput(purpose: $0, status: "granted", method: "checkbox", noticeVersion: currentNotices[$0], expiresAt: expiresAt) }
        _ = try await store.setConsents(subjectId: subjectId, inputs, by: principal)
    }

    /// Withdraws consent for purposes.
    func withdraw(_ subjectId: String, _ purposes: String...) async throws {
        _ = try await store.setConsents(subjectId: subjectId, purposes.map { ConsentInput(purpose: $0, status: "withdrawn") }, by: principal)
    }

    // MARK: - Observing

    static let countedTables = ["subjects", "profile_values", "consents", "ledger_entries", "audit_log", "outbox", "idempotency"]

    /// Row counts of the tables a write touches.
    func counts() async throws -> [String: Int64] {
        var counts = [String: Int64]()
        for table in Self.countedTables { counts[table] = try await store.count(table) }
        return counts
    }

    /// Runs raw SQL in a write transaction (to tamper with the database as an attacker with file access would).
    func tamper(_ sql: String, _ arguments: [SQLValue]) async throws {
        try await store.database.write { connection in try connection.execute(sql, arguments) }
    }

    /// Rows of a raw query.
    func query(_ sql: String, _ arguments: [SQLValue] = []) async throws -> [SQLRow] {
        try await store.database.read { connection in try connection.query(sql, arguments) }
    }
}

extension WriteOutcome {
    /// The result of a write that was not a replay.
    var freshValue: Result? { if case .fresh(let value) = self { value } else { nil } }
}

/// Runs `body` and returns the `CandorError` it throws (failing the test if it throws nothing or something else).
func candorError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> CandorError? {
    do {
        try await body()
        Issue.record("expected a CandorError, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as CandorError {
        return error
    } catch {
        Issue.record("expected a CandorError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The contract every storage backend keeps. Each test runs once per available backend on a fresh database.
@Suite("Store contract")
struct StoreContractTests {}

extension Harness {
    /// Two app nodes on one fresh PostgreSQL database, each with its own connections (so its own
    /// transactions), sharing one set of secrets; node A seeded the registry, node B reloaded it. Skips
    /// (returns without running `body`) when CANDOR_TEST_POSTGRES_URL is not set; drops the database after.
    static func withTwoPostgresNodes(_ body: (_ nodeA: CandorStore, _ nodeB: CandorStore, _ principal: Principal) async throws -> Void) async throws {
        guard let url = ProcessInfo.processInfo.environment["CANDOR_TEST_POSTGRES_URL"], !url.isEmpty else { return }
        let name = "candor_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        var components = try #require(URLComponents(string: url))
        components.path = "/" + name
        await Backend.postgresSlots.acquire()
        try await Backend.administer(url, "CREATE DATABASE \(name)")
        do {
            let raw = ServerSecrets.generateRaw()
            let secrets = try ServerSecrets(masterKey: raw.master, signingKey: raw.signing)
            let dbA = try await PostgresDatabase.connect(url: components.string!, readerCount: 1, logger: Backend.logger)
            let dbB = try await PostgresDatabase.connect(url: components.string!, readerCount: 1, logger: Backend.logger)
            let nodeA = try await CandorStore(database: dbA, secrets: secrets)
            let principal = try await seed(nodeA)
            let nodeB = try await CandorStore(database: dbB, secrets: secrets)
            try await nodeB.reloadRegistry()
            try await body(nodeA, nodeB, principal)
            try await dbA.close()
            try await dbB.close()
        } catch {
            try? await Backend.administer(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            await Backend.postgresSlots.release()
            throw error
        }
        try? await Backend.administer(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        await Backend.postgresSlots.release()
    }
}
