import CandorCore
import Foundation

/// Where an offer can be shown. `support` is service routing: the queue, article or advisor to offer.
public enum Placement: String, Codable, Sendable, CaseIterable {
    case onsite, newsletter, support
}

/// An offer's words in one locale.
public struct OfferContent: Codable, Sendable, Hashable {
    public var title: String
    public var body: String

    public init(title: String, body: String) {
        self.title = title
        self.body = body
    }
}

/// For the `support` placement: where to route the person.
public struct ServiceRoute: Codable, Sendable, Hashable {
    public var queue: String?
    public var article: String?
    public var advisor: String?
}

/// An offer in the catalog, as stored and as created (ids and times are filled in by the store).
public struct Offer: Codable, Sendable, Hashable {
    public var id: String?
    public var name: String
    /// locale → words.
    public var content: [String: OfferContent]
    public var placements: [String]
    /// The saved segment a person must be in; nil for a generic offer, which is what the
    /// non-personalized fallback shows.
    public var segmentId: String?
    /// The purpose the offer uses data for; required with a segment.
    public var purpose: String?
    public var validFrom: String?
    public var validUntil: String?
    public var capPerPerson: Int?
    public var capTotal: Int?
    public var priority: Int?
    public var incentivePool: String?
    public var route: ServiceRoute?
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, content, placements, purpose, priority, route
        case segmentId = "segment_id"
        case validFrom = "valid_from"
        case validUntil = "valid_until"
        case capPerPerson = "cap_per_person"
        case capTotal = "cap_total"
        case incentivePool = "incentive_pool"
        case createdAt = "created_at"
    }

    func words(for locale: String?) -> (String, OfferContent)? {
        if let locale, let words = content[locale] { return (locale, words) }
        if let words = content["en"] { return ("en", words) }
        return content.keys.sorted().first.map { ($0, content[$0]!) }
    }
}

/// What the caller knows about where the offer will be shown. Never tracked behaviour: page and locale only.
public struct DecideContext: Codable, Sendable {
    public var page: String?
    public var locale: String?
}

/// `POST /v1/decide`.
public struct DecideInput: Codable, Sendable {
    public var subjectId: String
    public var placement: String
    public var context: DecideContext?
    public var limit: Int?

    enum CodingKeys: String, CodingKey {
        case placement, context, limit
        case subjectId = "subject_id"
    }
}

extension DecideInput {
    /// A request of exactly the documented shape, read from already parsed JSON without Foundation's
    /// decoder (decisions are the hot path); nil for anything else — a missing or mistyped member, an
    /// unknown one — and the caller then decodes the body the usual way, which names the problem.
    public init?(parsed value: JSONValue) {
        guard case .object(let members) = value, case .string(let subjectId)? = members["subject_id"],
              case .string(let placement)? = members["placement"] else { return nil }
        var context: DecideContext?, limit: Int?
        for (key, member) in members {
            switch (key, member) {
            case ("subject_id", _), ("placement", _), ("limit", .null), ("context", .null): continue
            case ("limit", .number(let number)) where number.rounded() == number && abs(number) < 1e9: limit = Int(number)
            case ("context", .object(let fields)):
                var page: String?, locale: String?
                for (name, field) in fields {
                    switch (name, field) {
                    case ("page", .string(let text)): page = text
                    case ("locale", .string(let text)): locale = text
                    case ("page", .null), ("locale", .null): continue
                    default: return nil
                    }
                }
                context = DecideContext(page: page, locale: locale)
            default: return nil
            }
        }
        self.init(subjectId: subjectId, placement: placement, context: context, limit: limit)
    }
}

/// The consent (or other legal basis) that allowed a personalized offer.
public struct BecauseConsent: Codable, Sendable, Hashable {
    public var purpose: String
    public var legalBasis: String
    public var noticeVersion: Int?

    enum CodingKeys: String, CodingKey {
        case purpose
        case legalBasis = "legal_basis"
        case noticeVersion = "notice_version"
    }
}

/// One declared fact behind an offer: what, when and where the person told us.
public struct BecauseFact: Codable, Sendable, Hashable {
    public var field: String
    public var value: JSONValue
    public var declaredAt: String
    public var source: String
    public var collectionPoint: String?

    enum CodingKeys: String, CodingKey {
        case field, value, source
        case declaredAt = "declared_at"
        case collectionPoint = "collection_point"
    }
}

/// Why a person sees an offer.
public struct Because: Codable, Sendable, Hashable {
    public var facts: [BecauseFact]
    public var consent: BecauseConsent
}

