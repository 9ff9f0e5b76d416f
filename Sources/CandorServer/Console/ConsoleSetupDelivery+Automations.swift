import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Automations in the console: the list with each one's last run, one automation with its recent runs,
/// and the form that creates or replaces one — validated exactly as `POST`/`PUT /v1/automations` are
/// (`AutomationRoutes.validate`: registry rules, destinations/pools/surveys, Mustache templates).
extension ConsoleRoutes {
    /// Automations per page of the list, runs per page of one automation.
    static let automationsPerPage = 25
    static let runsPerPage = 25
    /// The action kinds the form offers, in the order it shows them.
    static let automationActionKinds: [AutomationActionType] = [.sendEmail, .alert, .callDestination, .issueIncentive, .setField]

    func addAutomationPages(to router: Router<CandorRequestContext>) {
        router.get("console/automations") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin, .audit], visit) { return refused }
                return try await automationsPage(request, visit)
            }
        }
        router.get("console/automations/new") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await automationForm(nil, visit)
            }
        }
        router.post("console/automations") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveAutomation(nil, visit)
            }
        }
        router.get("console/automations/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin, .audit], visit) { return refused }
                return try await automationPage(try support.parameter(context, "id"), request, visit)
            }
        }
        router.get("console/automations/:id/edit") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await automationForm(try await store.automation(try support.parameter(context, "id")), visit)
            }
        }
        router.post("console/automations/:id") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveAutomation(try await store.automation(try support.parameter(context, "id")), visit)
            }
        }
        for (action, enabled) in [("enable", true), ("disable", false)] {
            router.post(RouterPath("console/automations/:id/\(action)")) { request, context in
                try await visit(request, context, form: true) { visit in
                    if let refused = require([.admin], visit) { return refused }
                    let id = try support.parameter(context, "id")
                    _ = try await store.setAutomationEnabled(id, enabled, by: visit.principal)
                    return redirect("/console/automations/\(id)?done=\(action)")
                }
            }
        }
        router.post("console/automations/:id/delete") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                let id = try support.parameter(context, "id")
                // Deleting drops the run log too: the operator ticks a confirmation first.
                guard visit.form.first("confirm") == "yes" else {
                    return try await automationPage(id, nil, visit, confirmError: visit.t["auConfirmRequired"]!, status: .unprocessableContent)
                }
                _ = try await store.deleteAutomation(id, by: visit.principal)
                return redirect("/console/automations?done=delete")
            }
        }
    }

    // MARK: - Reading

    func eventLabel(_ event: String, _ t: [String: String]) -> String { t["auEvent_\(event)"] ?? event }
    func actionLabel(_ type: String, _ t: [String: String]) -> String { t["auAction_\(type)"] ?? type }

    /// "Consent granted (newsletter)": the trigger with its filter.
    func triggerSummary(_ trigger: AutomationTrigger, _ t: [String: String]) -> String {
        let filter = (trigger.fields ?? []) + (trigger.purposes ?? []) + (trigger.surveys ?? []) + (trigger.requestTypes ?? [])
        return eventLabel(trigger.event, t) + (filter.isEmpty ? "" : " (\(filter.joined(separator: ", ")))")
    }

    func automationsPage(_ request: Request, _ visit: Visit) async throws -> Response {
        let t = visit.t
        let after = request.uri.queryParameters.get("after").map { String($0) }
        let page = try await store.automations(cursor: after, limit: Self.automationsPerPage)
        var rows = [[String: Any]]()
        for automation in page.data {
            // The newest run of each: one index range read (automation_id, event_seq) per row of a short page.
            let last = try await store.automationRuns(automationId: automation.id, cursor: nil, limit: 1).data.first
            rows.append(PortalView.compact([
                "id": automation.id, "name": automation.name, "description": automation.description,
                "trigger": triggerSummary(automation.trigger, t), "rule": automation.rule.flatMap { $0.isEmpty ? nil : $0 },
                "actions": automation.actions.map { actionLabel($0.type, t) }.joined(separator: ", "),
                "enabled": automation.enabled, "status": automation.enabled ? t["dlEnabled"]! : t["dlDisabled"]!,
                "lastRun": last.map { Self.time($0.createdAt) }, "lastStatus": last.map { t["auRun_\($0.status)"] ?? $0.status },
            ]))
        }
        let done = request.uri.queryParameters.get("done").map { String($0) } == "delete" ? t["auDone_delete"] : nil
        return render("console/delivery_automations", visit.language, path: "/console/automations", visit: visit, PortalView.compact([
            "title": t["navAutomations"]!, "automations": rows, "hasAutomations": !rows.isEmpty, "canChange": visit.principal.has(.admin),
            "next": page.nextCursor.map { "/console/automations?after=\($0)" }, "first": after != nil ? "/console/automations" : nil, "done": done,
        ]))
    }

    /// One automation: what it does, its recent runs (newest first, paged) and the forms that change it.
    func automationPage(_ id: String, _ request: Request?, _ visit: Visit, confirmError: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        let before: (value: String?, valid: Bool) = request.map { deliveryCursor($0, "before") } ?? (nil, true)
        guard before.valid else {
            return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "badCursor", link: ("/console/automations/\(id)", "navAutomations"), visit: visit)
        }
        let automation = try await store.automation(id)
        let runs = try await store.automationRuns(automationId: id, cursor: before.value, limit: Self.runsPerPage)
        let actions: [[String: Any]] = automation.actions.enumerated().map { index, action in
            PortalView.compact([
                "number": String(index + 1), "type": actionLabel(action.type, t), "detail": actionDetail(action, t, language: visit.language.code),
            ])
        }
        let runRows: [[String: Any]] = runs.data.map { run in
            let outcomes: [String] = run.actions.map { outcome in
                let word: String = t["auOutcome_\(outcome.outcome)"] ?? outcome.outcome
                let why: String = outcome.reason.map { " (\($0))" } ?? ""
                return actionLabel(outcome.type, t) + ": " + word + why
            }
            let reason: String? = run.reason.map { t["auReason_\($0)"] ?? $0 }
            let status: String = t["auRun_\(run.status)"] ?? run.status
            return PortalView.compact([
                "at": Self.time(run.createdAt), "event": run.eventType, "subject": run.subjectId, "statusKey": run.status,
                "status": status, "reason": reason, "outcomes": outcomes.joined(separator: "; "),
            ])
        }
        let done = request?.uri.queryParameters.get("done").map { String($0) }.flatMap { ["create", "update", "enable", "disable"].contains($0) ? t["auDone_\($0)"] : nil }
        return render("console/delivery_automation", visit.language, path: "/console/automations/\(id)", status: status, visit: visit, PortalView.compact([
            "title": automation.name, "automation": PortalView.compact([
                "id": automation.id, "name": automation.name, "description": automation.description, "trigger": triggerSummary(automation.trigger, t),
                "rule": automation.rule.flatMap { $0.isEmpty ? nil : $0 }, "enabled": automation.enabled,
                "status": automation.enabled ? t["dlEnabled"]! : t["dlDisabled"]!, "updated": Self.time(automation.updatedAt),
            ]),
            "actions": actions, "runs": runRows, "hasRuns": !runRows.isEmpty, "canChange": visit.principal.has(.admin),
            "runsNext": runs.nextCursor.map { "/console/automations/\(id)?before=\($0)#runs-heading" },
            "runsFirst": before.value != nil ? "/console/automations/\(id)#runs-heading" : nil,
            "done": done, "error_confirm": confirmError,
        ]))
    }

    /// What one action does, in a line.
    func actionDetail(_ action: AutomationAction, _ t: [String: String], language: String) -> String {
        switch action.kind {
        case .sendEmail?, .alert?:
            // Each subject isolated (U+2068 … U+2069), so an English subject on a Hebrew page keeps its order.
            let subjects = (action.content ?? [:]).sorted { $0.key < $1.key }.map { "\u{2068}\($0.key): “\($0.value.subject)”\u{2069}" }.joined(separator: " · ")
            let purpose = action.purpose.map { key in store.registry.purposes[key].map { $0.names[language] ?? $0.names["en"] ?? key } ?? key }
            return [purpose.map { "\(t["purpose"]!): \($0)" }, subjects.isEmpty ? nil : subjects].compactMap { $0 }.joined(separator: " — ")
        case .callDestination?: return action.destinationId ?? ""
        case .issueIncentive?: return action.poolId ?? ""
        case .setField?:
            let change = action.clear == true ? "\(action.field ?? "") ← ∅" : "\(action.field ?? "") ← \(action.value?.jsonText ?? "")"
            return change + (action.permission.map { " (\(t["auIfDeclared"]!) \($0.field) = \($0.value.jsonText))" } ?? "")
        case nil: return action.type
        }
    }

    // MARK: - The form

    /// The new or edit form. Actions are slots `a0`, `a1`, …: the automation's actions and one empty slot
    /// (two for a new one), so another action is added by filling the empty slot and saving.
    func automationForm(_ existing: Automation?, _ visit: Visit, errors: [String: String] = [:], form: FormData? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        let registry = store.registry
        let code = visit.language.code
        let destinations = try await store.destinations(cursor: nil, limit: 200).data
        let surveys = try await store.surveys()
        let submitted = form
        let trigger = existing?.trigger
        func chosen(_ name: String, _ current: [String]?) -> Set<String> { Set(submitted.map { $0.all(name) } ?? current ?? []) }
        let event = submitted?.first("event") ?? trigger?.event ?? AutomationEvent.consentGranted.rawValue
        let filterFields = chosen("trigger_fields", trigger?.fields), filterPurposes = chosen("trigger_purposes", trigger?.purposes)
        let filterSurveys = chosen("trigger_surveys", trigger?.surveys), filterTypes = chosen("trigger_request_types", trigger?.requestTypes)
        let purposeList = registry.purposes.values.sorted { $0.key < $1.key }
        let fieldList = registry.fields.values.sorted { $0.key < $1.key }

        // The slots: submitted values win, then the stored actions, then empty.
        let stored = existing?.actions ?? []
        let slotCount = submitted.map { form in min(AutomationRules.maxActions, (0..<AutomationRules.maxActions).last { !form.first("a\($0)_type").isEmpty }.map { $0 + 2 } ?? 1) }
            ?? min(AutomationRules.maxActions, stored.count + (existing == nil ? 2 : 1))
        let slots: [[String: Any]] = (0..<max(1, slotCount)).map { index in
            let action = index < stored.count ? stored[index] : nil
            func value(_ name: String, _ current: String?) -> String { submitted.map { $0.first("a\(index)_\(name)") } ?? current ?? "" }
            let type = value("type", action?.type)
            var slot: [String: Any] = [
                "index": String(index), "heading": t["auActionN"]!.replacingOccurrences(of: "%1", with: String(index + 1)), "isFirst": index == 0,
                "types": Self.automationActionKinds.map { ["key": $0.rawValue, "label": actionLabel($0.rawValue, t), "selected": $0.rawValue == type] as [String: Any] },
                "destinations": destinations.map { ["key": $0.id, "label": Self.deliveryHost($0.url) + " (\($0.id))", "selected": $0.id == value("destination_id", action?.destinationId)] as [String: Any] },
                "purposes": purposeList.map { ["key": $0.key, "label": $0.names[code] ?? $0.names["en"] ?? $0.key, "selected": $0.key == value("purpose", action?.purpose)] as [String: Any] },
                "fields": fieldList.map { ["key": $0.key, "selected": $0.key == value("field", action?.field)] as [String: Any] },
                "permissionFields": fieldList.map { ["key": $0.key, "selected": $0.key == value("permission_field", action?.permission?.field)] as [String: Any] },
                "subject_en": value("subject_en", action?.content?["en"]?.subject), "text_en": value("text_en", action?.content?["en"]?.text),
                "subject_he": value("subject_he", action?.content?["he"]?.subject), "text_he": value("text_he", action?.content?["he"]?.text),
                "pool_id": value("pool_id", action?.poolId), "value": value("value", action?.value.map(Self.formText)),
                "clear": submitted.map { $0.first("a\(index)_clear") == "yes" } ?? (action?.clear ?? false),
                "permission_value": value("permission_value", action?.permission.map { Self.formText($0.value) }),
            ]
            for (key, message) in errors where key.hasPrefix("a\(index)_") {
                slot["error_" + String(key.dropFirst("a\(index)_".count))] = message
            }
            return slot
        }
        var context: [String: Any] = [
            "title": existing == nil ? t["auNewAutomation"]! : t["auEditAutomation"]!, "isNew": existing == nil,
            "action": existing.map { "/console/automations/\($0.id)" } ?? "/console/automations",
            "back": existing.map { "/console/automations/\($0.id)" } ?? "/console/automations",
            "name": submitted?.first("name") ?? existing?.name ?? "", "description": submitted?.first("description") ?? existing?.description ?? "",
            "rule": submitted?.first("rule") ?? existing?.rule ?? "",
            "enabled": submitted.map { $0.first("enabled") == "yes" } ?? (existing?.enabled ?? false),
            "events": AutomationEvent.allCases.map { ["key": $0.rawValue, "label": eventLabel($0.rawValue, t), "selected": $0.rawValue == event] as [String: Any] },
            "filterFields": fieldList.map { ["key": $0.key, "label": $0.labels[code] ?? $0.labels["en"] ?? $0.key, "checked": filterFields.contains($0.key)] as [String: Any] },
            "filterPurposes": purposeList.map { ["key": $0.key, "label": $0.names[code] ?? $0.names["en"] ?? $0.key, "checked": filterPurposes.contains($0.key)] as [String: Any] },
            "filterSurveys": surveys.map { ["key": $0.id, "label": $0.title[code] ?? $0.title["en"] ?? $0.id, "checked": filterSurveys.contains($0.id)] as [String: Any] },
            "hasSurveys": !surveys.isEmpty,
            "filterTypes": AutomationRules.requestTypes.map { ["key": $0, "label": t["type.\($0)"] ?? $0, "checked": filterTypes.contains($0)] as [String: Any] },
            "slots": slots, "maxActions": String(AutomationRules.maxActions),
        ]
        for (key, message) in errors where !key.hasPrefix("a") || key == "actions" { context["error_\(key)"] = message }
        if !errors.isEmpty { context["hasErrors"] = true }
        return render("console/delivery_automation_form", visit.language, path: existing.map { "/console/automations/\($0.id)/edit" } ?? "/console/automations/new",
                      status: status, visit: visit, context)
    }

    /// A JSON value as a form shows it: text as itself, anything else as JSON.
    static func formText(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        return value.jsonText
    }

    /// A form value as JSON: JSON when it reads as JSON (numbers, lists, true), else the text itself.
    static func formValue(_ text: String) -> JSONValue {
        (try? CandorJSON.decode(JSONValue.self, from: text)) ?? .string(text)
    }

    /// The automation a submitted form describes. Empty slots are left out; empty filters mean "any".
    func automationInput(_ form: FormData) -> AutomationInput {
        func trimmed(_ name: String) -> String { form.first(name).trimmingCharacters(in: .whitespacesAndNewlines) }
        func list(_ name: String) -> [String]? { let values = form.all(name); return values.isEmpty ? nil : values }
        let trigger = AutomationTrigger(event: trimmed("event"), fields: list("trigger_fields"), purposes: list("trigger_purposes"),
                                        surveys: list("trigger_surveys"), requestTypes: list("trigger_request_types"))
        var actions = [AutomationAction]()
        for index in 0..<AutomationRules.maxActions {
            let type = trimmed("a\(index)_type")
            guard !type.isEmpty else { continue }
            func slot(_ name: String) -> String? { let value = trimmed("a\(index)_\(name)"); return value.isEmpty ? nil : value }
            var action = AutomationAction(type: .sendEmail)
            action.type = type
            switch AutomationActionType(rawValue: type) {
            case .sendEmail?, .alert?:
                action.purpose = slot("purpose")
                var content = [String: AutomationMessage]()
                for locale in ["en", "he"] {
                    let subject = form.first("a\(index)_subject_\(locale)"), text = form.first("a\(index)_text_\(locale)")
                    if !subject.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                        content[locale] = AutomationMessage(subject: subject, text: text)
                    }
                }
                action.content = content.isEmpty ? nil : content
                if type == AutomationActionType.alert.rawValue { action.destinationId = slot("destination_id") }
            case .callDestination?:
                action.destinationId = slot("destination_id")
            case .issueIncentive?:
                action.poolId = slot("pool_id")
            case .setField?:
                action.field = slot("field")
                if form.first("a\(index)_clear") == "yes" {
                    action.clear = true
                    action.value = slot("value").map(Self.formValue)
                } else {
                    action.value = slot("value").map(Self.formValue)
                }
                if let field = slot("permission_field") {
                    action.permission = AutomationPermission(field: field, value: Self.formValue(slot("permission_value") ?? ""))
                }
            case nil:
                break
            }
            actions.append(action)
        }
        let description = trimmed("description"), rule = trimmed("rule")
        return AutomationInput(name: trimmed("name"), description: description.isEmpty ? nil : description, trigger: trigger,
                               rule: rule.isEmpty ? nil : rule, actions: actions, enabled: form.first("enabled") == "yes")
    }

    /// The form key of an API error field: `actions[1].content.he.subject` → `a1_subject_he`, `trigger.fields[0]` → `trigger_fields`.
    static func automationFormKey(_ field: String, slotOf index: [Int]) -> String {
        if field.hasPrefix("trigger.") {
            let name = deliveryBaseField(String(field.dropFirst("trigger.".count)))
            return name == "event" ? "event" : "trigger_\(name)"
        }
        if field.hasPrefix("actions["), let close = field.firstIndex(of: "]"), let position = Int(field[field.index(field.startIndex, offsetBy: 8)..<close]) {
            let slot = position < index.count ? index[position] : position
            let rest = field[field.index(after: close)...].drop { $0 == "." }
            let parts = rest.split(separator: ".").map(String.init)
            let name: String
            switch parts.first ?? "" {
            case "content":
                let locale = parts.count > 1 ? parts[1] : "en"
                name = (parts.count > 2 ? parts[2] : "subject") + "_" + (["en", "he"].contains(locale) ? locale : "en")
            case "permission": name = parts.count > 1 ? "permission_\(parts[1])" : "permission_field"
            case "": name = "type"
            case "default_locale": name = "subject_en"
            default: name = deliveryBaseField(parts[0])
            }
            return "a\(slot)_\(name)"
        }
        let base = deliveryBaseField(field)
        return ["name", "description", "rule", "actions"].contains(base) ? base : "form"
    }

    /// Creates or replaces an automation with the API's checks; on any problem the form comes back with
    /// each message next to its field (422) and nothing is saved.
    func saveAutomation(_ existing: Automation?, _ visit: Visit) async throws -> Response {
        let form = visit.form
        let input = automationInput(form)
        // Which slot each action came from, so an error at actions[n] lands next to the right inputs.
        let slotOf = (0..<AutomationRules.maxActions).filter { !form.first("a\($0)_type").trimmingCharacters(in: .whitespaces).isEmpty }
        do {
            try await AutomationRoutes(support: support).validate(input)
            if let existing {
                _ = try await store.updateAutomation(existing.id, input, by: visit.principal)
                return redirect("/console/automations/\(existing.id)?done=update")
            }
            let created = try await store.createAutomation(input, by: visit.principal).deliveryResult
            return redirect("/console/automations/\(created.id)?done=create")
        } catch let error as CandorError where error.kind == .validation {
            var errors = [String: String]()
            for item in error.errors {
                var key = Self.automationFormKey(item.field, slotOf: slotOf)
                if key == "actions" && slotOf.isEmpty { key = "a0_type" }
                errors[key] = (errors[key].map { $0 + " " } ?? "") + deliveryInline(item.message, visit)
            }
            if errors.isEmpty { errors["form"] = deliveryInline(error.detail, visit) }
            return try await automationForm(existing, visit, errors: errors, form: form, status: .unprocessableContent)
        }
    }
}

