import CandorCore
import Foundation

// Operator accounts and console sessions (issue 7).
//
// An operator is a member of staff who signs in to the console; they belong to one team and act as a
// `Principal` of it, so the console reaches personal data only through the same gated functions the API
// uses. Passwords arrive here already hashed (bcrypt, in CandorServer): the store never sees one.
// Sessions are random tokens of which only the SHA-256 is stored, so a copy of the database opens none.

extension Migrations {
    /// Operators, their failed sign-ins (for the lockout) and their console sessions.
    static let operatorsV1 = Migration(
        name: "operators_v1",
        sqlite: [
            """
            CREATE TABLE operators (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, team TEXT NOT NULL,
              password_hash TEXT NOT NULL, failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until INTEGER,
              created_at INTEGER NOT NULL, disabled_at INTEGER)
            """,
            """
            CREATE TABLE operator_sessions (token_hash TEXT PRIMARY KEY, operator_id TEXT NOT NULL, created_at INTEGER NOT NULL,
              last_seen_at INTEGER NOT NULL)
            """,
            "CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id)",
        ],
        postgres: [
            """
            CREATE TABLE operators (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, team TEXT NOT NULL,
              password_hash TEXT NOT NULL, failed_attempts BIGINT NOT NULL DEFAULT 0, locked_until BIGINT,
              created_at BIGINT NOT NULL, disabled_at BIGINT)
            """,
            """
            CREATE TABLE operator_sessions (token_hash TEXT PRIMARY KEY, operator_id TEXT NOT NULL, created_at BIGINT NOT NULL,
              last_seen_at BIGINT NOT NULL)
            """,
            "CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id)",
        ])
}

/// A member of staff who signs in to the console.
public struct Operator: Codable, Sendable, Hashable {
    public var id: String
    /// Lower-cased; the sign-in name.
    public var email: String
    public var name: String
    /// The team whose roles and purposes the operator acts with.
    public var team: String
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, email, name, team
        case createdAt = "created_at"
    }
}

/// What signing in needs to know about an operator: the stored hash and the lockout state.
public struct OperatorCredentials: Sendable {
    public var account: Operator
    public var passwordHash: String
    public var lockedUntil: Int64?
}

/// A live console session.
public struct OperatorSession: Sendable {
    public var account: Operator
    /// The SHA-256 of the session token (hex): what the session is known by, and what CSRF tokens are bound to.
    public var tokenHash: String
    public var createdAt: Int64
    public var lastSeenAt: Int64
}

/// How sign-in failures lock an account and how long sessions live.
public enum OperatorPolicy {
    /// Failed sign-ins in a row that lock the account.
    public static let maxFailures = 5
    /// How long a locked account stays locked.
    public static let lockMillis: Int64 = 15 * 60 * 1000
    /// A session unused for this long ends.
    public static let idleMillis: Int64 = 30 * 60 * 1000
    /// A session ends this long after sign-in, used or not.
    public static let absoluteMillis: Int64 = 12 * 60 * 60 * 1000
    /// `last_seen_at` is written at most this often per session, so page views are not writes.
    static let touchMillis: Int64 = 60 * 1000
}

/// The result of a sign-in attempt, as audited (`console.login` with this outcome).
public enum LoginOutcome: String, Sendable {
    case ok
    case wrongPassword = "wrong_password"
    case locked
    case unknownOperator = "unknown_operator"
}

extension CandorStore {
    static let operatorColumns = "id, email, name, team, created_at"

    static func operatorAccount(_ row: SQLRow, from index: Int = 0) -> Operator {
        Operator(id: row.text(index), email: row.text(index + 1), name: row.text(index + 2), team: row.text(index + 3),
                 createdAt: Timestamp.rfc3339(row.int(index + 4)))
    }

    /// Creates an operator with an already-hashed password. Validates everything before writing:
    /// an e-mail address, a name, a team that exists; a taken address is a conflict.
    public func createOperator(email: String, name: String, team: String, passwordHash: String, by principal: Principal?) async throws -> Operator {
        let email = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        var errors = [FieldError]()
        if !SubjectInput.looksLikeEmail(email) { errors.append(FieldError("email", "is not an e-mail address")) }
        if name.isEmpty || name.count > 100 { errors.append(FieldError("name", "must be 1 to 100 characters")) }
        if registry.teams[team] == nil { errors.append(FieldError("team", "no team '\(team)'")) }
        if passwordHash.isEmpty { errors.append(FieldError("password", "is required")) }
        if !errors.isEmpty { throw CandorError(.validation, "the operator is not valid", errors: errors) }
        let id = Identifier.make("op")
        let at = now
        let created: Operator? = try await committer.submit { connection in
            if try connection.queryOne("SELECT 1 FROM operators WHERE email = ?", .text(email)) != nil { return nil }
            try connection.execute(
                "INSERT INTO operators (id, email, name, team, password_hash, failed_attempts, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
                .text(id), .text(email), .text(name), .text(team), .text(passwordHash), .int(at))
            try self.audit(connection, principal, action: "operator.create", fields: ["email", "name", "team"])
            return Operator(id: id, email: email, name: name, team: team, createdAt: Timestamp.rfc3339(at))
        }
        guard let created else {
            throw CandorError(.conflict, "an operator with this e-mail address exists", errors: [FieldError("email", "is already an operator")])
        }
        return created
    }

