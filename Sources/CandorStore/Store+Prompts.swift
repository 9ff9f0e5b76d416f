import CandorCore
import Crypto
import Foundation

extension Migrations {
    /// In-funnel prompts (issue 3 item 4): the prompt catalog, browser visitors and the identity link
    /// from a visitor to a subject, each person's display history, and "don't ask me again".
    ///
    /// - `prompt_visitors`: one row per browser visitor id the server issued, for one publishable key.
    ///   `subject_id` is the identified person; `anon_subject_id` the pseudonymous subject that holds
    ///   what an anonymous visitor answered (carried over and erased on identify). An anonymous
    ///   visitor's cooldown clock and "don't ask me again" live on this row.
    /// - `prompt_people`: an identified person's own prompt settings, keyed by subject.
    /// - `prompt_history`: per person (subject id once identified, visitor id before) and prompt:
    ///   displays (dismissals included), when answered, when last shown. One indexed read per page view.
    static let promptsV1 = Migration(
        name: "prompts_v1",
        sqlite: [
            "CREATE TABLE prompts (id TEXT PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
            """
            CREATE TABLE prompt_visitors (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, subject_id TEXT, anon_subject_id TEXT,
              dont_ask INTEGER NOT NULL DEFAULT 0, last_display_at INTEGER, created_at INTEGER NOT NULL)
            """,
            "CREATE INDEX prompt_visitors_by_subject ON prompt_visitors (subject_id)",
            "CREATE INDEX prompt_visitors_by_anon ON prompt_visitors (anon_subject_id)",
            "CREATE TABLE prompt_people (subject_id TEXT PRIMARY KEY, dont_ask INTEGER NOT NULL DEFAULT 0, last_display_at INTEGER)",
            """
            CREATE TABLE prompt_history (person TEXT NOT NULL, prompt_id TEXT NOT NULL, displays INTEGER NOT NULL, answered_at INTEGER,
              last_display_at INTEGER, PRIMARY KEY (person, prompt_id)) WITHOUT ROWID
            """,
        ],
        postgres: [
            "CREATE TABLE prompts (id TEXT PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            """
            CREATE TABLE prompt_visitors (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, subject_id TEXT, anon_subject_id TEXT,
              dont_ask BIGINT NOT NULL DEFAULT 0, last_display_at BIGINT, created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX prompt_visitors_by_subject ON prompt_visitors (subject_id)",
            "CREATE INDEX prompt_visitors_by_anon ON prompt_visitors (anon_subject_id)",
            "CREATE TABLE prompt_people (subject_id TEXT PRIMARY KEY, dont_ask BIGINT NOT NULL DEFAULT 0, last_display_at BIGINT)",
            """
            CREATE TABLE prompt_history (person TEXT NOT NULL, prompt_id TEXT NOT NULL, displays BIGINT NOT NULL, answered_at BIGINT,
              last_display_at BIGINT, PRIMARY KEY (person, prompt_id))
            """,
        ])
}

extension Migrations {
    /// Dismissals and answers counted per person and prompt, for the admin's view of one person's
    /// prompt history and the person's own export (issue 3). Rows written before count as none.
    static let promptHistoryCountsV1 = Migration(
        name: "prompt_history_counts_v1",
        sqlite: [
            "ALTER TABLE prompt_history ADD COLUMN dismissals INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE prompt_history ADD COLUMN answers INTEGER NOT NULL DEFAULT 0",
        ],
        postgres: [
            "ALTER TABLE prompt_history ADD COLUMN dismissals BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE prompt_history ADD COLUMN answers BIGINT NOT NULL DEFAULT 0",
        ])
}

/// The prompts of this node, compiled, kept in memory between changes: the page-view decision reads
/// them on every request. Changes made here take effect at once; changes made on another node within
/// `maxAge` (the same idea as the registry refresh).
public final class PromptCatalog: Sendable {
    private let state = Locked<(prompts: [CompiledPrompt], loadedAt: Int64)?>(nil)
    let maxAgeMillis: Int64

    public init(maxAgeSeconds: Int = 5) { maxAgeMillis = Int64(max(0, maxAgeSeconds)) * 1000 }

    /// Forgets what was loaded, so the next read loads afresh (after a write on this node).
    public func invalidate() { state.withLock { $0 = nil } }

