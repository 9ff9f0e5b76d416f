import Foundation

/// The locales Candor ships wording for; other locales fall back to English.
public enum Locales {
    public static let supported = ["en", "he"]
    /// Whether a locale tag is well formed (`en`, `he`, `pt-BR`).
    public static func isWellFormed(_ tag: String) -> Bool {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }) else { return false }
        return parts.dropFirst().allSatisfy { (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }
}

/// Checks shared by every registry input.
enum Check {
    static func key(_ key: String, _ path: String, _ errors: inout [FieldError]) {
        let ok = key.count >= 2 && key.count <= 64 && key.first!.isASCII && key.first!.isLowercase
            && key.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
        if !ok { errors.append(FieldError(path, "must be 2–64 characters of a–z, 0–9 and _, starting with a letter")) }
    }

    static func localized(_ texts: [String: String], _ path: String, required: Bool, _ errors: inout [FieldError]) {
        if required && texts["en"]?.isEmpty != false { errors.append(FieldError("\(path).en", "an English text is required")) }
        for (locale, text) in texts.sorted(by: { $0.key < $1.key }) {
            if !Locales.isWellFormed(locale) { errors.append(FieldError("\(path).\(locale)", "'\(locale)' is not a locale tag")) }
            if text.count > 500 { errors.append(FieldError("\(path).\(locale)", "must be at most 500 characters")) }
        }
    }

    static func retention(_ days: Int?, _ path: String, _ errors: inout [FieldError]) {
        if let days, !(1...36500).contains(days) { errors.append(FieldError(path, "must be between 1 and 36500 days")) }
    }
}

/// A request to register a purpose, optionally with its first notice.
public struct PurposeInput: Codable, Sendable {
    public var key: String
    public var names: [String: String]
    public var legalBasis: String
    public var retentionDays: Int
    public var dpvTerm: String
    public var isMarketing: Bool?
    public var notice: [String: NoticeText]?

    enum CodingKeys: String, CodingKey {
        case key, names, notice
        case legalBasis = "legal_basis"
        case retentionDays = "retention_days"
        case dpvTerm = "dpv_term"
        case isMarketing = "is_marketing"
    }

    public init(key: String, names: [String: String], legalBasis: String, retentionDays: Int, dpvTerm: String, isMarketing: Bool? = nil, notice: [String: NoticeText]? = nil) {
        self.key = key
        self.names = names
        self.legalBasis = legalBasis
        self.retentionDays = retentionDays
        self.dpvTerm = dpvTerm
        self.isMarketing = isMarketing
        self.notice = notice
    }

    /// Validates the input into a purpose (without its notice, which becomes version 1).
    public func validated(id: String, createdAt: String) -> Result<Purpose, CandorError> {
        var errors = [FieldError]()
        Check.key(key, "key", &errors)
        Check.localized(names, "names", required: true, &errors)
        let basis = LegalBasis(rawValue: legalBasis)
        if basis == nil { errors.append(FieldError("legal_basis", "must be one of \(LegalBasis.allCases.map(\.rawValue).joined(separator: ", "))")) }
        Check.retention(retentionDays, "retention_days", &errors)
        if DPVPurposes.labels[dpvTerm] == nil { errors.append(FieldError("dpv_term", "'\(dpvTerm)' is not a DPV 2.3 purpose term")) }
        if let notice { errors += NoticeRules.check(notice, path: "notice") }
        guard errors.isEmpty, let basis else { return .failure(.invalid(errors)) }
        return .success(Purpose(
            id: id, key: key, names: names, legalBasis: basis, retentionDays: retentionDays, dpvTerm: dpvTerm,
            isMarketing: isMarketing ?? false, currentNoticeVersion: nil, createdAt: createdAt))
    }
}

/// A request to publish a new notice version.
public struct NoticeInput: Codable, Sendable {
    public var texts: [String: NoticeText]
    public init(texts: [String: NoticeText]) { self.texts = texts }
}

