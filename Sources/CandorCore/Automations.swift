import Foundation

// Automations (issue 6, items 3 and 5): "when EVENT [if RULE] then ACTIONS".
//
// This file holds the model, the validation that needs only the registry, and every decision the
// engine takes that needs no database: does an event match a trigger, may an automation fire on an
// event it may itself have caused, may a set-field action write, which channel an alert takes and
// whether the person's declared frequency allows it now. The store runs the actions; the server adds
// template checks (Mustache) and the engine that follows the outbox.

/// The events an automation can start on. Each is emitted in the transaction that caused it.
public enum AutomationEvent: String, Codable, Sendable, CaseIterable {
    case declarationRecorded = "declaration.recorded"
    case consentGranted = "consent.granted"
    case consentWithdrawn = "consent.withdrawn"
    case surveyCompleted = "survey.completed"
    case incentiveIssued = "incentive.issued"
    case rightsCompleted = "rights.completed"
    case gpcReceived = "gpc.received"
}

/// When an automation fires: an event, narrowed by optional filters that apply to that event only.
public struct AutomationTrigger: Codable, Sendable, Hashable {
    /// One of `AutomationEvent`.
    public var event: String
    /// `declaration.recorded`: fires only when one of these fields was declared (or cleared).
    public var fields: [String]?
    /// `consent.granted` / `consent.withdrawn`: only for these purposes.
    public var purposes: [String]?
    /// `survey.completed` / `incentive.issued`: only for these surveys.
    public var surveys: [String]?
    /// `rights.completed`: only for these request types (`access`, `erase`, …).
    public var requestTypes: [String]?

    enum CodingKeys: String, CodingKey {
        case event, fields, purposes, surveys
        case requestTypes = "request_types"
    }

    public init(event: String, fields: [String]? = nil, purposes: [String]? = nil, surveys: [String]? = nil, requestTypes: [String]? = nil) {
        self.event = event
        self.fields = fields
        self.purposes = purposes
        self.surveys = surveys
        self.requestTypes = requestTypes
    }
}

/// What an action does.
public enum AutomationActionType: String, Codable, Sendable, CaseIterable {
    /// A signed `automation.triggered` webhook to one destination, through the delivery pipeline.
    case callDestination = "call_destination"
    /// An e-mail from a Mustache template, for a purpose checked at send time.
    case sendEmail = "send_email"
    /// An incentive code from a pool, at most once per person per automation.
    case issueIncentive = "issue_incentive"
    /// Sets or clears a field on the person's behalf, only where their own declaration allows it.
    case setField = "set_field"
    /// A notification over a channel the person declared, at most once per the frequency they declared.
    case alert
}

/// One locale of an e-mail or alert: a subject line and a plain-text Mustache body.
public struct AutomationMessage: Codable, Sendable, Hashable {
    public var subject: String
    public var text: String

    public init(subject: String, text: String) {
        self.subject = subject
        self.text = text
    }
}

/// The declaration a person must have made for a set-field action to act for them.
public struct AutomationPermission: Codable, Sendable, Hashable {
    public var field: String
    public var value: JSONValue

    public init(field: String, value: JSONValue) {
        self.field = field
        self.value = value
    }
}

/// One action of an automation. Which members apply depends on `type` (see docs/automations.md).
public struct AutomationAction: Codable, Sendable, Hashable {
    public var type: String
    /// `call_destination` (required) and `alert` (optional: where non-e-mail channels go).
    public var destinationId: String?
    /// `send_email` and `alert`: the purpose the message serves, checked through `PurposeGate` at send time.
    public var purpose: String?
    /// `send_email` and `alert`: locale → subject and text templates.
    public var content: [String: AutomationMessage]?
    /// The locale used when the person declared no `language` the content has (default: `en`, else the first).
    public var defaultLocale: String?
    /// `issue_incentive`: the code pool.
    public var poolId: String?
    /// `set_field`: the field to set or clear.
    public var field: String?
    /// `set_field`: the value to set (absent with `clear: true`).
    public var value: JSONValue?
    /// `set_field`: clear the field instead of setting it.
    public var clear: Bool?
    /// `set_field`: what the person must have declared for the action to act for them.
    public var permission: AutomationPermission?

