import CandorCore
import Foundation

/// Everything Candor holds about one person (GDPR Art. 15 and 20, CCPA §1798.110): the answer to an
/// access or portability request. Not purpose-gated — it is the person's own right — and documented
/// as JSON Schema in `docs/export-schema.json`.
public struct SubjectExport: Codable, Sendable {
    /// The person's identifiers, decrypted.
    public struct Identity: Codable, Sendable {
        public var id: String
        public var externalId: String?
        public var email: String?
        public var status: SubjectStatus
        public var createdAt: String
        public var updatedAt: String

        enum CodingKeys: String, CodingKey {
            case id, email, status
            case externalId = "external_id"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    /// The person's standing choices about processing.
    public struct Flags: Codable, Sendable {
        /// Processing is restricted (GDPR Art. 18): kept, not used.
        public var restricted: Bool
        /// Objected to direct marketing (GDPR Art. 21).
        public var objectedToDirectMarketing: Bool
        /// Opted out of sale or sharing (CCPA §1798.120, GPC).
        public var optedOutOfSale: Bool

        enum CodingKeys: String, CodingKey {
            case restricted
            case objectedToDirectMarketing = "objected_to_direct_marketing"
            case optedOutOfSale = "opted_out_of_sale"
        }
    }

    /// One entry of the person's history, decrypted from their ledger chain.
    public struct Event: Codable, Sendable {
        public var seq: Int64
        public var kind: String
        public var recordedAt: String
        /// Who acted: an API key id, `subject` (the person through the portal) or `system`.
        public var actor: String
        public var declarationId: String?
        public var source: String?
        public var collectionPoint: String?
        public var method: String?
        public var values: [ValidatedValue]?
        public var consents: [ConsentChange]?
        public var externalId: String?
        public var email: String?
        /// The incentive code issued with a completed survey.
        public var code: String?

        enum CodingKeys: String, CodingKey {
            case seq, kind, actor, source, method, values, consents, email, code
            case recordedAt = "recorded_at"
            case declarationId = "declaration_id"
            case collectionPoint = "collection_point"
            case externalId = "external_id"
        }
    }

    /// One use of the person's data by a team, from the audit log.
    public struct Disclosure: Codable, Sendable {
        public var at: String
        public var team: String
        public var action: String
        public var purpose: String?
        public var fields: [String]

        enum CodingKeys: String, CodingKey { case at, team, action, purpose, fields }
    }

    public var subject: Identity
    /// field key → the current value with its provenance.
    public var values: [String: ProfileValue]
    public var consents: [ConsentView]
    public var history: [Event]
    public var sharedWith: [Disclosure]
    public var flags: Flags
    public var generatedAt: String
    /// The surveys the person took part in (absent in exports made before surveys existed).
    public var surveys: [SurveyParticipation]?
    /// Incentive codes and content given to the person for completing surveys.
    public var incentives: [IssuedIncentive]?
    /// The in-page prompts the person was shown, dismissed or answered, and "don't ask me again".
    public var prompts: PersonPromptHistory?

    enum CodingKeys: String, CodingKey {
        case subject, values, consents, history, flags, surveys, incentives, prompts
        case sharedWith = "shared_with"
        case generatedAt = "generated_at"
    }
}

extension CandorStore {
    /// The audit actions that hand a person's data to someone: they make up `shared_with`.
    /// (`automation.email` and `automation.alert`: messages automations sent, with the fields they used.)
    static let disclosureActions = ["profile.read", "profile.list", "history.read", "consent.read", "subject.export", "prompt_history.read", "automation.email", "automation.alert"]

