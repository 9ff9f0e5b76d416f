import CandorCore
import Foundation

extension Migrations {
    /// Newsletters: campaigns, and one row per person and campaign with what became of their e-mail
    /// (pending, sending, sent, skipped with a reason, failed). The recipient row leads with the
    /// subject id and holds no personal data beyond it; erasure deletes it.
    static let campaignsV1 = Migration(
        name: "campaigns_v1",
        sqlite: [
            """
            CREATE TABLE campaigns (id TEXT PRIMARY KEY, purpose TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, scheduled_at INTEGER,
              note TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)
            """,
            "CREATE INDEX campaigns_due ON campaigns (status, scheduled_at)",
            """
            CREATE TABLE campaign_recipients (subject_id TEXT NOT NULL, campaign_id TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
              attempts INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (subject_id, campaign_id))
            """,
            "CREATE INDEX campaign_recipients_by_campaign ON campaign_recipients (campaign_id, status, subject_id)",
        ],
        postgres: [
            """
            CREATE TABLE campaigns (id TEXT PRIMARY KEY, purpose TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, scheduled_at BIGINT,
              note TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
            """,
            "CREATE INDEX campaigns_due ON campaigns (status, scheduled_at)",
            """
            CREATE TABLE campaign_recipients (subject_id TEXT NOT NULL, campaign_id TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
              attempts BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (subject_id, campaign_id))
            """,
            "CREATE INDEX campaign_recipients_by_campaign ON campaign_recipients (campaign_id, status, subject_id)",
        ])
}

/// The subject line and body templates of a campaign in one language. `text` and `html` are
/// Mustache templates (the server checks them when the campaign is created).
public struct CampaignContent: Codable, Sendable, Hashable {
    public var subject: String
    public var text: String
    public var html: String

    public init(subject: String, text: String, html: String) {
        self.subject = subject
        self.text = text
        self.html = html
    }
}

/// The words of a content block in one language. Plain text: the templates escape it into HTML.
public struct CampaignBlockText: Codable, Sendable, Hashable {
    public var title: String
    public var body: String

    public init(title: String, body: String) {
        self.title = title
        self.body = body
    }
}

/// A content block shown to people who declared any of its interests.
public struct CampaignBlock: Codable, Sendable, Hashable {
    public var key: String
    /// Values of the campaign's interest field; the block goes to anyone who declared one of them.
    public var interests: [String]
    public var content: [String: CampaignBlockText]

    public init(key: String, interests: [String], content: [String: CampaignBlockText]) {
        self.key = key
        self.interests = interests
        self.content = content
    }
}

/// What an administrator sends to create a campaign.
public struct CampaignInput: Codable, Sendable {
    public var name: String
    public var purpose: String
    public var segmentId: String
    /// The registry field whose declared values pick the blocks (it must serve the purpose).
    public var interestField: String
    public var defaultLocale: String
    /// Subject and templates per locale (`en`, `he`).
    public var content: [String: CampaignContent]
    public var blocks: [CampaignBlock]
    /// Shown to people whose declarations match no block.
    public var fallback: [String: CampaignBlockText]

    enum CodingKeys: String, CodingKey {
        case name, purpose, content, blocks, fallback
        case segmentId = "segment_id"
        case interestField = "interest_field"
        case defaultLocale = "default_locale"
    }

    public init(name: String, purpose: String, segmentId: String, interestField: String, defaultLocale: String,
                content: [String: CampaignContent], blocks: [CampaignBlock], fallback: [String: CampaignBlockText]) {
        self.name = name
        self.purpose = purpose
        self.segmentId = segmentId
        self.interestField = interestField
        self.defaultLocale = defaultLocale
        self.content = content
        self.blocks = blocks
        self.fallback = fallback
    }
}

/// Where a campaign is in its life.
public enum CampaignStatus: String, Codable, Sendable {
    case draft, scheduled, sending, completed
}

/// How many people a campaign reached, and why the others were not.
public struct CampaignStats: Codable, Sendable, Hashable {
    public var pending = 0
    public var sent = 0
    public var skipped = 0
    public var failed = 0
    /// Skipped people by reason (`consent_withdrawn`, `restricted`, `objected`, `no_email`, …).
    public var skippedReasons: [String: Int] = [:]

    enum CodingKeys: String, CodingKey {
        case pending, sent, skipped, failed
        case skippedReasons = "skipped_reasons"
    }
}

