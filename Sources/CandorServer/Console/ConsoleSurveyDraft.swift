import CandorCore
import CandorStore
import Foundation

/// The survey builder's form as the operator left it: every input as text, so that a form with
/// mistakes comes back exactly as typed. It turns into a `SurveyInput` and a `Prompt` for the store's
/// rules, and is made from a stored survey and its prompt to edit them.
///
/// Inputs are named by position (`q2_o1_key` is question 3's option 2's key), so the form needs no
/// script: "add a question" and "remove" are submit buttons that re-render it with one block more or less.
struct SurveyDraft {
    struct Option {
        var key = "", en = "", he = "", score = ""
        var isBlank: Bool { key.isEmpty && en.isEmpty && he.isEmpty && score.isEmpty }
    }

    struct Branch {
        var question = "", equals = "", goto = ""
        var isBlank: Bool { equals.isEmpty && goto.isEmpty }
    }

    struct Question {
        var id = ""
        /// `field:<key>` for a field question, `scored` for a scored quiz question, empty when not chosen.
        var source = ""
        var promptEN = "", promptHE = ""
        var options: [Option] = []
        var branches: [Branch] = []
    }

    struct Result {
        var min = "", max = "", titleEN = "", titleHE = "", textEN = "", textHE = "", url = ""
        var isBlank: Bool { [min, max, titleEN, titleHE, textEN, textHE, url].allSatisfy(\.isEmpty) }
    }

    /// The prompt that shows one of the survey's field questions in the page.
    struct PromptDraft {
        var enabled = false
        var id = ""
        var field = ""
        var name = ""
        var textEN = "", textHE = "", introEN = "", introHE = ""
        var trigger = PromptTriggerType.pageView.rawValue
        var urlMatch = "", urlValue = "", event = "", percent = "", seconds = ""
        var audience = ""
        var frequency = PromptFrequency.untilAnswered.rawValue
        var maxDisplays = "", sample = "", delay = "", refreshDays = ""
        var status = PromptStatus.draft.rawValue
        /// Triggers beyond the first (set through the API): kept as they are.
        var extraTriggers: [PromptTrigger] = []
        var priority: Int?
    }

    var titleEN = "", titleHE = ""
    var kind = SurveyKind.questionnaire.rawValue
    var freshnessDays = ""
    var questions: [Question] = []
    var endingType = SurveyEndingType.thankYou.rawValue
    var endingMessageEN = "", endingMessageHE = "", endingURL = ""
    var results: [Result] = []
    var incentiveType = ""
    var poolId = "", code = "", incentiveTextEN = "", incentiveTextHE = "", incentiveURL = ""
    var prompt = PromptDraft()

    /// A new survey: one question to start from.
    static var blank: SurveyDraft {
        var draft = SurveyDraft()
        draft.questions = [Question(id: "q1")]
        return draft
    }

    init() {}

    // MARK: - From a stored survey