    /// Everything held about a person, decrypted. Audited as an export before it is handed out.
    /// A nil principal is the person themselves through the portal.
    public func exportSubject(subjectId: String, by principal: Principal?) async throws -> SubjectExport {
        let now = self.now
        let export = try await database.read { connection -> SubjectExport in
            guard let row = try connection.queryOne(
                "SELECT \(Self.subjectColumns), s.email_cipher FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id WHERE s.id = ?", .text(subjectId))
            else { throw CandorError(.notFound, "no subject '\(subjectId)'") }
            let subject = try self.subject(row)
            if subject.status == .erased { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            let key = try self.subjectKey(connection, subjectId)
            let email = row.isNull(11) ? nil : String(decoding: try SubjectCipher.open(row.blob(11), key: key, subjectId: subjectId), as: UTF8.self)
            var history = [SubjectExport.Event]()
            for entry in try self.ledgerEntries(connection, subjectId: subjectId) {
                let record = try CandorJSON.decode(LedgerRecord.self, from: SubjectCipher.open(entry.payload, key: key, subjectId: subjectId))
                history.append(SubjectExport.Event(
                    seq: entry.seq, kind: entry.kind, recordedAt: Timestamp.rfc3339(entry.createdAt), actor: record.actor,
                    declarationId: record.declarationId, source: record.source, collectionPoint: record.collectionPoint, method: record.method,
                    values: record.values, consents: record.consents, externalId: record.externalId, email: record.email, code: record.code))
            }
            let marks = Self.disclosureActions.map { _ in "?" }.joined(separator: ", ")
            let disclosures = try connection.query(
                "SELECT at, team, action, purpose, fields FROM audit_log WHERE subject_id = ? AND outcome = 'ok' AND action IN (\(marks)) ORDER BY id",
                [.text(subjectId)] + Self.disclosureActions.map(SQLValue.text)
            ).map { row in
                SubjectExport.Disclosure(at: Timestamp.rfc3339(row.int(0)), team: row.text(1), action: row.text(2), purpose: row.optionalText(3),
                                         fields: (try? CandorJSON.decode([String].self, from: row.text(4))) ?? [])
            }
            let taken = try self.surveyHistory(connection, subjectId: subjectId)
            return SubjectExport(
                subject: .init(id: subject.id, externalId: subject.externalId, email: email, status: subject.status,
                               createdAt: subject.createdAt, updatedAt: subject.updatedAt),
                values: try self.profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:],
                consents: try Self.consentRecords(connection, subjectId: subjectId, purpose: nil).map { ConsentView($0, now: now) },
                history: history, sharedWith: disclosures,
                flags: .init(restricted: subject.status == .restricted, objectedToDirectMarketing: subject.hasObjected, optedOutOfSale: subject.hasOptedOutOfSale),
                generatedAt: Timestamp.rfc3339(now), surveys: taken.surveys, incentives: taken.incentives,
                prompts: try self.personPromptHistory(connection, subjectId: subjectId))
        }
        // Durably audited before the data leaves, like every read of personal data.
        _ = try await committer(for: subjectId).submit { connection in
            try self.audit(connection, principal, action: "subject.export", subjectId: subjectId, fields: Array(export.values.keys), selfService: principal == nil)
        }
        return export
    }

