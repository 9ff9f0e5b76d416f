import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's registry pages: Purposes and notices (with the diff of a new version), fields, teams, operators and API keys.
///
/// Every page needs the `admin` role, like `/v1/purposes`, `/v1/fields`, `/v1/teams` and `/v1/keys`, and every
/// change calls the same store function as those routes with the operator's principal, so validation and
/// audit are the API's. Invalid input comes back on the same page, next to its field, with status 422 and
/// nothing saved (the store validates before it writes). Secrets (a new key, a new operator's password)
/// are shown once, in the answer to the POST that made them, under `Cache-Control: no-store`.
extension ConsoleRoutes {
    func addRegistrySetup(to router: Router<CandorRequestContext>) {
        // Purposes and notices
        router.get("console/purposes") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return purposesPage(visit)
            }
        }
        router.post("console/purposes") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await createPurpose(visit)
            }
        }
        router.get("console/purposes/:key") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }.flatMap { ["created", "published"].contains($0) ? $0 : nil }
                return try purposePage(try support.parameter(context, "key"), visit, done: done)
            }
        }
        router.post("console/purposes/:key/notices") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await publishNotice(try support.parameter(context, "key"), visit)
            }
        }
        // Fields
        router.get("console/fields") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("created").map { String($0) }.flatMap { store.registry.fields[$0]?.key }
                return fieldsPage(visit, created: done)
            }
        }
        router.post("console/fields") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await createField(visit)
            }
        }
        // Teams and operators
        router.get("console/teams") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await teamsPage(visit)
            }
        }
        router.post("console/teams") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveTeam(nil, visit)
            }
        }
        router.get("console/teams/:key") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let done = request.uri.queryParameters.get("done").map { String($0) }.flatMap { ["created", "saved", "unlocked"].contains($0) ? $0 : nil }
                return try await teamPage(try support.parameter(context, "key"), visit, done: done)
            }
        }
        router.post("console/teams/:key") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await saveTeam(try support.parameter(context, "key"), visit)
            }
        }
        router.post("console/teams/:key/operators") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await addOperator(try support.parameter(context, "key"), visit)
            }
        }
        router.post("console/teams/:key/operators/:id/unlock") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                let key = try support.parameter(context, "key")
                let account = try await store.unlockOperator(id: try support.parameter(context, "id"), by: visit.principal)
                return redirect("/console/teams/\(account.team == key ? key : account.team)?done=unlocked")
            }
        }
        // API keys
        router.get("console/keys") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin], visit) { return refused }
                let revoked = request.uri.queryParameters.get("revoked").map { String($0) }.flatMap { id in store.registry.keysById[id].flatMap { $0.revokedAt != nil ? $0.name : nil } }
                return try await keysPage(visit, notice: revoked.map { (visit.t["reg.keyRevoked"] ?? "").replacingOccurrences(of: "%1", with: $0) })
            }
        }
        router.post("console/keys") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                return try await createKey(visit)
            }
        }
        router.post("console/keys/:id/revoke") { request, context in
            try await visit(request, context, form: true) { visit in
                if let refused = require([.admin], visit) { return refused }
                let id = try support.parameter(context, "id")
                guard visit.form.first("confirm") == "yes" else {
                    return try await keysPage(visit, status: .unprocessableContent, revokeError: (id, visit.t["reg.confirmRevoke"]!))
                }
                _ = try await store.revokeKey(id: id, by: visit.principal)
                return redirect("/console/keys?revoked=\(id)")
            }
        }
    }

    // MARK: - Shared helpers

    /// Store validation errors by the form input they belong to: `names.en` → `names_en`, `purposes[2]` →
    /// `purposes`; anything the form has no input for goes to `form`. The store speaks English: on a
    /// Hebrew page a Hebrew lead says the value is not valid before the English detail.
    static func formErrors(_ error: CandorError, inputs: Set<String>, _ language: PageLanguage) -> [String: String] {
        var errors = [String: String]()
        let items = error.errors.isEmpty ? [FieldError("form", error.detail)] : error.errors
        for item in items {
            var name = item.field.replacingOccurrences(of: ".", with: "_")
            if let bracket = name.firstIndex(of: "[") { name = String(name[..<bracket]) }
            // A whole locale's problem (`notice.en`: too long) belongs to its first input.
            if !inputs.contains(name), inputs.contains(name + "_why") { name += "_why" }
            // A part of an input (`option_labels.red`) belongs to that input.
            if !inputs.contains(name), let whole = inputs.filter({ name.hasPrefix($0 + "_") }).max(by: { $0.count < $1.count }) { name = whole }
            if !inputs.contains(name) { name = "form" }
            let message = ConsoleRoutes.inlineMessage(item.message, language)
            errors[name] = errors[name].map { $0 + "; " + item.message } ?? message
        }
        return errors
    }

    /// A page context's error entries: `error_<input>` for each message, and `hasErrors`.
    static func addErrors(_ errors: [String: String], to context: inout [String: Any]) {
        for (input, message) in errors { context["error_\(input)"] = message }
        if !errors.isEmpty { context["hasErrors"] = true }
    }

    /// The submitted values, to fill the form in again after an error.
    static func values(_ form: FormData) -> [String: String] {
        Dictionary(form.pairs.filter { $0.0 != "csrf" }, uniquingKeysWith: { first, _ in first })
    }

    /// A purpose's name in the page's language.
    static func name(_ purpose: Purpose, _ language: PageLanguage) -> String {
        purpose.names[language.code] ?? purpose.names["en"] ?? purpose.key
    }

    /// The purposes as check boxes, ticked when `chosen` holds them.
    func purposeChoices(_ chosen: Set<String>, _ language: PageLanguage) -> [[String: Any]] {
        store.registry.purposes.values.sorted { $0.key < $1.key }.map {
            ["key": $0.key, "name": Self.name($0, language), "checked": chosen.contains($0.key)] as [String: Any]
        }
    }

    /// The roles as check boxes with what each allows.
    func roleChoices(_ chosen: Set<String>, _ t: [String: String]) -> [[String: Any]] {
        Role.allCases.map { ["key": $0.rawValue, "label": t["reg.role.\($0.rawValue)"]!, "hint": t["reg.roleHint.\($0.rawValue)"]!, "checked": chosen.contains($0.rawValue)] as [String: Any] }
    }

    // MARK: - Purposes

    /// The inputs of the new-purpose form.
    static let purposeInputs: Set<String> = [
        "key", "names_en", "names_he", "legal_basis", "retention_days", "dpv_term", "is_marketing",
        "notice_en_title", "notice_en_why", "notice_en_benefit", "notice_he_title", "notice_he_why", "notice_he_benefit",
    ]

    func purposesPage(_ visit: Visit, errors: [String: String] = [:], form: FormData = FormData(), status: HTTPResponse.Status = .ok) -> Response {
        let t = visit.t
        let registry = store.registry
        let rows: [[String: Any]] = registry.purposes.values.sorted { $0.key < $1.key }.map { purpose in
            let notice = registry.currentNotice(of: purpose.key)
            return PortalView.compact([
                "key": purpose.key, "name": Self.name(purpose, visit.language),
                "basis": t["reg.basis.\(purpose.legalBasis.rawValue)"] ?? purpose.legalBasis.rawValue,
                "retention": (t["reg.daysCount"] ?? "%1").replacingOccurrences(of: "%1", with: String(purpose.retentionDays)),
                "dpv": purpose.dpvTerm, "dpvLabel": DPVPurposes.labels[purpose.dpvTerm],
                "consent": purpose.legalBasis.requiresConsent, "marketing": purpose.isMarketing,
                "version": notice.map { String($0.version) },
                "locales": notice.map { $0.texts.keys.sorted { Self.localeOrder($0, $1) }.map { ["code": $0] } },
            ])
        }
        let values = Self.values(form)
        var context: [String: Any] = [
            "title": t["navPurposes"]!, "purposes": rows, "hasPurposes": !rows.isEmpty, "v": values,
            "bases": LegalBasis.allCases.map { ["key": $0.rawValue, "label": t["reg.basis.\($0.rawValue)"]!, "selected": $0.rawValue == (values["legal_basis"] ?? "consent")] },
            "dpvTerms": Self.dpvTerms.map { ["key": $0.key, "label": $0.value, "selected": $0.key == values["dpv_term"]] },
            "marketingChecked": values["is_marketing"] == "yes", "openForm": !errors.isEmpty,
        ]
        Self.addErrors(errors, to: &context)
        return render("console/registry_purposes", visit.language, path: "/console/purposes", status: status, visit: visit, context)
    }

    /// The DPV purpose terms by label, sorted once.
    static let dpvTerms = DPVPurposes.labels.sorted { $0.value < $1.value }

    /// English first, then Hebrew, then any other locale alphabetically.
    static func localeOrder(_ a: String, _ b: String) -> Bool {
        let rank = ["en": 0, "he": 1]
        return (rank[a] ?? 2, a) < (rank[b] ?? 2, b)
    }

    /// The notice texts typed into a form (`<prefix>_<locale>_title` …); a locale whose three inputs are all
    /// empty is left out, so Hebrew is optional. A half-filled locale is passed on for the store to refuse.
    static func noticeTexts(_ form: FormData, prefix: String) -> [String: NoticeText] {
        var texts = [String: NoticeText]()
        for locale in Locales.supported {
            let parts = ["title", "why", "benefit"].map { form.first("\(prefix)_\(locale)_\($0)").trimmingCharacters(in: .whitespacesAndNewlines) }
            if parts.allSatisfy(\.isEmpty) { continue }
            texts[locale] = NoticeText(title: parts[0], why: parts[1], benefit: parts[2])
        }
        return texts
    }

    func createPurpose(_ visit: Visit) async throws -> Response {
        let form = visit.form
        let t = visit.t
        var names = ["en": form.first("names_en").trimmingCharacters(in: .whitespacesAndNewlines)]
        let hebrew = form.first("names_he").trimmingCharacters(in: .whitespacesAndNewlines)
        if !hebrew.isEmpty { names["he"] = hebrew }
        let retentionText = form.first("retention_days").trimmingCharacters(in: .whitespaces)
        let retention = Int(retentionText)
        let notice = Self.noticeTexts(form, prefix: "notice")
        let input = PurposeInput(
            key: form.first("key").trimmingCharacters(in: .whitespaces), names: names, legalBasis: form.first("legal_basis"),
            retentionDays: retention ?? 0, dpvTerm: form.first("dpv_term"), isMarketing: form.first("is_marketing") == "yes",
            notice: notice.isEmpty ? nil : notice)
        do {
            if retention == nil {
                // Not a number: say so, together with whatever else the store finds wrong, and write nothing.
                var errors = [String: String]()
                if case .failure(let error) = input.validated(id: "check", createdAt: "") { errors = Self.formErrors(error, inputs: Self.purposeInputs, visit.language) }
                errors["retention_days"] = t["reg.wholeDays"]!
                return purposesPage(visit, errors: errors, form: form, status: .unprocessableContent)
            }
            _ = try await store.createPurpose(input, by: visit.principal)
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            return purposesPage(visit, errors: Self.formErrors(error, inputs: Self.purposeInputs, visit.language), form: form,
                                status: error.kind == .conflict ? .conflict : .unprocessableContent)
        }
        return redirect("/console/purposes/\(input.key)?done=created")
    }

    /// The inputs of the notice form.
    static let noticeInputs: Set<String> = ["texts_en_title", "texts_en_why", "texts_en_benefit", "texts_he_title", "texts_he_why", "texts_he_benefit"]

    /// One purpose with every notice version and the diff of each against the one before it, and the form
    /// for a new version. `preview` is the diff of the typed texts against the current version.
    func purposePage(_ key: String, _ visit: Visit, errors: [String: String] = [:], form: FormData? = nil, preview: [String: NoticeText]? = nil,
                     status: HTTPResponse.Status = .ok, done: String? = nil) throws -> Response {
        let t = visit.t
        let registry = store.registry
        guard let purpose = registry.purposes[key] else { throw CandorError(.notFound, t["reg.noPurpose"]!.replacingOccurrences(of: "%1", with: key)) }
        let versions = (registry.notices[key] ?? []).sorted { $0.version < $1.version }
        var shown = [[String: Any]]()
        for (index, notice) in versions.enumerated() {
            let previous = index > 0 ? versions[index - 1] : nil
            shown.append([
                "version": notice.version, "published": Self.time(notice.createdAt), "hash": notice.contentHash,
                "current": notice.version == purpose.currentNoticeVersion, "first": previous == nil,
                "previousVersion": previous.map { String($0.version) } ?? "",
                "locales": noticeLocales(notice.texts, against: previous?.texts, visit),
            ])
        }
        let current = registry.currentNotice(of: key)
        // The form starts from the current wording, so a new version is an edit of it.
        var values = [String: String]()
        if let form {
            values = Self.values(form)
        } else if let current {
            for (locale, text) in current.texts {
                values["texts_\(locale)_title"] = text.title
                values["texts_\(locale)_why"] = text.why
                values["texts_\(locale)_benefit"] = text.benefit
            }
        }
        var context: [String: Any] = PortalView.compact([
            "title": Self.name(purpose, visit.language), "key": purpose.key, "v": values,
            "names": purpose.names.sorted { Self.localeOrder($0.key, $1.key) }.map { ["locale": $0.key, "name": $0.value] },
            "basis": t["reg.basis.\(purpose.legalBasis.rawValue)"] ?? purpose.legalBasis.rawValue, "consent": purpose.legalBasis.requiresConsent,
            "retention": (t["reg.daysCount"] ?? "%1").replacingOccurrences(of: "%1", with: String(purpose.retentionDays)),
            "dpv": purpose.dpvTerm, "dpvLabel": DPVPurposes.labels[purpose.dpvTerm], "marketing": purpose.isMarketing,
            "created": Self.time(purpose.createdAt),
            "versions": Array(shown.reversed()), "hasVersions": !shown.isEmpty,
            "nextVersion": String((purpose.currentNoticeVersion ?? 0) + 1),
            "done": done.map { t["reg.done.\($0)"] ?? $0 },
        ])
        if let preview {
            context["preview"] = PortalView.compact(["locales": noticeLocales(preview, against: current?.texts ?? [:], visit),
                                                     "against": current.map { String($0.version) }, "unchanged": preview == current?.texts])
        }
        Self.addErrors(errors, to: &context)
        return render("console/registry_purpose", visit.language, path: "/console/purposes/\(key)", status: status, visit: visit, context)
    }

    /// A notice's texts per locale, each part with its diff against `previous` (nil: the first version, shown plain).
    func noticeLocales(_ texts: [String: NoticeText], against previous: [String: NoticeText]?, _ visit: Visit) -> [[String: Any]] {
        let t = visit.t
        let added = t["reg.added"]!, removed = t["reg.removed"]!
        return texts.keys.sorted { Self.localeOrder($0, $1) }.map { locale in
            let text = texts[locale]!
            let before = previous?[locale]
            let parts: [(String, String, String?)] = [
                ("regNoticeTitle", text.title, before?.title), ("regNoticeWhy", text.why, before?.why), ("regNoticeBenefit", text.benefit, before?.benefit),
            ]
            var changed = false
            let rows: [[String: Any]] = parts.map { label, now, then in
                var html = WordDiff.escape(now)
                if previous != nil {
                    let changes = WordDiff.diff(then ?? "", now)
                    if !WordDiff.isUnchanged(changes) { changed = true }
                    html = WordDiff.html(changes, addedLabel: added, removedLabel: removed)
                }
                return ["label": t[label]!, "html": html]
            }
            return [
                "locale": locale, "localeName": t["reg.locale.\(locale)"] ?? locale, "dir": locale == "he" ? "rtl" : "ltr",
                "parts": rows, "changed": changed, "unchanged": previous != nil && !changed,
                "newLocale": previous != nil && before == nil,
            ]
        }
    }

    /// Previews or publishes a new notice version: `action=preview` shows the diff and saves nothing;
    /// `action=publish` saves through the store (which refuses empty texts) and goes back to the purpose.
    func publishNotice(_ key: String, _ visit: Visit) async throws -> Response {
        let form = visit.form
        let t = visit.t
        guard store.registry.purposes[key] != nil else { throw CandorError(.notFound, t["reg.noPurpose"]!.replacingOccurrences(of: "%1", with: key)) }
        let texts = Self.noticeTexts(form, prefix: "texts")
        if form.first("action") == "preview" {
            let problems = NoticeRules.check(texts, path: "texts")
            let errors = problems.isEmpty ? [:] : Self.formErrors(CandorError.invalid(problems), inputs: Self.noticeInputs, visit.language)
            return try purposePage(key, visit, errors: errors, form: form, preview: texts, status: problems.isEmpty ? .ok : .unprocessableContent)
        }
        do {
            _ = try await store.publishNotice(purpose: key, NoticeInput(texts: texts), by: visit.principal)
        } catch let error as CandorError where error.kind == .validation {
            return try purposePage(key, visit, errors: Self.formErrors(error, inputs: Self.noticeInputs, visit.language), form: form, preview: texts, status: .unprocessableContent)
        }
        return redirect("/console/purposes/\(key)?done=published#versions")
    }

    // MARK: - Fields

    static let fieldInputs: Set<String> = [
        "key", "labels_en", "labels_he", "type", "options", "option_labels", "purposes", "retention_days", "sensitivity", "minimum", "maximum", "max_length",
    ]

    func fieldsPage(_ visit: Visit, errors: [String: String] = [:], form: FormData = FormData(), status: HTTPResponse.Status = .ok, created: String? = nil) -> Response {
        let t = visit.t
        let registry = store.registry
        let rows: [[String: Any]] = registry.fields.values.sorted { $0.key < $1.key }.map { field in
            var rules = [String]()
            if let minimum = field.minimum { rules.append("≥ \(Self.number(minimum))") }
            if let maximum = field.maximum { rules.append("≤ \(Self.number(maximum))") }
            if let length = field.maxLength { rules.append((t["reg.maxChars"] ?? "%1").replacingOccurrences(of: "%1", with: String(length))) }
            return PortalView.compact([
                "key": field.key, "label": field.labels[visit.language.code] ?? field.labels["en"] ?? field.key,
                "type": t["reg.type.\(field.type.rawValue)"] ?? field.type.rawValue,
                "options": field.options.map { options in options.map { ["key": $0, "label": field.label(ofOption: $0, locale: visit.language.code)] } },
                "purposes": field.purposes.map { key in ["key": key, "name": registry.purposes[key].map { Self.name($0, visit.language) } ?? key] },
                "rules": rules.isEmpty ? nil : rules.joined(separator: ", "),
                "retention": (t["reg.daysCount"] ?? "%1").replacingOccurrences(of: "%1", with: String(field.retentionDays)),
                "special": field.sensitivity == .special, "isNew": field.key == created,
            ])
        }
        let values = Self.values(form)
        var context: [String: Any] = PortalView.compact([
            "title": t["navFields"]!, "fields": rows, "hasFields": !rows.isEmpty, "v": values,
            "types": FieldType.allCases.map { ["key": $0.rawValue, "label": t["reg.type.\($0.rawValue)"]!, "selected": $0.rawValue == (values["type"] ?? "single_choice")] },
            "purposeChoices": purposeChoices(Set(form.all("purposes")), visit.language),
            "specialSelected": values["sensitivity"] == "special", "openForm": !errors.isEmpty,
            "done": created.map { (t["reg.fieldCreated"] ?? "%1").replacingOccurrences(of: "%1", with: $0) },
        ])
        Self.addErrors(errors, to: &context)
        return render("console/registry_fields", visit.language, path: "/console/fields", status: status, visit: visit, context)
    }

    /// A bound as people write it: no ".0" on whole numbers.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    func createField(_ visit: Visit) async throws -> Response {
        let form = visit.form
        let t = visit.t
        var ownErrors = [String: String]()
        func decimal(_ name: String) -> Double? {
            let text = form.first(name).trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { return nil }
            guard let value = Double(text), value.isFinite else { ownErrors[name] = t["reg.notNumber"]!; return nil }
            return value
        }
        func whole(_ name: String, _ message: String) -> Int? {
            let text = form.first(name).trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { return nil }
            guard let value = Int(text) else { ownErrors[name] = t[message]!; return nil }
            return value
        }
        let type = form.first("type")
        // Options one per line: `key` or `key = English label`.
        var options = [String]()
        var optionLabels = [String: [String: String]]()
        for line in form.first("options").split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let option = parts.first, !option.isEmpty else { continue }
            options.append(option)
            if parts.count > 1, !parts[1].isEmpty { optionLabels[option] = ["en": parts[1]] }
        }
        var labels = ["en": form.first("labels_en").trimmingCharacters(in: .whitespacesAndNewlines)]
        let hebrew = form.first("labels_he").trimmingCharacters(in: .whitespacesAndNewlines)
        if !hebrew.isEmpty { labels["he"] = hebrew }
        let input = FieldInput(
            key: form.first("key").trimmingCharacters(in: .whitespaces), type: type,
            options: FieldType(rawValue: type)?.hasOptions == false && options.isEmpty ? nil : options,
            optionLabels: optionLabels.isEmpty ? nil : optionLabels, purposes: form.all("purposes"),
            retentionDays: whole("retention_days", "reg.wholeDays"), sensitivity: form.first("sensitivity").isEmpty ? nil : form.first("sensitivity"),
            labels: labels, minimum: decimal("minimum"), maximum: decimal("maximum"), maxLength: whole("max_length", "reg.wholeNumber"))
        do {
            if !ownErrors.isEmpty {
                var errors = [String: String]()
                if case .failure(let error) = input.validated(id: "check", createdAt: "", purposes: store.registry.purposes, allowSpecialCategory: store.allowSpecialCategory) {
                    errors = Self.formErrors(error, inputs: Self.fieldInputs, visit.language)
                }
                errors.merge(ownErrors) { _, own in own }
                return fieldsPage(visit, errors: errors, form: form, status: .unprocessableContent)
            }
            _ = try await store.createField(input, by: visit.principal)
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            var errors = Self.formErrors(error, inputs: Self.fieldInputs, visit.language)
            if let labelsError = errors.removeValue(forKey: "option_labels") { errors["options"] = labelsError }
            return fieldsPage(visit, errors: errors, form: form, status: error.kind == .conflict ? .conflict : .unprocessableContent)
        }
        return redirect("/console/fields?created=\(input.key)#field-\(input.key)")
    }

    // MARK: - Teams and operators

    static let teamInputs: Set<String> = ["key", "name", "purposes", "roles"]

    func teamsPage(_ visit: Visit, errors: [String: String] = [:], form: FormData = FormData(), status: HTTPResponse.Status = .ok) async throws -> Response {
        let t = visit.t
        let registry = store.registry
        var counts = [String: Int]()
        for account in try await store.operatorStatuses() { counts[account.account.team, default: 0] += 1 }
        let rows: [[String: Any]] = registry.teams.values.sorted { $0.key < $1.key }.map { team in
            [
                "key": team.key, "name": team.name, "operators": counts[team.key] ?? 0, "own": team.key == visit.principal.team.key,
                "roles": team.roles.map { ["label": t["reg.role.\($0.rawValue)"] ?? $0.rawValue] },
                "purposes": team.purposes.map { key in ["name": registry.purposes[key].map { Self.name($0, visit.language) } ?? key] },
                "noPurposes": team.purposes.isEmpty,
            ] as [String: Any]
        }
        let values = Self.values(form)
        var context: [String: Any] = [
            "title": t["navTeams"]!, "teams": rows, "hasTeams": !rows.isEmpty, "v": values, "openForm": !errors.isEmpty,
            "roleChoices": roleChoices(Set(form.all("roles")), t), "purposeChoices": purposeChoices(Set(form.all("purposes")), visit.language),
        ]
        Self.addErrors(errors, to: &context)
        return render("console/registry_teams", visit.language, path: "/console/teams", status: status, visit: visit, context)
    }

    /// One team: its purposes and roles (with the form that changes them), its operators (last sign-in,
    /// lockout, unlock) and the form that adds one. `newOperator` is shown once, with its password.
    func teamPage(_ key: String, _ visit: Visit, errors: [String: String] = [:], form: FormData? = nil, status: HTTPResponse.Status = .ok,
                  done: String? = nil, newOperator: (Operator, String)? = nil) async throws -> Response {
        let t = visit.t
        guard let team = store.registry.teams[key] else { throw CandorError(.notFound, t["reg.noTeam"]!.replacingOccurrences(of: "%1", with: key)) }
        let operators: [[String: Any]] = try await store.operatorStatuses(team: key).map { status in
            PortalView.compact([
                "id": status.account.id, "name": status.account.name, "email": status.account.email,
                "lastSignIn": status.lastSignInAt.map { Self.time($0) }, "lockedUntil": status.lockedUntil.map { Self.time($0) },
                "you": status.account.id == visit.session.account.id,
            ])
        }
        // The edit form starts from the team as it is; after an error, from what was typed.
        let editing = form?.first("form") == "team"
        let chosenRoles = editing ? Set(form!.all("roles")) : Set(team.roles.map(\.rawValue))
        let chosenPurposes = editing ? Set(form!.all("purposes")) : Set(team.purposes)
        let values = form.map(Self.values) ?? [:]
        var context: [String: Any] = PortalView.compact([
            "title": team.name, "key": team.key, "editName": editing ? values["name"] : team.name, "created": Self.time(team.createdAt),
            "own": team.key == visit.principal.team.key, "operators": operators, "hasOperators": !operators.isEmpty,
            "roleChoices": roleChoices(chosenRoles, t), "purposeChoices": purposeChoices(chosenPurposes, visit.language),
            "roles": team.roles.map { ["label": t["reg.role.\($0.rawValue)"] ?? $0.rawValue] },
            "purposes": team.purposes.map { key in ["name": store.registry.purposes[key].map { Self.name($0, visit.language) } ?? key] },
            "opName": editing ? nil : values["op_name"], "opEmail": editing ? nil : values["op_email"],
            "done": done.map { t["reg.done.\($0)"] ?? $0 },
        ])
        if let (account, password) = newOperator {
            context["newOperator"] = ["name": account.name, "email": account.email, "password": password]
        }
        // The two forms' errors are told apart by prefix: `op_` for the operator form.
        Self.addErrors(errors, to: &context)
        if errors.keys.contains(where: { !$0.hasPrefix("op_") }) { context["teamErrors"] = true }
        return render("console/registry_team", visit.language, path: "/console/teams/\(key)", status: status, visit: visit, context)
    }

    /// Creates a team (`key` nil) or replaces an existing team's name, purposes and roles (`PUT /v1/teams/{key}`).
    func saveTeam(_ key: String?, _ visit: Visit) async throws -> Response {
        let form = visit.form
        let t = visit.t
        let input = TeamInput(key: key ?? form.first("key").trimmingCharacters(in: .whitespaces), name: form.first("name").trimmingCharacters(in: .whitespacesAndNewlines),
                              purposes: form.all("purposes"), roles: form.all("roles"))
        func refuse(_ errors: [String: String], _ status: HTTPResponse.Status) async throws -> Response {
            if let key { return try await teamPage(key, visit, errors: errors, form: form, status: status) }
            return try await teamsPage(visit, errors: errors, form: form, status: status)
        }
        // An administrator who takes `admin` from their own team would lock everyone of it out of these pages.
        if let key, key == visit.principal.team.key, !input.roles.contains(Role.admin.rawValue) {
            return try await refuse(["roles": t["reg.keepAdmin"]!], .unprocessableContent)
        }
        do {
            _ = try await store.saveTeam(input, replace: key != nil, by: visit.principal)
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            return try await refuse(Self.formErrors(error, inputs: Self.teamInputs, visit.language), error.kind == .conflict ? .conflict : .unprocessableContent)
        }
        return redirect("/console/teams/\(input.key)?done=\(key == nil ? "created" : "saved")")
    }

    /// Adds an operator to a team with a generated password, shown once on the page that answers — the
    /// same `OperatorPasswords.createOperator` as `candor admin create`, audited under the administrator.
    func addOperator(_ key: String, _ visit: Visit) async throws -> Response {
        let form = visit.form
        guard store.registry.teams[key] != nil else { throw CandorError(.notFound, visit.t["reg.noTeam"]!.replacingOccurrences(of: "%1", with: key)) }
        let password = OperatorPasswords.generate()
        do {
            let account = try await OperatorPasswords.createOperator(store, email: form.first("op_email"), name: form.first("op_name"), team: key,
                                                                     password: password, cost: config.console.bcryptCost, by: visit.principal)
            return try await teamPage(key, visit, status: .created, newOperator: (account, password))
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            var errors = [String: String]()
            for (input, message) in Self.formErrors(error, inputs: ["email", "name"], visit.language) { errors["op_" + input] = message }
            return try await teamPage(key, visit, errors: errors, form: form, status: error.kind == .conflict ? .conflict : .unprocessableContent)
        }
    }

    // MARK: - API keys

    static let keyInputs: Set<String> = ["name", "team", "kind", "origins"]

    func keysPage(_ visit: Visit, errors: [String: String] = [:], form: FormData = FormData(), status: HTTPResponse.Status = .ok,
                  created: CreatedKey? = nil, notice: String? = nil, revokeError: (String, String)? = nil) async throws -> Response {
        let t = visit.t
        let registry = store.registry
        let lastUse = try await store.keyLastUse()
        // Keys in use first, newest first; revoked ones after them.
        let keys = registry.keysById.values.sorted { a, b in
            ((a.revokedAt == nil ? 0 : 1), b.createdAt, a.id) < ((b.revokedAt == nil ? 0 : 1), a.createdAt, b.id)
        }
        let rows: [[String: Any]] = keys.map { key in
            PortalView.compact([
                "id": key.id, "name": key.name, "team": registry.teams[key.team]?.name ?? key.team,
                "kind": key.kind == .secret ? t["regKindSecret"]! : t["regKindPublishable"]!, "secretKind": key.kind == .secret,
                "hint": key.hint, "created": Self.time(key.createdAt), "lastUsed": lastUse[key.id].map { Self.time($0) },
                "revoked": key.revokedAt.map { Self.time($0) }, "origins": key.origins.isEmpty ? nil : key.origins.joined(separator: ", "),
                "revokeError": revokeError?.0 == key.id ? revokeError?.1 : nil, "fresh": created?.key.id == key.id,
            ])
        }
        let values = Self.values(form)
        var context: [String: Any] = PortalView.compact([
            "title": t["navKeys"]!, "keys": rows, "hasKeys": !rows.isEmpty, "v": values, "openForm": !errors.isEmpty, "notice": notice,
            "teams": registry.teams.values.sorted { $0.key < $1.key }.map { ["key": $0.key, "name": $0.name, "selected": $0.key == values["team"]] },
            "publishableSelected": values["kind"] == "publishable",
        ])
        if let created, let secret = created.secret {
            context["newKey"] = ["name": created.key.name, "secret": secret, "publishable": created.key.kind == .publishable]
        }
        Self.addErrors(errors, to: &context)
        return render("console/registry_keys", visit.language, path: "/console/keys", status: status, visit: visit, context)
    }

    func createKey(_ visit: Visit) async throws -> Response {
        let form = visit.form
        let origins = form.first("origins").split(whereSeparator: { $0.isNewline || $0 == "," || $0 == " " }).map(String.init)
        let input = KeyInput(name: form.first("name").trimmingCharacters(in: .whitespacesAndNewlines), team: form.first("team"),
                             kind: form.first("kind").isEmpty ? nil : form.first("kind"), origins: origins.isEmpty ? nil : origins)
        do {
            guard case .fresh(let created) = try await store.createKey(input, by: visit.principal) else { return redirect("/console/keys") }
            return try await keysPage(visit, status: .created, created: created)
        } catch let error as CandorError where error.kind == .validation {
            return try await keysPage(visit, errors: Self.formErrors(error, inputs: Self.keyInputs, visit.language), form: form, status: .unprocessableContent)
        }
    }
}

