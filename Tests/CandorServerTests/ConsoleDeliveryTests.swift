import CandorCore
import CandorDelivery
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's delivery and governance pages in-process: destinations (the secret shown once, the SSRF
/// guard inline, dead letters replayed), automations (created, refused inline), the internal audit
/// report and the record of processing with their downloads, the audit log in both orders, roles and
/// CSRF. (The browser walk is tests/python/test_console_delivery.py.)
@Suite("Console: delivery and governance")
struct ConsoleDeliveryTests {
    typealias Browser = ConsoleTests.Browser

    /// Signs in the demo team's operator and returns the browser.
    static func signedIn(_ server: TestServer, team: String) async throws -> Browser {
        let account = try await ConsoleTests.makeOperator(server, team: team)
        let browser = Browser(server.api)
        let answer = try await browser.signIn(account.email, ConsoleTests.password)
        #expect(answer.status == .seeOther)
        return browser
    }

    /// Posts a form whose names may repeat (checkbox groups), with the page's CSRF token unless `csrf` is given.
    static func post(_ browser: Browser, _ path: String, from page: String, _ pairs: [(String, String)], csrf: String? = nil) async throws -> Reply {
        var token = csrf ?? ""
        if csrf == nil { token = try await browser.csrf(page) }
        let body = ([("csrf", token)] + pairs).map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        let cookie = browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        return try await browser.api.send(.post, path, body: body, contentType: "application/x-www-form-urlencoded", headers: ["Cookie": cookie])
    }

    static let goodDestination: [(String, String)] = [
        ("url", "https://8.8.8.8/hooks/candor"), ("description", "CRM"), ("purposes", "newsletter"), ("fields", "interests"),
        ("event_types", "subject.created"), ("event_types", "declaration.recorded"), ("max_attempts", "1"),
    ]

    @Test("A destination is created through the form: its secret is shown once, then only its last four characters")
    func createDestination() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let empty = try await browser.send(.get, "/console/destinations")
            #expect(empty.status == .ok && empty.text.contains("No destinations yet"))

            let created = try await Self.post(browser, "/console/destinations", from: "/console/destinations/new", Self.goodDestination)
            #expect(created.status == .created, "\(created.text)")
            let secret = try #require(created.text.firstMatch(of: /value="(whsec_[^"]+)"/)).1
            #expect(created.header("Cache-Control") == "no-store")
            let stored = try #require(try await server.store.destinations(cursor: nil, limit: 10).data.first)
            #expect(stored.url == "https://8.8.8.8/hooks/candor" && stored.purposes == ["newsletter"] && stored.fields == ["interests"])
            #expect(stored.eventTypes == ["declaration.recorded", "subject.created"] && stored.maxAttempts == 1 && stored.description == "CRM")
            #expect(stored.secretHint == String(secret.suffix(4)))

            // The list and the destination's page show it, never the secret
            let list = try await browser.send(.get, "/console/destinations")
            #expect(list.text.contains("8.8.8.8") && list.text.contains("/console/destinations/\(stored.id)") && !list.text.contains(String(secret)))
            let page = try await browser.send(.get, "/console/destinations/\(stored.id)")
            #expect(page.status == .ok && page.text.contains("…\(stored.secretHint)") && !page.text.contains(String(secret)))
            #expect(page.text.contains("Nothing has been sent here yet.") && page.text.contains("No dead letters."))

