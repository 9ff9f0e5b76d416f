import CandorCore
import Crypto
import Foundation

/// A saved segment: a named rule.
public struct Segment: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var rule: String
    public var createdAt: String
    /// How many people the rule selects now (filled in on reads).
    public var count: Int?

    enum CodingKeys: String, CodingKey {
        case id, name, rule, count
        case createdAt = "created_at"
    }
}

/// A request to save a segment.
public struct SegmentInput: Codable, Sendable {
    public var name: String
    public var rule: String

    public init(name: String, rule: String) {
        self.name = name
        self.rule = rule
    }
}

/// One member of a segment as a purpose sees them: only the fields that serve the purpose.
public struct SegmentMember: Codable, Sendable {
    public var subjectId: String
    public var values: [String: ProfileValue]

    enum CodingKeys: String, CodingKey {
        case values
        case subjectId = "subject_id"
    }
}

extension CandorStore {
    // MARK: - Feeding the index

    /// Called after a subject's write committed: the index takes the new projection before the writer
    /// is answered, so this node's counts are never behind its own writes.
    ///
    /// The write is already durable, so a failure here must not turn its answer into an error (the
    /// caller would retry a write that happened): the index is rebuilt on its next use instead.
    func noteSubjectChanged(_ subjectId: String) async throws {
        guard segmentFeeder.started.withLock({ $0 }) else { return }
        do {
            try await segmentFeeder.sync([subjectId], poll: false, store: self)
        } catch {
            logger.warning("segment index refresh failed; it will be rebuilt", metadata: ["error": "\(type(of: error))"])
        }
    }

    /// Rebuilds the segment index from the tables (after retention, which emits no events).
    func reloadSegmentIndex() async throws { try await segmentFeeder.reload(store: self) }

    /// Loads the index on first use, then returns it as it stands (other nodes' writes arrive by polling).
    func segmentIndex() async throws -> SegmentIndex {
        if !segmentFeeder.started.withLock({ let was = $0; $0 = true; return was }) || segmentFeeder.index.withLock({ $0.subjectCount == 0 }) {
            try await segmentFeeder.sync([], poll: false, store: self)
        }
        let purposes = registry.purposes, now = self.now
        return segmentFeeder.index.withLock { index in
            index.refreshPurposes(purposes, now: now)
            return index
        }
    }

    /// Applies everything other nodes wrote up to now (tests use it to skip waiting for the poll).
    public func catchUpSegmentIndex() async throws {
        _ = try await segmentIndex()
        try await segmentFeeder.sync([], poll: true, store: self)
    }

    /// Changes activation settings (holdout share, index polling interval).
    public func configureActivation(_ change: (inout ActivationSettings) -> Void) {
        activationSettings.withLock { change(&$0) }
    }

    /// The settings in force.
    public var activation: ActivationSettings { activationSettings.withLock { $0 } }

    /// Current projections of some subjects, read for the index and for decisions; erased or unknown ids are absent.
    func segmentProfiles(_ ids: [String]) async throws -> [String: SegmentProfile] {
        try await segmentProfiles(ids, withNewestEvents: false).profiles
    }

    /// Current projections of some subjects and, with `withNewestEvents`, the newest outbox event about
    /// each that the same read saw (the index feeder then knows which polled events it has already applied).
    func segmentProfiles(_ ids: [String], withNewestEvents: Bool) async throws -> (profiles: [String: SegmentProfile], newestEvents: [String: Int64]) {
        var profiles = [String: SegmentProfile](), newestEvents = [String: Int64]()
        for chunk in SQLList.chunks(ids) {
            let marks = SQLList.placeholders(chunk.count)
            let args = chunk.map(SQLValue.text)
            let (part, events) = try await database.read { connection -> ([String: SegmentProfile], [SQLRow]) in
                let part = try self.readProfiles(connection, where: "IN (\(marks))", args)
                guard withNewestEvents else { return (part, []) }
                return (part, try connection.query("SELECT subject_id, max(id) FROM outbox WHERE subject_id IN (\(marks)) GROUP BY subject_id", args))
            }
            profiles.merge(part) { $1 }
            for row in events { newestEvents[row.text(0)] = row.int(1) }
        }
        return (profiles, newestEvents)
    }

    /// Every live subject's projection (for the brute-force evaluator of the tests).
    func allSegmentProfiles() async throws -> [SegmentProfile] {
        var out = [SegmentProfile]()
        try await forEachSegmentProfilePage { out.append(contentsOf: $0) }
        return out
    }

