import CandorCore
import Crypto
import Foundation
import Logging

/// Who is acting: the API key and its team. Every write and every read of personal data is audited
/// under it.
public struct Principal: Sendable, Hashable {
    public var key: APIKey
    public var team: Team

    public init(key: APIKey, team: Team) {
        self.key = key
        self.team = team
    }

    /// Whether the team holds a role.
    public func has(_ role: Role) -> Bool { team.roles.contains(role) }
}

/// An `Idempotency-Key` with the hash of the request it came with.
public struct IdempotencyRequest: Sendable {
    public var key: String
    public var requestHash: String

    public init(key: String, requestHash: String) {
        self.key = key
        self.requestHash = requestHash
    }
}

/// What a write returns: a fresh result, or the stored answer of an earlier request with the same key.
public enum WriteOutcome<Result: Sendable>: Sendable {
    case fresh(Result)
    case replayed(status: Int, body: [UInt8])
}

/// The registry as the server sees it between changes: small, read on every request, kept in memory.
public struct RegistrySnapshot: Sendable {
    public var purposes: [String: Purpose] = [:]
    public var fields: [String: Field] = [:]
    public var teams: [String: Team] = [:]
    public var keysByHash: [String: APIKey] = [:]
    public var keysById: [String: APIKey] = [:]
    public var notices: [String: [NoticeVersion]] = [:]

    /// The current notice of a purpose.
    public func currentNotice(of purpose: String) -> NoticeVersion? {
        guard let version = purposes[purpose]?.currentNoticeVersion else { return nil }
        return notices[purpose]?.first { $0.version == version }
    }
}

/// Candor's storage: the registry, subjects, declarations, consents, the ledger, audit, outbox and
/// idempotency — written once over `SQLDatabase`, so SQLite and PostgreSQL share every rule.
///
/// Writes go through a group committer: each is one savepoint in a shared transaction, with its
/// projection, ledger entry, audit row and outbox event together, and returns after a durable commit.
public final class CandorStore: Sendable {
    public let database: SQLDatabase
    let secrets: ServerSecrets
    let clock: CandorClock
    /// One group committer per writer of the database. A subject's writes always go to the same one,
    /// so they stay in order and never wait on each other's locks; registry writes use the first.
    let committers: [GroupCommitter]
    var committer: GroupCommitter { committers[0] }
    let registryBox = Locked(RegistrySnapshot())
    /// key id → when its use was last written to `api_keys.last_used_at` (so it is written hourly, not per request).
    let keyUseBox = Locked([String: Int64]())
    /// key prefix → the minute a failed authentication was last audited (so a flood is not a write storm).
    let failedAuthBox = Locked([String: Int64]())
    /// The controller named in consent receipts and the record of processing (set by the server from its configuration).
    let controllerBox = Locked(DataController.unconfigured())
    /// The in-memory segment index and what feeds it (Activation/SegmentIndexFeeder.swift).
    let segmentFeeder = SegmentIndexFeeder()
    /// Holdout share and index polling interval (Activation/).
    let activationSettings = Locked(ActivationSettings())
    /// The offer catalog with compiled rules, and each offer's record for Thompson sampling (Activation/ActivationCache.swift).
    let activationCache = Locked(ActivationCache())
    /// The log of uncapped decisions, written in batches off the answer's path (Activation/DecisionJournal.swift).
    let decisionJournal = DecisionJournal()
    /// SQLite: the person of every decision, in memory instead of an index on disk (Activation/DecisionOwners.swift).
    let decisionOwners = DecisionOwners()
    /// Batched reads of the keys of subjects about to be written (SubjectKeyReader.swift).
    let subjectKeyReader = SubjectKeyReader()
    let logger: Logger
    /// Whether special-category fields may be registered (an explicit installation setting).
    public let allowSpecialCategory: Bool

