import CandorCore
import CandorStore
import Foundation

/// Turns what the store holds about a person into what the portal's templates show, in the person's
/// language: labels instead of keys, readable times, and the form for correcting each field.
struct PortalView {
    let store: CandorStore
    let language: PageLanguage

    var t: [String: String] { PortalStrings.of(language) }
    var registry: RegistrySnapshot { store.registry }

    /// Everything on `/rights/me` and in the printable export.
    func overview(_ export: SubjectExport, receipts: [ConsentReceiptDocument]) -> [String: Any] {
        let fields = registry.fields
        let values: [[String: Any]] = export.values.keys.sorted().map { key in
            let value = export.values[key]!
            let field = fields[key]
            return Self.compact([
                "key": key, "label": field.map(label) ?? key,
                "display": field.map { display(value.value, field: $0) } ?? value.value.jsonText,
                "source": value.source, "collectionPoint": value.collectionPoint.flatMap { $0.isEmpty ? nil : $0 },
                "when": Self.time(value.declaredAt), "notices": notices(value.notices), "correctable": field != nil,
            ])
        }
        let consents: [[String: Any]] = export.consents.map { consent in
            [
                "purpose": purposeName(consent.purpose), "key": consent.purpose, "granted": consent.status == .granted,
                "status": consent.status == .granted ? t["granted"]! : t["withdrawn"]!, "method": consent.method.rawValue,
                "when": Self.time(consent.updatedAt), "notice": consent.noticeVersion.map { "v\($0)" } ?? "—",
            ]
        }
        let history: [[String: Any]] = export.history.reversed().map { event in
            Self.compact([
                "seq": event.seq, "when": Self.time(event.recordedAt), "what": t["kind.\(event.kind)"] ?? event.kind,
                "by": event.actor == "subject" ? t["byYou"]! : t["byUs"]!, "detail": detail(event).isEmpty ? nil : detail(event),
            ])
        }
        // The person's own look at their data is not a disclosure to someone else.
        let sharing: [[String: Any]] = export.sharedWith.filter { $0.team != "self-service" }.reversed().map { use in
            [
                "when": Self.time(use.at), "team": registry.teams[use.team]?.name ?? use.team, "what": t["action.\(use.action)"] ?? use.action,
                "purpose": use.purpose.map(purposeName) ?? "—", "fields": use.fields.map { fields[$0].map(label) ?? $0 }.joined(separator: ", "),
            ]
        }
        let receiptRows: [[String: Any]] = receipts.map { receipt in
            let items = receipt.services.flatMap(\.purposes).map { "\(purposeName($0.purposeKey)): \($0.consentStatus == "granted" ? t["granted"]! : t["withdrawn"]!)" }
            return [
                "seq": receipt.candorLedger.seq, "when": Self.time(receipt.candorLedger.recordedAt), "summary": items.joined(separator: "; "),
            ]
        }
        // Surveys the person took part in, and the codes they were given (issue 3).
        let surveys: [[String: Any]] = (export.surveys ?? []).map { taken in
            [
                "title": taken.title[language.code] ?? taken.title["en"] ?? taken.surveyId,
                "state": taken.state == "completed" ? t["surveyCompleted"]! : t["surveyInProgress"]!,
                "answered": t["surveyAnswered"]!.replacingOccurrences(of: "%1", with: String(taken.answered)),
                "when": Self.time(taken.completedAt ?? taken.startedAt),
            ]
        }
        let titles = Dictionary((export.surveys ?? []).map { ($0.surveyId, $0.title) }, uniquingKeysWith: { first, _ in first })
        let codes: [[String: Any]] = (export.incentives ?? []).map { issued in
            [
                "code": issued.code ?? t["unlockedContent"]!, "when": Self.time(issued.issuedAt),
                "survey": titles[issued.surveyId].map { $0[language.code] ?? $0["en"] ?? issued.surveyId } ?? issued.surveyId,
            ]
        }
        // The questions the site's prompts asked (issue 3), by the field's label in the person's language.
        let prompts: [[String: Any]] = (export.prompts?.prompts ?? []).map { item in
            Self.compact([
                "label": fields[item.field].map(label) ?? item.name,
                "counts": t["promptLine"]!.replacingOccurrences(of: "%1", with: String(item.displays))
                    .replacingOccurrences(of: "%2", with: String(item.dismissals)).replacingOccurrences(of: "%3", with: String(item.answers)),
                "when": item.lastShownAt.map(Self.time),
            ])
        }
        let flags = export.flags
        let rights: [[String: Any]] = PortalAction.allCases.filter { $0 != .unrestrict || flags.restricted }.map { action in
            ["action": action.rawValue, "label": t["\(action.rawValue)Link"]!, "what": t["\(action.rawValue)What"]!, "done": action.isDone(flags)]
        }
        return Self.compact([
            "subjectId": export.subject.id, "email": export.subject.email, "externalId": export.subject.externalId,
            "since": Self.time(export.subject.createdAt),
            "values": values, "hasValues": !values.isEmpty,
            "consents": consents, "hasConsents": !consents.isEmpty,
            "history": history, "sharing": sharing, "hasSharing": !sharing.isEmpty,
            "receipts": receiptRows, "hasReceipts": !receiptRows.isEmpty,
            "surveys": surveys, "codes": codes, "hasSurveys": !surveys.isEmpty || !codes.isEmpty, "hasCodes": !codes.isEmpty,
            "prompts": prompts, "hasPrompts": !prompts.isEmpty, "dontAsk": export.prompts?.dontAsk == true,
            "flags": [
                ["label": t["restrictedFlag"]!, "value": flags.restricted ? t["yes"]! : t["no"]!],
                ["label": t["objectedFlag"]!, "value": flags.objectedToDirectMarketing ? t["yes"]! : t["no"]!],
                ["label": t["optedOutFlag"]!, "value": flags.optedOutOfSale ? t["yes"]! : t["no"]!],
            ],
            "rights": rights,
        ])
    }