extension ConsoleStrings {
    /// The automation pages' words (merged into `deliveryEnglish` / `deliveryHebrew`).
    static let automationEnglish: [String: String] = [
        "auIntro": "When something happens to a person — a declaration, a consent, a completed survey — and they match a rule, Candor acts: an e-mail, an alert over the channel they chose, a webhook, an incentive. Every run is audited; an automation never starts itself in a loop.",
        "auNewAutomation": "New automation", "auDetails": "Details", "auEditAutomation": "Edit automation", "auName": "Name", "auTrigger": "When", "auConditions": "If", "auActions": "Then",
        "auLastRun": "Last run", "auAlways": "always", "auNever": "never", "auBack": "All automations",
        "auNoAutomations": "No automations yet. Create one to thank new subscribers, alert people about what they asked for, or tell your CRM.",
        "auReadOnly": "Your team may read automations and their runs; only a team with the admin role may change them.",
        "auRunsTitle": "Recent runs", "auRunsIntro": "One run per event that matched the trigger, newest first.", "auNoRuns": "No runs yet: nothing has matched since it was created, or it is disabled.",
        "auEventCol": "Event", "auResult": "Result", "auOutcomes": "Actions",
        "auEnable": "Enable", "auDisable": "Disable", "auDelete": "Delete automation", "auDeleteTitle": "Delete",
        "auConfirmDelete": "I understand that this deletes the automation and its run log (the audit log keeps what it did).",
        "auConfirmRequired": "Tick the box to confirm the deletion.", "auEdit": "Edit",
        "auDone_create": "The automation was created.", "auDone_update": "The automation was saved.", "auDone_enable": "The automation is enabled: matching events from now on start it.",
        "auDone_disable": "The automation is disabled: events are not acted on while it is off.", "auDone_delete": "The automation was deleted.",
        "auNameHint": "What it does, for your colleagues: “Welcome e-mail”, “Alert on new interests”.",
        "auEventLabel": "Event", "auEventHint": "What happened to the person.", "auFilters": "Only when (optional)",
        "auFiltersHint": "Narrow the event: tick nothing to act on every such event. Each filter applies to its own event only.",
        "auFilterFields": "These fields were declared (declaration changed)", "auFilterPurposes": "For these purposes (consent granted or withdrawn)",
        "auFilterSurveys": "For these surveys (survey completed, incentive issued)", "auFilterTypes": "For these requests (rights action completed)",
        "auRule": "Rule (optional)", "auRuleHint": "A segment rule the person must match at that moment, e.g. consent(\"newsletter\") and interests has \"running\". Empty: always.",
        "auActionsHint": "Up to 10 actions, run in order. Fill the empty slot and save to add another; choose “no action” to remove one.",
        "auActionN": "Action %1", "auActionType": "Action", "auNoAction": "— no action —", "auDestination": "Destination", "auChooseDestination": "— choose —",
        "auPurpose": "Purpose the message serves", "auChoosePurpose": "— choose —", "auSubjectEn": "Subject (English)", "auTextEn": "Text (English)",
        "auSubjectHe": "Subject (Hebrew)", "auTextHe": "Text (Hebrew)", "auMessageHint": "Mustache: {{interests}} is the person's declared value when it serves the purpose. Fill at least one language.",
        "auPool": "Incentive pool id", "auPoolHint": "The id of a code pool, e.g. pool_…", "auField": "Field to set", "auValue": "Value", "auClear": "Clear the field instead",
        "auPermissionField": "Only if the person declared (field)", "auPermissionValue": "… this value", "auChooseField": "— choose —",
        "auPermissionHint": "A set-field action acts only for people whose own declaration allows it (e.g. frequency = weekly).",
        "auEnabledLabel": "Enabled: act on matching events from now on", "auSave": "Save automation", "auCreate": "Create automation",
        "auIfDeclared": "if declared",
        "auEvent_declaration.recorded": "Declaration changed", "auEvent_consent.granted": "Consent granted", "auEvent_consent.withdrawn": "Consent withdrawn",
        "auEvent_survey.completed": "Survey completed", "auEvent_incentive.issued": "Incentive issued", "auEvent_rights.completed": "Rights action completed",
        "auEvent_gpc.received": "GPC signal received",
        "auAction_send_email": "Send an e-mail", "auAction_alert": "Alert over the person's channel", "auAction_call_destination": "Call a destination",
        "auAction_issue_incentive": "Issue an incentive", "auAction_set_field": "Set a field",
        "auRun_completed": "Completed", "auRun_skipped": "Skipped", "auReason_rule_not_met": "rule not met", "auReason_loop": "loop prevented",
        "auReason_depth_limit": "chain too deep", "auReason_rule_invalid": "rule no longer valid",
        "auOutcome_queued": "queued", "auOutcome_sending": "sending", "auOutcome_sent": "sent", "auOutcome_issued": "issued", "auOutcome_set": "set",
        "auOutcome_cleared": "cleared", "auOutcome_skipped": "skipped", "auOutcome_not_allowed": "not allowed", "auOutcome_deferred": "deferred",
        "auOutcome_failed": "failed",
    ]
    static let automationHebrew: [String: String] = [
        "auIntro": "כשמשהו קורה לאדם — הצהרה, הסכמה, סקר שהושלם — והוא עונה על כלל, Candor פועל: דוא״ל, התראה בערוץ שבחר, Webhook, תמריץ. כל הרצה נרשמת ביומן הביקורת; אוטומציה לעולם אינה מפעילה את עצמה בלולאה.",
        "auNewAutomation": "אוטומציה חדשה", "auDetails": "פרטים", "auEditAutomation": "עריכת אוטומציה", "auName": "שם", "auTrigger": "כאשר", "auConditions": "אם", "auActions": "אז",
        "auLastRun": "הרצה אחרונה", "auAlways": "תמיד", "auNever": "אף פעם", "auBack": "כל האוטומציות",
        "auNoAutomations": "עדיין אין אוטומציות. צרו אחת כדי להודות למנויים חדשים, להתריע לאנשים על מה שביקשו, או לעדכן את ה-CRM.",
        "auReadOnly": "הצוות שלכם רשאי לקרוא אוטומציות והרצות; רק צוות עם תפקיד admin רשאי לשנות אותן.",
        "auRunsTitle": "הרצות אחרונות", "auRunsIntro": "הרצה אחת לכל אירוע שתאם את הטריגר, מהחדשה לישנה.", "auNoRuns": "עדיין אין הרצות: דבר לא תאם מאז שנוצרה, או שהיא מושבתת.",
        "auEventCol": "אירוע", "auResult": "תוצאה", "auOutcomes": "פעולות",
        "auEnable": "הפעלה", "auDisable": "השבתה", "auDelete": "מחיקת האוטומציה", "auDeleteTitle": "מחיקה",
        "auConfirmDelete": "אני מבין/ה שזה מוחק את האוטומציה ואת יומן ההרצות שלה (יומן הביקורת שומר את מה שעשתה).",
        "auConfirmRequired": "סמנו את התיבה כדי לאשר את המחיקה.", "auEdit": "עריכה",
        "auDone_create": "האוטומציה נוצרה.", "auDone_update": "האוטומציה נשמרה.", "auDone_enable": "האוטומציה פעילה: אירועים תואמים מעכשיו יפעילו אותה.",
        "auDone_disable": "האוטומציה מושבתת: לא מגיבים לאירועים כל עוד היא כבויה.", "auDone_delete": "האוטומציה נמחקה.",
        "auNameHint": "מה היא עושה, בשביל הצוות: „דוא״ל ברוכים הבאים”, „התראה על תחומי עניין חדשים”.",
        "auEventLabel": "אירוע", "auEventHint": "מה קרה לאדם.", "auFilters": "רק כאשר (רשות)",
        "auFiltersHint": "צמצמו את האירוע: אל תסמנו דבר כדי לפעול על כל אירוע כזה. כל מסנן חל רק על האירוע שלו.",
        "auFilterFields": "השדות האלה נמסרו (הצהרה השתנתה)", "auFilterPurposes": "למטרות האלה (הסכמה ניתנה או בוטלה)",
        "auFilterSurveys": "לסקרים האלה (סקר הושלם, תמריץ חולק)", "auFilterTypes": "לבקשות האלה (פעולת זכויות הושלמה)",
        "auRule": "כלל (רשות)", "auRuleHint": "כלל פלח שהאדם צריך לענות עליו באותו רגע, למשל \u{2066}consent(\"newsletter\") and interests has \"running\"\u{2069}. ריק: תמיד.",
        "auActionsHint": "עד 10 פעולות, לפי הסדר. מלאו את המקום הריק ושמרו כדי להוסיף עוד; בחרו „ללא פעולה” כדי להסיר אחת.",
        "auActionN": "פעולה %1", "auActionType": "פעולה", "auNoAction": "— ללא פעולה —", "auDestination": "יעד", "auChooseDestination": "— בחרו —",
        "auPurpose": "המטרה שההודעה משרתת", "auChoosePurpose": "— בחרו —", "auSubjectEn": "נושא (אנגלית)", "auTextEn": "טקסט (אנגלית)",
        "auSubjectHe": "נושא (עברית)", "auTextHe": "טקסט (עברית)", "auMessageHint": "Mustache: ‏{{interests}} הוא הערך שהאדם מסר, כשהשדה משרת את המטרה. מלאו לפחות שפה אחת.",
        "auPool": "מזהה מאגר התמריצים", "auPoolHint": "המזהה של מאגר קודים, למשל pool_…", "auField": "שדה לעדכון", "auValue": "ערך", "auClear": "לנקות את השדה במקום זאת",
        "auPermissionField": "רק אם האדם מסר (שדה)", "auPermissionValue": "… את הערך הזה", "auChooseField": "— בחרו —",
        "auPermissionHint": "פעולת עדכון שדה פועלת רק עבור אנשים שההצהרה שלהם עצמם מתירה זאת (למשל תדירות = שבועית).",
        "auEnabledLabel": "פעילה: לפעול על אירועים תואמים מעכשיו", "auSave": "שמירת האוטומציה", "auCreate": "יצירת האוטומציה",
        "auIfDeclared": "אם נמסר",
        "auEvent_declaration.recorded": "הצהרה השתנתה", "auEvent_consent.granted": "הסכמה ניתנה", "auEvent_consent.withdrawn": "הסכמה בוטלה",
        "auEvent_survey.completed": "סקר הושלם", "auEvent_incentive.issued": "תמריץ חולק", "auEvent_rights.completed": "פעולת זכויות הושלמה",
        "auEvent_gpc.received": "התקבל אות GPC",
        "auAction_send_email": "שליחת דוא״ל", "auAction_alert": "התראה בערוץ של האדם", "auAction_call_destination": "קריאה ליעד",
        "auAction_issue_incentive": "חלוקת תמריץ", "auAction_set_field": "עדכון שדה",
        "auRun_completed": "הושלמה", "auRun_skipped": "דולגה", "auReason_rule_not_met": "הכלל לא התקיים", "auReason_loop": "נמנעה לולאה",
        "auReason_depth_limit": "שרשרת עמוקה מדי", "auReason_rule_invalid": "הכלל כבר אינו תקין",
        "auOutcome_queued": "בתור", "auOutcome_sending": "נשלח כעת", "auOutcome_sent": "נשלח", "auOutcome_issued": "חולק", "auOutcome_set": "עודכן",
        "auOutcome_cleared": "נוקה", "auOutcome_skipped": "דולג", "auOutcome_not_allowed": "לא הותר", "auOutcome_deferred": "נדחה",
        "auOutcome_failed": "נכשל",
    ]
}