    /// Every live subject's projection, a page of subjects at a time in id order, so that loading the
    /// index of a million people never holds more than one page of decoded values.
    func forEachSegmentProfilePage(size: Int = 5_000, _ body: ([SegmentProfile]) throws -> Void) async throws {
        var after = ""
        while true {
            let start = after
            let (last, page) = try await database.read { connection -> (String?, [SegmentProfile]) in
                let ids = try connection.query("SELECT id FROM subjects WHERE id > ? ORDER BY id LIMIT ?", [.text(start), .int(Int64(size))])
                guard let first = ids.first?.text(0), let last = ids.last?.text(0) else { return (nil, []) }
                return (last, Array(try self.readProfiles(connection, where: "BETWEEN ? AND ?", [.text(first), .text(last)]).values))
            }
            guard let last else { return }
            try body(page)
            after = last
        }
    }

    func readProfiles(_ connection: SQLConnection, where condition: String?, _ args: [SQLValue]) throws -> [String: SegmentProfile] {
        let filter = condition.map { " AND subject_id \($0)" } ?? ""
        var out = [String: SegmentProfile]()
        // The subject's wrapped key comes with its status (one query); it is unwrapped only if a sealed value needs it.
        var wrapped = [String: [UInt8]]()
        for row in try connection.query(
            "SELECT s.id, s.status, s.has_objected, k.wrapped_key FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id WHERE s.status <> 'erased'"
                + (condition.map { " AND s.id \($0)" } ?? ""), args)
        {
            out[row.text(0)] = SegmentProfile(subjectId: row.text(0), status: SubjectStatus(rawValue: row.text(1)) ?? .active, hasObjected: row.int(2) != 0, values: [:], consents: [:])
            if !row.isNull(3) { wrapped[row.text(0)] = row.blob(3) }
        }
        // Nobody (left) to read: an erased or unknown person costs one query, not three.
        if out.isEmpty { return out }
        var keys = [String: SymmetricKey]()
        for row in try connection.query("SELECT subject_id, field, value, declared_at, source, collection_point, sealed FROM profile_values WHERE 1 = 1" + filter, args) where out[row.text(0)] != nil {
            let subjectId = row.text(0)
            if keys[subjectId] == nil, !row.isNull(6), let key = wrapped[subjectId] { keys[subjectId] = try secrets.unwrapSubjectKey(key, subjectId: subjectId) }
            let json = try Self.openValue(clear: row.text(2), sealed: row.isNull(6) ? nil : row.blob(6), key: keys[subjectId], subjectId: subjectId)
            out[subjectId]!.values[row.text(1)] = DeclaredFact(
                field: row.text(1), value: try JSONValue.decoding(json), declaredAt: row.int(3), source: row.text(4), collectionPoint: row.optionalText(5))
        }
        for row in try connection.query("SELECT subject_id, purpose, status, method, notice_version, updated_at, expires_at FROM consents WHERE 1 = 1" + filter, args) where out[row.text(0)] != nil {
            out[row.text(0)]!.consents[row.text(1)] = ConsentRecord(
                purpose: row.text(1), status: ConsentStatus(rawValue: row.text(2)) ?? .withdrawn, method: ConsentMethod(rawValue: row.text(3)) ?? .api,
                noticeVersion: row.optionalInt(4).map(Int.init), updatedAt: row.int(5), expiresAt: row.optionalInt(6))
        }
        return out
    }

    // MARK: - Rules and counts

    /// Compiles a rule against the current registry; a failure is a 422 naming `field` with line and column.
    public func compileRule(_ rule: String, field: String = "rule") throws -> SegmentExpr {
        let registry = self.registry
        switch SegmentRule.compile(rule, fields: registry.fields, purposes: registry.purposes) {
        case .success(let expr): return expr
        case .failure(let error): throw CandorError.invalid([error.fieldError(field)])
        }
    }

    /// How many people a rule selects now, from the in-memory index.
    public func countSegment(rule: String) async throws -> Int {
        let expr = try compileRule(rule)
        let index = try await segmentIndex()
        return index.evaluate(expr, now: now).count
    }

    /// The people a compiled rule selects now (ids), from the index.
    public func segmentMembers(_ expr: SegmentExpr) async throws -> [String] {
        let index = try await segmentIndex()
        return index.subjectIds(index.evaluate(expr, now: now))
    }

    // MARK: - Saved segments

