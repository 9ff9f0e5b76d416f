import CandorCore
import Foundation

extension Migrations {
    /// Collection points (issue 3): anonymous community polls.
    ///
    /// A poll's answers are kept only as tallies per option, never as one row per response, so there
    /// is no response row to join, order or time against a voter. `poll_voters` holds a keyed hash of a
    /// browser's random cookie per poll — no time, no reference to an option — and exists only to refuse
    /// a second answer. SQLite keeps it `WITHOUT ROWID`, ordered by hash rather than by arrival. See
    /// docs/polls.md for the mechanism and its limits.
    static let collection = Migration(
        name: "collection_v1",
        sqlite: [
            "CREATE TABLE polls (id TEXT PRIMARY KEY, body TEXT NOT NULL, k INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL)",
            "CREATE TABLE poll_tallies (poll_id TEXT NOT NULL, option_key TEXT NOT NULL, responses INTEGER NOT NULL, PRIMARY KEY (poll_id, option_key)) WITHOUT ROWID",
            "CREATE TABLE poll_voters (poll_id TEXT NOT NULL, voter_hash TEXT NOT NULL, PRIMARY KEY (poll_id, voter_hash)) WITHOUT ROWID",
        ],
        postgres: [
            "CREATE TABLE polls (id TEXT PRIMARY KEY, body TEXT NOT NULL, k INTEGER NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE TABLE poll_tallies (poll_id TEXT NOT NULL, option_key TEXT NOT NULL, responses BIGINT NOT NULL, PRIMARY KEY (poll_id, option_key))",
            "CREATE TABLE poll_voters (poll_id TEXT NOT NULL, voter_hash TEXT NOT NULL, PRIMARY KEY (poll_id, voter_hash))",
        ])
}

/// What the preference center shows about a person: current values, consents and standing flags.
public struct PreferenceState: Sendable {
    public var values: [String: JSONValue]
    public var consents: [String: ConsentRecord]
    public var hasObjected: Bool
    public var hasOptedOutOfSale: Bool
}

/// Why a poll answer was refused.
public enum PollVoteOutcome: Sendable, Equatable {
    case recorded
    case alreadyAnswered
    case closed
}

extension CandorStore {
    // MARK: - Preference center