/// A campaign as the API shows it.
public struct Campaign: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var purpose: String
    public var segmentId: String
    public var interestField: String
    public var defaultLocale: String
    public var content: [String: CampaignContent]
    public var blocks: [CampaignBlock]
    public var fallback: [String: CampaignBlockText]
    public var status: CampaignStatus
    public var scheduledAt: String?
    /// A sentence about the outcome, e.g. that nobody in the segment had consented.
    public var note: String?
    public var stats: CampaignStats
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, purpose, content, blocks, fallback, status, note, stats
        case segmentId = "segment_id"
        case interestField = "interest_field"
        case defaultLocale = "default_locale"
        case scheduledAt = "scheduled_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// What the send-time check found for one person.
public enum CampaignRecipientCheck: Codable, Sendable, Hashable {
    /// Send: the decrypted address and the declared values of the interest field.
    case send(email: String, interests: [String], values: [String: JSONValue])
    /// Do not send, and why (the purpose gate's reason, or `no_email`).
    case skip(reason: String)
}

/// A person claimed for sending, with what the send-time check found.
public struct ClaimedRecipient: Codable, Sendable, Hashable {
    public var subjectId: String
    public var check: CampaignRecipientCheck
}

/// The outcome of one recipient, as the send job records it.
public enum CampaignRecipientOutcome: Sendable, Hashable {
    case sent
    case skipped(String)
    case failed(String)
    /// Not sent, known not to be (a lost connection): back to pending for the next round.
    case deferred(String)
}

extension CandorStore {
    /// How often a deferred recipient is tried before the row is marked failed.
    static let campaignMaxAttempts: Int64 = 5

    // MARK: - Administration

    /// Checks a campaign against the registry and the principal's team. Every problem names its field;
    /// the server adds template errors of its own before anything is written.
    public func campaignProblems(_ input: CampaignInput, by principal: Principal) -> [FieldError] {
        let registry = self.registry
        var errors = [FieldError]()
        if input.name.trimmingCharacters(in: .whitespaces).isEmpty || input.name.count > 200 { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if let purpose = registry.purposes[input.purpose] {
            if !PurposeGate.teamMayUse(principal.team, purpose: input.purpose) {
                errors.append(FieldError("purpose", "team '\(principal.team.key)' may not use purpose '\(input.purpose)'"))
            } else if !purpose.legalBasis.requiresConsent {
                errors.append(FieldError("purpose", "a newsletter needs a consent-based purpose, so that every person can unsubscribe"))
            }
        } else {
            errors.append(FieldError("purpose", "unknown purpose '\(input.purpose)'"))
        }
        var options = Set<String>()
        if let field = registry.fields[input.interestField] {
            if !field.purposes.contains(input.purpose) {
                errors.append(FieldError("interest_field", "field '\(field.key)' does not serve purpose '\(input.purpose)', so its values may not pick content"))
            }
            if let fieldOptions = field.options, field.type.hasOptions { options = Set(fieldOptions) } else {
                errors.append(FieldError("interest_field", "must be a single- or multiple-choice field"))
            }
        } else {
            errors.append(FieldError("interest_field", "unknown field '\(input.interestField)'"))
        }
        let locales = Set(input.content.keys)
        if !locales.contains(input.defaultLocale) { errors.append(FieldError("default_locale", "must be one of the locales in content")) }
        for (locale, content) in input.content.sorted(by: { $0.key < $1.key }) {
            if !["en", "he"].contains(locale) { errors.append(FieldError("content.\(locale)", "locale must be en or he")) }
            if content.subject.trimmingCharacters(in: .whitespaces).isEmpty || content.subject.count > 200 {
                errors.append(FieldError("content.\(locale).subject", "must be 1 to 200 characters"))
            }
            if content.subject.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
                errors.append(FieldError("content.\(locale).subject", "must be one line"))
            }
        }
        var keys = Set<String>()
        for (index, block) in input.blocks.enumerated() {
            if block.key.isEmpty || !keys.insert(block.key).inserted { errors.append(FieldError("blocks[\(index)].key", "must be present and unique")) }
            if block.interests.isEmpty { errors.append(FieldError("blocks[\(index)].interests", "must name at least one value")) }
            for interest in block.interests where !options.isEmpty && !options.contains(interest) {
                errors.append(FieldError("blocks[\(index)].interests", "'\(interest)' is not an option of '\(input.interestField)'"))
            }
            for locale in locales.sorted() where block.content[locale] == nil {
                errors.append(FieldError("blocks[\(index)].content.\(locale)", "is required for every locale of the campaign"))
            }
        }
        if input.blocks.count > 50 { errors.append(FieldError("blocks", "at most 50 blocks")) }
        for locale in locales.sorted() where input.fallback[locale] == nil {
            errors.append(FieldError("fallback.\(locale)", "is required for every locale of the campaign"))
        }
        return errors
    }

