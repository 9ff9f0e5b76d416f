import CandorCore
import Crypto
import Foundation

// Webhook destinations and the state of their deliveries (issue 6, items 1–2).
//
// The outbox is fanned out once: every event still `pending` in the outbox becomes one job per
// destination that wants its type, in one transaction that marks the event `dispatched`. Jobs carry the
// outbox id as their sequence, so a person's events keep the order in which they were committed. Workers
// claim due jobs with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several nodes never take the same
// job), skipping any job whose person has an earlier job to the same destination still open — an event
// waits while an earlier one is in retry. All state is in the database, so a restart loses nothing.

extension Migrations {
    /// Destinations, one delivery job per (destination, event), every attempt, and the fan-out marker.
    static let deliveryV1 = Migration(
        name: "delivery_v1",
        sqlite: [
            """
            CREATE TABLE destinations (id TEXT PRIMARY KEY, url TEXT NOT NULL, description TEXT, purposes TEXT NOT NULL, fields TEXT NOT NULL,
              event_types TEXT NOT NULL, shares_data INTEGER NOT NULL, enabled INTEGER NOT NULL, disabled_reason TEXT,
              max_attempts INTEGER, timeout_ms INTEGER, retry_base_ms INTEGER, secret_cipher BLOB NOT NULL, secret_hint TEXT NOT NULL,
              previous_cipher BLOB, previous_expires_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)
            """,
            """
            CREATE TABLE delivery_jobs (subject_id TEXT NOT NULL, destination_id TEXT NOT NULL, event_seq INTEGER NOT NULL, event_id TEXT NOT NULL,
              event_type TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
              lease_owner TEXT, lease_until INTEGER, last_status_code INTEGER, last_error TEXT, reason TEXT, fields TEXT, withheld TEXT,
              created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER, PRIMARY KEY (destination_id, event_seq))
            """,
            "CREATE INDEX delivery_jobs_due ON delivery_jobs (status, next_attempt_at)",
            "CREATE INDEX delivery_jobs_order ON delivery_jobs (destination_id, subject_id, event_seq)",
            "CREATE INDEX delivery_jobs_event ON delivery_jobs (destination_id, event_id)",
            """
            CREATE TABLE delivery_attempts (subject_id TEXT NOT NULL, destination_id TEXT NOT NULL, event_seq INTEGER NOT NULL, attempt INTEGER NOT NULL,
              at INTEGER NOT NULL, outcome TEXT NOT NULL, status_code INTEGER, error TEXT, duration_ms INTEGER)
            """,
            "CREATE INDEX delivery_attempts_by_job ON delivery_attempts (destination_id, event_seq)",
        ],
        postgres: [
            """
            CREATE TABLE destinations (id TEXT PRIMARY KEY, url TEXT NOT NULL, description TEXT, purposes TEXT NOT NULL, fields TEXT NOT NULL,
              event_types TEXT NOT NULL, shares_data BIGINT NOT NULL, enabled BIGINT NOT NULL, disabled_reason TEXT,
              max_attempts BIGINT, timeout_ms BIGINT, retry_base_ms BIGINT, secret_cipher BYTEA NOT NULL, secret_hint TEXT NOT NULL,
              previous_cipher BYTEA, previous_expires_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE delivery_jobs (subject_id TEXT NOT NULL, destination_id TEXT NOT NULL, event_seq BIGINT NOT NULL, event_id TEXT NOT NULL,
              event_type TEXT NOT NULL, status TEXT NOT NULL, attempts BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL,
              lease_owner TEXT, lease_until BIGINT, last_status_code BIGINT, last_error TEXT, reason TEXT, fields TEXT, withheld TEXT,
              created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, completed_at BIGINT, PRIMARY KEY (destination_id, event_seq))
            """,
            "CREATE INDEX delivery_jobs_due ON delivery_jobs (status, next_attempt_at)",
            "CREATE INDEX delivery_jobs_order ON delivery_jobs (destination_id, subject_id, event_seq)",
            "CREATE INDEX delivery_jobs_event ON delivery_jobs (destination_id, event_id)",
            """
            CREATE TABLE delivery_attempts (subject_id TEXT NOT NULL, destination_id TEXT NOT NULL, event_seq BIGINT NOT NULL, attempt BIGINT NOT NULL,
              at BIGINT NOT NULL, outcome TEXT NOT NULL, status_code BIGINT, error TEXT, duration_ms BIGINT)
            """,
            "CREATE INDEX delivery_attempts_by_job ON delivery_attempts (destination_id, event_seq)",
        ])
}

