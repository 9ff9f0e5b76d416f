import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's activation pages: segments (a rule editor with the live count and syntax errors at
/// their position), the offer catalog and its placements, and campaigns (preview for one person, test
/// send, schedule).
///
/// Every page is a client of the same store functions and roles as the `/v1` routes: segments and offers
/// need `admin` (like `/v1/segments`, `/v1/offers`); campaigns need `read` to list, open and preview, and
/// `write` to create, test-send and schedule (like `/v1/campaigns`). A campaign preview reads a person's
/// address and declared interests, so it goes through the same purpose gate and audit as
/// `POST /v1/campaigns/{id}/preview` (it *is* that code path: `CampaignRoutes.preview`).
extension ConsoleRoutes {
    /// Campaign blocks offered by the new-campaign form (the API takes up to 50; more are added by API).
    static let campaignFormBlocks = 3

    func addActivationSetup(to router: Router<CandorRequestContext>) {
        // One campaign API value, so test sends share one SMTP pool (as the `/v1` routes do).
        let campaignAPI = CampaignRoutes(support: support, config: config, transport: config.newsletters.makeTransport())

        // MARK: Segments
        router.get("console/segments") { request, context in
            try await visit(request, context) { try await segmentsPage(request, $0) }
        }
        router.get("console/segments/new") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let rule = request.uri.queryParameters.get("rule").map { String($0) } ?? ""
                return try await segmentEditor(visit, name: "", rule: rule, checked: !rule.isEmpty)
            }
        }
        router.post("console/segments/new") { request, context in
            try await visit(request, context, form: true) { try await saveSegment($0) }
        }
        router.post("console/segments/check") { request, context in
            // The live check of the rule editor's script: a form post like any other (session + CSRF
            // token in the body), answered with JSON.
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await checkRuleJSON(visit.form.first("rule"))
            }
        }
        router.get("console/segments/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("done") == "saved"
                return try await segmentPage(try support.parameter(context, "id"), visit, done: done)
            }
        }

        // MARK: Offers
        router.get("console/offers") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }
                return try await offersPage(visit, done: done == "created" ? "actOfferCreated" : done == "updated" ? "actOfferUpdated" : nil)
            }
        }
        router.get("console/offers/new") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await offerForm(visit)
            }
        }
        router.post("console/offers/new") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveOffer(visit, id: nil)
            }
        }
        router.get("console/offers/:id/edit") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let id = try support.parameter(context, "id")
                return try await offerForm(visit, editing: id, form: Self.offerFormData(try await store.offer(id)))
            }
        }
        router.post("console/offers/:id/edit") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveOffer(visit, id: try support.parameter(context, "id"))
            }
        }

        // MARK: Campaigns
        router.get("console/campaigns") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.read, .write], visit) { return refused }
                return try await campaignsPage(visit)
            }
        }
        router.get("console/campaigns/new") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.write], visit) { return refused }
                return try await campaignForm(visit)
            }
        }
        router.post("console/campaigns/new") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.write], visit) { return refused }
                return try await createCampaign(visit)
            }
        }
        router.get("console/campaigns/:id") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.read, .write], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }.flatMap { ["created", "scheduled", "testSent"].contains($0) ? $0 : nil }
                return try await campaignPage(try support.parameter(context, "id"), visit, done: done)
            }
        }
        router.post("console/campaigns/:id/preview") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.read, .write], visit) { return refused }
                return try await previewCampaign(try support.parameter(context, "id"), visit, api: campaignAPI)
            }
        }
        router.get("console/campaigns/:id/preview/:subject") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.read, .write], visit) { return refused }
                let locale = request.uri.queryParameters.get("locale").map { String($0) }.flatMap { $0.isEmpty ? nil : $0 }
                return try await previewFrame(try support.parameter(context, "id"), subjectId: try support.parameter(context, "subject"), locale: locale, visit, api: campaignAPI)
            }
        }
        router.post("console/campaigns/:id/test-send") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.write], visit) { return refused }
                return try await testSendCampaign(try support.parameter(context, "id"), visit, api: campaignAPI)
            }
        }
        router.post("console/campaigns/:id/schedule") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.write], visit) { return refused }
                return try await scheduleCampaign(try support.parameter(context, "id"), visit)
            }
        }
    }

    // MARK: - Form fields shared by the activation forms

    /// One control of an activation form, rendered by `console/activation_field`. Its `name` is the API's
    /// field path (`content.en.title`, `blocks[0].interests`), so the store's errors land next to it.
    struct ActivationField {
        enum Kind { case text, number, email, dateTime, textarea, select, checks }
        var name: String
        var label: String
        var kind: Kind = .text
        var value: String = ""
        var hint: String?
        var options: [(value: String, label: String)] = []
        /// For `checks`: the ticked values.
        var checked: Set<String> = []
        var rows = 3
        var leftToRight = false
        /// Text written in Hebrew whatever the page's language (the `he` content).
        var rightToLeft = false
        var required = false
        var error: String?

        var id: String { "f-" + String(name.map { $0.isLetter || $0.isNumber ? $0 : "-" }) }

        /// Every key is set (false when absent), so Mustache never falls back to an outer context's value.
        var view: [String: Any] {
            let described = [hint != nil ? "\(id)-hint" : nil, error != nil ? "\(id)-error" : nil].compactMap { $0 }.joined(separator: " ")
            let inputType: String = switch kind {
            case .number: "number"
            case .email: "email"
            case .dateTime: "datetime-local"
            default: "text"
            }
            return [
                "id": id, "name": name, "label": label, "value": value, "type": inputType,
                "isInput": [.text, .number, .email, .dateTime].contains(kind), "isTextarea": kind == .textarea, "isSelect": kind == .select, "isChecks": kind == .checks,
                "rows": rows, "ltr": leftToRight, "dir": leftToRight ? "ltr" : (rightToLeft || name.contains(".he.") ? "rtl" : "auto"), "required": required, "hasHint": hint != nil, "hint": hint ?? "",
                "hasError": error != nil, "error": error ?? "", "describedBy": described, "hasDescribedBy": !described.isEmpty,
                "choices": options.enumerated().map { index, option in
                    ["value": option.value, "label": option.label, "selected": option.value == value, "checked": checked.contains(option.value), "choiceId": "\(id)-\(index)"] as [String: Any]
                },
            ]
        }
    }

    /// A group of fields with a legend.
    struct ActivationFieldset {
        var legend: String
        var intro: String?
        var fields: [ActivationField]
        var columns = false
        /// An optional part of the form: folded away unless something in it was typed or is wrong.
        var optional = false

        var view: [String: Any] {
            let touched = fields.contains { $0.error != nil } || fields.contains { field in
                (field.name.hasSuffix(".subject") || field.name.hasSuffix(".key") || field.name.hasSuffix(".title")) && !field.value.isEmpty
            }
            return ["legend": legend, "hasIntro": intro != nil, "intro": intro ?? "", "fields": fields.map(\.view), "columns": columns,
                    "folded": optional, "open": !optional || touched]
        }
    }

    /// Puts each store error next to the field it names; returns the messages no field took.
    ///
    /// A field path matches its own control, then (for `placements[1]`) the control without the index,
    /// then the first control below it (`fallback.he` → `fallback.he.title`).
    func attach(_ errors: [FieldError], to fieldsets: inout [ActivationFieldset], _ visit: Visit) -> [String] {
        var unplaced = [String]()
        for error in errors {
            let message = activationMessage(error.message, visit)
            let bare = error.field.replacingOccurrences(of: #"\[\d+\]$"#, with: "", options: .regularExpression)
            var placed = false
            for candidate in [error.field, bare] where !placed {
                for s in fieldsets.indices {
                    if let f = fieldsets[s].fields.firstIndex(where: { $0.name == candidate }) {
                        fieldsets[s].fields[f].error = [fieldsets[s].fields[f].error, message].compactMap { $0 }.joined(separator: " ")
                        placed = true
                        break
                    }
                }
            }
            if !placed {
                outer: for s in fieldsets.indices {
                    for f in fieldsets[s].fields.indices where fieldsets[s].fields[f].name.hasPrefix(error.field + ".") {
                        fieldsets[s].fields[f].error = [fieldsets[s].fields[f].error, message].compactMap { $0 }.joined(separator: " ")
                        placed = true
                        break outer
                    }
                }
            }
            if !placed { unplaced.append("\(error.field): \(message)") }
        }
        return unplaced
    }

    /// A store message (English) for the page: on a Hebrew page with a Hebrew lead before the detail.
    func activationMessage(_ message: String, _ visit: Visit) -> String {
        let readable = Self.knownMessage(Self.readableTemplateError(message, visit.t), visit.t)
        // A message translated here needs no lead; the store's English detail gets a Hebrew one.
        return readable != message ? readable : ConsoleRoutes.inlineMessage(message, visit.language)
    }

    /// The store's most common messages on these forms, in the page's language (others stay English).
    static func knownMessage(_ message: String, _ t: [String: String]) -> String {
        let known: [(text: String, key: String)] = [
            ("must be 1 to 200 characters", "actMsgLength200"), ("must be 1 to 100 characters", "actMsgLength100"),
            ("name at least one placement", "actMsgPlacement"), ("give the words in at least one locale", "actMsgWords"),
            ("a personalized offer (with a segment) names the purpose it uses data for", "actMsgOfferPurpose"),
            ("already used by another segment", "actMsgNameTaken"), ("must be after valid_from", "actMsgAfter"),
            ("expected an RFC 3339 time", "actMsgTime"), ("must be at least 1", "actMsgAtLeastOne"),
            ("is required for every locale of the campaign", "actMsgEveryLocale"), ("must be present and unique", "actMsgUniqueKey"),
            ("must name at least one value", "actMsgOneInterest"), ("must be one of the locales in content", "actMsgDefaultLocale"),
        ]
        guard let match = known.first(where: { $0.text == message }), let words = t[match.key] else { return message }
        return words
    }

    /// The Mustache library describes a template error as a Swift value dump; the page says where and what.
    static func readableTemplateError(_ message: String, _ t: [String: String]) -> String {
        let prefix = "is not a valid Mustache template: "
        guard message.hasPrefix(prefix),
              let line = message.firstMatch(of: /lineNumber: (\d+)/)?.1, let column = message.firstMatch(of: /columnNumber: (\d+)/)?.1
        else { return message }
        let kind = message.firstMatch(of: /Error\.(\w+)\)?\s*$/).map { String($0.1) } ?? ""
        let what = t["actTemplate.\(kind)"] ?? t["actTemplate.other"]!
        return t["actTemplateError"]!.replacingOccurrences(of: "%1", with: String(line)).replacingOccurrences(of: "%2", with: String(column))
            .replacingOccurrences(of: "%3", with: what)
    }

    /// Renders an activation form page.
    func activationForm(_ visit: Visit, path: String, title: String, intro: String, back: (String, String), action: String, submit: String,
                        fieldsets: [ActivationFieldset], formErrors: [String] = [], note: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        render("console/activation_form", visit.language, path: path, status: status, visit: visit, PortalView.compact([
            "title": title, "intro": intro, "backHref": back.0, "backLabel": back.1, "action": action, "submit": submit,
            "fieldsets": fieldsets.map(\.view), "formErrors": formErrors.isEmpty ? nil : formErrors, "note": note,
            "hasErrors": !formErrors.isEmpty || fieldsets.contains { $0.fields.contains { $0.error != nil } },
        ]))
    }

    /// A `datetime-local` value (minutes, UTC) as RFC 3339, or nil when empty; other text is passed on
    /// as it is, so the store's own check names the field.
    static func rfc3339(fromLocal text: String) -> String? {
        let value = text.trimmingCharacters(in: .whitespaces)
        if value.isEmpty { return nil }
        if value.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$"#, options: .regularExpression) != nil { return value + ":00Z" }
        if value.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"#, options: .regularExpression) != nil { return value + "Z" }
        return value
    }

    /// An RFC 3339 time as a `datetime-local` value in UTC (minutes).
    static func localValue(_ rfc3339: String?) -> String {
        guard let rfc3339, let millis = Timestamp.parse(rfc3339) else { return "" }
        let text = Timestamp.rfc3339(millis)
        return String(text.prefix(16))
    }

    func purposeName(_ key: String, _ visit: Visit) -> String {
        store.registry.purposes[key].map { $0.names[visit.language.code] ?? $0.names["en"] ?? key } ?? key
    }

    /// Formats a count with the page language's digit grouping.
    static func grouped(_ count: Int) -> String {
        let digits = String(count)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }

    // MARK: - Segments

    func segmentsPage(_ request: Request, _ visit: Visit) async throws -> Response {
        if let refused = require([.admin], visit) { return refused }
        let t = visit.t
        let segments = try await store.segments()
        let offers = try await store.offers()
        let rows: [[String: Any]] = segments.prefix(200).map { segment in
            let users = offers.filter { $0.segmentId == segment.id }
            return [
                "id": segment.id, "name": segment.name, "rule": segment.rule, "count": Self.grouped(segment.count ?? 0),
                "created": Self.time(segment.createdAt),
                "usedBy": users.map { ["name": $0.name, "purpose": $0.purpose.map { purposeName($0, visit) } ?? "—"] },
                "unused": users.isEmpty,
            ]
        }
        return render("console/activation_segments", visit.language, path: "/console/segments", visit: visit, [
            "title": t["navSegments"]!, "segments": rows, "hasSegments": !rows.isEmpty, "truncated": segments.count > 200,
        ])
    }

    /// The result of checking a rule: the count, or the error with its position.
    enum RuleCheck {
        case count(Int)
        case error(SegmentError)
    }

    /// Compiles a rule with the registry (for the position of an error) and counts it with the same
    /// index function as `POST /v1/segments/count`.
    func checkRule(_ rule: String) async throws -> RuleCheck {
        let registry = store.registry
        if case .failure(let error) = SegmentRule.compile(rule, fields: registry.fields, purposes: registry.purposes) { return .error(error) }
        return .count(try await store.countSegment(rule: rule))
    }

    func checkRuleJSON(_ rule: String) async throws -> Response {
        var body: [String: Any]
        switch try await checkRule(rule) {
        case .count(let count): body = ["count": count]
        case .error(let error): body = ["error": ["line": error.line, "column": error.column, "message": error.message]]
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))))
    }

    /// The line of `rule` an error points at, and a caret under its column (columns count Unicode scalars, as the lexer does).
    static func marker(_ rule: String, _ error: SegmentError) -> (line: String, caret: String) {
        let lines = rule.split(separator: "\n", omittingEmptySubsequences: false)
        let line = error.line >= 1 && error.line <= lines.count ? String(lines[error.line - 1]) : ""
        let scalars = Array(line.unicodeScalars)
        // Tabs stay tabs, so the caret sits under the same character however wide a tab is drawn.
        let padding = scalars.prefix(max(0, error.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
        let extra = String(repeating: " ", count: max(0, error.column - 1 - scalars.count))
        return (line, padding + extra + "^")
    }

    /// The rule editor: a name, the rule, its live count or error, Check and Save.
    func segmentEditor(_ visit: Visit, name: String, rule: String, checked: Bool, nameError: String? = nil, formError: String? = nil,
                       status: HTTPResponse.Status = .ok, segment: Segment? = nil, done: Bool = false) async throws -> Response {
        let t = visit.t
        var context: [String: Any] = [
            "title": segment?.name ?? t["actNewSegment"]!, "name": name, "rule": rule, "csrf": visit.csrf,
            "hasNameError": nameError != nil, "nameError": nameError ?? "", "formError": formError ?? "", "hasFormError": formError != nil,
            "statusText": t["actRuleIdle"]!, "statusClass": "", "ruleInvalid": false, "hasMarker": false,
            "fields": store.registry.fields.keys.sorted(), "purposes": store.registry.purposes.keys.sorted(),
        ]
        if checked, !rule.isEmpty {
            switch try await checkRule(rule) {
            case .count(let count):
                context["statusText"] = t["actRuleCount"]!.replacingOccurrences(of: "%1", with: Self.grouped(count))
                context["statusClass"] = "act-ok"
            case .error(let error):
                let (line, caret) = Self.marker(rule, error)
                context["statusText"] = t["actRuleError"]!.replacingOccurrences(of: "%1", with: String(error.line))
                    .replacingOccurrences(of: "%2", with: String(error.column)).replacingOccurrences(of: "%3", with: error.message)
                context["statusClass"] = "act-bad"
                context["ruleInvalid"] = true
                context["hasMarker"] = true
                context["markerLine"] = line
                context["markerCaret"] = caret
            }
        }
        if let segment {
            let users = try await store.offers().filter { $0.segmentId == segment.id }
            context["segment"] = [
                "id": segment.id, "name": segment.name, "rule": segment.rule, "count": Self.grouped(segment.count ?? 0), "created": Self.time(segment.createdAt),
                "usedBy": users.map { ["name": $0.name, "purpose": $0.purpose.map { purposeName($0, visit) } ?? "—"] }, "unused": users.isEmpty,
            ] as [String: Any]
            context["done"] = done
        }
        let path = segment.map { "/console/segments/\($0.id)" } ?? "/console/segments/new"
        return render("console/activation_segment", visit.language, path: path, status: status, visit: visit, context)
    }

    func segmentPage(_ id: String, _ visit: Visit, done: Bool) async throws -> Response {
        let segment = try await store.segment(id)
        // The editor below starts from this rule: a variation is saved as a new segment (the API has no update).
        return try await segmentEditor(visit, name: "", rule: segment.rule, checked: true, segment: segment, done: done)
    }

    /// Check or Save. Save goes through the same store function as `POST /v1/segments`; a rule that
    /// does not compile or a taken name comes back inline with 422 (or 409), and nothing is written.
    func saveSegment(_ visit: Visit) async throws -> Response {
        if let refused = require([.admin], visit) { return refused }
        let name = visit.form.first("name").trimmingCharacters(in: .whitespacesAndNewlines)
        let rule = visit.form.first("rule")
        if visit.form.first("action") != "save" {
            return try await segmentEditor(visit, name: name, rule: rule, checked: true)
        }
        do {
            guard case .fresh(let saved) = try await store.createSegment(SegmentInput(name: name, rule: rule), by: visit.principal) else {
                return redirect("/console/segments")
            }
            return redirect("/console/segments/\(saved.id)?done=saved")
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            let nameErrors = error.errors.filter { $0.field == "name" }.map { activationMessage($0.message, visit) }
            let others = error.errors.filter { $0.field != "name" && $0.field != "rule" }.map { "\($0.field): \(activationMessage($0.message, visit))" }
            return try await segmentEditor(visit, name: name, rule: rule, checked: true, nameError: nameErrors.isEmpty ? nil : nameErrors.joined(separator: " "),
                                           formError: others.isEmpty ? nil : others.joined(separator: "; "),
                                           status: error.kind == .conflict ? .conflict : .unprocessableContent)
        }
    }

    // MARK: - Offers

    /// The catalog; `done` names the notice of what was just saved.
    func offersPage(_ visit: Visit, done: String?) async throws -> Response {
        let t = visit.t
        let code = visit.language.code
        let offers = try await store.offers()
        let segmentNames = try await segmentNames()
        let now = store.currentMillis
        func row(_ offer: Offer) -> [String: Any] {
            let words = offer.content[code] ?? offer.content["en"] ?? offer.content.values.first
            let from = offer.validFrom.flatMap(Timestamp.parse), until = offer.validUntil.flatMap(Timestamp.parse)
            let live = (from.map { $0 <= now } ?? true) && (until.map { $0 > now } ?? true)
            return [
                "id": offer.id ?? "", "name": offer.name, "title": words?.title ?? "—", "locales": offer.content.keys.sorted().joined(separator: ", "),
                "placements": offer.placements.map { t["actPlacement.\($0)"] ?? $0 },
                "segment": offer.segmentId.map { segmentNames[$0] ?? $0 } ?? t["actEveryone"]!, "segmentId": offer.segmentId ?? "", "hasSegment": offer.segmentId != nil,
                "purpose": offer.purpose.map { purposeName($0, visit) } ?? "—",
                "window": (offer.validFrom == nil && offer.validUntil == nil) ? t["actAlways"]! : "\(Self.time(offer.validFrom)) – \(Self.time(offer.validUntil))",
                "live": live, "liveLabel": live ? t["actLive"]! : t["actNotLive"]!,
                "caps": [offer.capPerPerson.map { t["actCapPerson"]!.replacingOccurrences(of: "%1", with: String($0)) },
                         offer.capTotal.map { t["actCapTotal"]!.replacingOccurrences(of: "%1", with: String($0)) }].compactMap { $0 }.joined(separator: ", ").nilIfEmpty ?? "—",
                "priority": String(offer.priority ?? 0), "pool": offer.incentivePool ?? "—",
            ]
        }
        let placements: [[String: Any]] = Placement.allCases.map { placement in
            let here = offers.filter { $0.placements.contains(placement.rawValue) }.sorted { ($0.priority ?? 0) > ($1.priority ?? 0) }
            return ["key": placement.rawValue, "label": t["actPlacement.\(placement.rawValue)"]!, "hint": t["actPlacementHint.\(placement.rawValue)"]!,
                    "offers": here.map(row), "hasOffers": !here.isEmpty]
        }
        var context: [String: Any] = ["title": t["navOffers"]!, "offers": offers.map(row), "hasOffers": !offers.isEmpty, "placements": placements]
        if let done { context["done"] = t[done]! }
        return render("console/activation_offers", visit.language, path: "/console/offers", visit: visit, context)
    }

    /// The new-offer form's fields, filled from a posted form.
    func offerFieldsets(_ visit: Visit, _ form: FormData) async throws -> [ActivationFieldset] {
        let t = visit.t
        let segments = try await store.segments()
        let purposes = store.registry.purposes.keys.sorted()
        func value(_ name: String, _ fallback: String = "") -> String { form.pairs.isEmpty ? fallback : form.first(name) }
        return [
            ActivationFieldset(legend: t["actOfferBasics"]!, fields: [
                ActivationField(name: "name", label: t["actOfferName"]!, value: value("name"), hint: t["actOfferNameHint"]!, required: true),
                ActivationField(name: "placements", label: t["actPlacements"]!, kind: .checks,
                                options: Placement.allCases.map { ($0.rawValue, t["actPlacement.\($0.rawValue)"]!) },
                                checked: Set(form.pairs.isEmpty ? ["onsite"] : form.all("placements"))),
                ActivationField(name: "priority", label: t["actPriority"]!, kind: .number, value: value("priority", "0"), hint: t["actPriorityHint"]!),
            ]),
            ActivationFieldset(legend: t["actOfferWords"]!, intro: t["actOfferWordsIntro"]!, fields: [
                ActivationField(name: "content.en.title", label: t["actTitleEn"]!, value: value("content.en.title")),
                ActivationField(name: "content.he.title", label: t["actTitleHe"]!, value: value("content.he.title")),
                ActivationField(name: "content.en.body", label: t["actBodyEn"]!, kind: .textarea, value: value("content.en.body")),
                ActivationField(name: "content.he.body", label: t["actBodyHe"]!, kind: .textarea, value: value("content.he.body")),
            ], columns: true),
            ActivationFieldset(legend: t["actOfferWho"]!, intro: t["actOfferWhoIntro"]!, fields: [
                ActivationField(name: "segment_id", label: t["actEligibility"]!, kind: .select, value: value("segment_id"),
                                options: [("", t["actEveryoneOption"]!)] + segments.map { ($0.id, "\($0.name) (\(Self.grouped($0.count ?? 0)))") }),
                ActivationField(name: "purpose", label: t["purposeLabel"]!, kind: .select, value: value("purpose"), hint: t["actOfferPurposeHint"]!,
                                options: [("", t["actNoPurpose"]!)] + purposes.map { ($0, purposeName($0, visit)) }),
            ], columns: true),
            ActivationFieldset(legend: t["actOfferLimits"]!, fields: [
                ActivationField(name: "valid_from", label: t["actValidFrom"]!, kind: .dateTime, value: value("valid_from"), hint: t["actUTC"]!),
                ActivationField(name: "valid_until", label: t["actValidUntil"]!, kind: .dateTime, value: value("valid_until"), hint: t["actUTC"]!),
                ActivationField(name: "cap_per_person", label: t["actCapPersonLabel"]!, kind: .number, value: value("cap_per_person"), hint: t["actCapHint"]!),
                ActivationField(name: "cap_total", label: t["actCapTotalLabel"]!, kind: .number, value: value("cap_total"), hint: t["actCapHint"]!),
                ActivationField(name: "incentive_pool", label: t["actPool"]!, value: value("incentive_pool"), hint: t["actPoolHint"]!, leftToRight: true),
            ], columns: true),
            ActivationFieldset(legend: t["actRoute"]!, intro: t["actRouteIntro"]!, fields: [
                ActivationField(name: "route.queue", label: t["actQueue"]!, value: value("route.queue"), leftToRight: true),
                ActivationField(name: "route.article", label: t["actArticle"]!, value: value("route.article"), leftToRight: true),
                ActivationField(name: "route.advisor", label: t["actAdvisor"]!, value: value("route.advisor"), leftToRight: true),
            ], columns: true),
        ]
    }

    /// The new-offer form, or with `editing` the form that changes that offer.
    func offerForm(_ visit: Visit, editing id: String? = nil, form: FormData = FormData(), errors: [FieldError] = [],
                   status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        var fieldsets = try await offerFieldsets(visit, form)
        let unplaced = attach(errors, to: &fieldsets, visit)
        let path = id.map { "/console/offers/\($0)/edit" } ?? "/console/offers/new"
        return activationForm(visit, path: path, title: t[id == nil ? "actNewOffer" : "actEditOffer"]!,
                              intro: t[id == nil ? "actNewOfferIntro" : "actEditOfferIntro"]!, back: ("/console/offers", t["navOffers"]!),
                              action: path, submit: t[id == nil ? "actCreateOffer" : "actSaveOffer"]!, fieldsets: fieldsets, formErrors: unplaced, status: status)
    }

    /// An offer as the form's values (what `saveOffer` reads back), to edit it.
    static func offerFormData(_ offer: Offer) -> FormData {
        var form = FormData()
        var pairs: [(String, String)] = [("name", offer.name), ("priority", String(offer.priority ?? 0))]
        pairs += offer.placements.map { ("placements", $0) }
        for locale in ["en", "he"] {
            pairs += [("content.\(locale).title", offer.content[locale]?.title ?? ""), ("content.\(locale).body", offer.content[locale]?.body ?? "")]
        }
        pairs += [("segment_id", offer.segmentId ?? ""), ("purpose", offer.purpose ?? ""), ("incentive_pool", offer.incentivePool ?? ""),
                  ("valid_from", localValue(offer.validFrom)), ("valid_until", localValue(offer.validUntil)),
                  ("cap_per_person", offer.capPerPerson.map(String.init) ?? ""), ("cap_total", offer.capTotal.map(String.init) ?? ""),
                  ("route.queue", offer.route?.queue ?? ""), ("route.article", offer.route?.article ?? ""), ("route.advisor", offer.route?.advisor ?? "")]
        form.pairs = pairs
        return form
    }

    /// Builds the offer from the form and creates it (`id` nil) or changes it, through the store
    /// functions of `POST /v1/offers` and `PUT /v1/offers/{id}`.
    func saveOffer(_ visit: Visit, id: String?) async throws -> Response {
        let form = visit.form
        let t = visit.t
        var errors = [FieldError]()
        var body: [String: Any] = ["name": form.first("name").trimmingCharacters(in: .whitespacesAndNewlines), "placements": form.all("placements")]
        var content: [String: Any] = [:]
        for locale in ["en", "he"] {
            let title = form.first("content.\(locale).title").trimmingCharacters(in: .whitespacesAndNewlines)
            let text = form.first("content.\(locale).body").trimmingCharacters(in: .whitespacesAndNewlines)
            if !title.isEmpty || !text.isEmpty { content[locale] = ["title": title, "body": text] }
        }
        body["content"] = content
        for key in ["segment_id", "purpose", "incentive_pool"] {
            let text = form.first(key).trimmingCharacters(in: .whitespaces)
            if !text.isEmpty { body[key] = text }
        }
        for key in ["valid_from", "valid_until"] {
            if let time = Self.rfc3339(fromLocal: form.first(key)) { body[key] = time }
        }
        for key in ["priority", "cap_per_person", "cap_total"] {
            let text = form.first(key).trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if let number = Int(text) { body[key] = number } else { errors.append(FieldError(key, t["actWholeNumber"]!)) }
        }
        var route: [String: String] = [:]
        for key in ["queue", "article", "advisor"] {
            let text = form.first("route.\(key)").trimmingCharacters(in: .whitespaces)
            if !text.isEmpty { route[key] = text }
        }
        if !route.isEmpty { body["route"] = route }
        if !errors.isEmpty {
            return try await offerForm(visit, editing: id, form: form, errors: errors, status: .unprocessableContent)
        }
        let input = try JSONDecoder().decode(Offer.self, from: JSONSerialization.data(withJSONObject: body))
        do {
            if let id { _ = try await store.updateOffer(id, input, by: visit.principal) } else { _ = try await store.createOffer(input, by: visit.principal) }
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            return try await offerForm(visit, editing: id, form: form, errors: error.errors.isEmpty ? [FieldError("form", error.detail)] : error.errors,
                                       status: .unprocessableContent)
        }
        return redirect("/console/offers?done=\(id == nil ? "created" : "updated")")
    }

    // MARK: - Campaigns

    func campaignsPage(_ visit: Visit) async throws -> Response {
        let t = visit.t
        let campaigns = try await store.campaigns(by: visit.principal)
        let segmentNames = try await segmentNames()
        let rows: [[String: Any]] = campaigns.prefix(200).map { campaign in
            [
                "id": campaign.id, "name": campaign.name, "segment": segmentNames[campaign.segmentId] ?? campaign.segmentId, "purpose": purposeName(campaign.purpose, visit),
                "status": t["actCampaignStatus.\(campaign.status.rawValue)"] ?? campaign.status.rawValue, "statusKey": campaign.status.rawValue,
                "scheduled": Self.time(campaign.scheduledAt), "sent": Self.grouped(campaign.stats.sent), "skipped": Self.grouped(campaign.stats.skipped),
                "created": Self.time(campaign.createdAt),
            ]
        }
        return render("console/activation_campaigns", visit.language, path: "/console/campaigns", visit: visit, [
            "title": t["navCampaigns"]!, "campaigns": rows, "hasCampaigns": !rows.isEmpty, "canWrite": visit.principal.has(.write),
            "truncated": campaigns.count > 200,
        ])
    }

    /// Saved segments' names by id, without counting them (a page that only names segments should not
    /// pay one index evaluation per segment); a campaign's audience is chosen by name.
    func segmentNames() async throws -> [String: String] {
        try await store.database.read { connection in
            Dictionary(try connection.query("SELECT id, name FROM segments ORDER BY name LIMIT 1000", []).map { ($0.text(0), $0.text(1)) },
                       uniquingKeysWith: { a, _ in a })
        }
    }

    static let defaultCampaignText = "{{#blocks}}* {{title}}: {{body}}\n{{/blocks}}"
    static let defaultCampaignHTML = "<html><body>\n{{#blocks}}<h2>{{title}}</h2>\n<p>{{body}}</p>\n{{/blocks}}\n</body></html>"

    func campaignFieldsets(_ visit: Visit, _ form: FormData) async throws -> [ActivationFieldset] {
        let t = visit.t
        let registry = store.registry
        let fresh = form.pairs.isEmpty
        func value(_ name: String, _ fallback: String = "") -> String { fresh ? fallback : form.first(name) }
        let segments = try await segmentNames().sorted { $0.value < $1.value }
        let purposes = visit.principal.team.purposes.sorted()
        let choiceFields = registry.fields.values.filter { $0.type.hasOptions }.map(\.key).sorted()
        let interestOptions = registry.fields["interests"]?.options?.joined(separator: ", ") ?? ""
        var sets = [
            ActivationFieldset(legend: t["actCampaignBasics"]!, fields: [
                ActivationField(name: "name", label: t["actCampaignName"]!, value: value("name"), required: true),
                ActivationField(name: "purpose", label: t["purposeLabel"]!, kind: .select, value: value("purpose", purposes.contains("newsletter") ? "newsletter" : purposes.first ?? ""),
                                hint: t["actCampaignPurposeHint"]!, options: purposes.map { ($0, purposeName($0, visit)) }),
                ActivationField(name: "segment_id", label: t["actAudience"]!, kind: .select, value: value("segment_id"), hint: t["actAudienceHint"]!,
                                options: [("", t["actChooseSegment"]!)] + segments.map { ($0.key, $0.value) }),
                ActivationField(name: "interest_field", label: t["actInterestField"]!, kind: .select, value: value("interest_field", "interests"),
                                hint: t["actInterestFieldHint"]!, options: choiceFields.map { ($0, registry.fields[$0].map { $0.labels[visit.language.code] ?? $0.labels["en"] ?? $0.key } ?? $0) }),
                ActivationField(name: "default_locale", label: t["actDefaultLocale"]!, kind: .select, value: value("default_locale", "en"),
                                hint: t["actDefaultLocaleHint"]!, options: [("en", "English"), ("he", "עברית")]),
            ], columns: true),
        ]
        for (locale, languageName) in [("en", t["actEnglish"]!), ("he", t["actHebrew"]!)] {
            sets.append(ActivationFieldset(legend: t["actContentIn"]!.replacingOccurrences(of: "%1", with: languageName), intro: t["actContentIntro"]!, fields: [
                ActivationField(name: "content.\(locale).subject", label: t["actSubject"]!, value: value("content.\(locale).subject")),
                ActivationField(name: "content.\(locale).text", label: t["actTextTemplate"]!, kind: .textarea, value: value("content.\(locale).text", Self.defaultCampaignText),
                                rows: 4, leftToRight: true),
                ActivationField(name: "content.\(locale).html", label: t["actHTMLTemplate"]!, kind: .textarea, value: value("content.\(locale).html", Self.defaultCampaignHTML),
                                hint: t["actTemplateHint"]!, rows: 6, leftToRight: true),
                ActivationField(name: "fallback.\(locale).title", label: t["actFallbackTitle"]!, value: value("fallback.\(locale).title")),
                ActivationField(name: "fallback.\(locale).body", label: t["actFallbackBody"]!, kind: .textarea, value: value("fallback.\(locale).body"), rows: 2),
            ], optional: locale == "he"))
        }
        for index in 0..<Self.campaignFormBlocks {
            let p = "blocks[\(index)]"
            sets.append(ActivationFieldset(legend: t["actBlock"]!.replacingOccurrences(of: "%1", with: String(index + 1)), intro: index == 0 ? t["actBlockIntro"]! : nil, fields: [
                ActivationField(name: "\(p).key", label: t["actBlockKey"]!, value: value("\(p).key"), leftToRight: true),
                ActivationField(name: "\(p).interests", label: t["actBlockInterests"]!, value: value("\(p).interests"),
                                hint: t["actBlockInterestsHint"]!.replacingOccurrences(of: "%1", with: interestOptions), leftToRight: true),
                ActivationField(name: "\(p).content.en.title", label: t["actTitleEn"]!, value: value("\(p).content.en.title")),
                ActivationField(name: "\(p).content.he.title", label: t["actTitleHe"]!, value: value("\(p).content.he.title")),
                ActivationField(name: "\(p).content.en.body", label: t["actBodyEn"]!, kind: .textarea, value: value("\(p).content.en.body"), rows: 2),
                ActivationField(name: "\(p).content.he.body", label: t["actBodyHe"]!, kind: .textarea, value: value("\(p).content.he.body"), rows: 2),
            ], columns: true, optional: index > 0))
        }
        return sets
    }

    func campaignForm(_ visit: Visit, form: FormData = FormData(), errors: [FieldError] = [], status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        var fieldsets = try await campaignFieldsets(visit, form)
        let unplaced = attach(errors, to: &fieldsets, visit)
        return activationForm(visit, path: "/console/campaigns/new", title: t["actNewCampaign"]!, intro: t["actNewCampaignIntro"]!,
                              back: ("/console/campaigns", t["navCampaigns"]!), action: "/console/campaigns/new", submit: t["actCreateCampaign"]!,
                              fieldsets: fieldsets, formErrors: unplaced, status: status)
    }

    /// The campaign the form describes. A language is included when anything of it was filled in (or it is the default).
    static func campaignInput(_ form: FormData) -> CampaignInput {
        func text(_ name: String) -> String { form.first(name).replacingOccurrences(of: "\r\n", with: "\n") }
        func trimmed(_ name: String) -> String { text(name).trimmingCharacters(in: .whitespacesAndNewlines) }
        let defaultLocale = trimmed("default_locale")
        var content = [String: CampaignContent]()
        var fallback = [String: CampaignBlockText]()
        for locale in ["en", "he"] {
            let subject = trimmed("content.\(locale).subject")
            let fallbackTitle = trimmed("fallback.\(locale).title"), fallbackBody = trimmed("fallback.\(locale).body")
            // The prefilled templates alone do not make a language: a subject or a fallback does.
            guard locale == defaultLocale || !subject.isEmpty || !fallbackTitle.isEmpty || !fallbackBody.isEmpty else { continue }
            content[locale] = CampaignContent(subject: subject, text: text("content.\(locale).text"), html: text("content.\(locale).html"))
            if !fallbackTitle.isEmpty || !fallbackBody.isEmpty { fallback[locale] = CampaignBlockText(title: fallbackTitle, body: fallbackBody) }
        }
        var blocks = [CampaignBlock]()
        for index in 0..<campaignFormBlocks {
            let p = "blocks[\(index)]"
            let key = trimmed("\(p).key")
            let interests = trimmed("\(p).interests").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var words = [String: CampaignBlockText]()
            for locale in ["en", "he"] {
                let title = trimmed("\(p).content.\(locale).title"), body = trimmed("\(p).content.\(locale).body")
                if !title.isEmpty || !body.isEmpty { words[locale] = CampaignBlockText(title: title, body: body) }
            }
            if key.isEmpty && interests.isEmpty && words.isEmpty { continue }
            blocks.append(CampaignBlock(key: key, interests: interests, content: words))
        }
        return CampaignInput(name: trimmed("name"), purpose: trimmed("purpose"), segmentId: trimmed("segment_id"), interestField: trimmed("interest_field"),
                             defaultLocale: defaultLocale, content: content, blocks: blocks, fallback: fallback)
    }

    /// Creates a campaign with the same checks as `POST /v1/campaigns`: template problems and the
    /// registry's, all shown next to their fields; nothing is saved while any remains.
    func createCampaign(_ visit: Visit) async throws -> Response {
        let input = Self.campaignInput(visit.form)
        var errors = CampaignRenderer.templateProblems(input)
        errors += store.campaignProblems(input, by: visit.principal)
        if input.segmentId.isEmpty { errors.append(FieldError("segment_id", visit.t["actChooseAudience"]!)) }
        if !errors.isEmpty {
            return try await campaignForm(visit, form: visit.form, errors: Self.unique(errors), status: .unprocessableContent)
        }
        do {
            guard case .fresh(let campaign) = try await store.createCampaign(input, by: visit.principal) else { return redirect("/console/campaigns") }
            return redirect("/console/campaigns/\(campaign.id)?done=created")
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            return try await campaignForm(visit, form: visit.form, errors: error.errors.isEmpty ? [FieldError("form", error.detail)] : error.errors, status: .unprocessableContent)
        }
    }

    static func unique(_ errors: [FieldError]) -> [FieldError] {
        var seen = Set<String>()
        return errors.filter { seen.insert("\($0.field)\u{0}\($0.message)").inserted }
    }

    /// A campaign the team may see. One of a purpose the team lacks is a 403 page naming the purpose
    /// (the API answers 404, so as not to reveal it; an operator is told what their team lacks).
    func visibleCampaign(_ id: String, _ visit: Visit) async throws -> Result<Campaign, ForbiddenPage> {
        let campaign = try await store.campaign(id, by: nil)
        guard PurposeGate.teamMayUse(visit.principal.team, purpose: campaign.purpose) else {
            return .failure(ForbiddenPage(response: forbidden(visit, "forbiddenPurpose", purposeName(campaign.purpose, visit))))
        }
        return .success(try await store.campaign(id, by: visit.principal))
    }

    struct ForbiddenPage: Error { var response: Response }

    /// What the campaign page shows besides the campaign: a preview, and the forms' values and errors.
    struct CampaignPageState {
        var done: String?
        var query = ""
        var previewLocale = ""
        var preview: CampaignRoutes.Preview?
        var queryError: String?
        var to = ""
        var testLocale = ""
        var toError: String?
        var sendAt = ""
        var sendAtError: String?
        var status: HTTPResponse.Status = .ok
    }

    func campaignPage(_ id: String, _ visit: Visit, done: String? = nil) async throws -> Response {
        var state = CampaignPageState()
        state.done = done
        return try await campaignPage(id, visit, state)
    }

    func campaignPage(_ id: String, _ visit: Visit, _ state: CampaignPageState) async throws -> Response {
        let t = visit.t
        let campaign: Campaign
        switch try await visibleCampaign(id, visit) {
        case .failure(let page): return page.response
        case .success(let found): campaign = found
        }
        let segmentName = try await segmentNames()[campaign.segmentId] ?? campaign.segmentId
        let canWrite = visit.principal.has(.write)
        let schedulable = campaign.status == .draft || campaign.status == .scheduled
        let locales = campaign.content.keys.sorted()
        func localeChoices(_ selected: String, auto: Bool) -> [[String: Any]] {
            (auto ? [["value": "", "label": t["actLocaleAuto"]!, "selected": selected.isEmpty]] : [])
                + locales.map { ["value": $0, "label": $0 == "he" ? "עברית" : "English", "selected": $0 == selected] }
        }
        let reasons = campaign.stats.skippedReasons.sorted { $0.key < $1.key }.map { "\(t["actReason.\($0.key)"] ?? $0.key): \($0.value)" }
        var context: [String: Any] = [
            "title": campaign.name, "id": campaign.id, "name": campaign.name, "purpose": purposeName(campaign.purpose, visit), "segment": segmentName,
            "status": t["actCampaignStatus.\(campaign.status.rawValue)"] ?? campaign.status.rawValue, "statusKey": campaign.status.rawValue,
            "scheduled": Self.time(campaign.scheduledAt), "hasScheduled": campaign.scheduledAt != nil, "created": Self.time(campaign.createdAt),
            "locales": locales.map { $0 == "he" ? "עברית" : "English" }.joined(separator: ", "), "blocks": campaign.blocks.map { ["key": $0.key, "interests": $0.interests.joined(separator: ", ")] },
            "hasBlocks": !campaign.blocks.isEmpty,
            "sent": Self.grouped(campaign.stats.sent), "skipped": Self.grouped(campaign.stats.skipped), "failed": Self.grouped(campaign.stats.failed),
            "pending": Self.grouped(campaign.stats.pending), "skippedReasons": reasons.joined(separator: "; "), "hasSkippedReasons": !reasons.isEmpty,
            "note": campaign.note ?? "", "hasNote": campaign.note != nil,
            "canWrite": canWrite, "canSchedule": canWrite && schedulable,
            "query": state.query, "hasQueryError": state.queryError != nil, "queryError": state.queryError ?? "",
            "previewLocales": localeChoices(state.previewLocale, auto: true), "testLocales": localeChoices(state.testLocale.isEmpty ? campaign.defaultLocale : state.testLocale, auto: false),
            "to": state.to, "hasToError": state.toError != nil, "toError": state.toError ?? "",
            "sendAt": state.sendAt.isEmpty ? Self.localValue(campaign.scheduledAt) : state.sendAt, "hasSendAtError": state.sendAtError != nil, "sendAtError": state.sendAtError ?? "",
            "hasDone": state.done != nil, "done": state.done.map { t["actDone.\($0)"] ?? $0 } ?? "",
            "auditNote": t["actPreviewAudit"]!.replacingOccurrences(of: "%1", with: purposeName(campaign.purpose, visit)),
            "hasPreview": state.preview != nil,
        ]
        if let preview = state.preview {
            var view: [String: Any] = ["wouldSend": preview.wouldSend]
            if preview.wouldSend {
                let headers = ["From", "To", "Subject", "List-Unsubscribe"].compactMap { name in preview.headers[name].map { ["name": name, "value": $0] } }
                let text = preview.parts.first { $0.contentType.hasPrefix("text/plain") }?.body ?? ""
                let html = preview.parts.first { $0.contentType.hasPrefix("text/html") }?.body ?? ""
                view["subject"] = preview.subject ?? ""
                view["headers"] = headers
                view["text"] = text
                view["html"] = html
                view["locale"] = preview.locale ?? ""
                view["frame"] = "/console/campaigns/\(campaign.id)/preview/\(preview.subjectId)?locale=\(preview.locale ?? "")"
                // Blocks by their title in the language previewed (the key when a block has none).
                let titles = preview.blocks.map { key in
                    campaign.blocks.first { $0.key == key }.flatMap { $0.content[preview.locale ?? campaign.defaultLocale]?.title ?? $0.content[campaign.defaultLocale]?.title } ?? key
                }
                view["chosen"] = preview.usedFallback ? t["actUsedFallback"]! : t["actUsedBlocks"]!.replacingOccurrences(of: "%1", with: titles.joined(separator: ", "))
            } else {
                let reason = preview.skippedReason ?? ""
                view["skipped"] = t["actSkipped"]!.replacingOccurrences(of: "%1", with: t["actReason.\(reason)"] ?? reason)
            }
            context["preview"] = view
        }
        return render("console/activation_campaign", visit.language, path: "/console/campaigns/\(campaign.id)", status: state.status, visit: visit, context)
    }

    /// Finds the person as the People page does (keyed-hash lookup, audited), then previews through
    /// `CampaignRoutes.preview`: the send-time purpose gate, audited as `campaign.preview`.
    func previewCampaign(_ id: String, _ visit: Visit, api: CampaignRoutes) async throws -> Response {
        let t = visit.t
        var state = CampaignPageState()
        state.query = visit.form.first("query").trimmingCharacters(in: .whitespacesAndNewlines)
        state.previewLocale = visit.form.first("locale")
        let campaign: Campaign
        switch try await visibleCampaign(id, visit) {
        case .failure(let page): return page.response
        case .success(let found): campaign = found
        }
        func again(_ message: String, _ status: HTTPResponse.Status) async throws -> Response {
            state.queryError = message
            state.status = status
            return try await campaignPage(id, visit, state)
        }
        guard !state.query.isEmpty, state.query.count <= 320 else { return try await again(t["queryRequired"]!, .unprocessableContent) }
        let byEmail = state.query.contains("@")
        if byEmail, !SubjectInput.looksLikeEmail(state.query) { return try await again(t["queryNotEmail"]!, .unprocessableContent) }
        guard let subject = try await store.findSubject(externalId: byEmail ? nil : state.query, email: byEmail ? state.query : nil, by: visit.principal),
              subject.status != .erased
        else { return try await again(t["noMatch"]!, .notFound) }
        let locale = state.previewLocale.isEmpty ? nil : state.previewLocale
        do {
            state.preview = try await api.preview(campaign, CampaignRoutes.PreviewInput(subjectId: subject.id, locale: locale), by: visit.principal)
        } catch let error as CandorError where error.kind == .validation {
            return try await again(error.errors.map { activationMessage($0.message, visit) }.joined(separator: " "), .unprocessableContent)
        }
        return try await campaignPage(id, visit, state)
    }

    /// The HTML part of a preview as its own document, for the page's sandboxed frame: it runs no
    /// script, loads nothing remote, and may be framed by the console only.
    func previewFrame(_ id: String, subjectId: String, locale: String?, _ visit: Visit, api: CampaignRoutes) async throws -> Response {
        let campaign: Campaign
        switch try await visibleCampaign(id, visit) {
        case .failure(let page): return page.response
        case .success(let found): campaign = found
        }
        let preview = try await api.preview(campaign, CampaignRoutes.PreviewInput(subjectId: subjectId, locale: locale), by: visit.principal)
        let html = preview.parts.first { $0.contentType.hasPrefix("text/html") }?.body ?? ""
        var response = Response.html(html)
        response.headers[.contentSecurityPolicy] = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// A test send through `CampaignRoutes.testSend` (sample content only, never a real person's data).
    func testSendCampaign(_ id: String, _ visit: Visit, api: CampaignRoutes) async throws -> Response {
        let t = visit.t
        var state = CampaignPageState()
        state.to = visit.form.first("to").trimmingCharacters(in: .whitespacesAndNewlines)
        state.testLocale = visit.form.first("locale")
        let campaign: Campaign
        switch try await visibleCampaign(id, visit) {
        case .failure(let page): return page.response
        case .success(let found): campaign = found
        }
        do {
            let result = try await api.testSend(campaign, CampaignRoutes.TestSendInput(to: state.to, locale: state.testLocale.isEmpty ? nil : state.testLocale),
                                                by: visit.principal)
            if result.delivered { return redirect("/console/campaigns/\(id)?done=testSent") }
            state.toError = t["actTestNotSent"]!.replacingOccurrences(of: "%1", with: result.detail)
            state.status = .badGateway
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            if error.errors.contains(where: { $0.field == "smtp_host" }) {
                state.toError = t["actNoSMTP"]!
                state.status = .conflict
            } else {
                state.toError = error.errors.map { $0.field == "to" ? t["actBadAddress"]! : activationMessage($0.message, visit) }.joined(separator: " ")
                state.status = .unprocessableContent
            }
        }
        return try await campaignPage(id, visit, state)
    }

    /// Schedules as `POST /v1/campaigns/{id}/schedule` does (a time in the past means now).
    func scheduleCampaign(_ id: String, _ visit: Visit) async throws -> Response {
        let t = visit.t
        var state = CampaignPageState()
        state.sendAt = visit.form.first("send_at").trimmingCharacters(in: .whitespaces)
        switch try await visibleCampaign(id, visit) {
        case .failure(let page): return page.response
        case .success: break
        }
        guard let text = Self.rfc3339(fromLocal: state.sendAt), let at = Timestamp.parse(text) else {
            state.sendAtError = t["actBadTime"]!
            state.status = .unprocessableContent
            return try await campaignPage(id, visit, state)
        }
        do {
            _ = try await store.scheduleCampaign(id, at: max(at, store.currentMillis), by: visit.principal)
        } catch let error as CandorError where error.kind == .conflict || error.kind == .validation {
            state.sendAtError = error.kind == .conflict ? t["actCannotSchedule"]! : error.errors.map { activationMessage($0.message, visit) }.joined(separator: " ")
            state.status = error.kind == .conflict ? .conflict : .unprocessableContent
            return try await campaignPage(id, visit, state)
        }
        return redirect("/console/campaigns/\(id)?done=scheduled")
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

extension ConsoleStrings {
    /// The activation pages' words.
    static let activationEnglish: [String: String] = [
        "actBack": "Back", "actFormErrors": "Nothing was saved. Correct the fields marked below.",
        "actEnglish": "English", "actHebrew": "Hebrew", "actUTC": "Date and time in UTC.", "actWholeNumber": "Enter a whole number.",
        // Segments
        "actSegmentsIntro": "A segment is a rule over what people declared and consented to. Counts come from the in-memory index and are live; members are listed only through the API, for a purpose.",
        "actNewSegmentButton": "New segment", "actNewSegment": "New segment", "actColName": "Name", "actColRule": "Rule", "actColCount": "People now",
        "actColUsedBy": "Used by offers", "actColCreated": "Created", "actNotUsed": "Not used yet", "actNoSegments": "No segments yet. Write a rule to see how many people it selects, then save it.",
        "actTruncated": "Only the first 200 are shown.",
        "actNewSegmentIntro": "Write the rule and watch the count: it is checked as you type (or press Check). Nobody's data is shown here, only how many people match.",
        "actSegmentIntro": "The segment's rule and how many people it selects now. Saved segments are not changed in place (offers and campaigns rely on them): try a variation below and save it under a new name.",
        "actSegmentName": "Segment name", "actSegmentNameHint": "Shown to operators only, e.g. “Runners who want offers”.",
        "actRule": "Rule", "actRuleHint": "For example: interests has \"running\" and consent(\"offers\"). Errors point at the line and column.",
        "actCheck": "Check", "actSave": "Save segment", "actRuleIdle": "Write a rule, then check it.", "actRuleCount": "%1 people match now.",
        "actRuleError": "Line %1, column %2: %3", "actRuleChecking": "Checking…", "actRuleFailed": "The rule could not be checked. Press Check to try again.",
        "actExamples": "Rule language and examples", "actKnownFields": "Fields", "actKnownPurposes": "Purposes for consent(…)",
        "actSavedDone": "Segment saved.", "actVariation": "Try a variation", "actEditorHeading": "Rule editor", "actCount": "People now", "actUsedBy": "Used by offers",
        // Offers
        "actOffersIntro": "The offer catalog: what each placement can show, to whom and until when. Decisions pick eligible offers by priority, with the reason shown to the person.",
        "actNewOfferButton": "New offer", "actNewOffer": "New offer",
        "actNewOfferIntro": "An offer with a segment is personalized and names the purpose it uses data for; without one it is generic and is also what people in the holdout see.",
        "actEditOffer": "Change the offer", "actEditOfferIntro": "Every setting can change; the next decision uses the new ones. Issues already counted against its caps stay counted.",
        "actSaveOffer": "Save the offer", "actOfferUpdated": "Offer saved: the next decision uses it.", "actEdit": "Edit", "actColActions": "Actions",
        "actColOffer": "Offer", "actColPlacements": "Placements", "actColSegment": "Eligibility", "actColPurpose": "Purpose", "actColWindow": "Valid",
        "actColCaps": "Caps", "actColPriority": "Priority", "actColPool": "Incentive pool", "actNoOffers": "No offers yet. Create one and it can be shown at once.",
        "actByPlacement": "Placements", "actNoOffersHere": "Nothing is offered here yet.", "actOfferCreated": "Offer created.",
        "actEveryone": "Everyone (generic)", "actAlways": "Always", "actLive": "Live", "actNotLive": "Not live now",
        "actCapPerson": "%1 per person", "actCapTotal": "%1 in total",
        "actPlacement.onsite": "On site", "actPlacement.newsletter": "Newsletter", "actPlacement.support": "Support",
        "actPlacementHint.onsite": "Shown by the embed script in a slot the shop's page names.", "actPlacementHint.newsletter": "Content for newsletters.",
        "actPlacementHint.support": "Service routing: the queue, article or advisor to offer.",
        "actOfferBasics": "The offer", "actOfferName": "Internal name", "actOfferNameHint": "Shown to operators only.", "actPlacements": "Placements",
        "actPriority": "Priority", "actPriorityHint": "Higher first among eligible offers.",
        "actOfferWords": "What people read", "actOfferWordsIntro": "Give the words in at least one language; English is used when a page's language is missing.",
        "actTitleEn": "Title (English)", "actTitleHe": "Title (Hebrew)", "actBodyEn": "Text (English)", "actBodyHe": "Text (Hebrew)",
        "actOfferWho": "Who is eligible", "actOfferWhoIntro": "A segment makes the offer personalized: it may rely only on fields that serve the purpose chosen.",
        "actEligibility": "Eligibility segment", "actEveryoneOption": "Everyone (a generic offer)", "actOfferPurposeHint": "Required with a segment.",
        "actNoPurpose": "None", "actOfferLimits": "Validity and caps", "actValidFrom": "Valid from", "actValidUntil": "Valid until",
        "actCapPersonLabel": "Cap per person", "actCapTotalLabel": "Cap in total", "actCapHint": "Empty for no cap.",
        "actPool": "Incentive pool", "actPoolHint": "The key of a code pool, optional.",
        "actRoute": "Service route", "actRouteIntro": "For the support placement: where to send the person. All optional.",
        "actQueue": "Queue", "actArticle": "Article", "actAdvisor": "Advisor", "actCreateOffer": "Create offer",
        // Campaigns
        "actCampaignsIntro": "Newsletters to a segment, for one purpose: each person receives only the blocks matching what they declared. Consent is checked again at send time.",
        "actNewCampaignButton": "New campaign", "actNewCampaign": "New campaign",
        "actNewCampaignIntro": "Subject and templates per language, content blocks tagged with interests, and a fallback for people who declared none of them. Templates are Mustache: {{#blocks}}{{title}} {{body}}{{/blocks}}.",
        "actColCampaign": "Campaign", "actColAudience": "Audience", "actColStatus": "Status", "actColScheduled": "Scheduled", "actColSent": "Sent",
        "actNoCampaigns": "No campaigns of your team's purposes yet.",
        "actCampaignStatus.draft": "Draft", "actCampaignStatus.scheduled": "Scheduled", "actCampaignStatus.sending": "Sending", "actCampaignStatus.completed": "Completed",
        "actCampaignBasics": "The campaign", "actCampaignName": "Name", "actCampaignPurposeHint": "Only your team's purposes; it must be one people consent to.",
        "actAudience": "Audience segment", "actAudienceHint": "People in it who consented to the purpose at send time receive it.", "actChooseSegment": "Choose a segment",
        "actInterestField": "Interest field", "actInterestFieldHint": "Its declared values pick the blocks; it must serve the purpose.",
        "actDefaultLocale": "Default language", "actDefaultLocaleHint": "For people whose language the campaign does not have.",
        "actContentIn": "Content in %1", "actContentIntro": "Leave the subject and fallback empty to send no version in this language.",
        "actSubject": "Subject", "actTextTemplate": "Text template", "actHTMLTemplate": "HTML template",
        "actTemplateHint": "No partials. The footer with the reason and the unsubscribe link is added for you.",
        "actFallbackTitle": "Fallback title", "actFallbackBody": "Fallback text", "actBlock": "Block %1",
        "actBlockIntro": "A block goes to people who declared any of its interests. Leave a block empty to skip it.",
        "actBlockKey": "Key", "actBlockInterests": "Interests", "actBlockInterestsHint": "Option keys separated by commas, from: %1",
        "actCreateCampaign": "Create campaign",
        "actDone.created": "Campaign created as a draft.", "actDone.scheduled": "Campaign scheduled.", "actDone.testSent": "Test message accepted by the mail server.",
        "actLocales": "Languages", "actBlocks": "Blocks", "actStats": "Delivery", "actSentLabel": "Sent", "actSkippedLabel": "Skipped",
        "actFailedLabel": "Failed", "actPendingLabel": "Waiting", "actNoBlocks": "No blocks: everyone gets the fallback.",
        "actPreviewTitle": "Preview for one person", "actPreviewIntro": "Find a person by external id or e-mail address to see exactly what they would receive now.",
        "actPreviewAudit": "A preview reads the person's address and interests for “%1”: it is checked against their consent and recorded in the audit log.",
        "actPreviewButton": "Preview", "actPreviewLocale": "Language", "actLocaleAuto": "The person's own",
        "actPreviewSubject": "Subject", "actPlainText": "Text part", "actHTMLBody": "HTML part", "actHTMLSource": "HTML source", "actFrameTitle": "The e-mail as the person would see it",
        "actUsedBlocks": "Blocks chosen by what they declared: %1", "actUsedFallback": "They declared none of the blocks' interests: the fallback is used.",
        "actSkipped": "This person would not receive the campaign: %1.",
        "actReason.consent_missing": "no consent for the purpose", "actReason.consent_withdrawn": "consent withdrawn", "actReason.consent_expired": "consent expired",
        "actReason.restricted": "processing restricted", "actReason.objected": "objected to direct marketing", "actReason.erased": "erased",
        "actReason.no_email": "no e-mail address",
        "actTestTitle": "Test send", "actTestIntro": "Sends the campaign with sample content (no real person's data) to an address you type. The subject starts with [TEST].",
        "actTestTo": "Send to", "actTestButton": "Send test", "actTestLocale": "Language",
        "actNoSMTP": "No mail server is configured (smtp_host), so nothing can be sent. Previews still work.",
        "actBadAddress": "Enter an e-mail address.", "actTestNotSent": "Not sent: %1",
        "actScheduleTitle": "Schedule", "actScheduleIntro": "The audience and everyone's consent are taken at send time, not now. A time in the past sends at once.",
        "actSendAt": "Send at", "actScheduleButton": "Schedule", "actBadTime": "Enter a date and time.",
        "actCannotSchedule": "The campaign is already sending or completed, so it can no longer be scheduled.",
        "actReadOnly": "Your team may read campaigns but not send or schedule them.",
        "actTemplateError": "is not a valid Mustache template: line %1, column %2: %3",
        "actTemplate.expectedSectionEnd": "a section opened with {{#…}} or {{^…}} is not closed with {{/…}}",
        "actTemplate.sectionCloseNameIncorrect": "a section is closed with another name than it was opened with",
        "actTemplate.unfinishedName": "a tag is not finished: close it with }}",
        "actTemplate.other": "the template cannot be read",
        "actOptional": "optional", "actChooseAudience": "Choose the audience segment.",
        "actMsgLength200": "Must be 1 to 200 characters.", "actMsgLength100": "Must be 1 to 100 characters.",
        "actMsgPlacement": "Tick at least one placement.", "actMsgWords": "Give a title in at least one language.",
        "actMsgOfferPurpose": "An offer with a segment is personalized: choose the purpose it uses data for.",
        "actMsgNameTaken": "Another segment already has this name.", "actMsgAfter": "Must be after “valid from”.",
        "actMsgTime": "Enter a date and time.", "actMsgAtLeastOne": "Must be at least 1.",
        "actMsgEveryLocale": "Needed for every language of the campaign.", "actMsgUniqueKey": "Give each block its own key.",
        "actMsgOneInterest": "Name at least one interest.", "actMsgDefaultLocale": "The default language needs a subject.",
    ]
    static let activationHebrew: [String: String] = [
        "actBack": "חזרה", "actFormErrors": "דבר לא נשמר. תקנו את השדות המסומנים למטה.",
        "actEnglish": "אנגלית", "actHebrew": "עברית", "actUTC": "תאריך ושעה לפי UTC.", "actWholeNumber": "יש להזין מספר שלם.",
        "actSegmentsIntro": "פלח הוא כלל על מה שאנשים מסרו ועל ההסכמות שנתנו. הספירות מגיעות מהאינדקס שבזיכרון ומתעדכנות בזמן אמת; רשימת החברים זמינה רק דרך ה־API, למטרה מסוימת.",
        "actNewSegmentButton": "פלח חדש", "actNewSegment": "פלח חדש", "actColName": "שם", "actColRule": "כלל", "actColCount": "אנשים כעת",
        "actColUsedBy": "בשימוש בהצעות", "actColCreated": "נוצר", "actNotUsed": "עדיין לא בשימוש", "actNoSegments": "אין עדיין פלחים. כתבו כלל כדי לראות כמה אנשים הוא בוחר, ואז שמרו אותו.",
        "actTruncated": "מוצגים רק 200 הראשונים.",
        "actNewSegmentIntro": "כתבו את הכלל וצפו בספירה: הוא נבדק תוך כדי הקלדה (או בלחיצה על „בדיקה”). לא מוצג כאן מידע על אף אדם, רק כמה אנשים מתאימים.",
        "actSegmentIntro": "הכלל של הפלח וכמה אנשים הוא בוחר כעת. פלחים שמורים אינם משתנים במקום (הצעות וקמפיינים נשענים עליהם): נסו וריאציה למטה ושמרו אותה בשם חדש.",
        "actSegmentName": "שם הפלח", "actSegmentNameHint": "מוצג למפעילים בלבד, למשל „רצים שרוצים הצעות”.",
        "actRule": "כלל", "actRuleHint": "לדוגמה: interests has \"running\" and consent(\"offers\"). שגיאות מצביעות על השורה והעמודה.",
        "actCheck": "בדיקה", "actSave": "שמירת הפלח", "actRuleIdle": "כתבו כלל ובדקו אותו.", "actRuleCount": "%1 אנשים מתאימים כעת.",
        "actRuleError": "שורה %1, עמודה %2: %3", "actRuleChecking": "בודק…", "actRuleFailed": "לא ניתן היה לבדוק את הכלל. לחצו על „בדיקה” כדי לנסות שוב.",
        "actExamples": "שפת הכללים ודוגמאות", "actKnownFields": "שדות", "actKnownPurposes": "מטרות עבור consent(…)",
        "actSavedDone": "הפלח נשמר.", "actVariation": "נסו וריאציה", "actEditorHeading": "עורך הכללים", "actCount": "אנשים כעת", "actUsedBy": "בשימוש בהצעות",
        "actOffersIntro": "קטלוג ההצעות: מה כל מיקום יכול להציג, למי ועד מתי. ההחלטות בוחרות הצעות זכאיות לפי עדיפות, והסיבה מוצגת לאדם.",
        "actNewOfferButton": "הצעה חדשה", "actNewOffer": "הצעה חדשה",
        "actNewOfferIntro": "הצעה עם פלח מותאמת אישית ומציינת את המטרה שלשמה היא משתמשת במידע; הצעה בלי פלח היא כללית, וזה גם מה שרואים האנשים בקבוצת הביקורת.",
        "actEditOffer": "שינוי ההצעה", "actEditOfferIntro": "אפשר לשנות כל הגדרה; ההחלטה הבאה משתמשת בחדשות. הנפקות שכבר נספרו מול המגבלות נשארות ספורות.",
        "actSaveOffer": "שמירת ההצעה", "actOfferUpdated": "ההצעה נשמרה: ההחלטה הבאה משתמשת בה.", "actEdit": "עריכה", "actColActions": "פעולות",
        "actColOffer": "הצעה", "actColPlacements": "מיקומים", "actColSegment": "זכאות", "actColPurpose": "מטרה", "actColWindow": "בתוקף",
        "actColCaps": "מגבלות", "actColPriority": "עדיפות", "actColPool": "מאגר תמריצים", "actNoOffers": "אין עדיין הצעות. צרו אחת והיא תוכל להופיע מיד.",
        "actByPlacement": "מיקומים", "actNoOffersHere": "עדיין לא מוצע כאן דבר.", "actOfferCreated": "ההצעה נוצרה.",
        "actEveryone": "כולם (כללית)", "actAlways": "תמיד", "actLive": "פעילה", "actNotLive": "לא פעילה כעת",
        "actCapPerson": "%1 לאדם", "actCapTotal": "%1 בסך הכול",
        "actPlacement.onsite": "באתר", "actPlacement.newsletter": "ניוזלטר", "actPlacement.support": "תמיכה",
        "actPlacementHint.onsite": "מוצגות על ידי סקריפט ההטמעה במשבצת שדף החנות מגדיר.", "actPlacementHint.newsletter": "תוכן לניוזלטרים.",
        "actPlacementHint.support": "ניתוב שירות: התור, המאמר או היועץ שיוצעו.",
        "actOfferBasics": "ההצעה", "actOfferName": "שם פנימי", "actOfferNameHint": "מוצג למפעילים בלבד.", "actPlacements": "מיקומים",
        "actPriority": "עדיפות", "actPriorityHint": "גבוהה יותר קודמת בין ההצעות הזכאיות.",
        "actOfferWords": "מה אנשים קוראים", "actOfferWordsIntro": "כתבו את הטקסט לפחות בשפה אחת; כשאין את שפת הדף, משתמשים באנגלית.",
        "actTitleEn": "כותרת (אנגלית)", "actTitleHe": "כותרת (עברית)", "actBodyEn": "טקסט (אנגלית)", "actBodyHe": "טקסט (עברית)",
        "actOfferWho": "מי זכאי", "actOfferWhoIntro": "פלח הופך את ההצעה למותאמת אישית: היא רשאית להסתמך רק על שדות המשרתים את המטרה שנבחרה.",
        "actEligibility": "פלח זכאות", "actEveryoneOption": "כולם (הצעה כללית)", "actOfferPurposeHint": "חובה כשיש פלח.",
        "actNoPurpose": "ללא", "actOfferLimits": "תוקף ומגבלות", "actValidFrom": "בתוקף מ־", "actValidUntil": "בתוקף עד",
        "actCapPersonLabel": "מגבלה לאדם", "actCapTotalLabel": "מגבלה כוללת", "actCapHint": "ריק = ללא מגבלה.",
        "actPool": "מאגר תמריצים", "actPoolHint": "המפתח של מאגר קודים, לא חובה.",
        "actRoute": "ניתוב שירות", "actRouteIntro": "למיקום התמיכה: לאן לנתב את האדם. הכול לא חובה.",
        "actQueue": "תור", "actArticle": "מאמר", "actAdvisor": "יועץ", "actCreateOffer": "יצירת ההצעה",
        "actCampaignsIntro": "ניוזלטרים לפלח, למטרה אחת: כל אדם מקבל רק את הבלוקים שמתאימים למה שמסר. ההסכמה נבדקת שוב בזמן השליחה.",
        "actNewCampaignButton": "קמפיין חדש", "actNewCampaign": "קמפיין חדש",
        "actNewCampaignIntro": "נושא ותבניות לכל שפה, בלוקי תוכן המתויגים בתחומי עניין, ותוכן חלופי למי שלא מסר אף אחד מהם. התבניות הן Mustache: {{#blocks}}{{title}} {{body}}{{/blocks}}.",
        "actColCampaign": "קמפיין", "actColAudience": "קהל", "actColStatus": "מצב", "actColScheduled": "מתוזמן", "actColSent": "נשלחו",
        "actNoCampaigns": "אין עדיין קמפיינים למטרות של הצוות שלכם.",
        "actCampaignStatus.draft": "טיוטה", "actCampaignStatus.scheduled": "מתוזמן", "actCampaignStatus.sending": "בשליחה", "actCampaignStatus.completed": "הושלם",
        "actCampaignBasics": "הקמפיין", "actCampaignName": "שם", "actCampaignPurposeHint": "רק המטרות של הצוות שלכם; חייבת להיות מטרה שאנשים מסכימים לה.",
        "actAudience": "פלח הקהל", "actAudienceHint": "מי שבפלח והסכים למטרה בזמן השליחה יקבל אותו.", "actChooseSegment": "בחרו פלח",
        "actInterestField": "שדה תחומי העניין", "actInterestFieldHint": "הערכים שנמסרו בו בוחרים את הבלוקים; עליו לשרת את המטרה.",
        "actDefaultLocale": "שפת ברירת המחדל", "actDefaultLocaleHint": "למי שהשפה שלו אינה בקמפיין.",
        "actContentIn": "תוכן ב%1", "actContentIntro": "השאירו את הנושא והתוכן החלופי ריקים כדי לא לשלוח גרסה בשפה זו.",
        "actSubject": "נושא", "actTextTemplate": "תבנית טקסט", "actHTMLTemplate": "תבנית HTML",
        "actTemplateHint": "ללא partials. הכותרת התחתונה עם הסיבה וקישור ההסרה מתווספת אוטומטית.",
        "actFallbackTitle": "כותרת חלופית", "actFallbackBody": "טקסט חלופי", "actBlock": "בלוק %1",
        "actBlockIntro": "בלוק נשלח למי שמסר אחד מתחומי העניין שלו. השאירו בלוק ריק כדי לדלג עליו.",
        "actBlockKey": "מפתח", "actBlockInterests": "תחומי עניין", "actBlockInterestsHint": "מפתחות אפשרויות מופרדים בפסיקים, מתוך: %1",
        "actCreateCampaign": "יצירת הקמפיין",
        "actDone.created": "הקמפיין נוצר כטיוטה.", "actDone.scheduled": "הקמפיין תוזמן.", "actDone.testSent": "הודעת הבדיקה התקבלה בשרת הדואר.",
        "actLocales": "שפות", "actBlocks": "בלוקים", "actStats": "מסירה", "actSentLabel": "נשלחו", "actSkippedLabel": "דולגו",
        "actFailedLabel": "נכשלו", "actPendingLabel": "ממתינים", "actNoBlocks": "אין בלוקים: כולם מקבלים את התוכן החלופי.",
        "actPreviewTitle": "תצוגה מקדימה לאדם אחד", "actPreviewIntro": "חפשו אדם לפי מזהה חיצוני או כתובת דוא״ל כדי לראות בדיוק מה יקבל כעת.",
        "actPreviewAudit": "תצוגה מקדימה קוראת את הכתובת ותחומי העניין של האדם למטרה „%1”: היא נבדקת מול ההסכמה שלו ונרשמת ביומן הביקורת.",
        "actPreviewButton": "תצוגה מקדימה", "actPreviewLocale": "שפה", "actLocaleAuto": "השפה של האדם",
        "actPreviewSubject": "נושא", "actPlainText": "חלק הטקסט", "actHTMLBody": "חלק ה־HTML", "actHTMLSource": "קוד ה־HTML", "actFrameTitle": "הדוא״ל כפי שהאדם יראה אותו",
        "actUsedBlocks": "בלוקים שנבחרו לפי מה שמסר: %1", "actUsedFallback": "לא מסר אף אחד מתחומי העניין של הבלוקים: נעשה שימוש בתוכן החלופי.",
        "actSkipped": "האדם הזה לא יקבל את הקמפיין: %1.",
        "actReason.consent_missing": "אין הסכמה למטרה", "actReason.consent_withdrawn": "ההסכמה בוטלה", "actReason.consent_expired": "תוקף ההסכמה פג",
        "actReason.restricted": "העיבוד הוגבל", "actReason.objected": "התנגד לשיווק ישיר", "actReason.erased": "נמחק",
        "actReason.no_email": "אין כתובת דוא״ל",
        "actTestTitle": "שליחת בדיקה", "actTestIntro": "שולח את הקמפיין עם תוכן לדוגמה (ללא מידע של אדם אמיתי) לכתובת שתקלידו. הנושא מתחיל ב־[TEST].",
        "actTestTo": "שליחה אל", "actTestButton": "שליחת בדיקה", "actTestLocale": "שפה",
        "actNoSMTP": "לא הוגדר שרת דואר (smtp_host), ולכן אי אפשר לשלוח. תצוגה מקדימה עדיין עובדת.",
        "actBadAddress": "יש להזין כתובת דוא״ל.", "actTestNotSent": "לא נשלח: %1",
        "actScheduleTitle": "תזמון", "actScheduleIntro": "הקהל וההסכמות של כולם נקבעים בזמן השליחה, לא עכשיו. זמן שכבר עבר שולח מיד.",
        "actSendAt": "מועד השליחה", "actScheduleButton": "תזמון", "actBadTime": "יש להזין תאריך ושעה.",
        "actCannotSchedule": "הקמפיין כבר בשליחה או הושלם, ולכן אי אפשר לתזמן אותו.",
        "actReadOnly": "הצוות שלכם רשאי לקרוא קמפיינים אך לא לשלוח או לתזמן אותם.",
        "actTemplateError": "אינה תבנית Mustache תקינה: שורה %1, עמודה %2: %3",
        "actTemplate.expectedSectionEnd": "קטע שנפתח ב־{{#…}} או {{^…}} לא נסגר ב־{{/…}}",
        "actTemplate.sectionCloseNameIncorrect": "קטע נסגר בשם שונה מהשם שבו נפתח",
        "actTemplate.unfinishedName": "תגית לא הושלמה: סגרו אותה ב־}}",
        "actTemplate.other": "לא ניתן לקרוא את התבנית",
        "actOptional": "לא חובה", "actChooseAudience": "בחרו את פלח הקהל.",
        "actMsgLength200": "יש להזין 1 עד 200 תווים.", "actMsgLength100": "יש להזין 1 עד 100 תווים.",
        "actMsgPlacement": "סמנו לפחות מיקום אחד.", "actMsgWords": "כתבו כותרת לפחות בשפה אחת.",
        "actMsgOfferPurpose": "הצעה עם פלח מותאמת אישית: בחרו את המטרה שלשמה היא משתמשת במידע.",
        "actMsgNameTaken": "לפלח אחר כבר יש את השם הזה.", "actMsgAfter": "חייב להיות אחרי „בתוקף מ־”.",
        "actMsgTime": "יש להזין תאריך ושעה.", "actMsgAtLeastOne": "חייב להיות לפחות 1.",
        "actMsgEveryLocale": "נדרש לכל שפה של הקמפיין.", "actMsgUniqueKey": "תנו לכל בלוק מפתח משלו.",
        "actMsgOneInterest": "ציינו לפחות תחום עניין אחד.", "actMsgDefaultLocale": "לשפת ברירת המחדל נדרש נושא.",
    ]
}