/// One offer in a decision.
public struct DecidedOffer: Codable, Sendable, Hashable {
    public var offerId: String
    public var locale: String
    public var title: String
    public var body: String
    public var priority: Int
    public var route: ServiceRoute?
    public var incentivePool: String?
    /// Present only on personalized offers; the fallback uses nothing about the person.
    public var because: Because?

    enum CodingKeys: String, CodingKey {
        case locale, title, body, priority, route, because
        case offerId = "offer_id"
        case incentivePool = "incentive_pool"
    }
}

/// The answer of `POST /v1/decide`.
public struct Decision: Codable, Sendable, Hashable {
    public var decisionId: String
    public var placement: String
    /// `personalized` (eligible for personalization), `holdout` (kept out to measure lift) or
    /// `excluded` (erased, restricted, or unknown to the purpose gate: never personalized).
    public var arm: String
    public var personalized: Bool
    public var offers: [DecidedOffer]
    public var decidedAt: String

    enum CodingKeys: String, CodingKey {
        case placement, arm, personalized, offers
        case decisionId = "decision_id"
        case decidedAt = "decided_at"
    }
}

/// `POST /v1/decisions/{id}/outcomes`.
public struct OutcomeInput: Codable, Sendable {
    public var type: String
    public var offerId: String?

    enum CodingKeys: String, CodingKey {
        case type
        case offerId = "offer_id"
    }
}

/// A recorded outcome.
public struct Outcome: Codable, Sendable, Hashable {
    public var decisionId: String
    public var offerId: String
    public var type: String
    public var recordedAt: String

    enum CodingKeys: String, CodingKey {
        case type
        case decisionId = "decision_id"
        case offerId = "offer_id"
        case recordedAt = "recorded_at"
    }
}

/// Conversion of personalized versus holdout decisions.
public struct LiftReport: Codable, Sendable, Hashable {
    public struct Group: Codable, Sendable, Hashable {
        public var decisions: Int
        public var conversions: Int
        public var rate: Double
        public var low: Double
        public var high: Double
    }

    public var personalized: Group
    public var holdout: Group
    public var difference: Double
    public var differenceLow: Double
    public var differenceHigh: Double
    public var confidence: Double

    enum CodingKeys: String, CodingKey {
        case personalized, holdout, difference, confidence
        case differenceLow = "difference_low"
        case differenceHigh = "difference_high"
    }
}

extension CandorStore {
    static let outcomeTypes: Set<String> = ["impression", "click", "conversion"]

    // MARK: - Catalog

    /// Adds an offer to the catalog after checking every field; nothing is written on bad input.
    public func createOffer(_ input: Offer, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Offer> {
        if let replayed: WriteOutcome<Offer> = try await replay(principal, idempotency) { return replayed }
        try await validateOffer(input)
        var offer = input
        offer.id = Identifier.make("ofr")
        offer.createdAt = Timestamp.rfc3339(now)
        offer.priority = input.priority ?? 0
        let saved = try await write(principal, idempotency: idempotency, status: 201) { connection -> Offer in
            try connection.execute("INSERT INTO offers (id, body, created_at) VALUES (?, ?, ?)", .text(offer.id!), .text(try CandorJSON.string(offer)), .int(self.now))
            try self.audit(connection, principal, action: "offer.create", outcome: offer.id!)
            return offer
        }
        invalidateActivationCatalog()
        return saved
    }

    /// Replaces an offer's settings (everything but its id and creation time), checked like a new one;
    /// nothing is written on bad input. Decisions use the new settings from the next one on; issues
    /// already counted against its caps stay counted.
    public func updateOffer(_ id: String, _ input: Offer, by principal: Principal) async throws -> Offer {
        let current = try await offer(id)
        try await validateOffer(input)
        var offer = input
        offer.id = id
        offer.createdAt = current.createdAt
        offer.priority = input.priority ?? 0
        let body = try CandorJSON.string(offer)
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("UPDATE offers SET body = ? WHERE id = ?", .text(body), .text(id))
            try self.audit(connection, principal, action: "offer.update", outcome: id)
        }
        invalidateActivationCatalog()
        return offer
    }

