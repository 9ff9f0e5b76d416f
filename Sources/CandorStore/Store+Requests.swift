import CandorCore
import Foundation

/// The kinds of rights request a business receives from other channels (e-mail, phone, letter).
public enum RightsRequestType: String, Codable, Sendable, CaseIterable {
    case access, export, rectify, erase, restrict, object
    case optOutOfSale = "opt_out_of_sale"
}

/// Where a request stands.
public enum RightsRequestStatus: String, Codable, Sendable, CaseIterable {
    /// Logged; the requester's identity is not yet verified.
    case received
    /// Identity verified; the request can be completed.
    case verified
    /// The action ran (or nothing was held about the person).
    case completed
}

/// A request to create a rights request. The person is named by external id or e-mail; an unknown
/// person is accepted and tracked exactly like a known one.
public struct RightsRequestInput: Codable, Sendable {
    public var type: String
    public var channel: String
    public var jurisdiction: String
    public var externalId: String?
    public var email: String?
    /// When the request reached the business, if earlier than now (a letter opened today, say).
    public var receivedAt: String?

    enum CodingKeys: String, CodingKey {
        case type, channel, jurisdiction, email
        case externalId = "external_id"
        case receivedAt = "received_at"
    }

    public init(type: String, channel: String, jurisdiction: String, externalId: String? = nil, email: String? = nil, receivedAt: String? = nil) {
        self.type = type
        self.channel = channel
        self.jurisdiction = jurisdiction
        self.externalId = externalId
        self.email = email
        self.receivedAt = receivedAt
    }
}

/// A rights request as the API shows it. It never says whether the person exists until identity is
/// verified: `subject_id` is null before, for everyone.
public struct RightsRequest: Codable, Sendable, Hashable {
    public var id: String
    public var type: RightsRequestType
    public var channel: String
    public var jurisdiction: Jurisdiction
    public var status: RightsRequestStatus
    public var subjectId: String?
    public var receivedAt: String
    public var dueAt: String
    public var confirmationDueAt: String?
    /// Months (GDPR) or days (CCPA) the deadline was extended by.
    public var extended: Int
    public var extensionReason: String?
    public var verifiedAt: String?
    public var verificationMethod: String?
    public var assignee: String?
    public var completedAt: String?
    /// What completion did: `completed`, `no_data_held` (nobody matched), `already_erased`.
    public var outcome: String?
    /// Past due and not completed.
    public var isOverdue: Bool

    enum CodingKeys: String, CodingKey {
        case id, type, channel, jurisdiction, status, assignee, outcome
        case extended = "extension"
        case subjectId = "subject_id"
        case receivedAt = "received_at"
        case dueAt = "due_at"
        case confirmationDueAt = "confirmation_due_at"
        case extensionReason = "extension_reason"
        case verifiedAt = "verified_at"
        case verificationMethod = "verification_method"
        case completedAt = "completed_at"
        case isOverdue = "overdue"
    }
}

/// The result of completing a request: the request, and for access/export the person's data.
public struct RightsRequestCompletion: Codable, Sendable {
    public var request: RightsRequest
    public var export: SubjectExport?
}

extension CandorStore {
    /// How long the request log is kept (months), as accountability evidence.
    public static let requestLogMonths = 24

    static let requestColumns = """
        id, subject_id, type, channel, jurisdiction, status, received_at, due_at, confirm_due_at, extended_months, extended_days, \
        extension_reason, verified_at, verification_method, assignee, completed_at, outcome
        """