    /// Saves a named segment; a rule that does not compile is refused and nothing is written.
    public func createSegment(_ input: SegmentInput, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Segment> {
        if let replayed: WriteOutcome<Segment> = try await replay(principal, idempotency) { return replayed }
        var errors = [FieldError]()
        if input.name.isEmpty || input.name.count > 100 { errors.append(FieldError("name", "must be 1 to 100 characters")) }
        if case .failure(let error) = SegmentRule.compile(input.rule, fields: registry.fields, purposes: registry.purposes) { errors.append(error.fieldError("rule")) }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
        let segment = Segment(id: Identifier.make("seg"), name: input.name, rule: input.rule, createdAt: Timestamp.rfc3339(now))
        var saved = try await write(principal, idempotency: idempotency, status: 201) { connection -> Segment in
            if try connection.queryOne("SELECT id FROM segments WHERE name = ?", .text(input.name)) != nil {
                throw CandorError(.conflict, "a segment named '\(input.name)' exists", errors: [FieldError("name", "already used by another segment")])
            }
            try connection.execute("INSERT INTO segments (id, name, rule, created_at) VALUES (?, ?, ?, ?)", .text(segment.id), .text(segment.name), .text(segment.rule), .int(self.now))
            try self.audit(connection, principal, action: "segment.create", outcome: segment.id)
            return segment
        }
        invalidateActivationCatalog()
        if case .fresh(var fresh) = saved {
            fresh.count = try await countSegment(rule: fresh.rule)
            saved = .fresh(fresh)
        }
        return saved
    }

    /// Saved segments with their live counts. A rule that no longer compiles (a field was removed) counts nobody.
    public func segments() async throws -> [Segment] {
        let rows = try await database.read { connection in
            try connection.query("SELECT id, name, rule, created_at FROM segments ORDER BY name", []).map {
                Segment(id: $0.text(0), name: $0.text(1), rule: $0.text(2), createdAt: Timestamp.rfc3339($0.int(3)))
            }
        }
        let index = try await segmentIndex()
        return rows.map { segment in
            var segment = segment
            segment.count = (try? compileRule(segment.rule)).map { index.evaluate($0, now: now).count } ?? 0
            return segment
        }
    }

    /// One saved segment with its live count.
    public func segment(_ id: String) async throws -> Segment {
        let found = try await database.read { connection in
            try connection.queryOne("SELECT id, name, rule, created_at FROM segments WHERE id = ?", .text(id)).map {
                Segment(id: $0.text(0), name: $0.text(1), rule: $0.text(2), createdAt: Timestamp.rfc3339($0.int(3)))
            }
        }
        guard var found else { throw CandorError(.notFound, "no segment '\(id)'") }
        found.count = (try? await countSegment(rule: found.rule)) ?? 0
        return found
    }

    /// Members of a saved segment for a purpose: only people the purpose gate lets through (consented,
    /// unrestricted, not objecting), each with only the fields serving the purpose; ordered by subject
    /// id, one page at a time, and audited with the fields shown.
    public func members(ofSegment id: String, purpose purposeKey: String, cursor: String?, limit: Int, by principal: Principal) async throws -> Page<SegmentMember> {
        let segment = try await self.segment(id)
        let registry = self.registry
        guard let purpose = registry.purposes[purposeKey] else { throw CandorError.invalid("Candor-Purpose", "unknown purpose '\(purposeKey)'") }
        let expr = SegmentExpr.and(try compileRule(segment.rule), .consent(purpose: purposeKey))
        let candidates = try await segmentMembers(expr).sorted().filter { cursor == nil || $0 > cursor! }
        let allowed = PurposeGate.fieldKeys(serving: purposeKey, in: registry.fields.values)
        var page = [SegmentMember]()
        var rest = candidates[...]
        // The index may trail another node's write by a poll; each page is re-checked on fresh rows.
        while page.count < limit, !rest.isEmpty {
            let batch = Array(rest.prefix(limit - page.count))
            rest = rest.dropFirst(batch.count)
            let profiles = try await segmentProfiles(batch)
            let visibleIds = batch.filter { id in
                guard let p = profiles[id] else { return false }
                return SegmentEvaluator.matches(expr, p, purposes: registry.purposes, now: now)
                    && PurposeGate.visibility(for: purpose, status: p.status, hasObjected: p.hasObjected, consent: p.consents[purposeKey], now: now) == .visible
            }
            let values = try await database.read { try self.profileValues($0, subjectIds: visibleIds) }
            page += visibleIds.map { SegmentMember(subjectId: $0, values: (values[$0] ?? [:]).filter { allowed.contains($0.key) }) }
        }
        try await auditReads(principal, action: "segment.members", purpose: purposeKey,
                             views: page.map { ProfileView(subjectId: $0.subjectId, purpose: purposeKey, isVisible: true, withheldReason: nil, values: $0.values) })
        return Page(data: page, nextCursor: rest.isEmpty ? nil : page.last?.subjectId)
    }
}

extension CandorStore {
    /// The ids a rule selects according to the in-memory index.
    public func segmentMemberIds(rule: String) async throws -> Set<String> {
        Set(try await segmentMembers(try compileRule(rule)))
    }

    /// The ids a rule selects by reading every projection and running the reference evaluator: what the
    /// index must agree with (property tests) and the slow path it is measured against (bench).
    public func segmentMemberIdsByBruteForce(rule: String) async throws -> Set<String> {
        let expr = try compileRule(rule)
        let purposes = registry.purposes, now = self.now
        return Set(try await allSegmentProfiles().filter { SegmentEvaluator.matches(expr, $0, purposes: purposes, now: now) }.map(\.subjectId))
    }
}