    enum CodingKeys: String, CodingKey {
        case type, purpose, content, field, value, clear, permission
        case destinationId = "destination_id"
        case defaultLocale = "default_locale"
        case poolId = "pool_id"
    }

    public init(type: AutomationActionType, destinationId: String? = nil, purpose: String? = nil, content: [String: AutomationMessage]? = nil,
                defaultLocale: String? = nil, poolId: String? = nil, field: String? = nil, value: JSONValue? = nil, clear: Bool? = nil,
                permission: AutomationPermission? = nil) {
        self.type = type.rawValue
        self.destinationId = destinationId
        self.purpose = purpose
        self.content = content
        self.defaultLocale = defaultLocale
        self.poolId = poolId
        self.field = field
        self.value = value
        self.clear = clear
        self.permission = permission
    }

    /// The action's type, when it is a known one.
    public var kind: AutomationActionType? { AutomationActionType(rawValue: type) }

    /// The locale of a message for a person who declared `language` (nil: none).
    public func locale(for language: String?) -> String {
        let locales = (content ?? [:]).keys.sorted()
        if let language, content?[language] != nil { return language }
        if let defaultLocale, content?[defaultLocale] != nil { return defaultLocale }
        return content?["en"] != nil ? "en" : (locales.first ?? "en")
    }
}

/// What an administrator sends to create or replace an automation.
public struct AutomationInput: Codable, Sendable, Hashable {
    public var name: String
    public var description: String?
    public var trigger: AutomationTrigger
    /// A segment rule over the person's current profile (docs/segments.md); absent: always.
    public var rule: String?
    public var actions: [AutomationAction]
    public var enabled: Bool?

    public init(name: String, description: String? = nil, trigger: AutomationTrigger, rule: String? = nil, actions: [AutomationAction], enabled: Bool? = nil) {
        self.name = name
        self.description = description
        self.trigger = trigger
        self.rule = rule
        self.actions = actions
        self.enabled = enabled
    }
}