    static func rightsRequest(_ row: SQLRow, now: Int64) -> RightsRequest {
        let status = RightsRequestStatus(rawValue: row.text(5)) ?? .received
        let jurisdiction = Jurisdiction(rawValue: row.text(4)) ?? .gdpr
        let verified = !row.isNull(12)
        return RightsRequest(
            id: row.text(0), type: RightsRequestType(rawValue: row.text(2)) ?? .access, channel: row.text(3), jurisdiction: jurisdiction,
            status: status, subjectId: verified ? row.optionalText(1) : nil, receivedAt: Timestamp.rfc3339(row.int(6)), dueAt: Timestamp.rfc3339(row.int(7)),
            confirmationDueAt: row.optionalInt(8).map(Timestamp.rfc3339), extended: Int(jurisdiction == .gdpr ? row.int(9) : row.int(10)),
            extensionReason: row.optionalText(11), verifiedAt: row.optionalInt(12).map(Timestamp.rfc3339), verificationMethod: row.optionalText(13),
            assignee: row.optionalText(14), completedAt: row.optionalInt(15).map(Timestamp.rfc3339), outcome: row.optionalText(16),
            isOverdue: status != .completed && row.int(7) < now)
    }

    /// Logs a rights request received through another channel, with its statutory deadlines. The answer
    /// has the same shape whether or not anybody matches, so the log reveals nothing before verification.
    public func createRequest(_ input: RightsRequestInput, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<RightsRequest> {
        if let replayed: WriteOutcome<RightsRequest> = try await replay(principal, idempotency) { return replayed }
        let now = self.now
        var errors = [FieldError]()
        let type = RightsRequestType(rawValue: input.type)
        if type == nil { errors.append(FieldError("type", "must be one of \(RightsRequestType.allCases.map(\.rawValue).joined(separator: ", "))")) }
        let jurisdiction = Jurisdiction(rawValue: input.jurisdiction)
        if jurisdiction == nil { errors.append(FieldError("jurisdiction", "must be one of \(Jurisdiction.allCases.map(\.rawValue).joined(separator: ", "))")) }
        if input.channel.isEmpty || input.channel.count > 50 { errors.append(FieldError("channel", "must be 1 to 50 characters")) }
        if input.externalId == nil && input.email == nil { errors.append(FieldError("external_id", "give external_id or email")) }
        do { try SubjectInput(externalId: input.externalId, email: input.email).validate() } catch let error as CandorError { errors += error.errors }
        var receivedAt = now
        if let text = input.receivedAt {
            if let millis = Timestamp.parse(text), millis <= now { receivedAt = millis } else { errors.append(FieldError("received_at", "expected an RFC 3339 time not in the future")) }
        }
        guard errors.isEmpty, let type, let jurisdiction else { throw CandorError.invalid(errors) }
        let emailHash = input.email.map(secrets.emailLookupHash)
        let id = Identifier.make("req")
        return try await write(principal, idempotency: idempotency, status: 201) { connection -> RightsRequest in
            // Only the subject id is kept (never the identifier given), so erasing the person leaves the log intact.
            var subjectId: String?
            if let externalId = input.externalId {
                subjectId = try self.subjectIdForExternalId(connection, externalId)
            }
            if subjectId == nil, let emailHash {
                subjectId = try connection.queryOne("SELECT id FROM subjects WHERE email_hash = ?", .text(emailHash))?.text(0)
            }
            let due = Deadlines.due(jurisdiction, receivedAt: receivedAt)
            try connection.execute(
                """
                INSERT INTO rights_requests (id, subject_id, type, channel, jurisdiction, status, received_at, due_at, confirm_due_at, body, updated_at)
                VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?, '{}', ?)
                """,
                .text(id), .text(subjectId), .text(type.rawValue), .text(input.channel), .text(jurisdiction.rawValue), .int(receivedAt), .int(due),
                .int(Deadlines.confirmationDue(jurisdiction, receivedAt: receivedAt)), .int(now))
            try self.audit(connection, principal, action: "request.create", subjectId: subjectId, outcome: type.rawValue)
            return try self.loadRequest(connection, id, now: now)
        }
    }

    /// Records that the requester's identity was verified, and how.
    public func verifyRequest(id: String, method: String, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<RightsRequest> {
        if let replayed: WriteOutcome<RightsRequest> = try await replay(principal, idempotency) { return replayed }
        guard !method.isEmpty, method.count <= 100 else { throw CandorError.invalid("method", "must be 1 to 100 characters") }
        return try await updateRequest(id, by: principal, idempotency: idempotency, action: "request.verify") { connection, request, now in
            guard request.status == .received else {
                throw CandorError(.conflict, "request '\(id)' is already \(request.status.rawValue)", errors: [FieldError("status", "is \(request.status.rawValue)")])
            }
            try connection.execute("UPDATE rights_requests SET status = 'verified', verified_at = ?, verification_method = ?, updated_at = ? WHERE id = ?",
                                   .int(now), .text(method), .int(now), .text(id))
        }
    }

    /// Assigns the request to someone (a name or team handle, not the requester's data).
    public func assignRequest(id: String, assignee: String, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<RightsRequest> {
        if let replayed: WriteOutcome<RightsRequest> = try await replay(principal, idempotency) { return replayed }
        guard !assignee.isEmpty, assignee.count <= 100 else { throw CandorError.invalid("assignee", "must be 1 to 100 characters") }
        return try await updateRequest(id, by: principal, idempotency: idempotency, action: "request.assign") { connection, _, now in
            try connection.execute("UPDATE rights_requests SET assignee = ?, updated_at = ? WHERE id = ?", .text(assignee), .int(now), .text(id))
        }
    }

    /// Extends the deadline within the legal maximum, recording why. `amount` is months under GDPR and
    /// days under CCPA.
    public func extendRequest(id: String, by amount: Int?, reason: String?, principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<RightsRequest> {
        if let replayed: WriteOutcome<RightsRequest> = try await replay(principal, idempotency) { return replayed }
        return try await updateRequest(id, by: principal, idempotency: idempotency, action: "request.extend") { connection, request, now in
            if request.status == .completed {
                throw CandorError(.conflict, "request '\(id)' is completed", errors: [FieldError("status", "is completed")])
            }
            let errors = Deadlines.validateExtension(request.jurisdiction, alreadyExtended: request.extended, by: amount, reason: reason)
            if !errors.isEmpty { throw CandorError.invalid(errors) }
            let total = request.extended + (amount ?? 0)
            let received = Timestamp.parse(request.receivedAt) ?? now
            let column = request.jurisdiction == .gdpr ? "extended_months" : "extended_days"
            try connection.execute("UPDATE rights_requests SET \(column) = ?, extension_reason = ?, due_at = ?, updated_at = ? WHERE id = ?",
                                   .int(Int64(total)), .text(reason), .int(Deadlines.due(request.jurisdiction, receivedAt: received, extendedBy: total)), .int(now), .text(id))
        }
    }

    /// Completes a verified request by running its action through the same functions the portal uses.
    /// A rectification names the `field` and `value`. For a person nobody matched, the outcome is
    /// `no_data_held`.
    public func completeRequest(id: String, field: String? = nil, value: JSONValue? = nil, by principal: Principal) async throws -> RightsRequestCompletion {
        let now = self.now
        let request = try await database.read { try self.loadRequest($0, id, now: now) }
        guard request.status == .verified else {
            throw CandorError(.conflict, request.status == .completed ? "request '\(id)' is already completed" : "verify the requester's identity first",
                              errors: [FieldError("status", "is \(request.status.rawValue)")])
        }
        if request.type == .rectify {
            var errors = [FieldError]()
            if field == nil { errors.append(FieldError("field", "a rectification names the field to correct")) }
            if value == nil { errors.append(FieldError("value", "a rectification gives the corrected value")) }
            if !errors.isEmpty { throw CandorError.invalid(errors) }
        }
        var outcome = "completed"
        var export: SubjectExport?
        if let subjectId = request.subjectId {
            do {
                switch request.type {
                case .access, .export: export = try await exportSubject(subjectId: subjectId, by: principal)
                case .rectify: _ = try await rectify(subjectId: subjectId, field: field!, value: value!, by: principal)
                case .erase: _ = try await erase(subjectId: subjectId, by: principal)
                case .restrict: _ = try await setRestricted(true, subjectId: subjectId, by: principal)
                case .object: _ = try await objectToDirectMarketing(subjectId: subjectId, by: principal)
                case .optOutOfSale: _ = try await optOutOfSale(subjectId: subjectId, method: .form, by: principal)
                }
            } catch let error as CandorError where error.kind == .gone {
                // Erased since the request came in: nothing is held any more, which answers every kind.
                outcome = "already_erased"
            }
        } else {
            outcome = "no_data_held"
        }
        // The action and the log update are two transactions: if this one fails, completing again reruns
        // an action that is idempotent in effect (the flags and erasure are states, not counters).
        let final = outcome
        let outcomeRequest = try await updateRequest(id, by: principal, idempotency: nil, action: "request.complete") { connection, current, now in
            guard current.status == .verified else { throw CandorError(.conflict, "request '\(id)' is already completed", errors: [FieldError("status", "is \(current.status.rawValue)")]) }
            try connection.execute("UPDATE rights_requests SET status = 'completed', completed_at = ?, outcome = ?, updated_at = ? WHERE id = ?",
                                   .int(now), .text(final), .int(now), .text(id))
            // Automations may follow up (a confirmation, say); an erased person's event is never acted on.
            if let subjectId = current.subjectId, final != "already_erased" {
                try self.emit(connection, type: "rights.completed", subjectId: subjectId, data: [
                    "request_id": .string(id), "request_type": .string(current.type.rawValue), "outcome": .string(final),
                ])
            }
        }
        guard case .fresh(let completed) = outcomeRequest else { throw CandorStoreError.corrupt("request completion replayed") }
        return RightsRequestCompletion(request: completed, export: export)
    }

    /// One request.
    public func request(id: String, by principal: Principal) async throws -> RightsRequest {
        let now = self.now
        return try await database.read { try self.loadRequest($0, id, now: now) }
    }

    /// Requests, oldest received first, optionally only one status or only the overdue ones.
    public func listRequests(status: RightsRequestStatus?, overdueOnly: Bool, cursor: String?, limit: Int, by principal: Principal) async throws -> Page<RightsRequest> {
        let now = self.now
        return try await database.read { connection in
            var sql = "SELECT \(Self.requestColumns) FROM rights_requests WHERE id > ?"
            var arguments: [SQLValue] = [.text(cursor ?? "")]
            if let status {
                sql += " AND status = ?"
                arguments.append(.text(status.rawValue))
            }
            if overdueOnly {
                sql += " AND status <> 'completed' AND due_at < ?"
                arguments.append(.int(now))
            }
            // Request ids start with their creation time, so id order is creation order and a stable cursor.
            let rows = try connection.query(sql + " ORDER BY id LIMIT ?", arguments + [.int(Int64(limit + 1))])
            let items = rows.prefix(limit).map { Self.rightsRequest($0, now: now) }
            return Page(data: Array(items), nextCursor: rows.count > limit ? items.last?.id : nil)
        }
    }

    func loadRequest(_ connection: SQLConnection, _ id: String, now: Int64) throws -> RightsRequest {
        guard let row = try connection.queryOne("SELECT \(Self.requestColumns) FROM rights_requests WHERE id = ?", .text(id)) else {
            throw CandorError(.notFound, "no request '\(id)'")
        }
        return Self.rightsRequest(row, now: now)
    }

    /// Changes a request under its row lock, audits it, and answers with the request as it now stands.
    func updateRequest(_ id: String, by principal: Principal, idempotency: IdempotencyRequest?, action: String,
                       _ change: @escaping (SQLConnection, RightsRequest, Int64) throws -> Void) async throws -> WriteOutcome<RightsRequest> {
        let dialect = database.dialect
        return try await write(principal, idempotency: idempotency, status: 200) { connection -> RightsRequest in
            let now = self.now
            guard let row = try connection.queryOne("SELECT \(Self.requestColumns) FROM rights_requests WHERE id = ?\(dialect.forUpdate)", .text(id)) else {
                throw CandorError(.notFound, "no request '\(id)'")
            }
            let current = Self.rightsRequest(row, now: now)
            try change(connection, current, now)
            try self.audit(connection, principal, action: action, subjectId: row.optionalText(1))
            return try self.loadRequest(connection, id, now: now)
        }
    }
}
