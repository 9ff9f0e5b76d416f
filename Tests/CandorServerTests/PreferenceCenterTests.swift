import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The preference center at `/p/{token}`, the `/p` link desk, the admin link route and `/privacy`.
@Suite struct PreferenceCenterTests {
    static let form = "application/x-www-form-urlencoded"

    /// An admin-issued link's path for a person.
    func link(_ portal: Portal, _ id: String, lang: String = "en") async throws -> String {
        let reply = try await portal.api.post("/v1/subjects/\(id)/preferences-link?lang=\(lang)", key: portal.server.keys.marketing, body: "")
        #expect(reply.status == .created, "\(reply.text)")
        let url = try #require(try reply.object()["url"] as? String)
        #expect(try reply.object()["expires_at"] is String)
        return String(url[url.range(of: "/p/")!.lowerBound...])
    }

    /// The form as the page shows it, with `changes` laid over (name → values).
    func formBody(_ html: String, _ changes: [String: [String]], drop: Set<String> = []) throws -> String {
        var pairs = [(String, String)]()
        let hidden = try NSRegularExpression(pattern: #"<input type="hidden" name="([^"]+)" value="([^"]*)">"#)
        for match in hidden.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let name = String(html[Range(match.range(at: 1), in: html)!])
            if !drop.contains(name) { pairs.append((name, String(html[Range(match.range(at: 2), in: html)!]))) }
        }
        for (name, values) in changes { for value in values { pairs.append((name, value)) } }
        return pairs.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
    }

