import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The preference center at `/p/{token}`: every field grouped by purpose with the notice in plain
/// words, the current answers, a consent switch per consent-based purpose, and a way to the rights
/// portal. A plain form POST with a CSRF token; no JavaScript needed.
///
/// The link is signed and expires, but is not single-use: it arrives in newsletters and is opened
/// again and again (and the form posts back to it). Seven days keeps a forwarded or leaked mail from
/// working for long, while a weekly newsletter always carries a live one; unlike a rights link it
/// cannot show history, export or erase, so a reusable link is an acceptable risk.
struct PreferenceCenter {
    let store: CandorStore
    let config: ServerConfig
    let support: RouteSupport
    let portal: PortalRoutes

    static let linkPurpose = "preferences"
    static let linkLifetime: Int64 = 7 * 24 * 60 * 60 * 1000
    static let gpcHeader = HTTPField.Name("Sec-GPC")!

    var links: SubjectLinks { store.subjectLinks }

    func add(pages router: Router<CandorRequestContext>, api: RouterGroup<CandorRequestContext>) {
        router.get("p") { request, _ in try await portal.askPage(request, desk: desk) }
        router.post("p") { request, context in try await portal.askForLink(request, context, desk: desk) }
        router.get("p/:token") { request, context in try await show(request, context) }
        router.post("p/:token") { request, context in try await save(request, context) }

        // For the business to send: a fresh link for a person it knows (e.g. in a newsletter footer).
        api.post("subjects/:id/preferences-link") { request, context in
            let principal = try support.principal(context, .write)
            let subjectId = try support.parameter(context, "id")
            try await store.auditLinkIssued(subjectId: subjectId, action: "preferences.link.issued", by: principal)
            let expiresAt = store.currentMillis + Self.linkLifetime
            let url = link(subjectId: subjectId, language: PageLanguage.choose(request))
            return try support.json(PortalRoutes.RightsLinkView(url: url, expiresAt: Timestamp.rfc3339(expiresAt)), status: .created)
        }
    }

    /// A fresh preference-center link for a person, valid for seven days.
    func link(subjectId: String, language: PageLanguage) -> String {
        let token = links.issue(subjectId: subjectId, purpose: Self.linkPurpose, now: store.currentMillis, lifetimeMillis: Self.linkLifetime)
        return "\(config.baseURL)/p/\(token)?lang=\(language.code)"
    }

    var desk: PortalRoutes.LinkDesk {
        PortalRoutes.LinkDesk(path: "/p", strings: { CollectionStrings.of($0, title: "prefTitle") },
                              link: { link(subjectId: $0, language: $1) }, mail: { CollectionStrings.mail($0, link: $1) })
    }

    func strings(_ language: PageLanguage) -> [String: String] { CollectionStrings.of(language, title: "prefTitle") }

    // MARK: - The link

    /// The claims of a live link for a live person, or the page that says why not.
    func open(_ request: Request, _ context: CandorRequestContext, audited: Bool = true) async throws -> Result<(SubjectLinkClaims, PreferenceState), ResponseBox> {
        let language = PageLanguage.choose(request)
        let t = strings(language)
        let ask = [("/p", "askPreferences")]
        switch links.verify(context.parameters.get("token") ?? "", purpose: Self.linkPurpose, now: store.currentMillis) {
        case .failure(.expired):
            return .failure(ResponseBox(portal.message(language, path: "/p", status: .gone, heading: "expiredHeading", body: "prefExpiredBody", actions: ask, strings: t)))
        case .failure(.invalid):
            return .failure(ResponseBox(portal.message(language, path: "/p", status: .notFound, heading: "invalidHeading", body: "invalidBody", actions: ask, strings: t)))
        case .success(let claims):
            guard let state = try await store.preferenceState(subjectId: claims.subjectId, audited: audited) else {
                return .failure(ResponseBox(portal.message(language, path: "/p", status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [], strings: t)))
            }
            return .success((claims, state))
        }
    }

    struct ResponseBox: Error { let response: Response; init(_ response: Response) { self.response = response } }

    // MARK: - Showing