/// Rules for notice wording.
public enum NoticeRules {
    /// Every problem with a set of notice texts.
    public static func check(_ texts: [String: NoticeText], path: String) -> [FieldError] {
        var errors = [FieldError]()
        if texts["en"] == nil { errors.append(FieldError("\(path).en", "an English text is required")) }
        for (locale, text) in texts.sorted(by: { $0.key < $1.key }) {
            let at = "\(path).\(locale)"
            if !Locales.isWellFormed(locale) { errors.append(FieldError(at, "'\(locale)' is not a locale tag")) }
            if text.title.trimmingCharacters(in: .whitespaces).isEmpty { errors.append(FieldError("\(at).title", "must not be empty")) }
            if text.why.trimmingCharacters(in: .whitespaces).isEmpty { errors.append(FieldError("\(at).why", "must not be empty")) }
            if text.benefit.trimmingCharacters(in: .whitespaces).isEmpty { errors.append(FieldError("\(at).benefit", "must not be empty")) }
            if text.title.count + text.why.count + text.benefit.count > 4000 { errors.append(FieldError(at, "must be at most 4000 characters")) }
        }
        return errors
    }
}

/// A request to register a field.
public struct FieldInput: Codable, Sendable {
    public var key: String
    public var type: String
    public var options: [String]?
    public var optionLabels: [String: [String: String]]?
    public var purposes: [String]
    public var retentionDays: Int?
    public var sensitivity: String?
    public var labels: [String: String]
    public var minimum: Double?
    public var maximum: Double?
    public var maxLength: Int?

    enum CodingKeys: String, CodingKey {
        case key, type, options, purposes, sensitivity, labels, minimum, maximum
        case optionLabels = "option_labels"
        case retentionDays = "retention_days"
        case maxLength = "max_length"
    }

    public init(key: String, type: String, options: [String]? = nil, optionLabels: [String: [String: String]]? = nil, purposes: [String], retentionDays: Int? = nil, sensitivity: String? = nil, labels: [String: String], minimum: Double? = nil, maximum: Double? = nil, maxLength: Int? = nil) {
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
    }

    /// Validates the input into a field. `allowSpecialCategory` is the installation's explicit enablement.
    public func validated(id: String, createdAt: String, purposes known: [String: Purpose], allowSpecialCategory: Bool) -> Result<Field, CandorError> {
        var errors = [FieldError]()
        Check.key(key, "key", &errors)
        let fieldType = FieldType(rawValue: type)
        if fieldType == nil { errors.append(FieldError("type", "must be one of \(FieldType.allCases.map(\.rawValue).joined(separator: ", "))")) }
        if let fieldType {
            if fieldType.hasOptions {
                let list = options ?? []
                if list.isEmpty { errors.append(FieldError("options", "a \(fieldType.rawValue) field needs at least one option")) }
                if Set(list).count != list.count { errors.append(FieldError("options", "options must be distinct")) }
                for (index, option) in list.enumerated() where option.isEmpty || option.count > 100 {
                    errors.append(FieldError("options[\(index)]", "must be 1 to 100 characters"))
                }
                for option in (optionLabels ?? [:]).keys.sorted() where !list.contains(option) {
                    errors.append(FieldError("option_labels.\(option)", "'\(option)' is not an option"))
                }
            } else if options != nil {
                errors.append(FieldError("options", "only choice fields have options"))
            }
            if fieldType != .number && (minimum != nil || maximum != nil) { errors.append(FieldError("minimum", "only number fields have bounds")) }
            if let minimum, let maximum, minimum > maximum { errors.append(FieldError("maximum", "must not be below minimum")) }
            if let maxLength, fieldType != .text || !(1...10000).contains(maxLength) { errors.append(FieldError("max_length", "only text fields have a length, from 1 to 10000")) }
        }
        if purposes.isEmpty { errors.append(FieldError("purposes", "a field must serve at least one purpose")) }
        for (index, purpose) in purposes.enumerated() where known[purpose] == nil {
            errors.append(FieldError("purposes[\(index)]", "unknown purpose '\(purpose)'"))
        }
        Check.retention(retentionDays, "retention_days", &errors)
        Check.localized(labels, "labels", required: true, &errors)
        let level = Sensitivity(rawValue: sensitivity ?? "standard")
        if level == nil { errors.append(FieldError("sensitivity", "must be 'standard' or 'special'")) }
        if level == .special && !allowSpecialCategory {
            errors.append(FieldError("sensitivity", "special-category data is refused unless the installation enables it (allow_special_category)"))
        }
        guard errors.isEmpty, let fieldType, let level else { return .failure(.invalid(errors)) }
        let longestPurpose = purposes.compactMap { known[$0]?.retentionDays }.max() ?? 365
        return .success(Field(
            id: id, key: key, type: fieldType, options: fieldType.hasOptions ? options : nil, optionLabels: optionLabels,
            purposes: purposes, retentionDays: retentionDays ?? longestPurpose, sensitivity: level, labels: labels,
            minimum: minimum, maximum: maximum, maxLength: maxLength, createdAt: createdAt))
    }
}

