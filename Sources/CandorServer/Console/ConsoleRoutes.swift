import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The operator console at `/console` (issue 7): sign-in, the at-a-glance page, people, rights requests
/// and the audit log, in English and Hebrew.
///
/// The console is a client of the same permissions as the API, never a back door: a signed-in operator
/// acts as a `Principal` of their team, every page checks the team's roles, every read of personal data
/// names a purpose the team holds and goes through the same gated, audited store functions the `/v1`
/// routes call. Pages work without JavaScript under the strict CSP of `Response.html`; every form
/// carries a CSRF token bound to the session (before sign-in, to a random browser cookie).
struct ConsoleRoutes {
    let store: CandorStore
    let resources: Resources
    let config: ServerConfig
    let support: RouteSupport
    let glance: ConsoleGlanceCache
    let stylesheet: String
    /// The console's scripts by file name (`console-*.js`).
    let scripts: [String: String]
    let limiter = PortalRateLimiter()

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    static let sessionCookie = "candor_console"
    static let browserCookie = "candor_console_browser"
    static let languageCookie = "candor_console_lang"
    /// Sign-in attempts per client address per hour (the per-account lockout is in the store).
    static let perClientLoginLimit = 100

    init(store: CandorStore, resources: Resources, config: ServerConfig, support: RouteSupport) {
        self.store = store
        self.resources = resources
        self.config = config
        self.support = support
        self.glance = ConsoleGlanceCache()
        let root = Bundle.module.url(forResource: "Resources", withExtension: nil)
        self.stylesheet = root.flatMap { try? String(contentsOf: $0.appendingPathComponent("static/console.css"), encoding: .utf8) } ?? ""
        // Every `static/console-*.js` file is served at `/static/<name>`, read once.
        var scripts: [String: String] = [:]
        if let folder = root?.appendingPathComponent("static"), let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) {
            for name in names where name.hasPrefix("console-") && name.hasSuffix(".js") {
                scripts[name] = try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            }
        }
        self.scripts = scripts
    }

    /// Cookies are `Secure` unless the console is served on the loopback address (development and tests).
    var secureCookies: Bool {
        let host = URL(string: config.baseURL)?.host?.lowercased() ?? ""
        return !["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
    }

    func add(to router: Router<CandorRequestContext>) {
        router.get("static/console.css") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "public, max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: stylesheet)))
        }
        router.get("console/login") { request, _ in try await loginPage(request) }
        router.post("console/login") { request, context in try await signIn(request, context) }
        router.post("console/logout") { request, context in
            try await visit(request, context, form: true) { visit in
                try await store.endOperatorSession(visit.session)
                var response = redirect("/console/login?out=1&lang=\(visit.language.code)")
                response.setCookie(endedSessionCookie)
                return response
            }
        }
        router.get("console") { request, context in
            try await visit(request, context) { try await glancePage(request, $0) }
        }
        router.get("static/:script") { _, context in
            // The console's few scripts (progressive enhancement only: every page works without them).
            let name = try support.parameter(context, "script")
            guard let body = scripts[name] else { throw CandorError(.notFound, "no such file") }
            var headers = HTTPFields()
            headers[.contentType] = "text/javascript; charset=utf-8"
            headers[.cacheControl] = "public, max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        addPeople(to: router)
        addRequests(to: router)
        addAudit(to: router)
        addRegistrySetup(to: router)
        addCollectionSetup(to: router)
        addActivationSetup(to: router)
        addDeliverySetup(to: router)
    }

    // MARK: - Signing in

    func loginPage(_ request: Request, email: String = "", message: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let language = self.language(request)
        if message == nil, let token = request.cookies[Self.sessionCookie]?.value, try await store.operatorSession(token: token) != nil {
            return redirect("/console?lang=\(language.code)")
        }
        let t = ConsoleStrings.of(language)
        var browser = request.cookies[Self.browserCookie]?.value ?? ""
        var fresh: Cookie?
        if !PortalRoutes.isBrowserNonce(browser) {
            browser = PortalRoutes.randomHex()
            fresh = Cookie(name: Self.browserCookie, value: browser, path: "/console", secure: secureCookies, httpOnly: true, sameSite: .strict)
        }
        let query = request.uri.queryParameters
        var notice: String?
        if query.get("ended") != nil { notice = t["sessionEnded"] }
        if query.get("out") != nil { notice = t["signedOut"] }
        var response = render("console/login", language, path: "/console/login", status: status, PortalView.compact([
            "csrf": store.subjectLinks.tag("csrf-console-login", browser), "email": email,
            "error": message.map { t[$0] ?? $0 }, "notice": notice,
        ]))
        if let fresh { response.setCookie(fresh) }
        return response
    }

    func signIn(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let language = self.language(request)
        let form = try await PortalRoutes.form(request, limit: support.maxBodyBytes)
        let browser = request.cookies[Self.browserCookie]?.value ?? ""
        guard PortalRoutes.isBrowserNonce(browser), store.subjectLinks.checkTag("csrf-console-login", browser, presented: form.first("csrf")) else {
            return errorPage(language, status: .forbidden, heading: "csrfHeading", body: "csrfBody", link: ("/console/login", "signInAgain"))
        }
        let email = form.first("email").trimmingCharacters(in: .whitespacesAndNewlines)
        let password = form.first("password")
        guard limiter.allow("c:" + (context.remoteIP ?? "unknown"), limit: Self.perClientLoginLimit, now: store.currentMillis) else {
            return try await loginPage(request, email: email, message: "tooMany", status: .tooManyRequests)
        }
        let cost = config.console.bcryptCost
        guard let credentials = try await store.operatorCredentials(email: email) else {
            // An unknown address costs as much time as a wrong password and reads the same.
            _ = try await OperatorPasswords.verify(password, hash: try await OperatorPasswords.decoyHash(cost: cost))
            try await store.recordFailedLogin(nil, outcome: .unknownOperator)
            return try await loginPage(request, email: email, message: "wrongPassword", status: .unauthorized)
        }
        if store.isLocked(credentials) {
            try await store.recordFailedLogin(credentials, outcome: .locked)
            return try await loginPage(request, email: email, message: "locked", status: HTTPResponse.Status(code: 423, reasonPhrase: "Locked"))
        }
        guard try await OperatorPasswords.verify(password, hash: credentials.passwordHash) else {
            try await store.recordFailedLogin(credentials, outcome: .wrongPassword)
            // The attempt that locks the account says so at once.
            if let now = try await store.operatorCredentials(email: email), store.isLocked(now) {
                return try await loginPage(request, email: email, message: "locked", status: HTTPResponse.Status(code: 423, reasonPhrase: "Locked"))
            }
            return try await loginPage(request, email: email, message: "wrongPassword", status: .unauthorized)
        }
        let (token, _) = try await store.openOperatorSession(credentials.account)
        var response = redirect("/console?lang=\(language.code)")
        response.setCookie(Cookie(name: Self.sessionCookie, value: token, maxAge: Int(OperatorPolicy.absoluteMillis / 1000), path: "/console",
                                  secure: secureCookies, httpOnly: true, sameSite: .strict))
        // The language chosen on the sign-in page stays for the session's pages.
        response.setCookie(Cookie(name: Self.languageCookie, value: language.code, path: "/console", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    var endedSessionCookie: Cookie {
        Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/console", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    // MARK: - A signed-in visit

    /// A page view by a signed-in operator.
    struct Visit {
        var session: OperatorSession
        var principal: Principal
        var language: PageLanguage
        var csrf: String
        /// The submitted form, for POSTs.
        var form: FormData
        var t: [String: String] { ConsoleStrings.of(language) }
    }

    /// Runs `body` for a signed-in operator; otherwise answers with the sign-in page (for a page) or a
    /// page that says the session ended (for a form). For forms the CSRF token is checked before
    /// anything else is believed. Errors of the store become console pages with their status.
    func visit(_ request: Request, _ context: CandorRequestContext, form: Bool = false, _ body: (Visit) async throws -> Response) async throws -> Response {
        let language = self.language(request)
        let token = request.cookies[Self.sessionCookie]?.value ?? ""
        guard !token.isEmpty, let session = try await store.operatorSession(token: token) else {
            var response = form
                ? errorPage(language, status: .unauthorized, heading: "sessionEndedHeading", body: "sessionEnded", link: ("/console/login", "signInAgain"))
                : redirect("/console/login?\(token.isEmpty ? "" : "ended=1&")lang=\(language.code)")
            if !token.isEmpty { response.setCookie(endedSessionCookie) }
            return response
        }
        guard let principal = store.principal(for: session.account) else {
            return errorPage(language, status: .forbidden, heading: "forbiddenHeading", body: "noTeam", link: nil)
        }
        let csrf = store.subjectLinks.tag("csrf-console", session.tokenHash)
        var data = FormData()
        if form {
            data = try await PortalRoutes.form(request, limit: support.maxBodyBytes)
            guard store.subjectLinks.checkTag("csrf-console", session.tokenHash, presented: data.first("csrf")) else {
                return errorPage(language, status: .forbidden, heading: "csrfHeading", body: "csrfBody", link: ("/console", "home"), visit: nil)
            }
        }
        let visit = Visit(session: session, principal: principal, language: language, csrf: csrf, form: data)
        var response: Response
        do {
            response = try await body(visit)
        } catch let error as CandorError {
            response = storeErrorPage(error, visit)
        }
        if let asked = request.uri.queryParameters.get("lang"), Locales.supported.contains(String(asked)) {
            response.setCookie(Cookie(name: Self.languageCookie, value: String(asked), path: "/console", secure: secureCookies, httpOnly: true, sameSite: .strict))
        }
        return response
    }

    /// The page for an error the store raised: forbidden, not found, gone, or invalid input.
    func storeErrorPage(_ error: CandorError, _ visit: Visit) -> Response {
        let status: HTTPResponse.Status
        let heading: String
        switch error.kind {
        case .forbidden: (status, heading) = (.forbidden, "forbiddenHeading")
        case .notFound: (status, heading) = (.notFound, "notFoundHeading")
        case .gone: (status, heading) = (.gone, "goneHeading")
        case .conflict: (status, heading) = (.conflict, "conflictHeading")
        default: (status, heading) = (.unprocessableContent, "invalidHeading")
        }
        let detail = error.errors.isEmpty ? error.detail : error.errors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        return errorPage(visit.language, status: status, heading: heading, body: detail, link: ("/console", "home"), visit: visit)
    }

    /// A message of the store (which speaks English) as a form shows it next to a field: in the page's
    /// words when the area has them (`known`: a fragment of the English message and the string key of
    /// its translation), otherwise, on a Hebrew page, after a Hebrew lead with the English detail
    /// isolated (U+2068 … U+2069) so that its words and punctuation are not reordered right to left.
    static func inlineMessage(_ message: String, _ language: PageLanguage, known: [(fragment: String, key: String)] = []) -> String {
        let t = ConsoleStrings.of(language)
        if let match = known.first(where: { message.contains($0.fragment) }), let words = t[match.key] { return words }
        guard language.code == "he", let lead = t["invalidLead"] else { return message }
        return lead + " \u{2068}" + message + "\u{2069}"
    }

    /// A 403 page naming the team and what it lacks.
    func forbidden(_ visit: Visit, _ key: String, _ what: String) -> Response {
        let text = (visit.t[key] ?? key).replacingOccurrences(of: "%1", with: teamName(visit.principal.team)).replacingOccurrences(of: "%2", with: what)
        return errorPage(visit.language, status: .forbidden, heading: "forbiddenHeading", body: text, link: ("/console", "home"), visit: visit)
    }

    /// Refuses a page unless the team holds one of `roles`.
    func require(_ roles: [Role], _ visit: Visit) -> Response? {
        roles.contains(where: visit.principal.has) ? nil : forbidden(visit, "forbiddenRole", roles.map(\.rawValue).joined(separator: " / "))
    }

    // MARK: - Rendering

    /// The language of a console page: `?lang=`, then the console's language cookie, then `Accept-Language`.
    func language(_ request: Request) -> PageLanguage {
        if let asked = request.uri.queryParameters.get("lang").map({ String($0) }), Locales.supported.contains(asked) { return PageLanguage(code: asked) }
        if let saved = request.cookies[Self.languageCookie]?.value, Locales.supported.contains(saved) { return PageLanguage(code: saved) }
        return PageLanguage.choose(request)
    }

    func teamName(_ team: Team) -> String { team.name }

    /// Renders a console template inside the layout: navigation allowed by the team's roles, who is
    /// signed in, the sign-out form and the language switch.
    func render(_ template: String, _ language: PageLanguage, path: String, status: HTTPResponse.Status = .ok, visit: Visit? = nil, _ extra: [String: Any]) -> Response {
        let t = ConsoleStrings.of(language)
        let other = language.code == "he" ? "en" : "he"
        let separator = path.contains("?") ? "&" : "?"
        var context: [String: Any] = [
            "lang": language.code, "dir": language.direction, "t": t, "path": path,
            "switchHref": "\(path)\(separator)lang=\(other)", "switchLabel": t["switchLanguage"]!, "switchLang": other,
        ]
        if let visit {
            let principal = visit.principal
            let section = path.split(separator: "?").first.map { String($0) } ?? path
            context["navGroups"] = Self.navigation(for: principal).map { group in
                [
                    "heading": t[group.heading]!,
                    "links": group.links.map { link in
                        ["href": link.href, "label": t[link.label]!, "icon": link.icon,
                         "current": link.href == "/console" ? section == "/console" : (section == link.href || section.hasPrefix(link.href + "/"))] as [String: Any]
                    },
                ] as [String: Any]
            }
            context["signedIn"] = true
            context["operatorName"] = visit.session.account.name
            context["teamName"] = teamName(principal.team)
            context["csrf"] = visit.csrf
        }
        for (key, value) in extra { context[key] = value }
        var response = Response.html(resources.templates.render(context, withTemplate: template) ?? "", status: status)
        // The console's CSP: the strict one of all pages, plus same-origin scripts and fetches (a page
        // may enhance itself with `/static/console-*.js`, e.g. a segment's live count) and same-origin
        // frames (a prompt's preview is the visitor's page in a frame). Still no inline script or style.
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// One link of the navigation, shown only to teams holding one of `roles` (empty: everyone).
    struct NavLink {
        var href: String
        var label: String
        var icon: String
        var roles: [Role]
    }

    /// The console's map: every page an operator can reach, grouped the way the work is, each with the
    /// roles its page checks (the same roles as the API routes it is a client of).
    static let navigationMap: [(heading: String, links: [NavLink])] = [
        ("navGroupOverview", [
            NavLink(href: "/console", label: "navGlance", icon: "glance", roles: []),
            NavLink(href: "/console/people", label: "navPeople", icon: "people", roles: [.read]),
            NavLink(href: "/console/requests", label: "navRequests", icon: "requests", roles: [.erase, .audit]),
        ]),
        ("navGroupCollect", [
            NavLink(href: "/console/surveys", label: "navSurveys", icon: "surveys", roles: [.admin]),
            NavLink(href: "/console/polls", label: "navPolls", icon: "polls", roles: [.admin]),
            NavLink(href: "/console/incentives", label: "navIncentives", icon: "incentives", roles: [.admin]),
        ]),
        ("navGroupActivate", [
            NavLink(href: "/console/segments", label: "navSegments", icon: "segments", roles: [.admin]),
            NavLink(href: "/console/offers", label: "navOffers", icon: "offers", roles: [.admin]),
            NavLink(href: "/console/campaigns", label: "navCampaigns", icon: "campaigns", roles: [.read, .write]),
        ]),
        ("navGroupDeliver", [
            NavLink(href: "/console/destinations", label: "navDestinations", icon: "destinations", roles: [.admin, .audit]),
            NavLink(href: "/console/automations", label: "navAutomations", icon: "automations", roles: [.admin, .audit]),
        ]),
        ("navGroupGovern", [
            NavLink(href: "/console/purposes", label: "navPurposes", icon: "purposes", roles: [.admin]),
            NavLink(href: "/console/fields", label: "navFields", icon: "fields", roles: [.admin]),
            NavLink(href: "/console/teams", label: "navTeams", icon: "teams", roles: [.admin]),
            NavLink(href: "/console/keys", label: "navKeys", icon: "keys", roles: [.admin]),
            NavLink(href: "/console/audit", label: "navAudit", icon: "audit", roles: [.audit]),
            NavLink(href: "/console/audit-report", label: "navAuditReport", icon: "report", roles: [.audit]),
            NavLink(href: "/console/records", label: "navRecords", icon: "records", roles: [.admin, .audit]),
        ]),
    ]

    /// The navigation a team sees: the groups with at least one link its roles open.
    static func navigation(for principal: Principal) -> [(heading: String, links: [NavLink])] {
        navigationMap.compactMap { group in
            let links = group.links.filter { $0.roles.isEmpty || $0.roles.contains(where: principal.has) }
            return links.isEmpty ? nil : (group.heading, links)
        }
    }

    /// A page with one message: what went wrong and where to go next.
    func errorPage(_ language: PageLanguage, status: HTTPResponse.Status, heading: String, body: String, link: (String, String)?, visit: Visit? = nil) -> Response {
        let t = ConsoleStrings.of(language)
        return render("console/message", language, path: link?.0 ?? "/console", status: status, visit: visit, PortalView.compact([
            "heading": t[heading] ?? heading, "body": t[body] ?? body, "problem": status.code >= 400,
            "link": link.map { ["href": $0.0, "label": t[$0.1] ?? $0.1] },
        ]))
    }

    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// A time as the console shows it: UTC, minutes.
    static func time(_ rfc3339: String?) -> String {
        guard let rfc3339 else { return "—" }
        // Candor writes UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`: cut it, instead of parsing (a formatter per value is slow).
        let characters = Array(rfc3339.utf8)
        if characters.count >= 17, characters[10] == UInt8(ascii: "T"), rfc3339.hasSuffix("Z") {
            return "\u{2066}" + String(decoding: characters[0..<10], as: UTF8.self) + " " + String(decoding: characters[11..<16], as: UTF8.self) + " UTC\u{2069}"
        }
        guard let millis = Timestamp.parse(rfc3339) else { return "—" }
        return time(millis: millis)
    }

    static func time(millis: Int64) -> String {
        let (year, month, day) = civilDate(daysSinceEpoch: floorDiv(millis, 86_400_000))
        let minuteOfDay = floorDiv(millis - floorDiv(millis, 86_400_000) * 86_400_000, 60_000)
        let text = "\(year)-\(twoDigits(month))-\(twoDigits(day)) \(twoDigits(minuteOfDay / 60)):\(twoDigits(minuteOfDay % 60)) UTC"
        // Isolated left-to-right (U+2066 … U+2069), so a Hebrew page does not reorder date, time and zone.
        return "\u{2066}" + text + "\u{2069}"
    }

    /// The proleptic Gregorian date of a day number (days since 1970-01-01), by Howard Hinnant's
    /// `civil_from_days`: formatting by hand, because a DateFormatter per value made long pages slow.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