    /// Opens a store over a database, migrating it first so nobody ever holds an unmigrated store.
    /// `maxBatch` caps how many writes share one commit: small enough that the next batch is built
    /// while the previous one's answers go out, large enough that a commit's sync is shared widely.
    public init(database: SQLDatabase, secrets: ServerSecrets, clock: CandorClock = SystemClock(), allowSpecialCategory: Bool = false, maxBatch: Int = 32, logger: Logger = Logger(label: "candor.store")) async throws {
        self.database = database
        self.secrets = secrets
        self.clock = clock
        self.allowSpecialCategory = allowSpecialCategory
        self.logger = logger
        self.committers = (0..<max(1, database.writerCount)).map { GroupCommitter(database: database, shard: $0, maxBatch: maxBatch) }
        try await database.migrate()
        try await reloadRegistry()
    }

    /// The registry as last loaded.
    public var registry: RegistrySnapshot { registryBox.withLock { $0 } }

    /// The public key that verifies this installation's checkpoints, as hex.
    public var signingPublicKeyHex: String { Digest.hex(secrets.signingPublicKey) }

    var now: Int64 { clock.nowMillis() }

    /// Reloads the registry from the database (after a change here, or periodically to see other nodes' changes).
    public func reloadRegistry() async throws {
        let snapshot = try await database.read { connection -> RegistrySnapshot in
            var snapshot = RegistrySnapshot()
            for row in try connection.query("SELECT body FROM purposes", []) {
                let purpose = try CandorJSON.decode(Purpose.self, from: row.text(0))
                snapshot.purposes[purpose.key] = purpose
            }
            for row in try connection.query("SELECT body FROM notices ORDER BY purpose, version", []) {
                let notice = try CandorJSON.decode(NoticeVersion.self, from: row.text(0))
                snapshot.notices[notice.purpose, default: []].append(notice)
            }
            for row in try connection.query("SELECT body FROM fields", []) {
                let field = try CandorJSON.decode(Field.self, from: row.text(0))
                snapshot.fields[field.key] = field
            }
            for row in try connection.query("SELECT body FROM teams", []) {
                let team = try CandorJSON.decode(Team.self, from: row.text(0))
                snapshot.teams[team.key] = team
            }
            for row in try connection.query("SELECT hash, body FROM api_keys", []) {
                let key = try CandorJSON.decode(APIKey.self, from: row.text(1))
                snapshot.keysByHash[row.text(0)] = key
                snapshot.keysById[key.id] = key
            }
            return snapshot
        }
        registryBox.withLock { $0 = snapshot }
    }

    /// Finds the principal behind a secret or publishable key; nil for an unknown or revoked key.
    public func authenticate(_ presented: String) -> Principal? {
        let hash = KeyMaterial.storageHash(presented)
        let registry = self.registry
        guard let key = registry.keysByHash[hash], key.revokedAt == nil, let team = registry.teams[key.team] else { return nil }
        noteKeyUse(key.id)
        return Principal(key: key, team: team)
    }

    // MARK: - The write path

    /// Runs a write command in the next grouped transaction. With an idempotency key, a retried request
    /// gets the first answer and writes nothing; the same key with another body is refused.
    /// `storedAs` can strip what must never be shown twice (a new key's secret) from the stored answer.
    func write<R: Codable & Sendable>(
        _ principal: Principal?, idempotency: IdempotencyRequest?, status: Int, subjectId: String? = nil,
        storedAs: ((R) -> R)? = nil, _ command: @escaping (SQLConnection) throws -> R
    ) async throws -> WriteOutcome<R> {
        let outcome = try await committer(for: subjectId).submit { connection -> WriteOutcome<R> in
            if let idempotency, let principal, let stored = try self.storedAnswer(connection, principal, idempotency) {
                return .replayed(status: stored.status, body: stored.body)
            }
            let result = try command(connection)
            if let idempotency, let principal {
                try connection.execute(
                    "INSERT INTO idempotency (key_id, idem_key, request_hash, status, body, subject_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    .text(principal.key.id), .text(idempotency.key), .text(idempotency.requestHash), .int(Int64(status)),
                    .blob(try Self.sealBody(try FastJSON.encode(storedAs?(result) ?? result),
                                            key: try subjectId.flatMap { try self.optionalSubjectKey(connection, $0) }, subjectId: subjectId)),
                    .text(subjectId), .int(self.now))
            }
            return .fresh(result)
        }
        // Every subject write passes here: once committed, the segment index takes the new projection.
        if let subjectId, case .fresh = outcome { try await noteSubjectChanged(subjectId) }
        return outcome
    }