    func show(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let opened = try await open(request, context)
        guard case .success(let (claims, state)) = opened else {
            if case .failure(let box) = opened { return box.response }
            return Response(status: .internalServerError)
        }
        let gpc = try await honourGPC(request, subjectId: claims.subjectId, state: state)
        return page(request, claims: claims, state: state, gpc: gpc, saved: request.uri.queryParameters.get("saved") == "1")
    }

    /// `Sec-GPC: 1` is an opt-out of sale and sharing for the person whose link this is. Recording it
    /// again changes nothing, so it is sent on every request that carries it.
    func honourGPC(_ request: Request, subjectId: String, state: PreferenceState) async throws -> Bool {
        guard request.headers[Self.gpcHeader]?.trimmingCharacters(in: .whitespaces) == "1" else { return false }
        if !state.hasOptedOutOfSale { _ = try await store.optOutOfSale(subjectId: subjectId, method: .gpc, by: nil) }
        return true
    }

    func page(_ request: Request, claims: SubjectLinkClaims, state: PreferenceState, gpc: Bool, saved: Bool,
              submitted: FormData? = nil, errors: [String: String] = [:], status: HTTPResponse.Status = .ok) -> Response {
        let language = PageLanguage.choose(request)
        let t = strings(language)
        let view = PortalView(store: store, language: language)
        let registry = store.registry
        let purposes = registry.purposes.values.sorted { $0.key < $1.key }
        // A field serving several purposes is asked once, under the first of them, and names the others.
        var placed = Set<String>()
        let groups: [[String: Any]] = purposes.map { purpose in
            let notice = registry.currentNotice(of: purpose.key)
            let text = notice?.texts[language.code] ?? notice?.texts["en"]
            let fields: [[String: Any]] = registry.fields.values.sorted { $0.key < $1.key }
                .filter { $0.purposes.contains(purpose.key) && !placed.contains($0.key) }
                .map { field in
                    placed.insert(field.key)
                    let current = state.values[field.key]
                    var form = view.fieldForm(field, proposed: current, submitted: submitted.map { $0.all("v.\(field.key)") })
                    form["options"] = (form["options"] as? [[String: Any]] ?? []).enumerated().map { index, option in
                        var option = option
                        option["id"] = "f-\(field.key)-\(index)"
                        return option
                    }
                    form["others"] = field.purposes.filter { $0 != purpose.key }.map(view.purposeName).joined(separator: ", ")
                    form["hasOthers"] = field.purposes.count > 1
                    form["hasCurrent"] = current != nil
                    if let error = errors[field.key] { form["error"] = error }
                    return form
                }
            let granted = state.consents[purpose.key].map { $0.status == .granted && ($0.expiresAt ?? .max) > store.currentMillis } ?? false
            let wanted = submitted.map { $0.all("consent.\(purpose.key)").contains("granted") } ?? granted
            let blocked = state.hasObjected && purpose.isMarketing
            return PortalView.compact([
                "key": purpose.key, "name": view.purposeName(purpose.key), "why": text?.why, "benefit": text?.benefit,
                "version": purpose.currentNoticeVersion ?? 0, "isConsent": purpose.legalBasis == .consent,
                "granted": wanted && !blocked, "blocked": blocked, "fields": fields, "hasFields": !fields.isEmpty,
            ])
        }
        return portal.render("pref_center", language, path: request.uri.path, status: status, [
            "t": t, "heading": t["prefHeading"]!, "groups": groups, "csrf": links.tag("csrf-preferences", claims.nonce),
            "action": request.uri.path, "saved": saved, "gpc": gpc, "optedOut": state.hasOptedOutOfSale || gpc,
            "linkEnds": PortalView.time(claims.expiresAt), "hasErrors": !errors.isEmpty,
            "errorList": errors.keys.sorted().map { ["key": $0, "message": errors[$0]!] },
        ])
    }

    // MARK: - Saving

