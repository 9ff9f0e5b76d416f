import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The self-service rights portal (GDPR Art. 15–21, CCPA): a person asks for a link by e-mail, opens it
/// once, and for 30 minutes can see everything held about them, download it, correct a value, restrict
/// processing, object to direct marketing, opt out of sale and sharing, or erase everything.
///
/// Pages work without JavaScript, under the strict CSP of `Response.html`; every form carries a CSRF
/// token bound to the session (or, before one exists, to a random browser cookie), and every change has
/// a confirmation step. Errors are friendly pages, never problem documents; only the admin route under
/// `/v1` answers JSON.
struct PortalRoutes {
    let store: CandorStore
    let resources: Resources
    let config: ServerConfig
    let support: RouteSupport
    var limiter = PortalRateLimiter()

    /// How long an e-mailed link works, and how long the session it opens lasts.
    static let linkLifetime: Int64 = 60 * 60 * 1000
    static let sessionLifetime: Int64 = 30 * 60 * 1000
    static let linkPurpose = "rights"
    static let sessionPurpose = "session"
    static let sessionCookie = "candor_portal"
    static let browserCookie = "candor_portal_browser"
    /// Requests for a link: per address (keyed hash) and per client address, each per hour.
    static let perAddressLimit = 5
    static let perClientLimit = 30

    var links: SubjectLinks { store.subjectLinks }
    var secureCookies: Bool { config.baseURL.lowercased().hasPrefix("https://") }

    func add(pages router: Router<CandorRequestContext>, api: RouterGroup<CandorRequestContext>) {
        router.get("rights") { request, _ in try await askPage(request) }
        router.post("rights") { request, context in try await askForLink(request, context) }
        router.get("rights/verify/:token") { request, context in try await verify(request, context) }
        router.get("rights/me") { request, _ in try await withSession(request) { try await overview($0, $1, $2) } }
        router.get("rights/me/export.json") { request, _ in try await withSession(request) { try await exportJSON($0, $1, $2) } }
        router.get("rights/me/export.html") { request, _ in try await withSession(request) { try await exportHTML($0, $1, $2) } }
        router.get("rights/me/receipts/:seq") { request, context in
            try await withSession(request) { try await receipt($0, $1, $2, context) }
        }
        router.get("rights/me/correct/:field") { request, context in
            try await withSession(request) { try await correctForm($0, $1, $2, context) }
        }
        router.post("rights/me/correct/:field") { request, context in
            try await withSession(request, form: true) { try await correct($0, $1, $2, context) }
        }
        router.get("rights/me/erase") { request, _ in try await withSession(request) { try await eraseForm($0, $1, $2, word: nil) } }
        router.post("rights/me/erase") { request, _ in try await withSession(request, form: true) { try await erase($0, $1, $2) } }
        for action in PortalAction.allCases {
            router.get("rights/me/\(action.rawValue)") { request, _ in try await withSession(request) { try await confirmAction(action, $0, $1, $2) } }
            router.post("rights/me/\(action.rawValue)") { request, _ in try await withSession(request, form: true) { try await perform(action, $0, $1, $2) } }
        }
        router.post("rights/logout") { request, _ in try await withSession(request, form: true) { try await logout($0, $1, $2) } }

        // For administrators and tests: a fresh link for a person, as if they had asked for it by e-mail.
        api.post("subjects/:id/rights-link") { request, context in
            let principal = try support.principal(context, .erase)
            let subjectId = try support.parameter(context, "id")
            try await store.auditRightsLink(subjectId: subjectId, by: principal)
            let language = PageLanguage.choose(request)
            let expiresAt = store.currentMillis + Self.linkLifetime
            return try support.json(RightsLinkView(url: rightsLink(subjectId: subjectId, language: language), expiresAt: Timestamp.rfc3339(expiresAt)), status: .created)
        }
    }

    struct RightsLinkView: Codable {
        var url: String
        var expiresAt: String

        enum CodingKeys: String, CodingKey {
            case url
            case expiresAt = "expires_at"
        }
    }

