import CandorCore

/// A person as the API shows them to writers. Identifiers only; declared values are read per purpose.
public struct Subject: Codable, Sendable, Hashable {
    public var id: String
    public var externalId: String?
    public var hasEmail: Bool
    public var status: SubjectStatus
    public var createdAt: String
    public var updatedAt: String
    public var erasedAt: String?
    /// The person objected to direct marketing (GDPR Art. 21): marketing purposes are withheld and
    /// cannot be granted again until the person lifts the objection.
    public var hasObjected: Bool = false
    /// The person opted out of the sale or sharing of their data (CCPA §1798.120, or a GPC signal).
    public var hasOptedOutOfSale: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, status
        case externalId = "external_id"
        case hasEmail = "has_email"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case erasedAt = "erased_at"
        case hasObjected = "has_objected"
        case hasOptedOutOfSale = "has_opted_out_of_sale"
    }
}

/// A request to create a subject, anonymous or identified.
public struct SubjectInput: Codable, Sendable {
    public var externalId: String?
    public var email: String?

    enum CodingKeys: String, CodingKey {
        case externalId = "external_id"
        case email
    }

    public init(externalId: String? = nil, email: String? = nil) {
        self.externalId = externalId
        self.email = email
    }

    /// Checks the identifiers' shape.
    public func validate() throws {
        var errors = [FieldError]()
        if let externalId, externalId.isEmpty || externalId.count > 200 { errors.append(FieldError("external_id", "must be 1 to 200 characters")) }
        if let email, !SubjectInput.looksLikeEmail(email) { errors.append(FieldError("email", "is not an e-mail address")) }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
    }

    /// A deliberately simple check: one `@`, something before it, a dot in the domain, no spaces.
    public static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return text.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".") && !text.contains(where: { $0.isWhitespace })
    }
}

/// Where an entry landed in the subject's chain.
public struct LedgerReference: Codable, Sendable, Hashable {
    public var seq: Int64
    public var hash: String
}

/// The answer to a declaration: what was recorded, under which notices, and its place in the ledger.
public struct DeclarationReceipt: Codable, Sendable {
    public var declarationId: String
    public var subjectId: String
    public var recordedAt: String
    public var source: String
    public var collectionPoint: String?
    public var values: [ValidatedValue]
    public var ledger: LedgerReference

    enum CodingKeys: String, CodingKey {
        case values, ledger, source
        case declarationId = "declaration_id"
        case subjectId = "subject_id"
        case recordedAt = "recorded_at"
        case collectionPoint = "collection_point"
    }
}

/// A consent state as the API shows it.
public struct ConsentView: Codable, Sendable, Hashable {
    public var purpose: String
    public var status: ConsentStatus
    public var method: ConsentMethod
    public var noticeVersion: Int?
    public var updatedAt: String
    public var expiresAt: String?
    /// Whether the consent permits use right now (granted and not expired).
    public var isEffective: Bool

    enum CodingKeys: String, CodingKey {
        case purpose, status, method
        case noticeVersion = "notice_version"
        case updatedAt = "updated_at"
        case expiresAt = "expires_at"
        case isEffective = "is_effective"
    }

    init(_ record: ConsentRecord, now: Int64) {
        purpose = record.purpose
        status = record.status
        method = record.method
        noticeVersion = record.noticeVersion
        updatedAt = Timestamp.rfc3339(record.updatedAt)
        expiresAt = record.expiresAt.map(Timestamp.rfc3339)
        isEffective = record.permits(at: now)
    }
}

/// The answer to a consent change.
public struct ConsentReceipt: Codable, Sendable {
    public var subjectId: String
    public var recordedAt: String
    public var consents: [ConsentView]
    public var ledger: LedgerReference

    enum CodingKeys: String, CodingKey {
        case consents, ledger
        case subjectId = "subject_id"
        case recordedAt = "recorded_at"
    }
}

/// One current value with its provenance.
public struct ProfileValue: Codable, Sendable, Hashable {
    public var value: JSONValue
    public var declaredAt: String
    public var declarationId: String
    public var source: String
    public var collectionPoint: String?
    public var notices: [String: Int]

    enum CodingKeys: String, CodingKey {
        case value, source, notices
        case declaredAt = "declared_at"
        case declarationId = "declaration_id"
        case collectionPoint = "collection_point"
    }
}

/// A subject's profile as one purpose may see it.
public struct ProfileView: Codable, Sendable {
    public var subjectId: String
    public var purpose: String
    public var isVisible: Bool
    public var withheldReason: String?
    public var values: [String: ProfileValue]

    enum CodingKeys: String, CodingKey {
        case purpose, values
        case subjectId = "subject_id"
        case isVisible = "is_visible"
        case withheldReason = "withheld_reason"
    }
}

/// One page of a list.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var data: [Item]
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
    }

    public init(data: [Item], nextCursor: String?) {
        self.data = data
        self.nextCursor = nextCursor
    }
}

/// One event in a subject's history, read back from the encrypted ledger.
public struct HistoryItem: Codable, Sendable {
    public var seq: Int64
    public var kind: String
    public var recordedAt: String
    public var declarationId: String?
    public var source: String?
    public var collectionPoint: String?
    public var values: [ValidatedValue]?
    public var consents: [ConsentChange]?

    enum CodingKeys: String, CodingKey {
        case seq, kind, values, consents, source
        case recordedAt = "recorded_at"
        case declarationId = "declaration_id"
        case collectionPoint = "collection_point"
    }
}

/// What is sealed into a ledger entry. Only the subject's key opens it.
struct LedgerRecord: Codable {
    var actor: String
    var declarationId: String?
    var values: [ValidatedValue]?
    var source: String?
    var collectionPoint: String?
    var consents: [ConsentChange]?
    var externalId: String?
    var email: String?
    /// How a rights action was expressed (e.g. `gpc` for an opt-out of sale by Sec-GPC).
    var method: String?
    /// The incentive code issued with a completed survey (the person's history shows it).
    var code: String?

    enum CodingKeys: String, CodingKey {
        case actor, values, source, consents, email, method, code
        case declarationId = "declaration_id"
        case collectionPoint = "collection_point"
        case externalId = "external_id"
    }
}
