import Foundation

// In-funnel prompts (issue 3 item 4): one question, mapped to one registry field, shown by the embed
// script when the server decides the moment is right. Everything here is pure: the model, its
// validation and the targeting decision; the store feeds it the person's state and the server serves it.

/// How a prompt's URL rule compares with the page the visitor is on (the path and query of the URL).
public enum PromptURLMatch: String, Codable, Sendable, CaseIterable {
    case equals, prefix, contains
    /// `*` matches any run of characters and `?` exactly one; nothing else is special (no regular expressions).
    case glob
}

/// A condition on the page's URL.
public struct PromptURLRule: Codable, Sendable, Hashable {
    public var match: PromptURLMatch
    public var value: String

    public init(match: PromptURLMatch, value: String) {
        self.match = match
        self.value = value
    }

    /// Whether a page URL satisfies the rule. Absolute URLs are reduced to their path and query, so
    /// rules read the same on every host the embed runs on.
    public func matches(_ url: String) -> Bool { matches(page: Self.pathAndQuery(url)) }

    /// Whether a page's path and query (see `pathAndQuery`) satisfies the rule.
    public func matches(page: String) -> Bool {
        switch match {
        case .equals: return page == value
        case .prefix: return page.hasPrefix(value)
        case .contains: return page.contains(value)
        case .glob: return Self.glob(Array(value.unicodeScalars), Array(page.unicodeScalars))
        }
    }

    /// `https://shop.example/a/b?c#d` → `/a/b?c`; a relative URL stays as it is (without a fragment).
    /// Works on the UTF-8 bytes (the delimiters are ASCII): it runs for every page signal.
    public static func pathAndQuery(_ url: String) -> String {
        var text = Substring(url).utf8
        if let hash = text.firstIndex(of: UInt8(ascii: "#")) { text = text[..<hash] }
        if let scheme = firstSchemeSeparator(text) {
            let rest = text[scheme...]
            guard let slash = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else { return "/" }
            let tail = Substring(rest[slash...])
            return tail.hasPrefix("?") ? "/" + tail : String(tail)
        }
        return String(Substring(text))
    }

