import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The word diff of notice versions, as a pure function.
@Suite("Word diff")
struct WordDiffTests {
    @Test("Unchanged text is one run; a replaced word reads as removed then added, between the words kept")
    func replacedWord() {
        #expect(WordDiff.diff("We send a newsletter", "We send a newsletter") == [.same("We send a newsletter")])
        #expect(WordDiff.diff("We send a weekly newsletter", "We send a monthly newsletter")
            == [.same("We send a"), .removed("weekly"), .added("monthly"), .same("newsletter")])
        // White space is not a change; punctuation and case are.
        #expect(WordDiff.isUnchanged(WordDiff.diff("one  two\nthree", "one two three")))
        #expect(WordDiff.diff("Your data.", "Your data,") == [.same("Your"), .removed("data."), .added("data,")])
    }

    @Test("Words added at the start, removed at the end, and texts with nothing in common")
    func edges() {
        #expect(WordDiff.diff("offers for you", "Personal offers for you") == [.added("Personal"), .same("offers for you")])
        #expect(WordDiff.diff("offers for you and friends", "offers for you") == [.same("offers for you"), .removed("and friends")])
        #expect(WordDiff.diff("", "brand new") == [.added("brand new")])
        #expect(WordDiff.diff("all gone", "") == [.removed("all gone")])
        #expect(WordDiff.diff("a b c", "x y") == [.removed("a b c"), .added("x y")])
        // The longest common subsequence is kept, even when it is not contiguous.
        #expect(WordDiff.diff("we may share data with partners", "we never share your data with anyone")
            == [.same("we"), .removed("may"), .added("never"), .same("share"), .added("your"), .same("data with"), .removed("partners"), .added("anyone")])
    }

    @Test("Very long texts fall back to removed-then-added instead of a huge table")
    func fallback() {
        let old = (0..<2100).map { "w\($0)" }.joined(separator: " ")
        let new = (0..<2100).map { "v\($0)" }.joined(separator: " ")
        #expect(WordDiff.diff("keep " + old + " end", "keep " + new + " end") == [.same("keep"), .removed(old), .added(new), .same("end")])
    }

    @Test("The HTML escapes every word and labels the changes for screen readers")
    func html() {
        let html = WordDiff.html(WordDiff.diff("a <b> & c", "a <i> & c"), addedLabel: "added", removedLabel: "removed")
        #expect(html == #"a <del><span class="visually-hidden">removed: </span>&lt;b&gt;</del> <ins><span class="visually-hidden">added: </span>&lt;i&gt;</ins> &amp; c"#)
    }
}

/// The console's registry pages in-process: purposes and notices (diff, preview, publish), fields, teams
/// and operators, API keys; invalid input inline with nothing saved; admin only; CSRF.
@Suite("Console registry pages")
struct ConsoleRegistryTests {
    typealias Browser = ConsoleTests.Browser

    /// A signed-in browser of an operator of `team`.
    static func signedIn(_ server: TestServer, team: String = "it") async throws -> (Browser, Operator) {
        let account = try await ConsoleTests.makeOperator(server, team: team)
        let browser = Browser(server.api)
        #expect(try await browser.signIn(account.email, ConsoleTests.password).status == .seeOther)
        return (browser, account)
    }

