import CandorCore
import Foundation

// The aggregate counts behind the console's at-a-glance page (issue 7). None of them names a person:
// they are counts over the whole installation. They are computed off the page's path (the console keeps
// a snapshot and refreshes it in the background), so a page view never scans a table.

extension Migrations {
    /// The console's daily counters: ledger entries per kind and UTC day, and the last ledger entry
    /// counted, so counting never starts over.
    static let consoleCountsV1 = Migration(
        name: "console_counts_v1",
        sqlite: [
            "CREATE TABLE console_day_counts (kind TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (kind, day))",
            "CREATE TABLE console_rollups (name TEXT PRIMARY KEY, last_entry INTEGER NOT NULL)",
            "INSERT INTO console_rollups (name, last_entry) VALUES ('ledger_days', 0)",
        ],
        postgres: [
            "CREATE TABLE console_day_counts (kind TEXT NOT NULL, day BIGINT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (kind, day))",
            "CREATE TABLE console_rollups (name TEXT PRIMARY KEY, last_entry BIGINT NOT NULL)",
            "INSERT INTO console_rollups (name, last_entry) VALUES ('ledger_days', 0)",
        ])
}

/// Declarations and consent changes per UTC day, counted from the ledger, with the last entry counted:
/// the next count starts after it, so only new entries are ever read again.
public struct LedgerDayCounts: Sendable {
    /// kind (`declaration`, `consent`) → day number (days since 1970-01-01, UTC) → entries.
    public var byKind: [String: [Int64: Int64]] = [:]
    /// The highest ledger entry id counted.
    public var lastEntry: Int64 = 0

    public init() {}

    /// Adds counts made after these.
    public mutating func merge(_ newer: LedgerDayCounts) {
        for (kind, days) in newer.byKind {
            for (day, count) in days { byKind[kind, default: [:]][day, default: 0] += count }
        }
        lastEntry = max(lastEntry, newer.lastEntry)
    }
}

/// Current totals for the at-a-glance page.
public struct GlanceTotals: Sendable {
    public struct PurposeConsent: Sendable, Hashable {
        public var purpose: String
        public var granted: Int64
    }
    public struct FieldDepth: Sendable, Hashable {
        public var field: String
        public var people: Int64
    }
    public struct PromptFunnel: Sendable, Hashable {
        public var promptId: String
        public var people: Int64
        public var displays: Int64
        public var answered: Int64
        /// Times the prompt was closed without an answer (counted since prompt_history_counts_v1).
        public var dismissals: Int64
    }
    public struct SurveyFunnel: Sendable, Hashable {
        public var surveyId: String
        public var started: Int64
        public var completed: Int64
    }

    /// People who are not erased (the base of every share).
    public var people: Int64 = 0
    public var consents: [PurposeConsent] = []
    public var depth: [FieldDepth] = []
    public var prompts: [PromptFunnel] = []
    public var surveys: [SurveyFunnel] = []
    public var codesIssued: Int64 = 0
    public var codesLeft: Int64 = 0
    public var requestsOpen: Int64 = 0
    /// Open requests due within `dueSoonMillis` (and not yet overdue).
    public var requestsDueSoon: Int64 = 0
    public var requestsOverdue: Int64 = 0
    /// Webhook deliveries by status (`delivered`, `pending`, `dead`, `withheld`, …).
    public var deliveries: [String: Int64] = [:]
    /// Pending deliveries that have failed at least once and wait for a retry.
    public var retrying: Int64 = 0

    public init() {}
}

extension CandorStore {
    /// How old a ledger entry must be before PostgreSQL's daily counters count it.
    static let settleMillis: Int64 = 10_000

    /// The kinds of ledger entries the console counts per day.
    public static let countedLedgerKinds = ["declaration", "consent"]

    /// Adds the ledger entries after the last one counted (at most `batch` of them) to the daily
    /// counters in `console_day_counts`. Returns whether more remain. Safe on several nodes at once: the
    /// counts are added only if no other node moved the mark meanwhile (then this batch is dropped and
    /// the other node's counts stand), so no entry is counted twice.
    @discardableResult
    public func rollUpLedgerDays(batch: Int64 = 500_000) async throws -> Bool {
        let mark = try await database.read { try $0.queryOne("SELECT last_entry FROM console_rollups WHERE name = 'ledger_days'")?.int(0) ?? 0 }
        // On PostgreSQL ids come from a sequence and may commit out of order: only entries older than a
        // few seconds are counted, so one still committing below the mark is not skipped for ever.
        // SQLite commits one writer at a time, in id order.
        let settled = database.dialect == .postgres ? now - Self.settleMillis : Int64.max
        let last = try await database.read {
            try $0.queryOne("SELECT id FROM ledger_entries WHERE created_at < ? ORDER BY id DESC LIMIT 1", .int(settled))?.int(0) ?? 0
        }
        guard last > mark else { return false }
        let upTo = min(last, mark + batch)
        let counts = try await ledgerDayCounts(afterEntry: mark, upTo: upTo)
        _ = try await committer.submit { connection in
            // Compare and set: on PostgreSQL a second node's update waits for this one and then matches nothing.
            let moved = try connection.query("UPDATE console_rollups SET last_entry = ? WHERE name = 'ledger_days' AND last_entry = ? RETURNING name",
                                             [.int(upTo), .int(mark)])
            guard !moved.isEmpty else { return }
            for (kind, days) in counts.byKind {
                for (day, count) in days {
                    try connection.execute(
                        """
                        INSERT INTO console_day_counts (kind, day, count) VALUES (?, ?, ?)
                        ON CONFLICT (kind, day) DO UPDATE SET count = console_day_counts.count + excluded.count
                        """, .text(kind), .int(day), .int(count))
                }
            }
        }
        return upTo < last
    }