    /// Every operator, by e-mail address.
    public func operators() async throws -> [Operator] {
        try await database.read { connection in
            try connection.query("SELECT \(Self.operatorColumns) FROM operators WHERE disabled_at IS NULL ORDER BY email", []).map { Self.operatorAccount($0) }
        }
    }

    /// The stored hash and lockout state of the operator signing in with `email`; nil when there is none.
    public func operatorCredentials(email: String) async throws -> OperatorCredentials? {
        let email = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        return try await database.read { connection in
            guard let row = try connection.queryOne(
                "SELECT \(Self.operatorColumns), password_hash, locked_until FROM operators WHERE email = ? AND disabled_at IS NULL", .text(email))
            else { return nil }
            return OperatorCredentials(account: Self.operatorAccount(row), passwordHash: row.text(5), lockedUntil: row.optionalInt(6))
        }
    }

    /// Whether the account is locked now.
    public func isLocked(_ credentials: OperatorCredentials) -> Bool {
        (credentials.lockedUntil ?? 0) > now
    }

    /// Records a refused sign-in and audits it (never the password; for an unknown address, not the address
    /// either). The fifth wrong password in a row locks the account for 15 minutes and restarts the count.
    public func recordFailedLogin(_ credentials: OperatorCredentials?, outcome: LoginOutcome) async throws {
        let at = now
        _ = try await committer.submit { connection in
            if let credentials, outcome == .wrongPassword {
                try connection.execute(
                    """
                    UPDATE operators SET
                      locked_until = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE locked_until END,
                      failed_attempts = CASE WHEN failed_attempts + 1 >= ? THEN 0 ELSE failed_attempts + 1 END
                    WHERE id = ?
                    """,
                    .int(Int64(OperatorPolicy.maxFailures)), .int(at + OperatorPolicy.lockMillis), .int(Int64(OperatorPolicy.maxFailures)), .text(credentials.account.id))
            }
            try connection.execute(
                "INSERT INTO audit_log (at, actor, team, action, purpose, subject_id, fields, outcome) VALUES (?, ?, ?, 'console.login', NULL, NULL, '[]', ?)",
                .int(at), .text(credentials?.account.id ?? "unknown"), .text(credentials?.account.team ?? ""), .text(outcome.rawValue))
        }
    }

    /// Signs an operator in after their password was checked: clears the failure count, stores a new
    /// session and audits the sign-in. Returns the session token, shown once (only its hash is kept).
    public func openOperatorSession(_ account: Operator) async throws -> (token: String, session: OperatorSession) {
        var generator = SystemRandomNumberGenerator()
        let token = Digest.hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let tokenHash = Digest.hex(Digest.sha256(utf8: token))
        let at = now
        _ = try await committer.submit { connection in
            try connection.execute("UPDATE operators SET failed_attempts = 0, locked_until = NULL, last_sign_in_at = ? WHERE id = ?", .int(at), .text(account.id))
            // Sessions that ended are swept here, so the table holds live sessions only.
            try connection.execute(
                "DELETE FROM operator_sessions WHERE operator_id = ? AND (last_seen_at < ? OR created_at < ?)",
                .text(account.id), .int(at - OperatorPolicy.idleMillis), .int(at - OperatorPolicy.absoluteMillis))
            try connection.execute(
                "INSERT INTO operator_sessions (token_hash, operator_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
                .text(tokenHash), .text(account.id), .int(at), .int(at))
            try connection.execute(
                "INSERT INTO audit_log (at, actor, team, action, purpose, subject_id, fields, outcome) VALUES (?, ?, ?, 'console.login', NULL, NULL, '[]', 'ok')",
                .int(at), .text(account.id), .text(account.team))
        }
        return (token, OperatorSession(account: account, tokenHash: tokenHash, createdAt: at, lastSeenAt: at))
    }