    /// The stored answer of an earlier request with the same Idempotency-Key, looked up before the new
    /// request is validated: a retry gets the first answer even if the registry changed in between
    /// (a new notice version, say). The transaction checks again, for retries that race.
    func replay<R: Sendable>(_ principal: Principal?, _ idempotency: IdempotencyRequest?) async throws -> WriteOutcome<R>? {
        guard let idempotency, let principal else { return nil }
        let stored = try await database.read { try self.storedAnswer($0, principal, idempotency) }
        return stored.map { .replayed(status: $0.status, body: $0.body) }
    }

    func storedAnswer(_ connection: SQLConnection, _ principal: Principal, _ idempotency: IdempotencyRequest) throws -> (status: Int, body: [UInt8])? {
        guard let row = try connection.queryOne(
            "SELECT request_hash, status, body, subject_id FROM idempotency WHERE key_id = ? AND idem_key = ?",
            .text(principal.key.id), .text(idempotency.key))
        else { return nil }
        guard constantTimeEquals(Array(row.text(0).utf8), Array(idempotency.requestHash.utf8)) else {
            throw CandorError(.idempotencyMismatch, "this Idempotency-Key was used with a different request body")
        }
        return (Int(row.int(1)), try openBody(connection, row.blob(2), subjectId: row.optionalText(3)))
    }

    /// The committer that carries a subject's writes (a stable hash of the id picks it).
    func committer(for subjectId: String?) -> GroupCommitter {
        guard let subjectId, committers.count > 1 else { return committers[0] }
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in subjectId.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return committers[Int(hash % UInt64(committers.count))]
    }

    /// Appends an audit row inside a transaction. Without a principal the actor is the system (a
    /// scheduled job), or — with `selfService` — the person acting for themselves through the portal.
    func audit(_ connection: SQLConnection, _ principal: Principal?, action: String, purpose: String? = nil, subjectId: String? = nil, fields: [String] = [], outcome: String = "ok", selfService: Bool = false) throws {
        try insertAudit(connection, auditRow(principal, action: action, purpose: purpose, subjectId: subjectId, fields: fields, outcome: outcome, selfService: selfService, at: now))
    }

    /// An audit row made before its transaction (see `prepareDeclaration`).
    func auditRow(_ principal: Principal?, action: String, purpose: String? = nil, subjectId: String? = nil, fields: [String] = [], outcome: String = "ok", selfService: Bool = false, at: Int64) -> AuditRow {
        let (actor, team) = principal.map { ($0.key.id, $0.team.key) } ?? (selfService ? ("subject", "self-service") : ("system", "system"))
        return AuditRow(at: at, actor: actor, team: team, action: action, purpose: purpose, subjectId: subjectId,
                        fields: JSONValue.array(fields.sorted().map(JSONValue.string)).jsonText, outcome: outcome)
    }