    // MARK: - Entry: links and sessions (reusable by the preference center)

    /// A fresh single-use link into the portal for a person, valid for 60 minutes. The preference center
    /// (issue 3) can hand one out to a person it has already identified.
    func rightsLink(subjectId: String, language: PageLanguage) -> String {
        let token = links.issue(subjectId: subjectId, purpose: Self.linkPurpose, now: store.currentMillis, lifetimeMillis: Self.linkLifetime)
        return "\(config.baseURL)/rights/verify/\(token)?lang=\(language.code)"
    }

    /// The cookie that opens a 30-minute portal session for a person already verified by other means.
    func sessionCookie(subjectId: String) -> Cookie {
        let token = links.issue(subjectId: subjectId, purpose: Self.sessionPurpose, now: store.currentMillis, lifetimeMillis: Self.sessionLifetime)
        return Cookie(name: Self.sessionCookie, value: token, maxAge: Int(Self.sessionLifetime / 1000), path: "/rights", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    var endedSessionCookie: Cookie {
        Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/rights", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    // MARK: - Asking for a link

    /// A page where a person asks for a link by e-mail: `/rights` here, `/p` for the preference center.
    /// Both answer the same whether or not the address is known, and share the limits below.
    struct LinkDesk: Sendable {
        /// Where the page lives (its form posts back here; its browser cookie is scoped to it).
        var path: String
        /// The page's words: the portal's, with the desk's own heading, introduction and answer.
        var strings: @Sendable (PageLanguage) -> [String: String]
        /// The link for a known person, and the mail that carries it.
        var link: @Sendable (String, PageLanguage) -> String
        var mail: @Sendable (PageLanguage, String) -> (subject: String, body: String)
    }

    var rightsDesk: LinkDesk {
        LinkDesk(path: "/rights", strings: { PortalStrings.of($0) }, link: { rightsLink(subjectId: $0, language: $1) },
                 mail: { PortalStrings.mail($0, link: $1) })
    }

    func askPage(_ request: Request, desk: LinkDesk? = nil, email: String = "", error: Bool = false, status: HTTPResponse.Status = .ok) async throws -> Response {
        let desk = desk ?? rightsDesk
        let language = PageLanguage.choose(request)
        var browser = request.cookies[Self.browserCookie]?.value ?? ""
        var fresh: Cookie?
        if !Self.isBrowserNonce(browser) {
            browser = Self.randomHex()
            fresh = Cookie(name: Self.browserCookie, value: browser, path: desk.path, secure: secureCookies, httpOnly: true, sameSite: .strict)
        }
        var response = render("portal_ask", language, path: desk.path, status: status, [
            "csrf": links.tag("csrf-browser", browser), "email": email, "error": error, "t": desk.strings(language),
        ])
        if let fresh { response.setCookie(fresh) }
        return response
    }

    func askForLink(_ request: Request, _ context: CandorRequestContext, desk: LinkDesk? = nil) async throws -> Response {
        let desk = desk ?? rightsDesk
        let language = PageLanguage.choose(request)
        let t = desk.strings(language)
        let form = try await Self.form(request, limit: support.maxBodyBytes)
        let browser = request.cookies[Self.browserCookie]?.value ?? ""
        guard Self.isBrowserNonce(browser), links.checkTag("csrf-browser", browser, presented: form.first("csrf")) else {
            return message(language, path: desk.path, status: .forbidden, heading: "csrfHeading", body: "csrfBody", actions: [(desk.path, "askNew")], strings: t)
        }
        let email = form.first("email").trimmingCharacters(in: .whitespacesAndNewlines)
        guard SubjectInput.looksLikeEmail(email) else {
            return try await askPage(request, desk: desk, email: email, error: true, status: .unprocessableContent)
        }
        // Limits count every request alike, known address or not, so they reveal nothing either.
        let now = store.currentMillis
        let addressKey = "a:" + links.tag("rate", ServerSecrets.normalizeEmail(email))
        let clientKey = "c:" + (context.remoteIP ?? "unknown")
        guard limiter.allow(addressKey, limit: Self.perAddressLimit, now: now), limiter.allow(clientKey, limit: Self.perClientLimit, now: now) else {
            return message(language, path: desk.path, status: .tooManyRequests, heading: "rateHeading", body: "rateBody", actions: [], strings: t)
        }
        if let subject = try await store.portalSubject(email: email) {
            let link = desk.link(subject.id, language)
            let words = desk.mail(language, link)
            do {
                try await config.mailer.send(MailMessage(to: email, subject: words.subject, body: words.body, link: link, language: language.code))
            } catch {
                // The person sees the same answer either way; the failure is for operators (type only).
                context.logger.error("link not sent", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        return message(language, path: desk.path, status: .ok, heading: "sentHeading", body: "sentBody", actions: [], strings: t)
    }

    // MARK: - Opening a link

    func verify(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let language = PageLanguage.choose(request)
        let token = context.parameters.get("token") ?? ""
        let ask = [("/rights", "askNew")]
        switch links.verify(token, purpose: Self.linkPurpose, now: store.currentMillis) {
        case .failure(.expired):
            return message(language, path: "/rights", status: .gone, heading: "expiredHeading", body: "expiredBody", actions: ask)
        case .failure(.invalid):
            return message(language, path: "/rights", status: .notFound, heading: "invalidHeading", body: "invalidBody", actions: ask)
        case .success(let claims):
            guard let subject = try await store.portalSubject(id: claims.subjectId) else {
                return message(language, path: "/rights", status: .notFound, heading: "invalidHeading", body: "invalidBody", actions: ask)
            }
            if subject.status == .erased {
                return message(language, path: "/rights", status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [])
            }
            guard try await store.consumeLink(claims) else {
                return message(language, path: "/rights", status: .gone, heading: "usedHeading", body: "usedBody", actions: ask)
            }
            var response = Response(status: .seeOther, headers: [.location: "/rights/me?lang=\(language.code)"])
            response.setCookie(sessionCookie(subjectId: claims.subjectId))
            return response
        }
    }

    // MARK: - The session

    /// A verified portal session: whose it is, when it ends, and the CSRF token its forms carry.
    struct Session {
        var subjectId: String
        var expiresAt: Int64
        var csrf: String
        var language: PageLanguage
        /// The submitted form, for POSTs.
        var form: FormData
    }

    /// Runs `body` inside a live session; otherwise answers with the page that says why not. For
    /// forms, the CSRF token is checked before anything else is believed.
    func withSession(_ request: Request, form: Bool = false, _ body: (Request, Session, CandorStore) async throws -> Response) async throws -> Response {
        let language = PageLanguage.choose(request)
        let token = request.cookies[Self.sessionCookie]?.value ?? ""
        guard case .success(let claims) = links.verify(token, purpose: Self.sessionPurpose, now: store.currentMillis) else {
            // A link opened from a mail client is a cross-site navigation, and SameSite=Strict keeps the
            // fresh cookie out of the redirect that follows it; one same-site click brings it along.
            if !token.isEmpty || request.headers[HTTPField.Name("Sec-Fetch-Site")!] != "cross-site" || form {
                var response = message(language, path: "/rights", status: .unauthorized, heading: "sessionHeading", body: "sessionBody", actions: [("/rights", "askNew")])
                if !token.isEmpty { response.setCookie(endedSessionCookie) }
                return response
            }
            return message(language, path: "/rights/me", status: .ok, heading: "continueHeading", body: "continueBody", actions: [("/rights/me", "continue")])
        }
        let csrf = links.tag("csrf-session", claims.nonce)
        var data = FormData()
        if form {
            data = try await Self.form(request, limit: support.maxBodyBytes)
            guard links.checkTag("csrf-session", claims.nonce, presented: data.first("csrf")) else {
                return message(language, path: "/rights/me", status: .forbidden, heading: "csrfHeading", body: "csrfBody", actions: [("/rights/me", "back")])
            }
        }
        guard let subject = try await store.portalSubject(id: claims.subjectId) else {
            return message(language, path: "/rights", status: .unauthorized, heading: "sessionHeading", body: "sessionBody", actions: [("/rights", "askNew")])
        }
        if subject.status == .erased {
            var response = message(language, path: "/rights", status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [("/rights", "home")])
            response.setCookie(endedSessionCookie)
            return response
        }
        do {
            return try await body(request, Session(subjectId: claims.subjectId, expiresAt: claims.expiresAt, csrf: csrf, language: language, form: data), store)
        } catch let error as CandorError where error.kind == .gone {
            // Erased between the check above and the action (another tab, an administrator).
            var response = message(language, path: "/rights", status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [("/rights", "home")])
            response.setCookie(endedSessionCookie)
            return response
        }
    }

    func logout(_ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        var response = message(session.language, path: "/rights", status: .ok, heading: "sessionHeading", body: "sessionBody", actions: [("/rights", "askNew")])
        response.setCookie(endedSessionCookie)
        return response
    }

    // MARK: - Seeing and downloading

    func overview(_ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        let export = try await store.exportSubject(subjectId: session.subjectId, by: nil)
        let receipts = try await store.consentReceipts(subjectId: session.subjectId)
        var context = PortalView(store: store, language: session.language).overview(export, receipts: receipts)
        context["csrf"] = session.csrf
        context["sessionEnds"] = PortalView.time(session.expiresAt)
        return render("portal_me", session.language, path: "/rights/me", context)
    }

    func exportJSON(_ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        let export = try await store.exportSubject(subjectId: session.subjectId, by: nil)
        return download(try CandorJSON.encode(export), type: "application/json", filename: "candor-export.json")
    }

    func exportHTML(_ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        let export = try await store.exportSubject(subjectId: session.subjectId, by: nil)
        var context = PortalView(store: store, language: session.language).overview(export, receipts: [])
        context["generated"] = PortalView.time(export.generatedAt)
        return render("portal_export", session.language, path: "/rights/me/export.html", context)
    }

    func receipt(_ request: Request, _ session: Session, _ store: CandorStore, _ context: CandorRequestContext) async throws -> Response {
        guard let seq = context.parameters.get("seq").flatMap(Int64.init) else {
            return message(session.language, path: "/rights/me", status: .notFound, heading: "invalidHeading", body: "invalidBody", actions: [("/rights/me", "back")])
        }
        do {
            let document = try await store.consentReceipt(subjectId: session.subjectId, seq: seq)
            try await store.auditSelfService(subjectId: session.subjectId, action: "consent.receipt.read")
            return download(try CandorJSON.encode(document), type: "application/json", filename: "consent-receipt-\(seq).json")
        } catch let error as CandorError where error.kind == .notFound {
            return message(session.language, path: "/rights/me", status: .notFound, heading: "invalidHeading", body: "invalidBody", actions: [("/rights/me", "back")])
        }
    }

    func download(_ data: Data, type: String, filename: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: - Correcting a value

    func correctForm(_ request: Request, _ session: Session, _ store: CandorStore, _ context: CandorRequestContext) async throws -> Response {
        guard let field = store.registry.fields[context.parameters.get("field") ?? ""] else { return unknownField(session) }
        let export = try await store.exportSubject(subjectId: session.subjectId, by: nil)
        let current = export.values[field.key]?.value
        return correctPage(session, field: field, current: current, proposed: current, error: nil, status: .ok)
    }

    func correct(_ request: Request, _ session: Session, _ store: CandorStore, _ context: CandorRequestContext) async throws -> Response {
        guard let field = store.registry.fields[context.parameters.get("field") ?? ""] else { return unknownField(session) }
        let view = PortalView(store: store, language: session.language)
        let submitted = session.form.all("value")
        let export = try await store.exportSubject(subjectId: session.subjectId, by: nil)
        let current = export.values[field.key]?.value
        let value: JSONValue
        switch view.parse(submitted, for: field) {
        case .failure(let error):
            return correctPage(session, field: field, current: current, proposed: nil, submitted: submitted, error: error.message, status: .unprocessableContent)
        case .success(let parsed):
            value = parsed
        }
        guard session.form.first("step") == "confirm" else {
            let t = PortalStrings.of(session.language)
            return render("portal_review", session.language, path: "/rights/me/correct/\(field.key)", [
                "csrf": session.csrf, "fieldKey": field.key, "fieldLabel": view.label(field),
                "from": current.map { view.display($0, field: field) } ?? t["none"]!, "to": view.display(value, field: field),
                "hidden": submitted.map { ["value": $0] },
            ])
        }
        do {
            _ = try await store.rectify(subjectId: session.subjectId, field: field.key, value: value, by: nil)
        } catch let error as CandorError where error.kind == .validation {
            return correctPage(session, field: field, current: current, proposed: nil, submitted: submitted, error: PortalStrings.of(session.language)["errInvalid"]!, status: .unprocessableContent)
        }
        return message(session.language, path: "/rights/me", status: .ok, heading: "done", body: "correctDone", actions: [("/rights/me", "back")], done: true)
    }

    func correctPage(_ session: Session, field: Field, current: JSONValue?, proposed: JSONValue?, submitted: [String]? = nil, error: String?, status: HTTPResponse.Status) -> Response {
        let view = PortalView(store: store, language: session.language)
        var context = view.fieldForm(field, proposed: proposed, submitted: submitted)
        let t = PortalStrings.of(session.language)
        context["csrf"] = session.csrf
        context["current"] = current.map { view.display($0, field: field) } ?? t["none"]!
        if let error { context["error"] = error }
        return render("portal_correct", session.language, path: "/rights/me/correct/\(field.key)", status: status, context)
    }

    func unknownField(_ session: Session) -> Response {
        message(session.language, path: "/rights/me", status: .notFound, heading: "invalidHeading", body: "errInvalid", actions: [("/rights/me", "back")])
    }

    // MARK: - Erasing

    func eraseForm(_ request: Request, _ session: Session, _ store: CandorStore, word: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        var context: [String: Any] = ["csrf": session.csrf]
        if let word {
            context["word"] = word
            context["error"] = true
        }
        return render("portal_erase", session.language, path: "/rights/me/erase", status: status, context)
    }

    func erase(_ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        let typed = session.form.first("word").trimmingCharacters(in: .whitespacesAndNewlines)
        // Either language's word is accepted: someone who switched language mid-way meant it too.
        let words = PortalStrings.all.values.compactMap { $0["eraseWord"] }
        guard words.contains(where: { $0.caseInsensitiveCompare(typed) == .orderedSame }) else {
            return try await eraseForm(request, session, store, word: typed, status: .unprocessableContent)
        }
        _ = try await store.erase(subjectId: session.subjectId, by: nil, selfService: true)
        var response = message(session.language, path: "/rights", status: .ok, heading: "eraseDoneHeading", body: "eraseDoneBody", actions: [("/rights", "home")], done: true)
        response.setCookie(endedSessionCookie)
        return response
    }

    // MARK: - Restrict, object, opt out

    func confirmAction(_ action: PortalAction, _ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        let export = try await store.exportSubject(subjectId: session.subjectId, by: nil)
        let t = PortalStrings.of(session.language)
        return render("portal_confirm", session.language, path: "/rights/me/\(action.rawValue)", [
            "csrf": session.csrf, "action": action.rawValue, "already": action.isDone(export.flags),
            "heading": t["\(action.rawValue)Title"]!, "body": t["\(action.rawValue)Body"]!, "confirm": t["\(action.rawValue)Confirm"]!,
        ])
    }

    func perform(_ action: PortalAction, _ request: Request, _ session: Session, _ store: CandorStore) async throws -> Response {
        switch action {
        case .restrict: _ = try await store.setRestricted(true, subjectId: session.subjectId, by: nil, selfService: true)
        case .unrestrict: _ = try await store.setRestricted(false, subjectId: session.subjectId, by: nil, selfService: true)
        case .object: _ = try await store.objectToDirectMarketing(subjectId: session.subjectId, by: nil)
        case .optout: _ = try await store.optOutOfSale(subjectId: session.subjectId, method: .form, by: nil)
        }
        return message(session.language, path: "/rights/me", status: .ok, heading: "done", body: "\(action.rawValue)Done", actions: [("/rights/me", "back")], done: true)
    }

    // MARK: - Rendering

    func render(_ template: String, _ language: PageLanguage, path: String, status: HTTPResponse.Status = .ok, _ extra: [String: Any]) -> Response {
        var context: [String: Any] = ["lang": language.code, "dir": language.direction, "t": PortalStrings.of(language), "path": path]
        for (key, value) in extra { context[key] = value }
        return Response.html(resources.templates.render(context, withTemplate: template) ?? "", status: status)
    }

    /// A page with one message and the links that lead on; `done` marks a confirmation of an action.
    func message(_ language: PageLanguage, path: String, status: HTTPResponse.Status, heading: String, body: String, actions: [(String, String)], done: Bool = false,
                 strings: [String: String]? = nil) -> Response {
        let t = strings ?? PortalStrings.of(language)
        return render("portal_message", language, path: path, status: status, [
            "t": t, "heading": t[heading] ?? heading, "body": t[body] ?? body, "done": done, "problem": status.code >= 400, "hasActions": !actions.isEmpty,
            "actions": actions.map { ["href": $0.0, "label": t[$0.1] ?? $0.1] },
        ])
    }

    // MARK: - Helpers

    static func randomHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return Digest.hex((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func isBrowserNonce(_ text: String) -> Bool {
        text.count == 32 && text.allSatisfy(\.isHexDigit)
    }

    /// Reads an `application/x-www-form-urlencoded` body.
    static func form(_ request: Request, limit: Int) async throws -> FormData {
        // An oversized body reads as an empty form: its CSRF check fails and a page says so.
        guard let buffer = try? await request.body.collect(upTo: limit) else { return FormData() }
        return FormData(String(buffer: buffer))
    }
}

/// The one-click rights a person confirms on a page of their own.
enum PortalAction: String, CaseIterable, Sendable {
    case restrict, unrestrict, object, optout

    func isDone(_ flags: SubjectExport.Flags) -> Bool {
        switch self {
        case .restrict: flags.restricted
        case .unrestrict: !flags.restricted
        case .object: flags.objectedToDirectMarketing
        case .optout: flags.optedOutOfSale
        }
    }
}

/// A submitted form: each name with its values in order (checkboxes repeat a name).
struct FormData: Sendable {
    var pairs: [(String, String)] = []

    init() {}

    init(_ body: String) {
        for part in body.split(separator: "&") {
            let halves = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            pairs.append((decode(halves[0]), halves.count > 1 ? decode(halves[1]) : ""))
        }
    }

    /// The first value of a name, or empty.
    func first(_ name: String) -> String { pairs.first { $0.0 == name }?.1 ?? "" }
    /// Every value of a name.
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
}

/// Counts requests per key in a sliding hour, in this node's memory. Enough against a person being
/// flooded with links or a client guessing addresses; several nodes each allow the limit.
final class PortalRateLimiter: Sendable {
    private let hits = LockedBox<[String: [Int64]]>([:])
    static let window: Int64 = 60 * 60 * 1000

    /// Counts a request and says whether it is within `limit` for the window.
    func allow(_ key: String, limit: Int, now: Int64) -> Bool {
        hits.withLock { hits in
            if hits.count > 100_000 { hits = hits.filter { $0.value.contains { $0 > now - Self.window } } }
            var recent = (hits[key] ?? []).filter { $0 > now - Self.window }
            guard recent.count < limit else {
                hits[key] = recent
                return false
            }
            recent.append(now)
            hits[key] = recent
            return true
        }
    }
}

/// A mutex-protected value.
final class LockedBox<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