extension ConsoleStrings {
    /// The registry pages' words: `reg…` keys for templates, `reg.<group>.<value>` for values the code looks up.
    static let registryEnglish: [String: String] = [
        // Shared
        "regName": "Name", "regKey": "Key", "regCreated": "Created", "regYes": "Yes", "regNo": "No", "regOptional": "Optional",
        "regChoose": "Choose…", "regNotSaved": "Nothing was saved. Correct the fields marked below", "regNever": "Never",
        "regLocaleEn": "English", "regLocaleHe": "Hebrew", "regTeam": "Team", "regPurposes": "Purposes", "regRoles": "Roles",
        "reg.wholeDays": "Enter a whole number of days, from 1 to 36500.", "reg.wholeNumber": "Enter a whole number.",
        "reg.notNumber": "Enter a number, such as 3 or 42.5.", "reg.daysCount": "%1 days",
        "reg.locale.en": "English", "reg.locale.he": "Hebrew",
        "reg.basis.consent": "Consent", "reg.basis.contract": "Contract", "reg.basis.legitimate_interest": "Legitimate interest",
        "reg.basis.legal_obligation": "Legal obligation",
        "reg.done.created": "Created. The change is recorded in the audit log.",
        "reg.done.published": "The new notice version is published: people see it from now on, and what they declare records it.",
        "reg.done.saved": "Saved. The team's operators and keys act with these purposes and roles from now on.",
        "reg.done.unlocked": "Unlocked. The operator can sign in again.",
        // Purposes
        "regPurposesIntro": "Why data is used. Every field serves a purpose, and people read its notice before they declare anything or consent.",
        "regNewPurpose": "New purpose", "regNewPurposeIntro": "The key is permanent; names and notices can be translated, and notices get new versions later.",
        "regLegalBasis": "Legal basis", "regLegalBasisHint": "Only consent needs each person's opt-in before their data is used.",
        "regRetention": "Retention", "regRetentionDays": "Retention in days", "regRetentionHint": "How long data kept for this purpose lives, e.g. 730 for two years.",
        "regDpv": "DPV purpose", "regDpvHint": "The W3C Data Privacy Vocabulary term used in the record of processing.",
        "regNotice": "Current notice", "regConsentNeeded": "Consent needed", "regMarketing": "Marketing", "regNoNotice": "No notice yet",
        "regNoPurposes": "No purposes yet. Create the first one below: fields and consents need a purpose.",
        "regKeyHint": "2–64 characters: a–z, 0–9 and _, starting with a letter, e.g. newsletter.",
        "regNameEn": "Name in English", "regNameHe": "Name in Hebrew",
        "regIsMarketing": "This is direct marketing",
        "regIsMarketingHint": "An objection to direct marketing then stops all use for this purpose at once.",
        "regFirstNotice": "First notice (version 1)", "regFirstNoticeHint": "What people read before they declare or consent. You can also publish it later on the purpose's page.",
        "regNoticeTitle": "Title", "regNoticeWhy": "Why we ask", "regNoticeBenefit": "What people get",
        "regCreatePurpose": "Create purpose", "regAllPurposes": "All purposes", "regFacts": "Details",
        "regVersions": "Notice versions", "regVersionsIntro": "Versions never change once published. Each one is compared with the one before it, word by word.",
        "regAddedLegend": "added words", "regRemovedLegend": "removed words", "reg.added": "added", "reg.removed": "removed",
        "regVersion": "Version", "regCurrent": "Shown now", "regPublished": "Published", "regComparedWith": "Compared with version",
        "regUnchanged": "Unchanged", "regNewLocale": "New language", "regNoVersions": "No notice yet: publish the first version below.",
        "regPublishTitle": "Publish version", "regPublishIntro": "Edit the wording below. “Preview the changes” shows the difference from the current version without saving; “Publish” makes it the version people see.",
        "regPreviewHeading": "Preview of the changes", "regPreviewSame": "The wording is the same as the current version.",
        "regPreviewNotSaved": "Nothing is published yet.", "regPreviewButton": "Preview the changes", "regPublishButton": "Publish",
        "reg.noPurpose": "There is no purpose “%1”.",
        // Fields
        "regFieldsIntro": "What people can tell you. Each field serves purposes, and is shown only to teams and destinations holding one of them.",
        "regNewField": "New field", "regNewFieldIntro": "A field's key and type are permanent.",
        "regField": "Field", "regType": "Type", "regOptions": "Options", "regServes": "Purposes it serves", "regValidation": "Rules",
        "regKeptFor": "kept", "regSpecial": "Special category", "regStandard": "Standard",
        "regNoFields": "No fields yet. Create one below: a field is what a person can declare.",
        "regFieldKeyHint": "2–64 characters: a–z, 0–9 and _, e.g. shoe_size.",
        "regQuestionEn": "Question in English", "regQuestionHe": "Question in Hebrew", "regQuestionHint": "As a person reads it, e.g. “Which sports do you like?”",
        "regOptionsHint": "For choice fields: one option per line, as key = English label, e.g. running = Running.",
        "regServesHint": "Tick at least one.", "regMinimum": "Minimum", "regMaximum": "Maximum", "regNumbersOnly": "Number fields only.",
        "regMaxLength": "Longest text", "regTextOnly": "Text fields only, in characters.",
        "regFieldRetentionHint": "Empty: the longest retention of its purposes.", "regSensitivity": "Sensitivity", "regCreateField": "Create field",
        "reg.fieldCreated": "Field “%1” created.", "reg.maxChars": "up to %1 characters",
        "reg.type.single_choice": "Single choice", "reg.type.multi_choice": "Multiple choice", "reg.type.boolean": "Yes or no",
        "reg.type.number": "Number", "reg.type.text": "Text", "reg.type.date": "Date",
        // Teams and operators
        "regTeamsIntro": "Who inside the business uses data: each team holds roles and the purposes it may use. Operators and API keys act for one team.",
        "regNewTeam": "New team", "regNewTeamIntro": "Give a team only the purposes and roles its work needs.",
        "regOperators": "Operators", "regYourTeam": "Your team", "regNoPurposesHeld": "No purposes",
        "regNoTeams": "No teams yet.", "regTeamKeyHint": "2–64 characters: a–z, 0–9 and _, e.g. marketing.", "regTeamName": "Team name",
        "regTeamPurposesHint": "Personal data is shown to the team only for these purposes.", "regCreateTeam": "Create team", "regAllTeams": "All teams",
        "regOperatorCreated": "Operator added", "regPassword": "Password",
        "regPasswordOnce": "Copy this password now and hand it over in person or through a password manager. It is shown only this once; Candor keeps only a hash of it.",
        "regLastSignIn": "Last sign-in", "regAccount": "Account", "regLocked": "Locked", "regUntil": "until", "regUnlock": "Unlock", "regActive": "Active", "regYou": "You",
        "regNoOperators": "No operators in this team yet.", "regAddOperator": "Add an operator",
        "regAddOperatorIntro": "A password is generated and shown once on the next page.", "regAddOperatorButton": "Add operator",
        "regEditTeam": "Purposes and roles", "regEditTeamIntro": "Changes apply at once to every operator and key of the team.", "regSaveTeam": "Save team",
        "reg.keepAdmin": "Keep the admin role on your own team: without it, nobody in it could open these pages again.",
        "reg.noTeam": "There is no team “%1”.",
        "reg.role.admin": "Admin", "reg.role.read": "Read", "reg.role.write": "Write", "reg.role.erase": "Erase", "reg.role.audit": "Audit",
        "reg.roleHint.admin": "manage purposes, fields, teams and keys", "reg.roleHint.read": "read personal data for the team's purposes",
        "reg.roleHint.write": "record people, declarations and consents", "reg.roleHint.erase": "handle rights requests, erase and restrict",
        "reg.roleHint.audit": "read the audit log and reports",
        // API keys
        "regKeysIntro": "Keys let your systems call the API for a team. Secret keys stay on servers; publishable keys go into web pages and only collect.",
        "regNewKey": "New API key", "regNewKeyIntro": "The key is shown once after it is created. Only its first characters are kept visible.",
        "regKind": "Kind", "regKindSecret": "Secret (server)", "regKindPublishable": "Publishable (browser)", "regPrefix": "Starts with",
        "regCopy": "Copy", "regCopied": "Copied to the clipboard.", "regLastUsed": "Last used", "regUse": "Created and used", "regRevoked": "Revoked", "regRevoke": "Revoke", "regConfirmRevoke": "Apps using it stop working at once",
        "regNoKeys": "No API keys yet. Create one below to connect a system.",
        "regKeyCreated": "Key created", "regSecretOnce": "Copy this key now and store it in your secrets manager. It is shown only this once; Candor keeps only a hash of it.",
        "regSecretKey": "Secret key", "regPublishableUse": "Use it in the embed script of the allowed sites: it can only collect, never read.", "regPublishableKey": "Publishable key",
        "regSecretUse": "Anyone holding it acts for the team: revoke it here if it leaks. Send it in the header",
        "regKeyName": "Name", "regKeyNameHint": "Where it is used, e.g. “Shop backend”.", "regKeyTeamHint": "The key acts with this team's roles and purposes.",
        "regOrigins": "Allowed origins", "regOriginsHint": "Publishable keys only: the sites that may use it, one per line, e.g. https://shop.example.",
        "regCreateKey": "Create key",
        "reg.keyRevoked": "Key “%1” was revoked: requests with it are refused from now on.",
        "reg.confirmRevoke": "Tick the box to confirm: apps using this key stop working at once.",
    ]

