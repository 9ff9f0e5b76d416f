import CandorCore
import CandorDelivery
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's delivery pages: Destinations (delivery log, dead letters, replay), automations, the internal audit report and the record of processing.
///
/// Each page is a client of the same store functions and roles as its `/v1` routes: destinations and
/// automations are read by `admin` or `audit` and changed by `admin` only (DeliveryRoutes,
/// AutomationRoutes), with the same validator (the SSRF guard included) and template checks; the audit
/// report needs `audit` (AuditRoutes), the record of processing `admin` or `audit` (GovernanceRoutes).
/// Invalid input comes back on the form with each message next to its field, status 422, nothing saved.
extension ConsoleRoutes {
    /// Destinations per page of the list, and deliveries per page of a log.
    static let destinationsPerPage = 25
    static let deliveriesPerPage = 25
    /// Each per-state delivery count stops here ("10,000+"), so a list costs the same at any volume.
    static let deliveryCountCap = 10_000

    func addDeliverySetup(to router: Router<CandorRequestContext>) {
        router.get("console/destinations") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin, .audit], visit) { return refused }
                return try await destinationsPage(request, visit)
            }
        }
        router.get("console/destinations/new") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await destinationForm(nil, visit)
            }
        }
        router.post("console/destinations") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveDestination(nil, visit)
            }
        }
        router.get("console/destinations/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin, .audit], visit) { return refused }
                return try await destinationPage(try support.parameter(context, "id"), request, visit)
            }
        }
        router.get("console/destinations/:id/edit") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await destinationForm(try await store.destination(try support.parameter(context, "id")), visit)
            }
        }
        router.post("console/destinations/:id") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveDestination(try await store.destination(try support.parameter(context, "id")), visit)
            }
        }
        for (action, enabled) in [("enable", true), ("disable", false)] {
            router.post(RouterPath("console/destinations/:id/\(action)")) { request, context in
                try await visit(request, context, form: true) { visit in
                    if let refused = require([.admin], visit) { return refused }
                    return try await switchDestination(try support.parameter(context, "id"), enabled: enabled, visit)
                }
            }
        }
        router.post("console/destinations/:id/rotate") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                let id = try support.parameter(context, "id")
                let secret = WebhookSecret.generate()
                let rotated = try await store.rotateDestinationSecret(
                    id, secret: secret.bytes, secretText: secret.text, overlapMillis: Int64(DeliveryRoutes.defaultOverlapSeconds) * 1000, by: visit.principal).deliveryResult
                return secretPage(rotated, rotation: true, visit)
            }
        }
        router.post("console/destinations/:id/dead-letters/:event/replay") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                let id = try support.parameter(context, "id")
                _ = try await store.replayDeadLetter(destinationId: id, eventId: try support.parameter(context, "event"), by: visit.principal)
                return redirect("/console/destinations/\(id)?done=replay#dead-heading")
            }
        }
        addAutomationPages(to: router)
        addGovernancePages(to: router)
    }

    // MARK: - Shared helpers

    /// A store message shown inline: on a Hebrew page, a Hebrew lead before the English detail (unless translated).
    func deliveryInline(_ message: String, _ visit: Visit) -> String {
        ConsoleRoutes.inlineMessage(message, visit.language, known: Self.knownDeliveryMessages)
    }

    /// Store and validator messages the console has its own words for.
    static let knownDeliveryMessages: [(fragment: String, key: String)] = [
        ("webhooks may not go there", "dlErrPrivate"), ("does not resolve", "dlErrResolve"), ("must be an absolute https URL", "dlErrURL"),
        ("must use https", "dlErrHTTPS"), ("name at least one purpose", "dlErrPurposes"), ("serves none of the destination's purposes", "dlErrFieldPurpose"),
        ("must be 1 to 200 characters", "dlErrName"), ("give 1 to", "dlErrActions"),
    ]

    /// The form field an error belongs to: `purposes[1]` belongs to `purposes`.
    static func deliveryBaseField(_ field: String) -> String {
        String(field.prefix { $0 != "[" })
    }

    /// A cursor from the query, which must be a number this console issued.
    func deliveryCursor(_ request: Request, _ name: String) -> (value: String?, valid: Bool) {
        guard let text = request.uri.queryParameters.get(name) else { return (nil, true) }
        return Int64(text) == nil ? (nil, false) : (String(text), true)
    }

    /// A count as the page shows it: grouped digits, "+" when a cap stopped it.
    static func deliveryShown(_ count: DestinationDeliveryCounts.Count) -> String {
        Self.grouped(count.value) + (count.atLeast ? "+" : "")
    }

    static func deliveryHost(_ url: String) -> String { URLComponents(string: url)?.host ?? url }

    // MARK: - Destinations

    func destinationsPage(_ request: Request, _ visit: Visit) async throws -> Response {
        let t = visit.t
        let after = request.uri.queryParameters.get("after").map { String($0) }
        let page = try await store.destinations(cursor: after, limit: Self.destinationsPerPage)
        let counts = try await store.deliveryCounts(destinationIds: page.data.map(\.id), cap: Self.deliveryCountCap)
        let registry = store.registry
        let rows: [[String: Any]] = page.data.map { destination in
            let count = counts[destination.id]
            return PortalView.compact([
                "id": destination.id, "host": Self.deliveryHost(destination.url), "url": destination.url, "description": destination.description,
                "events": destination.eventTypes.joined(separator: ", "),
                "purposes": destination.purposes.map { key in registry.purposes[key].map { $0.names[visit.language.code] ?? $0.names["en"] ?? key } ?? key }.joined(separator: ", "),
                "fields": destination.fields.isEmpty ? t["dlAllFields"]! : destination.fields.joined(separator: ", "),
                "enabled": destination.enabled, "status": destination.enabled ? t["dlEnabled"]! : t["dlDisabled"]!,
                "delivered": count.map { Self.deliveryShown($0.delivered) } ?? "0", "retrying": count.map { Self.deliveryShown($0.retrying) } ?? "0",
                "dead": count.map { Self.deliveryShown($0.dead) } ?? "0", "hasDead": (count?.dead.value ?? 0) > 0, "hasRetrying": (count?.retrying.value ?? 0) > 0,
            ])
        }
        return render("console/delivery_destinations", visit.language, path: "/console/destinations", visit: visit, PortalView.compact([
            "title": t["navDestinations"]!, "destinations": rows, "hasDestinations": !rows.isEmpty, "canChange": visit.principal.has(.admin),
            "next": page.nextCursor.map { "/console/destinations?after=\($0)" }, "first": after != nil ? "/console/destinations" : nil,
        ]))
    }

    /// One destination: its settings, counts, the delivery log and the dead letters, each paged newest first.
    func destinationPage(_ id: String, _ request: Request, _ visit: Visit) async throws -> Response {
        let t = visit.t
        let before = deliveryCursor(request, "before"), deadBefore = deliveryCursor(request, "dead_before")
        guard before.valid, deadBefore.valid else {
            return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "badCursor", link: ("/console/destinations/\(id)", "navDestinations"), visit: visit)
        }
        let destination = try await store.destination(id)
        let log = try await store.deliveries(destinationId: id, status: nil, cursor: before.value, limit: Self.deliveriesPerPage)
        let dead = try await store.deliveries(destinationId: id, status: "dead", cursor: deadBefore.value, limit: Self.deliveriesPerPage)
        let count = try await store.deliveryCounts(destinationIds: [id], cap: Self.deliveryCountCap)[id]
        let registry = store.registry
        let canChange = visit.principal.has(.admin)
        func row(_ record: DeliveryRecord) -> [String: Any] {
            PortalView.compact([
                "event": record.eventType, "eventId": record.eventId, "subject": record.subjectId ?? "—",
                "status": t["dlStatus_\(record.status)"] ?? record.status, "statusKey": record.status, "attempts": String(record.attempts),
                "code": record.lastStatusCode.map(String.init) ?? "—", "error": record.lastError ?? record.reason,
                "next": record.nextAttemptAt.map { Self.time($0) } ?? "—", "created": Self.time(record.createdAt),
                "completed": record.completedAt.map { Self.time($0) },
            ])
        }
        let query = request.uri.queryParameters
        let done = query.get("done").map { String($0) }.flatMap { ["replay", "create", "update", "enable", "disable"].contains($0) ? t["dlDone_\($0)"] : nil }
        return render("console/delivery_destination", visit.language, path: "/console/destinations/\(id)", visit: visit, PortalView.compact([
            "title": Self.deliveryHost(destination.url), "destination": PortalView.compact([
                "id": destination.id, "host": Self.deliveryHost(destination.url), "url": destination.url, "description": destination.description,
                "purposes": destination.purposes.map { key in registry.purposes[key].map { $0.names[visit.language.code] ?? $0.names["en"] ?? key } ?? key }.joined(separator: ", "),
                "fields": destination.fields.isEmpty ? t["dlAllFields"]! : destination.fields.joined(separator: ", "),
                "events": destination.eventTypes.joined(separator: ", "), "sharesData": destination.sharesData ? t["dlYes"]! : t["dlNo"]!,
                "enabled": destination.enabled, "status": destination.enabled ? t["dlEnabled"]! : t["dlDisabled"]!, "disabledReason": destination.disabledReason,
                "hint": destination.secretHint, "previousUntil": destination.previousSecretExpiresAt.map { Self.time($0) },
                "maxAttempts": destination.maxAttempts.map(String.init) ?? t["dlServerDefault"]!,
                "created": Self.time(destination.createdAt), "updated": Self.time(destination.updatedAt),
            ]),
            "delivered": count.map { Self.deliveryShown($0.delivered) } ?? "0", "waiting": count.map { Self.deliveryShown($0.waiting) } ?? "0",
            "retrying": count.map { Self.deliveryShown($0.retrying) } ?? "0", "dead": count.map { Self.deliveryShown($0.dead) } ?? "0",
            "withheld": count.map { Self.deliveryShown($0.withheld) } ?? "0", "hasDeadCount": (count?.dead.value ?? 0) > 0,
            "log": log.data.map(row), "hasLog": !log.data.isEmpty, "deadLetters": dead.data.map(row), "hasDead": !dead.data.isEmpty,
            "logNext": log.nextCursor.map { "/console/destinations/\(id)?before=\($0)#log-heading" },
            "logFirst": before.value != nil ? "/console/destinations/\(id)#log-heading" : nil,
            "deadNext": dead.nextCursor.map { "/console/destinations/\(id)?dead_before=\($0)#dead-heading" },
            "deadFirst": deadBefore.value != nil ? "/console/destinations/\(id)#dead-heading" : nil,
            "canChange": canChange, "done": done,
        ]))
    }

    /// The new or edit form of a destination; `errors` by form field, `form` the submitted values.
    func destinationForm(_ existing: Destination?, _ visit: Visit, errors: [String: String] = [:], form: FormData? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        let registry = store.registry
        let submitted = form != nil
        let purposes = submitted ? Set(form!.all("purposes")) : Set(existing?.purposes ?? [])
        let fields = submitted ? Set(form!.all("fields")) : Set(existing?.fields ?? [])
        let events = submitted ? Set(form!.all("event_types")) : Set(existing?.eventTypes ?? ["*"])
        func value(_ name: String, _ current: String?) -> String { submitted ? form!.first(name) : (current ?? "") }
        var context: [String: Any] = [
            "title": existing == nil ? t["dlNewDestination"]! : t["dlEditDestination"]!, "isNew": existing == nil,
            "action": existing.map { "/console/destinations/\($0.id)" } ?? "/console/destinations",
            "back": existing.map { "/console/destinations/\($0.id)" } ?? "/console/destinations",
            "url": value("url", existing?.url), "description": value("description", existing?.description),
            "maxAttempts": value("max_attempts", existing?.maxAttempts.map(String.init)), "retryBase": value("retry_base_ms", existing?.retryBaseMs.map(String.init)),
            "timeout": value("timeout_ms", existing?.timeoutMs.map(String.init)),
            "sharesData": submitted ? form!.first("shares_data") == "yes" : (existing?.sharesData ?? false),
            "enabled": submitted ? form!.first("enabled") == "yes" : (existing?.enabled ?? true),
            "purposeOptions": registry.purposes.values.sorted { $0.key < $1.key }.map { purpose in
                ["key": purpose.key, "name": purpose.names[visit.language.code] ?? purpose.names["en"] ?? purpose.key, "checked": purposes.contains(purpose.key)] as [String: Any]
            },
            "fieldOptions": registry.fields.values.sorted { $0.key < $1.key }.map { field in
                ["key": field.key, "name": field.labels[visit.language.code] ?? field.labels["en"] ?? field.key, "checked": fields.contains(field.key),
                 "serves": field.purposes.sorted().joined(separator: ", ")] as [String: Any]
            },
            "allEvents": events.contains("*"),
            "eventOptions": EventCatalog.types.sorted().map { ["key": $0, "checked": events.contains($0)] as [String: Any] },
        ]
        for (field, message) in errors { context["error_\(field)"] = message }
        if !errors.isEmpty { context["hasErrors"] = true }
        return render("console/delivery_destination_form", visit.language, path: existing.map { "/console/destinations/\($0.id)/edit" } ?? "/console/destinations/new",
                      status: status, visit: visit, context)
    }

    /// Creates or replaces a destination through the API's validator (SSRF guard included). A new
    /// destination's signing secret is shown once, on the page that answers the form.
    func saveDestination(_ existing: Destination?, _ visit: Visit) async throws -> Response {
        let form = visit.form
        var local = [String: String]()
        func number(_ name: String) -> Int? {
            let text = form.first(name).trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { return nil }
            guard let value = Int(text) else {
                local[name] = visit.t["wholeNumber"]!
                return nil
            }
            return value
        }
        let events = form.all("event_types")
        var input = DestinationInput(
            url: form.first("url").trimmingCharacters(in: .whitespacesAndNewlines), purposes: form.all("purposes"), fields: form.all("fields"),
            eventTypes: events.contains("*") ? ["*"] : events, sharesData: form.first("shares_data") == "yes",
            enabled: existing == nil ? true : form.first("enabled") == "yes")
        let description = form.first("description").trimmingCharacters(in: .whitespacesAndNewlines)
        input.description = description.isEmpty ? nil : description
        input.maxAttempts = number("max_attempts")
        input.retryBaseMs = number("retry_base_ms")
        input.timeoutMs = number("timeout_ms")
        do {
            let settings = try await deliveryValidator.validate(input, registry: store.registry)
            guard local.isEmpty else {
                return try await destinationForm(existing, visit, errors: local, form: form, status: .unprocessableContent)
            }
            if let existing {
                _ = try await store.updateDestination(existing.id, settings, by: visit.principal)
                return redirect("/console/destinations/\(existing.id)?done=update")
            }
            let secret = WebhookSecret.generate()
            let created = try await store.createDestination(settings, secret: secret.bytes, secretText: secret.text, by: visit.principal).deliveryResult
            return secretPage(created, rotation: false, visit)
        } catch let error as CandorError where error.kind == .validation {
            var errors = local
            for item in error.errors {
                let key = Self.deliveryBaseField(item.field)
                let known = ["url", "description", "purposes", "fields", "event_types", "max_attempts", "retry_base_ms", "timeout_ms"].contains(key) ? key : "form"
                errors[known] = (errors[known].map { $0 + " " } ?? "") + deliveryInline(item.message, visit)
            }
            if errors.isEmpty { errors["form"] = deliveryInline(error.detail, visit) }
            return try await destinationForm(existing, visit, errors: errors, form: form, status: .unprocessableContent)
        }
    }

    var deliveryValidator: DestinationValidator { DestinationValidator(networkGuard: config.delivery.networkGuard) }

    /// Turns a destination on or off with its other settings unchanged (re-checked, as a `PUT` would be).
    func switchDestination(_ id: String, enabled: Bool, _ visit: Visit) async throws -> Response {
        let current = try await store.destination(id)
        var input = DestinationInput(url: current.url, purposes: current.purposes, fields: current.fields, eventTypes: current.eventTypes,
                                     sharesData: current.sharesData, enabled: enabled)
        input.description = current.description
        input.maxAttempts = current.maxAttempts
        input.timeoutMs = current.timeoutMs
        input.retryBaseMs = current.retryBaseMs
        let settings = try await deliveryValidator.validate(input, registry: store.registry)
        _ = try await store.updateDestination(id, settings, by: visit.principal)
        return redirect("/console/destinations/\(id)?done=\(enabled ? "enable" : "disable")")
    }

    /// The page that shows a signing secret, once: after creating a destination or rotating its secret.
    /// Not a redirect, so the secret is never in a URL or a history entry; the page is not cached.
    func secretPage(_ destination: Destination, rotation: Bool, _ visit: Visit) -> Response {
        let t = visit.t
        return render("console/delivery_secret", visit.language, path: "/console/destinations/\(destination.id)", status: rotation ? .ok : .created, visit: visit,
                      PortalView.compact([
                          "title": rotation ? t["dlRotatedTitle"]! : t["dlCreatedTitle"]!, "id": destination.id, "host": Self.deliveryHost(destination.url),
                          "secret": destination.secret ?? "", "rotation": rotation,
                          "previousUntil": destination.previousSecretExpiresAt.map { Self.time($0) },
                      ]))
    }
}