/// A request to register or change a team.
public struct TeamInput: Codable, Sendable {
    public var key: String
    public var name: String
    public var purposes: [String]
    public var roles: [String]

    public init(key: String, name: String, purposes: [String], roles: [String]) {
        self.key = key
        self.name = name
        self.purposes = purposes
        self.roles = roles
    }

    /// Validates the input into a team.
    public func validated(id: String, createdAt: String, purposes known: [String: Purpose]) -> Result<Team, CandorError> {
        var errors = [FieldError]()
        Check.key(key, "key", &errors)
        if name.isEmpty || name.count > 100 { errors.append(FieldError("name", "must be 1 to 100 characters")) }
        for (index, purpose) in purposes.enumerated() where known[purpose] == nil {
            errors.append(FieldError("purposes[\(index)]", "unknown purpose '\(purpose)'"))
        }
        var parsed = [Role]()
        for (index, role) in roles.enumerated() {
            if let value = Role(rawValue: role) { parsed.append(value) } else {
                errors.append(FieldError("roles[\(index)]", "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        guard errors.isEmpty else { return .failure(.invalid(errors)) }
        return .success(Team(id: id, key: key, name: name, purposes: Array(Set(purposes)).sorted(), roles: parsed, createdAt: createdAt))
    }
}

/// A request to create an API key.
public struct KeyInput: Codable, Sendable {
    public var name: String
    public var team: String
    public var kind: String?
    public var origins: [String]?

    public init(name: String, team: String, kind: String? = nil, origins: [String]? = nil) {
        self.name = name
        self.team = team
        self.kind = kind
        self.origins = origins
    }

    /// Validates the input into a key kind and origin list.
    public func validated(teams: [String: Team]) -> Result<(KeyKind, [String]), CandorError> {
        var errors = [FieldError]()
        if name.isEmpty || name.count > 100 { errors.append(FieldError("name", "must be 1 to 100 characters")) }
        if teams[team] == nil { errors.append(FieldError("team", "unknown team '\(team)'")) }
        let kind = KeyKind(rawValue: self.kind ?? "secret")
        if kind == nil { errors.append(FieldError("kind", "must be 'secret' or 'publishable'")) }
        let list = origins ?? []
        for (index, origin) in list.enumerated() {
            guard let url = URL(string: origin), let scheme = url.scheme, ["https", "http"].contains(scheme), url.host != nil,
                  url.path.isEmpty || url.path == "/"
            else {
                errors.append(FieldError("origins[\(index)]", "must be an origin such as https://shop.example"))
                continue
            }
        }
        if kind == .publishable && list.isEmpty { errors.append(FieldError("origins", "a publishable key needs at least one allowed origin")) }
        if kind == .secret && !list.isEmpty { errors.append(FieldError("origins", "secret keys are not used from browsers and take no origins")) }
        guard errors.isEmpty, let kind else { return .failure(.invalid(errors)) }
        return .success((kind, list))
    }
}
