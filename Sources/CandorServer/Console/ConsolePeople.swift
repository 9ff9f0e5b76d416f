import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Finding a person and seeing what they declared, for one purpose the operator's team holds.
///
/// The lookup is a POST, so e-mail addresses never travel in URLs; it redirects to the person's page,
/// whose URL carries only the opaque subject id and the chosen purpose. The page reads through the
/// same gated store functions as `GET /v1/subjects/{id}` and its declarations and consents, so every
/// view is audited with the purpose chosen, and a person whose consent for it is missing shows nothing.
extension ConsoleRoutes {
    func addPeople(to router: Router<CandorRequestContext>) {
        router.get("console/people") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.read], visit) { return refused }
                return peopleSearch(visit, query: "", purpose: request.uri.queryParameters.get("purpose").map { String($0) })
            }
        }
        router.post("console/people") { request, context in
            try await visit(request, context, form: true) { try await findPerson($0) }
        }
        router.get("console/people/:id") { request, context in
            try await visit(request, context) { try await personPage(request, context, $0) }
        }
    }

    /// The purposes the team holds, with their names, for the purpose pickers.
    func purposeChoices(_ visit: Visit, selected: String?) -> [[String: Any]] {
        let registry = store.registry
        return visit.principal.team.purposes.sorted().compactMap { key in
            guard let purpose = registry.purposes[key] else { return nil }
            return ["key": key, "name": purpose.names[visit.language.code] ?? purpose.names["en"] ?? key, "selected": key == selected]
        }
    }

    func peopleSearch(_ visit: Visit, query: String, purpose: String?, error: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        render("console/people", visit.language, path: "/console/people", status: status, visit: visit, PortalView.compact([
            "title": visit.t["navPeople"]!, "query": query, "purposes": purposeChoices(visit, selected: purpose ?? visit.principal.team.purposes.sorted().first),
            "error": error,
        ]))
    }

    /// Checks that a purpose exists and that the team holds it: a 403 page names what is missing.
    func checkPurpose(_ purpose: String, _ visit: Visit) -> Response? {
        guard let known = store.registry.purposes[purpose] else {
            return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: visit.t["unknownPurpose"]!.replacingOccurrences(of: "%1", with: purpose),
                             link: ("/console/people", "navPeople"), visit: visit)
        }
        guard PurposeGate.teamMayUse(visit.principal.team, purpose: purpose) else {
            return forbidden(visit, "forbiddenPurpose", known.names[visit.language.code] ?? known.names["en"] ?? purpose)
        }
        return nil
    }

    func findPerson(_ visit: Visit) async throws -> Response {
        if let refused = require([.read], visit) { return refused }
        let query = visit.form.first("query").trimmingCharacters(in: .whitespacesAndNewlines)
        let purpose = visit.form.first("purpose")
        if let refused = checkPurpose(purpose, visit) { return refused }
        guard !query.isEmpty, query.count <= 320 else {
            return peopleSearch(visit, query: query, purpose: purpose, error: visit.t["queryRequired"], status: .unprocessableContent)
        }
        let byEmail = query.contains("@")
        if byEmail, !SubjectInput.looksLikeEmail(query) {
            return peopleSearch(visit, query: query, purpose: purpose, error: visit.t["queryNotEmail"], status: .unprocessableContent)
        }
        // The same keyed-hash lookup as POST /v1/subjects/lookup, audited as a lookup by this operator.
        guard let subject = try await store.findSubject(externalId: byEmail ? nil : query, email: byEmail ? query : nil, by: visit.principal),
              subject.status != .erased
        else {
            return peopleSearch(visit, query: query, purpose: purpose, error: visit.t["noMatch"], status: .notFound)
        }
        return redirect("/console/people/\(subject.id)?purpose=\(purpose)")
    }

    func personPage(_ request: Request, _ context: CandorRequestContext, _ visit: Visit) async throws -> Response {
        if let refused = require([.read], visit) { return refused }
        let id = try support.parameter(context, "id")
        guard let purpose = request.uri.queryParameters.get("purpose").map({ String($0) }), !purpose.isEmpty else {
            return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "choosePurpose", link: ("/console/people", "navPeople"), visit: visit)
        }
        if let refused = checkPurpose(purpose, visit) { return refused }
        let t = visit.t
        let code = visit.language.code
        let registry = store.registry
        let principal = visit.principal
        let subject = try await store.subject(id)
        let profile = try await store.profile(subjectId: id, purpose: purpose, by: principal)
        let history = try await store.history(subjectId: id, purpose: purpose, by: principal)
        let (consents, consentHistory) = try await store.consents(subjectId: id, by: principal, purpose: purpose)
        let decisions = try await store.decisions(subjectId: id, purpose: purpose, by: principal)
        let view = PortalView(store: store, language: visit.language)

        func fieldLabel(_ key: String) -> String { registry.fields[key].map(view.label) ?? key }
        func shown(_ value: JSONValue, _ key: String) -> String { registry.fields[key].map { view.display(value, field: $0) } ?? value.jsonText }
        func purposeName(_ key: String) -> String { registry.purposes[key].map { $0.names[code] ?? $0.names["en"] ?? key } ?? key }

        let values: [[String: Any]] = profile.values.keys.sorted().map { key -> [String: Any] in
            let value = profile.values[key]!
            return [
                "label": fieldLabel(key), "value": shown(value.value, key), "source": t["source.\(value.source)"] ?? value.source,
                "point": value.collectionPoint ?? "—", "when": Self.time(value.declaredAt),
                "notices": value.notices.keys.sorted().map { "\(purposeName($0)) v\(value.notices[$0]!)" }.joined(separator: ", "),
            ]
        }
        let declarations: [[String: Any]] = history.prefix(50).map { (item: HistoryItem) -> [String: Any] in
            [
                "when": Self.time(item.recordedAt), "source": item.source.map { t["source.\($0)"] ?? $0 } ?? "—",
                "what": (item.values ?? []).map { "\(fieldLabel($0.field)): \(shown($0.value, $0.field))" }.joined(separator: "; "),
            ]
        }
        let consentRows: [[String: Any]] = consents.map { (consent: ConsentView) -> [String: Any] in
            [
                "purpose": purposeName(consent.purpose), "granted": consent.status == .granted,
                "status": consent.status == .granted ? t["granted"]! : t["withdrawn"]!, "method": consent.method.rawValue,
                "notice": consent.noticeVersion.map { "v\($0)" } ?? "—", "when": Self.time(consent.updatedAt),
            ]
        }
        let consentChanges: [[String: Any]] = consentHistory.reversed().prefix(50).map { (item: HistoryItem) -> [String: Any] in
            [
                "when": Self.time(item.recordedAt),
                "what": (item.consents ?? []).map { "\(purposeName($0.purpose)): \($0.status == .granted ? t["granted"]! : t["withdrawn"]!)" }.joined(separator: "; "),
            ]
        }
        let offerNames = Dictionary(((try? await store.offers()) ?? []).compactMap { offer in offer.id.map { ($0, offer.name) } }, uniquingKeysWith: { a, _ in a })
        let decisionRows: [[String: Any]] = decisions.map { (decision: DecisionRecord) -> [String: Any] in
            [
                "when": Self.time(decision.decidedAt), "placement": decision.placement, "arm": t["arm.\(decision.arm)"] ?? decision.arm,
                "why": t["why.\(decision.arm)"] ?? "", "offers": decision.offerIds.map { offerNames[$0] ?? $0 }.joined(separator: ", "),
            ]
        }
        var withheld: String?
        if let reason = profile.withheldReason {
            withheld = (t["withheld.\(reason)"] ?? t["withheld"]!).replacingOccurrences(of: "%1", with: purposeName(purpose))
        }
        let switcher: [[String: Any]] = purposeChoices(visit, selected: purpose).map { choice in
            var choice = choice
            choice["href"] = "/console/people/\(id)?purpose=\(choice["key"] as! String)"
            return choice
        }
        return render("console/person", visit.language, path: "/console/people/\(id)?purpose=\(purpose)", visit: visit, PortalView.compact([
            "title": t["personTitle"]!, "subjectId": subject.id, "externalId": subject.externalId, "since": Self.time(subject.createdAt),
            "status": t["status.\(subject.status.rawValue)"] ?? subject.status.rawValue,
            "purposeName": purposeName(purpose), "purposes": switcher,
            "withheld": withheld, "values": values, "hasValues": !values.isEmpty,
            "declarations": declarations, "hasDeclarations": !declarations.isEmpty,
            "consents": consentRows, "hasConsents": !consentRows.isEmpty,
            "consentChanges": consentChanges, "hasConsentChanges": !consentChanges.isEmpty,
            "decisions": decisionRows, "hasDecisions": !decisionRows.isEmpty,
            "auditNote": t["auditNote"]!.replacingOccurrences(of: "%1", with: purposeName(purpose)),
        ]))
    }
}