    init(survey: Survey, prompt: Prompt?, store: CandorStore) {
        titleEN = survey.title["en"] ?? ""
        titleHE = survey.title["he"] ?? ""
        kind = survey.kind.rawValue
        freshnessDays = survey.freshnessDays.map(String.init) ?? ""
        questions = survey.questions.map { question in
            Question(
                id: question.id, source: question.field.map { "field:\($0)" } ?? "scored",
                promptEN: question.prompt?["en"] ?? "", promptHE: question.prompt?["he"] ?? "",
                options: (question.options ?? []).map { Option(key: $0.key, en: $0.labels["en"] ?? "", he: $0.labels["he"] ?? "", score: Self.number($0.score)) },
                branches: (question.next ?? []).map { Branch(question: $0.condition.question, equals: $0.condition.equals, goto: $0.goto) })
        }
        endingType = survey.ending.type.rawValue
        endingMessageEN = survey.ending.message?["en"] ?? ""
        endingMessageHE = survey.ending.message?["he"] ?? ""
        endingURL = survey.ending.url ?? ""
        results = (survey.ending.results ?? []).map {
            Result(min: Self.number($0.min), max: Self.number($0.max), titleEN: $0.title["en"] ?? "", titleHE: $0.title["he"] ?? "",
                   textEN: $0.text?["en"] ?? "", textHE: $0.text?["he"] ?? "", url: $0.url ?? "")
        }
        if let incentive = survey.incentive {
            incentiveType = incentive.type.rawValue
            poolId = incentive.poolId ?? ""
            code = incentive.code ?? ""
            incentiveTextEN = incentive.text?["en"] ?? ""
            incentiveTextHE = incentive.text?["he"] ?? ""
            incentiveURL = incentive.url ?? ""
        }
        if let prompt {
            var draft = PromptDraft(enabled: prompt.status != .paused, id: prompt.id ?? "", field: prompt.field, name: prompt.name)
            draft.textEN = prompt.texts?["en"]?.question ?? ""
            draft.textHE = prompt.texts?["he"]?.question ?? ""
            draft.introEN = prompt.texts?["en"]?.intro ?? ""
            draft.introHE = prompt.texts?["he"]?.intro ?? ""
            if let first = prompt.triggers.first {
                draft.trigger = first.type.rawValue
                draft.urlMatch = first.url?.match.rawValue ?? ""
                draft.urlValue = first.url?.value ?? ""
                draft.event = first.event ?? ""
                draft.percent = first.percent.map(String.init) ?? ""
                draft.seconds = first.seconds.map(String.init) ?? ""
            }
            draft.extraTriggers = Array(prompt.triggers.dropFirst())
            draft.audience = prompt.audience ?? ""
            draft.frequency = prompt.frequency.rawValue
            draft.maxDisplays = prompt.maxDisplays.map(String.init) ?? ""
            draft.sample = prompt.samplePercent.map(String.init) ?? ""
            draft.delay = prompt.delaySeconds.map(String.init) ?? ""
            draft.refreshDays = prompt.refreshDays.map(String.init) ?? ""
            draft.status = (prompt.status ?? .draft).rawValue
            draft.priority = prompt.priority
            self.prompt = draft
        } else {
            prompt_default(field: survey.questions.first(where: { $0.field != nil })?.field ?? "", name: survey.title["en"] ?? "")
        }
    }

    private mutating func prompt_default(field: String, name: String) {
        prompt = PromptDraft(enabled: false, field: field, name: String(name.prefix(100)))
    }

    /// A score as an operator writes it: `2`, not `2.0`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    // MARK: - From the posted form

    init(form: FormData) {
        func text(_ name: String) -> String { form.first(name).trimmingCharacters(in: .whitespacesAndNewlines) }
        func has(_ name: String) -> Bool { form.pairs.contains { $0.0 == name } }
        titleEN = text("title_en")
        titleHE = text("title_he")
        kind = text("kind")
        freshnessDays = text("freshness_days")
        var index = 0
        while has("q\(index)_id") {
            let prefix = "q\(index)"
            var question = Question(id: text("\(prefix)_id"), source: text("\(prefix)_source"), promptEN: text("\(prefix)_prompt_en"), promptHE: text("\(prefix)_prompt_he"))
            var row = 0
            while has("\(prefix)_o\(row)_key") {
                let option = Option(key: text("\(prefix)_o\(row)_key"), en: text("\(prefix)_o\(row)_en"), he: text("\(prefix)_o\(row)_he"), score: text("\(prefix)_o\(row)_score"))
                if !option.isBlank { question.options.append(option) }
                row += 1
            }
            row = 0
            while has("\(prefix)_b\(row)_equals") {
                let branch = Branch(question: text("\(prefix)_b\(row)_question"), equals: text("\(prefix)_b\(row)_equals"), goto: text("\(prefix)_b\(row)_goto"))
                if !branch.isBlank { question.branches.append(branch) }
                row += 1
            }
            questions.append(question)
            index += 1
        }
        endingType = text("ending_type")
        endingMessageEN = text("ending_message_en")
        endingMessageHE = text("ending_message_he")
        endingURL = text("ending_url")
        var row = 0
        while has("r\(row)_min") {
            let p = "r\(row)"
            let result = Result(min: text("\(p)_min"), max: text("\(p)_max"), titleEN: text("\(p)_title_en"), titleHE: text("\(p)_title_he"),
                                textEN: text("\(p)_text_en"), textHE: text("\(p)_text_he"), url: text("\(p)_url"))
            if !result.isBlank { results.append(result) }
            row += 1
        }
        incentiveType = text("incentive_type")
        poolId = text("incentive_pool")
        code = text("incentive_code")
        incentiveTextEN = text("incentive_text_en")
        incentiveTextHE = text("incentive_text_he")
        incentiveURL = text("incentive_url")
        var draft = PromptDraft()
        draft.enabled = form.first("prompt_enabled") == "yes"
        draft.id = text("prompt_id")
        draft.field = text("prompt_field")
        draft.name = text("prompt_name")
        draft.textEN = text("prompt_text_en")
        draft.textHE = text("prompt_text_he")
        draft.introEN = text("prompt_intro_en")
        draft.introHE = text("prompt_intro_he")
        draft.trigger = text("prompt_trigger")
        draft.urlMatch = text("prompt_url_match")
        draft.urlValue = text("prompt_url_value")
        draft.event = text("prompt_event")
        draft.percent = text("prompt_percent")
        draft.seconds = text("prompt_seconds")
        draft.audience = text("prompt_audience")
        draft.frequency = text("prompt_frequency")
        draft.maxDisplays = text("prompt_max_displays")
        draft.sample = text("prompt_sample")
        draft.delay = text("prompt_delay")
        draft.refreshDays = text("prompt_refresh_days")
        draft.status = text("prompt_status")
        prompt = draft
    }