/// A webhook destination as the API shows it. The signing secret appears only in the answer that
/// created or rotated it.
public struct Destination: Codable, Sendable, Hashable {
    public var id: String
    public var url: String
    public var description: String?
    /// The purposes this destination serves: it receives only fields serving them, for people who allow them.
    public var purposes: [String]
    /// The fields it wants (each serves one of `purposes`); empty means every field of those purposes.
    public var fields: [String]
    /// Event types it receives: exact types, `prefix.*`, or `*`.
    public var eventTypes: [String]
    /// Whether sending here is a sale or sharing of personal data: people who opted out (or sent GPC) never go here.
    public var sharesData: Bool
    public var enabled: Bool
    /// Why it was disabled, when the receiver disabled it (410 Gone) rather than an administrator.
    public var disabledReason: String?
    /// Per-destination overrides of the server's retry policy and timeout.
    public var maxAttempts: Int?
    public var timeoutMs: Int?
    public var retryBaseMs: Int?
    /// The last four characters of the current secret, to tell secrets apart.
    public var secretHint: String
    /// Until when the previous secret also signs (after a rotation).
    public var previousSecretExpiresAt: String?
    public var createdAt: String
    public var updatedAt: String
    /// The full secret (`whsec_…`): only in the answer that created or rotated it.
    public var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, url, description, purposes, fields, enabled, secret
        case eventTypes = "event_types"
        case sharesData = "shares_data"
        case disabledReason = "disabled_reason"
        case maxAttempts = "max_attempts"
        case timeoutMs = "timeout_ms"
        case retryBaseMs = "retry_base_ms"
        case secretHint = "secret_hint"
        case previousSecretExpiresAt = "previous_secret_expires_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// Validated settings of a destination (CandorDelivery checks them against the registry and the network guard).
public struct DestinationSettings: Sendable, Hashable {
    public var url: String
    public var description: String?
    public var purposes: [String]
    public var fields: [String]
    public var eventTypes: [String]
    public var sharesData: Bool
    public var enabled: Bool
    public var maxAttempts: Int?
    public var timeoutMs: Int?
    public var retryBaseMs: Int?

    public init(url: String, description: String?, purposes: [String], fields: [String], eventTypes: [String], sharesData: Bool, enabled: Bool,
                maxAttempts: Int?, timeoutMs: Int?, retryBaseMs: Int?) {
        self.url = url
        self.description = description
        self.purposes = purposes
        self.fields = fields
        self.eventTypes = eventTypes
        self.sharesData = sharesData
        self.enabled = enabled
        self.maxAttempts = maxAttempts
        self.timeoutMs = timeoutMs
        self.retryBaseMs = retryBaseMs
    }
}

/// One attempt (or decision) in a delivery's history.
public struct DeliveryAttempt: Codable, Sendable, Hashable {
    public var attempt: Int
    public var at: String
    /// `delivered`, `failed`, `withheld`, `skipped`, `gone`, `dead`.
    public var outcome: String
    public var statusCode: Int?
    public var error: String?
    public var durationMs: Int?

    enum CodingKeys: String, CodingKey {
        case attempt, at, outcome, error
        case statusCode = "status_code"
        case durationMs = "duration_ms"
    }
}

/// What happened to one event at one destination: the delivery log entry.
public struct DeliveryRecord: Codable, Sendable, Hashable {
    public var eventId: String
    public var eventType: String
    public var subjectId: String?
    /// `pending` (waiting or in retry), `delivered`, `withheld` (nothing the destination may see), `skipped` (erased), `dead`.
    public var status: String
    /// Why it was withheld, skipped or is dead.
    public var reason: String?
    public var attempts: Int
    public var lastStatusCode: Int?
    public var lastError: String?
    public var nextAttemptAt: String?
    /// The fields that went out.
    public var deliveredFields: [String]?
    /// Fields held back from this event, with the reason for each (e.g. `consent_withdrawn`).
    public var withheldFields: [String: String]?
    public var createdAt: String
    public var completedAt: String?
    public var history: [DeliveryAttempt]

    enum CodingKeys: String, CodingKey {
        case status, reason, attempts, history
        case eventId = "event_id"
        case eventType = "event_type"
        case subjectId = "subject_id"
        case lastStatusCode = "last_status_code"
        case lastError = "last_error"
        case nextAttemptAt = "next_attempt_at"
        case deliveredFields = "delivered_fields"
        case withheldFields = "withheld_fields"
        case createdAt = "created_at"
        case completedAt = "completed_at"
    }
}

/// What a worker needs to decide on and send one claimed delivery.
public struct ClaimedDelivery: Sendable {
    public var destination: Destination
    /// The current secret first, then the previous one while its overlap lasts (raw key bytes).
    public var secrets: [[UInt8]]
    public var eventSeq: Int64
    public var eventId: String
    public var eventType: String
    public var subjectId: String?
    /// The event as JSON; nil once the person was erased.
    public var payload: String?
    /// This attempt's number (1 for the first).
    public var attempt: Int
    /// The lease this worker holds; an answer after it was lost is ignored.
    public var leaseOwner: String
    /// The person now: the purpose gate is asked at delivery time, not when the event was made.
    public var subject: DeliverySubjectState?