    /// The daily counters from `fromDay` on (days since 1970-01-01, UTC), as rolled up so far.
    public func ledgerDays(fromDay: Int64) async throws -> LedgerDayCounts {
        try await database.read { connection in
            var counts = LedgerDayCounts()
            for row in try connection.query("SELECT kind, day, count FROM console_day_counts WHERE day >= ?", [.int(fromDay)]) {
                counts.byKind[row.text(0), default: [:]][row.int(1)] = row.int(2)
            }
            counts.lastEntry = try connection.queryOne("SELECT last_entry FROM console_rollups WHERE name = 'ledger_days'")?.int(0) ?? 0
            return counts
        }
    }

    /// How close a due date counts as "due soon".
    public static let dueSoonMillis: Int64 = 7 * 86_400_000

    /// Counts ledger entries of the given kinds per UTC day, for entries after `afterEntry`.
    public func ledgerDayCounts(afterEntry: Int64, upTo: Int64? = nil, kinds: [String] = countedLedgerKinds) async throws -> LedgerDayCounts {
        let marks = kinds.map { _ in "?" }.joined(separator: ", ")
        return try await database.read { connection in
            var counts = LedgerDayCounts()
            // The upper bound is fixed first, so entries committed during the count are left for the next one.
            let last = try upTo ?? connection.queryOne("SELECT max(id) FROM ledger_entries")?.optionalInt(0) ?? afterEntry
            guard last > afterEntry else {
                counts.lastEntry = afterEntry
                return counts
            }
            let rows = try connection.query(
                "SELECT kind, created_at / 86400000, count(*) FROM ledger_entries WHERE id > ? AND id <= ? AND kind IN (\(marks)) GROUP BY kind, created_at / 86400000",
                [.int(afterEntry), .int(last)] + kinds.map { .text($0) })
            for row in rows { counts.byKind[row.text(0), default: [:]][row.int(1), default: 0] += row.int(2) }
            counts.lastEntry = last
            return counts
        }
    }

    /// The current totals: consents per purpose, profile depth, prompt and survey funnels, incentive
    /// codes, rights requests by deadline and webhook deliveries by status.
    public func glanceTotals() async throws -> GlanceTotals {
        let now = self.now
        return try await database.read { connection in
            var totals = GlanceTotals()
            totals.people = try connection.queryOne("SELECT count(*) FROM subjects WHERE status <> 'erased'")?.int(0) ?? 0
            totals.consents = try connection.query(
                "SELECT purpose, count(*) FROM consents WHERE status = 'granted' AND (expires_at IS NULL OR expires_at > ?) GROUP BY purpose", [.int(now)])
                .map { GlanceTotals.PurposeConsent(purpose: $0.text(0), granted: $0.int(1)) }
            totals.depth = try connection.query("SELECT field, count(*) FROM profile_values GROUP BY field", [])
                .map { GlanceTotals.FieldDepth(field: $0.text(0), people: $0.int(1)) }
            totals.prompts = try connection.query(
                "SELECT prompt_id, count(*), sum(displays), sum(CASE WHEN answered_at IS NULL THEN 0 ELSE 1 END), sum(dismissals) FROM prompt_history GROUP BY prompt_id", [])
                .map { GlanceTotals.PromptFunnel(promptId: $0.text(0), people: $0.int(1), displays: $0.int(2), answered: $0.int(3), dismissals: $0.int(4)) }
            totals.surveys = try connection.query(
                "SELECT survey_id, count(*), sum(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) FROM survey_progress GROUP BY survey_id", [])
                .map { GlanceTotals.SurveyFunnel(surveyId: $0.text(0), started: $0.int(1), completed: $0.int(2)) }
            if let row = try connection.queryOne("SELECT sum(CASE WHEN issued_at IS NULL THEN 0 ELSE 1 END), sum(CASE WHEN issued_at IS NULL THEN 1 ELSE 0 END) FROM incentive_codes") {
                totals.codesIssued = row.int(0)
                totals.codesLeft = row.int(1)
            }
            let open = "status <> 'completed'"
            if let row = try connection.queryOne(
                """
                SELECT count(*), sum(CASE WHEN due_at >= ? AND due_at < ? THEN 1 ELSE 0 END), sum(CASE WHEN due_at < ? THEN 1 ELSE 0 END)
                FROM rights_requests WHERE \(open)
                """, .int(now), .int(now + Self.dueSoonMillis), .int(now))
            {
                totals.requestsOpen = row.int(0)
                totals.requestsDueSoon = row.int(1)
                totals.requestsOverdue = row.int(2)
            }
            for row in try connection.query("SELECT status, count(*), sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) FROM delivery_jobs GROUP BY status", []) {
                totals.deliveries[row.text(0)] = row.int(1)
                if row.text(0) == "pending" { totals.retrying = row.int(2) }
            }
            return totals
        }
    }
}