    func insertAudit(_ connection: SQLConnection, _ row: AuditRow) throws {
        try connection.execute(
            "INSERT INTO audit_log (at, actor, team, action, purpose, subject_id, fields, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            .int(row.at), .text(row.actor), .text(row.team), .text(row.action), .text(row.purpose), .text(row.subjectId), .text(row.fields), .text(row.outcome))
    }

    /// The actor a ledger entry names: the key, the person themselves (portal) or the system.
    static func ledgerActor(_ principal: Principal?, selfService: Bool) -> String {
        principal?.key.id ?? (selfService ? "subject" : "system")
    }

    /// Appends an event for the delivery workers inside a transaction. A subject's event is sealed under
    /// the subject's key (`key`, or looked up when not given), so its values die with the key.
    /// Events emitted while automations act name them in `caused_by` (Store+Automations.swift), so no
    /// automation ever fires on an event it caused. Returns the event id.
    @discardableResult
    func emit(_ connection: SQLConnection, type: String, subjectId: String?, data: [String: JSONValue], key: SymmetricKey? = nil) throws -> String {
        let subjectKey = try key ?? subjectId.flatMap { try optionalSubjectKey(connection, $0) }
        let event = try outboxRow(type: type, subjectId: subjectId, data: data, key: subjectKey, at: now)
        try insertOutbox(connection, event)
        return event.eventId
    }

    /// An event built and sealed before its transaction (see `prepareDeclaration`). The automation chain
    /// is a task-local, so it is read here, in the task, before any hop to the writer's thread.
    func outboxRow(type: String, subjectId: String?, data: [String: JSONValue], key: SymmetricKey?, at: Int64) throws -> OutboxRow {
        let eventId = Identifier.make("evt")
        var payload: [String: JSONValue] = [
            "id": .string(eventId), "type": .string(type), "occurred_at": .string(Timestamp.rfc3339(at)), "data": .object(data),
        ]
        if let subjectId { payload["subject_id"] = .string(subjectId) }
        let chain = Self.automationChain
        if !chain.isEmpty { payload["caused_by"] = .array(chain.map(JSONValue.string)) }
        return OutboxRow(eventId: eventId, type: type, subjectId: subjectId, createdAt: at,
                         payload: try Self.sealPayload(JSONValue.object(payload).jsonText, key: key, subjectId: subjectId))
    }

    func insertOutbox(_ connection: SQLConnection, _ event: OutboxRow) throws {
        try connection.execute(
            "INSERT INTO outbox (subject_id, event_id, type, payload, created_at, status) VALUES (?, ?, ?, ?, ?, 'pending')",
            .text(event.subjectId), .text(event.eventId), .text(event.type), .text(event.payload), .int(event.createdAt))
    }

    /// Events waiting in the outbox, oldest first (the delivery workers' queue).
    public func pendingEvents(limit: Int = 100) async throws -> [OutboxEvent] {
        try await database.read { connection in
            let rows = try connection.query("SELECT id, event_id, type, subject_id, payload FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?", [.int(Int64(limit))])
            let payloads = try self.openPayloads(connection, rows.map { ($0.int(0), $0.optionalText(3), $0.optionalText(4)) })
            return rows.map { OutboxEvent(sequence: $0.int(0), id: $0.text(1), type: $0.text(2), subjectId: $0.optionalText(3), payload: payloads[$0.int(0)]) }
        }
    }

    /// Counts rows of a table (for tests, metrics and reports).
    public func count(_ table: String) async throws -> Int64 {
        precondition(table.allSatisfy { $0.isLetter || $0 == "_" })
        return try await database.read { try $0.queryOne("SELECT count(*) FROM \(table)")?.int(0) ?? 0 }
    }
}

/// An event in the outbox.
public struct OutboxEvent: Sendable, Hashable {
    public var sequence: Int64
    public var id: String
    public var type: String
    public var subjectId: String?
    /// The event as JSON (opened if it was sealed); nil once the subject was erased.
    public var payload: String?
}

/// An `audit_log` row, made before the transaction that inserts it.
struct AuditRow: Sendable {
    var at: Int64
    var actor: String
    var team: String
    var action: String
    var purpose: String?
    var subjectId: String?
    /// The JSON array of field keys.
    var fields: String
    var outcome: String
}

/// An `outbox` row, made (and, for a subject, sealed) before the transaction that inserts it.
struct OutboxRow: Sendable {
    var eventId: String
    var type: String
    var subjectId: String?
    var createdAt: Int64
    var payload: String
}