    public init(destination: Destination, secrets: [[UInt8]], eventSeq: Int64, eventId: String, eventType: String, subjectId: String?,
                payload: String?, attempt: Int, leaseOwner: String, subject: DeliverySubjectState?) {
        self.destination = destination
        self.secrets = secrets
        self.eventSeq = eventSeq
        self.eventId = eventId
        self.eventType = eventType
        self.subjectId = subjectId
        self.payload = payload
        self.attempt = attempt
        self.leaseOwner = leaseOwner
        self.subject = subject
    }
}

/// A person's standing at delivery time.
public struct DeliverySubjectState: Sendable {
    public var status: SubjectStatus
    public var hasObjected: Bool
    public var hasOptedOutOfSale: Bool
    public var consents: [String: ConsentRecord]

    public init(status: SubjectStatus, hasObjected: Bool, hasOptedOutOfSale: Bool, consents: [String: ConsentRecord]) {
        self.status = status
        self.hasObjected = hasObjected
        self.hasOptedOutOfSale = hasOptedOutOfSale
        self.consents = consents
    }
}

/// How a claimed delivery ended.
public enum DeliveryResult: Sendable {
    /// The receiver answered 2xx.
    case delivered(statusCode: Int, durationMs: Int, fields: [String], withheld: [String: String])
    /// Nothing the destination may see: recorded with the reason, and the person's next event may go.
    case withheld(reason: String, withheld: [String: String])
    /// The person was erased: nothing is sent.
    case skipped(reason: String)
    /// Failed; tried again at `retryAt` (epoch ms), or a dead letter when nil.
    case failed(statusCode: Int?, error: String, durationMs: Int?, retryAt: Int64?)
    /// The receiver answered 410 Gone: the destination is disabled and the event waits for it to be enabled again.
    case gone(durationMs: Int)
}

extension CandorStore {
    static let destinationColumns = """
        id, url, description, purposes, fields, event_types, shares_data, enabled, disabled_reason, max_attempts, timeout_ms, retry_base_ms, \
        secret_hint, previous_expires_at, created_at, updated_at
        """

    static func destination(_ row: SQLRow, now: Int64) -> Destination {
        func list(_ index: Int) -> [String] { (try? CandorJSON.decode([String].self, from: row.text(index))) ?? [] }
        let previousExpiry = row.optionalInt(13).flatMap { $0 > now ? $0 : nil }
        return Destination(
            id: row.text(0), url: row.text(1), description: row.optionalText(2), purposes: list(3), fields: list(4), eventTypes: list(5),
            sharesData: row.int(6) != 0, enabled: row.int(7) != 0, disabledReason: row.optionalText(8),
            maxAttempts: row.optionalInt(9).map(Int.init), timeoutMs: row.optionalInt(10).map(Int.init), retryBaseMs: row.optionalInt(11).map(Int.init),
            secretHint: row.text(12), previousSecretExpiresAt: previousExpiry.map(Timestamp.rfc3339),
            createdAt: Timestamp.rfc3339(row.int(14)), updatedAt: Timestamp.rfc3339(row.int(15)), secret: nil)
    }

