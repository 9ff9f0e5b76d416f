import CandorCore
import Foundation

/// One row of the audit log.
public struct AuditEntry: Codable, Sendable, Hashable {
    public var id: Int64
    public var at: String
    /// The API key id, `subject` (the person through the portal), `system`, or for `auth.failed` the
    /// presented key's visible prefix.
    public var actor: String
    public var team: String
    public var action: String
    public var purpose: String?
    public var subjectId: String?
    public var fields: [String]
    public var outcome: String

    enum CodingKeys: String, CodingKey {
        case id, at, actor, team, action, purpose, fields, outcome
        case subjectId = "subject_id"
    }
}

/// A filter over the audit log.
public struct AuditQuery: Sendable {
    public var subjectId: String?
    public var team: String?
    public var purpose: String?
    public var action: String?
    public var since: Int64?
    public var until: Int64?

    public init(subjectId: String? = nil, team: String? = nil, purpose: String? = nil, action: String? = nil, since: Int64? = nil, until: Int64? = nil) {
        self.subjectId = subjectId
        self.team = team
        self.purpose = purpose
        self.action = action
        self.since = since
        self.until = until
    }
}

/// The periodic review of data security and sharing (GDPR Art. 32(1)(d)), over `[since, until)`.
public struct AuditReport: Codable, Sendable {
    /// Reads of personal data grouped by team, purpose and action.
    public struct Reads: Codable, Sendable, Hashable {
        public var team: String
        public var purpose: String?
        public var action: String
        public var count: Int64
        public var subjects: Int64
        public var fields: [String]
    }

    /// A key not used for `unusedKeyDays` (or never).
    public struct UnusedKey: Codable, Sendable, Hashable {
        public var keyId: String
        public var name: String
        public var team: String
        public var hint: String
        public var lastUsedAt: String?

        enum CodingKeys: String, CodingKey {
            case name, team, hint
            case keyId = "key_id"
            case lastUsedAt = "last_used_at"
        }
    }

    /// Purposes a team, or a key, may use but did not use in the period: candidates for removal
    /// (data minimisation, least privilege).
    public struct UnusedPurposes: Codable, Sendable, Hashable {
        public var team: String
        public var keyId: String?
        public var purposes: [String]

        enum CodingKeys: String, CodingKey {
            case team, purposes
            case keyId = "key_id"
        }
    }

    /// Failed authentication, per presented key prefix. Repeats are coalesced to one row per prefix per
    /// minute, so `minutes` counts the minutes with failures, not the attempts.
    public struct FailedAuthentication: Codable, Sendable, Hashable {
        public var keyPrefix: String
        public var minutes: Int64
        public var first: String
        public var last: String

        enum CodingKeys: String, CodingKey {
            case minutes, first, last
            case keyPrefix = "key_prefix"
        }
    }

    public var since: String
    public var until: String
    public var reads: [Reads]
    public var unusedKeyDays: Int
    public var unusedKeys: [UnusedKey]
    public var unusedPurposes: [UnusedPurposes]
    public var failedAuthentications: [FailedAuthentication]
    /// Outbound transfers to webhook destinations (`team` names the destination, `action` is `delivery.sent`).
    public var deliveries: [Reads]
    public var generatedAt: String

    enum CodingKeys: String, CodingKey {
        case since, until, reads, deliveries
        case unusedKeyDays = "unused_key_days"
        case unusedKeys = "unused_keys"
        case unusedPurposes = "unused_purposes"
        case failedAuthentications = "failed_authentications"
        case generatedAt = "generated_at"
    }
}

extension CandorStore {
    static let hourMillis: Int64 = 3_600_000
    static let dayMillis: Int64 = 86_400_000

    /// Notes that a key was used. `api_keys.last_used_at` is written at most once an hour per key per
    /// node, in the background, so authentication adds no write to ordinary requests.
    func noteKeyUse(_ keyId: String) {
        let now = self.now
        let due = keyUseBox.withLock { seen -> Bool in
            if let last = seen[keyId], now - last < Self.hourMillis { return false }
            seen[keyId] = now
            return true
        }
        guard due else { return }
        let committer = self.committer
        Task {
            _ = try? await committer.submit { connection in
                try connection.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", .int(now), .text(keyId))
            }
        }
    }