    /// The live session a token opens, or nil: unknown, idle for 30 minutes, older than 12 hours, or
    /// its operator disabled. An ended session is deleted when it is found so.
    public func operatorSession(token: String) async throws -> OperatorSession? {
        guard token.count == 64, token.allSatisfy(\.isHexDigit) else { return nil }
        let tokenHash = Digest.hex(Digest.sha256(utf8: token))
        let at = now
        let found = try await database.read { connection -> (OperatorSession, Bool)? in
            guard let row = try connection.queryOne(
                """
                SELECT o.id, o.email, o.name, o.team, o.created_at, s.created_at, s.last_seen_at, o.disabled_at
                FROM operator_sessions s JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = ?
                """, .text(tokenHash))
            else { return nil }
            let session = OperatorSession(account: Self.operatorAccount(row), tokenHash: tokenHash, createdAt: row.int(5), lastSeenAt: row.int(6))
            let live = row.isNull(7) && at - session.lastSeenAt < OperatorPolicy.idleMillis && at - session.createdAt < OperatorPolicy.absoluteMillis
            return (session, live)
        }
        guard let (session, live) = found else { return nil }
        if !live {
            _ = try await committer.submit { try $0.execute("DELETE FROM operator_sessions WHERE token_hash = ?", .text(tokenHash)) }
            return nil
        }
        if at - session.lastSeenAt >= OperatorPolicy.touchMillis {
            _ = try await committer.submit { try $0.execute("UPDATE operator_sessions SET last_seen_at = ? WHERE token_hash = ?", .int(at), .text(tokenHash)) }
        }
        return OperatorSession(account: session.account, tokenHash: tokenHash, createdAt: session.createdAt, lastSeenAt: at)
    }

    /// Signs out: the session is deleted, so its cookie opens nothing even if it was copied.
    public func endOperatorSession(_ session: OperatorSession) async throws {
        let at = now
        _ = try await committer.submit { connection in
            try connection.execute("DELETE FROM operator_sessions WHERE token_hash = ?", .text(session.tokenHash))
            try connection.execute(
                "INSERT INTO audit_log (at, actor, team, action, purpose, subject_id, fields, outcome) VALUES (?, ?, ?, 'console.logout', NULL, NULL, '[]', 'ok')",
                .int(at), .text(session.account.id), .text(session.account.team))
        }
    }

    /// The principal an operator acts as: their team, with its roles and purposes as the registry holds
    /// them now (a team's change applies to its operators at once). Nil when the team is gone.
    /// The key in it is synthetic: its id is the operator's, so audit rows name the operator.
    public func principal(for account: Operator) -> Principal? {
        guard let team = registry.teams[account.team] else { return nil }
        let key = APIKey(id: account.id, name: account.name, team: team.key, kind: .secret, hint: "console", origins: [], createdAt: account.createdAt)
        return Principal(key: key, team: team)
    }
}

/// One offer decision made for a person, as the console shows it.
public struct DecisionRecord: Sendable, Hashable {
    public var id: String
    public var placement: String
    /// `personalized`, `holdout` or `excluded`.
    public var arm: String
    public var offerIds: [String]
    public var decidedAt: String
}

extension CandorStore {
    /// The decisions made for a person, newest first (at most `limit`), for a purpose the principal's team
    /// holds: only decisions whose personalized offers used that purpose, or that used nothing about the
    /// person (holdout, excluded, generic offers). Audited as `decisions.read` under the purpose.
    public func decisions(subjectId: String, purpose purposeKey: String, limit: Int = 20, by principal: Principal) async throws -> [DecisionRecord] {
        guard registry.purposes[purposeKey] != nil else { throw CandorError.invalid("purpose", "unknown purpose '\(purposeKey)'") }
        guard PurposeGate.teamMayUse(principal.team, purpose: purposeKey) else {
            throw CandorError(.forbidden, "team '\(principal.team.key)' may not use purpose '\(purposeKey)'", errors: [FieldError("purpose", "not held by the team")])
        }
        try await decisionJournal.flush(store: self)
        let purposes = Dictionary(try await offers().compactMap { offer in offer.id.map { ($0, offer.purpose) } }, uniquingKeysWith: { a, _ in a })
        let person = try await decisionsOf(subjectId)
        let rows = try await database.read { connection in
            try connection.query("SELECT id, placement, arm, offers, created_at FROM decisions WHERE \(person.sql) ORDER BY created_at DESC LIMIT ?",
                                 person.arguments + [.int(Int64(limit * 5))])
        }
        let records = rows.compactMap { row -> DecisionRecord? in
            let ids = (try? CandorJSON.decode([String].self, from: row.text(3))) ?? []
            let used = Set(ids.compactMap { purposes[$0] ?? nil })
            guard used.isEmpty || used == [purposeKey] else { return nil }
            return DecisionRecord(id: row.text(0), placement: row.text(1), arm: row.text(2), offerIds: ids, decidedAt: Timestamp.rfc3339(row.int(4)))
        }.prefix(limit)
        try await auditOnly(principal, action: "decisions.read", purpose: purposeKey, subjectId: subjectId)
        return Array(records)
    }
}