extension WriteOutcome {
    /// The result of a write made without an idempotency key (which is therefore never a replay).
    var deliveryResult: Result {
        get throws {
            guard case .fresh(let result) = self else { throw CandorError(.conflict, "the write was answered from an earlier request") }
            return result
        }
    }
}

extension ConsoleStrings {
    /// The delivery pages' words: destinations, automations, the audit report and the record of processing.
    static let deliveryEnglish: [String: String] = merged([destinationEnglish, automationEnglish, governanceEnglish])
    static let deliveryHebrew: [String: String] = merged([destinationHebrew, automationHebrew, governanceHebrew])

    static let destinationEnglish: [String: String] = [
        "dlDestinationsIntro": "Webhook endpoints that receive Candor's events. Each receives only the fields of the purposes it serves, for people whose consent allows it, signed with its own secret.",
        "dlNewDestination": "New destination", "dlEditDestination": "Edit destination", "dlEndpoint": "Endpoint", "dlEvents": "Events", "dlPurposes": "Purposes",
        "dlFields": "Fields", "dlState": "State", "dlDelivered": "Delivered", "dlRetrying": "Retrying", "dlDead": "Dead letters", "dlWaiting": "Waiting",
        "dlWithheld": "Withheld", "dlEnabled": "Enabled", "dlDisabled": "Disabled", "dlAllFields": "Every field of its purposes", "dlOpen": "Open",
        "dlNoDestinations": "No destinations yet. Add one to send declarations and consent changes to your CRM, e-mail service or data warehouse.",
        "dlReadOnly": "Your team may read destinations and their logs; only a team with the admin role may change them.",
        "dlNextPage": "More", "dlFirstPage": "First page", "dlBackDestinations": "All destinations",
        "dlSettings": "Settings", "dlUrl": "URL", "dlDescription": "Description", "dlSharesData": "Sale or sharing of data",
        "dlSecretHint": "Signing secret ends in", "dlPreviousUntil": "Previous secret also signs until", "dlMaxAttempts": "Attempts before a dead letter",
        "dlServerDefault": "server default", "dlCreated": "Created", "dlUpdated": "Updated", "dlYes": "Yes", "dlNo": "No", "dlDisabledBecause": "Disabled because",
        "dlLogTitle": "Delivery log", "dlLogIntro": "Every event sent here, newest first.", "dlEvent": "Event", "dlSubject": "Subject", "dlStatus": "Status",
        "dlAttempts": "Attempts", "dlLastCode": "Last answer", "dlNextAttempt": "Next attempt", "dlWhen": "Event time", "dlNoLog": "Nothing has been sent here yet.",
        "dlDeadTitle": "Dead letters", "dlDeadIntro": "Deliveries that failed every attempt. Replay one once the receiver works again: it gets a fresh set of attempts, keeping its event id so the receiver can ignore a duplicate.",
        "dlNoDead": "No dead letters. Every delivery arrived or is still being tried.", "dlReplay": "Replay", "dlLastError": "Last error",
        "dlStatus_pending": "Pending", "dlStatus_delivered": "Delivered", "dlStatus_withheld": "Withheld", "dlStatus_skipped": "Skipped", "dlStatus_dead": "Dead",
        "dlDone_replay": "The dead letter is queued again and will be delivered shortly.", "dlDone_update": "The destination was saved.",
        "dlDone_enable": "The destination is enabled: waiting deliveries go out now.", "dlDone_disable": "The destination is disabled: events wait for it until it is enabled again.",
        "dlDone_create": "The destination was created.",
        "dlEnable": "Enable", "dlDisable": "Disable", "dlManage": "Manage", "dlRotate": "Rotate the signing secret", "dlEdit": "Edit settings",
        "dlRotateHint": "A new secret signs from now on; the old one also signs for 24 hours, so the receiver can switch without losing events.",
        "dlUrlHint": "An https address of the receiver. Internal and private addresses are refused.",
        "dlDescriptionHint": "Optional: what this endpoint is, for the people who look after it.",
        "dlPurposesHint": "The purposes this receiver serves. It receives only fields of these purposes, and only for people who allow them.",
        "dlFieldsHint": "Leave all unticked to receive every field of the chosen purposes.", "dlServes": "serves",
        "dlEventsHint": "Which events are sent here.", "dlAllEvents": "Every event (*)",
        "dlSharesHint": "This receiver buys or shares data with a third party: people who opted out of sale or sharing (or sent GPC) are never sent here.",
        "dlEnabledLabel": "Enabled: deliver events now", "dlAdvanced": "Retries and timeout (optional)",
        "dlRetryBase": "First retry after (ms)", "dlTimeout": "Timeout (ms)", "dlAdvancedHint": "Leave empty for the server's defaults.",
        "dlSave": "Save destination", "dlCreate": "Create destination", "dlCancel": "Cancel",
        "dlCreatedTitle": "Destination created", "dlRotatedTitle": "Signing secret rotated", "dlSecretLabel": "Signing secret",
        "dlSecretOnce": "Copy the secret now and store it in the receiver's settings: it is shown only this once. Candor keeps it encrypted and never shows it again.",
        "dlSecretVerify": "The receiver verifies each delivery's webhook-signature header with it (Standard Webhooks).",
        "dlContinue": "Continue to the destination",
        "dlErrPrivate": "This address is on an internal or private network. Webhooks may not go there unless the server's delivery.allow_private_networks setting allows it.",
        "dlErrResolve": "This host name does not resolve.", "dlErrURL": "Enter an absolute https URL without a user name or password.",
        "dlErrHTTPS": "Use https: plain http is accepted only for networks the server allows explicitly.",
        "dlErrPurposes": "Choose at least one purpose.", "dlErrFieldPurpose": "A chosen field serves none of the chosen purposes.",
        "dlErrName": "Give a name of 1 to 200 characters.", "dlErrActions": "Give 1 to 10 actions.",
        "dlOrder_newest": "Newest first", "dlOrder_oldest": "Oldest first", "dlAuditOrder": "Order",
        "dlAuditIntro": "Every read of personal data, every change and every sign-in, with the team, the purpose and the outcome.",
    ]
    static let destinationHebrew: [String: String] = [
        "dlDestinationsIntro": "נקודות קצה של Webhook שמקבלות את האירועים של Candor. כל אחת מקבלת רק שדות של המטרות שהיא משרתת, רק של אנשים שהסכמתם מתירה זאת, חתומים בסוד משלה.",
        "dlNewDestination": "יעד חדש", "dlEditDestination": "עריכת יעד", "dlEndpoint": "נקודת קצה", "dlEvents": "אירועים", "dlPurposes": "מטרות",
        "dlFields": "שדות", "dlState": "מצב", "dlDelivered": "נמסרו", "dlRetrying": "בניסיון חוזר", "dlDead": "הודעות מתות", "dlWaiting": "ממתינים",
        "dlWithheld": "נעצרו", "dlEnabled": "פעיל", "dlDisabled": "מושבת", "dlAllFields": "כל השדות של המטרות שלו", "dlOpen": "פתיחה",
        "dlNoDestinations": "עדיין אין יעדים. הוסיפו יעד כדי לשלוח הצהרות ושינויי הסכמה למערכת ה-CRM, לשירות הדוא״ל או למחסן הנתונים שלכם.",
        "dlReadOnly": "הצוות שלכם רשאי לקרוא יעדים ויומנים; רק צוות עם תפקיד admin רשאי לשנות אותם.",
        "dlNextPage": "עוד", "dlFirstPage": "הדף הראשון", "dlBackDestinations": "כל היעדים",
        "dlSettings": "הגדרות", "dlUrl": "כתובת", "dlDescription": "תיאור", "dlSharesData": "מכירה או שיתוף של מידע",
        "dlSecretHint": "סוד החתימה מסתיים ב־", "dlPreviousUntil": "הסוד הקודם חותם גם עד", "dlMaxAttempts": "ניסיונות לפני הודעה מתה",
        "dlServerDefault": "ברירת המחדל של השרת", "dlCreated": "נוצר", "dlUpdated": "עודכן", "dlYes": "כן", "dlNo": "לא", "dlDisabledBecause": "הושבת כי",
        "dlLogTitle": "יומן משלוחים", "dlLogIntro": "כל אירוע שנשלח לכאן, מהחדש לישן.", "dlEvent": "אירוע", "dlSubject": "נושא", "dlStatus": "מצב",
        "dlAttempts": "ניסיונות", "dlLastCode": "תשובה אחרונה", "dlNextAttempt": "הניסיון הבא", "dlWhen": "זמן האירוע", "dlNoLog": "עדיין לא נשלח לכאן דבר.",
        "dlDeadTitle": "הודעות מתות", "dlDeadIntro": "משלוחים שנכשלו בכל הניסיונות. שלחו מחדש כשהמקבל עובד שוב: המשלוח מקבל סבב ניסיונות חדש ושומר על מזהה האירוע, כך שהמקבל יכול להתעלם מכפילות.",
        "dlNoDead": "אין הודעות מתות. כל משלוח הגיע או עדיין בניסיון.", "dlReplay": "שליחה מחדש", "dlLastError": "שגיאה אחרונה",
        "dlStatus_pending": "ממתין", "dlStatus_delivered": "נמסר", "dlStatus_withheld": "נעצר", "dlStatus_skipped": "דולג", "dlStatus_dead": "מת",
        "dlDone_replay": "ההודעה המתה הוכנסה שוב לתור ותימסר בקרוב.", "dlDone_update": "היעד נשמר.",
        "dlDone_enable": "היעד פעיל: משלוחים ממתינים יוצאים עכשיו.", "dlDone_disable": "היעד מושבת: אירועים ימתינו לו עד שיופעל שוב.",
        "dlDone_create": "היעד נוצר.",
        "dlEnable": "הפעלה", "dlDisable": "השבתה", "dlManage": "ניהול", "dlRotate": "החלפת סוד החתימה", "dlEdit": "עריכת הגדרות",
        "dlRotateHint": "סוד חדש חותם מעכשיו; הישן חותם גם הוא במשך 24 שעות, כך שהמקבל יכול לעבור בלי לאבד אירועים.",
        "dlUrlHint": "כתובת https של המקבל. כתובות פנימיות ופרטיות נדחות.",
        "dlDescriptionHint": "רשות: מהי נקודת הקצה הזו, בשביל מי שמתחזק אותה.",
        "dlPurposesHint": "המטרות שהמקבל הזה משרת. הוא מקבל רק שדות של המטרות האלה, ורק של אנשים שמתירים זאת.",
        "dlFieldsHint": "השאירו הכול לא מסומן כדי לקבל כל שדה של המטרות שנבחרו.", "dlServes": "משרת",
        "dlEventsHint": "אילו אירועים נשלחים לכאן.", "dlAllEvents": "כל האירועים (*)",
        "dlSharesHint": "המקבל הזה קונה מידע או משתף אותו עם צד שלישי: מי שביקש לא למכור או לשתף (או שלח GPC) לעולם לא יישלח לכאן.",
        "dlEnabledLabel": "פעיל: לשלוח אירועים עכשיו", "dlAdvanced": "ניסיונות חוזרים וזמן המתנה (רשות)",
        "dlRetryBase": "ניסיון חוזר ראשון אחרי (מילישניות)", "dlTimeout": "זמן המתנה (מילישניות)", "dlAdvancedHint": "השאירו ריק לברירות המחדל של השרת.",
        "dlSave": "שמירת היעד", "dlCreate": "יצירת היעד", "dlCancel": "ביטול",
        "dlCreatedTitle": "היעד נוצר", "dlRotatedTitle": "סוד החתימה הוחלף", "dlSecretLabel": "סוד החתימה",
        "dlSecretOnce": "העתיקו את הסוד עכשיו ושמרו אותו בהגדרות המקבל: הוא מוצג רק הפעם. Candor שומר אותו מוצפן ולא יציג אותו שוב.",
        "dlSecretVerify": "המקבל מאמת בעזרתו את הכותרת webhook-signature של כל משלוח (Standard Webhooks).",
        "dlContinue": "המשך ליעד",
        "dlErrPrivate": "הכתובת הזו נמצאת ברשת פנימית או פרטית. Webhooks לא יישלחו אליה אלא אם ההגדרה delivery.allow_private_networks של השרת מתירה זאת.",
        "dlErrResolve": "שם המארח הזה אינו מתורגם לכתובת.", "dlErrURL": "הזינו כתובת https מלאה, בלי שם משתמש או סיסמה.",
        "dlErrHTTPS": "השתמשו ב-https: http רגיל מתקבל רק לרשתות שהשרת מתיר במפורש.",
        "dlErrPurposes": "בחרו לפחות מטרה אחת.", "dlErrFieldPurpose": "שדה שנבחר אינו משרת אף אחת מהמטרות שנבחרו.",
        "dlErrName": "תנו שם באורך 1 עד 200 תווים.", "dlErrActions": "הגדירו בין פעולה אחת ל-10 פעולות.",
        "dlOrder_newest": "מהחדש לישן", "dlOrder_oldest": "מהישן לחדש", "dlAuditOrder": "סדר",
        "dlAuditIntro": "כל קריאה של מידע אישי, כל שינוי וכל כניסה, עם הצוות, המטרה והתוצאה.",
    ]
}