    /// The index just after a leading `scheme://`, if the URL starts with one (a `://` later on, in a
    /// relative URL's query say, is not a scheme).
    static func firstSchemeSeparator(_ text: Substring.UTF8View) -> Substring.UTF8View.Index? {
        var index = text.startIndex
        while index < text.endIndex, Self.isSchemeByte(text[index]) { index = text.index(after: index) }
        guard index > text.startIndex else { return nil }
        for expected in [UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "/")] {
            guard index < text.endIndex, text[index] == expected else { return nil }
            index = text.index(after: index)
        }
        return index
    }

    static func isSchemeByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// Glob matching with backtracking over the last `*` only: linear in practice, never exponential.
    static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0, t = 0
        var star: Int?, resume = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == "?" || (pattern[p] != "*" && pattern[p] == text[t])) {
                p += 1; t += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p; resume = t; p += 1
            } else if let s = star {
                p = s + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

/// What makes a prompt a candidate on a page.
public enum PromptTriggerType: String, Codable, Sendable, CaseIterable {
    /// The page view itself, on a page whose URL matches (not the later scroll, dwell, exit or event
    /// signals of that page, so that a prompt waiting for those is not pre-empted on the same page).
    case pageView = "page_view"
    /// A custom event the page reported with `Candor.track(name)`.
    case event
    /// The pointer leaving the top of the window (the visitor is about to go).
    case exitIntent = "exit_intent"
    /// The visitor scrolled at least `percent` of the page.
    case scroll
    /// The visitor stayed at least `seconds` on the page.
    case dwell
}

/// One trigger, optionally limited to pages whose URL matches `url`.
public struct PromptTrigger: Codable, Sendable, Hashable {
    public var type: PromptTriggerType
    public var url: PromptURLRule?
    public var event: String?
    public var percent: Int?
    public var seconds: Int?

    public init(type: PromptTriggerType, url: PromptURLRule? = nil, event: String? = nil, percent: Int? = nil, seconds: Int? = nil) {
        self.type = type
        self.url = url
        self.event = event
        self.percent = percent
        self.seconds = seconds
    }

    /// Whether this trigger fires for what the page reported.
    public func fires(on signal: PromptSignal) -> Bool {
        guard url?.matches(page: signal.page) ?? true else { return false }
        switch type {
        case .pageView: return signal.isPageView
        case .event: return signal.event != nil && signal.event == event
        case .exitIntent: return signal.exitIntent
        case .scroll: return (signal.scrollPercent ?? 0) >= (percent ?? 100)
        case .dwell: return (signal.dwellSeconds ?? 0) >= (seconds ?? Int.max)
        }
    }
}

/// How often one person may see one prompt. Dismissals count as displays.
public enum PromptFrequency: String, Codable, Sendable, CaseIterable {
    /// Shown at most once, answered or not.
    case once
    /// Shown on each trigger (subject to the cooldown) until the person answers.
    case untilAnswered = "until_answered"
    /// Shown at most `max_displays` times.
    case upTo = "up_to"
    /// Shown on every trigger the cooldown allows (still never once the field is known).
    case always
}

/// The wording of a prompt in one locale; without one, the field's label is the question.
public struct PromptText: Codable, Sendable, Hashable {
    public var question: String
    /// A short lead shown above the question (plain text, never HTML), e.g. what the shop does with
    /// the answer. Optional.
    public var intro: String?

    public init(question: String, intro: String? = nil) {
        self.question = question
        self.intro = intro
    }

    /// The longest intro accepted, in characters: a lead line or two, not a notice.
    public static let maxIntroLength = 200
}

/// Whether a prompt is being shown.
public enum PromptStatus: String, Codable, Sendable, CaseIterable {
    case draft, active, paused
}

/// A prompt as the admin API writes it and the store keeps it.
public struct Prompt: Codable, Sendable, Hashable {
    public var id: String?
    public var name: String
    public var field: String
    public var texts: [String: PromptText]?
    public var triggers: [PromptTrigger]
    /// A rule in the segment language (`not set(shoe_size) and interests has "running"`), or nil for everyone.
    public var audience: String?
    public var frequency: PromptFrequency
    public var maxDisplays: Int?
    /// The share of visitors (0–100) who are ever shown the prompt, sticky per visitor.
    public var samplePercent: Int?
    /// Seconds the browser waits after the trigger before showing the prompt.
    public var delaySeconds: Int?
    /// Higher first when several prompts qualify at once.
    public var priority: Int?
    /// A declaration younger than this many days counts as known, and the prompt is not shown; without
    /// it, any declaration of the field counts as known.
    public var refreshDays: Int?
    public var status: PromptStatus?
    public var createdAt: String?
    public var updatedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, field, texts, triggers, audience, frequency, priority, status
        case maxDisplays = "max_displays"
        case samplePercent = "sample_percent"
        case delaySeconds = "delay_seconds"
        case refreshDays = "refresh_days"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(
        id: String? = nil, name: String, field: String, texts: [String: PromptText]? = nil, triggers: [PromptTrigger], audience: String? = nil,
        frequency: PromptFrequency, maxDisplays: Int? = nil, samplePercent: Int? = nil, delaySeconds: Int? = nil, priority: Int? = nil,
        refreshDays: Int? = nil, status: PromptStatus? = nil
    ) {
        self.id = id
        self.name = name
        self.field = field
        self.texts = texts
        self.triggers = triggers
        self.audience = audience
        self.frequency = frequency
        self.maxDisplays = maxDisplays
        self.samplePercent = samplePercent
        self.delaySeconds = delaySeconds
        self.priority = priority
        self.refreshDays = refreshDays
        self.status = status
    }

    /// The question in a locale, falling back to English and then to the field's label.
    public func question(locale: String, field: Field) -> String {
        texts?[locale]?.question ?? field.labels[locale] ?? texts?["en"]?.question ?? field.labels["en"] ?? field.key
    }

    /// The intro in a locale, in the same language as `question(locale:field:)`: the locale's own, or
    /// the English one only when the question falls back to English too (never English above Hebrew).
    public func intro(locale: String, field: Field) -> String? {
        if let text = texts?[locale] { return text.intro }
        if field.labels[locale] != nil { return nil }
        return texts?["en"]?.intro
    }
}

/// What the page reported: where the visitor is and what just happened there.
public struct PromptSignal: Sendable, Hashable {
    public var url: String { didSet { page = PromptURLRule.pathAndQuery(url) } }
    /// The path and query of `url`, which every URL rule compares with (worked out once per signal).
    public private(set) var page: String
    public var event: String?
    public var scrollPercent: Int?
    public var dwellSeconds: Int?
    public var exitIntent: Bool

    /// Whether this is the page view itself rather than something that happened on the page later.
    public var isPageView: Bool { event == nil && scrollPercent == nil && dwellSeconds == nil && !exitIntent }

    public init(url: String, event: String? = nil, scrollPercent: Int? = nil, dwellSeconds: Int? = nil, exitIntent: Bool = false) {
        self.url = url
        self.page = PromptURLRule.pathAndQuery(url)
        self.event = event
        self.scrollPercent = scrollPercent
        self.dwellSeconds = dwellSeconds
        self.exitIntent = exitIntent
    }
}

/// One person's history with one prompt.
public struct PromptHistory: Sendable, Hashable, Codable {
    /// Displays, dismissals included.
    public var displays: Int
    public var answeredAt: Int64?
    public var lastDisplayAt: Int64?
    /// Times the person closed the prompt without answering (each also counts as a display).
    public var dismissals: Int
    /// Times the person answered it.
    public var answers: Int

    public init(displays: Int = 0, answeredAt: Int64? = nil, lastDisplayAt: Int64? = nil, dismissals: Int = 0, answers: Int = 0) {
        self.displays = displays
        self.answeredAt = answeredAt
        self.lastDisplayAt = lastDisplayAt
        self.dismissals = dismissals
        self.answers = answers
    }

    /// Two histories of one person (an anonymous visitor's and the identified person's) as one.
    public func merged(with other: PromptHistory) -> PromptHistory {
        PromptHistory(displays: displays + other.displays, answeredAt: [answeredAt, other.answeredAt].compactMap { $0 }.max(),
                      lastDisplayAt: [lastDisplayAt, other.lastDisplayAt].compactMap { $0 }.max(),
                      dismissals: dismissals + other.dismissals, answers: answers + other.answers)
    }
}

/// Everything about a person that decides whether they may be interrupted now.
public struct PromptPersonState: Sendable, Hashable {
    /// "Don't ask me again": the person's own preference, honoured for every prompt.
    public var dontAsk: Bool
    /// The last display of any prompt (the global cooldown counts from here).
    public var lastDisplayAt: Int64?
    /// prompt id → history.
    public var history: [String: PromptHistory]

    public init(dontAsk: Bool = false, lastDisplayAt: Int64? = nil, history: [String: PromptHistory] = [:]) {
        self.dontAsk = dontAsk
        self.lastDisplayAt = lastDisplayAt
        self.history = history
    }
}

/// A prompt with its audience rule compiled once (prompts are cached in memory between changes).
public struct CompiledPrompt: Sendable {
    public var prompt: Prompt
    public var audience: SegmentExpr?

    public init(prompt: Prompt, audience: SegmentExpr?) {
        self.prompt = prompt
        self.audience = audience
    }

    public var id: String { prompt.id ?? "" }
}

/// The thresholds the page should report back for prompts that could still be triggered on it, so the
/// browser calls again only when something could change the answer.
public struct PromptWatch: Codable, Sendable, Hashable {
    public var scroll: [Int]
    public var dwell: [Int]
    public var exitIntent: Bool
    public var events: [String]

    enum CodingKeys: String, CodingKey {
        case scroll, dwell, events
        case exitIntent = "exit_intent"
    }

    public init(scroll: [Int] = [], dwell: [Int] = [], exitIntent: Bool = false, events: [String] = []) {
        self.scroll = scroll
        self.dwell = dwell
        self.exitIntent = exitIntent
        self.events = events
    }

    public static let nothing = PromptWatch()
}

/// Why no prompt was chosen (for tests, metrics and the docs; never shown to the visitor).
public enum PromptSilence: String, Sendable, Hashable {
    case dontAsk = "dont_ask"
    case cooldown
    case noCandidate = "no_candidate"
}

/// The result of targeting: at most one prompt, and what to watch for next.
public struct PromptChoice: Sendable {
    public var prompt: CompiledPrompt?
    public var silence: PromptSilence?
    public var watch: PromptWatch

    public init(prompt: CompiledPrompt?, silence: PromptSilence?, watch: PromptWatch) {
        self.prompt = prompt
        self.silence = silence
        self.watch = watch
    }
}

/// The targeting decision, evaluated on the server for every page signal.
public enum PromptTargeting {
    /// The default pause between any two prompts for one person.
    public static let defaultCooldownMillis: Int64 = 7 * 24 * 60 * 60 * 1000

    /// Picks the prompt to show now, if any. In order: "don't ask me again" silences everything; the
    /// global cooldown since the last display of any prompt; then per prompt (highest priority first):
    /// active, frequency, sampling, trigger, the field not already known, and the audience rule.
    ///
    /// `profile` is asked for at most once, and only when a prompt survives the cheap checks, so a page
    /// view that can show nothing costs no profile read.
    public static func choose(
        _ prompts: [CompiledPrompt], signal: PromptSignal, visitorId: String, person: PromptPersonState,
        profile: () throws -> SegmentProfile, fields: [String: Field], purposes: [String: Purpose],
        cooldownMillis: Int64 = defaultCooldownMillis, now: Int64
    ) rethrows -> PromptChoice {
        if person.dontAsk { return PromptChoice(prompt: nil, silence: .dontAsk, watch: .nothing) }
        if let last = person.lastDisplayAt, now - last < cooldownMillis { return PromptChoice(prompt: nil, silence: .cooldown, watch: .nothing) }
        var watch = PromptWatch()
        var loaded: SegmentProfile?
        for candidate in ordered(prompts) {
            let prompt = candidate.prompt
            guard prompt.status == .active, fields[prompt.field] != nil,
                  allowsAnotherDisplay(prompt, person.history[candidate.id] ?? PromptHistory()),
                  isSampled(visitorId: visitorId, promptId: candidate.id, percent: prompt.samplePercent ?? 100)
            else { continue }
            guard prompt.triggers.contains(where: { $0.fires(on: signal) }) else {
                note(prompt.triggers, on: signal, into: &watch)
                continue
            }
            if loaded == nil { loaded = try profile() }
            guard let profile = loaded, !isKnown(prompt, profile, now: now) else { continue }
            if let audience = candidate.audience, !SegmentEvaluator.matches(audience, profile, purposes: purposes, now: now) { continue }
            return PromptChoice(prompt: candidate, silence: nil, watch: .nothing)
        }
        watch.scroll = Array(Set(watch.scroll)).sorted()
        watch.dwell = Array(Set(watch.dwell)).sorted()
        watch.events = Array(Set(watch.events)).sorted()
        return PromptChoice(prompt: nil, silence: .noCandidate, watch: watch)
    }

    /// Highest priority first; ties by id, so the order never depends on storage.
    /// The catalog hands them over in this order already, so the usual case costs one pass, no sort.
    public static func ordered(_ prompts: [CompiledPrompt]) -> [CompiledPrompt] {
        let isOrdered = prompts.indices.dropFirst().allSatisfy { !precedes(prompts[$0], prompts[$0 - 1]) }
        return isOrdered ? prompts : prompts.sorted(by: precedes)
    }

    static func precedes(_ a: CompiledPrompt, _ b: CompiledPrompt) -> Bool {
        (a.prompt.priority ?? 0, b.id) > (b.prompt.priority ?? 0, a.id)
    }

    /// Whether the frequency rule allows one more display.
    public static func allowsAnotherDisplay(_ prompt: Prompt, _ history: PromptHistory) -> Bool {
        switch prompt.frequency {
        case .once: return history.displays == 0
        case .untilAnswered: return history.answeredAt == nil
        case .upTo: return history.displays < (prompt.maxDisplays ?? 1)
        case .always: return true
        }
    }

    /// Sticky sampling: a hash of visitor and prompt puts each pair in one of 10,000 buckets for good.
    public static func isSampled(visitorId: String, promptId: String, percent: Int) -> Bool {
        if percent >= 100 { return true }
        if percent <= 0 { return false }
        return sampleBucket(visitorId: visitorId, promptId: promptId) < percent * 100
    }

    /// The bucket (0..<10,000) of a visitor for a prompt.
    public static func sampleBucket(visitorId: String, promptId: String) -> Int {
        let digest = Digest.sha256(utf8: "candor-prompt-sample:\(visitorId):\(promptId)")
        let number = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int(number % 10_000)
    }

    /// Whether the person already told us what the prompt asks (recently enough, with `refresh_days`).
    public static func isKnown(_ prompt: Prompt, _ profile: SegmentProfile, now: Int64) -> Bool {
        guard let fact = profile.values[prompt.field] else { return false }
        guard let days = prompt.refreshDays else { return true }
        return fact.declaredAt >= now - Int64(days) * 86_400_000
    }

    static func note(_ triggers: [PromptTrigger], on signal: PromptSignal, into watch: inout PromptWatch) {
        for trigger in triggers where trigger.url?.matches(page: signal.page) ?? true {
            switch trigger.type {
            case .scroll: if let percent = trigger.percent { watch.scroll.append(percent) }
            case .dwell: if let seconds = trigger.seconds { watch.dwell.append(seconds) }
            case .exitIntent: watch.exitIntent = true
            case .event: if let event = trigger.event { watch.events.append(event) }
            case .pageView: break
            }
        }
    }
}

/// Validation of prompts written through the admin API.
public enum PromptRules {
    /// Checks a prompt against the registry and compiles its audience. Returns every problem at once.
    public static func validate(_ input: Prompt, fields: [String: Field], purposes: [String: Purpose]) -> Result<CompiledPrompt, CandorError> {
        var errors = [FieldError]()
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty || name.count > 100 { errors.append(FieldError("name", "must be 1 to 100 characters")) }
        if let field = fields[input.field] {
            for purpose in field.purposes where purposes[purpose]?.currentNoticeVersion == nil {
                errors.append(FieldError("field", "field '\(field.key)' serves purpose '\(purpose)', which has no notice yet: publish one before asking"))
            }
        } else {
            errors.append(FieldError("field", "unknown field '\(input.field)'"))
        }
        for (locale, text) in (input.texts ?? [:]).sorted(by: { $0.key < $1.key }) {
            if !Locales.isWellFormed(locale) { errors.append(FieldError("texts.\(locale)", "'\(locale)' is not a locale tag")) }
            let question = text.question.trimmingCharacters(in: .whitespacesAndNewlines)
            if question.isEmpty || question.count > 300 { errors.append(FieldError("texts.\(locale).question", "must be 1 to 300 characters")) }
            if let intro = text.intro {
                let trimmed = intro.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty || trimmed.count > PromptText.maxIntroLength {
                    errors.append(FieldError("texts.\(locale).intro", "must be 1 to \(PromptText.maxIntroLength) characters (leave it out for no intro)"))
                } else if intro.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    errors.append(FieldError("texts.\(locale).intro", "must be one paragraph of plain text, without line breaks or control characters"))
                }
            }
        }
        if input.triggers.isEmpty || input.triggers.count > 10 { errors.append(FieldError("triggers", "give 1 to 10 triggers")) }
        for (index, trigger) in input.triggers.enumerated() {
            let path = "triggers[\(index)]"
            if let url = trigger.url, url.value.isEmpty || url.value.count > 500 { errors.append(FieldError("\(path).url.value", "must be 1 to 500 characters")) }
            switch trigger.type {
            case .event:
                if let event = trigger.event, isEventName(event) {} else {
                    errors.append(FieldError("\(path).event", "name the event: 1 to 64 characters of letters, digits, '_', '-' and '.'"))
                }
            case .scroll:
                if let percent = trigger.percent, (1...100).contains(percent) {} else { errors.append(FieldError("\(path).percent", "must be 1 to 100")) }
            case .dwell:
                if let seconds = trigger.seconds, (1...3600).contains(seconds) {} else { errors.append(FieldError("\(path).seconds", "must be 1 to 3600")) }
            case .pageView, .exitIntent: break
            }
        }
        var audience: SegmentExpr?
        if let rule = input.audience, !rule.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            switch SegmentRule.compile(rule, fields: fields, purposes: purposes) {
            case .success(let expr): audience = expr
            case .failure(let error): errors.append(error.fieldError("audience"))
            }
        }
        if input.frequency == .upTo {
            if let max = input.maxDisplays, (1...100).contains(max) {} else { errors.append(FieldError("max_displays", "frequency 'up_to' needs max_displays from 1 to 100")) }
        } else if input.maxDisplays != nil {
            errors.append(FieldError("max_displays", "only frequency 'up_to' takes max_displays"))
        }
        if let percent = input.samplePercent, !(0...100).contains(percent) { errors.append(FieldError("sample_percent", "must be 0 to 100")) }
        if let delay = input.delaySeconds, !(0...600).contains(delay) { errors.append(FieldError("delay_seconds", "must be 0 to 600")) }
        if let priority = input.priority, !(-1000...1000).contains(priority) { errors.append(FieldError("priority", "must be -1000 to 1000")) }
        if let days = input.refreshDays, !(1...3650).contains(days) { errors.append(FieldError("refresh_days", "must be 1 to 3650")) }
        if !errors.isEmpty { return .failure(.invalid(errors)) }
        var prompt = input
        prompt.name = name
        prompt.texts = input.texts?.mapValues { PromptText(question: $0.question, intro: $0.intro?.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return .success(CompiledPrompt(prompt: prompt, audience: audience))
    }

    /// Custom event names: short and plain, so they are safe in URLs, logs and metrics.
    public static func isEventName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
    }
}