    /// The compiled prompts, loading them when stale. A prompt whose audience no longer compiles (a
    /// field was renamed away) is left out rather than shown to everyone.
    public func prompts(_ store: CandorStore) async throws -> [CompiledPrompt] {
        let now = store.currentMillis
        if let cached = state.withLock({ $0 }), now - cached.loadedAt < maxAgeMillis { return cached.prompts }
        let registry = store.registry
        let compiled = try await store.prompts().compactMap { prompt -> CompiledPrompt? in
            guard let rule = prompt.audience, !rule.isEmpty else { return CompiledPrompt(prompt: prompt, audience: nil) }
            guard case .success(let expr) = SegmentRule.compile(rule, fields: registry.fields, purposes: registry.purposes) else { return nil }
            return CompiledPrompt(prompt: prompt, audience: expr)
        }
        // Kept in targeting order, so that each decision walks them without sorting.
        let ordered = PromptTargeting.ordered(compiled)
        state.withLock { $0 = (ordered, now) }
        return ordered
    }
}

/// What targeting knows about one visitor: the person's prompt settings and history, and the profile
/// the audience rules read.
public struct PromptVisitorState: Sendable {
    public var person: PromptPersonState
    public var profile: SegmentProfile
}

/// A node's short-lived memory of visitors' prompt state, so that the page views of a visit (the page,
/// then scroll, dwell and event signals) cost no database read. This node's own writes for a visitor
/// forget it at once (`forget`); anything else — another node's writes, a declaration through `/v1`,
/// the person's other browsers — is seen within `maxAgeSeconds`. Prompts are a courtesy, not a use of
/// data: a few seconds of staleness can at worst show one prompt early, never use data it should not.
public final class PromptStateCache: Sendable {
    private let entries = Locked([String: (state: PromptVisitorState, at: Int64)]())
    let maxAgeMillis: Int64
    /// Beyond this many visitors the memory starts over (a cache, not a store).
    let capacity: Int

    public init(maxAgeSeconds: Int = 5, capacity: Int = 200_000) {
        maxAgeMillis = Int64(max(0, maxAgeSeconds)) * 1000
        self.capacity = capacity
    }

    func state(keyId: String, visitorId: String, now: Int64) -> PromptVisitorState? {
        guard maxAgeMillis > 0 else { return nil }
        return entries.withLock { entries in
            guard let entry = entries[keyId + "|" + visitorId], now - entry.at < maxAgeMillis else { return nil }
            return entry.state
        }
    }

    func keep(_ state: PromptVisitorState, keyId: String, visitorId: String, now: Int64) {
        guard maxAgeMillis > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[keyId + "|" + visitorId] = (state, now)
        }
    }

    /// Forgets a visitor after a write about them on this node.
    public func forget(keyId: String, visitorId: String) {
        _ = entries.withLock { $0.removeValue(forKey: keyId + "|" + visitorId) }
    }
}

/// A prompt chosen for a visitor, with everything the browser needs to ask it honestly.
public struct PromptOffer: Sendable {
    public var prompt: Prompt
    public var field: Field
    /// purpose key → the notice version shown with the question (cited back with the answer).
    public var notices: [String: NoticeVersion]
}

/// What the page-view decision answers.
public struct PromptDecision: Sendable {
    public var offer: PromptOffer?
    public var watch: PromptWatch
    public var silence: PromptSilence?
}

/// One person's history with one prompt, as an administrator and the person's own export see it.
public struct PromptHistoryItem: Codable, Sendable, Hashable {
    public var promptId: String
    /// The prompt's name, as the admin API knows it.
    public var name: String
    /// The field the prompt asks for.
    public var field: String
    /// Times shown, dismissals included.
    public var displays: Int
    /// Times closed without an answer.
    public var dismissals: Int
    /// Times answered.
    public var answers: Int
    public var lastShownAt: String?
    public var lastAnsweredAt: String?

    enum CodingKeys: String, CodingKey {
        case name, field, displays, dismissals, answers
        case promptId = "prompt_id"
        case lastShownAt = "last_shown_at"
        case lastAnsweredAt = "last_answered_at"
    }
}

/// Everything prompts know about one person: their history per prompt and "don't ask me again".
public struct PersonPromptHistory: Codable, Sendable, Hashable {
    public var subjectId: String
    /// "Don't ask me again": the person's own preference, honoured for every prompt.
    public var dontAsk: Bool
    /// Most recently shown first.
    public var prompts: [PromptHistoryItem]

    enum CodingKeys: String, CodingKey {
        case prompts
        case subjectId = "subject_id"
        case dontAsk = "dont_ask"
    }
}