    func save(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let opened = try await open(request, context, audited: false)
        guard case .success(let (claims, state)) = opened else {
            if case .failure(let box) = opened { return box.response }
            return Response(status: .internalServerError)
        }
        let language = PageLanguage.choose(request)
        let t = strings(language)
        let form = try await PortalRoutes.form(request, limit: support.maxBodyBytes)
        let back = [(request.uri.path, "back")]
        guard links.checkTag("csrf-preferences", claims.nonce, presented: form.first("csrf")) else {
            return portal.message(language, path: request.uri.path, status: .forbidden, heading: "csrfHeading", body: "csrfBody", actions: back, strings: t)
        }
        let registry = store.registry
        // Every notice the page showed must still be the current one: a choice made under other words
        // is not a choice about these. Nothing is written; the person reads the new words first.
        var shown = [String: Int]()
        for purpose in registry.purposes.values {
            guard let version = Int(form.first("notice.\(purpose.key)")), version == purpose.currentNoticeVersion else {
                return portal.message(language, path: request.uri.path, status: .conflict, heading: "noticeChangedHeading", body: "noticeChangedBody",
                                      actions: [(request.uri.path, "reviewNotice")], strings: t)
            }
            shown[purpose.key] = version
        }
        let view = PortalView(store: store, language: language)
        var changed = [DeclaredValueInput]()
        var errors = [String: String]()
        for key in Set(form.all("fields")).sorted() {
            guard let field = registry.fields[key] else { continue }
            let submitted = form.all("v.\(key)")
            let current = state.values[key]
            let blank = submitted.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty }
            var value: JSONValue
            if blank && field.type != .multiChoice {
                // An untouched choice stays as it is; an emptied text, number or date removes the answer.
                guard current != nil, [.number, .text, .date].contains(field.type) else { continue }
                value = .null
            } else {
                switch view.parse(submitted, for: field) {
                case .success(let parsed): value = parsed
                case .failure(let error):
                    errors[key] = "\(view.label(field)): \(error.message)"
                    continue
                }
            }
            if Self.same(value, current) { continue }
            if value == .array([]) && current == nil { continue }
            changed.append(DeclaredValueInput(field: key, value: value))
        }
        if !errors.isEmpty {
            return page(request, claims: claims, state: state, gpc: false, saved: false, submitted: form, errors: errors, status: .unprocessableContent)
        }
        var consents = [ConsentInput]()
        for key in Set(form.all("consents")).sorted() {
            guard let purpose = registry.purposes[key], purpose.legalBasis == .consent else { continue }
            if state.hasObjected && purpose.isMarketing { continue }
            let wanted = form.all("consent.\(key)").contains("granted")
            let granted = state.consents[key].map { $0.status == .granted && ($0.expiresAt ?? .max) > store.currentMillis } ?? false
            if wanted != granted {
                consents.append(ConsentInput(purpose: key, status: wanted ? "granted" : "withdrawn", method: ConsentMethod.preferenceCenter.rawValue, noticeVersion: shown[key]))
            }
        }
        var declaration: DeclarationInput?
        if !changed.isEmpty {
            let cited = Set(changed.compactMap { registry.fields[$0.field] }.flatMap(\.purposes))
            declaration = DeclarationInput(values: changed, notices: shown.filter { cited.contains($0.key) },
                                           source: DeclarationSource.preferenceCenter.rawValue, collectionPoint: "preference_center")
        }
        do {
            try await store.savePreferences(subjectId: claims.subjectId, declaration: declaration, consents: consents)
        } catch let error as CandorError where error.kind == .validation || error.kind == .conflict {
            // A notice replaced between the check above and the write lands here, as does anything the
            // domain rules refuse; either way nothing was written.
            return portal.message(language, path: request.uri.path, status: .conflict, heading: "noticeChangedHeading", body: "noticeChangedBody",
                                  actions: [(request.uri.path, "reviewNotice")], strings: t)
        }
        if request.headers[Self.gpcHeader]?.trimmingCharacters(in: .whitespaces) == "1", let fresh = try await store.preferenceState(subjectId: claims.subjectId, audited: false) {
            _ = try await honourGPC(request, subjectId: claims.subjectId, state: fresh)
        }
        // Post/redirect/get: a reload does not post the form again.
        return Response(status: .seeOther, headers: [.location: "\(request.uri.path)?lang=\(language.code)&saved=1"])
    }

    /// Whether a submitted value equals the stored one (a multiple choice in any order).
    static func same(_ value: JSONValue, _ current: JSONValue?) -> Bool {
        guard let current else { return value == .null }
        if case .array(let new) = value, case .array(let old) = current { return Set(new.compactMap(\.stringValue)) == Set(old.compactMap(\.stringValue)) }
        return value == current
    }
}
