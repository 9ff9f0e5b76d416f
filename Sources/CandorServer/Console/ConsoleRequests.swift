import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Rights requests (list by deadline, verify, extend with a reason, complete) and the audit log, through
/// the same store functions as `/v1/requests` and `/v1/audit`, with the same roles: reading requests
/// needs `erase` or `audit`, acting on them `erase`, the audit log `audit`.
extension ConsoleRoutes {
    /// The request list's filters.
    static let requestFilters = ["open", "due", "overdue", "all"]
    /// Requests read per page of the list (the filter applies within it).
    static let requestPage = 200

    func addRequests(to router: Router<CandorRequestContext>) {
        router.get("console/requests") { request, context in
            try await visit(request, context) { try await requestsPage(request, $0) }
        }
        router.get("console/requests/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.erase, .audit], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }.flatMap { ["verify", "extend", "complete"].contains($0) ? $0 : nil }
                return try await requestPage(try support.parameter(context, "id"), visit, done: done)
            }
        }
        for action in ["verify", "extend", "complete"] {
            router.post("console/requests/:id/\(action)") { request, context in
                try await visit(request, context, form: true) { visit in
                    if let refused = require([.erase], visit) { return refused }
                    return try await act(action, id: try support.parameter(context, "id"), visit)
                }
            }
        }
    }

    func addAudit(to router: Router<CandorRequestContext>) {
        router.get("console/audit") { request, context in
            try await visit(request, context) { try await auditPage(request, $0) }
        }
    }

    // MARK: - Requests

    func requestsPage(_ request: Request, _ visit: Visit) async throws -> Response {
        if let refused = require([.erase, .audit], visit) { return refused }
        let t = visit.t
        let show = request.uri.queryParameters.get("show").map { String($0) } ?? "open"
        guard Self.requestFilters.contains(show) else {
            return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "badFilter", link: ("/console/requests", "navRequests"), visit: visit)
        }
        let now = store.currentMillis
        let page = try await store.listRequests(status: nil, overdueOnly: show == "overdue", cursor: nil, limit: Self.requestPage, by: visit.principal)
        // Times are UTC in one fixed format, so they compare as text (parsing each is slow).
        let soon = Timestamp.rfc3339(now + CandorStore.dueSoonMillis)
        let rows: [[String: Any]] = page.data.filter { item in
            let isOpen = item.status != .completed
            switch show {
            case "open": return isOpen
            case "due": return isOpen && !item.isOverdue && item.dueAt < soon
            case "overdue": return item.isOverdue
            default: return true
            }
        }.sorted { $0.dueAt < $1.dueAt }.map { requestRow($0, t) }
        return render("console/requests", visit.language, path: "/console/requests?show=\(show)", visit: visit, [
            "title": t["navRequests"]!, "requests": rows, "hasRequests": !rows.isEmpty,
            "filters": Self.requestFilters.map { ["key": $0, "label": t["filter.\($0)"]!, "current": $0 == show, "href": "/console/requests?show=\($0)"] },
            "truncated": page.nextCursor != nil,
        ])
    }

    func requestRow(_ item: RightsRequest, _ t: [String: String]) -> [String: Any] {
        PortalView.compact([
            "id": item.id, "type": t["type.\(item.type.rawValue)"] ?? item.type.rawValue, "jurisdiction": item.jurisdiction.rawValue.uppercased(),
            "channel": item.channel, "received": Self.time(item.receivedAt), "due": Self.time(item.dueAt),
            "status": t["rstatus.\(item.status.rawValue)"] ?? item.status.rawValue, "statusKey": item.status.rawValue,
            "overdue": item.isOverdue, "extended": item.extended > 0 ? String(item.extended) : nil, "reason": item.extensionReason,
            "verified": item.verifiedAt.map { Self.time($0) }, "method": item.verificationMethod.map { t["method.\($0)"] ?? $0 }, "outcome": item.outcome.map { t["outcome.\($0)"] ?? $0 },
            "completed": item.completedAt.map { Self.time($0) },
        ])
    }

    /// One request with the forms that act on it; `errors` are shown next to their fields.
    func requestPage(_ id: String, _ visit: Visit, errors: [String: String] = [:], form: FormData = FormData(), status: HTTPResponse.Status = .ok,
                     done: String? = nil) async throws -> Response {
        let t = visit.t
        let item = try await store.request(id: id, by: visit.principal)
        let canAct = visit.principal.has(.erase)
        let gdpr = item.jurisdiction == .gdpr
        var context: [String: Any] = [
            "title": t["requestTitle"]!, "request": requestRow(item, t), "canAct": canAct,
            "canVerify": canAct && item.status == .received, "canExtend": canAct && item.status != .completed,
            "canComplete": canAct && item.status == .verified, "isRectify": item.type == .rectify, "isErase": item.type == .erase,
            "unit": gdpr ? t["months"]! : t["days"]!, "maxAmount": gdpr ? 2 : 45,
            "methods": ["email_link", "account_login", "document", "phone_callback"].map {
                ["key": $0, "label": t["method.\($0)"]!, "selected": $0 == form.first("method")]
            },
            "amount": form.first("amount"), "reason": form.first("reason"), "field": form.first("field"), "value": form.first("value"),
            "fields": store.registry.fields.keys.sorted().map { ["key": $0, "selected": $0 == form.first("field")] },
        ]
        for (field, message) in errors { context["error_\(field)"] = message }
        if !errors.isEmpty { context["hasErrors"] = true }
        if let done { context["done"] = t["done.\(done)"] ?? done }
        return render("console/request", visit.language, path: "/console/requests/\(id)", status: status, visit: visit, context)
    }

    /// Verifies, extends or completes a request. Invalid input comes back on the same page with the
    /// message next to the field, and nothing is written (the store validates before it writes).
    func act(_ action: String, id: String, _ visit: Visit) async throws -> Response {
        let form = visit.form
        do {
            switch action {
            case "verify":
                _ = try await store.verifyRequest(id: id, method: form.first("method"), by: visit.principal)
            case "extend":
                let text = form.first("amount").trimmingCharacters(in: .whitespaces)
                guard let amount = Int(text) else {
                    return try await requestPage(id, visit, errors: ["amount": visit.t["wholeNumber"]!], form: form, status: .unprocessableContent)
                }
                let reason = form.first("reason").trimmingCharacters(in: .whitespacesAndNewlines)
                _ = try await store.extendRequest(id: id, by: amount, reason: reason.isEmpty ? nil : reason, principal: visit.principal)
            default:
                // Erasure cannot be undone: the operator ticks a confirmation first, like a person does in the portal.
                if try await store.request(id: id, by: visit.principal).type == .erase, form.first("confirm") != "yes" {
                    return try await requestPage(id, visit, errors: ["confirm": visit.t["confirmRequired"]!], form: form, status: .unprocessableContent)
                }
                let field = form.first("field")
                let text = form.first("value")
                // A rectification's new value: JSON when it reads as JSON (numbers, lists), else the text itself.
                let value: JSONValue? = field.isEmpty ? nil : ((try? CandorJSON.decode(JSONValue.self, from: text)) ?? .string(text))
                _ = try await store.completeRequest(id: id, field: field.isEmpty ? nil : field, value: value, by: visit.principal)
            }
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            var errors = [String: String]()
            for item in error.errors {
                let key = ["method", "amount", "months", "days", "reason", "field", "value"].contains(item.field) ? item.field : "form"
                errors[key == "months" || key == "days" ? "amount" : key, default: ""] += Self.localized(item.message, visit.t)
            }
            if errors.isEmpty { errors["form"] = error.detail }
            return try await requestPage(id, visit, errors: errors, form: form, status: error.kind == .conflict ? .conflict : .unprocessableContent)
        }
        return redirect("/console/requests/\(id)?done=\(action)")
    }

    /// The deadline rules' messages in the page's language (they come from CandorCore in English).
    static func localized(_ message: String, _ t: [String: String]) -> String {
        let known: [(prefix: String, key: String)] = [
            ("an extension must record why", "errReasonRequired"), ("must be at least 1", "errAtLeastOne"),
            ("a CCPA request can be extended only once", "errCcpaOnce"), ("the legal maximum is", "errLegalMaximum"),
            ("give the extension in", "errUnit"), ("verify the requester's identity first", "errVerifyFirst"),
        ]
        guard let match = known.first(where: { message.hasPrefix($0.prefix) }), let words = t[match.key] else { return message }
        return words
    }

    // MARK: - Audit log

    func auditPage(_ request: Request, _ visit: Visit) async throws -> Response {
        if let refused = require([.audit], visit) { return refused }
        let t = visit.t
        let parameters = request.uri.queryParameters
        var cursor: String?
        if let text = parameters.get("after") {
            guard Int64(text) != nil else {
                return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "badCursor", link: ("/console/audit", "navAudit"), visit: visit)
            }
            cursor = String(text)
        }
        let action = parameters.get("action").map { String($0) }.flatMap { $0.isEmpty ? nil : $0 }
        let team = parameters.get("team").map { String($0) }.flatMap { $0.isEmpty ? nil : $0 }
        // Newest first unless the operator asks for the oldest first; the cursor continues in that order.
        let order = parameters.get("order").map { String($0) } ?? "newest"
        guard ["newest", "oldest"].contains(order) else {
            return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "badFilter", link: ("/console/audit", "navAudit"), visit: visit)
        }
        let page = try await store.auditLog(AuditQuery(team: team, action: action), cursor: cursor, limit: 50, newestFirst: order == "newest")
        let registry = store.registry
        let operators = Dictionary(((try? await store.operators()) ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let rows: [[String: Any]] = page.data.map { entry in
            PortalView.compact([
                "at": Self.time(entry.at), "actor": operators[entry.actor] ?? registry.keysById[entry.actor]?.name ?? entry.actor,
                "team": registry.teams[entry.team]?.name ?? entry.team, "action": entry.action,
                "purpose": entry.purpose.map { key in registry.purposes[key].map { $0.names[visit.language.code] ?? $0.names["en"] ?? key } ?? key } ?? "—",
                "subject": entry.subjectId ?? "—", "fields": entry.fields.isEmpty ? "—" : entry.fields.joined(separator: ", "),
                "outcome": entry.outcome, "refused": entry.outcome != "ok",
            ])
        }
        var filter = ""
        if let action { filter += "&action=\(action.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics) ?? "")" }
        if let team { filter += "&team=\(team.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics) ?? "")" }
        let orders: [[String: Any]] = ["newest", "oldest"].map { key in
            ["key": key, "label": t["dlOrder_\(key)"]!, "current": key == order, "href": "/console/audit?order=\(key)\(filter)"]
        }
        if order == "oldest" { filter += "&order=oldest" }
        return render("console/audit", visit.language, path: "/console/audit", visit: visit, PortalView.compact([
            "title": t["navAudit"]!, "entries": rows, "hasEntries": !rows.isEmpty, "orders": orders, "order": order, "oldestFirst": order == "oldest",
            "next": page.nextCursor.map { "/console/audit?after=\($0)\(filter)" }, "action": action ?? "", "team": team ?? "",
            "teams": registry.teams.values.sorted { $0.key < $1.key }.map { ["key": $0.key, "name": $0.name, "selected": $0.key == team] },
            "first": cursor != nil ? "/console/audit?\(filter.dropFirst())" : nil,
        ]))
    }
}