/// A browser visitor and the person behind it, if known.
public struct PromptVisitor: Sendable, Hashable {
    public var id: String
    public var subjectId: String?
    public var anonymousSubjectId: String?
    /// The key whose history and settings apply: the subject once identified, the visitor before.
    public var person: String { subjectId ?? id }
}

extension CandorStore {
    // MARK: - The catalog (admin API)

    /// Creates a prompt (a draft unless `status` says otherwise).
    public func createPrompt(_ input: Prompt, by principal: Principal?) async throws -> Prompt {
        var prompt = try validatedPrompt(input).prompt
        let at = now
        prompt.id = Identifier.make("prm")
        prompt.status = input.status ?? .draft
        prompt.createdAt = Timestamp.rfc3339(at)
        prompt.updatedAt = prompt.createdAt
        let body = try CandorJSON.string(prompt)
        _ = try await committer.submit { connection in
            try connection.execute("INSERT INTO prompts (id, body, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                                   .text(prompt.id), .text(body), .text(prompt.status?.rawValue), .int(at), .int(at))
            try self.audit(connection, principal, action: "prompt.create")
        }
        return prompt
    }

    /// Replaces a prompt's definition (its id, status and creation time stay); nil when unknown.
    public func updatePrompt(_ id: String, _ input: Prompt, by principal: Principal?) async throws -> Prompt? {
        guard let existing = try await prompt(id) else { return nil }
        var prompt = try validatedPrompt(input).prompt
        prompt.id = id
        prompt.status = input.status ?? existing.status
        prompt.createdAt = existing.createdAt
        prompt.updatedAt = Timestamp.rfc3339(now)
        try await savePrompt(prompt, action: "prompt.update", by: principal)
        return prompt
    }

    /// Activates or pauses a prompt; nil when unknown.
    public func setPromptStatus(_ id: String, _ status: PromptStatus, by principal: Principal?) async throws -> Prompt? {
        guard var prompt = try await prompt(id) else { return nil }
        prompt.status = status
        prompt.updatedAt = Timestamp.rfc3339(now)
        try await savePrompt(prompt, action: "prompt.\(status == .active ? "activate" : status.rawValue)", by: principal)
        return prompt
    }

    func savePrompt(_ prompt: Prompt, action: String, by principal: Principal?) async throws {
        let body = try CandorJSON.string(prompt)
        let at = now
        _ = try await committer.submit { connection in
            try connection.execute("UPDATE prompts SET body = ?, status = ?, updated_at = ? WHERE id = ?",
                                   .text(body), .text(prompt.status?.rawValue), .int(at), .text(prompt.id))
            try self.audit(connection, principal, action: action)
        }
    }

    func validatedPrompt(_ input: Prompt) throws -> CompiledPrompt {
        let registry = self.registry
        return try PromptRules.validate(input, fields: registry.fields, purposes: registry.purposes).get()
    }

    /// Every prompt, oldest first.
    public func prompts() async throws -> [Prompt] {
        try await database.read { connection in
            try connection.query("SELECT body FROM prompts ORDER BY created_at, id", []).map { try CandorJSON.decode(Prompt.self, from: $0.text(0)) }
        }
    }

    /// A prompt by id, or nil.
    public func prompt(_ id: String) async throws -> Prompt? {
        try await database.read { connection in
            try connection.queryOne("SELECT body FROM prompts WHERE id = ?", .text(id)).map { try CandorJSON.decode(Prompt.self, from: $0.text(0)) }
        }
    }

    // MARK: - Identity

    /// The secret a business signs its users' external ids with for one publishable key:
    /// HMAC-SHA256(master key, "candor identity v1" + key id). Derived, so nothing new is stored, and
    /// it is different for every key; revoking the key retires it.
    public func identitySecret(keyId: String) -> [UInt8] {
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: secrets.masterKey, info: Data("candor identity v1:\(keyId)".utf8), outputByteCount: 32)
        return derived.withUnsafeBytes { Array($0) }
    }

    /// Whether `signature` (hex) is HMAC-SHA256 of `externalId` under the key's identity secret,
    /// compared in constant time.
    public func verifyIdentity(keyId: String, externalId: String, signature: String) -> Bool {
        let expected = HMAC<SHA256>.authenticationCode(for: Data(externalId.utf8), using: SymmetricKey(data: identitySecret(keyId: keyId)))
        return constantTimeEquals(Array(Digest.hex(expected).utf8), Array(signature.lowercased().utf8))
    }