    // MARK: - Into the store's inputs

    /// A text per locale, leaving out the empty ones.
    static func texts(_ en: String, _ he: String) -> [String: String]? {
        var texts = [String: String]()
        if !en.isEmpty { texts["en"] = en }
        if !he.isEmpty { texts["he"] = he }
        return texts.isEmpty ? nil : texts
    }

    /// The survey the form describes. What the store's rules cannot see — a number that is not a
    /// number, a choice that is not offered — is reported here, at the store's path for that input.
    func surveyInput(errors: inout [FieldError], t: [String: String]) -> SurveyInput? {
        func number(_ text: String, _ path: String) -> Double? {
            guard !text.isEmpty else { return nil }
            guard let value = Double(text), value.isFinite else { errors.append(FieldError(path, t["colNotNumber"]!)); return nil }
            return value
        }
        func whole(_ text: String, _ path: String) -> Int? {
            guard !text.isEmpty else { return nil }
            guard let value = Int(text) else { errors.append(FieldError(path, t["wholeNumber"]!)); return nil }
            return value
        }
        guard let kind = SurveyKind(rawValue: self.kind) else { errors.append(FieldError("kind", t["colChooseOne"]!)); return nil }
        var questions = [SurveyQuestion]()
        for (index, draft) in self.questions.enumerated() {
            let path = "questions[\(index)]"
            var question = SurveyQuestion(id: draft.id)
            if draft.source.hasPrefix("field:") {
                question.field = String(draft.source.dropFirst(6))
            } else if draft.source == "scored" {
                question.prompt = Self.texts(draft.promptEN, draft.promptHE) ?? [:]
                question.options = draft.options.enumerated().map { item in
                    SurveyOption(key: item.element.key, labels: Self.texts(item.element.en, item.element.he) ?? [:],
                                 score: number(item.element.score, "\(path).options[\(item.offset)].score") ?? 0)
                }
            } else {
                errors.append(FieldError("\(path).field", t["colChooseSource"]!))
            }
            if !draft.branches.isEmpty {
                question.next = draft.branches.enumerated().map { item in
                    if item.element.goto.isEmpty { errors.append(FieldError("\(path).next[\(item.offset)].goto", t["colChooseTarget"]!)) }
                    return SurveyBranch(condition: SurveyCondition(question: item.element.question.isEmpty ? draft.id : item.element.question, equals: item.element.equals),
                                        goto: item.element.goto)
                }
            }
            questions.append(question)
        }
        guard let endingType = SurveyEndingType(rawValue: self.endingType) else { errors.append(FieldError("ending.type", t["colChooseOne"]!)); return nil }
        var ending = SurveyEnding(type: endingType, message: Self.texts(endingMessageEN, endingMessageHE))
        if endingType == .redirect || !endingURL.isEmpty { ending.url = endingURL.isEmpty ? nil : endingURL }
        if endingType == .result || !results.isEmpty {
            ending.results = results.enumerated().map { item in
                let path = "ending.results[\(item.offset)]"
                let result = item.element
                if result.min.isEmpty { errors.append(FieldError("\(path).min", t["colNotNumber"]!)) }
                if result.max.isEmpty { errors.append(FieldError("\(path).max", t["colNotNumber"]!)) }
                return SurveyResult(min: number(result.min, "\(path).min") ?? 0, max: number(result.max, "\(path).max") ?? 0,
                                    title: Self.texts(result.titleEN, result.titleHE) ?? [:], text: Self.texts(result.textEN, result.textHE),
                                    url: result.url.isEmpty ? nil : result.url)
            }
        }
        var incentive: SurveyIncentive?
        if !incentiveType.isEmpty {
            guard let type = SurveyIncentiveType(rawValue: incentiveType) else { errors.append(FieldError("incentive.type", t["colChooseOne"]!)); return nil }
            switch type {
            case .pool: incentive = SurveyIncentive(type: .pool, poolId: poolId)
            case .staticCode: incentive = SurveyIncentive(type: .staticCode, code: code)
            case .content: incentive = SurveyIncentive(type: .content, text: Self.texts(incentiveTextEN, incentiveTextHE), url: incentiveURL.isEmpty ? nil : incentiveURL)
            }
        }
        return SurveyInput(title: Self.texts(titleEN, titleHE) ?? [:], kind: kind, questions: questions, ending: ending,
                           freshnessDays: whole(freshnessDays, "freshness_days"), incentive: incentive)
    }