    /// Records a failed authentication as `auth.failed`, naming only the visible prefix of what was
    /// presented (as long as a key's hint), never the rest. At most one row per prefix per minute per
    /// node, so a flood of bad keys cannot turn into a flood of writes.
    public func recordFailedAuthentication(presented: String?) async {
        let prefix = presented.map { String($0.prefix(11)) + "…" } ?? "(none)"
        let minute = now / 60_000
        let due = failedAuthBox.withLock { seen -> Bool in
            if seen[prefix] == minute { return false }
            // Bounded: an attacker cycling prefixes can make rows (one per minute each), not memory.
            if seen.count > 10_000 { seen = seen.filter { $0.value == minute } }
            seen[prefix] = minute
            return true
        }
        guard due else { return }
        _ = try? await committer.submit { connection in
            try connection.execute(
                "INSERT INTO audit_log (at, actor, team, action, purpose, subject_id, fields, outcome) VALUES (?, ?, '', 'auth.failed', NULL, NULL, '[]', 'refused')",
                .int(self.now), .text(prefix))
        }
    }

    /// The audit log, filtered; cursor pagination by entry id. Oldest first unless `newestFirst`, in which
    /// case the cursor continues towards older entries (each page's cursor is its last entry's id either way).
    ///
    /// The log is two tables read as one: `audit_log`, and the decisions, each its own entry
    /// (`Migrations.decisionAuditV1`), numbered in the same sequence. Each side gives its first page in
    /// id order, and the two are merged. Decisions logged before that migration have an `audit_log` row
    /// that names the decision, which names the person (`Migrations.auditDecisionRefV1`).
    public func auditLog(_ query: AuditQuery, cursor: String?, limit: Int, newestFirst: Bool = false) async throws -> Page<AuditEntry> {
        let after = cursor.flatMap { Int64($0) } ?? (newestFirst ? Int64.max : 0)
        let (compare, order) = newestFirst ? ("<", "DESC") : (">", "")
        var person: (sql: String, arguments: [SQLValue])?
        if let subjectId = query.subjectId { person = try await decisionsOf(subjectId, alias: "d") }
        var logSQL = """
            SELECT a.id, a.at, a.actor, a.team, a.action, a.purpose, COALESCE(a.subject_id, NULLIF(d.subject_id, '')) AS subject_id, a.fields, a.outcome
            FROM audit_log a LEFT JOIN decisions d ON a.decision_id IS NOT NULL AND d.id = a.decision_id
            WHERE a.id \(compare) ?
            """
        var logArguments: [SQLValue] = [.int(after)]
        var decisionSQL = """
            SELECT d.audit_id, d.created_at, d.actor, d.team, 'decision.make', d.purpose, NULLIF(d.subject_id, ''), d.fields, d.outcome
            FROM decisions d WHERE d.audit_id IS NOT NULL AND d.audit_id \(compare) ?
            """
        var decisionArguments: [SQLValue] = [.int(after)]
        if let subjectId = query.subjectId, let person {
            // The rows naming the person (by index), and the rows of the person's decisions (see `decisionsOf`).
            logSQL += """
                 AND a.id IN (SELECT id FROM audit_log WHERE subject_id = ?
                 UNION ALL SELECT id FROM audit_log WHERE decision_id IN (SELECT d.id FROM decisions d WHERE \(person.sql)))
                """
            logArguments += [.text(subjectId)] + person.arguments
            decisionSQL += " AND \(person.sql)"
            decisionArguments += person.arguments
        }
        for (column, value) in [("team", query.team), ("purpose", query.purpose)] {
            if let value {
                logSQL += " AND a.\(column) = ?"
                logArguments.append(.text(value))
                decisionSQL += " AND d.\(column) = ?"
                decisionArguments.append(.text(value))
            }
        }
        if let action = query.action {
            logSQL += " AND a.action = ?"
            logArguments.append(.text(action))
            if action != "decision.make" { decisionSQL += " AND 0 = 1" }
        }
        for (bound, value) in [(">=", query.since), ("<", query.until)] {
            if let value {
                logSQL += " AND a.at \(bound) ?"
                logArguments.append(.int(value))
                decisionSQL += " AND d.created_at \(bound) ?"
                decisionArguments.append(.int(value))
            }
        }
        let take = SQLValue.int(Int64(limit + 1))
        let finalSQL = """
            SELECT * FROM (\(logSQL) ORDER BY a.id \(order) LIMIT ?) AS logged
            UNION ALL SELECT * FROM (\(decisionSQL) ORDER BY d.audit_id \(order) LIMIT ?) AS decided
            ORDER BY 1 \(order) LIMIT ?
            """
        let finalArguments = logArguments + [take] + decisionArguments + [take, take]
        return try await database.read { connection in
            let rows = try connection.query(finalSQL, finalArguments)
            let entries = rows.prefix(limit).map { row in
                AuditEntry(id: row.int(0), at: Timestamp.rfc3339(row.int(1)), actor: row.text(2), team: row.text(3), action: row.text(4),
                           purpose: row.optionalText(5), subjectId: row.optionalText(6),
                           fields: (try? CandorJSON.decode([String].self, from: row.text(7))) ?? [], outcome: row.text(8))
            }
            return Page(data: Array(entries), nextCursor: rows.count > limit ? entries.last.map { String($0.id) } : nil)
        }
    }