    /// Corrects one value (GDPR Art. 16): a declaration with source `rectification`, citing the current
    /// notice of every purpose the field serves. An invalid value is refused naming `value`.
    public func rectify(subjectId: String, field fieldKey: String, value: JSONValue, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<DeclarationReceipt> {
        if let replayed: WriteOutcome<DeclarationReceipt> = try await replay(principal, idempotency) { return replayed }
        let registry = self.registry
        guard let field = registry.fields[fieldKey] else { throw CandorError.invalid("field", "unknown field '\(fieldKey)'") }
        if case .failure(let error) = DeclarationRules.normalize(value, for: field, path: "value") { throw CandorError.invalid([error]) }
        var notices = [String: Int]()
        for purpose in field.purposes {
            guard let version = registry.purposes[purpose]?.currentNoticeVersion else {
                throw CandorError.invalid("field", "purpose '\(purpose)' of field '\(fieldKey)' has no notice yet, so the field cannot be declared")
            }
            notices[purpose] = version
        }
        let input = DeclarationInput(values: [DeclaredValueInput(field: fieldKey, value: value)], notices: notices, source: DeclarationSource.rectification.rawValue)
        return try await declare(subjectId: subjectId, input, by: principal, selfService: principal == nil, idempotency: idempotency)
    }

    /// Objects to direct marketing (GDPR Art. 21(2)–(3)): absolute, so consent to every marketing purpose
    /// is withdrawn (method `objection`) and later grants are refused until the person lifts it.
    public func objectToDirectMarketing(subjectId: String, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Subject> {
        if let replayed: WriteOutcome<Subject> = try await replay(principal, idempotency) { return replayed }
        let marketing = registry.purposes.values.filter(\.isMarketing).map(\.key).sorted()
        return try await write(principal, idempotency: idempotency, status: 200, subjectId: subjectId) { connection -> Subject in
            let subject = try self.liveSubject(connection, subjectId)
            let held = try Self.consentRecords(connection, subjectId: subjectId, purpose: nil)
            let granted = Set(held.filter { $0.status == .granted }.map(\.purpose))
            // Repeating an objection changes nothing and records nothing.
            if !subject.hasObjected || marketing.contains(where: granted.contains) {
                let at = self.now
                // Every marketing purpose gets an explicit withdrawal, so the record shows the objection
                // covered it even where nothing was granted.
                let changes = marketing.map { ConsentChange(purpose: $0, status: .withdrawn, method: .objection, noticeVersion: nil, expiresAt: nil) }
                for change in changes { try Self.upsertConsent(connection, subjectId: subjectId, change, at: at) }
                try connection.execute("UPDATE subjects SET has_objected = 1, updated_at = ? WHERE id = ?", .int(at), .text(subjectId))
                _ = try self.appendLedger(connection, subjectId: subjectId, key: subject.key, head: subject.head, kind: "subject.objected",
                                          record: LedgerRecord(actor: Self.ledgerActor(principal, selfService: principal == nil), consents: changes, method: ConsentMethod.objection.rawValue))
                try self.audit(connection, principal, action: "subject.objected", subjectId: subjectId, selfService: principal == nil)
                // Recipients must be told (GDPR Art. 19).
                try self.emit(connection, type: "subject.objected", subjectId: subjectId, data: ["purposes": .array(marketing.map(JSONValue.string))], key: subject.key)
                for purpose in marketing where granted.contains(purpose) {
                    try self.emit(connection, type: "consent.withdrawn", subjectId: subjectId, data: ["purpose": .string(purpose), "method": .string("objection")], key: subject.key)
                }
            }
            return try self.currentSubject(connection, subjectId)
        }
    }

    /// Lifts an objection to direct marketing, so marketing purposes can be granted again (consents
    /// stay withdrawn until the person grants them anew).
    public func liftObjection(subjectId: String, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Subject> {
        if let replayed: WriteOutcome<Subject> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200, subjectId: subjectId) { connection -> Subject in
            let subject = try self.liveSubject(connection, subjectId)
            if subject.hasObjected {
                try connection.execute("UPDATE subjects SET has_objected = 0, updated_at = ? WHERE id = ?", .int(self.now), .text(subjectId))
                _ = try self.appendLedger(connection, subjectId: subjectId, key: subject.key, head: subject.head, kind: "subject.objection_lifted",
                                          record: LedgerRecord(actor: Self.ledgerActor(principal, selfService: principal == nil)))
                try self.audit(connection, principal, action: "subject.objection_lifted", subjectId: subjectId, selfService: principal == nil)
                try self.emit(connection, type: "subject.objection_lifted", subjectId: subjectId, data: [:])
            }
            return try self.currentSubject(connection, subjectId)
        }
    }

    /// Opts the person out of the sale or sharing of their data (CCPA §1798.120); `method` is `.gpc`
    /// when it came from a `Sec-GPC: 1` signal. Repeating it records nothing new.
    public func optOutOfSale(subjectId: String, method: ConsentMethod, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Subject> {
        if let replayed: WriteOutcome<Subject> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200, subjectId: subjectId) { connection -> Subject in
            let subject = try self.liveSubject(connection, subjectId)
            if !subject.hasOptedOutOfSale {
                try connection.execute("UPDATE subjects SET has_opted_out_of_sale = 1, updated_at = ? WHERE id = ?", .int(self.now), .text(subjectId))
                _ = try self.appendLedger(connection, subjectId: subjectId, key: subject.key, head: subject.head, kind: "subject.opted_out_of_sale",
                                          record: LedgerRecord(actor: Self.ledgerActor(principal, selfService: principal == nil), method: method.rawValue))
                try self.audit(connection, principal, action: "subject.opted_out_of_sale", subjectId: subjectId, selfService: principal == nil)
                try self.emit(connection, type: "subject.opted_out_of_sale", subjectId: subjectId, data: ["method": .string(method.rawValue)])
                // The first Global Privacy Control signal recorded for the person (automations start on it).
                if method == .gpc { try self.emit(connection, type: "gpc.received", subjectId: subjectId, data: [:]) }
            }
            return try self.currentSubject(connection, subjectId)
        }
    }

    /// Inside a transaction: the subject as stored now.
    func currentSubject(_ connection: SQLConnection, _ subjectId: String) throws -> Subject {
        guard let subject = try subjectRow(connection, subjectId) else { throw CandorError(.notFound, "no subject '\(subjectId)'") }
        return subject
    }
}
