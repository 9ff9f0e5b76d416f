import CandorCore
import Crypto
import Foundation

extension CandorStore {
    // MARK: - Subjects

    /// Creates a subject with its own encryption key. An e-mail address is stored encrypted under that
    /// key and found through a keyed hash.
    public func createSubject(_ input: SubjectInput, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Subject> {
        if let replayed: WriteOutcome<Subject> = try await replay(principal, idempotency) { return replayed }
        try input.validate()
        let id = Identifier.make("sub")
        let emailHash = input.email.map(secrets.emailLookupHash)
        return try await write(principal, idempotency: idempotency, status: 201, subjectId: id) { connection -> Subject in
            if let externalId = input.externalId, let existing = try self.subjectIdForExternalId(connection, externalId) {
                throw CandorError(.conflict, "subject \(existing) already has this external_id", errors: [FieldError("external_id", "already belongs to a subject")])
            }
            if let emailHash, let row = try connection.queryOne("SELECT id FROM subjects WHERE email_hash = ?", .text(emailHash)) {
                throw CandorError(.conflict, "subject \(row.text(0)) already has this email", errors: [FieldError("email", "already belongs to a subject")])
            }
            let at = self.now
            let (key, wrapped) = try self.secrets.makeSubjectKey(subjectId: id)
            let emailCipher = try input.email.map { try SubjectCipher.seal(Data(ServerSecrets.normalizeEmail($0).utf8), key: key, subjectId: id) }
            let externalIdCipher = try input.externalId.map { try SubjectCipher.seal(Data($0.utf8), key: key, subjectId: id) }
            try connection.execute(
                """
                INSERT INTO subjects (id, external_id_hash, external_id_cipher, email_hash, email_cipher, status, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, 'active', ?, ?)
                """,
                .text(id), .text(input.externalId.map(self.secrets.externalIdLookupHash)), externalIdCipher.map(SQLValue.blob) ?? .null,
                .text(emailHash), emailCipher.map(SQLValue.blob) ?? .null, .int(at), .int(at))
            try connection.execute("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?, ?)", .text(id), .blob(wrapped))
            _ = try self.appendLedger(connection, subjectId: id, key: key, head: nil, kind: "subject.created",
                                      record: LedgerRecord(actor: principal?.key.id ?? "system", externalId: input.externalId, email: input.email.map(ServerSecrets.normalizeEmail)))
            try self.audit(connection, principal, action: "subject.create", subjectId: id)
            try self.emit(connection, type: "subject.created", subjectId: id, data: [:], key: key)
            return Subject(id: id, externalId: input.externalId, hasEmail: input.email != nil, status: .active,
                           createdAt: Timestamp.rfc3339(at), updatedAt: Timestamp.rfc3339(at))
        }
    }

    /// Finds a subject by external id or e-mail address; nil when there is none (or it was erased).
    public func findSubject(externalId: String?, email: String?, by principal: Principal) async throws -> Subject? {
        guard externalId != nil || email != nil else { throw CandorError.invalid("external_id", "give external_id or email") }
        let found = try await database.read { connection -> Subject? in
            let id: String?
            if let externalId { id = try self.subjectIdForExternalId(connection, externalId) } else {
                id = try connection.queryOne("SELECT id FROM subjects WHERE email_hash = ?", .text(self.secrets.emailLookupHash(email!)))?.text(0)
            }
            return try id.flatMap { try self.subjectRow(connection, $0) }
        }
        try await auditOnly(principal, action: "subject.lookup", subjectId: found?.id)
        return found
    }

    /// A subject by id; throws not found for an unknown id and gone for an erased one.
    public func subject(_ id: String) async throws -> Subject {
        let found = try await database.read { try self.subjectRow($0, id) }
        guard let found else { throw CandorError(.notFound, "no subject '\(id)'") }
        if found.status == .erased { throw CandorError(.gone, "subject '\(id)' was erased") }
        return found
    }

    /// The columns `subject(_:)` reads, from `subjects s` joined with `subject_keys k`.
    static let subjectColumns = """
        s.id, s.external_id, s.email_hash, s.status, s.created_at, s.updated_at, s.erased_at, s.has_objected, s.has_opted_out_of_sale, \
        s.external_id_cipher, k.wrapped_key
        """

    /// A subject by id with its external id opened, or nil.
    func subjectRow(_ connection: SQLConnection, _ id: String) throws -> Subject? {
        try connection.queryOne("SELECT \(Self.subjectColumns) FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id WHERE s.id = ?", .text(id))
            .map(subject)
    }

    /// A subject from a row of `subjectColumns` (the external id opened with the subject's key).
    func subject(_ row: SQLRow) throws -> Subject {
        let id = row.text(0)
        let key = row.isNull(10) ? nil : try secrets.unwrapSubjectKey(row.blob(10), subjectId: id)
        return Subject(
            id: id, externalId: try externalId(clear: row.optionalText(1), cipher: row.isNull(9) ? nil : row.blob(9), key: key, subjectId: id),
            hasEmail: !row.isNull(2), status: SubjectStatus(rawValue: row.text(3)) ?? .active,
            createdAt: Timestamp.rfc3339(row.int(4)), updatedAt: Timestamp.rfc3339(row.int(5)), erasedAt: row.optionalInt(6).map(Timestamp.rfc3339),
            hasObjected: row.int(7) != 0, hasOptedOutOfSale: row.int(8) != 0)
    }

    /// A subject about to be written, locked for the rest of the transaction.
    struct LiveSubject {
        var status: SubjectStatus
        var key: SymmetricKey
        var head: LedgerHead?
        var hasObjected = false
        var hasOptedOutOfSale = false
    }

    /// Inside a transaction: the subject's status, key and ledger head in one query, or the right error
    /// for an unknown or erased subject. With `key` (read and unwrapped before the transaction, see
    /// `writableSubjectKey`) the key is not read again: a live subject's key never changes.
    func liveSubject(_ connection: SQLConnection, _ id: String, key knownKey: SymmetricKey? = nil) throws -> LiveSubject {
        let keyColumn = knownKey == nil ? "k.wrapped_key" : "NULL"
        let keyJoin = knownKey == nil ? " LEFT JOIN subject_keys k ON k.subject_id = s.id" : ""
        guard let row = try connection.queryOne(
            """
            SELECT s.status, \(keyColumn), h.seq, h.hash, s.has_objected, s.has_opted_out_of_sale FROM subjects s\(keyJoin)
            LEFT JOIN ledger_heads h ON h.subject_id = s.id WHERE s.id = ?\(database.dialect.lockSubject)
            """, .text(id))
        else {
            throw CandorError(.notFound, "no subject '\(id)'")
        }
        let status = SubjectStatus(rawValue: row.text(0)) ?? .active
        if status == .erased { throw CandorError(.gone, "subject '\(id)' was erased") }
        let key: SymmetricKey
        if let knownKey { key = knownKey } else {
            guard !row.isNull(1) else { throw CandorStoreError.corrupt("subject \(id) has no key") }
            key = try secrets.unwrapSubjectKey(row.blob(1), subjectId: id)
        }
        let head = row.isNull(2) ? nil : LedgerHead(seq: row.int(2), hash: row.blob(3))
        return LiveSubject(status: status, key: key, head: head, hasObjected: row.int(4) != 0, hasOptedOutOfSale: row.int(5) != 0)
    }

    // MARK: - Declarations and consents

    /// Records a declaration of one or more values: projection, ledger entry, audit and event in one
    /// durable transaction. Validation happens first, so bad input writes nothing.
    public func declare(subjectId: String, _ input: DeclarationInput, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<DeclarationReceipt> {
        try await declare(subjectId: subjectId, input, by: principal, selfService: false, idempotency: idempotency)
    }

    /// `declare`, naming the person as the actor when `selfService` and no principal (a portal correction).
    ///
    /// Everything that needs no lock — the subject's key, sealing the values, encoding and sealing the
    /// ledger payload and the event — is done before the write, in parallel with other requests; the
    /// transaction, which every write in the process waits on, only chains the ledger entry and runs SQL.
    func declare(subjectId: String, _ input: DeclarationInput, by principal: Principal?, selfService: Bool, idempotency: IdempotencyRequest?) async throws -> WriteOutcome<DeclarationReceipt> {
        if let replayed: WriteOutcome<DeclarationReceipt> = try await replay(principal, idempotency) { return replayed }
        let registry = self.registry
        let values = try DeclarationRules.validate(input, fields: registry.fields, purposes: registry.purposes).get()
        let key = try await writableSubjectKey(subjectId)
        let prepared = try prepareDeclaration(subjectId: subjectId, key: key, values: values, input: input, source: input.source ?? "api",
                                              by: principal, selfService: selfService)
        return try await write(principal, idempotency: idempotency, status: 201, subjectId: subjectId) { connection -> DeclarationReceipt in
            let subject = try self.liveSubject(connection, subjectId, key: key)
            return try self.applyDeclaration(connection, subjectId: subjectId, head: subject.head, prepared)
        }
    }

    /// Inside a transaction, on a locked live subject: the projection, ledger entry, audit row and event
    /// of validated values (the one write path of every declaration: API, portal, surveys, automations).
    func recordDeclaration(_ connection: SQLConnection, subjectId: String, subject: LiveSubject, values: [ValidatedValue], input: DeclarationInput,
                           source: String, by principal: Principal?, selfService: Bool) throws -> DeclarationReceipt {
        let prepared = try prepareDeclaration(subjectId: subjectId, key: subject.key, values: values, input: input, source: source,
                                              by: principal, selfService: selfService)
        return try applyDeclaration(connection, subjectId: subjectId, head: subject.head, prepared)
    }

    /// A declaration's rows, sealed and encoded, ready for `applyDeclaration`.
    struct PreparedDeclaration: Sendable {
        struct ValueRow: Sendable {
            var field: String
            /// nil clears the field (a declared null).
            var sealed: [UInt8]?
            var notices: String
        }
        var declarationId: String
        var at: Int64
        var source: String
        var collectionPoint: String?
        var values: [ValidatedValue]
        var rows: [ValueRow]
        var ledger: SealedLedgerEntry
        var audit: AuditRow
        var event: OutboxRow
    }

    /// Builds and seals a declaration's rows under the subject's key; touches no database.
    func prepareDeclaration(subjectId: String, key: SymmetricKey, values: [ValidatedValue], input: DeclarationInput, source: String,
                            by principal: Principal?, selfService: Bool) throws -> PreparedDeclaration {
        let declarationId = Identifier.make("dcl")
        let at = self.now
        let rows = try values.map { value in
            PreparedDeclaration.ValueRow(
                field: value.field, sealed: value.value == .null ? nil : try Self.sealValue(value.value.jsonText, key: key, subjectId: subjectId),
                notices: JSONValue.object(value.notices.mapValues { .number(Double($0)) }).jsonText)
        }
        let ledger = try sealLedgerEntry(subjectId: subjectId, key: key, kind: "declaration", record: LedgerRecord(
            actor: Self.ledgerActor(principal, selfService: selfService), declarationId: declarationId, values: values, source: source,
            collectionPoint: input.collectionPoint), at: at)
        let audit = auditRow(principal, action: source == DeclarationSource.rectification.rawValue ? "declaration.rectify" : "declaration.create",
                             subjectId: subjectId, fields: values.map(\.field), selfService: selfService, at: at)
        let event = try outboxRow(type: "declaration.recorded", subjectId: subjectId, data: [
            "declaration_id": .string(declarationId),
            "values": .array(values.map { .object(["field": .string($0.field), "value": $0.value]) }),
        ], key: key, at: at)
        return PreparedDeclaration(declarationId: declarationId, at: at, source: source, collectionPoint: input.collectionPoint, values: values,
                                   rows: rows, ledger: ledger, audit: audit, event: event)
    }

    /// Inside a transaction, on a locked live subject whose ledger head is `head`: writes a prepared declaration.
    func applyDeclaration(_ connection: SQLConnection, subjectId: String, head: LedgerHead?, _ prepared: PreparedDeclaration) throws -> DeclarationReceipt {
        for row in prepared.rows {
            if let sealed = row.sealed {
                try connection.execute(
                    """
                    INSERT INTO profile_values (subject_id, field, value, sealed, declared_at, declaration_id, source, collection_point, notices)
                    VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (subject_id, field) DO UPDATE SET value = excluded.value, sealed = excluded.sealed, declared_at = excluded.declared_at,
                      declaration_id = excluded.declaration_id, source = excluded.source, collection_point = excluded.collection_point,
                      notices = excluded.notices
                    """,
                    .text(subjectId), .text(row.field), .blob(sealed), .int(prepared.at), .text(prepared.declarationId),
                    .text(prepared.source), .text(prepared.collectionPoint), .text(row.notices))
            } else {
                try connection.execute("DELETE FROM profile_values WHERE subject_id = ? AND field = ?", .text(subjectId), .text(row.field))
            }
        }
        let ledger = try appendLedger(connection, subjectId: subjectId, head: head, prepared.ledger)
        try insertAudit(connection, prepared.audit)
        try insertOutbox(connection, prepared.event)
        return DeclarationReceipt(
            declarationId: prepared.declarationId, subjectId: subjectId, recordedAt: Timestamp.rfc3339(prepared.at), source: prepared.source,
            collectionPoint: prepared.collectionPoint, values: prepared.values, ledger: ledger)
    }

    /// Grants or withdraws consent for one or more purposes; `selfService` names the person as the actor
    /// when there is no principal (the preference center).
    public func setConsents(subjectId: String, _ inputs: [ConsentInput], by principal: Principal?, selfService: Bool = false, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<ConsentReceipt> {
        if let replayed: WriteOutcome<ConsentReceipt> = try await replay(principal, idempotency) { return replayed }
        let purposes = registry.purposes
        let changes = try ConsentRules.validate(inputs, purposes: purposes, now: now).get()
        return try await write(principal, idempotency: idempotency, status: 201, subjectId: subjectId) { connection -> ConsentReceipt in
            let subject = try self.liveSubject(connection, subjectId)
            // An objection to direct marketing is absolute until the person lifts it (GDPR Art. 21(3)),
            // so a grant of a marketing purpose cannot quietly undo it.
            if subject.hasObjected {
                let refused = changes.enumerated().filter { $0.element.status == .granted && purposes[$0.element.purpose]?.isMarketing == true }
                if !refused.isEmpty {
                    throw CandorError(.conflict, "the subject objected to direct marketing; marketing purposes cannot be granted until the objection is lifted",
                                      errors: refused.map { FieldError("consents[\($0.offset)].status", "purpose '\($0.element.purpose)' is a marketing purpose and the subject objected") })
                }
            }
            let at = self.now
            var views = [ConsentView]()
            for change in changes {
                try Self.upsertConsent(connection, subjectId: subjectId, change, at: at)
                views.append(ConsentView(ConsentRecord(purpose: change.purpose, status: change.status, method: change.method,
                                                       noticeVersion: change.noticeVersion, updatedAt: at, expiresAt: change.expiresAt), now: at))
            }
            let ledger = try self.appendLedger(connection, subjectId: subjectId, key: subject.key, head: subject.head, kind: "consent", record: LedgerRecord(actor: Self.ledgerActor(principal, selfService: selfService), consents: changes))
            try self.audit(connection, principal, action: "consent.change", subjectId: subjectId, selfService: selfService)
            for change in changes {
                try self.emit(connection, type: change.status == .granted ? "consent.granted" : "consent.withdrawn", subjectId: subjectId, data: [
                    "purpose": .string(change.purpose), "method": .string(change.method.rawValue),
                ], key: subject.key)
            }
            return ConsentReceipt(subjectId: subjectId, recordedAt: Timestamp.rfc3339(at), consents: views, ledger: ledger)
        }
    }

    // MARK: - Purpose-gated reads

    /// The subject's current values that serve `purpose`, if the purpose gate lets this subject through.
    /// Audited with the fields that were shown.
    public func profile(subjectId: String, purpose purposeKey: String, by principal: Principal) async throws -> ProfileView {
        let registry = self.registry
        guard let purpose = registry.purposes[purposeKey] else { throw CandorError.invalid("Candor-Purpose", "unknown purpose '\(purposeKey)'") }
        let allowed = PurposeGate.fieldKeys(serving: purposeKey, in: registry.fields.values)
        let now = self.now
        let view = try await database.read { connection -> ProfileView in
            guard let row = try connection.queryOne("SELECT status, has_objected FROM subjects WHERE id = ?", .text(subjectId)) else {
                throw CandorError(.notFound, "no subject '\(subjectId)'")
            }
            let status = SubjectStatus(rawValue: row.text(0)) ?? .active
            let hasObjected = row.int(1) != 0
            if status == .erased { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            let consent = try Self.consentRecords(connection, subjectId: subjectId, purpose: purposeKey).first
            if case .withheld(let reason) = PurposeGate.visibility(for: purpose, status: status, hasObjected: hasObjected, consent: consent, now: now) {
                return ProfileView(subjectId: subjectId, purpose: purposeKey, isVisible: false, withheldReason: reason, values: [:])
            }
            let values = try self.profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:]
            return ProfileView(subjectId: subjectId, purpose: purposeKey, isVisible: true, withheldReason: nil, values: values.filter { allowed.contains($0.key) })
        }
        try await auditOnly(principal, action: "profile.read", purpose: purposeKey, subjectId: subjectId,
                            fields: Array(view.values.keys), outcome: view.withheldReason ?? "ok")
        return view
    }

    /// Subjects visible for a purpose, with their values for it, one page at a time (ordered by id).
    public func listProfiles(purpose purposeKey: String, cursor: String?, limit: Int, by principal: Principal) async throws -> Page<ProfileView> {
        let registry = self.registry
        guard let purpose = registry.purposes[purposeKey] else { throw CandorError.invalid("Candor-Purpose", "unknown purpose '\(purposeKey)'") }
        let allowed = PurposeGate.fieldKeys(serving: purposeKey, in: registry.fields.values)
        let now = self.now
        let after = cursor ?? ""
        let page = try await database.read { connection -> Page<ProfileView> in
            let rows: [SQLRow]
            // PurposeGate.visibility in SQL, so a page is found by index: active, consent where required,
            // and no objection when the purpose is marketing. The property tests hold the two together.
            let objection = purpose.isMarketing ? " AND s.has_objected = 0" : ""
            if purpose.legalBasis.requiresConsent {
                rows = try connection.query(
                    """
                    SELECT s.id FROM consents c JOIN subjects s ON s.id = c.subject_id
                    WHERE c.purpose = ? AND c.status = 'granted' AND (c.expires_at IS NULL OR c.expires_at > ?)
                      AND s.status = 'active'\(objection) AND c.subject_id > ? ORDER BY c.subject_id LIMIT ?
                    """, [.text(purposeKey), .int(now), .text(after), .int(Int64(limit + 1))])
            } else {
                rows = try connection.query("SELECT s.id FROM subjects s WHERE s.status = 'active'\(objection) AND s.id > ? ORDER BY s.id LIMIT ?", [.text(after), .int(Int64(limit + 1))])
            }
            let ids = rows.prefix(limit).map { $0.text(0) }
            let values = try self.profileValues(connection, subjectIds: ids)
            let views = ids.map { id in
                ProfileView(subjectId: id, purpose: purposeKey, isVisible: true, withheldReason: nil, values: (values[id] ?? [:]).filter { allowed.contains($0.key) })
            }
            return Page(data: views, nextCursor: rows.count > limit ? ids.last : nil)
        }
        try await auditReads(principal, action: "profile.list", purpose: purposeKey, views: page.data)
        return page
    }

    /// The subject's declarations of fields that serve `purpose`, newest first, decrypted from the ledger.
    public func history(subjectId: String, purpose purposeKey: String, by principal: Principal) async throws -> [HistoryItem] {
        let registry = self.registry
        guard let purpose = registry.purposes[purposeKey] else { throw CandorError.invalid("Candor-Purpose", "unknown purpose '\(purposeKey)'") }
        let allowed = PurposeGate.fieldKeys(serving: purposeKey, in: registry.fields.values)
        let now = self.now
        let items = try await database.read { connection -> [HistoryItem] in
            guard let row = try connection.queryOne("SELECT status, has_objected FROM subjects WHERE id = ?", .text(subjectId)) else {
                throw CandorError(.notFound, "no subject '\(subjectId)'")
            }
            let status = SubjectStatus(rawValue: row.text(0)) ?? .active
            let hasObjected = row.int(1) != 0
            if status == .erased { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            let consent = try Self.consentRecords(connection, subjectId: subjectId, purpose: purposeKey).first
            guard PurposeGate.visibility(for: purpose, status: status, hasObjected: hasObjected, consent: consent, now: now) == .visible else { return [] }
            let key = try self.subjectKey(connection, subjectId)
            var items = [HistoryItem]()
            for entry in try self.ledgerEntries(connection, subjectId: subjectId) where entry.kind == "declaration" {
                let record = try CandorJSON.decode(LedgerRecord.self, from: SubjectCipher.open(entry.payload, key: key, subjectId: subjectId))
                let values = (record.values ?? []).filter { allowed.contains($0.field) }
                if values.isEmpty { continue }
                items.append(HistoryItem(seq: entry.seq, kind: entry.kind, recordedAt: Timestamp.rfc3339(entry.createdAt), declarationId: record.declarationId,
                                         source: record.source, collectionPoint: record.collectionPoint, values: values, consents: nil))
            }
            return items.reversed()
        }
        try await auditOnly(principal, action: "history.read", purpose: purposeKey, subjectId: subjectId,
                            fields: Array(Set(items.flatMap { $0.values ?? [] }.map(\.field))))
        return items
    }

    /// The subject's consents for the purposes the team holds, and their history from the ledger.
    public func consents(subjectId: String, by principal: Principal, purpose purposeKey: String) async throws -> (current: [ConsentView], history: [HistoryItem]) {
        let held = Set(principal.team.purposes)
        let now = self.now
        let result = try await database.read { connection -> ([ConsentView], [HistoryItem]) in
            guard let row = try connection.queryOne("SELECT status FROM subjects WHERE id = ?", .text(subjectId)) else {
                throw CandorError(.notFound, "no subject '\(subjectId)'")
            }
            if row.text(0) == SubjectStatus.erased.rawValue { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            let current = try Self.consentRecords(connection, subjectId: subjectId, purpose: nil).filter { held.contains($0.purpose) }.map { ConsentView($0, now: now) }
            let key = try self.subjectKey(connection, subjectId)
            var history = [HistoryItem]()
            for entry in try self.ledgerEntries(connection, subjectId: subjectId) where entry.kind == "consent" {
                let record = try CandorJSON.decode(LedgerRecord.self, from: SubjectCipher.open(entry.payload, key: key, subjectId: subjectId))
                let changes = (record.consents ?? []).filter { held.contains($0.purpose) }
                if changes.isEmpty { continue }
                history.append(HistoryItem(seq: entry.seq, kind: entry.kind, recordedAt: Timestamp.rfc3339(entry.createdAt), consents: changes))
            }
            return (current, history.reversed())
        }
        try await auditOnly(principal, action: "consent.read", purpose: purposeKey, subjectId: subjectId)
        return result
    }

    /// Writes one consent change into the current-consent projection.
    static func upsertConsent(_ connection: SQLConnection, subjectId: String, _ change: ConsentChange, at: Int64) throws {
        try connection.execute(
            """
            INSERT INTO consents (subject_id, purpose, status, method, notice_version, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (subject_id, purpose) DO UPDATE SET status = excluded.status, method = excluded.method,
              notice_version = excluded.notice_version, updated_at = excluded.updated_at, expires_at = excluded.expires_at
            """,
            .text(subjectId), .text(change.purpose), .text(change.status.rawValue), .text(change.method.rawValue),
            .int(change.noticeVersion), .int(at), .int(change.expiresAt))
    }

    static func consentRecords(_ connection: SQLConnection, subjectId: String, purpose: String?) throws -> [ConsentRecord] {
        var sql = "SELECT purpose, status, method, notice_version, updated_at, expires_at FROM consents WHERE subject_id = ?"
        var arguments: [SQLValue] = [.text(subjectId)]
        if let purpose {
            sql += " AND purpose = ?"
            arguments.append(.text(purpose))
        }
        return try connection.query(sql + " ORDER BY purpose", arguments).map { row in
            ConsentRecord(purpose: row.text(0), status: ConsentStatus(rawValue: row.text(1)) ?? .withdrawn, method: ConsentMethod(rawValue: row.text(2)) ?? .api,
                          noticeVersion: row.optionalInt(3).map(Int.init), updatedAt: row.int(4), expiresAt: row.optionalInt(5))
        }
    }

    func profileValues(_ connection: SQLConnection, subjectIds: [String]) throws -> [String: [String: ProfileValue]] {
        guard !subjectIds.isEmpty else { return [:] }
        let marks = SQLList.placeholders(subjectIds.count)
        var out = [String: [String: ProfileValue]]()
        var keys = [String: SymmetricKey]()
        for row in try connection.query(
            """
            SELECT p.subject_id, p.field, p.value, p.declared_at, p.declaration_id, p.source, p.collection_point, p.notices, p.sealed, k.wrapped_key
            FROM profile_values p LEFT JOIN subject_keys k ON k.subject_id = p.subject_id WHERE p.subject_id IN (\(marks))
            """,
            subjectIds.map(SQLValue.text))
        {
            let subjectId = row.text(0)
            if keys[subjectId] == nil, !row.isNull(9) { keys[subjectId] = try secrets.unwrapSubjectKey(row.blob(9), subjectId: subjectId) }
            let json = try Self.openValue(clear: row.text(2), sealed: row.isNull(8) ? nil : row.blob(8), key: keys[subjectId], subjectId: subjectId)
            out[subjectId, default: [:]][row.text(1)] = ProfileValue(
                value: try JSONValue.decoding(json), declaredAt: Timestamp.rfc3339(row.int(3)),
                declarationId: row.text(4), source: row.text(5), collectionPoint: row.optionalText(6),
                notices: try CandorJSON.decode([String: Int].self, from: row.text(7)))
        }
        return out
    }

    func subjectKey(_ connection: SQLConnection, _ subjectId: String) throws -> SymmetricKey {
        guard let row = try connection.queryOne("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?", .text(subjectId)) else {
            throw CandorStoreError.corrupt("subject \(subjectId) has no key")
        }
        return try secrets.unwrapSubjectKey(row.blob(0), subjectId: subjectId)
    }

    /// Records a read in the audit log (durably, before the data is handed out).
    func auditOnly(_ principal: Principal, action: String, purpose: String? = nil, subjectId: String? = nil, fields: [String] = [], outcome: String = "ok") async throws {
        _ = try await committer(for: subjectId).submit { connection in
            try self.audit(connection, principal, action: action, purpose: purpose, subjectId: subjectId, fields: fields, outcome: outcome)
        }
    }

    func auditReads(_ principal: Principal, action: String, purpose: String, views: [ProfileView]) async throws {
        guard !views.isEmpty else { return }
        _ = try await committer.submit { connection in
            for view in views {
                try self.audit(connection, principal, action: action, purpose: purpose, subjectId: view.subjectId, fields: Array(view.values.keys))
            }
        }
    }
}