            // Rotating shows the new secret once; disabling and editing go through the same validation
            let rotated = try await Self.post(browser, "/console/destinations/\(stored.id)/rotate", from: "/console/destinations/\(stored.id)", [])
            let newSecret = try #require(rotated.text.firstMatch(of: /value="(whsec_[^"]+)"/)).1
            #expect(rotated.status == .ok && newSecret != secret)
            let disabled = try await Self.post(browser, "/console/destinations/\(stored.id)/disable", from: "/console/destinations/\(stored.id)", [])
            #expect(disabled.status == .seeOther && disabled.header("Location") == "/console/destinations/\(stored.id)?done=disable")
            #expect(try await server.store.destination(stored.id).enabled == false)
            let edited = try await Self.post(browser, "/console/destinations/\(stored.id)", from: "/console/destinations/\(stored.id)/edit",
                                             [("url", "https://8.8.4.4/h"), ("purposes", "offers"), ("event_types", "*"), ("enabled", "yes")])
            #expect(edited.status == .seeOther)
            let changed = try await server.store.destination(stored.id)
            #expect(changed.url == "https://8.8.4.4/h" && changed.purposes == ["offers"] && changed.eventTypes == ["*"] && changed.enabled && changed.fields.isEmpty)
        }
    }

    @Test("An internal address is refused next to the URL field (in English and Hebrew), and nothing is saved")
    func internalAddressRefused() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            var form = Self.goodDestination.filter { $0.0 != "url" }
            form.append(("url", "https://127.0.0.1/hooks"))
            let refused = try await Self.post(browser, "/console/destinations", from: "/console/destinations/new", form)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains(#"id="url-error""#) && refused.text.contains("internal or private network"))
            #expect(refused.text.contains(#"aria-describedby="url-hint url-error" aria-invalid="true""#))
            // What was typed is kept, so the operator can correct it
            #expect(refused.text.contains(#"value="https://127.0.0.1/hooks""#) && refused.text.contains(#"value="newsletter" checked"#))

            // Several problems at once, each next to its field; Hebrew page in Hebrew
            let hebrew = try await Self.post(browser, "/console/destinations?lang=he", from: "/console/destinations/new?lang=he",
                                             [("url", "https://10.0.0.8/"), ("purposes", "newsletter"), ("fields", "shoe_size"), ("event_types", "*"), ("max_attempts", "x")])
            #expect(hebrew.status == .unprocessableContent)
            #expect(hebrew.text.contains("dir=\"rtl\"") && hebrew.text.contains("ברשת פנימית או פרטית"))
            #expect(hebrew.text.contains(#"id="fields-error""#) && hebrew.text.contains(#"id="max_attempts-error""#) && hebrew.text.contains("הזינו מספר שלם."))
            #expect(try await server.store.count("destinations") == 0)
        }
    }

    @Test("A dead letter is replayed from the destination's page: it is due again and the page says so")
    func replayDeadLetter() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            _ = try await Self.post(browser, "/console/destinations", from: "/console/destinations/new", Self.goodDestination)
            let destination = try #require(try await server.store.destinations(cursor: nil, limit: 10).data.first)
            // A receiver that fails: the one attempt allowed ends in a dead letter
            _ = try await server.createSubject()
            #expect(try await server.store.fanOutDeliveries() >= 1)
            let claims = try await server.store.claimDeliveries(owner: "test", limit: 10, leaseMillis: 60_000)
            let claim = try #require(claims.first { $0.destination.id == destination.id })
            try await server.store.completeDelivery(claim, .failed(statusCode: 500, error: "the receiver answered 500", durationMs: 4, retryAt: nil))

            let page = try await browser.send(.get, "/console/destinations/\(destination.id)")
            #expect(page.text.contains(#"id="count-dead">1<"#))
            #expect(page.text.contains("/dead-letters/\(claim.eventId)/replay") && page.text.contains("the receiver answered 500"))
            let list = try await browser.send(.get, "/console/destinations")
            #expect(list.text.contains("badge badge-danger"))

            // Without the token nothing happens
            let forged = try await Self.post(browser, "/console/destinations/\(destination.id)/dead-letters/\(claim.eventId)/replay", from: "", [], csrf: "forged")
            #expect(forged.status == .forbidden)
            #expect(try await server.store.deliveries(destinationId: destination.id, status: "dead", cursor: nil, limit: 10).data.count == 1)

            let replayed = try await Self.post(browser, "/console/destinations/\(destination.id)/dead-letters/\(claim.eventId)/replay",
                                               from: "/console/destinations/\(destination.id)", [])
            #expect(replayed.status == .seeOther && replayed.header("Location")?.hasPrefix("/console/destinations/\(destination.id)?done=replay") == true)
            #expect(try await server.store.deliveries(destinationId: destination.id, status: "dead", cursor: nil, limit: 10).data.isEmpty)
            let pending = try await server.store.deliveries(destinationId: destination.id, status: "pending", cursor: nil, limit: 10).data
            #expect(pending.map(\.eventId) == [claim.eventId] && pending[0].attempts == 0)
            let after = try await browser.send(.get, "/console/destinations/\(destination.id)?done=replay")
            #expect(after.text.contains("The dead letter is queued again") && after.text.contains("No dead letters."))
            #expect(try await server.store.auditLog(AuditQuery(action: "delivery.replay"), cursor: nil, limit: 10).data.count == 1)
            // Replaying what is no longer dead is a conflict, shown as a page
            let again = try await Self.post(browser, "/console/destinations/\(destination.id)/dead-letters/\(claim.eventId)/replay",
                                            from: "/console/destinations/\(destination.id)", [])
            #expect(again.status == .conflict)
        }
    }

    @Test("An automation is created through the form; invalid conditions and actions come back inline and nothing is saved")
    func automations() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let before = try await server.store.automations(cursor: nil, limit: 50).data.count
            let bad = try await Self.post(browser, "/console/automations", from: "/console/automations/new", [
                ("name", "Follow-up"), ("event", "consent.granted"), ("trigger_fields", "interests"), ("rule", "interests has"),
                ("a0_type", "send_email"), ("a0_purpose", "newsletter"), ("a0_subject_en", "Hi {{#x}}"), ("a0_text_en", "Hello"),
                ("a1_type", "set_field"), ("a1_field", "nope"), ("a1_value", "weekly"),
            ])
            #expect(bad.status == .unprocessableContent)
            for id in ["rule-error", "trigger_fields-error", "a0_subject_en-error", "a1_field-error", "a1_permission_field-error"] {
                #expect(bad.text.contains("id=\"\(id)\""), "\(id)")
            }
            #expect(bad.text.contains(#"id="rule" name="rule" rows="2" dir="ltr" class="mono" aria-describedby="rule-hint rule-error" aria-invalid="true""#))
            #expect(bad.text.contains("interests has"), "what was typed is kept")
            #expect(try await server.store.automations(cursor: nil, limit: 50).data.count == before)

            let good = try await Self.post(browser, "/console/automations", from: "/console/automations/new", [
                ("name", "Thanks for subscribing"), ("event", "consent.granted"), ("trigger_purposes", "newsletter"), ("rule", #"consent("newsletter")"#),
                ("a0_type", "send_email"), ("a0_purpose", "newsletter"), ("a0_subject_en", "Welcome"), ("a0_text_en", "Thanks{{#interests}} for {{interests}}{{/interests}}."),
                ("a0_subject_he", "ברוכים הבאים"), ("a0_text_he", "תודה."), ("a1_type", ""), ("enabled", "yes"),
            ])
            #expect(good.status == .seeOther, "\(good.text)")
            let location = try #require(good.header("Location"))
            let id = try #require(location.firstMatch(of: /\/console\/automations\/(aut_[^?]+)\?done=create/)).1
            let automation = try await server.store.automation(String(id))
            #expect(automation.name == "Thanks for subscribing" && automation.enabled && automation.trigger.purposes == ["newsletter"])
            #expect(automation.actions.count == 1 && automation.actions[0].content?["he"]?.subject == "ברוכים הבאים")

            let page = try await browser.send(.get, location)
            #expect(page.text.contains("The automation was created.") && page.text.contains("Consent granted (newsletter)") && page.text.contains("No runs yet"))
            let list = try await browser.send(.get, "/console/automations")
            #expect(list.text.contains("Thanks for subscribing") && list.text.contains("Consent granted (newsletter)"))

            // Disable, then delete only with the confirmation ticked
            #expect(try await Self.post(browser, "/console/automations/\(id)/disable", from: location, []).status == .seeOther)
            #expect(try await server.store.automation(String(id)).enabled == false)
            let unconfirmed = try await Self.post(browser, "/console/automations/\(id)/delete", from: location, [])
            #expect(unconfirmed.status == .unprocessableContent && unconfirmed.text.contains(#"id="confirm-error""#))
            let deleted = try await Self.post(browser, "/console/automations/\(id)/delete", from: location, [("confirm", "yes")])
            #expect(deleted.status == .seeOther)
            await #expect(throws: CandorError.self) { try await server.store.automation(String(id)) }
        }
    }

    @Test("The internal audit report is a page with its sections and a JSON download; a bad period is named")
    func auditReport() async throws {
        try await TestServer.run { server in
            let person = try await server.createSubject()
            try await server.consent(person, ["offers": "granted"])
            _ = try await server.profile(person, purpose: "offers", key: server.keys.marketing)
            let browser = try await Self.signedIn(server, team: "it")
            let page = try await browser.send(.get, "/console/audit-report")
            #expect(page.status == .ok)
            for words in ["Access to personal data", "Sent to destinations", "Keys unused for 90 days", "Purposes held but not used", "Failed authentication"] {
                #expect(page.text.contains(words), "\(words)")
            }
            #expect(page.text.contains("profile.read") && page.text.contains("Marketing"))
            let week = try await browser.send(.get, "/console/audit-report?days=7")
            #expect(week.text.contains(#"href="/console/audit-report?days=7" aria-current="page""#))

            let download = try await browser.send(.get, "/console/audit-report/download?days=30")
            #expect(download.status == .ok && download.header("Content-Type") == "application/json")
            #expect(download.header("Content-Disposition")?.hasPrefix("attachment; filename=\"candor-audit-report-") == true)
            let json = try #require(try JSONSerialization.jsonObject(with: download.body) as? [String: Any])
            #expect((json["reads"] as? [[String: Any]])?.contains { $0["action"] as? String == "profile.read" } == true)

            let custom = try await browser.send(.get, "/console/audit-report?from=2026-01-01&to=2026-01-31")
            #expect(custom.status == .ok && custom.text.contains("/console/audit-report/download?from=2026-01-01&amp;to=2026-01-31"))
            let bad = try await browser.send(.get, "/console/audit-report?from=2026-02-30&to=2026-01-01")
            #expect(bad.status == .badRequest && bad.text.contains(#"id="from-error""#) && bad.text.contains(#"aria-invalid="true""#))
            let backwards = try await browser.send(.get, "/console/audit-report?from=2026-02-01&to=2026-01-01")
            #expect(backwards.status == .badRequest && backwards.text.contains(#"id="to-error""#))
            #expect(try await browser.send(.get, "/console/audit-report/download?days=3").status == .badRequest)
        }
    }

    @Test("The record of processing lists purposes with their data, teams and destinations, and downloads as JSON and HTML")
    func records() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            _ = try await Self.post(browser, "/console/destinations", from: "/console/destinations/new", Self.goodDestination)
            let page = try await browser.send(.get, "/console/records")
            #expect(page.status == .ok)
            #expect(page.text.contains("Newsletter") && page.text.contains("Marketing") && page.text.contains(">8.8.8.8<"))
            #expect(page.text.contains("/console/records/download?format=json"))

            let json = try await browser.send(.get, "/console/records/download?format=json")
            #expect(json.status == .ok && json.header("Content-Disposition") == "attachment; filename=\"record-of-processing.json\"")
            let record = try CandorJSON.decode(RecordOfProcessing.self, from: json.body)
            let newsletter = try #require(record.activities.first { $0.purpose == "newsletter" })
            #expect(newsletter.recipients.contains { $0.kind == "destination" && $0.name == "8.8.8.8" })
            #expect(newsletter.recipients.contains { $0.kind == "internal_team" && $0.key == "marketing" })
            #expect(!record.notes.contains(RecordOfProcessing.destinationsNote))
            let offers = try #require(record.activities.first { $0.purpose == "offers" })
            #expect(!offers.recipients.contains { $0.kind == "destination" }, "a destination is listed only for the purposes it serves")

            let html = try await browser.send(.get, "/console/records/download?format=html&lang=he")
            #expect(html.status == .ok && html.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(html.header("Content-Disposition")?.hasPrefix("attachment;") == true && html.text.contains("dir=\"rtl\"") && html.text.contains("8.8.8.8"))
            #expect(try await browser.send(.get, "/console/records/download?format=pdf").status == .badRequest)
        }
    }

    @Test("The audit log reads newest first by default and oldest first on request, paged without gaps or repeats either way")
    func auditOrder() async throws {
        try await TestServer.run { server in
            let admin = try #require(server.store.authenticate(server.keys.admin))
            for index in 0..<7 { try await server.store.auditRead(admin, action: "test.order\(index)") }
            // The store: both directions, page by page
            for newestFirst in [true, false] {
                var seen = [Int64](), cursor: String?
                repeat {
                    let page = try await server.store.auditLog(AuditQuery(team: "it"), cursor: cursor, limit: 3, newestFirst: newestFirst)
                    seen += page.data.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(seen.count == 7 && Set(seen).count == 7)
                #expect(seen == (newestFirst ? seen.sorted(by: >) : seen.sorted()))
            }
            // The page: newest first, and the switch to oldest first keeps the filter
            let browser = try await Self.signedIn(server, team: "it")
            let newest = try await browser.send(.get, "/console/audit?action=test.order6")
            #expect(newest.text.contains("test.order6"))
            let all = try await browser.send(.get, "/console/audit?team=it")
            let order = all.text.matches(of: /test\.order(\d)/).map { String($0.1) }
            #expect(order == ["6", "5", "4", "3", "2", "1", "0"])
            #expect(all.text.contains(#"href="/console/audit?order=oldest&amp;team=it""#))
            let oldest = try await browser.send(.get, "/console/audit?order=oldest&team=it")
            #expect(oldest.text.matches(of: /test\.order(\d)/).map { String($0.1) } == ["0", "1", "2", "3", "4", "5", "6"])
            #expect(oldest.text.contains(#"<input type="hidden" name="order" value="oldest">"#))
            #expect(try await browser.send(.get, "/console/audit?order=sideways").status == .badRequest)
        }
    }

    @Test("A team with neither admin nor audit gets the 403 page on every delivery page; only admin changes things")
    func roles() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "marketing")
            for path in ["/console/destinations", "/console/destinations/new", "/console/automations", "/console/automations/new",
                         "/console/audit-report", "/console/audit-report/download", "/console/records", "/console/records/download?format=json"] {
                let page = try await browser.send(.get, path)
                #expect(page.status == .forbidden, "\(path)")
                #expect(page.text.contains("Marketing"), "\(path)")
            }
            let refused = try await Self.post(browser, "/console/destinations", from: "/console/people", Self.goodDestination)
            #expect(refused.status == .forbidden)
            let automation = try await Self.post(browser, "/console/automations", from: "/console/people", [("name", "x"), ("event", "gpc.received"), ("a0_type", "issue_incentive"), ("a0_pool_id", "p")])
            #expect(automation.status == .forbidden)
            // The sidebar does not offer what the team cannot open
            let home = try await browser.send(.get, "/console")
            #expect(!home.text.contains("href=\"/console/destinations\"") && !home.text.contains("href=\"/console/records\""))
            #expect(try await server.store.count("destinations") == 0)
            // Without a CSRF token, even an administrator's form is refused
            let it = try await Self.signedIn(server, team: "it")
            #expect(try await Self.post(it, "/console/destinations", from: "", Self.goodDestination, csrf: "").status == .forbidden)
            #expect(try await server.store.count("destinations") == 0)
        }
    }
}