    /// The hex signature of an external id under a key's identity secret (what the business computes).
    public func identitySignature(keyId: String, externalId: String) -> String {
        Digest.hex(HMAC<SHA256>.authenticationCode(for: Data(externalId.utf8), using: SymmetricKey(data: identitySecret(keyId: keyId))))
    }

    // MARK: - Visitors

    /// A fresh visitor id for a browser: 128 random bits, since holding it is what lets a browser act as
    /// that visitor.
    public func createVisitor(keyId: String) async throws -> String {
        var generator = SystemRandomNumberGenerator()
        let id = "vis_" + Digest.hex((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let at = now
        _ = try await committer(for: id).submit { connection in
            try connection.execute("INSERT INTO prompt_visitors (id, key_id, dont_ask, created_at) VALUES (?, ?, 0, ?)", .text(id), .text(keyId), .int(at))
        }
        return id
    }

    /// Whether text has the shape of a visitor id this server issues (guards lookups against junk).
    public static func isVisitorId(_ text: String) -> Bool {
        // On the UTF-8 bytes: this runs on every embed request, and Character properties are slow.
        let bytes = text.utf8
        return bytes.count == 36 && text.hasPrefix("vis_")
            && bytes.dropFirst(4).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// A visitor issued for this key; not found for an unknown one (or one of another key).
    public func visitor(_ id: String, keyId: String) async throws -> PromptVisitor {
        let row = try await database.read { connection in
            try connection.queryOne("SELECT subject_id, anon_subject_id FROM prompt_visitors WHERE id = ? AND key_id = ?", .text(id), .text(keyId))
        }
        guard let row else { throw CandorError(.notFound, "visitor: unknown visitor", errors: [FieldError("visitor", "is not a visitor of this key")]) }
        return PromptVisitor(id: id, subjectId: row.optionalText(0), anonymousSubjectId: row.optionalText(1))
    }

    // MARK: - The page-view decision

    /// Which prompt, if any, to show this visitor now. One read transaction — the visitor with the
    /// person's settings, their history, and their profile (skipped when "don't ask me again" or the
    /// cooldown already say no) — or none at all when `cache` holds the visitor's state.
    public func decidePrompt(visitorId: String, keyId: String, signal: PromptSignal, prompts: [CompiledPrompt], cooldownMillis: Int64,
                             cache: PromptStateCache? = nil) async throws -> PromptDecision {
        let registry = self.registry
        let now = self.now
        let state: PromptVisitorState
        if let cached = cache?.state(keyId: keyId, visitorId: visitorId, now: now) {
            state = cached
        } else {
            guard let loaded = try await promptState(visitorId: visitorId, keyId: keyId, cooldownMillis: cooldownMillis, now: now) else {
                throw CandorError(.notFound, "visitor: unknown visitor", errors: [FieldError("visitor", "is not a visitor of this key")])
            }
            cache?.keep(loaded, keyId: keyId, visitorId: visitorId, now: now)
            state = loaded
        }
        let choice = PromptTargeting.choose(prompts, signal: signal, visitorId: visitorId, person: state.person, profile: { state.profile },
                                            fields: registry.fields, purposes: registry.purposes, cooldownMillis: cooldownMillis, now: now)
        guard let chosen = choice.prompt, let field = registry.fields[chosen.prompt.field] else {
            return PromptDecision(offer: nil, watch: choice.watch, silence: choice.silence)
        }
        var notices = [String: NoticeVersion]()
        for purpose in field.purposes { notices[purpose] = registry.currentNotice(of: purpose) }
        return PromptDecision(offer: PromptOffer(prompt: chosen.prompt, field: field, notices: notices), watch: .nothing, silence: nil)
    }

    /// Everything targeting needs about a visitor, in one read transaction; nil for an unknown visitor.
    func promptState(visitorId: String, keyId: String, cooldownMillis: Int64, now: Int64) async throws -> PromptVisitorState? {
        try await database.read { connection -> PromptVisitorState? in
            guard let row = try connection.queryOne(
                """
                SELECT v.subject_id, v.anon_subject_id, v.dont_ask, v.last_display_at, p.dont_ask, p.last_display_at
                FROM prompt_visitors v LEFT JOIN prompt_people p ON p.subject_id = v.subject_id WHERE v.id = ? AND v.key_id = ?
                """, .text(visitorId), .text(keyId))
            else { return nil }
            let subjectId = row.optionalText(0)
            var person = subjectId == nil
                ? PromptPersonState(dontAsk: row.int(2) != 0, lastDisplayAt: row.optionalInt(3))
                : PromptPersonState(dontAsk: row.int(4) != 0, lastDisplayAt: row.optionalInt(5))
            // Nothing can be shown: the rest would not be looked at.
            if person.dontAsk || person.lastDisplayAt.map({ now - $0 < cooldownMillis }) == true {
                return PromptVisitorState(person: person, profile: Self.emptyProfile)
            }
            for history in try connection.query("SELECT prompt_id, displays, answered_at, last_display_at FROM prompt_history WHERE person = ?", .text(subjectId ?? visitorId)) {
                person.history[history.text(0)] = PromptHistory(displays: Int(history.int(1)), answeredAt: history.optionalInt(2), lastDisplayAt: history.optionalInt(3))
            }
            guard let profileSubject = subjectId ?? row.optionalText(1) else { return PromptVisitorState(person: person, profile: Self.emptyProfile) }
            let profile = try self.readProfiles(connection, where: "= ?", [.text(profileSubject)])[profileSubject] ?? Self.emptyProfile
            return PromptVisitorState(person: person, profile: profile)
        }
    }

    /// A person the store knows nothing about: an anonymous visitor who has not answered anything yet.
    static let emptyProfile = SegmentProfile(subjectId: "", status: .active, hasObjected: false, values: [:], consents: [:])

    // MARK: - Displays, dismissals, "don't ask me again"

    /// Records that a prompt was shown (or, with `dismissal`, closed). A dismissal counts as a display:
    /// when the browser's report of the display did not arrive (in the last ten minutes), the dismissal
    /// is counted as one. Either restarts the person's global cooldown.
    public func recordPromptDisplay(visitorId: String, keyId: String, promptId: String, dismissal: Bool) async throws {
        let visitor = try await visitor(visitorId, keyId: keyId)
        guard try await prompt(promptId) != nil else { throw CandorError(.notFound, "no prompt '\(promptId)'") }
        let at = now
        _ = try await committer(for: visitor.subjectId).submit { connection in
            let recent = try connection.queryOne("SELECT last_display_at FROM prompt_history WHERE person = ? AND prompt_id = ?", .text(visitor.person), .text(promptId))?
                .optionalInt(0).map { at - $0 < 10 * 60 * 1000 } ?? false
            let shown = dismissal && recent ? 0 : 1
            try Self.addHistory(connection, person: visitor.person, promptId: promptId,
                                PromptHistory(displays: shown, lastDisplayAt: shown == 1 ? at : nil, dismissals: dismissal ? 1 : 0))
            try Self.touchPerson(connection, visitor, lastDisplayAt: at, dontAsk: nil)
        }
    }

    /// "Don't ask me again": the person's own preference, on the subject once identified and on the
    /// visitor before (merged on identify). Audited as the person's own act.
    public func setDontAsk(visitorId: String, keyId: String) async throws {
        let visitor = try await visitor(visitorId, keyId: keyId)
        _ = try await committer(for: visitor.subjectId).submit { connection in
            try Self.touchPerson(connection, visitor, lastDisplayAt: nil, dontAsk: true)
            try self.audit(connection, nil, action: "prompts.dont_ask", subjectId: visitor.subjectId, selfService: true)
        }
    }

    /// Whether the person behind a visitor chose "don't ask me again".
    public func dontAsk(visitorId: String, keyId: String) async throws -> Bool {
        let visitor = try await visitor(visitorId, keyId: keyId)
        return try await database.read { connection in
            if let subjectId = visitor.subjectId {
                return try connection.queryOne("SELECT dont_ask FROM prompt_people WHERE subject_id = ?", .text(subjectId))?.int(0) ?? 0 != 0
            }
            return try connection.queryOne("SELECT dont_ask FROM prompt_visitors WHERE id = ?", .text(visitor.id))?.int(0) ?? 0 != 0
        }
    }

    /// A person's history with every prompt (tests and the admin's view of one person).
    public func promptHistory(person: String) async throws -> [String: PromptHistory] {
        try await database.read { try Self.histories($0, persons: [person]) }
    }

    /// One person's prompt history for a team using `purpose`: only prompts that ask for a field
    /// serving that purpose (the same rule as every read of personal data). Not found for an unknown
    /// subject, gone for an erased one; audited as `prompt_history.read`.
    public func personPromptHistory(subjectId: String, purpose: String, by principal: Principal) async throws -> PersonPromptHistory {
        let registry = self.registry
        guard registry.purposes[purpose] != nil else { throw CandorError.invalid("Candor-Purpose", "unknown purpose '\(purpose)'") }
        var history = try await database.read { connection -> PersonPromptHistory in
            guard let status = try connection.queryOne("SELECT status FROM subjects WHERE id = ?", .text(subjectId))?.text(0) else {
                throw CandorError(.notFound, "no subject '\(subjectId)'")
            }
            if status == SubjectStatus.erased.rawValue { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            return try self.personPromptHistory(connection, subjectId: subjectId)
        }
        history.prompts = history.prompts.filter { registry.fields[$0.field]?.purposes.contains(purpose) == true }
        try await auditOnly(principal, action: "prompt_history.read", purpose: purpose, subjectId: subjectId,
                            fields: Array(Set(history.prompts.map(\.field))).sorted())
        return history
    }

    /// Inside a read: a person's prompt history, including what they did as an anonymous visitor whose
    /// answers this (pseudonymous) subject holds.
    func personPromptHistory(_ connection: SQLConnection, subjectId: String) throws -> PersonPromptHistory {
        let visitors = try connection.query("SELECT id, dont_ask FROM prompt_visitors WHERE anon_subject_id = ?", [.text(subjectId)])
        let ownDontAsk = try connection.queryOne("SELECT dont_ask FROM prompt_people WHERE subject_id = ?", .text(subjectId))?.int(0) ?? 0
        let histories = try Self.histories(connection, persons: [subjectId] + visitors.map { $0.text(0) })
        var prompts = [String: Prompt]()
        for row in try connection.query("SELECT id, body FROM prompts", []) {
            prompts[row.text(0)] = try CandorJSON.decode(Prompt.self, from: row.text(1))
        }
        let items = histories.map { id, history in
            PromptHistoryItem(promptId: id, name: prompts[id]?.name ?? id, field: prompts[id]?.field ?? "", displays: history.displays,
                              dismissals: history.dismissals, answers: history.answers, lastShownAt: history.lastDisplayAt.map(Timestamp.rfc3339),
                              lastAnsweredAt: history.answeredAt.map(Timestamp.rfc3339))
        }
        return PersonPromptHistory(
            subjectId: subjectId, dontAsk: ownDontAsk != 0 || visitors.contains { $0.int(1) != 0 },
            prompts: items.sorted { ($0.lastShownAt ?? "", $1.promptId) > ($1.lastShownAt ?? "", $0.promptId) })
    }

    /// The columns `history(_:)` reads, in its order.
    static let historyColumns = "prompt_id, displays, answered_at, last_display_at, dismissals, answers"

    static func history(_ row: SQLRow) -> PromptHistory {
        PromptHistory(displays: Int(row.int(1)), answeredAt: row.optionalInt(2), lastDisplayAt: row.optionalInt(3),
                      dismissals: Int(row.int(4)), answers: Int(row.int(5)))
    }

    /// The histories kept under any of `persons` (subject or visitor ids), merged per prompt.
    static func histories(_ connection: SQLConnection, persons: [String]) throws -> [String: PromptHistory] {
        guard !persons.isEmpty else { return [:] }
        let marks = persons.map { _ in "?" }.joined(separator: ", ")
        var merged = [String: PromptHistory]()
        for row in try connection.query("SELECT \(historyColumns) FROM prompt_history WHERE person IN (\(marks))", persons.map(SQLValue.text)) {
            merged[row.text(0)] = (merged[row.text(0)] ?? PromptHistory()).merged(with: history(row))
        }
        return merged
    }

    static func addHistory(_ connection: SQLConnection, person: String, promptId: String, _ add: PromptHistory) throws {
        try connection.execute(
            """
            INSERT INTO prompt_history (person, prompt_id, displays, answered_at, last_display_at, dismissals, answers) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (person, prompt_id) DO UPDATE SET displays = prompt_history.displays + excluded.displays,
              answered_at = COALESCE(excluded.answered_at, prompt_history.answered_at),
              last_display_at = COALESCE(excluded.last_display_at, prompt_history.last_display_at),
              dismissals = prompt_history.dismissals + excluded.dismissals, answers = prompt_history.answers + excluded.answers
            """,
            .text(person), .text(promptId), .int(Int64(add.displays)), .int(add.answeredAt), .int(add.lastDisplayAt),
            .int(Int64(add.dismissals)), .int(Int64(add.answers)))
    }

    /// Moves the person's cooldown clock and/or sets "don't ask me again", on the subject or the visitor.
    static func touchPerson(_ connection: SQLConnection, _ visitor: PromptVisitor, lastDisplayAt: Int64?, dontAsk: Bool?) throws {
        if let subjectId = visitor.subjectId {
            try connection.execute(
                """
                INSERT INTO prompt_people (subject_id, dont_ask, last_display_at) VALUES (?, ?, ?)
                ON CONFLICT (subject_id) DO UPDATE SET dont_ask = CASE WHEN excluded.dont_ask = 1 THEN 1 ELSE prompt_people.dont_ask END,
                  last_display_at = COALESCE(excluded.last_display_at, prompt_people.last_display_at)
                """, .text(subjectId), .int(Int64(dontAsk == true ? 1 : 0)), .int(lastDisplayAt))
        } else {
            try connection.execute(
                "UPDATE prompt_visitors SET dont_ask = CASE WHEN ? = 1 THEN 1 ELSE dont_ask END, last_display_at = COALESCE(?, last_display_at) WHERE id = ?",
                .int(Int64(dontAsk == true ? 1 : 0)), .int(lastDisplayAt), .text(visitor.id))
        }
    }

    // MARK: - Answers

    /// Saves an answer to a prompt as a declaration with `source: prompt` and `collection_point:
    /// prompt:<id>`, citing the notice versions that were shown. An anonymous visitor's answer goes to a
    /// pseudonymous subject of their own (created on the first answer). Everything is validated before
    /// anything is written.
    public func answerPrompt(visitorId: String, keyId: String, promptId: String, value: JSONValue, notices: [String: Int], by principal: Principal) async throws -> DeclarationReceipt {
        let visitor = try await visitor(visitorId, keyId: keyId)
        guard let prompt = try await prompt(promptId), prompt.status == .active else {
            throw CandorError(.notFound, "no active prompt '\(promptId)'")
        }
        let input = DeclarationInput(values: [DeclaredValueInput(field: prompt.field, value: value)], notices: notices, source: DeclarationSource.prompt.rawValue,
                                     collectionPoint: "prompt:\(promptId)")
        let registry = self.registry
        if case .failure(let error) = DeclarationRules.validate(input, fields: registry.fields, purposes: registry.purposes) {
            // The browser sends only `value`; name it so, not `values[0].value`.
            throw CandorError(error.kind, error.detail.replacingOccurrences(of: "values[0].", with: ""),
                              errors: error.errors.map { FieldError($0.field.replacingOccurrences(of: "values[0].", with: ""), $0.message) })
        }
        if value == .null { throw CandorError.invalid("value", "give an answer, or dismiss the prompt") }
        var subjectId = visitor.subjectId ?? visitor.anonymousSubjectId
        if subjectId == nil {
            guard case .fresh(let created) = try await createSubject(SubjectInput(), by: principal) else { throw CandorStoreError.corrupt("a new subject was replayed") }
            _ = try await committer(for: visitor.id).submit { connection in
                try connection.execute("UPDATE prompt_visitors SET anon_subject_id = ? WHERE id = ?", .text(created.id), .text(visitor.id))
            }
            subjectId = created.id
        }
        guard case .fresh(let receipt) = try await declare(subjectId: subjectId!, input, by: principal) else { throw CandorStoreError.corrupt("an answer was replayed") }
        let at = now
        _ = try await committer(for: visitor.subjectId).submit { connection in
            try Self.addHistory(connection, person: visitor.person, promptId: promptId, PromptHistory(displays: 0, answeredAt: at, lastDisplayAt: nil, answers: 1))
            // An answer without a reported display still means it was shown.
            try connection.execute("UPDATE prompt_history SET displays = 1, last_display_at = ? WHERE person = ? AND prompt_id = ? AND displays = 0",
                                   .int(at), .text(visitor.person), .text(promptId))
            try Self.touchPerson(connection, visitor, lastDisplayAt: at, dontAsk: nil)
        }
        return receipt
    }

    // MARK: - Identify and merge

    /// Links a visitor to the person with `externalId` (created if new; the caller verified the
    /// signature). What the visitor did anonymously becomes the person's: display history and
    /// "don't ask me again" merge, so nothing already seen or answered comes back, and values answered
    /// anonymously are declared on the person (unless the person declared that field more recently)
    /// before the pseudonymous subject is erased.
    public func identifyVisitor(visitorId: String, keyId: String, externalId: String, by principal: Principal) async throws -> String {
        try SubjectInput(externalId: externalId).validate()
        let visitor = try await visitor(visitorId, keyId: keyId)
        let subjectId = try await subjectForExternalId(externalId, by: principal)
        if visitor.subjectId == subjectId && visitor.anonymousSubjectId == nil { return subjectId }
        let anonymous = visitor.subjectId == nil ? visitor.anonymousSubjectId : nil
        if let anonymous { try await carryOver(from: anonymous, to: subjectId, by: principal) }
        let wasAnonymous = visitor.subjectId == nil
        _ = try await committer(for: subjectId).submit { connection in
            if wasAnonymous {
                let merged = try Self.histories(connection, persons: [visitor.id, subjectId])
                try connection.execute("DELETE FROM prompt_history WHERE person IN (?, ?)", .text(visitor.id), .text(subjectId))
                for (promptId, history) in merged {
                    try Self.addHistory(connection, person: subjectId, promptId: promptId, history)
                }
                let own = try connection.queryOne("SELECT dont_ask, last_display_at FROM prompt_visitors WHERE id = ?", .text(visitor.id))
                let linked = PromptVisitor(id: visitor.id, subjectId: subjectId, anonymousSubjectId: nil)
                try Self.touchPerson(connection, linked, lastDisplayAt: nil, dontAsk: own?.int(0) ?? 0 != 0)
                if let last = own?.optionalInt(1) {
                    try connection.execute("UPDATE prompt_people SET last_display_at = ? WHERE subject_id = ? AND (last_display_at IS NULL OR last_display_at < ?)",
                                           .int(last), .text(subjectId), .int(last))
                }
            }
            try connection.execute("UPDATE prompt_visitors SET subject_id = ?, anon_subject_id = NULL, dont_ask = 0, last_display_at = NULL WHERE id = ?",
                                   .text(subjectId), .text(visitor.id))
            try self.audit(connection, principal, action: "visitor.identify", subjectId: subjectId)
        }
        if let anonymous { _ = try await erase(subjectId: anonymous, by: principal) }
        return subjectId
    }

    /// The subject with an external id, created when there is none (a concurrent creation is found again).
    func subjectForExternalId(_ externalId: String, by principal: Principal) async throws -> String {
        func find() async throws -> String? {
            try await database.read { try self.subjectIdForExternalId($0, externalId) }
        }
        if let id = try await find() { return id }
        do {
            guard case .fresh(let created) = try await createSubject(SubjectInput(externalId: externalId), by: principal) else { throw CandorStoreError.corrupt("a new subject was replayed") }
            return created.id
        } catch let error as CandorError where error.kind == .conflict {
            guard let id = try await find() else { throw error }
            return id
        }
    }

    /// Declares on `target` what the pseudonymous subject `source` answered, field by field, unless the
    /// target declared that field later. A value given under a notice that has since been superseded is
    /// not carried over: the person never saw the current wording.
    func carryOver(from source: String, to target: String, by principal: Principal) async throws {
        let (theirs, mine) = try await database.read { connection in
            let values = try self.profileValues(connection, subjectIds: [source, target])
            return (values[source] ?? [:], values[target] ?? [:])
        }
        let registry = self.registry
        for (field, value) in theirs.sorted(by: { $0.key < $1.key }) {
            if let existing = mine[field], existing.declaredAt >= value.declaredAt { continue }
            let input = DeclarationInput(values: [DeclaredValueInput(field: field, value: value.value)], notices: value.notices,
                                         source: value.source, collectionPoint: value.collectionPoint)
            guard case .success = DeclarationRules.validate(input, fields: registry.fields, purposes: registry.purposes) else { continue }
            _ = try await declare(subjectId: target, input, by: principal)
        }
    }

    // MARK: - Onsite offers

    /// The subject a decision was made for ('' once that subject was erased), or nil for an unknown
    /// decision (through the decision journal, so a decision made a moment ago is found).
    public func decisionSubject(_ decisionId: String) async throws -> String? {
        try await decisionRecord(decisionId)?.subjectId
    }
}

extension DecideInput {
    /// An onsite decision for the person behind a browser visitor (the embed's offers slot).
    public init(visitorSubject subjectId: String, page: String?, locale: String?, limit: Int?) {
        self.subjectId = subjectId
        self.placement = Placement.onsite.rawValue
        self.context = DecideContext(page: page, locale: locale)
        self.limit = limit
    }
}

extension OutcomeInput {
    /// An impression or click the embed reports for an offer it showed.
    public init(embedType type: String, offerId: String?) {
        self.type = type
        self.offerId = offerId
    }
}

extension CandorStore {
    /// Records that an administrator read a key's identity secret.
    public func auditIdentitySecretRead(keyId: String, by principal: Principal) async throws {
        try await auditOnly(principal, action: "key.identity_secret.read", fields: [keyId])
    }
}