    /// The prompt the form describes, or nil when it is not wanted. Its field must be one the survey asks.
    func promptInput(surveyTitle: String, fields: [String: Field], errors: inout [FieldError], t: [String: String]) -> Prompt? {
        guard prompt.enabled else { return nil }
        let p = prompt
        func whole(_ text: String, _ path: String) -> Int? {
            guard !text.isEmpty else { return nil }
            guard let value = Int(text) else { errors.append(FieldError(path, t["wholeNumber"]!)); return nil }
            return value
        }
        let asked = Set(questions.compactMap { $0.source.hasPrefix("field:") ? String($0.source.dropFirst(6)) : nil })
        if !asked.contains(p.field) { errors.append(FieldError("prompt.field", t["colPromptFieldNotAsked"]!)) }
        guard let type = PromptTriggerType(rawValue: p.trigger) else { errors.append(FieldError("prompt.trigger", t["colChooseOne"]!)); return nil }
        var trigger = PromptTrigger(type: type)
        if !p.urlMatch.isEmpty || !p.urlValue.isEmpty {
            if let match = PromptURLMatch(rawValue: p.urlMatch.isEmpty ? PromptURLMatch.prefix.rawValue : p.urlMatch) {
                trigger.url = PromptURLRule(match: match, value: p.urlValue)
            } else {
                errors.append(FieldError("prompt.url_match", t["colChooseOne"]!))
            }
        }
        switch type {
        case .event: trigger.event = p.event
        case .scroll: trigger.percent = whole(p.percent, "prompt.triggers[0].percent")
        case .dwell: trigger.seconds = whole(p.seconds, "prompt.triggers[0].seconds")
        case .pageView, .exitIntent: break
        }
        guard let frequency = PromptFrequency(rawValue: p.frequency) else { errors.append(FieldError("prompt.frequency", t["colChooseOne"]!)); return nil }
        let status = PromptStatus(rawValue: p.status) ?? .draft
        // A wording per locale needs its question: the field's own label unless the operator wrote one.
        var texts = [String: PromptText]()
        let field = fields[p.field]
        for (locale, question, intro) in [("en", p.textEN, p.introEN), ("he", p.textHE, p.introHE)] where !question.isEmpty || !intro.isEmpty {
            let label = field?.labels[locale] ?? field?.labels["en"] ?? p.field
            texts[locale] = PromptText(question: question.isEmpty ? label : question, intro: intro.isEmpty ? nil : intro)
        }
        let name = p.name.isEmpty ? String(surveyTitle.prefix(100)) : p.name
        return Prompt(name: name, field: p.field, texts: texts.isEmpty ? nil : texts, triggers: [trigger] + p.extraTriggers,
                      audience: p.audience.isEmpty ? nil : p.audience, frequency: frequency,
                      maxDisplays: whole(p.maxDisplays, "prompt.max_displays"), samplePercent: whole(p.sample, "prompt.sample_percent"),
                      delaySeconds: whole(p.delay, "prompt.delay_seconds"), priority: p.priority,
                      refreshDays: whole(p.refreshDays, "prompt.refresh_days"), status: status)
    }
}
