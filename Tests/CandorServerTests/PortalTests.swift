import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A clock the tests move by hand, shared by the store and the portal's token checks.
final class PortalClock: CandorClock, @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64 = 1_780_000_000_000

    func nowMillis() -> Int64 { lock.withLock { millis } }
    func advance(minutes: Int64) { lock.withLock { millis += minutes * 60_000 } }
}

/// A test server with a controllable clock and an in-memory mailbox, and a browser-like session.
struct Portal: Sendable {
    let server: TestServer
    let clock: PortalClock
    let mail: InMemoryMailSender

    static func run(_ body: @Sendable (Portal) async throws -> Void) async throws {
        _ = CandorMetrics.registry
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-portal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = PortalClock()
        let mail = InMemoryMailSender()
        var config = ServerConfig()
        config.dataDirectory = directory.path
        config.checkpointIntervalSeconds = 0
        config.mailer = mail
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path),
            secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing), clock: clock)
        do {
            let keys = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["https://shop.example"])
            let app = Application(router: buildRouter(config: config, store: store, resources: try await Resources.load()))
            try await app.test(.router) { client in
                try await body(Portal(server: TestServer(store: store, keys: keys, seeded: [], api: API(client: client)), clock: clock, mail: mail))
            }
        } catch {
            try? await store.database.close()
            throw error
        }
        try await store.database.close()
    }

    var api: API { server.api }

    /// A person with an e-mail address, two values and a consent.
    func person(_ email: String = "dana@example.com") async throws -> String {
        let reply = try await api.post("/v1/subjects", key: server.keys.marketing, body: #"{"email":"\#(email)"}"#)
        #expect(reply.status == .created, "\(reply.text)")
        let id = try #require(try reply.object()["id"] as? String)
        try await server.declare(id, ["shoe_size": 42, "interests": ["running", "yoga"]])
        try await server.consent(id, ["offers": "granted"])
        _ = try await server.profile(id, purpose: "offers", key: server.keys.sales)
        return id
    }

    /// The audit rows of these actions about a person, as [action, actor, team], oldest first.
    func selfServiceAudit(_ subjectId: String, _ actions: [String]) async throws -> [[String]] {
        let marks = actions.map { _ in "?" }.joined(separator: ", ")
        return try await server.store.database.read { connection in
            try connection.query("SELECT action, actor, team FROM audit_log WHERE subject_id = ? AND action IN (\(marks)) ORDER BY id",
                                 [.text(subjectId)] + actions.map(SQLValue.text)).map { [$0.text(0), $0.text(1), $0.text(2)] }
        }
    }

    /// Opens `/rights` like a browser: returns the browser cookie and the form's CSRF token.
    func askPage() async throws -> (cookie: String, csrf: String) {
        let page = try await api.get("/rights")
        #expect(page.status == .ok)
        let cookie = try #require(Self.cookie(page, "candor_portal_browser"))
        return (cookie, try #require(Self.csrf(page.text)))
    }

    /// Asks for a link for `email` through the form.
    func ask(_ email: String, csrf: String? = nil, cookie: String? = nil) async throws -> Reply {
        let (browser, token) = try await askPage()
        let body = "email=\(email.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" + (csrf.map { "&csrf=\($0)" } ?? "&csrf=\(token)")
        return try await api.post("/rights", key: nil, body: body, contentType: "application/x-www-form-urlencoded",
                                  headers: ["Cookie": "candor_portal_browser=\(cookie ?? browser)"])
    }

    /// The path of the last link mailed.
    func lastLinkPath() throws -> String {
        let link = try #require(mail.messages.last?.link)
        return String(link[try #require(link.range(of: "/rights/verify/"))!.lowerBound...])
    }

    /// Asks for a link by e-mail and opens it: returns the session cookie.
    func signIn(_ email: String = "dana@example.com") async throws -> String {
        _ = try await ask(email)
        let opened = try await api.get(try lastLinkPath())
        #expect(opened.status == .seeOther)
        #expect(opened.header("Location")?.hasPrefix("/rights/me") == true)
        return try #require(Self.cookie(opened, "candor_portal"))
    }

    func get(_ path: String, session: String) async throws -> Reply {
        try await api.get(path, headers: ["Cookie": "candor_portal=\(session)"])
    }

    func post(_ path: String, session: String, _ form: String) async throws -> Reply {
        try await api.post(path, key: nil, body: form, contentType: "application/x-www-form-urlencoded", headers: ["Cookie": "candor_portal=\(session)"])
    }

    /// The CSRF token of a page's forms.
    static func csrf(_ html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression) else { return nil }
        return String(html[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
    }

    /// The value a Set-Cookie header gives a cookie.
    static func cookie(_ reply: Reply, _ name: String) -> String? {
        for field in reply.headers where field.name == .setCookie {
            let pair = field.value.split(separator: ";")[0]
            if pair.hasPrefix("\(name)=") { return String(pair.dropFirst(name.count + 1)) }
        }
        return nil
    }

    /// Row counts of what a change would write (the audit log grows with every look, so it is left out).
    func footprint() async throws -> [String: Int64] {
        var counts = try await server.footprint()
        counts["audit_log"] = nil
        return counts
    }

    static func setCookieHeader(_ reply: Reply, _ name: String) -> String? {
        reply.headers.first { $0.name == .setCookie && $0.value.hasPrefix("\(name)=") }?.value
    }
}

/// The self-service rights portal over HTTP: links, sessions, CSRF, and every bad input of issue 4.
@Suite struct PortalTests {
    @Test func unknownAddressIsAnsweredExactlyLikeAKnownOne() async throws {
        try await Portal.run { portal in
            _ = try await portal.person()
            let known = try await portal.ask("dana@example.com")
            let unknown = try await portal.ask("nobody@example.com")
            #expect(known.status == .ok)
            #expect(unknown.status == known.status)
            #expect(unknown.text == known.text, "the answer must not reveal whether the person exists")
            #expect(known.text.contains("If we know this address"))
            // Only the known person got a link, in a message to the address they typed.
            #expect(portal.mail.messages.count == 1)
            #expect(portal.mail.messages.first?.to == "dana@example.com")
            #expect(portal.mail.messages.first?.link.contains("/rights/verify/") == true)
            // A malformed address is refused on the page, next to the field, and sends nothing.
            let bad = try await portal.ask("not-an-address")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains(#"aria-describedby="email-hint email-error""#))
            #expect(portal.mail.messages.count == 1)
        }
    }

    @Test func wrongLinksOpenNothing() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            _ = try await portal.ask("dana@example.com")
            let good = try portal.lastLinkPath()
            let token = String(good.dropFirst("/rights/verify/".count).prefix { $0 != "?" })
            let session = portal.server.store.subjectLinks.issue(subjectId: id, purpose: "session", now: portal.clock.nowMillis(), lifetimeMillis: 60_000)
            let forged = SubjectLinks(masterKey: .init(size: .bits256)).issue(subjectId: id, purpose: "rights", now: portal.clock.nowMillis(), lifetimeMillis: 60_000)
            let tampered = String(token.dropLast()) + (token.hasSuffix("A") ? "B" : "A")
            for wrong in ["garbage", "", "a.b", tampered, forged, session, String(repeating: "x", count: 2000)] {
                let reply = try await portal.api.get("/rights/verify/\(wrong)")
                #expect([.notFound].contains(reply.status), "\(wrong.prefix(20)): \(reply.status)")
                #expect(Portal.cookie(reply, "candor_portal") == nil, "a wrong link must not open a session")
                if !wrong.isEmpty { #expect(reply.text.contains("This link does not work")) }
            }
            // The good link still works after all that.
            #expect(try await portal.api.get(good).status == .seeOther)
        }
    }

    @Test func expiredLinkIsRefusedWithAClearPage() async throws {
        try await Portal.run { portal in
            _ = try await portal.person()
            _ = try await portal.ask("dana@example.com")
            portal.clock.advance(minutes: 61)
            let reply = try await portal.api.get(try portal.lastLinkPath())
            #expect(reply.status == .gone)
            #expect(reply.text.contains("This link has expired"))
            #expect(reply.text.contains(#"href="/rights?lang=en""#), "the page offers a new link")
            #expect(Portal.cookie(reply, "candor_portal") == nil)
        }
    }

    @Test func reusedLinkSaysItWasUsed() async throws {
        try await Portal.run { portal in
            _ = try await portal.person()
            _ = try await portal.ask("dana@example.com")
            let link = try portal.lastLinkPath()
            let first = try await portal.api.get(link)
            #expect(first.status == .seeOther)
            let cookie = try #require(Portal.setCookieHeader(first, "candor_portal"))
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Strict"))
            #expect(cookie.contains("Max-Age=1800"))
            #expect(!cookie.contains("Secure"), "plain http in tests: a Secure cookie would never come back")
            let again = try await portal.api.get(link)
            #expect(again.status == .gone)
            #expect(again.text.contains("This link was already used"))
            #expect(Portal.cookie(again, "candor_portal") == nil)
            // In Hebrew too, right to left.
            let hebrew = try await portal.api.get(link.replacingOccurrences(of: "lang=en", with: "lang=he"))
            #expect(hebrew.text.contains(#"dir="rtl""#))
            #expect(hebrew.text.contains("כבר השתמשו בקישור הזה"))
        }
    }

    @Test func sessionShowsEverythingAndEndsAfterThirtyMinutes() async throws {
        try await Portal.run { portal in
            _ = try await portal.person()
            let session = try await portal.signIn()
            let page = try await portal.get("/rights/me", session: session)
            #expect(page.status == .ok)
            #expect(page.contentType == "text/html; charset=utf-8")
            #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            for text in ["Shoe size (EU)", "42", "Running, Yoga", "preference_center", "Personalized offers", "Given", "dana@example.com",
                         "Sales", "None yet", "/rights/me/export.json", "/rights/me/receipts/"] {
                #expect(page.text.contains(text), "the overview should show \(text)")
            }
            let export = try await portal.get("/rights/me/export.json", session: session)
            #expect(export.status == .ok)
            #expect(export.header("Content-Disposition")?.contains("attachment") == true)
            let json = try export.object()
            #expect((json["values"] as? [String: Any])?["shoe_size"] != nil)
            let printable = try await portal.get("/rights/me/export.html?lang=he", session: session)
            #expect(printable.status == .ok)
            #expect(printable.text.contains("מידת נעליים"))
            // A consent receipt downloads as a Kantara document.
            let seq = try #require(page.text.range(of: #"/rights/me/receipts/(\d+)"#, options: .regularExpression).map { page.text[$0].split(separator: "/").last! })
            let receipt = try await portal.get("/rights/me/receipts/\(seq)", session: session)
            #expect(receipt.status == .ok)
            #expect(try receipt.object()["version"] as? String == "KI-CR-v1.1.0")
            #expect(try await portal.get("/rights/me/receipts/9999", session: session).status == .notFound)

            portal.clock.advance(minutes: 31)
            let late = try await portal.get("/rights/me", session: session)
            #expect(late.status == .unauthorized)
            #expect(late.text.contains("Your access has ended"))
            #expect(try await portal.api.get("/rights/me").status == .unauthorized)
        }
    }

    @Test func formsWithoutTheRightCSRFTokenChangeNothing() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            // Asking for a link: no token, a wrong token, a token of another browser.
            for (csrf, cookie) in [("", nil), ("wrong", nil), (try await portal.askPage().csrf, "0123456789abcdef0123456789abcdef")] as [(String, String?)] {
                let reply = try await portal.ask("dana@example.com", csrf: csrf, cookie: cookie)
                #expect(reply.status == .forbidden)
                #expect(reply.text.contains("This form has expired"))
            }
            #expect(portal.mail.messages.isEmpty)

            let session = try await portal.signIn()
            let before = try await portal.footprint()
            let other = try await portal.signIn()
            let otherToken = try #require(Portal.csrf(try await portal.get("/rights/me", session: other).text))
            let footprint = try await portal.footprint()
            for form in ["", "csrf=", "csrf=nonsense", "csrf=\(otherToken)"] {
                for path in ["/rights/me/restrict", "/rights/me/unrestrict", "/rights/me/object", "/rights/me/optout", "/rights/me/erase", "/rights/me/correct/shoe_size"] {
                    let reply = try await portal.post(path, session: session, form + "&word=ERASE&value=40&step=confirm")
                    #expect(reply.status == .forbidden, "\(path) with '\(form)'")
                }
            }
            #expect(try await portal.footprint() == footprint)
            #expect(before["subjects"] == footprint["subjects"])
            #expect(try await portal.server.store.subject(id).status == .active)
        }
    }

    @Test func correctingToAnInvalidValueChangesNothing() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let session = try await portal.signIn()
            let form = try await portal.get("/rights/me/correct/shoe_size", session: session)
            #expect(form.status == .ok)
            let csrf = try #require(Portal.csrf(form.text))
            let before = try await portal.footprint()
            for bad in ["99", "abc", "", "4e400"] {
                for step in ["review", "confirm"] {
                    let reply = try await portal.post("/rights/me/correct/shoe_size", session: session, "csrf=\(csrf)&step=\(step)&value=\(bad)")
                    #expect(reply.status == .unprocessableContent, "'\(bad)'")
                    #expect(reply.text.contains(#"id="value-error""#))
                    #expect(reply.text.contains(#"aria-describedby="value-hint value-error""#))
                    #expect(reply.text.contains("from 30 to 50"))
                }
            }
            // Choices that are not options, and a field that does not exist.
            let interests = try await portal.post("/rights/me/correct/interests", session: session, "csrf=\(csrf)&step=confirm&value=golf")
            #expect(interests.status == .unprocessableContent)
            #expect(try await portal.post("/rights/me/correct/nope", session: session, "csrf=\(csrf)&step=confirm&value=1").status == .notFound)
            #expect(try await portal.footprint() == before)

            // A valid value is reviewed first (nothing written), then saved on confirmation.
            let review = try await portal.post("/rights/me/correct/shoe_size", session: session, "csrf=\(csrf)&step=review&value=44")
            #expect(review.status == .ok)
            #expect(review.text.contains("Check the change"))
            #expect(try await portal.footprint() == before)
            let saved = try await portal.post("/rights/me/correct/shoe_size", session: session, "csrf=\(csrf)&step=confirm&value=44")
            #expect(saved.status == .ok)
            #expect(saved.text.contains("Your answer was corrected"))
            let export = try await portal.server.store.exportSubject(subjectId: id, by: nil)
            #expect(export.values["shoe_size"]?.value == .number(44))
            #expect(export.values["shoe_size"]?.source == "rectification")
            #expect(export.history.last?.actor == "subject")
        }
    }

    @Test func restrictObjectAndOptOutAreConfirmedFirst() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let session = try await portal.signIn()
            for action in ["restrict", "object", "optout"] {
                let confirm = try await portal.get("/rights/me/\(action)", session: session)
                #expect(confirm.status == .ok)
                let csrf = try #require(Portal.csrf(confirm.text))
                let done = try await portal.post("/rights/me/\(action)", session: session, "csrf=\(csrf)")
                #expect(done.status == .ok)
                #expect(done.text.contains(#"role="status""#))
                #expect(try await portal.get("/rights/me/\(action)", session: session).text.contains("Already done"))
            }
            let flags = try await portal.server.store.exportSubject(subjectId: id, by: nil).flags
            #expect(flags.restricted && flags.objectedToDirectMarketing && flags.optedOutOfSale)
            #expect(try await portal.server.ledgerEntries() > 0)
        }
    }

    @Test func aRestrictionIsLiftedOnlyAfterConfirmationAndBothAreAuditedAsTheSubject() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let session = try await portal.signIn()
            // Nothing to lift while nothing is restricted.
            #expect(!(try await portal.get("/rights/me", session: session).text.contains("/rights/me/unrestrict")))
            #expect(try await portal.get("/rights/me/unrestrict", session: session).text.contains("Already done"))

            let restrictToken = try #require(Portal.csrf(try await portal.get("/rights/me/restrict", session: session).text))
            #expect(try await portal.post("/rights/me/restrict", session: session, "csrf=\(restrictToken)").status == .ok)
            #expect(try await portal.server.store.subject(id).status == .restricted)
            let overview = try await portal.get("/rights/me", session: session)
            #expect(overview.text.contains("/rights/me/unrestrict"))
            #expect(overview.text.contains("Lift the restriction"))

            // The confirmation page, in English and Hebrew; a form without the right token changes nothing.
            let confirm = try await portal.get("/rights/me/unrestrict", session: session)
            #expect(confirm.status == .ok)
            #expect(confirm.text.contains("Lift the restriction on your data?"))
            #expect(confirm.text.contains("Yes, lift the restriction"))
            #expect(try await portal.get("/rights/me/unrestrict?lang=he", session: session).text.contains("להסיר את ההגבלה על המידע שלכם?"))
            let token = try #require(Portal.csrf(confirm.text))
            let before = try await portal.footprint()
            for form in ["", "csrf=nonsense"] {
                #expect(try await portal.post("/rights/me/unrestrict", session: session, form).status == .forbidden)
            }
            #expect(try await portal.footprint() == before)
            #expect(try await portal.server.store.subject(id).status == .restricted)

            let lifted = try await portal.post("/rights/me/unrestrict", session: session, "csrf=\(token)")
            #expect(lifted.status == .ok)
            #expect(lifted.text.contains(#"role="status""#))
            #expect(lifted.text.contains("The restriction is lifted"))
            #expect(try await portal.server.store.subject(id).status == .active)
            #expect(!(try await portal.get("/rights/me", session: session).text.contains("/rights/me/unrestrict")))

            // Audited (and recorded in the ledger) as the person acting for themselves.
            #expect(try await portal.selfServiceAudit(id, ["subject.restricted", "subject.unrestricted"]) == [
                ["subject.restricted", "subject", "self-service"], ["subject.unrestricted", "subject", "self-service"],
            ])
            let history = try await portal.server.store.exportSubject(subjectId: id, by: nil).history
            #expect(history.suffix(2).map(\.kind) == ["subject.restricted", "subject.unrestricted"])
            #expect(history.suffix(2).map(\.actor) == ["subject", "subject"])
        }
    }

    @Test func erasingEndsTheSessionAndASecondErasureChangesNothing() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            _ = try await portal.ask("dana@example.com")
            let spare = try portal.lastLinkPath()
            let session = try await portal.signIn()
            let form = try await portal.get("/rights/me/erase", session: session)
            let csrf = try #require(Portal.csrf(form.text))
            // The wrong word erases nothing and says so next to the field.
            let wrong = try await portal.post("/rights/me/erase", session: session, "csrf=\(csrf)&word=yes")
            #expect(wrong.status == .unprocessableContent)
            #expect(wrong.text.contains(#"aria-describedby="word-error""#))
            #expect(try await portal.server.store.subject(id).status == .active)

            let erased = try await portal.post("/rights/me/erase", session: session, "csrf=\(csrf)&word=erase")
            #expect(erased.status == .ok)
            #expect(erased.text.contains("Your data has been erased"))
            #expect(Portal.setCookieHeader(erased, "candor_portal")?.contains("Max-Age=0") == true)
            await #expect(throws: CandorError.self) { try await portal.server.store.subject(id) }
            #expect(try await portal.selfServiceAudit(id, ["subject.erased"]) == [["subject.erased", "subject", "self-service"]])

            // Again, with the old session cookie: nothing left, nothing changes.
            let before = try await portal.footprint()
            let again = try await portal.post("/rights/me/erase", session: session, "csrf=\(csrf)&word=ERASE")
            #expect(again.status == .gone)
            #expect(again.text.contains("Your data was erased"))
            #expect(try await portal.get("/rights/me", session: session).status == .gone)
            // A link sent before the erasure opens nothing either, and asking again mails nothing.
            #expect(try await portal.api.get(spare).status == .gone)
            let mailed = portal.mail.messages.count
            #expect(try await portal.ask("dana@example.com").status == .ok)
            #expect(portal.mail.messages.count == mailed)
            #expect(try await portal.footprint() == before)
            #expect(try await portal.server.ledgerEntries() > 0)
        }
    }

    @Test func requestsForLinksAreRateLimitedAlikeForKnownAndUnknownAddresses() async throws {
        try await Portal.run { portal in
            _ = try await portal.person()
            for email in ["dana@example.com", "ghost@example.com"] {
                for _ in 0..<5 { #expect(try await portal.ask(email).status == .ok) }
                let limited = try await portal.ask(email)
                #expect(limited.status == .tooManyRequests)
                #expect(limited.text.contains("Please wait a little"))
            }
            #expect(portal.mail.messages.count == 5)
            portal.clock.advance(minutes: 61)
            #expect(try await portal.ask("dana@example.com").status == .ok)
        }
    }

    @Test func administratorsCanIssueALinkAndItIsAudited() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let reply = try await portal.api.post("/v1/subjects/\(id)/rights-link?lang=he", key: portal.server.keys.admin, body: "")
            #expect(reply.status == .created, "\(reply.text)")
            let url = try #require(try reply.object()["url"] as? String)
            #expect(url.contains("/rights/verify/") && url.hasSuffix("lang=he"))
            #expect(try reply.object()["expires_at"] is String)
            try (try await portal.api.post("/v1/subjects/\(id)/rights-link", key: portal.server.keys.sales, body: "")).expectProblem(.forbidden)
            try (try await portal.api.post("/v1/subjects/sub_0000000000zzzzzzzzzzzzzzzz/rights-link", key: portal.server.keys.admin, body: "")).expectProblem(.notFound)
            let path = String(url[url.range(of: "/rights/verify/")!.lowerBound...])
            #expect(try await portal.api.get(path).status == .seeOther)
        }
    }
}