    /// Posts a form whose names may repeat (check boxes), with the page's CSRF token first.
    static func post(_ browser: Browser, _ path: String, csrfFrom page: String, _ pairs: [(String, String)]) async throws -> Reply {
        let csrf = try await browser.csrf(page)
        let body = ([("csrf", csrf)] + pairs).map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        let headers = ["Cookie": browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
        return try await browser.api.send(.post, path, body: body, contentType: "application/x-www-form-urlencoded", headers: headers)
    }

    static func auditCount(_ store: CandorStore) async throws -> Int64 {
        try await store.database.read { try $0.query("SELECT count(*) FROM audit_log", [])[0].int(0) }
    }

    @Test("A purpose created through the form is stored with its first notice, audited under the operator, and listed")
    func createPurpose() async throws {
        try await TestServer.run { server in
            let (browser, account) = try await Self.signedIn(server)
            let list = try await browser.send(.get, "/console/purposes")
            #expect(list.status == .ok)
            #expect(list.text.contains("id=\"purpose-newsletter\"") && list.text.contains("<h1>Purposes and notices</h1>"))

            let created = try await Self.post(browser, "/console/purposes", csrfFrom: "/console/purposes", [
                ("key", "loyalty"), ("names_en", "Loyalty club"), ("names_he", "מועדון לקוחות"), ("legal_basis", "consent"),
                ("retention_days", "730"), ("dpv_term", "CustomerRelationshipManagement"), ("is_marketing", "yes"),
                ("notice_en_title", "Our loyalty club"), ("notice_en_why", "To count your points"), ("notice_en_benefit", "Rewards"),
            ])
            #expect(created.status == .seeOther && created.header("Location") == "/console/purposes/loyalty?done=created")
            let purpose = try #require(server.store.registry.purposes["loyalty"])
            #expect(purpose.names == ["en": "Loyalty club", "he": "מועדון לקוחות"] && purpose.retentionDays == 730 && purpose.isMarketing)
            #expect(purpose.currentNoticeVersion == 1 && server.store.registry.notices["loyalty"]?.first?.texts["en"]?.why == "To count your points")
            let audit = try await server.store.auditLog(AuditQuery(action: "purpose.create"), cursor: nil, limit: 10).data
            #expect(audit.filter { $0.purpose == "loyalty" }.map(\.actor) == [account.id])

            let page = try await browser.send(.get, "/console/purposes/loyalty?done=created")
            #expect(page.status == .ok && page.text.contains("Our loyalty club") && page.text.contains("id=\"done\""))
        }
    }

    @Test("An invalid purpose comes back with each problem next to its field, status 422, and nothing saved; in Hebrew with a Hebrew lead")
    func invalidPurpose() async throws {
        try await TestServer.run { server in
            let (browser, _) = try await Self.signedIn(server)
            let purposes = server.store.registry.purposes.count
            let audited = try await Self.auditCount(server.store)
            let refused = try await Self.post(browser, "/console/purposes", csrfFrom: "/console/purposes", [
                ("key", "Bad Key"), ("names_en", ""), ("legal_basis", "consent"), ("retention_days", "two years"), ("dpv_term", ""),
                ("notice_en_title", "Half a notice"),
            ])
            #expect(refused.status == .unprocessableContent)
            let text = refused.text
            for input in ["key", "names_en", "retention_days", "dpv_term", "notice_en_why", "notice_en_benefit"] {
                #expect(text.contains("aria-describedby=\"\(input)-error\"") || text.contains(" \(input)-error\""), "\(input) is marked")
                #expect(text.contains("id=\"\(input)-error\""), "\(input) has its message")
            }
            #expect(text.contains("Enter a whole number of days"))
            // What was typed stays in the form
            #expect(text.contains("value=\"Bad Key\"") && text.contains("value=\"Half a notice\""))
            #expect(server.store.registry.purposes.count == purposes)
            #expect(try await Self.auditCount(server.store) == audited)

            let hebrew = try await Self.post(browser, "/console/purposes?lang=he", csrfFrom: "/console/purposes?lang=he", [
                ("key", "x"), ("names_en", "X"), ("legal_basis", "consent"), ("retention_days", "30"), ("dpv_term", "Marketing"),
            ])
            #expect(hebrew.status == .unprocessableContent)
            #expect(hebrew.text.contains("dir=\"rtl\"") && hebrew.text.contains("הערך אינו תקין: \u{2068}must be 2–64 characters"))

            // A key that exists is a conflict, shown next to the key
            let taken = try await Self.post(browser, "/console/purposes", csrfFrom: "/console/purposes", [
                ("key", "newsletter"), ("names_en", "Again"), ("legal_basis", "consent"), ("retention_days", "30"), ("dpv_term", "Marketing"),
            ])
            #expect(taken.status == .conflict && taken.text.contains("id=\"key-error\"") && taken.text.contains("already exists"))

            // Unknown purposes and teams are a 404 page that names them
            let missing = try await browser.send(.get, "/console/purposes/nope?lang=en")
            #expect(missing.status == .notFound && missing.text.contains("There is no purpose “nope”."))
            #expect(try await browser.send(.get, "/console/teams/nope").status == .notFound)
        }
    }

    @Test("A new notice version: preview shows the diff and saves nothing, publish saves it, the purpose page diffs every version")
    func noticeDiff() async throws {
        try await TestServer.run { server in
            let (browser, _) = try await Self.signedIn(server)
            let page = "/console/purposes/newsletter"
            let before = try #require(server.store.registry.currentNotice(of: "newsletter"))
            let english = try #require(before.texts["en"])
            let changedWhy = english.why + " Every second Tuesday."
            var pairs: [(String, String)] = [
                ("texts_en_title", english.title), ("texts_en_why", changedWhy), ("texts_en_benefit", english.benefit),
            ]
            if let hebrew = before.texts["he"] { pairs += [("texts_he_title", hebrew.title), ("texts_he_why", hebrew.why), ("texts_he_benefit", hebrew.benefit)] }

            let preview = try await Self.post(browser, "\(page)/notices", csrfFrom: page, pairs + [("action", "preview")])
            #expect(preview.status == .ok)
            #expect(preview.text.contains("id=\"preview\"") && preview.text.contains("<ins><span class=\"visually-hidden\">added: </span>"))
            #expect(preview.text.contains("Every second Tuesday."))
            #expect(server.store.registry.currentNotice(of: "newsletter")?.version == before.version, "a preview publishes nothing")

            let published = try await Self.post(browser, "\(page)/notices", csrfFrom: page, pairs + [("action", "publish")])
            #expect(published.status == .seeOther && published.header("Location")?.hasPrefix("\(page)?done=published") == true)
            let now = try #require(server.store.registry.currentNotice(of: "newsletter"))
            #expect(now.version == before.version + 1 && now.texts["en"]?.why == changedWhy)

            // A third version that removes words: its diff has <del>, and the page shows each version against its predecessor
            let removed = pairs.map { $0.0 == "texts_en_why" ? ($0.0, "Every second Tuesday.") : $0 }
            #expect(try await Self.post(browser, "\(page)/notices", csrfFrom: page, removed + [("action", "publish")]).status == .seeOther)
            let shown = try await browser.send(.get, page)
            #expect(shown.text.contains("<del><span class=\"visually-hidden\">removed: </span>"))
            #expect(shown.text.contains("id=\"version-\(before.version + 2)\"") && shown.text.contains("id=\"version-\(before.version + 1)\""))
            #expect(shown.text.contains("Compared with version \(before.version + 1)"))

            // An empty text is refused next to its field, and nothing is published
            let empty = pairs.map { $0.0 == "texts_en_benefit" ? ($0.0, "") : $0 }
            let refused = try await Self.post(browser, "\(page)/notices", csrfFrom: page, empty + [("action", "publish")])
            #expect(refused.status == .unprocessableContent && refused.text.contains("id=\"texts_en_benefit-error\""))
            #expect(server.store.registry.currentNotice(of: "newsletter")?.version == before.version + 2)
        }
    }

    @Test("A field created through the form serves the ticked purposes; an invalid one is refused field by field with nothing saved")
    func fields() async throws {
        try await TestServer.run { server in
            let (browser, _) = try await Self.signedIn(server)
            let list = try await browser.send(.get, "/console/fields")
            #expect(list.status == .ok && list.text.contains("id=\"field-interests\""))

            let created = try await Self.post(browser, "/console/fields", csrfFrom: "/console/fields", [
                ("key", "favourite_colour"), ("type", "single_choice"), ("labels_en", "Your favourite colour?"), ("labels_he", "הצבע האהוב?"),
                ("options", "red = Red\nblue\n"), ("purposes", "newsletter"), ("purposes", "offers"), ("sensitivity", "standard"),
            ])
            #expect(created.status == .seeOther && created.header("Location")?.hasPrefix("/console/fields?created=favourite_colour") == true)
            let field = try #require(server.store.registry.fields["favourite_colour"])
            #expect(field.type == .singleChoice && field.options == ["red", "blue"] && field.purposes == ["newsletter", "offers"])
            #expect(field.optionLabels == ["red": ["en": "Red"]] && field.labels["he"] == "הצבע האהוב?")
            let shown = try await browser.send(.get, "/console/fields?created=favourite_colour")
            #expect(shown.text.contains("Field “favourite_colour” created.") && shown.text.contains("class=\"reg-new\""))

            let count = server.store.registry.fields.count
            let refused = try await Self.post(browser, "/console/fields", csrfFrom: "/console/fields", [
                ("key", "shoe"), ("type", "number"), ("labels_en", "Shoe size"), ("minimum", "big"), ("maximum", "50"), ("options", "a"),
            ])
            #expect(refused.status == .unprocessableContent)
            for input in ["minimum", "purposes", "options"] { #expect(refused.text.contains("id=\"\(input)-error\""), "\(input)") }
            #expect(refused.text.contains("Enter a number") && refused.text.contains("a field must serve at least one purpose"))
            #expect(server.store.registry.fields.count == count)
        }
    }

    @Test("A team without admin gets the 403 page on every registry page and form, and nothing changes")
    func nonAdminRefused() async throws {
        try await TestServer.run { server in
            let (browser, _) = try await Self.signedIn(server, team: "marketing")
            let csrf = try await browser.csrf("/console")
            for path in ["/console/purposes", "/console/purposes/newsletter", "/console/fields", "/console/teams", "/console/teams/it", "/console/keys"] {
                let page = try await browser.send(.get, path)
                #expect(page.status == .forbidden, "\(path)")
                #expect(page.text.contains("Team Marketing does not hold the role this page needs (admin)."), "\(path)")
            }
            let keys = server.store.registry.keysById.count
            for path in ["/console/purposes", "/console/purposes/newsletter/notices", "/console/fields", "/console/teams", "/console/teams/it",
                         "/console/teams/it/operators", "/console/keys", "/console/keys/\(server.store.registry.keysById.keys.first!)/revoke"] {
                let posted = try await browser.send(.post, path, form: ["csrf": csrf, "key": "sneaky", "name": "Sneaky", "team": "marketing", "confirm": "yes", "roles": "admin"])
                #expect(posted.status == .forbidden, "\(path)")
            }
            #expect(server.store.registry.keysById.count == keys && server.store.registry.teams["sneaky"] == nil)
            #expect(server.store.registry.keysById.values.allSatisfy { $0.revokedAt == nil })
            #expect(server.store.registry.teams["it"]?.roles.contains(.admin) == true)
        }
    }

    @Test("A form without the session's CSRF token is refused and saves nothing")
    func csrfRequired() async throws {
        try await TestServer.run { server in
            let (browser, _) = try await Self.signedIn(server)
            let purposes = server.store.registry.purposes.count
            let form = ["key": "nocsrf", "names_en": "No", "legal_basis": "consent", "retention_days": "30", "dpv_term": "Marketing"]
            #expect(try await browser.send(.post, "/console/purposes", form: form).status == .forbidden)
            var forged = form
            forged["csrf"] = "forged"
            #expect(try await browser.send(.post, "/console/purposes", form: forged).status == .forbidden)
            #expect(try await browser.send(.post, "/console/keys", form: ["name": "x", "team": "it"]).status == .forbidden)
            #expect(server.store.registry.purposes.count == purposes)
        }
    }

    @Test("Teams: create one, change its purposes and roles, keep admin on your own; add an operator whose one-time password signs in; unlock a locked one")
    func teamsAndOperators() async throws {
        try await TestServer.run { server in
            let (browser, account) = try await Self.signedIn(server)
            let list = try await browser.send(.get, "/console/teams")
            #expect(list.status == .ok && list.text.contains("id=\"team-marketing\""))

            let created = try await Self.post(browser, "/console/teams", csrfFrom: "/console/teams", [
                ("key", "research_team"), ("name", "Research"), ("roles", "read"), ("purposes", "research"),
            ])
            #expect(created.status == .seeOther && created.header("Location") == "/console/teams/research_team?done=created")
            #expect(server.store.registry.teams["research_team"]?.roles == [.read])

            let changed = try await Self.post(browser, "/console/teams/research_team", csrfFrom: "/console/teams/research_team", [
                ("form", "team"), ("name", "Research and insight"), ("roles", "read"), ("roles", "write"), ("purposes", "research"), ("purposes", "offers"),
            ])
            #expect(changed.status == .seeOther)
            let team = try #require(server.store.registry.teams["research_team"])
            #expect(team.name == "Research and insight" && team.roles == [.read, .write] && team.purposes == ["offers", "research"])
            #expect(try await server.store.auditLog(AuditQuery(action: "team.update"), cursor: nil, limit: 5).data.map(\.actor) == [account.id])

            let selfLockout = try await Self.post(browser, "/console/teams/it", csrfFrom: "/console/teams/it", [("form", "team"), ("name", "IT"), ("roles", "read")])
            #expect(selfLockout.status == .unprocessableContent && selfLockout.text.contains("id=\"roles-error\""))
            #expect(server.store.registry.teams["it"]?.roles.contains(.admin) == true)

            // A new operator: the generated password is on the answer, once, and it signs in
            let added = try await Self.post(browser, "/console/teams/research_team/operators", csrfFrom: "/console/teams/research_team", [
                ("op_name", "Rina Researcher"), ("op_email", "rina@example.com"),
            ])
            #expect(added.status == .created && added.header("Cache-Control") == "no-store")
            let password = String(try #require(added.text.firstMatch(of: /<code id="new-password" dir="ltr">([^<]+)<\/code>/)).1)
            #expect(password.count == 20)
            let again = try await browser.send(.get, "/console/teams/research_team")
            #expect(!again.text.contains(password) && again.text.contains("rina@example.com"))
            #expect(try await Browser(server.api).signIn("rina@example.com", password).status == .seeOther)
            let duplicate = try await Self.post(browser, "/console/teams/research_team/operators", csrfFrom: "/console/teams/research_team", [
                ("op_name", "Rina Again"), ("op_email", "rina@example.com"),
            ])
            #expect(duplicate.status == .conflict && duplicate.text.contains("id=\"op_email-error\""))

            // Five wrong passwords lock Rina; the team page says so, and an administrator unlocks her
            let rina = Browser(server.api)
            for _ in 0..<OperatorPolicy.maxFailures { _ = try await rina.signIn("rina@example.com", "wrong password!") }
            #expect(try await rina.signIn("rina@example.com", password).status.code == 423)
            let locked = try await browser.send(.get, "/console/teams/research_team")
            #expect(locked.text.contains("Locked") && locked.text.contains("/unlock"))
            let rinaId = try #require(try await server.store.operatorStatuses(team: "research_team").first?.account.id)
            let unlocked = try await Self.post(browser, "/console/teams/research_team/operators/\(rinaId)/unlock", csrfFrom: "/console/teams/research_team", [])
            #expect(unlocked.status == .seeOther && unlocked.header("Location") == "/console/teams/research_team?done=unlocked")
            #expect(try await rina.signIn("rina@example.com", password).status == .seeOther)
            #expect(try await server.store.auditLog(AuditQuery(action: "operator.unlock"), cursor: nil, limit: 5).data.map(\.actor) == [account.id])
            // The last sign-in is shown
            let statuses = try await server.store.operatorStatuses(team: "research_team")
            #expect(statuses.first?.lastSignInAt != nil && statuses.first?.lockedUntil == nil)
        }
    }

    @Test("API keys: the secret is shown once and works; revoking needs the tick, then the key is refused")
    func keys() async throws {
        try await TestServer.run { server in
            let (browser, _) = try await Self.signedIn(server)
            let list = try await browser.send(.get, "/console/keys")
            #expect(list.status == .ok && list.text.contains("cnd_sk_") && !list.text.contains(server.keys.admin))

            let created = try await Self.post(browser, "/console/keys", csrfFrom: "/console/keys", [("name", "Shop backend"), ("team", "support"), ("kind", "secret")])
            #expect(created.status == .created)
            let secret = String(try #require(created.text.firstMatch(of: /<code id="new-secret" dir="ltr">(cnd_sk_[^<]+)<\/code>/)).1)
            #expect(try await server.api.get("/v1/purposes", key: secret).status == .ok)
            #expect(!(try await browser.send(.get, "/console/keys")).text.contains(secret), "shown once")
            let key = try #require(server.store.registry.keysById.values.first { $0.name == "Shop backend" })

            let invalid = try await Self.post(browser, "/console/keys", csrfFrom: "/console/keys", [("name", ""), ("team", "support"), ("kind", "publishable")])
            #expect(invalid.status == .unprocessableContent && invalid.text.contains("id=\"name-error\"") && invalid.text.contains("id=\"origins-error\""))

            let unticked = try await Self.post(browser, "/console/keys/\(key.id)/revoke", csrfFrom: "/console/keys", [])
            #expect(unticked.status == .unprocessableContent && unticked.text.contains("id=\"revoke-\(key.id)-error\""))
            #expect(server.store.registry.keysById[key.id]?.revokedAt == nil)
            let revoked = try await Self.post(browser, "/console/keys/\(key.id)/revoke", csrfFrom: "/console/keys", [("confirm", "yes")])
            #expect(revoked.status == .seeOther)
            #expect(try await server.api.get("/v1/purposes", key: secret).status == .unauthorized)
            let after = try await browser.send(.get, revoked.header("Location")!)
            #expect(after.text.contains("Key “Shop backend” was revoked"))
        }
    }
}
