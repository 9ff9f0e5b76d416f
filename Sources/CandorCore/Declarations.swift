import Foundation

/// One value a person declares for one field.
public struct DeclaredValueInput: Codable, Sendable {
    public var field: String
    public var value: JSONValue

    public init(field: String, value: JSONValue) {
        self.field = field
        self.value = value
    }
}

/// A request to declare one or more values at once, citing the notice version shown for every purpose.
public struct DeclarationInput: Codable, Sendable {
    public var values: [DeclaredValueInput]
    /// purpose key → notice version number that was shown to the person.
    public var notices: [String: Int]
    public var source: String?
    public var collectionPoint: String?

    enum CodingKeys: String, CodingKey {
        case values, notices, source
        case collectionPoint = "collection_point"
    }

    public init(values: [DeclaredValueInput], notices: [String: Int], source: String? = nil, collectionPoint: String? = nil) {
        self.values = values
        self.notices = notices
        self.source = source
        self.collectionPoint = collectionPoint
    }
}

/// A validated value, ready to store: normalized, with the notice versions it was declared under.
public struct ValidatedValue: Codable, Sendable, Hashable {
    public var field: String
    public var value: JSONValue
    /// purpose key → notice version.
    public var notices: [String: Int]

    public init(field: String, value: JSONValue, notices: [String: Int]) {
        self.field = field
        self.value = value
        self.notices = notices
    }
}

/// Where values come from. Personalization uses only declared data, so the source is always a person.
public enum DeclarationSource: String, Codable, Sendable, CaseIterable {
    case api, preferenceCenter = "preference_center", survey, prompt, `import`
    /// A correction the person asked for (GDPR Art. 16, CCPA §1798.106).
    case rectification
}