    /// Creates a draft campaign after checking it (and that its segment exists).
    public func createCampaign(_ input: CampaignInput, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Campaign> {
        if let replayed: WriteOutcome<Campaign> = try await replay(principal, idempotency) { return replayed }
        var errors = campaignProblems(input, by: principal)
        let segmentExists = try await database.read { try $0.queryOne("SELECT id FROM segments WHERE id = ?", .text(input.segmentId)) != nil }
        if !segmentExists { errors.append(FieldError("segment_id", "no segment '\(input.segmentId)'")) }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
        let id = Identifier.make("cmp")
        return try await write(principal, idempotency: idempotency, status: 201) { connection -> Campaign in
            let at = self.now
            try connection.execute(
                "INSERT INTO campaigns (id, purpose, body, status, scheduled_at, note, created_at, updated_at) VALUES (?, ?, ?, 'draft', NULL, NULL, ?, ?)",
                .text(id), .text(input.purpose), .text(String(decoding: try CandorJSON.encode(input), as: UTF8.self)), .int(at), .int(at))
            try self.audit(connection, principal, action: "campaign.create", purpose: input.purpose)
            return try Self.loadCampaign(connection, id)!
        }
    }

    /// The campaigns of purposes the team holds, newest first.
    public func campaigns(by principal: Principal) async throws -> [Campaign] {
        let held = Set(principal.team.purposes)
        return try await database.read { connection in
            try connection.query("SELECT id FROM campaigns ORDER BY created_at DESC, id DESC", [])
                .compactMap { try Self.loadCampaign(connection, $0.text(0)) }
                .filter { held.contains($0.purpose) }
        }
    }

    /// One campaign; not found when it does not exist or its purpose is not the team's.
    public func campaign(_ id: String, by principal: Principal?) async throws -> Campaign {
        let found = try await database.read { try Self.loadCampaign($0, id) }
        guard let found, principal.map({ PurposeGate.teamMayUse($0.team, purpose: found.purpose) }) ?? true else {
            throw CandorError(.notFound, "no campaign '\(id)'")
        }
        return found
    }

    /// Schedules (or reschedules) a draft or scheduled campaign for `at` (milliseconds).
    public func scheduleCampaign(_ id: String, at: Int64, by principal: Principal) async throws -> Campaign {
        let campaign = try await self.campaign(id, by: principal)
        let outcome = try await write(principal, idempotency: nil, status: 200) { connection -> Campaign in
            guard let row = try connection.queryOne("SELECT status FROM campaigns WHERE id = ?", .text(id)),
                  [CampaignStatus.draft.rawValue, CampaignStatus.scheduled.rawValue].contains(row.text(0)) else {
                throw CandorError(.conflict, "campaign '\(id)' is already sending or completed", errors: [FieldError("send_at", "the campaign can no longer be scheduled")])
            }
            try connection.execute("UPDATE campaigns SET status = 'scheduled', scheduled_at = ?, updated_at = ? WHERE id = ?", .int(at), .int(self.now), .text(id))
            try self.audit(connection, principal, action: "campaign.schedule", purpose: campaign.purpose)
            return try Self.loadCampaign(connection, id)!
        }
        guard case .fresh(let scheduled) = outcome else { return campaign }
        return scheduled
    }

    // MARK: - The send job

    /// Campaigns due now: scheduled for a time that has come, or sending (picked up again after a restart).
    public func dueCampaignIds() async throws -> [String] {
        let now = self.now
        return try await database.read { connection in
            try connection.query(
                "SELECT id FROM campaigns WHERE (status = 'scheduled' AND scheduled_at <= ?) OR status = 'sending' ORDER BY scheduled_at, id",
                [.int(now)]).map { $0.text(0) }
        }
    }

    /// Starts sending: the audience is the segment's members *now* (send time, not schedule time), each
    /// written as a pending row. Rows left `sending` by a crash become failed rather than pending:
    /// whether their mail went out is unknown, and a second copy is worse than a missing one.
    public func beginCampaign(_ id: String) async throws -> Campaign {
        let campaign = try await self.campaign(id, by: nil)
        var members = Set<String>()
        if campaign.status == .scheduled {
            let rule = try await database.read { try $0.queryOne("SELECT rule FROM segments WHERE id = ?", .text(campaign.segmentId))?.text(0) }
            if let rule { members = try await segmentMemberIds(rule: rule) }
        }
        let outcome = try await write(nil, idempotency: nil, status: 200) { connection -> Campaign in
            let at = self.now
            guard let row = try connection.queryOne("SELECT status FROM campaigns WHERE id = ?\(self.database.dialect == .postgres ? " FOR UPDATE" : "")", .text(id)) else {
                throw CandorError(.notFound, "no campaign '\(id)'")
            }
            if row.text(0) == CampaignStatus.scheduled.rawValue {
                for subjectId in members.sorted() {
                    try connection.execute(
                        "INSERT INTO campaign_recipients (subject_id, campaign_id, status, reason, attempts, updated_at) VALUES (?, ?, 'pending', NULL, 0, ?) ON CONFLICT (subject_id, campaign_id) DO NOTHING",
                        .text(subjectId), .text(id), .int(at))
                }
                try connection.execute("UPDATE campaigns SET status = 'sending', updated_at = ? WHERE id = ?", .int(at), .text(id))
                try self.audit(connection, nil, action: "campaign.start", purpose: campaign.purpose, outcome: "\(members.count) in segment")
            } else {
                try connection.execute(
                    "UPDATE campaign_recipients SET status = 'failed', reason = 'interrupted', updated_at = ? WHERE campaign_id = ? AND status = 'sending'",
                    .int(at), .text(id))
            }
            return try Self.loadCampaign(connection, id)!
        }
        guard case .fresh(let started) = outcome else { return campaign }
        return started
    }

    /// Claims up to `limit` pending recipients (marks them `sending`) and runs the send-time check on
    /// each: status, restriction, objection, consent for the campaign's purpose, and an address.
    /// People who fail it are recorded as skipped here and not returned; the reads are audited.
    public func claimCampaignRecipients(_ campaign: Campaign, limit: Int) async throws -> [ClaimedRecipient] {
        let registry = self.registry
        guard let purpose = registry.purposes[campaign.purpose] else { throw CandorError(.notFound, "purpose '\(campaign.purpose)' is gone") }
        let interestAllowed = registry.fields[campaign.interestField]?.purposes.contains(campaign.purpose) ?? false
        let outcome = try await write(nil, idempotency: nil, status: 200) { connection -> [ClaimedRecipient] in
            let at = self.now
            let ids = try connection.query(
                // Several nodes may run the send job on one PostgreSQL: a row one of them claimed is skipped by the others.
                "SELECT subject_id FROM campaign_recipients WHERE campaign_id = ? AND status = 'pending' ORDER BY subject_id LIMIT ?\(self.database.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : "")",
                [.text(campaign.id), .int(Int64(limit))]).map { $0.text(0) }
            var results = [ClaimedRecipient]()
            for subjectId in ids {
                let check = try self.recipientCheck(connection, subjectId: subjectId, purpose: purpose,
                                                    interestField: interestAllowed ? campaign.interestField : nil, at: at)
                switch check {
                case .send(_, let interests, _):
                    try connection.execute("UPDATE campaign_recipients SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE subject_id = ? AND campaign_id = ?",
                                           .int(at), .text(subjectId), .text(campaign.id))
                    try self.audit(connection, nil, action: "campaign.recipient.read", purpose: campaign.purpose, subjectId: subjectId,
                                   fields: interests.isEmpty ? ["email"] : ["email", campaign.interestField])
                case .skip(let reason):
                    try connection.execute("UPDATE campaign_recipients SET status = 'skipped', reason = ?, updated_at = ? WHERE subject_id = ? AND campaign_id = ?",
                                           .text(reason), .int(at), .text(subjectId), .text(campaign.id))
                    try self.audit(connection, nil, action: "campaign.skip", purpose: campaign.purpose, subjectId: subjectId, outcome: reason)
                }
                results.append(ClaimedRecipient(subjectId: subjectId, check: check))
            }
            return results
        }
        guard case .fresh(let results) = outcome else { return [] }
        return results.filter { if case .send = $0.check { true } else { false } }
    }

    /// The send-time check of one person, for a campaign or a preview, without writing anything.
    public func campaignRecipientCheck(_ campaign: Campaign, subjectId: String, by principal: Principal) async throws -> CampaignRecipientCheck {
        let registry = self.registry
        guard let purpose = registry.purposes[campaign.purpose] else { throw CandorError(.notFound, "purpose '\(campaign.purpose)' is gone") }
        let interestAllowed = registry.fields[campaign.interestField]?.purposes.contains(campaign.purpose) ?? false
        let now = self.now
        let check = try await database.read { connection -> CampaignRecipientCheck in
            guard try connection.queryOne("SELECT id FROM subjects WHERE id = ?", .text(subjectId)) != nil else {
                throw CandorError(.notFound, "no subject '\(subjectId)'", errors: [FieldError("subject_id", "no such subject")])
            }
            return try self.recipientCheck(connection, subjectId: subjectId, purpose: purpose, interestField: interestAllowed ? campaign.interestField : nil, at: now)
        }
        var fields = [String]()
        if case .send(_, let interests, _) = check { fields = interests.isEmpty ? ["email"] : ["email", campaign.interestField] }
        try await auditOnly(principal, action: "campaign.preview", purpose: campaign.purpose, subjectId: subjectId, fields: fields)
        return check
    }

    func recipientCheck(_ connection: SQLConnection, subjectId: String, purpose: Purpose, interestField: String?, at: Int64) throws -> CampaignRecipientCheck {
        guard let row = try connection.queryOne("SELECT status, has_objected, email_cipher FROM subjects WHERE id = ?", .text(subjectId)) else {
            return .skip(reason: "erased")
        }
        let status = SubjectStatus(rawValue: row.text(0)) ?? .active
        let consent = try Self.consentRecords(connection, subjectId: subjectId, purpose: purpose.key).first
        if case .withheld(let reason) = PurposeGate.visibility(for: purpose, status: status, hasObjected: row.int(1) != 0, consent: consent, now: at) {
            return .skip(reason: reason)
        }
        guard !row.isNull(2) else { return .skip(reason: "no_email") }
        let email = String(decoding: try SubjectCipher.open(row.blob(2), key: try subjectKey(connection, subjectId), subjectId: subjectId), as: UTF8.self)
        var values = [String: JSONValue]()
        var interests = [String]()
        if let interestField, let value = try self.profileValues(connection, subjectIds: [subjectId])[subjectId]?[interestField]?.value {
            values[interestField] = value
            switch value {
            case .string(let one): interests = [one]
            case .array(let many): interests = many.compactMap { if case .string(let text) = $0 { text } else { nil } }
            default: break
            }
        }
        return .send(email: email, interests: interests, values: values)
    }

    /// Records what became of claimed recipients, durably, with an audit row each (an e-mail is an
    /// outbound transfer of personal data). A deferred one goes back to pending until it has been
    /// tried `campaignMaxAttempts` times.
    public func recordCampaignOutcomes(_ campaign: Campaign, _ outcomes: [(subjectId: String, outcome: CampaignRecipientOutcome)]) async throws {
        guard !outcomes.isEmpty else { return }
        _ = try await write(nil, idempotency: nil, status: 200) { connection -> Bool in
            let at = self.now
            for (subjectId, outcome) in outcomes {
                let (status, reason): (String, String?)
                switch outcome {
                case .sent: (status, reason) = ("sent", nil)
                case .skipped(let why): (status, reason) = ("skipped", why)
                case .failed(let why): (status, reason) = ("failed", why)
                case .deferred(let why):
                    let attempts = try connection.queryOne("SELECT attempts FROM campaign_recipients WHERE subject_id = ? AND campaign_id = ?",
                                                           .text(subjectId), .text(campaign.id))?.int(0) ?? 0
                    (status, reason) = (attempts >= Self.campaignMaxAttempts ? "failed" : "pending", why)
                }
                try connection.execute("UPDATE campaign_recipients SET status = ?, reason = ?, updated_at = ? WHERE subject_id = ? AND campaign_id = ?",
                                       .text(status), .text(reason), .int(at), .text(subjectId), .text(campaign.id))
                try self.audit(connection, nil, action: "campaign.send", purpose: campaign.purpose, subjectId: subjectId,
                               fields: status == "sent" ? ["email", campaign.interestField] : [], outcome: status == "sent" ? "ok" : "\(status): \(reason ?? "")")
            }
            return true
        }
    }

    /// Marks the campaign completed once nobody is pending or in flight, with a note when nobody could
    /// be sent to. Returns the campaign as it now stands.
    @discardableResult
    public func completeCampaignIfDone(_ id: String) async throws -> Campaign {
        let outcome = try await write(nil, idempotency: nil, status: 200) { connection -> Campaign in
            let open = try connection.queryOne("SELECT count(*) FROM campaign_recipients WHERE campaign_id = ? AND status IN ('pending', 'sending')", .text(id))?.int(0) ?? 0
            if open == 0, let campaign = try Self.loadCampaign(connection, id), campaign.status == .sending {
                let note = campaign.stats.sent == 0
                    ? "Completed with no e-mail sent: nobody in the segment could receive it at send time (consent, restriction, objection or address)."
                    : "Completed: \(campaign.stats.sent) sent, \(campaign.stats.skipped) skipped, \(campaign.stats.failed) failed."
                try connection.execute("UPDATE campaigns SET status = 'completed', note = ?, updated_at = ? WHERE id = ?", .text(note), .int(self.now), .text(id))
                try self.audit(connection, nil, action: "campaign.complete", purpose: campaign.purpose, outcome: "sent \(campaign.stats.sent)")
            }
            return try Self.loadCampaign(connection, id)!
        }
        guard case .fresh(let campaign) = outcome else { throw CandorError(.notFound, "no campaign '\(id)'") }
        return campaign
    }

    /// Each recipient's status (for tests and the campaign's detail): subject id → (status, reason).
    public func campaignRecipients(_ id: String) async throws -> [String: (status: String, reason: String?)] {
        try await database.read { connection in
            var out = [String: (status: String, reason: String?)]()
            for row in try connection.query("SELECT subject_id, status, reason FROM campaign_recipients WHERE campaign_id = ?", [.text(id)]) {
                out[row.text(0)] = (row.text(1), row.optionalText(2))
            }
            return out
        }
    }

    // MARK: - Unsubscribe

    /// The person withdraws consent for a newsletter's purpose from the unsubscribe link: a consent
    /// change by the person themselves, method `unsubscribe`, with ledger entry, audit and event.
    public func unsubscribe(subjectId: String, purpose: String) async throws -> ConsentReceipt {
        let outcome = try await setConsents(subjectId: subjectId, [ConsentInput(purpose: purpose, status: ConsentStatus.withdrawn.rawValue, method: ConsentMethod.unsubscribe.rawValue)],
                                            by: nil, selfService: true)
        guard case .fresh(let receipt) = outcome else { throw CandorError(.conflict, "unexpected replay") }
        return receipt
    }

    static func loadCampaign(_ connection: SQLConnection, _ id: String) throws -> Campaign? {
        guard let row = try connection.queryOne("SELECT body, status, scheduled_at, note, created_at, updated_at FROM campaigns WHERE id = ?", .text(id)) else { return nil }
        let input = try CandorJSON.decode(CampaignInput.self, from: row.text(0))
        var stats = CampaignStats()
        for count in try connection.query("SELECT status, reason, count(*) FROM campaign_recipients WHERE campaign_id = ? GROUP BY status, reason", [.text(id)]) {
            let n = Int(count.int(2))
            switch count.text(0) {
            case "pending", "sending": stats.pending += n
            case "sent": stats.sent += n
            case "skipped":
                stats.skipped += n
                stats.skippedReasons[count.optionalText(1) ?? "unknown", default: 0] += n
            default: stats.failed += n
            }
        }
        return Campaign(id: id, name: input.name, purpose: input.purpose, segmentId: input.segmentId, interestField: input.interestField,
                        defaultLocale: input.defaultLocale, content: input.content, blocks: input.blocks, fallback: input.fallback,
                        status: CampaignStatus(rawValue: row.text(1)) ?? .draft, scheduledAt: row.optionalInt(2).map(Timestamp.rfc3339),
                        note: row.optionalText(3), stats: stats, createdAt: Timestamp.rfc3339(row.int(4)), updatedAt: Timestamp.rfc3339(row.int(5)))
    }
}

extension CandorStore {
    /// Audits a test send (no subject: a test send carries sample interests, never a person's data).
    public func auditTestSend(campaign: Campaign, by principal: Principal, outcome: String) async throws {
        try await auditOnly(principal, action: "campaign.test_send", purpose: campaign.purpose, outcome: String(outcome.prefix(200)))
    }
}