    /// Ids for audit entries kept outside `audit_log` (decisions, on their rows), from the log's own
    /// sequence: every entry has one id, and entries written later have larger ones.
    func reserveAuditIds(_ connection: SQLConnection, _ count: Int) throws -> [Int64] {
        guard count > 0 else { return [] }
        switch database.dialect {
        case .sqlite:
            // AUTOINCREMENT gives one more than the largest id it ever gave (`sqlite_sequence`): raising that
            // reserves the ids in between. The table's largest id is read too, should the sequence lack a row.
            let largest = "max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0), coalesce((SELECT max(id) FROM audit_log), 0))"
            let top = try connection.queryOne("SELECT \(largest) + ?", .int(Int64(count)))?.int(0) ?? Int64(count)
            if try connection.queryOne("UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit_log' RETURNING seq", .int(top)) == nil {
                try connection.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('audit_log', ?)", .int(top))
            }
            return Array((top - Int64(count) + 1)...top)
        case .postgres:
            return try connection.query("SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, ?)", [.int(Int64(count))]).map { $0.int(0) }
        }
    }

    /// The review report over `[since, until)`.
    /// Every (team, actor, purpose) that appears in the audit log within `since..<until`.
    ///
    /// A loose scan of the partial index `audit_purpose_use (team, actor, purpose, at)`: one seek finds
    /// the next combination ever used, one more asks whether it was used in the period. The cost grows
    /// with the number of combinations (teams × keys and operators × purposes), not with the rows of the
    /// period: `SELECT DISTINCT … WHERE at …` read every row of it (1.1 s for 30 days at 1M people).
    static func purposesUsed(_ connection: SQLConnection, since: Int64, until: Int64) throws -> [(team: String, actor: String, purpose: String)] {
        // The log's rows (`audit_purpose_use`), then the decisions', which are entries of their own (`decisions_by_use`).
        try purposesUsed(connection, in: "audit_log", at: "at", since: since, until: until)
            + purposesUsed(connection, in: "decisions", at: "created_at", since: since, until: until)
    }

    private static func purposesUsed(_ connection: SQLConnection, in table: String, at: String, since: Int64, until: Int64) throws -> [(team: String, actor: String, purpose: String)] {
        var used = [(team: String, actor: String, purpose: String)]()
        var next = try connection.queryOne("SELECT team, actor, purpose FROM \(table) WHERE purpose IS NOT NULL ORDER BY team, actor, purpose LIMIT 1")
        while let row = next {
            let (team, actor, purpose) = (row.text(0), row.text(1), row.text(2))
            if try connection.queryOne(
                "SELECT 1 FROM \(table) WHERE team = ? AND actor = ? AND purpose = ? AND \(at) >= ? AND \(at) < ? LIMIT 1",
                .text(team), .text(actor), .text(purpose), .int(since), .int(until)) != nil
            {
                used.append((team, actor, purpose))
            }
            next = try connection.queryOne(
                """
                SELECT team, actor, purpose FROM \(table) WHERE purpose IS NOT NULL AND (team, actor, purpose) > (?, ?, ?)
                ORDER BY team, actor, purpose LIMIT 1
                """, .text(team), .text(actor), .text(purpose))
        }
        return used
    }