    static let registryHebrew: [String: String] = [
        "regName": "שם", "regKey": "מפתח", "regCreated": "נוצר", "regYes": "כן", "regNo": "לא", "regOptional": "לא חובה",
        "regChoose": "בחרו…", "regNotSaved": "לא נשמר דבר. תקנו את השדות המסומנים למטה", "regNever": "אף פעם",
        "regLocaleEn": "אנגלית", "regLocaleHe": "עברית", "regTeam": "צוות", "regPurposes": "מטרות", "regRoles": "תפקידים",
        "reg.wholeDays": "הזינו מספר שלם של ימים, מ-1 עד 36500.", "reg.wholeNumber": "הזינו מספר שלם.",
        "reg.notNumber": "הזינו מספר, למשל 3 או 42.5.", "reg.daysCount": "%1 ימים",
        "reg.locale.en": "אנגלית", "reg.locale.he": "עברית",
        "reg.basis.consent": "הסכמה", "reg.basis.contract": "חוזה", "reg.basis.legitimate_interest": "אינטרס לגיטימי",
        "reg.basis.legal_obligation": "חובה חוקית",
        "reg.done.created": "נוצר. השינוי נרשם ביומן הביקורת.",
        "reg.done.published": "גרסת ההודעה החדשה פורסמה: מעכשיו היא מוצגת לאנשים, ומה שהם מוסרים נרשם איתה.",
        "reg.done.saved": "נשמר. המפעילים והמפתחות של הצוות פועלים מעכשיו עם המטרות והתפקידים האלה.",
        "reg.done.unlocked": "החשבון שוחרר. המפעיל יכול להיכנס שוב.",
        "regPurposesIntro": "למה משתמשים במידע. כל שדה משרת מטרה, ואנשים קוראים את ההודעה שלה לפני שהם מוסרים מידע או מסכימים.",
        "regNewPurpose": "מטרה חדשה", "regNewPurposeIntro": "המפתח קבוע; את השמות וההודעות אפשר לתרגם, ולהודעות אפשר לפרסם גרסאות חדשות בהמשך.",
        "regLegalBasis": "בסיס חוקי", "regLegalBasisHint": "רק הסכמה דורשת אישור של כל אדם לפני שמשתמשים במידע שלו.",
        "regRetention": "תקופת שמירה", "regRetentionDays": "תקופת שמירה בימים", "regRetentionHint": "כמה זמן נשמר המידע למטרה הזו, למשל 730 לשנתיים.",
        "regDpv": "מטרת DPV", "regDpvHint": "המונח מאוצר המילים לפרטיות של W3C שמופיע ברישום פעולות העיבוד.",
        "regNotice": "ההודעה הנוכחית", "regConsentNeeded": "נדרשת הסכמה", "regMarketing": "שיווק", "regNoNotice": "אין הודעה עדיין",
        "regNoPurposes": "אין עדיין מטרות. צרו את הראשונה למטה: שדות והסכמות צריכים מטרה.",
        "regKeyHint": "בין 2 ל-64 תווים: אותיות לטיניות קטנות, ספרות וקו תחתון, מתחיל באות. למשל newsletter.",
        "regNameEn": "שם באנגלית", "regNameHe": "שם בעברית",
        "regIsMarketing": "זהו שיווק ישיר",
        "regIsMarketingHint": "התנגדות לשיווק ישיר תעצור מיד כל שימוש למטרה הזו.",
        "regFirstNotice": "הודעה ראשונה (גרסה 1)", "regFirstNoticeHint": "מה שאנשים קוראים לפני שהם מוסרים מידע או מסכימים. אפשר לפרסם אותה גם מאוחר יותר בדף המטרה.",
        "regNoticeTitle": "כותרת", "regNoticeWhy": "למה אנחנו שואלים", "regNoticeBenefit": "מה מקבלים בתמורה",
        "regCreatePurpose": "יצירת מטרה", "regAllPurposes": "כל המטרות", "regFacts": "פרטים",
        "regVersions": "גרסאות ההודעה", "regVersionsIntro": "גרסה שפורסמה לעולם אינה משתנה. כל גרסה מושווית לזו שלפניה, מילה במילה.",
        "regAddedLegend": "מילים שנוספו", "regRemovedLegend": "מילים שהוסרו", "reg.added": "נוסף", "reg.removed": "הוסר",
        "regVersion": "גרסה", "regCurrent": "מוצגת כעת", "regPublished": "פורסמה", "regComparedWith": "בהשוואה לגרסה",
        "regUnchanged": "ללא שינוי", "regNewLocale": "שפה חדשה", "regNoVersions": "אין עדיין הודעה: פרסמו את הגרסה הראשונה למטה.",
        "regPublishTitle": "פרסום גרסה", "regPublishIntro": "ערכו את הנוסח למטה. „תצוגה מקדימה של השינויים” מראה את ההבדל מהגרסה הנוכחית בלי לשמור; „פרסום” הופך אותו לגרסה שאנשים רואים.",
        "regPreviewHeading": "תצוגה מקדימה של השינויים", "regPreviewSame": "הנוסח זהה לגרסה הנוכחית.",
        "regPreviewNotSaved": "עדיין לא פורסם דבר.", "regPreviewButton": "תצוגה מקדימה של השינויים", "regPublishButton": "פרסום",
        "reg.noPurpose": "אין מטרה בשם „%1”.",
        "regFieldsIntro": "מה שאנשים יכולים לספר לכם. כל שדה משרת מטרות, ומוצג רק לצוותים וליעדים שמחזיקים באחת מהן.",
        "regNewField": "שדה חדש", "regNewFieldIntro": "המפתח והסוג של שדה קבועים.",
        "regField": "שדה", "regType": "סוג", "regOptions": "אפשרויות", "regServes": "המטרות שהוא משרת", "regValidation": "כללים",
        "regKeptFor": "נשמר", "regSpecial": "קטגוריה מיוחדת", "regStandard": "רגיל",
        "regNoFields": "אין עדיין שדות. צרו אחד למטה: שדה הוא מה שאדם יכול למסור.",
        "regFieldKeyHint": "בין 2 ל-64 תווים: אותיות לטיניות קטנות, ספרות וקו תחתון. למשל shoe_size.",
        "regQuestionEn": "השאלה באנגלית", "regQuestionHe": "השאלה בעברית", "regQuestionHint": "כפי שאדם קורא אותה, למשל “Which sports do you like?”",
        "regOptionsHint": "לשדות בחירה: אפשרות אחת בכל שורה, בצורה key = English label, למשל running = Running.",
        "regServesHint": "סמנו לפחות אחת.", "regMinimum": "מינימום", "regMaximum": "מקסימום", "regNumbersOnly": "לשדות מספר בלבד.",
        "regMaxLength": "אורך טקסט מרבי", "regTextOnly": "לשדות טקסט בלבד, בתווים.",
        "regFieldRetentionHint": "ריק: תקופת השמירה הארוכה ביותר של המטרות שלו.", "regSensitivity": "רגישות", "regCreateField": "יצירת שדה",
        "reg.fieldCreated": "השדה „%1” נוצר.", "reg.maxChars": "עד %1 תווים",
        "reg.type.single_choice": "בחירה יחידה", "reg.type.multi_choice": "בחירה מרובה", "reg.type.boolean": "כן או לא",
        "reg.type.number": "מספר", "reg.type.text": "טקסט", "reg.type.date": "תאריך",
        "regTeamsIntro": "מי בתוך העסק משתמש במידע: לכל צוות יש תפקידים ומטרות שמותר לו להשתמש בהן. מפעילים ומפתחות API פועלים בשם צוות אחד.",
        "regNewTeam": "צוות חדש", "regNewTeamIntro": "תנו לצוות רק את המטרות והתפקידים שהעבודה שלו דורשת.",
        "regOperators": "מפעילים", "regYourTeam": "הצוות שלכם", "regNoPurposesHeld": "אין מטרות",
        "regNoTeams": "אין עדיין צוותים.", "regTeamKeyHint": "בין 2 ל-64 תווים: אותיות לטיניות קטנות, ספרות וקו תחתון. למשל marketing.", "regTeamName": "שם הצוות",
        "regTeamPurposesHint": "מידע אישי מוצג לצוות רק למטרות האלה.", "regCreateTeam": "יצירת צוות", "regAllTeams": "כל הצוותים",
        "regOperatorCreated": "המפעיל נוסף", "regPassword": "סיסמה",
        "regPasswordOnce": "העתיקו את הסיסמה עכשיו ומסרו אותה פנים אל פנים או דרך מנהל סיסמאות. היא מוצגת רק הפעם; Candor שומר רק גיבוב שלה.",
        "regLastSignIn": "כניסה אחרונה", "regAccount": "חשבון", "regLocked": "נעול", "regUntil": "עד", "regUnlock": "שחרור נעילה", "regActive": "פעיל", "regYou": "אתם",
        "regNoOperators": "אין עדיין מפעילים בצוות הזה.", "regAddOperator": "הוספת מפעיל",
        "regAddOperatorIntro": "נוצרת סיסמה שמוצגת פעם אחת בדף הבא.", "regAddOperatorButton": "הוספת מפעיל",
        "regEditTeam": "מטרות ותפקידים", "regEditTeamIntro": "השינויים חלים מיד על כל המפעילים והמפתחות של הצוות.", "regSaveTeam": "שמירת הצוות",
        "reg.keepAdmin": "השאירו לצוות שלכם את תפקיד הניהול: בלעדיו אף אחד בצוות לא יוכל לפתוח שוב את הדפים האלה.",
        "reg.noTeam": "אין צוות בשם „%1”.",
        "reg.role.admin": "ניהול", "reg.role.read": "קריאה", "reg.role.write": "כתיבה", "reg.role.erase": "מחיקה", "reg.role.audit": "ביקורת",
        "reg.roleHint.admin": "ניהול מטרות, שדות, צוותים ומפתחות", "reg.roleHint.read": "קריאת מידע אישי למטרות הצוות",
        "reg.roleHint.write": "רישום אנשים, הצהרות והסכמות", "reg.roleHint.erase": "טיפול בבקשות זכויות, מחיקה והגבלה",
        "reg.roleHint.audit": "קריאת יומן הביקורת והדוחות",
        "regKeysIntro": "מפתחות מאפשרים למערכות שלכם לקרוא ל-API בשם צוות. מפתחות סודיים נשארים בשרתים; מפתחות ציבוריים נכנסים לדפי אינטרנט ורק אוספים מידע.",
        "regNewKey": "מפתח API חדש", "regNewKeyIntro": "המפתח מוצג פעם אחת אחרי שהוא נוצר. רק התווים הראשונים שלו נשארים גלויים.",
        "regKind": "סוג", "regKindSecret": "סודי (שרת)", "regKindPublishable": "ציבורי (דפדפן)", "regPrefix": "מתחיל ב־",
        "regCopy": "העתקה", "regCopied": "הועתק ללוח.", "regLastUsed": "שימוש אחרון", "regUse": "יצירה ושימוש", "regRevoked": "בוטל", "regRevoke": "ביטול", "regConfirmRevoke": "יישומים שמשתמשים בו יפסיקו לעבוד מיד",
        "regNoKeys": "אין עדיין מפתחות API. צרו אחד למטה כדי לחבר מערכת.",
        "regKeyCreated": "המפתח נוצר", "regSecretOnce": "העתיקו את המפתח עכשיו ושמרו אותו במנהל הסודות שלכם. הוא מוצג רק הפעם; Candor שומר רק גיבוב שלו.",
        "regSecretKey": "מפתח סודי", "regPublishableUse": "השתמשו בו בסקריפט ההטמעה של האתרים המותרים: הוא רק אוסף מידע ולעולם אינו קורא.", "regPublishableKey": "מפתח ציבורי",
        "regSecretUse": "כל מי שמחזיק בו פועל בשם הצוות: אם הוא דלף, בטלו אותו כאן. שלחו אותו בכותרת",
        "regKeyName": "שם", "regKeyNameHint": "איפה משתמשים בו, למשל „השרת של החנות”.", "regKeyTeamHint": "המפתח פועל עם התפקידים והמטרות של הצוות הזה.",
        "regOrigins": "מקורות מותרים", "regOriginsHint": "למפתחות ציבוריים בלבד: האתרים שמותר להם להשתמש בו, אחד בכל שורה, למשל https://shop.example.",
        "regCreateKey": "יצירת מפתח",
        "reg.keyRevoked": "המפתח „%1” בוטל: מעכשיו בקשות איתו נדחות.",
        "reg.confirmRevoke": "סמנו את התיבה כדי לאשר: יישומים שמשתמשים במפתח הזה יפסיקו לעבוד מיד.",
    ]
}