/// A stored automation.
public struct Automation: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    public var trigger: AutomationTrigger
    public var rule: String?
    public var actions: [AutomationAction]
    public var enabled: Bool
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, description, trigger, rule, actions, enabled
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, input: AutomationInput, enabled: Bool, createdAt: String, updatedAt: String) {
        self.id = id
        self.name = input.name
        self.description = input.description
        self.trigger = input.trigger
        self.rule = input.rule
        self.actions = input.actions
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What became of one action in one run.
public struct AutomationActionOutcome: Codable, Sendable, Hashable {
    /// The action's position in the automation.
    public var index: Int
    public var type: String
    /// `queued` (webhook handed to the delivery pipeline), `sending`, `sent`, `issued`, `set`, `cleared`,
    /// `skipped`, `not_allowed`, `deferred` (alert held by the declared frequency), `failed`.
    public var outcome: String
    /// Why, for every outcome but the plain successes (`no_email`, `consent_withdrawn`, `frequency`, …).
    public var reason: String?
    /// The channel an alert used (`email`, `sms`, …).
    public var channel: String?
    /// When a deferred alert would next be allowed (RFC 3339).
    public var notBefore: String?

    enum CodingKeys: String, CodingKey {
        case index, type, outcome, reason, channel
        case notBefore = "not_before"
    }

    public init(index: Int, type: String, outcome: String, reason: String? = nil, channel: String? = nil, notBefore: String? = nil) {
        self.index = index
        self.type = type
        self.outcome = outcome
        self.reason = reason
        self.channel = channel
        self.notBefore = notBefore
    }
}

/// One run of an automation on one event: the run log entry.
public struct AutomationRun: Codable, Sendable, Hashable {
    public var id: String
    public var automationId: String
    public var eventId: String
    public var eventType: String
    public var subjectId: String
    /// `completed` (the actions ran; see each outcome) or `skipped` (see `reason`).
    public var status: String
    /// Why it was skipped: `rule_not_met`, `loop` (the event was caused by this automation), `depth_limit`.
    public var reason: String?
    /// The automations whose actions caused the event, oldest first.
    public var causedBy: [String]
    public var actions: [AutomationActionOutcome]
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, status, reason, actions
        case automationId = "automation_id"
        case eventId = "event_id"
        case eventType = "event_type"
        case subjectId = "subject_id"
        case causedBy = "caused_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, automationId: String, eventId: String, eventType: String, subjectId: String, status: String, reason: String?,
                causedBy: [String], actions: [AutomationActionOutcome], createdAt: String, updatedAt: String) {
        self.id = id
        self.automationId = automationId
        self.eventId = eventId
        self.eventType = eventType
        self.subjectId = subjectId
        self.status = status
        self.reason = reason
        self.causedBy = causedBy
        self.actions = actions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The rules of automations that need only the registry.
public enum AutomationRules {
    /// At most this many automations in a causal chain: an event caused by this many automations starts no more.
    public static let maxChainDepth = 4
    /// At most this many actions per automation.
    public static let maxActions = 10
    /// Request types a `rights.completed` filter may name.
    public static let requestTypes = ["access", "export", "rectify", "erase", "restrict", "object", "opt_out_of_sale"]

    /// Every problem of an input, each naming its field; the compiled rule when it has one and it is valid.
    /// Destinations and pools (the store) and templates (the server) are checked by their owners.
    public static func validate(_ input: AutomationInput, fields: [String: Field], purposes: [String: Purpose]) -> (errors: [FieldError], rule: SegmentExpr?) {
        var errors = [FieldError]()
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty || name.count > 200 { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if let description = input.description, description.count > 2000 { errors.append(FieldError("description", "must be at most 2000 characters")) }
        errors += triggerProblems(input.trigger, fields: fields, purposes: purposes)
        var compiled: SegmentExpr?
        if let rule = input.rule, !rule.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if rule.count > 10_000 {
                errors.append(FieldError("rule", "must be at most 10000 characters"))
            } else {
                switch SegmentRule.compile(rule, fields: fields, purposes: purposes) {
                case .success(let expr): compiled = expr
                case .failure(let error): errors.append(error.fieldError("rule"))
                }
            }
        }
        if input.actions.isEmpty || input.actions.count > maxActions {
            errors.append(FieldError("actions", "give 1 to \(maxActions) actions"))
        }
        for (index, action) in input.actions.enumerated() {
            errors += actionProblems(action, at: "actions[\(index)]", fields: fields, purposes: purposes)
        }
        return (errors, compiled)
    }

    static func triggerProblems(_ trigger: AutomationTrigger, fields: [String: Field], purposes: [String: Purpose]) -> [FieldError] {
        var errors = [FieldError]()
        guard let event = AutomationEvent(rawValue: trigger.event) else {
            return [FieldError("trigger.event", "unknown event '\(trigger.event)'; one of \(AutomationEvent.allCases.map(\.rawValue).joined(separator: ", "))")]
        }
        func check(_ list: [String]?, _ name: String, appliesTo: Set<AutomationEvent>, known: (String) -> Bool, noun: String) {
            guard let list else { return }
            if !appliesTo.contains(event) {
                errors.append(FieldError("trigger.\(name)", "does not apply to '\(event.rawValue)'"))
                return
            }
            if list.isEmpty { errors.append(FieldError("trigger.\(name)", "give at least one, or leave it out")) }
            for (index, item) in list.enumerated() where !known(item) {
                errors.append(FieldError("trigger.\(name)[\(index)]", "unknown \(noun) '\(item)'"))
            }
        }
        check(trigger.fields, "fields", appliesTo: [.declarationRecorded], known: { fields[$0] != nil }, noun: "field")
        check(trigger.purposes, "purposes", appliesTo: [.consentGranted, .consentWithdrawn], known: { purposes[$0] != nil }, noun: "purpose")
        // Surveys are the store's to know; here only their shape.
        check(trigger.surveys, "surveys", appliesTo: [.surveyCompleted, .incentiveIssued], known: { !$0.isEmpty && $0.count <= 100 }, noun: "survey")
        check(trigger.requestTypes, "request_types", appliesTo: [.rightsCompleted], known: { requestTypes.contains($0) }, noun: "request type")
        return errors
    }

    static func actionProblems(_ action: AutomationAction, at path: String, fields: [String: Field], purposes: [String: Purpose]) -> [FieldError] {
        var errors = [FieldError]()
        guard let kind = action.kind else {
            return [FieldError("\(path).type", "unknown action '\(action.type)'; one of \(AutomationActionType.allCases.map(\.rawValue).joined(separator: ", "))")]
        }
        func required(_ value: String?, _ name: String) {
            if (value ?? "").isEmpty { errors.append(FieldError("\(path).\(name)", "is required for \(kind.rawValue)")) }
        }
        func messageProblems() {
            if let purpose = action.purpose {
                if purposes[purpose] == nil { errors.append(FieldError("\(path).purpose", "unknown purpose '\(purpose)'")) }
            } else {
                required(nil, "purpose")
            }
            guard let content = action.content, !content.isEmpty else {
                errors.append(FieldError("\(path).content", "give the subject and text of at least one locale"))
                return
            }
            for (locale, message) in content.sorted(by: { $0.key < $1.key }) {
                if !["en", "he"].contains(locale) { errors.append(FieldError("\(path).content.\(locale)", "locale must be en or he")) }
                let subject = message.subject.trimmingCharacters(in: .whitespacesAndNewlines)
                if subject.isEmpty || subject.count > 200 || subject.contains(where: \.isNewline) {
                    errors.append(FieldError("\(path).content.\(locale).subject", "must be one line of 1 to 200 characters"))
                }
            }
            if let locale = action.defaultLocale, content[locale] == nil {
                errors.append(FieldError("\(path).default_locale", "has no content"))
            }
        }
        switch kind {
        case .callDestination:
            required(action.destinationId, "destination_id")
        case .sendEmail:
            messageProblems()
        case .alert:
            messageProblems()
        case .issueIncentive:
            required(action.poolId, "pool_id")
        case .setField:
            if let key = action.field {
                if let field = fields[key] {
                    if action.clear == true {
                        if action.value != nil { errors.append(FieldError("\(path).value", "give a value or clear, not both")) }
                    } else if let value = action.value {
                        if case .failure(let error) = DeclarationRules.normalize(value, for: field, path: "\(path).value") { errors.append(error) }
                    } else {
                        errors.append(FieldError("\(path).value", "give the value to set, or \"clear\": true"))
                    }
                } else {
                    errors.append(FieldError("\(path).field", "unknown field '\(key)'"))
                }
            } else {
                required(nil, "field")
            }
            if let permission = action.permission {
                if let field = fields[permission.field] {
                    if case .failure(let error) = DeclarationRules.normalize(permission.value, for: field, path: "\(path).permission.value") { errors.append(error) }
                } else {
                    errors.append(FieldError("\(path).permission.field", "unknown field '\(permission.field)'"))
                }
            } else {
                errors.append(FieldError("\(path).permission", "a set_field action needs the field and value the person must have declared to allow it"))
            }
        }
        return errors
    }

    // MARK: - Decisions

    /// Whether an event matches a trigger: its type, then the trigger's filter on the event's data.
    public static func matches(_ trigger: AutomationTrigger, type: String, data: [String: JSONValue]) -> Bool {
        guard trigger.event == type, let event = AutomationEvent(rawValue: type) else { return false }
        func string(_ key: String) -> String? { if case .string(let text)? = data[key] { text } else { nil } }
        switch event {
        case .declarationRecorded:
            guard let wanted = trigger.fields else { return true }
            guard case .array(let values)? = data["values"] else { return false }
            return values.contains { value in
                if case .object(let item) = value, case .string(let field)? = item["field"] { wanted.contains(field) } else { false }
            }
        case .consentGranted, .consentWithdrawn:
            guard let wanted = trigger.purposes else { return true }
            return string("purpose").map(wanted.contains) ?? false
        case .surveyCompleted, .incentiveIssued:
            guard let wanted = trigger.surveys else { return true }
            return string("survey_id").map(wanted.contains) ?? false
        case .rightsCompleted:
            guard let wanted = trigger.requestTypes else { return true }
            return string("request_type").map(wanted.contains) ?? false
        case .gpcReceived:
            return true
        }
    }

    /// Whether an automation may act on an event caused by the automations in `chain` (oldest first).
    public enum LoopCheck: Sendable, Equatable {
        case allowed
        /// The automation is in the chain: it caused the event, directly or through others.
        case loop
        /// The chain is at the depth limit.
        case depthLimit
    }

    /// Loop prevention: an automation never fires on an event it caused, directly or transitively, and
    /// no chain grows past `maxChainDepth`.
    public static func loopCheck(_ automationId: String, chain: [String]) -> LoopCheck {
        if chain.contains(automationId) { return .loop }
        if chain.count >= maxChainDepth { return .depthLimit }
        return .allowed
    }

    /// Whether the person's current value of the permission field says yes: equal to the permission's
    /// value, or (a multi-choice field) containing it.
    public static func permits(_ permission: AutomationPermission, current: JSONValue?) -> Bool {
        guard let current else { return false }
        if current == permission.value { return true }
        if case .array(let items) = current {
            if case .array(let wanted) = permission.value { return !wanted.isEmpty && wanted.allSatisfy(items.contains) }
            return items.contains(permission.value)
        }
        return false
    }
}

/// How often a person said they want to hear from us, as alert windows.
public enum AlertFrequency: String, Codable, Sendable, CaseIterable {
    case daily, weekly, monthly

    /// The field whose declared option names the frequency (demo: `content_frequency`).
    public static let field = "content_frequency"
    /// The field whose declared options name the channels (demo: `channels`).
    public static let channelsField = "channels"
    /// The frequency of a person who declared none: the most cautious of the common choices.
    public static let fallback = AlertFrequency.weekly

    /// The mapping from a declared value to a window: `daily` → 1 day, `weekly` → 7 days, `monthly` →
    /// one calendar month (the same day next month, or its last day: 31 January → 28/29 February).
    /// Anything else (not declared, an option we do not know) → `fallback`.
    public static func of(_ declared: JSONValue?) -> AlertFrequency {
        if case .string(let text)? = declared, let known = AlertFrequency(rawValue: text) { return known }
        return fallback
    }

    /// The first moment (epoch ms) after an alert sent at `sentAt` when the next one may go, in UTC.
    public func nextAllowed(after sentAt: Int64) -> Int64 {
        let day: Int64 = 86_400_000
        switch self {
        case .daily: return sentAt + day
        case .weekly: return sentAt + 7 * day
        case .monthly:
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            // Whole seconds through the calendar, the milliseconds carried over exactly.
            let seconds = sentAt >= 0 ? sentAt / 1000 : (sentAt - 999) / 1000
            let date = Date(timeIntervalSince1970: Double(seconds))
            // Calendar adds a month clamping to the month's last day (31 Jan + 1 month = 28/29 Feb).
            guard let next = calendar.date(byAdding: .month, value: 1, to: date) else { return sentAt + 31 * day }
            return Int64(next.timeIntervalSince1970.rounded()) * 1000 + (sentAt - seconds * 1000)
        }
    }

    /// Whether an alert may go now, given when the person's last alert went.
    public func decide(lastSentAt: Int64?, now: Int64) -> AlertDecision {
        guard let lastSentAt else { return .send }
        let next = nextAllowed(after: lastSentAt)
        return now >= next ? .send : .deferred(until: next)
    }
}

/// The frequency check's answer.
public enum AlertDecision: Sendable, Equatable {
    case send
    /// Held: the person's window is not over until this moment (epoch ms).
    case deferred(until: Int64)
}

/// The channel an alert takes.
public enum AlertRoute: Sendable, Equatable {
    case email
    /// A channel other than e-mail, through the alert's destination webhook.
    case webhook(channel: String)
    /// Nothing to send over, and why (`no_channel_declared`, `no_email`, `no_destination_for_channel`).
    case skip(reason: String)
}

extension AlertRoute {
    /// Picks the channel: e-mail when the person declared it and we have their address and a mail
    /// sender; else the first other declared channel, when the alert names a destination for them.
    /// Never a channel the person did not declare.
    public static func choose(declared: JSONValue?, hasEmail: Bool, canSendMail: Bool, hasDestination: Bool) -> AlertRoute {
        var channels = [String]()
        switch declared {
        case .array(let items)?: channels = items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        case .string(let one)?: channels = [one]
        default: break
        }
        guard !channels.isEmpty else { return .skip(reason: "no_channel_declared") }
        if channels.contains("email") && hasEmail && canSendMail { return .email }
        if let other = channels.first(where: { $0 != "email" }), hasDestination { return .webhook(channel: other) }
        if channels.contains("email") { return .skip(reason: hasEmail ? "no_mail_server" : "no_email") }
        return .skip(reason: "no_destination_for_channel")
    }
}