    /// Leaves out what is absent: Mustache would print a Swift nil as "nil" instead of skipping it.
    static func compact(_ values: [String: Any?]) -> [String: Any] {
        values.compactMapValues { $0 }
    }

    func detail(_ event: SubjectExport.Event) -> String {
        if let values = event.values, !values.isEmpty {
            return values.map { value in
                let field = registry.fields[value.field]
                return "\(field.map(label) ?? value.field): \(field.map { display(value.value, field: $0) } ?? value.value.jsonText)"
            }.joined(separator: "; ")
        }
        if let code = event.code { return "\(t["codeDetail"]!): \(code)" }
        if let consents = event.consents, !consents.isEmpty {
            return consents.map { "\(purposeName($0.purpose)): \($0.status == .granted ? t["granted"]! : t["withdrawn"]!)" }.joined(separator: "; ")
        }
        return ""
    }

    func notices(_ notices: [String: Int]) -> String {
        notices.keys.sorted().map { "\(purposeName($0)) v\(notices[$0]!)" }.joined(separator: ", ")
    }

    func purposeName(_ key: String) -> String {
        registry.purposes[key].map { $0.names[language.code] ?? $0.names["en"] ?? key } ?? key
    }

    func label(_ field: Field) -> String { field.labels[language.code] ?? field.labels["en"] ?? field.key }

    func optionLabel(_ option: String, field: Field) -> String {
        field.label(ofOption: option, locale: language.code)
    }

    /// A value as a person reads it.
    func display(_ value: JSONValue, field: Field) -> String {
        switch value {
        case .null: t["none"]!
        case .bool(let flag): flag ? t["yes"]! : t["no"]!
        case .number(let number): Self.number(number)
        case .string(let text): field.options == nil ? text : optionLabel(text, field: field)
        case .array(let items): items.isEmpty ? t["none"]! : items.map { display($0, field: field) }.joined(separator: ", ")
        case .object: value.jsonText
        }
    }