    /// The person's current values and consents for their own preference center (nil when unknown or
    /// erased). When `audited`, recorded as the person's own view, by subject id only; a refused form
    /// post reads without auditing, so bad input writes nothing at all.
    public func preferenceState(subjectId: String, audited: Bool = true) async throws -> PreferenceState? {
        let state = try await database.read { connection -> PreferenceState? in
            guard let row = try connection.queryOne("SELECT status, has_objected, has_opted_out_of_sale FROM subjects WHERE id = ?", .text(subjectId)),
                  row.text(0) != SubjectStatus.erased.rawValue
            else { return nil }
            let values = try self.profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:]
            let consents = try Self.consentRecords(connection, subjectId: subjectId, purpose: nil)
            return PreferenceState(values: values.mapValues(\.value), consents: Dictionary(uniqueKeysWithValues: consents.map { ($0.purpose, $0) }),
                                   hasObjected: row.int(1) != 0, hasOptedOutOfSale: row.int(2) != 0)
        }
        guard let state else { return nil }
        if audited { try await auditSelfService(subjectId: subjectId, action: "preferences.view") }
        return state
    }

    /// Saves what a person changed in their preference center: the changed values as one declaration
    /// and the changed consents, both by the person themselves. Both are validated before either is
    /// written, so a refused change (a superseded notice, an answer outside the options) writes nothing.
    public func savePreferences(subjectId: String, declaration: DeclarationInput?, consents: [ConsentInput]) async throws {
        let registry = self.registry
        if let declaration { _ = try DeclarationRules.validate(declaration, fields: registry.fields, purposes: registry.purposes).get() }
        if !consents.isEmpty { _ = try ConsentRules.validate(consents, purposes: registry.purposes, now: now).get() }
        if let declaration { _ = try await declare(subjectId: subjectId, declaration, by: nil, selfService: true, idempotency: nil) }
        if !consents.isEmpty { _ = try await setConsents(subjectId: subjectId, consents, by: nil, selfService: true) }
    }

    /// Records that a link was issued for a subject by an administrator (the link itself is never stored).
    public func auditLinkIssued(subjectId: String, action: String, by principal: Principal) async throws {
        _ = try await subject(subjectId)
        try await auditOnly(principal, action: action, subjectId: subjectId)
    }

    // MARK: - Polls

    /// Creates an open poll.
    public func createPoll(_ input: PollInput, by principal: Principal) async throws -> Poll {
        let input = try PollRules.validate(input).get()
        let id = Identifier.make("pol")
        let at = now
        let poll = Poll(id: id, question: input.question, options: input.options, k: input.k ?? PollRules.defaultK, status: "open", createdAt: Timestamp.rfc3339(at))
        let body = try String(decoding: CandorJSON.encode(PollBody(question: poll.question, options: poll.options)), as: UTF8.self)
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("INSERT INTO polls (id, body, k, status, created_at) VALUES (?, ?, ?, 'open', ?)", .text(id), .text(body), .int(Int64(poll.k)), .int(at))
            for option in poll.options {
                try connection.execute("INSERT INTO poll_tallies (poll_id, option_key, responses) VALUES (?, ?, 0)", .text(id), .text(option.key))
            }
            try self.audit(connection, principal, action: "poll.create")
        }
        return poll
    }

    /// A poll by id, or nil.
    public func poll(_ id: String) async throws -> Poll? {
        try await database.read { connection in
            try connection.queryOne("SELECT id, body, k, status, created_at FROM polls WHERE id = ?", .text(id)).map(Self.poll)
        }
    }

    /// Every poll, newest first.
    public func polls() async throws -> [Poll] {
        try await database.read { connection in
            try connection.query("SELECT id, body, k, status, created_at FROM polls ORDER BY created_at DESC, id").map(Self.poll)
        }
    }

    /// Opens or closes a poll; nil for an unknown poll.
    public func setPollOpen(_ id: String, open: Bool, by principal: Principal) async throws -> Poll? {
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("UPDATE polls SET status = ? WHERE id = ?", .text(open ? "open" : "closed"), .text(id))
            try self.audit(connection, principal, action: open ? "poll.open" : "poll.close")
        }
        return try await poll(id)
    }

    /// Results as they may be shown: counts only at or above the poll's k.
    public func pollResults(_ poll: Poll) async throws -> PollResults {
        let counts = try await database.read { connection in
            try connection.query("SELECT option_key, responses FROM poll_tallies WHERE poll_id = ?", .text(poll.id)).reduce(into: [String: Int]()) {
                $0[$1.text(0)] = Int($1.int(1))
            }
        }
        return PollRules.results(counts: counts, options: poll.options, k: poll.k)
    }

    /// Whether this voter hash already answered the poll.
    public func hasVoted(pollId: String, voterHash: String) async throws -> Bool {
        try await database.read { connection in
            try connection.queryOne("SELECT 1 FROM poll_voters WHERE poll_id = ? AND voter_hash = ?", .text(pollId), .text(voterHash)) != nil
        }
    }

    /// Counts one answer and remembers the voter hash, in one transaction, with nothing that links the
    /// two: the tally is a number, the voter row has no time and no option.
    public func vote(pollId: String, option: String, voterHash: String) async throws -> PollVoteOutcome {
        try await committer(for: nil).submit { connection -> PollVoteOutcome in
            guard let row = try connection.queryOne("SELECT status FROM polls WHERE id = ?", .text(pollId)), row.text(0) == "open" else { return .closed }
            if try connection.queryOne("SELECT 1 FROM poll_voters WHERE poll_id = ? AND voter_hash = ?", .text(pollId), .text(voterHash)) != nil {
                return .alreadyAnswered
            }
            try connection.execute("INSERT INTO poll_voters (poll_id, voter_hash) VALUES (?, ?)", .text(pollId), .text(voterHash))
            try connection.execute("UPDATE poll_tallies SET responses = responses + 1 WHERE poll_id = ? AND option_key = ?", .text(pollId), .text(option))
            return .recorded
        }
    }

    struct PollBody: Codable {
        var question: [String: String]
        var options: [PollOption]
    }

    static func poll(_ row: SQLRow) -> Poll {
        let body = (try? JSONDecoder().decode(PollBody.self, from: Data(row.text(1).utf8))) ?? PollBody(question: [:], options: [])
        return Poll(id: row.text(0), question: body.question, options: body.options, k: Int(row.int(2)), status: row.text(3), createdAt: Timestamp.rfc3339(row.int(4)))
    }
}