    public func auditReport(since: Int64, until: Int64, unusedKeyDays: Int = 90) async throws -> AuditReport {
        let now = self.now
        let registry = self.registry
        let readActions = Self.disclosureActions
        let marks = readActions.map { _ in "?" }.joined(separator: ", ")
        return try await database.read { connection in
            // Reads grouped in SQL; the field sets (stored as JSON arrays) are merged here.
            var groups = [String: AuditReport.Reads]()
            for row in try connection.query(
                """
                SELECT team, purpose, action, fields, count(*), count(DISTINCT subject_id) FROM audit_log
                WHERE at >= ? AND at < ? AND outcome = 'ok' AND action IN (\(marks)) GROUP BY team, purpose, action, fields
                """, [.int(since), .int(until)] + readActions.map(SQLValue.text))
            {
                let key = "\(row.text(0))\u{1}\(row.optionalText(1) ?? "")\u{1}\(row.text(2))"
                var group = groups[key] ?? AuditReport.Reads(team: row.text(0), purpose: row.optionalText(1), action: row.text(2), count: 0, subjects: 0, fields: [])
                group.count += row.int(4)
                // Subjects may repeat across field sets; the sum is an upper bound, which is what a review needs.
                group.subjects += row.int(5)
                group.fields = Array(Set(group.fields).union((try? CandorJSON.decode([String].self, from: row.text(3))) ?? [])).sorted()
                groups[key] = group
            }
            let reads = groups.values.sorted { ($0.team, $0.purpose ?? "", $0.action) < ($1.team, $1.purpose ?? "", $1.action) }

            var unusedKeys = [AuditReport.UnusedKey]()
            let cutoff = now - Int64(unusedKeyDays) * Self.dayMillis
            for row in try connection.query("SELECT id, last_used_at FROM api_keys WHERE revoked_at IS NULL ORDER BY id", []) {
                guard let key = registry.keysById[row.text(0)], key.revokedAt == nil else { continue }
                let lastUsed = row.optionalInt(1)
                let reference = lastUsed ?? Timestamp.parse(key.createdAt) ?? 0
                if reference < cutoff {
                    unusedKeys.append(.init(keyId: key.id, name: key.name, team: key.team, hint: key.hint, lastUsedAt: lastUsed.map(Timestamp.rfc3339)))
                }
            }

            var usedByTeam = [String: Set<String>]()
            var usedByKey = [String: Set<String>]()
            for (team, actor, purpose) in try Self.purposesUsed(connection, since: since, until: until) {
                usedByTeam[team, default: []].insert(purpose)
                usedByKey[actor, default: []].insert(purpose)
            }
            var unusedPurposes = [AuditReport.UnusedPurposes]()
            for team in registry.teams.values.sorted(by: { $0.key < $1.key }) {
                let teamUnused = Set(team.purposes).subtracting(usedByTeam[team.key] ?? [])
                if !teamUnused.isEmpty { unusedPurposes.append(.init(team: team.key, keyId: nil, purposes: teamUnused.sorted())) }
                for key in registry.keysById.values.filter({ $0.team == team.key && $0.revokedAt == nil && $0.kind == .secret }).sorted(by: { $0.id < $1.id }) {
                    let keyUnused = Set(team.purposes).subtracting(usedByKey[key.id] ?? [])
                    if !keyUnused.isEmpty { unusedPurposes.append(.init(team: team.key, keyId: key.id, purposes: keyUnused.sorted())) }
                }
            }

            let failures = try connection.query(
                "SELECT actor, count(*), min(at), max(at) FROM audit_log WHERE action = 'auth.failed' AND at >= ? AND at < ? GROUP BY actor ORDER BY actor",
                [.int(since), .int(until)]
            ).map { AuditReport.FailedAuthentication(keyPrefix: $0.text(0), minutes: $0.int(1), first: Timestamp.rfc3339($0.int(2)), last: Timestamp.rfc3339($0.int(3))) }

            return AuditReport(since: Timestamp.rfc3339(since), until: Timestamp.rfc3339(until), reads: reads, unusedKeyDays: unusedKeyDays,
                               unusedKeys: unusedKeys, unusedPurposes: unusedPurposes, failedAuthentications: failures, deliveries: try Self.deliveryReads(connection, since: since, until: until),
                               generatedAt: Timestamp.rfc3339(now))
        }
    }
}

extension Migrations {
    /// The audit rows that name a purpose, by team, actor and purpose: the internal audit report asks
    /// which purposes each team and key used in a period (see `CandorStore.purposesUsed`). Partial, so
    /// the rows without a purpose (declarations, the bulk of the log) cost nothing more to write.
    static let auditPurposeUseV1 = Migration(
        name: "audit_purpose_use_v1",
        sqlite: ["CREATE INDEX audit_purpose_use ON audit_log (team, actor, purpose, at) WHERE purpose IS NOT NULL"],
        postgres: ["CREATE INDEX audit_purpose_use ON audit_log (team, actor, purpose, at) WHERE purpose IS NOT NULL"])

    /// `audit_by_subject` holds only the rows that name a person. Every search of it asks for one person
    /// (`subject_id = ?` implies the condition on both backends), while the rows without one (decisions,
    /// which name their decision instead, and the system's own) cost an index entry each for nothing.
    static let auditBySubjectPartialV1 = Migration(
        name: "audit_by_subject_partial_v1",
        sqlite: [
            "DROP INDEX audit_by_subject",
            "CREATE INDEX audit_by_subject ON audit_log (subject_id, at) WHERE subject_id IS NOT NULL",
        ],
        postgres: [
            "DROP INDEX audit_by_subject",
            "CREATE INDEX audit_by_subject ON audit_log (subject_id, at) WHERE subject_id IS NOT NULL",
        ])
}
