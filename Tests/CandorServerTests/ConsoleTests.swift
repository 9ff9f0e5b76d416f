import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The operator console in-process: sign-in, cookies, CSRF, the team's roles and purposes, audited
/// views, the charts' accessibility and direction. (The browser walk is tests/python/test_console.py.)
@Suite("Operator console")
struct ConsoleTests {
    /// A browser of the console: keeps the cookies the server sets.
    final class Browser: @unchecked Sendable {
        let api: API
        var cookies: [String: String] = [:]

        init(_ api: API) { self.api = api }

        func send(_ method: HTTPRequest.Method, _ path: String, form: [String: String]? = nil) async throws -> Reply {
            var headers = [String: String]()
            if !cookies.isEmpty { headers["Cookie"] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            let body = form.map { fields in
                fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            }
            let reply = try await api.send(method, path, body: body, contentType: "application/x-www-form-urlencoded", headers: headers)
            for line in reply.headers[values: .setCookie] {
                let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let name = String(pair[0])
                let value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || line.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
            return reply
        }

        /// The CSRF token of the forms on a page.
        func csrf(_ path: String) async throws -> String {
            let page = try await send(.get, path)
            let match = try #require(page.text.firstMatch(of: /name="csrf" value="([^"]+)"/))
            return String(match.1)
        }

        func signIn(_ email: String, _ password: String) async throws -> Reply {
            try await send(.post, "/console/login", form: ["csrf": try await csrf("/console/login"), "email": email, "password": password])
        }
    }

    static let password = "correct horse battery staple"

    /// A clock the tests move by hand.
    final class ManualClock: CandorClock, @unchecked Sendable {
        private let lock = NSLock()
        private var millis = Timestamp.millis(Date())
        func nowMillis() -> Int64 { lock.withLock { millis } }
        func advance(minutes: Int64) { lock.withLock { millis += minutes * 60_000 } }
    }

    /// A console over a fresh store with a hand-moved clock and a chosen public address, with one IT operator.
    static func withConsole(publicBaseURL: String? = nil, _ body: @Sendable (Browser, ManualClock) async throws -> Void) async throws {
        _ = CandorMetrics.registry
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = ServerConfig()
        config.dataDirectory = directory.path
        config.publicBaseURL = publicBaseURL
        let clock = ManualClock()
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(database: try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path),
                                          secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing), clock: clock)
        do {
            _ = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["https://shop.example"])
            _ = try await OperatorPasswords.createOperator(store, email: "it@example.com", name: "IT", team: "it", password: password, cost: 4)
            let app = Application(router: buildRouter(config: config, store: store, resources: try await Resources.load()))
            try await app.test(.router) { client in try await body(Browser(API(client: client)), clock) }
        } catch {
            try? await store.database.close()
            throw error
        }
        try await store.database.close()
    }

    /// An operator of `team` with a cheap hash (bcrypt cost 4: the check reads the cost from the hash).
    static func makeOperator(_ server: TestServer, team: String) async throws -> Operator {
        try await OperatorPasswords.createOperator(server.store, email: "\(team)@example.com", name: "\(team.capitalized) Operator", team: team,
                                                   password: password, cost: 4)
    }

    @Test("Signing in sets a strict, HttpOnly session cookie; a wrong password does not, and neither is logged with the password")
    func signIn() async throws {
        try await TestServer.run { server in
            let account = try await Self.makeOperator(server, team: "support")
            let browser = Browser(server.api)
            // Pages need a session: without one the console sends the browser to sign in
            let anonymous = try await browser.send(.get, "/console")
            #expect(anonymous.status == .seeOther && anonymous.header("Location")?.hasPrefix("/console/login") == true)

            let wrong = try await browser.signIn(account.email, "not the password")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("The e-mail address or password is not right."))
            #expect(browser.cookies["candor_console"] == nil)

            let right = try await browser.signIn("SUPPORT@example.com", Self.password)
            #expect(right.status == .seeOther && right.header("Location")?.hasPrefix("/console") == true)
            let cookie = try #require(right.headers[values: .setCookie].first { $0.hasPrefix("candor_console=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/console"))
            // (served on 127.0.0.1, the cookie cannot be Secure; on any other host it is)
            #expect(!cookie.contains("Secure"))

            let home = try await browser.send(.get, "/console")
            #expect(home.status == .ok)
            #expect(home.text.contains("Support Operator"))
            let policy = try #require(home.header("Content-Security-Policy"))
            #expect(policy.contains("default-src 'none'") && !policy.contains("unsafe-inline"))

            let audit = try await server.store.auditLog(AuditQuery(action: "console.login"), cursor: nil, limit: 50).data
            #expect(audit.map(\.outcome) == ["wrong_password", "ok"])
            let everything = try await server.store.database.read { try $0.query("SELECT actor, outcome, fields FROM audit_log", []).map { "\($0.values)" } }
            #expect(!everything.joined().contains(Self.password) && !everything.joined().contains("not the password"))
        }
    }

    @Test("A session ends after 30 idle minutes and after 12 hours however busy; then the console asks to sign in again")
    func sessionExpiry() async throws {
        try await Self.withConsole { browser, clock in
            _ = try await browser.signIn("it@example.com", Self.password)
            clock.advance(minutes: 29)
            #expect(try await browser.send(.get, "/console/people").status == .ok)
            clock.advance(minutes: 31)
            let idle = try await browser.send(.get, "/console/people")
            #expect(idle.status == .seeOther && idle.header("Location")?.hasPrefix("/console/login?ended=1") == true)
            #expect(browser.cookies["candor_console"] == nil, "the ended session's cookie is cleared")
            let login = try await browser.send(.get, "/console/login?ended=1")
            #expect(login.text.contains("Your session ended. Please sign in again."))

            _ = try await browser.signIn("it@example.com", Self.password)
            for _ in 0..<35 {
                clock.advance(minutes: 20)
                #expect(try await browser.send(.get, "/console/people").status == .ok)
            }
            clock.advance(minutes: 20)
            #expect(try await browser.send(.get, "/console/people").status == .seeOther)
        }
    }

    @Test("Served anywhere but on loopback, the session cookie is Secure")
    func secureCookie() async throws {
        try await Self.withConsole(publicBaseURL: "https://candor.example.com") { browser, _ in
            let answer = try await browser.signIn("it@example.com", Self.password)
            let cookie = try #require(answer.headers[values: .setCookie].first { $0.hasPrefix("candor_console=") })
            #expect(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        }
    }

    @Test("A session's forms need its CSRF token; signing out ends the session for good")
    func csrfAndSignOut() async throws {
        try await TestServer.run { server in
            let account = try await Self.makeOperator(server, team: "it")
            let browser = Browser(server.api)
            _ = try await browser.signIn(account.email, Self.password)
            let token = try #require(browser.cookies["candor_console"])

            // Without the token, or with a made-up one, sign-out does nothing
            #expect(try await browser.send(.post, "/console/logout", form: [:]).status == .forbidden)
            #expect(try await browser.send(.post, "/console/logout", form: ["csrf": "forged"]).status == .forbidden)
            #expect(try await browser.send(.get, "/console").status == .ok)
            // The sign-in form has its own token, bound to a browser cookie
            let bare = Browser(server.api)
            #expect(try await bare.send(.post, "/console/login", form: ["email": account.email, "password": Self.password]).status == .forbidden)

            // With it, the session ends, and the old cookie opens nothing
            let out = try await browser.send(.post, "/console/logout", form: ["csrf": try await browser.csrf("/console")])
            #expect(out.status == .seeOther && out.header("Location")?.contains("out=1") == true)
            #expect(try await server.store.operatorSession(token: token) == nil)
            let replayed = Browser(server.api)
            replayed.cookies["candor_console"] = token
            let again = try await replayed.send(.get, "/console")
            #expect(again.status == .seeOther && again.header("Location")?.contains("ended=1") == true)
        }
    }

    @Test("An operator reads a person only for a purpose their team holds, and each view is audited under it")
    func purposeGate() async throws {
        try await TestServer.run(people: 3) { server in
            let marketing = try await Self.makeOperator(server, team: "marketing")  // newsletter, offers, research
            let browser = Browser(server.api)
            _ = try await browser.signIn(marketing.email, Self.password)
            let person = server.seeded[0]
            let before = try await server.store.auditLog(AuditQuery(subjectId: person), cursor: nil, limit: 500).data.count

            // A purpose the team lacks: 403, the page names it, nothing of the person is read or shown
            let refused = try await browser.send(.get, "/console/people/\(person)?purpose=support")
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("Customer support") && refused.text.contains("Marketing"))
            #expect(try await server.store.auditLog(AuditQuery(subjectId: person), cursor: nil, limit: 500).data.count == before)
            // Pages that need roles the team lacks are refused
            #expect(try await browser.send(.get, "/console/audit").status == .forbidden)
            #expect(try await browser.send(.get, "/console/requests").status == .forbidden)

            // A purpose the team holds: shown, and audited as the operator under that purpose
            let shown = try await browser.send(.get, "/console/people/\(person)?purpose=offers")
            #expect(shown.status == .ok)
            let log = try await server.store.auditLog(AuditQuery(subjectId: person, purpose: "offers"), cursor: nil, limit: 500).data
            #expect(Set(log.map(\.action)) == ["profile.read", "history.read", "consent.read", "decisions.read"])
            #expect(log.allSatisfy { $0.actor == marketing.id && $0.team == "marketing" })

            // Looking a person up by e-mail is a POST (the address never reaches a URL) that leads to their page
            let csrf = try await browser.csrf("/console/people")
            let found = try await browser.send(.post, "/console/people", form: ["csrf": csrf, "query": "person00001@example.com", "purpose": "offers"])
            #expect(found.status == .seeOther)
            #expect(found.header("Location")?.hasPrefix("/console/people/sub_") == true && found.header("Location")?.contains("@") == false)
        }
    }

    @Test("Completing an erasure request needs an explicit confirmation; without it nothing is erased")
    func eraseNeedsConfirmation() async throws {
        try await TestServer.run(people: 2) { server in
            let account = try await Self.makeOperator(server, team: "support")  // roles read, write, erase
            let browser = Browser(server.api)
            _ = try await browser.signIn(account.email, Self.password)
            let created = try await server.api.post("/v1/requests", key: server.keys.support,
                                                    body: #"{"type":"erase","channel":"email","jurisdiction":"gdpr","email":"person00001@example.com"}"#)
            let id = try #require(try created.object()["id"] as? String)
            let page = "/console/requests/\(id)"
            let verified = try await browser.send(.post, "\(page)/verify", form: ["csrf": try await browser.csrf(page), "method": "document"])
            #expect(verified.status == .seeOther)

            // Without the tick: refused next to the checkbox, the person is still there, the request still open
            let refused = try await browser.send(.post, "\(page)/complete", form: ["csrf": try await browser.csrf(page)])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains("id=\"confirm-error\"") && refused.text.contains("aria-invalid=\"true\""))
            let pending = try await server.store.request(id: id, by: try #require(server.store.authenticate(server.keys.support)))
            #expect(pending.status == .verified)
            let person = try #require(pending.subjectId)
            #expect(try await server.store.subject(person).status == .active)

            // With it: the request is completed and the person erased
            let done = try await browser.send(.post, "\(page)/complete", form: ["csrf": try await browser.csrf(page), "confirm": "yes"])
            #expect(done.status == .seeOther && done.header("Location")?.hasSuffix("done=complete") == true)
            let finished = try await server.store.request(id: id, by: try #require(server.store.authenticate(server.keys.support)))
            #expect(finished.status == .completed)
            let erased = await #expect(throws: CandorError.self) { _ = try await server.store.subject(person) }
            #expect(erased?.kind == .gone)
        }
    }

    @Test("The at-a-glance charts are images with titles, their numbers are tables, and time runs right to left in Hebrew")
    func glanceCharts() async throws {
        try await TestServer.run(people: 5) { server in
            let account = try await Self.makeOperator(server, team: "it")
            let browser = Browser(server.api)
            _ = try await browser.signIn(account.email, Self.password)
            let english = try await browser.send(.get, "/console?days=7&lang=en")
            #expect(english.status == .ok)
            #expect(english.text.components(separatedBy: "role=\"img\"").count - 1 == 3)
            #expect(english.text.contains("<title id=\"activity-title\">Declarations and consent changes per day</title>"))
            // 5 people declared today: the first row of the numbers is today's
            #expect(english.text.contains("<td class=\"num\">5</td>"))
            #expect(try await browser.send(.get, "/console?days=12").status == .badRequest)

            func firstAndLastX(_ html: String) throws -> (Double, Double) {
                let points = try #require(html.firstMatch(of: /<polyline class="line series-a" points="([^"]+)"/)).1
                let xs = points.split(separator: " ").compactMap { Double($0.split(separator: ",")[0]) }
                return (try #require(xs.first), try #require(xs.last))
            }
            let (ltrFirst, ltrLast) = try firstAndLastX(english.text)
            #expect(ltrFirst < ltrLast)
            let hebrew = try await browser.send(.get, "/console?days=7&lang=he")
            #expect(hebrew.text.contains("dir=\"rtl\"") && hebrew.text.contains("מבט כולל"))
            let (rtlFirst, rtlLast) = try firstAndLastX(hebrew.text)
            #expect(rtlFirst > rtlLast)
            // The language chosen sticks for the next page
            #expect(try await browser.send(.get, "/console/people").text.contains("lang=\"he\""))
        }
    }
}