    static func number(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    // MARK: - Correcting

    /// The form that corrects one field: its kind of input, its options and what is filled in.
    func fieldForm(_ field: Field, proposed: JSONValue?, submitted: [String]?) -> [String: Any] {
        let chosen: Set<String> = submitted.map(Set.init) ?? {
            switch proposed {
            case .string(let text): [text]
            case .array(let items): Set(items.compactMap(\.stringValue))
            case .bool(let flag): [flag ? "true" : "false"]
            case .number(let number): [Self.number(number)]
            default: []
            }
        }()
        let text = submitted?.first ?? {
            switch proposed {
            case .string(let text): text
            case .number(let number): Self.number(number)
            default: ""
            }
        }()
        var options: [[String: Any]] = []
        switch field.type {
        case .singleChoice, .multiChoice:
            options = (field.options ?? []).enumerated().map { index, option in
                ["id": "value-\(index)", "value": option, "label": optionLabel(option, field: field), "checked": chosen.contains(option)]
            }
        case .boolean:
            options = [("true", t["yes"]!), ("false", t["no"]!)].enumerated().map { index, pair in
                ["id": "value-\(index)", "value": pair.0, "label": pair.1, "checked": chosen.contains(pair.0)]
            }
        default: break
        }
        var context: [String: Any] = [
            "fieldKey": field.key, "fieldLabel": label(field), "options": options, "hasOptions": !options.isEmpty, "text": text,
            "isMulti": field.type == .multiChoice, "isSingle": field.type == .singleChoice || field.type == .boolean,
            "isNumber": field.type == .number, "isDate": field.type == .date, "isText": field.type == .text,
        ]
        if let minimum = field.minimum { context["min"] = Self.number(minimum) }
        if let maximum = field.maximum { context["max"] = Self.number(maximum) }
        if let maxLength = field.maxLength { context["maxLength"] = maxLength }
        context["hint"] = hint(field)
        return context
    }

    /// What a valid answer looks like, shown beside the input and repeated as the error.
    func hint(_ field: Field) -> String {
        switch field.type {
        case .singleChoice: return t["errChoose"]!
        case .multiChoice: return t["errChooseSome"]!
        case .boolean: return t["errBoolean"]!
        case .number:
            if let minimum = field.minimum, let maximum = field.maximum {
                return "\(t["errNumber"]!) \(t["errBetween"]!.replacingOccurrences(of: "%1", with: Self.number(minimum)).replacingOccurrences(of: "%2", with: Self.number(maximum)))."
            }
            return "\(t["errNumber"]!)."
        case .text: return t["errText"]!
        case .date: return t["errDate"]!
        }
    }

    /// The submitted answer as a value the field accepts, or the message to show next to the input.
    /// The domain's own rules decide (the same ones the API applies), so the portal cannot be laxer.
    func parse(_ submitted: [String], for field: Field) -> Result<JSONValue, PortalFieldError> {
        let trimmed = submitted.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let value: JSONValue
        switch field.type {
        case .multiChoice:
            value = .array(trimmed.filter { !$0.isEmpty }.map(JSONValue.string))
        case .singleChoice, .date, .text:
            guard let first = trimmed.first, !first.isEmpty, trimmed.count == 1 else { return .failure(PortalFieldError(message: hint(field))) }
            value = .string(first)
        case .boolean:
            guard trimmed.count == 1, ["true", "false"].contains(trimmed[0]) else { return .failure(PortalFieldError(message: hint(field))) }
            value = .bool(trimmed[0] == "true")
        case .number:
            guard trimmed.count == 1, let number = Double(trimmed[0].replacingOccurrences(of: ",", with: ".")), number.isFinite else { return .failure(PortalFieldError(message: hint(field))) }
            value = .number(number)
        }
        switch DeclarationRules.normalize(value, for: field, path: "value") {
        case .success(let normalized): return .success(normalized)
        case .failure: return .failure(PortalFieldError(message: hint(field)))
        }
    }

    // MARK: - Times

    static let formatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter
    }()

    /// Milliseconds since the epoch as a time a person reads (UTC, written the same in both languages).
    static func time(_ millis: Int64) -> String {
        formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// An RFC 3339 time as a person reads it.
    static func time(_ rfc3339: String) -> String {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = parser.date(from: rfc3339) ?? ISO8601DateFormatter().date(from: rfc3339) {
            return formatter.string(from: date)
        }
        return rfc3339
    }
}

/// Why a submitted answer was refused, in the person's language.
struct PortalFieldError: Error {
    var message: String
}
