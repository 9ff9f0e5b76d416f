import CandorCore
import Foundation

/// Small registries for the unit tests: purposes and fields as an installation would hold them.
enum Sample {
    static let createdAt = "2026-01-01T00:00:00.000Z"
    /// A fixed "now" for consent rules and the purpose gate: 2026-06-01T00:00:00Z.
    static let now: Int64 = 1_780_272_000_000

    static func purpose(_ key: String, basis: LegalBasis = .consent, currentNotice: Int? = 1) -> Purpose {
        Purpose(
            id: "pur_\(key)", key: key, names: ["en": key.capitalized], legalBasis: basis, retentionDays: 365,
            dpvTerm: "Marketing", isMarketing: basis == .consent, currentNoticeVersion: currentNotice, createdAt: createdAt)
    }

    static func field(
        _ key: String, _ type: FieldType, options: [String]? = nil, purposes: [String],
        minimum: Double? = nil, maximum: Double? = nil, maxLength: Int? = nil
    ) -> Field {
        Field(
            id: "fld_\(key)", key: key, type: type, options: options, purposes: purposes, retentionDays: 365,
            labels: ["en": key], minimum: minimum, maximum: maximum, maxLength: maxLength, createdAt: createdAt)
    }

    /// `newsletter` (consent, notice v2 current), `offers` (consent, notice v1), `support` (contract, v1)
    /// and `research` (consent, no notice published yet).
    static let purposes: [String: Purpose] = [
        "newsletter": purpose("newsletter", currentNotice: 2),
        "offers": purpose("offers"),
        "support": purpose("support", basis: .contract),
        "research": purpose("research", currentNotice: nil),
    ]

    static let fields: [String: Field] = Dictionary(uniqueKeysWithValues: [
        field("interests", .multiChoice, options: ["running", "hiking", "yoga"], purposes: ["newsletter", "offers"]),
        field("favourite_sport", .singleChoice, options: ["running", "hiking", "yoga"], purposes: ["offers"]),
        field("shoe_size", .number, purposes: ["offers"], minimum: 30, maximum: 50),
        field("likes_email", .boolean, purposes: ["newsletter"]),
        field("nickname", .text, purposes: ["support"], maxLength: 10),
        field("birthday", .date, purposes: ["offers"]),
        field("survey_topic", .singleChoice, options: ["a", "b"], purposes: ["research"]),
    ].map { ($0.key, $0) })

    /// The notices a correct caller cites for every purpose that has one.
    static let currentNotices = ["newsletter": 2, "offers": 1, "support": 1]

    static func declare(_ values: [(String, JSONValue)], notices: [String: Int] = currentNotices) -> Result<[ValidatedValue], CandorError> {
        DeclarationRules.validate(
            DeclarationInput(values: values.map { DeclaredValueInput(field: $0.0, value: $0.1) }, notices: notices),
            fields: fields, purposes: purposes)
    }
}

extension Result where Failure == CandorError {
    /// The field errors of a failure (empty on success), for asserting *which* input was refused.
    var fieldErrors: [FieldError] {
        if case .failure(let error) = self { return error.errors }
        return []
    }

    /// The paths of the field errors.
    var errorPaths: [String] { fieldErrors.map(\.field) }

    var value: Success? { try? get() }
}