    /// The key that encrypts destination secrets at rest, derived from the master key.
    private var destinationSecretKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: secrets.masterKey, info: Data("candor webhook secrets v1".utf8), outputByteCount: 32)
    }

    private func sealSecret(_ secret: [UInt8], destinationId: String) throws -> [UInt8] {
        Array(try ChaChaPoly.seal(secret, using: destinationSecretKey, authenticating: Data(destinationId.utf8)).combined)
    }

    private func openSecret(_ sealed: [UInt8], destinationId: String) throws -> [UInt8] {
        Array(try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: sealed), using: destinationSecretKey, authenticating: Data(destinationId.utf8)))
    }

    private static func json(_ list: [String]) -> SQLValue { .text(JSONValue.array(list.map(JSONValue.string)).jsonText) }

    private func loadDestination(_ connection: SQLConnection, _ id: String, lock: Bool = false) throws -> Destination {
        guard let row = try connection.queryOne("SELECT \(Self.destinationColumns) FROM destinations WHERE id = ?\(lock ? database.dialect.forUpdate : "")", .text(id)) else {
            throw CandorError(.notFound, "no destination '\(id)'")
        }
        return Self.destination(row, now: now)
    }

    // MARK: - Administration

    /// Creates a destination with a fresh signing secret (`secretText` is shown once; the stored answer
    /// of an idempotent retry does not hold it).
    public func createDestination(_ settings: DestinationSettings, secret: [UInt8], secretText: String, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Destination> {
        if let replayed: WriteOutcome<Destination> = try await replay(principal, idempotency) { return replayed }
        let id = Identifier.make("dst")
        let sealed = try sealSecret(secret, destinationId: id)
        return try await write(principal, idempotency: idempotency, status: 201, storedAs: { var shown = $0; shown.secret = nil; return shown }) { connection -> Destination in
            let at = self.now
            try connection.execute(
                """
                INSERT INTO destinations (id, url, description, purposes, fields, event_types, shares_data, enabled, disabled_reason, max_attempts, timeout_ms,
                  retry_base_ms, secret_cipher, secret_hint, previous_cipher, previous_expires_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)
                """,
                [.text(id), .text(settings.url), .text(settings.description), Self.json(settings.purposes), Self.json(settings.fields), Self.json(settings.eventTypes),
                 .int(settings.sharesData ? 1 : 0), .int(settings.enabled ? 1 : 0), .int(settings.maxAttempts), .int(settings.timeoutMs), .int(settings.retryBaseMs),
                 .blob(sealed), .text(String(secretText.suffix(4))), .int(at), .int(at)])
            try self.audit(connection, principal, action: "destination.create", fields: settings.fields)
            var destination = try self.loadDestination(connection, id)
            destination.secret = secretText
            return destination
        }
    }

    /// Replaces a destination's settings (enable or disable it with `enabled`). Enabling clears the reason it was disabled.
    public func updateDestination(_ id: String, _ settings: DestinationSettings, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Destination> {
        if let replayed: WriteOutcome<Destination> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200) { connection -> Destination in
            _ = try self.loadDestination(connection, id, lock: true)
            try connection.execute(
                """
                UPDATE destinations SET url = ?, description = ?, purposes = ?, fields = ?, event_types = ?, shares_data = ?, enabled = ?,
                  disabled_reason = CASE WHEN ? = 1 THEN NULL ELSE disabled_reason END, max_attempts = ?, timeout_ms = ?, retry_base_ms = ?, updated_at = ?
                WHERE id = ?
                """,
                [.text(settings.url), .text(settings.description), Self.json(settings.purposes), Self.json(settings.fields), Self.json(settings.eventTypes),
                 .int(settings.sharesData ? 1 : 0), .int(settings.enabled ? 1 : 0), .int(settings.enabled ? 1 : 0),
                 .int(settings.maxAttempts), .int(settings.timeoutMs), .int(settings.retryBaseMs), .int(self.now), .text(id)])
            try self.audit(connection, principal, action: "destination.update", fields: settings.fields)
            return try self.loadDestination(connection, id)
        }
    }

    /// Deletes a destination with its queue and log (the audit log keeps what was sent).
    public func deleteDestination(_ id: String, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Destination> {
        if let replayed: WriteOutcome<Destination> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200) { connection -> Destination in
            let destination = try self.loadDestination(connection, id, lock: true)
            for table in ["delivery_attempts", "delivery_jobs"] {
                try connection.execute("DELETE FROM \(table) WHERE destination_id = ?", .text(id))
            }
            try connection.execute("DELETE FROM destinations WHERE id = ?", .text(id))
            try self.audit(connection, principal, action: "destination.delete")
            return destination
        }
    }

    /// Makes `secret` the signing secret; the old one keeps signing (a second `v1,` signature) for `overlapMillis`.
    public func rotateDestinationSecret(_ id: String, secret: [UInt8], secretText: String, overlapMillis: Int64, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Destination> {
        if let replayed: WriteOutcome<Destination> = try await replay(principal, idempotency) { return replayed }
        let sealed = try sealSecret(secret, destinationId: id)
        return try await write(principal, idempotency: idempotency, status: 200, storedAs: { var shown = $0; shown.secret = nil; return shown }) { connection -> Destination in
            _ = try self.loadDestination(connection, id, lock: true)
            let at = self.now
            try connection.execute(
                """
                UPDATE destinations SET previous_cipher = secret_cipher, previous_expires_at = ?, secret_cipher = ?, secret_hint = ?, updated_at = ? WHERE id = ?
                """,
                .int(overlapMillis > 0 ? at + overlapMillis : nil), .blob(sealed), .text(String(secretText.suffix(4))), .int(at), .text(id))
            try self.audit(connection, principal, action: "destination.rotate_secret")
            var destination = try self.loadDestination(connection, id)
            destination.secret = secretText
            return destination
        }
    }

    /// One destination.
    public func destination(_ id: String) async throws -> Destination {
        try await database.read { try self.loadDestination($0, id) }
    }

    /// Destinations by id, with cursor pagination.
    public func destinations(cursor: String?, limit: Int) async throws -> Page<Destination> {
        let now = self.now
        return try await database.read { connection in
            let rows = try connection.query("SELECT \(Self.destinationColumns) FROM destinations WHERE id > ? ORDER BY id LIMIT ?", [.text(cursor ?? ""), .int(Int64(limit + 1))])
            let items = rows.prefix(limit).map { Self.destination($0, now: now) }
            return Page(data: Array(items), nextCursor: rows.count > limit ? items.last?.id : nil)
        }
    }

    /// The delivery log of a destination, newest event first; `status` narrows it (`dead` lists the dead letters).
    public func deliveries(destinationId: String, status: String?, cursor: String?, limit: Int) async throws -> Page<DeliveryRecord> {
        try await database.read { connection in
            _ = try self.loadDestination(connection, destinationId)
            var sql = "SELECT \(Self.jobColumns) FROM delivery_jobs WHERE destination_id = ? AND event_seq < ?"
            var arguments: [SQLValue] = [.text(destinationId), .int(Int64(cursor ?? "") ?? Int64.max)]
            if let status {
                sql += " AND status = ?"
                arguments.append(.text(status))
            }
            let rows = try connection.query(sql + " ORDER BY event_seq DESC LIMIT ?", arguments + [.int(Int64(limit + 1))])
            let page = Array(rows.prefix(limit))
            let records = try page.map { try self.deliveryRecord(connection, $0) }
            return Page(data: records, nextCursor: rows.count > limit ? page.last.map { String($0.int(0)) } : nil)
        }
    }

    static let jobColumns = """
        event_seq, event_id, event_type, subject_id, status, reason, attempts, last_status_code, last_error, next_attempt_at, fields, withheld, created_at, completed_at, destination_id
        """

    private func deliveryRecord(_ connection: SQLConnection, _ row: SQLRow) throws -> DeliveryRecord {
        let history = try connection.query(
            "SELECT attempt, at, outcome, status_code, error, duration_ms FROM delivery_attempts WHERE destination_id = ? AND event_seq = ? ORDER BY at, attempt",
            [.text(row.text(14)), .int(row.int(0))]
        ).map {
            DeliveryAttempt(attempt: Int($0.int(0)), at: Timestamp.rfc3339($0.int(1)), outcome: $0.text(2), statusCode: $0.optionalInt(3).map(Int.init),
                            error: $0.optionalText(4), durationMs: $0.optionalInt(5).map(Int.init))
        }
        let status = row.text(4)
        return DeliveryRecord(
            eventId: row.text(1), eventType: row.text(2), subjectId: row.text(3).isEmpty ? nil : row.text(3), status: status, reason: row.optionalText(5),
            attempts: Int(row.int(6)), lastStatusCode: row.optionalInt(7).map(Int.init), lastError: row.optionalText(8),
            nextAttemptAt: status == "pending" ? Timestamp.rfc3339(row.int(9)) : nil,
            deliveredFields: row.optionalText(10).flatMap { try? CandorJSON.decode([String].self, from: $0) },
            withheldFields: row.optionalText(11).flatMap { try? CandorJSON.decode([String: String].self, from: $0) },
            createdAt: Timestamp.rfc3339(row.int(12)), completedAt: row.optionalInt(13).map(Timestamp.rfc3339), history: history)
    }

    /// Sends a dead letter again: it becomes due now with a fresh attempt budget.
    public func replayDeadLetter(destinationId: String, eventId: String, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<DeliveryRecord> {
        if let replayed: WriteOutcome<DeliveryRecord> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 202) { connection -> DeliveryRecord in
            _ = try self.loadDestination(connection, destinationId)
            guard let row = try connection.queryOne(
                "SELECT event_seq, status, subject_id FROM delivery_jobs WHERE destination_id = ? AND event_id = ?\(self.database.dialect.forUpdate)",
                .text(destinationId), .text(eventId))
            else { throw CandorError(.notFound, "destination '\(destinationId)' has no delivery of event '\(eventId)'") }
            guard row.text(1) == "dead" else {
                throw CandorError(.conflict, "event '\(eventId)' is not a dead letter (its delivery is \(row.text(1)))")
            }
            let at = self.now
            try connection.execute(
                """
                UPDATE delivery_jobs SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, reason = NULL,
                  completed_at = NULL, updated_at = ? WHERE destination_id = ? AND event_seq = ?
                """, .int(at), .int(at), .text(destinationId), .int(row.int(0)))
            try self.audit(connection, principal, action: "delivery.replay", subjectId: row.text(2).isEmpty ? nil : row.text(2))
            guard let job = try connection.queryOne("SELECT \(Self.jobColumns) FROM delivery_jobs WHERE destination_id = ? AND event_seq = ?", .text(destinationId), .int(row.int(0))) else {
                throw CandorError(.notFound, "no delivery of event '\(eventId)'")
            }
            return try self.deliveryRecord(connection, job)
        }
    }

    // MARK: - Workers

    /// Turns outbox events not yet dispatched into one job per destination that wants them, oldest
    /// first, and marks them dispatched; returns how many events it took. Only one node fans out at a
    /// time (a PostgreSQL advisory lock), so a person's jobs are always created in commit order.
    public func fanOutDeliveries(limit: Int = 500) async throws -> Int {
        // Most rounds find nothing new: a read says so without taking the writer.
        let waiting = try await database.read { try $0.queryOne("SELECT 1 FROM outbox WHERE status = 'pending' LIMIT 1") != nil }
        guard waiting else { return 0 }
        return try await committer.submit { connection -> Int in
            if self.database.dialect == .postgres {
                let locked = try connection.queryOne("SELECT CASE WHEN pg_try_advisory_xact_lock(6061000001) THEN 1 ELSE 0 END")?.int(0) ?? 0
                if locked == 0 { return 0 }
            }
            let events = try connection.query("SELECT id, event_id, type, subject_id FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?", [.int(Int64(limit))])
            guard !events.isEmpty else { return 0 }
            let destinations = try connection.query("SELECT id, event_types FROM destinations", []).map {
                ($0.text(0), (try? CandorJSON.decode([String].self, from: $0.text(1))) ?? [])
            }
            let at = self.now
            for event in events {
                let type = event.text(2)
                for (destinationId, types) in destinations where Self.wants(types, type) {
                    try connection.execute(
                        """
                        INSERT INTO delivery_jobs (subject_id, destination_id, event_seq, event_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (destination_id, event_seq) DO NOTHING
                        """,
                        [.text(event.optionalText(3) ?? ""), .text(destinationId), .int(event.int(0)), .text(event.text(1)), .text(type), .int(at), .int(at), .int(at)])
                }
            }
            let marks = SQLList.placeholders(events.count)
            try connection.execute("UPDATE outbox SET status = 'dispatched' WHERE status = 'pending' AND id IN (\(marks))", events.map { .int($0.int(0)) })
            return events.count
        }
    }

    /// Whether an event type matches a destination's list (`*`, `prefix.*` or the exact type).
    public static func wants(_ patterns: [String], _ type: String) -> Bool {
        patterns.contains { pattern in
            pattern == "*" || pattern == type || (pattern.hasSuffix(".*") && type.hasPrefix(String(pattern.dropLast())))
        }
    }

    /// Claims up to `limit` due deliveries for `owner` for `leaseMillis`. A delivery is due when its time
    /// came, its destination is enabled, nobody holds a live lease on it, and its person has no earlier
    /// open delivery to the same destination. On PostgreSQL rows are taken `FOR UPDATE SKIP LOCKED`, so
    /// concurrent workers on several nodes never claim the same delivery.
    public func claimDeliveries(owner: String, limit: Int, leaseMillis: Int64) async throws -> [ClaimedDelivery] {
        let lockClause = database.dialect == .postgres ? " FOR UPDATE OF j SKIP LOCKED" : ""
        return try await committer.submit { connection -> [ClaimedDelivery] in
            let at = self.now
            let rows = try connection.query(
                """
                SELECT j.destination_id, j.event_seq, j.event_id, j.event_type, j.subject_id, j.attempts FROM delivery_jobs j
                JOIN destinations d ON d.id = j.destination_id
                WHERE j.status = 'pending' AND d.enabled = 1 AND j.next_attempt_at <= ? AND (j.lease_until IS NULL OR j.lease_until < ?)
                  AND NOT EXISTS (SELECT 1 FROM delivery_jobs e WHERE e.destination_id = j.destination_id AND e.subject_id = j.subject_id
                                  AND e.status = 'pending' AND e.event_seq < j.event_seq)
                ORDER BY j.next_attempt_at, j.event_seq LIMIT ?\(lockClause)
                """, [.int(at), .int(at), .int(Int64(limit))])
            guard !rows.isEmpty else { return [] }
            // One statement for the whole claim (a round trip per row is what a server database charges).
            let pairs = Array(repeating: "(?, ?)", count: rows.count).joined(separator: ", ")
            try connection.execute(
                "UPDATE delivery_jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE (destination_id, event_seq) IN (\(pairs))",
                [.text(owner), .int(at + leaseMillis), .int(at)] + rows.flatMap { [SQLValue.text($0.text(0)), .int($0.int(1))] })
            // Everything the decision needs, read in the same transaction: events, destinations with secrets, people.
            let seqMarks = SQLList.placeholders(rows.count)
            var payloads = [Int64: String?]()
            let events = try connection.query("SELECT id, subject_id, payload FROM outbox WHERE id IN (\(seqMarks))", rows.map { .int($0.int(1)) })
            let opened = try self.openPayloads(connection, events.map { ($0.int(0), $0.optionalText(1), $0.optionalText(2)) })
            for row in events { payloads[row.int(0)] = opened[row.int(0)] }
            var destinations = [String: (Destination, [[UInt8]])]()
            for id in Set(rows.map { $0.text(0) }) {
                guard let row = try connection.queryOne("SELECT \(Self.destinationColumns), secret_cipher, previous_cipher, previous_expires_at FROM destinations WHERE id = ?", .text(id)) else { continue }
                var keys = [try self.openSecret(row.blob(16), destinationId: id)]
                if !row.isNull(17), let expires = row.optionalInt(18), expires > at { keys.append(try self.openSecret(row.blob(17), destinationId: id)) }
                destinations[id] = (Self.destination(row, now: at), keys)
            }
            let subjectIds = Array(Set(rows.map { $0.text(4) }.filter { !$0.isEmpty }))
            var people = [String: DeliverySubjectState]()
            if !subjectIds.isEmpty {
                let marks = SQLList.placeholders(subjectIds.count)
                for row in try connection.query("SELECT id, status, has_objected, has_opted_out_of_sale FROM subjects WHERE id IN (\(marks))", subjectIds.map(SQLValue.text)) {
                    people[row.text(0)] = DeliverySubjectState(status: SubjectStatus(rawValue: row.text(1)) ?? .active, hasObjected: row.int(2) != 0,
                                                               hasOptedOutOfSale: row.int(3) != 0, consents: [:])
                }
                for row in try connection.query(
                    "SELECT subject_id, purpose, status, method, notice_version, updated_at, expires_at FROM consents WHERE subject_id IN (\(marks))",
                    subjectIds.map(SQLValue.text))
                {
                    people[row.text(0)]?.consents[row.text(1)] = ConsentRecord(
                        purpose: row.text(1), status: ConsentStatus(rawValue: row.text(2)) ?? .withdrawn, method: ConsentMethod(rawValue: row.text(3)) ?? .api,
                        noticeVersion: row.optionalInt(4).map(Int.init), updatedAt: row.int(5), expiresAt: row.optionalInt(6))
                }
            }
            return rows.compactMap { row -> ClaimedDelivery? in
                guard let (destination, keys) = destinations[row.text(0)] else { return nil }
                let subjectId = row.text(4).isEmpty ? nil : row.text(4)
                return ClaimedDelivery(
                    destination: destination, secrets: keys, eventSeq: row.int(1), eventId: row.text(2), eventType: row.text(3), subjectId: subjectId,
                    payload: payloads[row.int(1)] ?? nil, attempt: Int(row.int(5)) + 1, leaseOwner: owner, subject: subjectId.flatMap { people[$0] })
            }
        }
    }

    /// Records how a claimed delivery ended — job state, the attempt in the log, and an audit row for
    /// what went where — in one durable transaction. Returns false when the lease was lost meanwhile
    /// (another worker took the delivery over), in which case nothing is written.
    @discardableResult
    public func completeDelivery(_ claim: ClaimedDelivery, _ result: DeliveryResult) async throws -> Bool {
        try await committer(for: claim.subjectId).submit { connection in
            var rows = LogRows()
            let held = try self.recordDelivery(connection, claim, result, leaseHeld: nil, rows: &rows)
            try Self.flush(connection, rows)
            return held
        }
    }

    /// `completeDelivery` for a worker's whole round in one durable transaction: one sync instead of one
    /// per delivery, and the leases checked and the log and audit rows written with one statement each.
    /// Returns, per delivery, whether its lease was still held.
    @discardableResult
    public func completeDeliveries(_ outcomes: [(ClaimedDelivery, DeliveryResult)]) async throws -> [Bool] {
        guard !outcomes.isEmpty else { return [] }
        return try await committer.submit { connection in
            let pairs = Array(repeating: "(?, ?)", count: outcomes.count).joined(separator: ", ")
            var leases = [String: (owner: String?, attempts: Int, status: String)]()
            for row in try connection.query(
                "SELECT destination_id, event_seq, lease_owner, attempts, status FROM delivery_jobs WHERE (destination_id, event_seq) IN (\(pairs))\(self.database.dialect.forUpdate)",
                outcomes.flatMap { [SQLValue.text($0.0.destination.id), .int($0.0.eventSeq)] })
            {
                leases["\(row.text(0)) \(row.int(1))"] = (row.optionalText(2), Int(row.int(3)), row.text(4))
            }
            var rows = LogRows()
            let held = try outcomes.map { claim, result -> Bool in
                let lease = leases["\(claim.destination.id) \(claim.eventSeq)"]
                let stillHeld = lease.map { $0.owner == claim.leaseOwner && $0.attempts == claim.attempt && $0.status == "pending" } ?? false
                return try self.recordDelivery(connection, claim, result, leaseHeld: stillHeld, rows: &rows)
            }
            try Self.flush(connection, rows)
            return held
        }
    }

    /// Attempt-log and audit rows gathered over a round, written with one statement each.
    struct LogRows {
        var attempts: [[SQLValue]] = []
        var audits: [[SQLValue]] = []
    }

    static func flush(_ connection: SQLConnection, _ rows: LogRows) throws {
        try SQLList.insert(connection, "INSERT INTO delivery_attempts (subject_id, destination_id, event_seq, attempt, at, outcome, status_code, error, duration_ms) VALUES ",
                           tuple: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows: rows.attempts)
        try SQLList.insert(connection, "INSERT INTO audit_log (at, actor, team, action, purpose, subject_id, fields, outcome) VALUES ",
                           tuple: "(?, ?, 'destination', ?, NULL, ?, ?, ?)", rows: rows.audits)
    }

    /// Records one outcome: the job's state now, and (into `rows`) its attempt-log and audit rows.
    /// `leaseHeld` is nil when the lease still has to be checked here.
    private func recordDelivery(_ connection: SQLConnection, _ claim: ClaimedDelivery, _ result: DeliveryResult, leaseHeld: Bool?, rows: inout LogRows) throws -> Bool {
        if let leaseHeld {
            guard leaseHeld else { return false }
        } else {
            guard let row = try connection.queryOne(
                "SELECT lease_owner, attempts, status FROM delivery_jobs WHERE destination_id = ? AND event_seq = ?\(self.database.dialect.forUpdate)",
                .text(claim.destination.id), .int(claim.eventSeq)),
                row.optionalText(0) == claim.leaseOwner, Int(row.int(1)) == claim.attempt, row.text(2) == "pending"
            else { return false }
        }
        let at = self.now
        var status = "pending", reason: String? = nil, statusCode: Int? = nil, error: String? = nil, duration: Int? = nil
        var fields: [String]? = nil, withheld: [String: String]? = nil, nextAttempt = at, outcome: String
        switch result {
        case .delivered(let code, let ms, let sent, let held):
            (status, statusCode, duration, fields, withheld, outcome) = ("delivered", code, ms, sent, held.isEmpty ? nil : held, "delivered")
        case .withheld(let why, let held):
            (status, reason, withheld, outcome) = ("withheld", why, held.isEmpty ? nil : held, "withheld")
        case .skipped(let why):
            (status, reason, outcome) = ("skipped", why, "skipped")
        case .failed(let code, let message, let ms, let retryAt):
            (statusCode, error, duration) = (code, message, ms)
            if let retryAt {
                (nextAttempt, outcome) = (retryAt, "failed")
            } else {
                (status, reason, outcome) = ("dead", "gave up after \(claim.attempt) attempts", "dead")
            }
        case .gone(let ms):
            (statusCode, duration, error, outcome) = (410, ms, "the receiver answered 410 Gone; destination disabled", "gone")
            try connection.execute("UPDATE destinations SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?",
                                   .text("the receiver answered 410 Gone"), .int(at), .text(claim.destination.id))
        }
        let done = status != "pending"
        try connection.execute(
            """
            UPDATE delivery_jobs SET status = ?, reason = ?, lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, last_status_code = ?,
              last_error = ?, fields = ?, withheld = ?, updated_at = ?, completed_at = ? WHERE destination_id = ? AND event_seq = ?
            """,
            [.text(status), .text(reason), .int(nextAttempt), .int(statusCode), .text(error), fields.map(Self.json) ?? .null,
             withheld.map { .text(JSONValue.object($0.mapValues(JSONValue.string)).jsonText) } ?? .null, .int(at), .int(done ? at : nil),
             .text(claim.destination.id), .int(claim.eventSeq)])
        rows.attempts.append([.text(claim.subjectId ?? ""), .text(claim.destination.id), .int(claim.eventSeq), .int(claim.attempt), .int(at), .text(outcome),
                              .int(statusCode), .text(error), .int(duration)])
        // The audit trail of outbound transfers: the destination as actor, the fields that left.
        if status == "delivered" || status == "withheld" {
            rows.audits.append([.int(at), .text(claim.destination.id), .text(status == "delivered" ? "delivery.sent" : "delivery.withheld"), .text(claim.subjectId),
                                Self.json((fields ?? []).sorted()), .text(status == "delivered" ? "ok" : (reason ?? "withheld"))])
        }
        return true
    }

    /// Frees every lease (SQLite runs one node, so leases left by a stopped process are simply stale).
    public func releaseDeliveryLeases() async throws {
        _ = try await committer.submit { connection in
            try connection.execute("UPDATE delivery_jobs SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL")
        }
    }

    /// Outbound transfers over `[since, until)`, per destination and field set, for the audit report.
    static func deliveryReads(_ connection: SQLConnection, since: Int64, until: Int64) throws -> [AuditReport.Reads] {
        var groups = [String: AuditReport.Reads]()
        for row in try connection.query(
            """
            SELECT actor, fields, count(*), count(DISTINCT subject_id) FROM audit_log
            WHERE action = 'delivery.sent' AND at >= ? AND at < ? GROUP BY actor, fields
            """, [.int(since), .int(until)])
        {
            var group = groups[row.text(0)] ?? AuditReport.Reads(team: row.text(0), purpose: nil, action: "delivery.sent", count: 0, subjects: 0, fields: [])
            group.count += row.int(2)
            group.subjects += row.int(3)
            group.fields = Array(Set(group.fields).union((try? CandorJSON.decode([String].self, from: row.text(1))) ?? [])).sorted()
            groups[row.text(0)] = group
        }
        return groups.values.sorted { $0.team < $1.team }
    }
}