    /// Every rule an offer must meet, with all problems named at once.
    func validateOffer(_ input: Offer) async throws {
        let registry = self.registry
        var errors = [FieldError]()
        if input.name.isEmpty || input.name.count > 200 { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if input.content.isEmpty { errors.append(FieldError("content", "give the words in at least one locale")) }
        for (locale, words) in input.content.sorted(by: { $0.key < $1.key }) {
            if locale.isEmpty || locale.count > 20 { errors.append(FieldError("content.\(locale)", "a locale is 1 to 20 characters")) }
            if words.title.isEmpty || words.title.count > 200 { errors.append(FieldError("content.\(locale).title", "must be 1 to 200 characters")) }
            if words.body.count > 5000 { errors.append(FieldError("content.\(locale).body", "must be at most 5000 characters")) }
        }
        if input.placements.isEmpty { errors.append(FieldError("placements", "name at least one placement")) }
        for (i, placement) in input.placements.enumerated() where Placement(rawValue: placement) == nil {
            errors.append(FieldError("placements[\(i)]", "unknown placement '\(placement)': use \(Placement.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        if let purpose = input.purpose, registry.purposes[purpose] == nil { errors.append(FieldError("purpose", "unknown purpose '\(purpose)'")) }
        if input.segmentId != nil && input.purpose == nil { errors.append(FieldError("purpose", "a personalized offer (with a segment) names the purpose it uses data for")) }
        for (name, text) in [("valid_from", input.validFrom), ("valid_until", input.validUntil)] {
            if let text, Timestamp.parse(text) == nil { errors.append(FieldError(name, "expected an RFC 3339 time")) }
        }
        if let from = input.validFrom.flatMap(Timestamp.parse), let until = input.validUntil.flatMap(Timestamp.parse), until <= from {
            errors.append(FieldError("valid_until", "must be after valid_from"))
        }
        for (name, cap) in [("cap_per_person", input.capPerPerson), ("cap_total", input.capTotal)] {
            if let cap, cap < 1 { errors.append(FieldError(name, "must be at least 1")) }
        }
        if let segmentId = input.segmentId, let purpose = input.purpose {
            let rule = try await database.read { try $0.queryOne("SELECT rule FROM segments WHERE id = ?", .text(segmentId))?.text(0) }
            if let rule {
                // Purpose binding: an offer may only rely on fields that serve its purpose.
                if let expr = try? compileRule(rule) {
                    let allowed = PurposeGate.fieldKeys(serving: purpose, in: registry.fields.values)
                    for field in expr.fields.subtracting(allowed).sorted() {
                        errors.append(FieldError("segment_id", "the segment reads '\(field)', which does not serve purpose '\(purpose)'"))
                    }
                }
            } else {
                errors.append(FieldError("segment_id", "unknown segment '\(segmentId)'"))
            }
        }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
    }

    /// The catalog, newest last.
    public func offers() async throws -> [Offer] {
        try await database.read { connection in
            try connection.query("SELECT body FROM offers ORDER BY created_at, id", []).map { try CandorJSON.decode(Offer.self, from: $0.text(0)) }
        }
    }

    /// One offer.
    public func offer(_ id: String) async throws -> Offer {
        let body = try await database.read { try $0.queryOne("SELECT body FROM offers WHERE id = ?", .text(id))?.text(0) }
        guard let body else { throw CandorError(.notFound, "no offer '\(id)'") }
        return try CandorJSON.decode(Offer.self, from: body)
    }

    // MARK: - Decide

    /// Whether a person is in the holdout: a stable hash of their id, so the same person always lands
    /// in the same group and lift compares like with like.
    public static func isHoldout(_ subjectId: String, share: Double) -> Bool {
        guard share > 0 else { return false }
        // The first 48 bits of SHA-256("candor-holdout:" + id), as a fraction of 2^48.
        let digest = Digest.sha256(utf8: "candor-holdout:\(subjectId)")
        let bits = digest.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let bucket = Double(bits) / Double(1 << 48)
        return bucket < share
    }

    /// Ranks the offers a person is eligible for at a placement, each with its reasons. Reads the
    /// person's projection from memory (`DecisionProjection`, updated before any write on this node is
    /// answered; another node's writes arrive within one outbox poll), so a consent withdrawn on this
    /// node a moment ago already counts; an erased,
    /// restricted or unconsented person gets the generic fallback, built from nothing about them.
    /// When an eligible offer is capped, the decision and the offers it issued are recorded in the
    /// transaction that counts the caps; otherwise the decision answers at once and its log goes to
    /// the decision journal (Activation/DecisionJournal.swift).
    public func decide(_ input: DecideInput, by principal: Principal) async throws -> Decision {
        var errors = [FieldError]()
        if input.subjectId.isEmpty { errors.append(FieldError("subject_id", "is required")) }
        let placement = Placement(rawValue: input.placement)
        if placement == nil { errors.append(FieldError("placement", "unknown placement '\(input.placement)': use \(Placement.allCases.map(\.rawValue).joined(separator: ", "))")) }
        let limit = input.limit ?? 3
        if !(1...20).contains(limit) { errors.append(FieldError("limit", "must be 1 to 20")) }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
        let subjectId = input.subjectId
        // Memory answers for everyone the segment index holds (kept in step with this node's writes before
        // they are answered, and with other nodes' by the outbox poll); anyone else costs one read for both
        // questions: does the person exist, and what is their projection now (nil when erased).
        let known: Bool, profile: SegmentProfile?
        if let projected = projectedProfile(subjectId) {
            (known, profile) = (true, projected)
        } else {
            (known, profile) = try await database.read { connection -> (Bool, SegmentProfile?) in
                // The projection answers both for everyone not erased; only its absence needs the second look.
                if let profile = try self.readProfiles(connection, where: "= ?", [.text(subjectId)])[subjectId] { return (true, profile) }
                return (try connection.queryOne("SELECT 1 FROM subjects WHERE id = ?", .text(subjectId)) != nil, nil)
            }
        }
        guard known else { throw CandorError(.notFound, "subject_id: no subject '\(subjectId)'", errors: [FieldError("subject_id", "no such subject")]) }
        let registry = self.registry, now = self.now, settings = self.activation
        // The catalog is almost always in memory: taking it without an `await` spares a task frame per decision.
        let catalog: ActivationCache.Catalog
        if let cached = cachedActivationCatalog() { catalog = cached } else { catalog = try await activationCatalog() }
        // In rank order (the catalog keeps its offers sorted by priority), so nothing is sorted here.
        let live = catalog.ranked.filter { $0.offer.placements.contains(input.placement) && $0.isLive(at: now) }
        let active = profile?.status == .active
        let holdout = active && Self.isHoldout(subjectId, share: settings.holdoutShare)
        var candidates = [(CatalogOffer, Because?)]()
        var allowedFields = [String: Set<String>]()
        if let profile, active, !holdout {
            for entry in live {
                let offer = entry.offer
                guard let segmentId = offer.segmentId, let purposeKey = offer.purpose, let purpose = registry.purposes[purposeKey],
                      PurposeGate.teamMayUse(principal.team, purpose: purposeKey),
                      PurposeGate.visibility(for: purpose, status: profile.status, hasObjected: profile.hasObjected, consent: profile.consents[purposeKey], now: now) == .visible,
                      let expr = catalog.rules[segmentId],
                      SegmentEvaluator.matches(expr, profile, purposes: registry.purposes, now: now)
                else { continue }
                let allowed = allowedFields[purposeKey] ?? PurposeGate.fieldKeys(serving: purposeKey, in: registry.fields.values)
                allowedFields[purposeKey] = allowed
                let facts = SegmentEvaluator.reasons(expr, profile, purposes: registry.purposes, now: now).facts.filter { allowed.contains($0.field) }
                candidates.append((entry, Because(
                    facts: facts.map { BecauseFact(field: $0.field, value: $0.value, declaredAt: Timestamp.rfc3339($0.declaredAt), source: $0.source, collectionPoint: $0.collectionPoint) },
                    consent: BecauseConsent(purpose: purposeKey, legalBasis: purpose.legalBasis.rawValue, noticeVersion: profile.consents[purposeKey]?.noticeVersion))))
            }
        }
        if settings.ranking == .thompson, candidates.count > 1 {
            let records = try await offerRecords()
            var rng = SystemRandomNumberGenerator()
            let order = ThompsonSampling.rank(candidates.indices.map { (id: $0, record: records[candidates[$0].0.offer.id ?? ""] ?? ArmRecord(trials: 0, successes: 0)) }, using: &rng)
            candidates = order.map { candidates[$0] }
        }
        let fallback = live.filter { $0.offer.segmentId == nil }.map { ($0, Because?.none) }
        let arm = !active ? "excluded" : (holdout ? "holdout" : "personalized")
        let decisionId = Identifier.make("dec")
        let dialect = database.dialect
        func decision(_ chosen: [(CatalogOffer, Because?)], personalized: Bool, at: Int64) -> Decision {
            Decision(
                decisionId: decisionId, placement: input.placement, arm: arm, personalized: personalized,
                offers: chosen.map { entry, because in
                    let offer = entry.offer
                    let (locale, words) = offer.words(for: input.context?.locale) ?? ("en", OfferContent(title: offer.name, body: ""))
                    return DecidedOffer(offerId: offer.id ?? "", locale: locale, title: words.title, body: words.body, priority: offer.priority ?? 0,
                                        route: offer.route, incentivePool: offer.incentivePool, because: because)
                },
                decidedAt: Timestamp.rfc3339(at))
        }
        // Someone erased is known but has no profile: their decision is logged without them.
        let loggedSubject = profile == nil ? "" : subjectId
        func entry(_ chosen: [(CatalogOffer, Because?)], personalized: Bool, at: Int64) -> DecisionJournal.Entry {
            DecisionJournal.Entry(
                id: decisionId, subjectId: loggedSubject, placement: input.placement, arm: arm, offerIds: chosen.map { $0.0.offer.id ?? "" }, at: at,
                principal: principal, purpose: chosen.compactMap { $0.1?.consent.purpose }.first,
                fields: Array(Set(chosen.flatMap { $0.1?.facts.map(\.field) ?? [] })), outcome: personalized ? "personalized" : "fallback")
        }
        let made: Decision
        if !candidates.contains(where: { $0.0.capped }) && !fallback.contains(where: { $0.0.capped }) {
            // Nothing capped: nothing to count, so the decision answers at once and its log (the decision, which
            // is its own audit entry, and the issue counts) goes to the journal, which writes it within milliseconds.
            let personalized = !candidates.isEmpty
            let chosen = Array((personalized ? candidates : fallback).prefix(limit))
            let at = self.now
            made = decision(chosen, personalized: personalized, at: at)
            decisionJournal.append(entry(chosen, personalized: personalized, at: at), store: self)
            await decisionJournal.awaitRoom(store: self)
        } else {
            // Per-person caps count the person's earlier issues, found through their decisions.
            let person = (candidates + fallback).contains(where: { $0.0.offer.capPerPerson != nil }) ? try await decisionsOf(subjectId, alias: "d") : nil
            made = try await committer(for: subjectId).submit { connection -> Decision in
                // Caps are counted inside the transaction that issues, with the offer rows locked on
                // PostgreSQL, so concurrent decisions cannot both take the last one.
                func pick(_ list: [(CatalogOffer, Because?)]) throws -> [(CatalogOffer, Because?)] {
                    var out = [(CatalogOffer, Because?)]()
                    for (entry, because) in list where out.count < limit {
                        let offer = entry.offer, id = offer.id ?? ""
                        if entry.capped {
                            _ = try connection.queryOne("SELECT id FROM offers WHERE id = ?\(dialect.forUpdate)", .text(id))
                        }
                        if let cap = offer.capTotal, try connection.queryOne(
                            "SELECT issued FROM offer_issue_counts WHERE offer_id = ?", .text(id))?.int(0) ?? 0 >= Int64(cap) { continue }
                        // The person's decisions that issued this offer.
                        if let cap = offer.capPerPerson, let person, try connection.query(
                            "SELECT count(*) FROM decisions d WHERE \(person.sql) AND \(dialect.jsonArrayContains("d.offers"))",
                            person.arguments + [.text(id)]).first?.int(0) ?? 0 >= Int64(cap) { continue }
                        out.append((entry, because))
                    }
                    return out
                }
                var chosen = try pick(candidates)
                let personalized = !chosen.isEmpty
                if !personalized { chosen = try pick(fallback) }
                let at = self.now
                try self.record(entry(chosen, personalized: personalized, at: at), connection)
                return decision(chosen, personalized: personalized, at: at)
            }
        }
        countOfferRecord(made.offers.map(\.offerId), trials: 1)
        return made
    }

    /// Writes one decision's log: the decision (with the offers it issued, and its audit entry) and the offers' issue counts.
    func record(_ entry: DecisionJournal.Entry, _ connection: SQLConnection) throws {
        try record([entry], connection)
    }

    /// How long before its decision a person's erasure is still looked for when the decision is logged:
    /// a decision is made for a person erased already only when this node had not heard of the erasure
    /// yet (another process's, within one outbox poll), and clocks of processes writing one database agree.
    static let erasureLookback: Int64 = 5 * 60 * 1_000

    /// Writes a batch of decision logs. An entry whose person was erased by the time it is written keeps
    /// the decision for lift, without them. Decide logs a person already erased without their id; what
    /// is left are erasures since the decisions were made, which one query over the few recent erasures
    /// finds (`subjects_by_erased_at`). Looking up every person of the batch instead read one random page
    /// of `subjects` per decision (1M people, 64 clients: p99 7.2–7.7 → 6.0–6.4 ms).
    func record(_ entries: [DecisionJournal.Entry], _ connection: SQLConnection) throws {
        guard let oldest = entries.map(\.at).min() else { return }
        let erased = Set(try connection.query("SELECT id FROM subjects WHERE erased_at >= ?", [.int(oldest - Self.erasureLookback)]).map { $0.text(0) })
        // A decision is its own audit entry (`Migrations.decisionAuditV1`), numbered in the audit log's sequence.
        var auditIds = try reserveAuditIds(connection, entries.count).makeIterator()
        var decisions = [[SQLValue]](), issued = [String: Int64]()
        for entry in entries {
            let subjectId = erased.contains(entry.subjectId) ? "" : entry.subjectId
            let audit = auditRow(entry.principal, action: "decision.make", purpose: entry.purpose, fields: entry.fields, outcome: entry.outcome, at: entry.at)
            decisions.append([.text(entry.id), .text(subjectId), .text(entry.placement), .text(entry.arm),
                              .text(JSONValue.array(entry.offerIds.map(JSONValue.string)).jsonText), .int(entry.at),
                              .int(auditIds.next()), .text(audit.actor), .text(audit.team), .text(audit.purpose), .text(audit.fields), .text(audit.outcome)])
            for offerId in entry.offerIds { issued[offerId, default: 0] += 1 }
        }
        try SQLList.insert(connection, "INSERT INTO decisions (id, subject_id, placement, arm, offers, created_at, audit_id, actor, team, purpose, fields, outcome) VALUES ",
                           tuple: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows: decisions)
        // One count per offer and batch. In the same order on every node, so PostgreSQL transactions
        // that raise several counts wait for each other instead of deadlocking.
        for (offerId, count) in issued.sorted(by: { $0.key < $1.key }) {
            try connection.execute(
                """
                INSERT INTO offer_issue_counts (offer_id, issued) VALUES (?, ?)
                ON CONFLICT (offer_id) DO UPDATE SET issued = offer_issue_counts.issued + excluded.issued
                """, .text(offerId), .int(count))
        }
    }

    // MARK: - Outcomes and lift

    /// Records an impression, click or conversion of an offer in a decision (once per type).
    public func recordOutcome(decisionId: String, _ input: OutcomeInput, by principal: Principal) async throws -> Outcome {
        guard Self.outcomeTypes.contains(input.type) else { throw CandorError.invalid("type", "must be impression, click or conversion") }
        guard let issued = try await decisionRecord(decisionId)?.offerIds else { throw CandorError(.notFound, "no decision '\(decisionId)'") }
        let offerId: String
        if let wanted = input.offerId {
            guard issued.contains(wanted) else { throw CandorError.invalid("offer_id", "offer '\(wanted)' was not part of this decision") }
            offerId = wanted
        } else {
            guard let first = issued.first else { throw CandorError.invalid("offer_id", "this decision issued no offers") }
            offerId = first
        }
        let at = now
        let recorded = try await committer.submit { connection in
            try connection.queryOne("INSERT INTO outcomes (decision_id, offer_id, type, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING decision_id",
                                   .text(decisionId), .text(offerId), .text(input.type), .int(at)) != nil
        }
        if recorded, input.type == "conversion" { countOfferRecord([offerId], successes: 1) }
        return Outcome(decisionId: decisionId, offerId: offerId, type: input.type, recordedAt: Timestamp.rfc3339(at))
    }

    /// Conversion of personalized versus holdout decisions, with Newcombe's 95% interval for the difference.
    public func liftReport(offerId: String? = nil) async throws -> LiftReport {
        try await decisionJournal.flush(store: self)
        let dialect = database.dialect
        let groups = try await database.read { connection in
            var sql = """
                SELECT d.arm, count(*), sum(CASE WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.decision_id = d.id AND o.type = 'conversion') THEN 1 ELSE 0 END)
                FROM decisions d WHERE d.arm IN ('personalized', 'holdout')
                """
            var args = [SQLValue]()
            if let offerId {
                sql += " AND \(dialect.jsonArrayContains("d.offers"))"
                args.append(.text(offerId))
            }
            return try connection.query(sql + " GROUP BY d.arm", args).reduce(into: [String: ConversionGroup]()) {
                $0[$1.text(0)] = ConversionGroup(decisions: Int($1.int(1)), conversions: Int($1.int(2)))
            }
        }
        let p = groups["personalized"] ?? ConversionGroup(decisions: 0, conversions: 0)
        let h = groups["holdout"] ?? ConversionGroup(decisions: 0, conversions: 0)
        func group(_ g: ConversionGroup) -> LiftReport.Group {
            let (low, high) = Lift.wilson(g)
            return .init(decisions: g.decisions, conversions: g.conversions, rate: g.rate, low: low, high: high)
        }
        let d = Lift.difference(p, h)
        return LiftReport(personalized: group(p), holdout: group(h), difference: d.difference, differenceLow: d.low, differenceHigh: d.high, confidence: 0.95)
    }
}

extension Decision {
    /// The same JSON `CandorJSON.encode` writes for a decision (sorted keys, absent optionals left out),
    /// written straight into bytes: Foundation's generic encoder, and even building a `JSONValue` tree
    /// and writing it as a `String`, took about as much of a decision's time as deciding did.
    public var jsonBytes: [UInt8] {
        var out = JSONBytes()
        out.raw("{\"arm\":"); out.string(arm)
        out.raw(",\"decided_at\":"); out.string(decidedAt)
        out.raw(",\"decision_id\":"); out.string(decisionId)
        out.raw(",\"offers\":[")
        for (index, offer) in offers.enumerated() {
            if index > 0 { out.raw(",") }
            out.raw("{")
            if let because = offer.because {
                out.raw("\"because\":{\"consent\":{\"legal_basis\":"); out.string(because.consent.legalBasis)
                if let notice = because.consent.noticeVersion { out.raw(",\"notice_version\":"); out.number(notice) }
                out.raw(",\"purpose\":"); out.string(because.consent.purpose)
                out.raw("},\"facts\":[")
                for (index, fact) in because.facts.enumerated() {
                    out.raw(index > 0 ? ",{" : "{")
                    if let point = fact.collectionPoint { out.raw("\"collection_point\":"); out.string(point); out.raw(",") }
                    out.raw("\"declared_at\":"); out.string(fact.declaredAt)
                    out.raw(",\"field\":"); out.string(fact.field)
                    out.raw(",\"source\":"); out.string(fact.source)
                    out.raw(",\"value\":"); fact.value.write(into: &out.bytes)
                    out.raw("}")
                }
                out.raw("]},")
            }
            out.raw("\"body\":"); out.string(offer.body)
            if let pool = offer.incentivePool { out.raw(",\"incentive_pool\":"); out.string(pool) }
            out.raw(",\"locale\":"); out.string(offer.locale)
            out.raw(",\"offer_id\":"); out.string(offer.offerId)
            out.raw(",\"priority\":"); out.number(offer.priority)
            if let route = offer.route {
                out.raw(",\"route\":{")
                var first = true
                for (key, value) in [("advisor", route.advisor), ("article", route.article), ("queue", route.queue)] {
                    guard let value else { continue }
                    if !first { out.raw(",") }
                    first = false
                    out.string(key); out.raw(":"); out.string(value)
                }
                out.raw("}")
            }
            out.raw(",\"title\":"); out.string(offer.title)
            out.raw("}")
        }
        out.raw("],\"personalized\":"); out.raw(personalized ? "true" : "false")
        out.raw(",\"placement\":"); out.string(placement)
        out.raw("}")
        return out.bytes
    }
}

/// JSON written into bytes, with strings escaped exactly as `JSONValue.jsonText` (and so
/// `CandorJSON.encode`) escapes them; runs that need no escaping are copied whole.
struct JSONBytes {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1024) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func number(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func string(_ text: String) {
        FastJSON.writeString(text, into: &bytes)
    }
}

extension Migrations {
    /// A decision's audit entry is kept on the decision's row instead of a row of `audit_log`: who decided
    /// (`actor`, `team`), for which `purpose`, which `fields` of the person it used and the `outcome`,
    /// numbered by `audit_id` in the audit log's own sequence. The audit log reads both tables as one
    /// (`CandorStore.auditLog`). An `audit_log` row cost a decision six B-tree inserts (the row and five
    /// indexes); on the decision's row it costs at most two: `decisions_by_audit_id`, and for a personalized
    /// decision `decisions_by_use`, which serves the report's purposes in use as `audit_purpose_use` does
    /// for the log. Decisions logged before keep their `audit_log` rows and no `audit_id`.
    static let decisionAuditV1 = Migration(
        name: "decision_audit_v1",
        sqlite: [
            "ALTER TABLE decisions ADD COLUMN audit_id INTEGER",
            "ALTER TABLE decisions ADD COLUMN actor TEXT",
            "ALTER TABLE decisions ADD COLUMN team TEXT",
            "ALTER TABLE decisions ADD COLUMN purpose TEXT",
            "ALTER TABLE decisions ADD COLUMN fields TEXT",
            "ALTER TABLE decisions ADD COLUMN outcome TEXT",
            "CREATE INDEX decisions_by_audit_id ON decisions (audit_id) WHERE audit_id IS NOT NULL",
            "CREATE INDEX decisions_by_use ON decisions (team, actor, purpose, created_at) WHERE purpose IS NOT NULL",
        ],
        postgres: [
            "ALTER TABLE decisions ADD COLUMN audit_id BIGINT",
            "ALTER TABLE decisions ADD COLUMN actor TEXT",
            "ALTER TABLE decisions ADD COLUMN team TEXT",
            "ALTER TABLE decisions ADD COLUMN purpose TEXT",
            "ALTER TABLE decisions ADD COLUMN fields TEXT",
            "ALTER TABLE decisions ADD COLUMN outcome TEXT",
            "CREATE INDEX decisions_by_audit_id ON decisions (audit_id) WHERE audit_id IS NOT NULL",
            "CREATE INDEX decisions_by_use ON decisions (team, actor, purpose, created_at) WHERE purpose IS NOT NULL",
        ])

    /// Offer issues become one count per offer. A decision already names the offers it issued (`decisions.offers`),
    /// so a row per issued offer, with two indexes, repeated it: three B-tree inserts per offer issued, a
    /// quarter of a logged decision's. What read them reads the decisions instead (a person's issues, lift
    /// by offer) or the count (total caps, Thompson sampling's trials), which a batch of decisions raises
    /// once per offer. The table's rows are counted into the new one, then dropped.
    static let offerIssueCountsV1 = Migration(
        name: "offer_issue_counts_v1",
        sqlite: [
            "CREATE TABLE offer_issue_counts (offer_id TEXT PRIMARY KEY, issued INTEGER NOT NULL)",
            "INSERT INTO offer_issue_counts (offer_id, issued) SELECT offer_id, count(*) FROM offer_issues GROUP BY offer_id",
            "DROP TABLE offer_issues",
        ],
        postgres: [
            "CREATE TABLE offer_issue_counts (offer_id TEXT PRIMARY KEY, issued BIGINT NOT NULL)",
            "INSERT INTO offer_issue_counts (offer_id, issued) SELECT offer_id, count(*) FROM offer_issues GROUP BY offer_id",
            "DROP TABLE offer_issues",
        ])

    /// The erased people, by when: the decision log asks which of its batch's people were erased since
    /// their decisions (`CandorStore.record`). Partial, so it holds only the erased.
    static let subjectsByErasedAtV1 = Migration(
        name: "subjects_by_erased_at_v1",
        sqlite: ["CREATE INDEX subjects_by_erased_at ON subjects (erased_at) WHERE erased_at IS NOT NULL"],
        postgres: ["CREATE INDEX subjects_by_erased_at ON subjects (erased_at) WHERE erased_at IS NOT NULL"])

    /// SQLite finds a person's decisions through `DecisionOwners` (memory) instead of an index on disk:
    /// the index put every logged decision on a random leaf page. PostgreSQL keeps its index.
    static let decisionOwnersInMemoryV1 = Migration(
        name: "decision_owners_in_memory_v1",
        sqlite: ["DROP INDEX decisions_by_subject"],
        postgres: [])

    /// A decision's audit row names the decision (`decision_id`) instead of the person. Every logged
    /// decision wrote one random leaf of `audit_by_subject (subject_id, at)`; rows without a subject sort
    /// together at one end of it, so now it grows there. The person is found through the decision, whose
    /// `decisions_by_subject` entry is written anyway: the audit log read by person (`auditLog`) takes
    /// the rows that name them and the rows of their decisions. An erasure strips the person from their
    /// decisions, and so from these rows too. At 1M people, with the index dropped by hand as a trial:
    /// decide 12,000 → 14,300/s, p99 50 → 27 ms. Rows written before keep their `subject_id`.
    static let auditDecisionRefV1 = Migration(
        name: "audit_decision_ref_v1",
        sqlite: [
            "ALTER TABLE audit_log ADD COLUMN decision_id TEXT",
            "CREATE INDEX audit_by_decision ON audit_log (decision_id) WHERE decision_id IS NOT NULL",
        ],
        postgres: [
            "ALTER TABLE audit_log ADD COLUMN decision_id TEXT",
            "CREATE INDEX audit_by_decision ON audit_log (decision_id) WHERE decision_id IS NOT NULL",
        ])

    /// Offer issues indexed by offer and by decision instead of by offer and person. Every logged
    /// decision wrote one random leaf of `(offer_id, subject_id)` per offer it issued — most of the
    /// decision journal's page writes at a million people. `(offer_id)` grows at the end of each
    /// offer's range and `(decision_id)` at the end (time-ordered ids); a person's issues are found
    /// through `decisions_by_subject`.
    static let offerIssuesByDecisionV1 = Migration(
        name: "offer_issues_by_decision_v1",
        sqlite: [
            "CREATE INDEX offer_issues_by_offer_only ON offer_issues (offer_id)",
            "CREATE INDEX offer_issues_by_decision ON offer_issues (decision_id)",
            "DROP INDEX offer_issues_by_offer",
        ],
        postgres: [
            "CREATE INDEX offer_issues_by_offer_only ON offer_issues (offer_id)",
            "CREATE INDEX offer_issues_by_decision ON offer_issues (decision_id)",
            "DROP INDEX offer_issues_by_offer",
        ])
}