    @Test func roundTripWritesOnlyChangesWithShownNotices() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let path = try await link(portal, id)
            let page = try await portal.api.get(path)
            #expect(page.status == .ok)
            #expect(page.text.contains("Why we ask") && page.text.contains("name=\"v.interests\" value=\"running\" checked"))
            let before = try await portal.server.ledgerEntries()
            // Keep interests as they are, change shoe size, grant newsletter, keep offers granted.
            let body = try formBody(page.text, ["v.interests": ["yoga", "running"], "v.shoe_size": ["43"], "consent.newsletter": ["granted"], "consent.offers": ["granted"]])
            let saved = try await portal.api.post(path, key: nil, body: body, contentType: Self.form)
            #expect(saved.status == .seeOther, "\(saved.text)")
            #expect(try await portal.server.ledgerEntries() == before + 2, "one declaration and one consent change")
            let offers = try await portal.server.profile(id, purpose: "offers", key: portal.server.keys.sales)
            let values = try #require(offers["values"] as? [String: Any])
            let shoe = try #require(values["shoe_size"] as? [String: Any])
            #expect(shoe["value"] as? Double == 43)
            #expect(shoe["source"] as? String == "preference_center")
            #expect(shoe["notices"] as? [String: Int] == ["offers": 1, "support": 1])
            let interests = try #require(values["interests"] as? [String: Any])
            #expect(interests["source"] as? String == "preference_center" && interests["declaration_id"] as? String != shoe["declaration_id"] as? String, "unchanged: not declared again")
            let again = try await portal.api.get(path + "&saved=1")
            #expect(again.text.contains("Your choices are saved") && again.text.contains("id=\"consent-newsletter\" name=\"consent.newsletter\" value=\"granted\" checked"))
        }
    }

    @Test func hebrewIsRightToLeft() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let page = try await portal.api.get(try await link(portal, id, lang: "he"))
            #expect(page.text.contains("dir=\"rtl\"") && page.text.contains("למה אנחנו שואלים"))
            let accept = try await portal.api.get("/p", headers: ["Accept-Language": "he-IL,he;q=0.9"])
            #expect(accept.text.contains("dir=\"rtl\""))
        }
    }

    @Test func expiredAndTamperedLinksOpenNothing() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let path = try await link(portal, id)
            let page = try await portal.api.get(path)
            let body = try formBody(page.text, ["v.shoe_size": ["44"]])
            var tampered = Array(path.split(separator: "?")[0])
            tampered[tampered.count - 3] = tampered[tampered.count - 3] == "A" ? "B" : "A"
            #expect(try await portal.api.get(String(tampered)).status == .notFound)
            let rights = try await portal.api.post("/v1/subjects/\(id)/rights-link", key: portal.server.keys.admin, body: "")
            let rightsToken = try #require((try rights.object()["url"] as? String)?.split(separator: "/").last?.split(separator: "?").first)
            #expect(try await portal.api.get("/p/\(rightsToken)").status == .notFound, "a rights link is not a preferences link")
            portal.clock.advance(minutes: 7 * 24 * 60 + 1)
            let before = try await portal.server.footprint()
            #expect(try await portal.api.get(path).status == .gone)
            #expect(try await portal.api.post(path, key: nil, body: body, contentType: Self.form).status == .gone)
            #expect(try await portal.server.footprint() == before)
        }
    }

    @Test func badFormsWriteNothing() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let path = try await link(portal, id)
            let page = try await portal.api.get(path)
            let before = try await portal.server.footprint()
            // Missing and wrong CSRF.
            let noCSRF = try formBody(page.text, ["v.shoe_size": ["44"]], drop: ["csrf"])
            #expect(try await portal.api.post(path, key: nil, body: noCSRF, contentType: Self.form).status == .forbidden)
            let wrong = try formBody(page.text, ["v.shoe_size": ["44"], "csrf": ["forged"]], drop: ["csrf"])
            #expect(try await portal.api.post(path, key: nil, body: wrong, contentType: Self.form).status == .forbidden)
            // An answer outside the field's options.
            let outside = try formBody(page.text, ["v.content_frequency": ["hourly"], "v.shoe_size": ["44"]])
            let refused = try await portal.api.post(path, key: nil, body: outside, contentType: Self.form)
            #expect(refused.status == .unprocessableContent && refused.text.contains("error-summary"))
            // Oversized.
            let huge = try formBody(page.text, ["v.shoe_size": ["44"], "pad": [String(repeating: "x", count: 200_000)]])
            #expect(try await portal.api.post(path, key: nil, body: huge, contentType: Self.form).status == .forbidden)
            #expect(try await portal.server.footprint() == before)
        }
    }

    @Test func supersededNoticeIsRefused() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let path = try await link(portal, id)
            let page = try await portal.api.get(path)
            let notice = try await portal.api.post("/v1/purposes/offers/notices", key: portal.server.keys.admin,
                                                   body: #"{"texts":{"en":{"title":"Offers","why":"New why","benefit":"New benefit"},"he":{"title":"הצעות","why":"למה חדש","benefit":"תועלת חדשה"}}}"#)
            #expect(notice.status == .created, "\(notice.text)")
            let before = try await portal.server.footprint()
            let reply = try await portal.api.post(path, key: nil, body: try formBody(page.text, ["v.shoe_size": ["44"]]), contentType: Self.form)
            #expect(reply.status == .conflict && reply.text.contains("We have updated what we tell you"))
            #expect(try await portal.server.footprint() == before)
            #expect(try await portal.api.get(path).text.contains("New why"))
        }
    }

    @Test func gpcRecordsOptOutOfSale() async throws {
        try await Portal.run { portal in
            let id = try await portal.person()
            let page = try await portal.api.get(try await link(portal, id), headers: ["Sec-GPC": "1"])
            #expect(page.text.contains("Global Privacy Control"))
            let subject = try await portal.server.store.subject(id)
            #expect(subject.hasOptedOutOfSale)
        }
    }

    @Test func askingForALinkRevealsNothing() async throws {
        try await Portal.run { portal in
            _ = try await portal.person()
            for email in ["dana@example.com", "nobody@example.com"] {
                let page = try await portal.api.get("/p")
                let cookie = try #require(Portal.cookie(page, "candor_portal_browser"))
                let reply = try await portal.api.post("/p", key: nil, body: "email=\(email)&csrf=\(try #require(Portal.csrf(page.text)))",
                                                      contentType: Self.form, headers: ["Cookie": "candor_portal_browser=\(cookie)"])
                #expect(reply.status == .ok && reply.text.contains("a link to your preferences is on its way"))
            }
            #expect(portal.mail.messages.count == 1 && portal.mail.messages[0].link.contains("/p/"))
        }
    }

    @Test func privacyPageListsPurposes() async throws {
        try await Portal.run { portal in
            let page = try await portal.api.get("/privacy")
            #expect(page.status == .ok && page.text.contains("Personalized offers") && page.text.contains("/.well-known/gpc.json") && page.text.contains("Sales"))
            #expect(try await portal.api.get("/privacy?lang=he").text.contains("dir=\"rtl\""))
        }
    }
}
