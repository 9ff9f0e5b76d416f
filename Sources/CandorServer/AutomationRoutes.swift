import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/automations`: "when EVENT [if RULE] then ACTIONS", and each automation's run log.
///
/// Like destinations, managing automations needs the `admin` role: an automation sends people's data
/// to destinations and mail to their inboxes, and writes declarations on their behalf. The `audit` role
/// may read automations and their run logs. Every write is audited; writes accept `Idempotency-Key`.
struct AutomationRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.post("automations") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(AutomationInput.self, from: request)
            let idempotency = try support.idempotency(request, body: body)
            try await validate(input)
            return try support.answer(try await store.createAutomation(input, by: principal, idempotency: idempotency), status: .created)
        }
        group.get("automations") { request, context in
            _ = try reader(context)
            return try support.json(try await store.automations(cursor: try support.cursor(request), limit: try support.limit(request)).opaque)
        }
        group.get("automations/:id") { _, context in
            _ = try reader(context)
            return try support.json(try await store.automation(try support.parameter(context, "id")))
        }
        group.put("automations/:id") { request, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            _ = try await store.automation(id)
            let (input, body) = try await support.decode(AutomationInput.self, from: request)
            let idempotency = try support.idempotency(request, body: body)
            try await validate(input)
            return try support.answer(try await store.updateAutomation(id, input, by: principal, idempotency: idempotency), status: .ok)
        }
        group.delete("automations/:id") { request, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            return try support.answer(try await store.deleteAutomation(id, by: principal, idempotency: try support.idempotency(request, body: Data())), status: .ok)
        }
        for (path, enabled) in [("enable", true), ("disable", false)] {
            group.post(RouterPath("automations/:id/\(path)")) { request, context in
                let principal = try support.principal(context, .admin)
                let id = try support.parameter(context, "id")
                return try support.answer(try await store.setAutomationEnabled(id, enabled, by: principal, idempotency: try support.idempotency(request, body: Data())), status: .ok)
            }
        }
        group.get("automations/:id/runs") { request, context in
            _ = try reader(context)
            let subjectId = request.uri.queryParameters.get("subject_id")
            if let subjectId, subjectId.isEmpty || subjectId.count > 100 {
                throw Problem.field(.badRequest, .malformed, field: "subject_id", "must be a subject id")
            }
            return try support.json(try await store.automationRuns(
                automationId: try support.parameter(context, "id"), subjectId: subjectId, cursor: try support.cursor(request), limit: try support.limit(request)).opaque)
        }
    }

    /// Every problem at once, each naming its field: the registry and store checks, then the templates.
    func validate(_ input: AutomationInput) async throws {
        var errors = try await store.automationProblems(input)
        errors += Self.templateProblems(input)
        if !errors.isEmpty { throw CandorError.invalid(errors) }
    }

    /// Subject lines and bodies of e-mail and alert actions must be valid, self-contained Mustache
    /// templates — the same check as newsletter templates.
    static func templateProblems(_ input: AutomationInput) -> [FieldError] {
        var errors = [FieldError]()
        for (index, action) in input.actions.enumerated() {
            for (locale, message) in (action.content ?? [:]).sorted(by: { $0.key < $1.key }) {
                let path = "actions[\(index)].content.\(locale)"
                if let problem = CampaignRenderer.templateProblem(message.subject, field: "\(path).subject", isText: true) { errors.append(problem) }
                if let problem = CampaignRenderer.templateProblem(message.text, field: "\(path).text", isText: true) { errors.append(problem) }
            }
        }
        return errors
    }

    /// Readers of automations and their run logs: administrators and auditors.
    func reader(_ context: CandorRequestContext) throws -> Principal {
        guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
        guard principal.has(.admin) || principal.has(.audit) else {
            throw CandorError(.forbidden, "team '\(principal.team.key)' lacks the 'admin' or 'audit' role")
        }
        return principal
    }
}

extension DemoWorkspace {
    /// Two example automations for `candor demo`, created switched off (so the demo's other traffic and the
    /// tests built on it are not changed by them): a welcome e-mail on newsletter consent, and an alert on
    /// declared interests that honours the person's declared channels and frequency.
    static func seedAutomations(_ store: CandorStore, by principal: Principal) async throws {
        let examples = [
            AutomationInput(
                name: "Welcome e-mail", description: "Thanks a person for subscribing, naming the interests they told us about.",
                trigger: AutomationTrigger(event: AutomationEvent.consentGranted.rawValue, purposes: ["newsletter"]),
                actions: [AutomationAction(type: .sendEmail, purpose: "newsletter", content: [
                    "en": AutomationMessage(subject: "Welcome to our newsletter", text: "Thank you for subscribing.{{#interests}} We will write about {{interests}}.{{/interests}}"),
                    "he": AutomationMessage(subject: "ברוכים הבאים לניוזלטר", text: "תודה שנרשמתם.{{#interests}} נכתוב על {{interests}}.{{/interests}}"),
                ])],
                enabled: false),
            AutomationInput(
                name: "Interest alert", description: "Tells a subscriber about new picks for what they declared — over their channels, at most as often as they asked.",
                trigger: AutomationTrigger(event: AutomationEvent.declarationRecorded.rawValue, fields: ["interests"]),
                rule: #"consent("newsletter") and set(channels)"#,
                actions: [AutomationAction(type: .alert, purpose: "newsletter", content: [
                    "en": AutomationMessage(subject: "New picks for you", text: "We have new picks about {{interests}}."),
                    "he": AutomationMessage(subject: "המלצות חדשות בשבילכם", text: "יש לנו המלצות חדשות על {{interests}}."),
                ])],
                enabled: false),
        ]
        for input in examples {
            let problems = try await store.automationProblems(input) + AutomationRoutes.templateProblems(input)
            guard problems.isEmpty else { throw CandorError.invalid(problems) }
            _ = try await store.createAutomation(input, by: principal)
        }
    }
}
