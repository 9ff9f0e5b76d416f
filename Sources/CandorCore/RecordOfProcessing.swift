import Foundation

/// The record of processing activities (GDPR Art. 30(1)), generated from the registry alone: it holds no
/// personal data, only what is processed, why, on what ground, for how long and by whom.
public struct RecordOfProcessing: Codable, Sendable, Hashable {
    /// One processing activity: a purpose.
    public struct Activity: Codable, Sendable, Hashable {
        /// A category of personal data (a declarable field).
        public struct DataCategory: Codable, Sendable, Hashable {
            public var key: String
            public var label: String
            public var type: String
            /// Art. 9 special category data.
            public var isSpecialCategory: Bool
            public var retentionDays: Int

            enum CodingKeys: String, CodingKey {
                case key, label, type
                case isSpecialCategory = "special_category"
                case retentionDays = "retention_days"
            }
        }

        /// A recipient: a team that may use the purpose (`internal_team`), or a webhook destination that serves it (`destination`).
        public struct Recipient: Codable, Sendable, Hashable {
            public var kind: String
            public var key: String
            public var name: String

            public init(kind: String, key: String, name: String) {
                self.kind = kind
                self.key = key
                self.name = name
            }
        }

        public var purpose: String
        public var name: String
        public var legalBasis: LegalBasis
        public var isMarketing: Bool
        public var dpvTerm: String
        public var dpvLabel: String
        public var dpvIRI: String
        public var retentionDays: Int
        public var noticeVersion: Int?
        public var dataCategories: [DataCategory]
        public var recipients: [Recipient]

        enum CodingKeys: String, CodingKey {
            case purpose, name, recipients
            case legalBasis = "legal_basis"
            case isMarketing = "is_marketing"
            case dpvTerm = "dpv_term"
            case dpvLabel = "dpv_label"
            case dpvIRI = "dpv_iri"
            case retentionDays = "retention_days"
            case noticeVersion = "notice_version"
            case dataCategories = "data_categories"
        }
    }

    public var generatedAt: String
    public var language: String
    public var controller: DataController
    /// Art. 30(1)(c): the categories of data subjects.
    public var dataSubjects: String
    public var activities: [Activity]
    /// Scope notes: what the record does not yet cover, said plainly rather than left out.
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case language, controller, activities, notes
        case generatedAt = "generated_at"
        case dataSubjects = "data_subjects"
    }

    /// The note of the registry-only record (the public page): where the full list of recipients is.
    public static let destinationsNote = "This copy lists the internal teams that may use each purpose. The record administrators and auditors download (the operator console, or GET /v1/ropa) also lists the external systems (webhook destinations) that receive data for each purpose."

    /// Builds the record from the registry: one activity per purpose, in key order.
    public static func build(purposes: [Purpose], fields: [Field], teams: [Team], controller: DataController, generatedAt: String, language: String = "en") -> RecordOfProcessing {
        let activities = purposes.sorted { $0.key < $1.key }.map { purpose in
            Activity(
                purpose: purpose.key,
                name: purpose.names[language] ?? purpose.names["en"] ?? purpose.key,
                legalBasis: purpose.legalBasis,
                isMarketing: purpose.isMarketing,
                dpvTerm: purpose.dpvTerm,
                dpvLabel: DPVPurposes.labels[purpose.dpvTerm] ?? purpose.dpvTerm,
                dpvIRI: DPVPurposes.iri(purpose.dpvTerm),
                retentionDays: purpose.retentionDays,
                noticeVersion: purpose.currentNoticeVersion,
                dataCategories: fields.filter { $0.purposes.contains(purpose.key) }.sorted { $0.key < $1.key }.map { field in
                    Activity.DataCategory(key: field.key, label: field.labels[language] ?? field.labels["en"] ?? field.key, type: field.type.rawValue,
                                          isSpecialCategory: field.sensitivity == .special, retentionDays: field.retentionDays)
                },
                recipients: teams.filter { $0.purposes.contains(purpose.key) }.sorted { $0.key < $1.key }.map {
                    Activity.Recipient(kind: "internal_team", key: $0.key, name: $0.name)
                })
        }
        return RecordOfProcessing(
            generatedAt: generatedAt, language: language, controller: controller,
            dataSubjects: "Customers and visitors who declare data or give consent through the controller's forms, preference center or API.",
            activities: activities, notes: [destinationsNote])
    }
}
