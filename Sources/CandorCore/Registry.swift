import Foundation

/// The lawful ground for using data for a purpose (GDPR Art. 6).
public enum LegalBasis: String, Codable, Sendable, CaseIterable {
    case consent
    case contract
    case legitimateInterest = "legitimate_interest"
    case legalObligation = "legal_obligation"

    /// Whether use needs the person's granted consent.
    public var requiresConsent: Bool { self == .consent }
}

/// One locale's wording of a purpose notice: what a person reads before declaring or consenting.
public struct NoticeText: Codable, Sendable, Hashable {
    /// A short heading, e.g. "Our newsletter".
    public var title: String
    /// Why we ask, in plain words.
    public var why: String
    /// What the person gets in return.
    public var benefit: String

    public init(title: String, why: String, benefit: String) {
        self.title = title
        self.why = why
        self.benefit = benefit
    }
}

/// An immutable version of a purpose's notice. A new wording is a new version; old ones never change.
public struct NoticeVersion: Codable, Sendable, Hashable {
    public var id: String
    public var purpose: String
    public var version: Int
    public var texts: [String: NoticeText]
    /// `sha256:<hex>` of the canonical JSON of `texts`: proves which words were shown.
    public var contentHash: String
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, purpose, version, texts
        case contentHash = "content_hash"
        case createdAt = "created_at"
    }

    public init(id: String, purpose: String, version: Int, texts: [String: NoticeText], createdAt: String) throws {
        self.id = id
        self.purpose = purpose
        self.version = version
        self.texts = texts
        self.contentHash = try Self.hash(texts)
        self.createdAt = createdAt
    }

    /// The content hash of a set of notice texts.
    public static func hash(_ texts: [String: NoticeText]) throws -> String {
        "sha256:" + Digest.sha256Hex(try CandorJSON.encode(texts))
    }
}

/// Why data is used, and on what terms.
public struct Purpose: Codable, Sendable, Hashable {
    public var id: String
    public var key: String
    public var names: [String: String]
    public var legalBasis: LegalBasis
    public var retentionDays: Int
    public var dpvTerm: String
    /// Whether this purpose is a kind of direct marketing (an objection withdraws it absolutely).
    public var isMarketing: Bool
    /// The version of the notice currently shown, or nil before the first notice is published.
    public var currentNoticeVersion: Int?
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, key, names
        case legalBasis = "legal_basis"
        case retentionDays = "retention_days"
        case dpvTerm = "dpv_term"
        case isMarketing = "is_marketing"
        case currentNoticeVersion = "current_notice_version"
        case createdAt = "created_at"
    }

    public init(
        id: String, key: String, names: [String: String], legalBasis: LegalBasis, retentionDays: Int,
        dpvTerm: String, isMarketing: Bool, currentNoticeVersion: Int? = nil, createdAt: String
    ) {
        self.id = id
        self.key = key
        self.names = names
        self.legalBasis = legalBasis
        self.retentionDays = retentionDays
        self.dpvTerm = dpvTerm
        self.isMarketing = isMarketing
        self.currentNoticeVersion = currentNoticeVersion
        self.createdAt = createdAt
    }
}

/// The shape of a declarable value.
public enum FieldType: String, Codable, Sendable, CaseIterable {
    case singleChoice = "single_choice"
    case multiChoice = "multi_choice"
    case boolean
    case number
    case text
    case date

    /// Whether the field offers a fixed list of options.
    public var hasOptions: Bool { self == .singleChoice || self == .multiChoice }
}

/// How sensitive a field is. Special-category data (GDPR Art. 9) is refused unless enabled.
public enum Sensitivity: String, Codable, Sendable {
    case standard
    case special
}

/// One declarable attribute of a person.
public struct Field: Codable, Sendable, Hashable {
    public var id: String
    public var key: String
    public var type: FieldType
    public var options: [String]?
    /// option → locale → label.
    public var optionLabels: [String: [String: String]]?
    public var purposes: [String]
    public var retentionDays: Int
    public var sensitivity: Sensitivity
    /// locale → label (the question as a person reads it).
    public var labels: [String: String]
    public var minimum: Double?
    public var maximum: Double?
    public var maxLength: Int?
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, key, type, options, purposes, sensitivity, labels, minimum, maximum
        case optionLabels = "option_labels"
        case retentionDays = "retention_days"
        case maxLength = "max_length"
        case createdAt = "created_at"
    }

    public init(
        id: String, key: String, type: FieldType, options: [String]? = nil, optionLabels: [String: [String: String]]? = nil,
        purposes: [String], retentionDays: Int, sensitivity: Sensitivity = .standard, labels: [String: String],
        minimum: Double? = nil, maximum: Double? = nil, maxLength: Int? = nil, createdAt: String
    ) {
        self.id = id
        self.key = key
        self.type = type
        self.options = options
        self.optionLabels = optionLabels
        self.purposes = purposes
        self.retentionDays = retentionDays
        self.sensitivity = sensitivity
        self.labels = labels
        self.minimum = minimum
        self.maximum = maximum
        self.maxLength = maxLength
        self.createdAt = createdAt
    }

    /// How an option reads in a locale: its label there, else its English label, else the key with
    /// underscores as spaces (so `free_shipping` still reads as words).
    public func label(ofOption option: String, locale: String) -> String {
        optionLabels?[option]?[locale] ?? optionLabels?[option]?["en"] ?? option.replacingOccurrences(of: "_", with: " ")
    }
}

/// What a team's keys may do besides reading for its purposes.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Manage the registry: purposes, notices, fields, teams, keys.
    case admin
    /// Read personal data for the team's purposes.
    case read
    /// Create subjects, declare values and record consents.
    case write
    /// Erase and restrict subjects.
    case erase
    /// Read the audit log and verify the ledger.
    case audit
}

/// An internal consumer of data (marketing, sales, support, IT).
public struct Team: Codable, Sendable, Hashable {
    public var id: String
    public var key: String
    public var name: String
    public var purposes: [String]
    public var roles: [Role]
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, key, name, purposes, roles
        case createdAt = "created_at"
    }

    public init(id: String, key: String, name: String, purposes: [String], roles: [Role], createdAt: String) {
        self.id = id
        self.key = key
        self.name = name
        self.purposes = purposes
        self.roles = roles
        self.createdAt = createdAt
    }
}

/// Secret keys act for a team from a server; publishable keys come from a browser on allowed origins.
public enum KeyKind: String, Codable, Sendable {
    case secret
    case publishable

    /// The visible prefix of a key of this kind.
    public var prefix: String { self == .secret ? "cnd_sk_" : "cnd_pk_" }
}

/// An API key as stored: only a hash of the secret is kept.
public struct APIKey: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var team: String
    public var kind: KeyKind
    /// The first characters of the key, so people can tell keys apart.
    public var hint: String
    public var origins: [String]
    public var createdAt: String
    public var revokedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, team, kind, hint, origins
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }

    public init(id: String, name: String, team: String, kind: KeyKind, hint: String, origins: [String], createdAt: String, revokedAt: String? = nil) {
        self.id = id
        self.name = name
        self.team = team
        self.kind = kind
        self.hint = hint
        self.origins = origins
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}