/// The rules for accepting a declaration; pure, so the server, imports and tests share them.
public enum DeclarationRules {
    /// Validates a declaration against the registry. Returns every problem at once, or the normalized values.
    public static func validate(
        _ input: DeclarationInput, fields: [String: Field], purposes: [String: Purpose]
    ) -> Result<[ValidatedValue], CandorError> {
        var errors = [FieldError]()
        var out = [ValidatedValue]()
        if input.values.isEmpty { errors.append(FieldError("values", "at least one value is required")) }
        if input.values.count > 100 { errors.append(FieldError("values", "at most 100 values per request")) }
        if let source = input.source, DeclarationSource(rawValue: source) == nil {
            errors.append(FieldError("source", "must be one of \(DeclarationSource.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        if let point = input.collectionPoint, point.count > 100 || point.isEmpty {
            errors.append(FieldError("collection_point", "must be 1 to 100 characters"))
        }
        var seen = Set<String>()
        for (index, item) in input.values.enumerated() {
            let path = "values[\(index)]"
            guard let field = fields[item.field] else {
                errors.append(FieldError("\(path).field", "unknown field '\(item.field)'"))
                continue
            }
            if !seen.insert(field.key).inserted {
                errors.append(FieldError("\(path).field", "field '\(field.key)' is declared twice"))
                continue
            }
            var cited = [String: Int]()
            for purposeKey in field.purposes {
                guard let purpose = purposes[purposeKey] else { continue }
                guard let shown = input.notices[purposeKey] else {
                    errors.append(FieldError("notices.\(purposeKey)", "field '\(field.key)' serves purpose '\(purposeKey)': cite the notice version that was shown"))
                    continue
                }
                guard let current = purpose.currentNoticeVersion, shown >= 1, shown <= current else {
                    errors.append(FieldError("notices.\(purposeKey)", "notice version \(shown) of purpose '\(purposeKey)' does not exist"))
                    continue
                }
                if shown != current {
                    errors.append(FieldError("notices.\(purposeKey)", "notice version \(shown) of purpose '\(purposeKey)' is superseded by version \(current)"))
                    continue
                }
                cited[purposeKey] = shown
            }
            switch normalize(item.value, for: field, path: "\(path).value") {
            case .success(let value): out.append(ValidatedValue(field: field.key, value: value, notices: cited))
            case .failure(let error): errors.append(error)
            }
        }
        for purposeKey in input.notices.keys.sorted() where purposes[purposeKey] == nil {
            errors.append(FieldError("notices.\(purposeKey)", "unknown purpose '\(purposeKey)'"))
        }
        return errors.isEmpty ? .success(out) : .failure(.invalid(errors))
    }

    /// Checks one value against its field and returns it in canonical form (`null` clears the field).
    public static func normalize(_ value: JSONValue, for field: Field, path: String) -> Result<JSONValue, FieldError> {
        if value == .null { return .success(.null) }
        let options = Set(field.options ?? [])
        switch field.type {
        case .singleChoice:
            guard let text = value.stringValue else { return .failure(FieldError(path, "expected a string, got \(value.typeName)")) }
            guard options.contains(text) else { return .failure(FieldError(path, "'\(text)' is not an option of '\(field.key)'")) }
            return .success(value)
        case .multiChoice:
            guard let items = value.arrayValue else { return .failure(FieldError(path, "expected an array of strings, got \(value.typeName)")) }
            var picked = [String]()
            for (index, item) in items.enumerated() {
                guard let text = item.stringValue else { return .failure(FieldError("\(path)[\(index)]", "expected a string, got \(item.typeName)")) }
                guard options.contains(text) else { return .failure(FieldError("\(path)[\(index)]", "'\(text)' is not an option of '\(field.key)'")) }
                if !picked.contains(text) { picked.append(text) }
            }
            return .success(.array(picked.map(JSONValue.string)))
        case .boolean:
            guard case .bool = value else { return .failure(FieldError(path, "expected a boolean, got \(value.typeName)")) }
            return .success(value)
        case .number:
            guard let number = value.numberValue, number.isFinite else { return .failure(FieldError(path, "expected a number, got \(value.typeName)")) }
            if let minimum = field.minimum, number < minimum { return .failure(FieldError(path, "must be at least \(format(minimum))")) }
            if let maximum = field.maximum, number > maximum { return .failure(FieldError(path, "must be at most \(format(maximum))")) }
            return .success(value)
        case .text:
            guard let text = value.stringValue else { return .failure(FieldError(path, "expected a string, got \(value.typeName)")) }
            let limit = field.maxLength ?? 1000
            if text.count > limit { return .failure(FieldError(path, "must be at most \(limit) characters")) }
            return .success(.string(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        case .date:
            guard let text = value.stringValue, isCalendarDate(text) else { return .failure(FieldError(path, "expected a date as YYYY-MM-DD")) }
            return .success(value)
        }
    }

    static func format(_ number: Double) -> String {
        number.rounded() == number ? String(Int64(number)) : String(number)
    }

    static func isCalendarDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              parts[0].count == 4, parts[1].count == 2, parts[2].count == 2, (1...12).contains(month), year >= 1
        else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }
}

/// Whether consent for a purpose is given or withdrawn.
public enum ConsentStatus: String, Codable, Sendable {
    case granted
    case withdrawn
}

/// How consent was expressed.
public enum ConsentMethod: String, Codable, Sendable, CaseIterable {
    case checkbox, api, gpc, `import`, preferenceCenter = "preference_center", objection, form
    /// A one-click unsubscribe from a newsletter (RFC 8058), or its confirmation page.
    case unsubscribe
}

/// A consent change requested for one purpose.
public struct ConsentInput: Codable, Sendable {
    public var purpose: String
    public var status: String
    public var method: String?
    public var noticeVersion: Int?
    public var expiresAt: String?

    enum CodingKeys: String, CodingKey {
        case purpose, status, method
        case noticeVersion = "notice_version"
        case expiresAt = "expires_at"
    }

    public init(purpose: String, status: String, method: String? = nil, noticeVersion: Int? = nil, expiresAt: String? = nil) {
        self.purpose = purpose
        self.status = status
        self.method = method
        self.noticeVersion = noticeVersion
        self.expiresAt = expiresAt
    }
}

/// A validated consent change.
public struct ConsentChange: Codable, Sendable, Hashable {
    public var purpose: String
    public var status: ConsentStatus
    public var method: ConsentMethod
    public var noticeVersion: Int?
    public var expiresAt: Int64?

    enum CodingKeys: String, CodingKey {
        case purpose, status, method
        case noticeVersion = "notice_version"
        case expiresAt = "expires_at"
    }

    public init(purpose: String, status: ConsentStatus, method: ConsentMethod, noticeVersion: Int?, expiresAt: Int64?) {
        self.purpose = purpose
        self.status = status
        self.method = method
        self.noticeVersion = noticeVersion
        self.expiresAt = expiresAt
    }
}

/// The rules for accepting consent changes.
public enum ConsentRules {
    /// Validates consent changes. A grant must cite the current notice version; a withdrawal need not
    /// (withdrawing must be as easy as giving, GDPR Art. 7(3)).
    public static func validate(_ inputs: [ConsentInput], purposes: [String: Purpose], now: Int64) -> Result<[ConsentChange], CandorError> {
        var errors = [FieldError]()
        var out = [ConsentChange]()
        if inputs.isEmpty { errors.append(FieldError("consents", "at least one consent is required")) }
        var seen = Set<String>()
        for (index, input) in inputs.enumerated() {
            let path = "consents[\(index)]"
            guard let purpose = purposes[input.purpose] else {
                errors.append(FieldError("\(path).purpose", "unknown purpose '\(input.purpose)'"))
                continue
            }
            if !seen.insert(purpose.key).inserted {
                errors.append(FieldError("\(path).purpose", "purpose '\(purpose.key)' appears twice"))
                continue
            }
            guard let status = ConsentStatus(rawValue: input.status) else {
                errors.append(FieldError("\(path).status", "must be 'granted' or 'withdrawn'"))
                continue
            }
            let methodText = input.method ?? "api"
            guard let method = ConsentMethod(rawValue: methodText) else {
                errors.append(FieldError("\(path).method", "must be one of \(ConsentMethod.allCases.map(\.rawValue).joined(separator: ", "))"))
                continue
            }
            var expiry: Int64?
            if let text = input.expiresAt {
                guard let millis = Timestamp.parse(text) else {
                    errors.append(FieldError("\(path).expires_at", "expected an RFC 3339 time"))
                    continue
                }
                guard millis > now else {
                    errors.append(FieldError("\(path).expires_at", "must be in the future"))
                    continue
                }
                expiry = millis
            }
            if status == .granted {
                guard let shown = input.noticeVersion else {
                    errors.append(FieldError("\(path).notice_version", "a grant must cite the notice version that was shown"))
                    continue
                }
                guard let current = purpose.currentNoticeVersion, shown >= 1, shown <= current else {
                    errors.append(FieldError("\(path).notice_version", "notice version \(shown) of purpose '\(purpose.key)' does not exist"))
                    continue
                }
                if shown != current {
                    errors.append(FieldError("\(path).notice_version", "notice version \(shown) of purpose '\(purpose.key)' is superseded by version \(current)"))
                    continue
                }
            } else if let shown = input.noticeVersion, shown < 1 || shown > (purpose.currentNoticeVersion ?? 0) {
                errors.append(FieldError("\(path).notice_version", "notice version \(shown) of purpose '\(purpose.key)' does not exist"))
                continue
            }
            out.append(ConsentChange(purpose: purpose.key, status: status, method: method, noticeVersion: input.noticeVersion, expiresAt: expiry))
        }
        return errors.isEmpty ? .success(out) : .failure(.invalid(errors))
    }
}
