import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's collection pages: Surveys and quizzes (builder and prompt preview), polls and incentive pools.
///
/// Every page needs the `admin` role (the navigation's rule for these pages); every change also needs
/// `write`, the role of the `/v1/surveys`, `/v1/prompts`, `/v1/polls` and `/v1/incentive-pools` routes,
/// and goes through the same store functions with the operator's principal, so validation and the
/// audit trail are the API's own.
///
/// A survey's prompt: prompts ask one registry field (see `Prompt`), so the prompt of a survey is the
/// prompt that asks one of the survey's field questions. The builder edits the first such prompt (or
/// creates one) in the same form as the survey.
extension ConsoleRoutes {
    /// Rows per list page.
    static let collectionPageSize = 50

    func addCollectionSetup(to router: Router<CandorRequestContext>) {
        router.get("console/surveys") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await surveysPage(request, visit)
            }
        }
        router.get("console/surveys/new") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await builderPage(SurveyDraft.blank, survey: nil, visit)
            }
        }
        router.post("console/surveys/new") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = requireWrite(visit) { return refused }
                return try await submitBuilder(survey: nil, visit)
            }
        }
        router.get("console/surveys/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let survey = try await knownSurvey(try support.parameter(context, "id"))
                let prompt = try await surveyPrompt(survey)
                let done = request.uri.queryParameters.get("done").map { String($0) }
                return try await builderPage(SurveyDraft(survey: survey, prompt: prompt, store: store), survey: survey, visit,
                                   done: done.flatMap { ["saved", "created", "publish", "close"].contains($0) ? visit.t["colDone.\($0)"] : nil })
            }
        }
        router.post("console/surveys/:id") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = requireWrite(visit) { return refused }
                return try await submitBuilder(survey: try await knownSurvey(try support.parameter(context, "id")), visit)
            }
        }
        for (verb, published) in [("publish", true), ("close", false)] {
            router.post(RouterPath("console/surveys/:id/\(verb)")) { request, context in
                try await visit(request, context, form: true) { visit in
                    if let refused = requireWrite(visit) { return refused }
                    let id = try support.parameter(context, "id")
                    _ = try await store.setSurveyStatus(id, published: published, by: visit.principal)
                    return redirect("/console/surveys/\(id)?done=\(verb)")
                }
            }
        }
        router.get("console/surveys/:id/preview") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await promptPreview(request, surveyId: try support.parameter(context, "id"), visit)
            }
        }

        router.get("console/polls") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }
                return try await pollsPage(visit, done: done.flatMap { ["created", "open", "close"].contains($0) ? visit.t["colPollDone.\($0)"] : nil })
            }
        }
        router.post("console/polls") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = requireWrite(visit) { return refused }
                return try await createPoll(visit)
            }
        }
        for (verb, open) in [("open", true), ("close", false)] {
            router.post(RouterPath("console/polls/:id/\(verb)")) { request, context in
                try await visit(request, context, form: true) { visit in
                    if let refused = requireWrite(visit) { return refused }
                    let id = try support.parameter(context, "id")
                    guard try await store.poll(id) != nil, try await store.setPollOpen(id, open: open, by: visit.principal) != nil else {
                        throw CandorError(.notFound, "no poll '\(id)'")
                    }
                    return redirect("/console/polls?done=\(verb)#poll-\(id)")
                }
            }
        }

        router.get("console/incentives") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await poolsPage(visit)
            }
        }
        router.post("console/incentives") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = requireWrite(visit) { return refused }
                return try await createPool(visit)
            }
        }
        router.get("console/incentives/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }
                return try await poolPage(try support.parameter(context, "id"), visit,
                                          done: done.flatMap { ["created", "uploaded"].contains($0) ? visit.t["colPoolDone.\($0)"] : nil })
            }
        }
        router.post("console/incentives/:id/codes") { request, context in
            // Codes are uploaded as a form up to the API's CSV limit (1 MiB), more than ordinary forms
            // take: the body is read here with that limit, and the CSRF token checked as `visit` does.
            try await visit(request, context) { visit in
                if let refused = requireWrite(visit) { return refused }
                // Too big is said as such (no write happens, so no token is needed to say it).
                guard let buffer = try? await request.body.collect(upTo: SurveyRoutes.maxUploadBytes) else {
                    return try await poolPage(try support.parameter(context, "id"), visit, errors: [FieldError("form", visit.t["colTooLarge"]!)],
                                              status: .contentTooLarge)
                }
                let form = FormData(String(buffer: buffer))
                guard store.subjectLinks.checkTag("csrf-console", visit.session.tokenHash, presented: form.first("csrf")) else {
                    return errorPage(visit.language, status: .forbidden, heading: "csrfHeading", body: "csrfBody", link: ("/console", "home"), visit: visit)
                }
                var posted = visit
                posted.form = form
                return try await uploadCodes(try support.parameter(context, "id"), posted)
            }
        }
    }

    /// Changes need `write` too: the role the `/v1` routes of surveys, prompts, polls and pools check.
    func requireWrite(_ visit: Visit) -> Response? {
        if let refused = require([.admin], visit) { return refused }
        return visit.principal.has(.write) ? nil : forbidden(visit, "forbiddenRole", Role.write.rawValue)
    }

    func knownSurvey(_ id: String) async throws -> Survey {
        guard let survey = try await store.survey(id) else { throw CandorError(.notFound, "no survey '\(id)'") }
        return survey
    }

    /// The survey's prompt: the one the builder made for it, else (a survey made through the API) the
    /// first prompt asking one of its fields that no other survey claims.
    func surveyPrompt(_ survey: Survey) async throws -> Prompt? {
        Self.prompt(for: survey, prompts: try await store.prompts(), links: try await store.surveyPromptLinks())
    }

    static func prompt(for survey: Survey, prompts: [Prompt], links: [String: String]) -> Prompt? {
        if let id = links[survey.id], let linked = prompts.first(where: { $0.id == id }) { return linked }
        let fields = Set(survey.questions.compactMap(\.field))
        let claimed = Set(links.values)
        return prompts.first { fields.contains($0.field) && !claimed.contains($0.id ?? "") }
    }

    /// A text in the page's language, else English, else any.
    static func text(_ texts: [String: String]?, _ language: PageLanguage) -> String {
        guard let texts else { return "" }
        return texts[language.code] ?? texts["en"] ?? texts.values.first ?? ""
    }

    /// A store message (English) as shown on a page (see `ConsoleRoutes.inlineMessage`).
    static func storeMessage(_ message: String, _ visit: Visit) -> String {
        ConsoleRoutes.inlineMessage(message, visit.language)
    }

    // MARK: - Surveys list

    func surveysPage(_ request: Request, _ visit: Visit) async throws -> Response {
        let t = visit.t
        let all = try await store.surveys()
        let parameters = request.uri.queryParameters
        let offset = max(0, Int(parameters.get("from").map { String($0) } ?? "") ?? 0)
        let page = all.dropFirst(offset).prefix(Self.collectionPageSize)
        let prompts = try await store.prompts()
        let links = try await store.surveyPromptLinks()
        let rows: [[String: Any]] = page.map { survey in
            let prompt = Self.prompt(for: survey, prompts: prompts, links: links)
            return PortalView.compact([
                "id": survey.id, "title": Self.text(survey.title, visit.language),
                "kind": t["colKind.\(survey.kind.rawValue)"], "status": t["colStatus.\(survey.status)"], "statusKey": survey.status,
                "questions": String(survey.questions.count), "updated": Self.time(survey.updatedAt),
                "prompt": prompt.map { "\($0.name) · \(t["colPromptStatus.\(($0.status ?? .draft).rawValue)"] ?? "")" },
            ])
        }
        let next = offset + Self.collectionPageSize < all.count ? "/console/surveys?from=\(offset + Self.collectionPageSize)" : nil
        return render("console/collection_surveys", visit.language, path: "/console/surveys", visit: visit, PortalView.compact([
            "title": t["navSurveys"]!, "surveys": rows, "hasSurveys": !rows.isEmpty, "next": next,
            "first": offset > 0 ? "/console/surveys" : nil,
        ]))
    }

    // MARK: - The builder

    /// The builder with a draft (from a stored survey, or as posted), errors next to their inputs.
    func builderPage(_ draft: SurveyDraft, survey: Survey?, _ visit: Visit, errors: [FieldError] = [], status: HTTPResponse.Status = .ok,
                     done: String? = nil) async throws -> Response {
        let t = visit.t
        let book = ErrorBook(errors.map { (Self.slot($0.field), Self.storeMessage($0.message, visit)) })
        let editable = survey == nil || survey?.status == "draft"
        let registry = store.registry
        let language = visit.language
        func input(_ name: String, _ value: String) -> [String: Any] {
            PortalView.compact(["name": name, "value": value, "error": book.take(name)])
        }
        func choices(_ pairs: [(String, String)], selected: String) -> [[String: Any]] {
            var list = pairs.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == selected] as [String: Any] }
            if !selected.isEmpty, !pairs.contains(where: { $0.0 == selected }) { list.append(["value": selected, "label": selected, "selected": true]) }
            return list
        }
        let fieldChoices = registry.fields.values.sorted { $0.key < $1.key }.map { ("field:\($0.key)", "\(Self.text($0.labels, language)) (\($0.key))") }
        let ids = draft.questions.map(\.id)
        var questions = [[String: Any]]()
        for (index, question) in draft.questions.enumerated() {
            let prefix = "q\(index)"
            let scored = question.source == "scored"
            var options = question.options
            // A blank row to add an option without JavaScript; a new scored question starts with two.
            // (a survey that is no longer a draft is shown read-only, without blank rows)
            while editable, options.count < (question.options.isEmpty ? 2 : question.options.count + 1) { options.append(SurveyDraft.Option()) }
            var branches = question.branches
            if editable { branches.append(SurveyDraft.Branch(question: question.id)) }
            let earlier = ids.prefix(index + 1).filter { !$0.isEmpty }.map { ($0, $0) }
            let later = [("", t["colNoBranchTarget"]!)] + ids.suffix(from: index + 1).filter { !$0.isEmpty }.map { ($0, $0) } + [(SurveyBranch.end, t["colEnd"]!)]
            var block: [String: Any] = [
                "index": index, "number": index + 1, "prefix": prefix, "scored": scored,
                "idInput": input("\(prefix)_id", question.id),
                "sourceInput": input("\(prefix)_source", question.source),
                "sources": choices([("scored", t["colScoredQuestion"]!)] + fieldChoices, selected: question.source),
                "promptEn": input("\(prefix)_prompt_en", question.promptEN), "promptHe": input("\(prefix)_prompt_he", question.promptHE),
                "options": options.enumerated().map { item -> [String: Any] in
                    let p = "\(prefix)_o\(item.offset)"
                    return ["number": item.offset + 1, "key": input("\(p)_key", item.element.key), "en": input("\(p)_en", item.element.en),
                            "he": input("\(p)_he", item.element.he), "score": input("\(p)_score", item.element.score)]
                },
                "branches": branches.enumerated().map { item -> [String: Any] in
                    let p = "\(prefix)_b\(item.offset)"
                    return ["number": item.offset + 1, "question": input("\(p)_question", item.element.question),
                            "questionChoices": choices(earlier, selected: item.element.question.isEmpty ? question.id : item.element.question),
                            "equals": input("\(p)_equals", item.element.equals), "goto": input("\(p)_goto", item.element.goto),
                            "gotoChoices": choices(later, selected: item.element.goto)]
                },
                "fieldHint": question.source.hasPrefix("field:") ? registry.fields[String(question.source.dropFirst(6))].map { field in
                    (field.options ?? []).isEmpty ? (t["colFieldType.\(field.type.rawValue)"] ?? field.type.rawValue)
                        : "\(t["colOptionKeys"]!): \((field.options ?? []).joined(separator: ", "))"
                } : nil,
                "canRemove": editable && draft.questions.count > 1, "hasBranches": !branches.isEmpty,
            ]
            block["optionsError"] = book.take("\(prefix)_options")
            block["branchesError"] = book.take("\(prefix)_next")
            block["blockError"] = book.takePrefix("\(prefix)_")
            questions.append(PortalView.compact(block))
        }
        var results = draft.results
        if editable { results.append(SurveyDraft.Result()) }
        let poolChoices = [("", t["colChoosePool"]!)] + (try await store.incentivePools(limit: 200)).map { ($0.id, "\($0.name) (\($0.remaining))") }
        let promptFields = draft.questions.compactMap { $0.source.hasPrefix("field:") ? String($0.source.dropFirst(6)) : nil }
        let prompt = draft.prompt
        var context: [String: Any] = [
            "title": survey.map { Self.text($0.title, language) } ?? t["colNewSurvey"]!,
            "isNew": survey == nil, "editable": editable,
            "action": survey.map { "/console/surveys/\($0.id)" } ?? "/console/surveys/new",
            "titleEn": input("title_en", draft.titleEN), "titleHe": input("title_he", draft.titleHE),
            "kinds": choices(SurveyKind.allCases.map { ($0.rawValue, t["colKind.\($0.rawValue)"]!) }, selected: draft.kind),
            "freshness": input("freshness_days", draft.freshnessDays),
            "questions": questions, "questionsError": book.take("questions"),
            "endingTypes": choices(SurveyEndingType.allCases.map { ($0.rawValue, t["colEnding.\($0.rawValue)"]!) }, selected: draft.endingType),
            "endingTypeInput": input("ending_type", draft.endingType),
            "endingMessageEn": input("ending_message_en", draft.endingMessageEN), "endingMessageHe": input("ending_message_he", draft.endingMessageHE),
            "endingUrl": input("ending_url", draft.endingURL),
            "results": results.enumerated().map { item -> [String: Any] in
                let p = "r\(item.offset)"
                let result = item.element
                return ["number": item.offset + 1, "min": input("\(p)_min", result.min), "max": input("\(p)_max", result.max),
                        "titleEn": input("\(p)_title_en", result.titleEN), "titleHe": input("\(p)_title_he", result.titleHE),
                        "textEn": input("\(p)_text_en", result.textEN), "textHe": input("\(p)_text_he", result.textHE), "url": input("\(p)_url", result.url)]
            },
            "resultsError": book.take("ending_results"), "hasResults": !results.isEmpty,
            "incentiveTypes": choices([("", t["colIncentive.none"]!)] + SurveyIncentiveType.allCases.map { ($0.rawValue, t["colIncentive.\($0.rawValue)"]!) },
                                      selected: draft.incentiveType),
            "incentiveTypeInput": input("incentive_type", draft.incentiveType),
            "pools": choices(poolChoices, selected: draft.poolId), "poolInput": input("incentive_pool", draft.poolId),
            "codeInput": input("incentive_code", draft.code),
            "incentiveTextEn": input("incentive_text_en", draft.incentiveTextEN), "incentiveTextHe": input("incentive_text_he", draft.incentiveTextHE),
            "incentiveUrl": input("incentive_url", draft.incentiveURL),
            // The prompt.
            "promptEnabled": prompt.enabled, "promptId": prompt.id,
            "promptFieldInput": input("prompt_field", prompt.field),
            "promptFields": choices(promptFields.map { key in (key, registry.fields[key].map { "\(Self.text($0.labels, language)) (\(key))" } ?? key) },
                                    selected: prompt.field),
            "hasPromptFields": !promptFields.isEmpty,
            "promptName": input("prompt_name", prompt.name),
            "promptTextEn": input("prompt_text_en", prompt.textEN), "promptTextHe": input("prompt_text_he", prompt.textHE),
            "promptIntroEn": input("prompt_intro_en", prompt.introEN), "promptIntroHe": input("prompt_intro_he", prompt.introHE),
            "triggers": choices(PromptTriggerType.allCases.map { ($0.rawValue, t["colTrigger.\($0.rawValue)"]!) }, selected: prompt.trigger),
            "triggerInput": input("prompt_trigger", prompt.trigger),
            "urlMatches": choices([("", t["colAnyPage"]!)] + PromptURLMatch.allCases.map { ($0.rawValue, t["colMatch.\($0.rawValue)"]!) }, selected: prompt.urlMatch),
            "urlMatchInput": input("prompt_url_match", prompt.urlMatch),
            "urlValue": input("prompt_url_value", prompt.urlValue), "event": input("prompt_event", prompt.event),
            "percent": input("prompt_percent", prompt.percent), "seconds": input("prompt_seconds", prompt.seconds),
            "audience": input("prompt_audience", prompt.audience),
            "frequencies": choices(PromptFrequency.allCases.map { ($0.rawValue, t["colFrequency.\($0.rawValue)"]!) }, selected: prompt.frequency),
            "frequencyInput": input("prompt_frequency", prompt.frequency),
            "maxDisplays": input("prompt_max_displays", prompt.maxDisplays), "sample": input("prompt_sample", prompt.sample),
            "delay": input("prompt_delay", prompt.delay), "refresh": input("prompt_refresh_days", prompt.refreshDays),
            "promptStatuses": choices(PromptStatus.allCases.map { ($0.rawValue, t["colPromptStatus.\($0.rawValue)"]!) }, selected: prompt.status),
            "promptStatusInput": input("prompt_status", prompt.status),
            "extraTriggers": prompt.extraTriggers.isEmpty ? nil : t["colExtraTriggers"]!.replacingOccurrences(of: "%1", with: String(prompt.extraTriggers.count)),
            "cooldown": t["colCooldown"]!.replacingOccurrences(of: "%1", with: String(max(1, config.promptCooldownSeconds / 86_400))),
        ]
        if let survey {
            context["survey"] = [
                "id": survey.id, "status": t["colStatus.\(survey.status)"]!, "statusKey": survey.status,
                "canPublish": survey.status == "draft", "canClose": survey.status == "published",
                "updated": Self.time(survey.updatedAt), "kind": t["colKind.\(survey.kind.rawValue)"]!,
            ] as [String: Any]
            context["previews"] = Locales.supported.map { code in
                ["src": "/console/surveys/\(survey.id)/preview?locale=\(code)", "lang": code,
                 "label": t["colPreviewIn.\(code)"]!] as [String: Any]
            }
        }
        if let done { context["done"] = done }
        // Whatever no input took (a rule about the whole survey, say) is listed at the top.
        let rest = book.rest()
        if !rest.isEmpty || !errors.isEmpty {
            context["formErrors"] = rest.map { ["message": $0] }
            context["hasFormErrors"] = !rest.isEmpty
            context["hasErrors"] = true
        }
        return render("console/collection_survey", visit.language, path: survey.map { "/console/surveys/\($0.id)" } ?? "/console/surveys/new",
                      status: status, visit: visit, PortalView.compact(context))
    }

    /// Handles the builder's buttons: add or remove a question (re-rendered, nothing saved), or save.
    func submitBuilder(survey: Survey?, _ visit: Visit) async throws -> Response {
        if let survey, survey.status != "draft", visit.form.first("action") == "save" || visit.form.first("action").isEmpty {
            // A published survey's questions are fixed: only its prompt can change.
            return try await savePromptOnly(survey, visit)
        }
        var draft = SurveyDraft(form: visit.form)
        let action = visit.form.first("action")
        if action == "add_question" {
            draft.questions.append(SurveyDraft.Question(id: "q\(draft.questions.count + 1)", source: draft.kind == "quiz" ? "scored" : ""))
            return try await builderPage(draft, survey: survey, visit)
        }
        if action.hasPrefix("remove_question:"), let index = Int(action.dropFirst("remove_question:".count)), draft.questions.indices.contains(index) {
            draft.questions.remove(at: index)
            return try await builderPage(draft, survey: survey, visit)
        }
        // Everything is checked before anything is written: the survey by the store's own rules, the
        // prompt by the prompt rules, and both sets of errors shown together.
        let registry = store.registry
        var errors = [FieldError]()
        let input = draft.surveyInput(errors: &errors, t: visit.t)
        if let input {
            if case .failure(let error) = SurveyRules.validate(input, fields: registry.fields) { errors += error.errors }
            if let pool = input.incentive?.poolId, input.incentive?.type == .pool, !pool.isEmpty, try await store.incentivePool(pool) == nil {
                errors.append(FieldError("incentive.pool_id", "unknown incentive pool '\(pool)'"))
            }
        }
        let prompt = draft.promptInput(surveyTitle: draft.titleEN, fields: registry.fields, errors: &errors, t: visit.t)
        if let prompt, case .failure(let error) = PromptRules.validate(prompt, fields: registry.fields, purposes: registry.purposes) {
            errors += error.errors.map { FieldError("prompt." + $0.field, $0.message) }
        }
        guard errors.isEmpty, let input else {
            return try await builderPage(draft, survey: survey, visit, errors: errors, status: .unprocessableContent)
        }
        do {
            let saved: Survey
            if let survey { saved = try await store.replaceSurvey(survey.id, input, by: visit.principal) } else { saved = try await store.createSurvey(input, by: visit.principal) }
            try await savePrompt(prompt, draft: draft, surveyId: saved.id, visit)
            return redirect("/console/surveys/\(saved.id)?done=\(survey == nil ? "created" : "saved")")
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            let shown = error.errors.isEmpty ? [FieldError("form", error.detail)] : error.errors
            return try await builderPage(draft, survey: survey, visit, errors: shown, status: error.kind == .conflict ? .conflict : .unprocessableContent)
        }
    }

    /// Creates or updates the survey's prompt; an unticked prompt that exists is paused, not deleted
    /// (its display history stays meaningful).
    func savePrompt(_ prompt: Prompt?, draft: SurveyDraft, surveyId: String, _ visit: Visit) async throws {
        if let prompt {
            let saved: Prompt?
            if !draft.prompt.id.isEmpty, try await store.prompt(draft.prompt.id) != nil {
                saved = try await store.updatePrompt(draft.prompt.id, prompt, by: visit.principal)
            } else {
                saved = try await store.createPrompt(prompt, by: visit.principal)
            }
            if let id = saved?.id, try await store.surveyPromptLinks()[surveyId] != id {
                try await store.linkSurveyPrompt(surveyId: surveyId, promptId: id, by: visit.principal)
            }
        } else if !draft.prompt.id.isEmpty, let existing = try await store.prompt(draft.prompt.id), existing.status == .active {
            _ = try await store.setPromptStatus(draft.prompt.id, .paused, by: visit.principal)
        }
    }

    /// A published or closed survey: the questions are fixed, the prompt can still change.
    func savePromptOnly(_ survey: Survey, _ visit: Visit) async throws -> Response {
        let stored = SurveyDraft(survey: survey, prompt: try await surveyPrompt(survey), store: store)
        var draft = stored
        draft.prompt = SurveyDraft(form: visit.form).prompt
        let registry = store.registry
        var errors = [FieldError]()
        let prompt = draft.promptInput(surveyTitle: stored.titleEN, fields: registry.fields, errors: &errors, t: visit.t)
        if let prompt, case .failure(let error) = PromptRules.validate(prompt, fields: registry.fields, purposes: registry.purposes) {
            errors += error.errors.map { FieldError("prompt." + $0.field, $0.message) }
        }
        if !errors.isEmpty { return try await builderPage(draft, survey: survey, visit, errors: errors, status: .unprocessableContent) }
        try await savePrompt(prompt, draft: draft, surveyId: survey.id, visit)
        return redirect("/console/surveys/\(survey.id)?done=saved")
    }

    /// Where a store error's field path is shown: the name of the input (or block) it is about.
    static func slot(_ path: String) -> String {
        var text = path
        for (from, to) in [("questions[", "q"), ("].options[", "_o"), ("].next[", "_b"), ("ending.results[", "r"), ("].", "_"), ("]", "")] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        text = text.replacingOccurrences(of: ".", with: "_")
        let renames: [(String, String)] = [
            ("_labels_en", "_en"), ("_labels_he", "_he"), ("_labels", "_en"), ("_if_question", "_question"), ("_if_equals", "_equals"),
            ("incentive_pool_id", "incentive_pool"), ("incentive_text", "incentive_text_en"),
            ("prompt_texts_en_question", "prompt_text_en"), ("prompt_texts_he_question", "prompt_text_he"),
            ("prompt_texts_en_intro", "prompt_intro_en"), ("prompt_texts_he_intro", "prompt_intro_he"),
            ("prompt_sample_percent", "prompt_sample"), ("prompt_delay_seconds", "prompt_delay"),
        ]
        for (from, to) in renames where text.hasSuffix(from) { text = String(text.dropLast(from.count)) + to }
        if text.hasPrefix("prompt_triggers") {
            for (suffix, name) in [("_url_value", "prompt_url_value"), ("_event", "prompt_event"), ("_percent", "prompt_percent"), ("_seconds", "prompt_seconds")]
            where text.hasSuffix(suffix) { return name }
            return "prompt_trigger"
        }
        // A text without its locale is about the English one (the one that is required).
        for bare in ["title", "ending_message", "prompt"] where text == bare || text.hasSuffix("_" + bare) && text.hasPrefix("q") || text.hasSuffix("_title") && text.hasPrefix("r") {
            return text + "_en"
        }
        if text.hasPrefix("r"), text.hasSuffix("_text") { return text + "_en" }
        if text.hasPrefix("q"), text.hasSuffix("_field") { return String(text.dropLast("_field".count)) + "_source" }
        return text
    }

    // MARK: - The prompt's preview

    /// The prompt as a visitor would see it, drawn here with the markup embed.js builds and embed.css:
    /// a page for a same-origin frame. It reads nothing personal and writes nothing — no display is
    /// counted. `q` and `intro` show unsaved wording (the builder's script passes them while typing).
    func promptPreview(_ request: Request, surveyId: String, _ visit: Visit) async throws -> Response {
        let survey = try await knownSurvey(surveyId)
        let registry = store.registry
        let parameters = request.uri.queryParameters
        // `locale`, not `lang`: `?lang=` would switch the operator's own console language (its cookie).
        let locale = EmbedStrings.locale(parameters.get("locale").map { String($0) } ?? visit.language.code)
        let t = ConsoleStrings.of(PageLanguage(code: locale))
        let strings = EmbedStrings.of(locale)
        var prompt = try await surveyPrompt(survey)
        var note: String?
        if let chosen = parameters.get("field").map({ String($0) }), survey.questions.contains(where: { $0.field == chosen }) {
            if prompt?.field != chosen { prompt = Prompt(name: "", field: chosen, triggers: [], frequency: .once) }
        }
        if prompt == nil, let first = survey.questions.first(where: { $0.field != nil })?.field {
            prompt = Prompt(name: "", field: first, triggers: [], frequency: .once)
            note = t["colPreviewNoPrompt"]
        }
        var context: [String: Any] = ["lang": locale, "dir": locale == "he" ? "rtl" : "ltr", "t": t, "title": t["colPreviewTitle"]!]
        guard var shown = prompt, let field = registry.fields[shown.field] else {
            context["empty"] = t["colPreviewNoField"]
            return previewResponse(context)
        }
        // Unsaved wording from the builder, for this locale only.
        let question = String(parameters.get("q") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let intro = String(parameters.get("intro") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !question.isEmpty || !intro.isEmpty || parameters.get("q") != nil {
            var texts = shown.texts ?? [:]
            let current = texts[locale]
            texts[locale] = PromptText(question: question.isEmpty ? (current?.question ?? field.labels[locale] ?? field.labels["en"] ?? field.key) : String(question.prefix(300)),
                                       intro: intro.isEmpty ? nil : String(intro.prefix(PromptText.maxIntroLength)))
            shown.texts = texts
        }
        let name = "candor-\(field.key)"
        let options: [[String: Any]]
        switch field.type {
        case .singleChoice, .multiChoice:
            options = (field.options ?? []).map { ["type": field.type == .multiChoice ? "checkbox" : "radio", "name": name, "value": $0,
                                                   "label": field.label(ofOption: $0, locale: locale).capitalizedFirst] }
        case .boolean:
            options = [["type": "radio", "name": name, "value": "true", "label": strings["yes"]!], ["type": "radio", "name": name, "value": "false", "label": strings["no"]!]]
        default:
            options = []
        }
        let notices: [[String: Any]] = field.purposes.sorted().compactMap { purpose in
            guard let notice = registry.currentNotice(of: purpose), let text = notice.texts[locale] ?? notice.texts["en"] else { return nil }
            return ["title": text.title, "why": text.why, "benefit": "\(strings["benefit"]!): \(text.benefit)", "version": "\(strings["notice_version"]!) \(notice.version)"]
        }
        context["prompt"] = PortalView.compact([
            "question": shown.question(locale: locale, field: field), "intro": shown.intro(locale: locale, field: field),
            "choice": !options.isEmpty, "options": options, "name": name,
            "inputType": field.type == .number ? "number" : (field.type == .date ? "date" : "text"),
            "notices": notices, "s": strings, "note": note,
        ])
        return previewResponse(context)
    }

    func previewResponse(_ context: [String: Any]) -> Response {
        var response = Response.html(resources.templates.render(context, withTemplate: "console/collection_preview") ?? "")
        // Framed by the survey page of this console only; still no script at all.
        response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    // MARK: - Polls

    func pollsPage(_ visit: Visit, form: FormData = FormData(), errors: [FieldError] = [], status: HTTPResponse.Status = .ok, done: String? = nil) async throws -> Response {
        let t = visit.t
        let polls = try await store.polls().prefix(Self.collectionPageSize)
        var rows = [[String: Any]]()
        for poll in polls {
            let results = try await store.pollResults(poll)
            let counts = Dictionary(results.rows.map { ($0.option, $0) }, uniquingKeysWith: { a, _ in a })
            rows.append(PortalView.compact([
                "id": poll.id, "question": Self.text(poll.question, visit.language), "k": String(poll.k),
                "status": t["colPollStatus.\(poll.status)"], "statusKey": poll.status, "isOpen": poll.isOpen,
                "published": results.isPublished, "total": String(results.total),
                "withheld": results.isPublished ? nil : t["colPollWithheld"]!.replacingOccurrences(of: "%1", with: String(poll.k)),
                "options": poll.options.map { option in
                    PortalView.compact(["label": Self.text(option.labels, visit.language), "key": option.key,
                                        "count": counts[option.key].map { String($0.count) }, "percent": counts[option.key].map { "\($0.percent)%" }])
                },
                "created": Self.time(poll.createdAt), "publicHref": "/polls/\(poll.id)?lang=\(visit.language.code)",
            ]))
        }
        let book = ErrorBook(errors.map { (Self.pollSlot($0.field), Self.storeMessage($0.message, visit)) })
        func input(_ name: String) -> [String: Any] { PortalView.compact(["name": name, "value": form.first(name), "error": book.take(name)]) }
        let optionRows = max(4, Self.indexedRows(form, prefix: "o", suffix: "_key") + 1)
        var context: [String: Any] = [
            "title": t["navPolls"]!, "polls": rows, "hasPolls": !rows.isEmpty,
            "questionEn": input("question_en"), "questionHe": input("question_he"),
            "k": PortalView.compact(["name": "k", "value": form.first("k").isEmpty ? String(PollRules.defaultK) : form.first("k"), "error": book.take("k")]),
            "optionRows": (0..<min(12, optionRows)).map { ["number": $0 + 1, "key": input("o\($0)_key"), "en": input("o\($0)_en"), "he": input("o\($0)_he")] as [String: Any] },
        ]
        if let message = book.take("options") { context["optionsError"] = message }
        let rest = book.rest()
        if !errors.isEmpty { context["hasErrors"] = true; context["formErrors"] = rest.map { ["message": $0] } }
        if let done { context["done"] = done }
        return render("console/collection_polls", visit.language, path: "/console/polls", status: status, visit: visit, PortalView.compact(context))
    }

    /// How many indexed rows a form holds (`o0_key`, `o1_key`, …).
    static func indexedRows(_ form: FormData, prefix: String, suffix: String) -> Int {
        var count = 0
        while form.pairs.contains(where: { $0.0 == "\(prefix)\(count)\(suffix)" }) { count += 1 }
        return count
    }

    static func pollSlot(_ path: String) -> String {
        var text = path.replacingOccurrences(of: "options[", with: "o").replacingOccurrences(of: "].", with: "_").replacingOccurrences(of: ".", with: "_")
        for (from, to) in [("_labels_en", "_en"), ("_labels_he", "_he"), ("_labels", "_en")] where text.hasSuffix(from) { text = String(text.dropLast(from.count)) + to }
        return text
    }

    func createPoll(_ visit: Visit) async throws -> Response {
        let form = visit.form
        var errors = [FieldError]()
        var question = ["en": form.first("question_en").trimmingCharacters(in: .whitespacesAndNewlines)]
        let hebrew = form.first("question_he").trimmingCharacters(in: .whitespacesAndNewlines)
        if !hebrew.isEmpty { question["he"] = hebrew }
        // Blank rows are left out; their numbers stay those of the form, so a message lands on its row.
        var options = [PollOption]()
        var rowOfOption = [Int]()
        for row in 0..<Self.indexedRows(form, prefix: "o", suffix: "_key") {
            let key = form.first("o\(row)_key").trimmingCharacters(in: .whitespaces)
            let en = form.first("o\(row)_en").trimmingCharacters(in: .whitespacesAndNewlines)
            let he = form.first("o\(row)_he").trimmingCharacters(in: .whitespacesAndNewlines)
            if key.isEmpty && en.isEmpty && he.isEmpty { continue }
            var labels = ["en": en]
            if !he.isEmpty { labels["he"] = he }
            options.append(PollOption(key: key, labels: labels))
            rowOfOption.append(row)
        }
        var k: Int?
        let kText = form.first("k").trimmingCharacters(in: .whitespaces)
        if !kText.isEmpty {
            if let value = Int(kText) { k = value } else { errors.append(FieldError("k", visit.t["wholeNumber"]!)) }
        }
        let input = PollInput(question: question, options: options, k: k)
        if case .failure(let error) = PollRules.validate(input) {
            // Option paths count the kept options: name the form's row instead.
            errors += error.errors.map { item in
                guard item.field.hasPrefix("options["), let close = item.field.firstIndex(of: "]"),
                      let index = Int(item.field[item.field.index(item.field.startIndex, offsetBy: 8)..<close]), rowOfOption.indices.contains(index) else { return item }
                return FieldError("options[\(rowOfOption[index])" + item.field[close...], item.message)
            }
        }
        if !errors.isEmpty { return try await pollsPage(visit, form: form, errors: errors, status: .unprocessableContent) }
        let poll = try await store.createPoll(input, by: visit.principal)
        return redirect("/console/polls?done=created#poll-\(poll.id)")
    }

    // MARK: - Incentive pools

    func poolsPage(_ visit: Visit, form: FormData = FormData(), errors: [FieldError] = [], status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        let pools = try await store.incentivePools(limit: Self.collectionPageSize)
        let rows: [[String: Any]] = pools.map { pool in
            PortalView.compact([
                "id": pool.id, "name": pool.name, "size": String(pool.size), "issued": String(pool.issued), "remaining": String(pool.remaining),
                "low": pool.size > 0 && pool.remaining * 10 < pool.size, "empty": pool.remaining == 0,
                "expires": pool.expiresAt.map { Self.time($0) } ?? "—", "expired": pool.isExpired, "created": Self.time(pool.createdAt),
            ])
        }
        let book = ErrorBook(errors.map { ($0.field == "expires_at" ? "expires" : $0.field, Self.storeMessage($0.message, visit)) })
        var context: [String: Any] = [
            "title": t["navIncentives"]!, "pools": rows, "hasPools": !rows.isEmpty,
            "name": PortalView.compact(["name": "name", "value": form.first("name"), "error": book.take("name")]),
            "expires": PortalView.compact(["name": "expires", "value": form.first("expires"), "error": book.take("expires")]),
            "truncated": pools.count >= Self.collectionPageSize,
        ]
        let rest = book.rest()
        if !errors.isEmpty { context["hasErrors"] = true; context["formErrors"] = rest.map { ["message": $0] } }
        return render("console/collection_pools", visit.language, path: "/console/incentives", status: status, visit: visit, PortalView.compact(context))
    }

    func createPool(_ visit: Visit) async throws -> Response {
        let form = visit.form
        var expires: String?
        let day = form.first("expires").trimmingCharacters(in: .whitespaces)
        if !day.isEmpty {
            // A date input gives a day: the pool runs to the end of it (UTC).
            guard day.count == 10, let millis = Timestamp.parse(day + "T23:59:59Z") else {
                return try await poolsPage(visit, form: form, errors: [FieldError("expires", visit.t["colBadDate"]!)], status: .unprocessableContent)
            }
            expires = Timestamp.rfc3339(millis)
        }
        do {
            let pool = try await store.createIncentivePool(IncentivePoolInput(name: form.first("name"), expiresAt: expires), by: visit.principal)
            return redirect("/console/incentives/\(pool.id)?done=created")
        } catch let error as CandorError where error.kind == .validation {
            return try await poolsPage(visit, form: form, errors: error.errors, status: .unprocessableContent)
        }
    }

    func poolPage(_ id: String, _ visit: Visit, codes: String = "", errors: [FieldError] = [], status: HTTPResponse.Status = .ok, done: String? = nil) async throws -> Response {
        let t = visit.t
        guard let pool = try await store.incentivePool(id) else { throw CandorError(.notFound, "no incentive pool '\(id)'") }
        let using = try await store.surveys().filter { $0.incentive?.type == .pool && $0.incentive?.poolId == id }
        let lines = errors.map { item -> String in
            // `body.line[3]` (the CSV parser's name for a line) reads as "line 3".
            if let open = item.field.firstIndex(of: "["), let close = item.field.firstIndex(of: "]"), item.field.hasPrefix("body.line") {
                return "\(t["colLine"]!) \(item.field[item.field.index(after: open)..<close]): \(Self.storeMessage(item.message, visit))"
            }
            return item.field == "form" ? item.message : Self.storeMessage(item.message, visit)
        }
        var context: [String: Any] = [
            "title": pool.name, "pool": PortalView.compact([
                "id": pool.id, "name": pool.name, "size": String(pool.size), "issued": String(pool.issued), "remaining": String(pool.remaining),
                "expires": pool.expiresAt.map { Self.time($0) } ?? t["colNever"]!, "expired": pool.isExpired, "created": Self.time(pool.createdAt),
            ]),
            "codes": codes, "maxBytes": String(SurveyRoutes.maxUploadBytes),
            "usedBy": using.map { ["id": $0.id, "title": Self.text($0.title, visit.language)] }, "isUsed": !using.isEmpty,
        ]
        if !lines.isEmpty { context["codesError"] = lines.joined(separator: " · ") }
        if let done { context["done"] = done }
        return render("console/collection_pool", visit.language, path: "/console/incentives/\(id)", status: status, visit: visit, context)
    }

    /// Adds the pasted (or file-read) codes: one per line, the CSV rules of the API. Every bad, repeated
    /// or already present code is named and nothing is added.
    func uploadCodes(_ id: String, _ visit: Visit) async throws -> Response {
        // Browsers send a textarea's lines ending in CR LF, which Swift reads as one character: make them LF
        // so the API's CSV rules (one code per "\n" line) read them.
        let text = visit.form.first("codes").replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        guard try await store.incentivePool(id) != nil else { throw CandorError(.notFound, "no incentive pool '\(id)'") }
        let codes: [String]
        switch IncentiveCodes.parseCSV(text) {
        case .success(let parsed): codes = parsed
        case .failure(let error): return try await poolPage(id, visit, codes: text, errors: error.errors, status: .unprocessableContent)
        }
        do {
            _ = try await store.addIncentiveCodes(poolId: id, codes: codes, by: visit.principal)
        } catch let error as CandorError where error.kind == .validation {
            return try await poolPage(id, visit, codes: text, errors: error.errors, status: .unprocessableContent)
        }
        return redirect("/console/incentives/\(id)?done=uploaded")
    }
}

/// Errors waiting to be shown: each input takes its own, a block takes what is left under its prefix,
/// and the rest is listed at the top of the form, so no error is ever lost.
final class ErrorBook {
    private var entries: [(slot: String, message: String, taken: Bool)]

    init(_ entries: [(String, String)]) { self.entries = entries.map { ($0.0, $0.1, false) } }

    /// The messages for one input, joined; nil when it has none.
    func take(_ slot: String) -> String? {
        var messages = [String]()
        for index in entries.indices where !entries[index].taken && entries[index].slot == slot {
            entries[index].taken = true
            messages.append(entries[index].message)
        }
        return messages.isEmpty ? nil : messages.joined(separator: " · ")
    }

    /// Everything left under a prefix (a question block's other errors).
    func takePrefix(_ prefix: String) -> String? {
        var messages = [String]()
        for index in entries.indices where !entries[index].taken && entries[index].slot.hasPrefix(prefix) {
            entries[index].taken = true
            messages.append(entries[index].message)
        }
        return messages.isEmpty ? nil : messages.joined(separator: " · ")
    }

    /// What no input took.
    func rest() -> [String] {
        entries.filter { !$0.taken }.map { $0.slot.isEmpty || $0.slot == "form" ? $0.message : "\($0.slot): \($0.message)" }
    }
}
