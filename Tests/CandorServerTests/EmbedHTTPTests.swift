import CandorCore
import CandorServer
import CandorStore
import Crypto
import Foundation
import HTTPTypes
import Testing

/// The embed over HTTP, in process: the script and stylesheet, the browser's endpoints behind a
/// publishable key and its origins, the admin side, and every kind of bad input.
@Suite("Embed HTTP")
struct EmbedHTTPTests {
    static let origin = "https://shop.example"
    static let product = "https://shop.example/demo/shop/product?lang=en"

    /// Calls a browser endpoint as the shop's page would.
    static func browser(_ server: TestServer, _ path: String, _ body: [String: Any], origin: String = origin, key: String? = nil,
                        headers: [String: String] = [:]) async throws -> Reply {
        var extra = headers
        extra["Origin"] = origin
        return try await server.api.post("/e/v1/\(path)", key: key ?? server.keys.publishable, body: try JSON.text(body), headers: extra)
    }

    static func newVisitor(_ server: TestServer) async throws -> String {
        let reply = try await browser(server, "visitors", [:])
        #expect(reply.status == .created, "\(reply.text)")
        #expect(reply.header("Access-Control-Allow-Origin") == origin)
        return try #require(try reply.object()["visitor"] as? String)
    }

    static func keyId(_ server: TestServer) throws -> String {
        try #require(server.store.registry.keysByHash[KeyMaterial.storageHash(server.keys.publishable)]?.id)
    }

    /// The signature a shop's backend computes, from the identity secret an admin read over the API.
    static func sign(_ server: TestServer, _ externalId: String) async throws -> String {
        let reply = try await server.api.get("/v1/keys/\(try keyId(server))/identity-secret", key: server.keys.admin)
        #expect(reply.status == .ok, "\(reply.text)")
        let hex = try #require(try reply.object()["identity_secret"] as? String)
        let secret = try #require(Digest.bytes(hex: hex))
        return Digest.hex(HMAC<SHA256>.authenticationCode(for: Data(externalId.utf8), using: SymmetricKey(data: secret)))
    }

    @Test("embed.js and embed.css are served with their types, caching and CORS; the script is under 20 KB and uses no eval")
    func assets() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let script = try await server.api.get("/embed.js")
            #expect(script.status == .ok)
            #expect(script.contentType == "text/javascript; charset=utf-8")
            #expect(script.header("Cache-Control") == "public, max-age=300")
            #expect(script.header("Access-Control-Allow-Origin") == "*")
            #expect(script.body.count < 20 * 1024, "embed.js is \(script.body.count) bytes")
            #expect(!script.text.contains("eval(") && !script.text.contains("new Function") && !script.text.contains(".style."))
            #expect(script.text.contains("Candor"))
            let style = try await server.api.get("/embed.css")
            #expect(style.status == .ok && style.contentType == "text/css; charset=utf-8")
            #expect(style.text.contains(".candor-dialog"))
        }
    }

    @Test("Preflights are answered for allowed origins only; other origins, missing origins and secret keys are refused; nothing is written")
    func originsAndKeys() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let preflight = try await server.api.send(.options, "/e/v1/decide", headers: ["Origin": Self.origin, "Access-Control-Request-Method": "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.header("Access-Control-Allow-Origin") == Self.origin)
            #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)
            let evil = try await server.api.send(.options, "/e/v1/decide", headers: ["Origin": "https://evil.example"])
            try evil.expectProblem(.forbidden, field: "Origin")
            #expect(evil.header("Access-Control-Allow-Origin") == nil)

            let before = try await server.store.count("prompt_visitors")
            try await Self.browser(server, "visitors", [:], origin: "https://evil.example").expectProblem(.forbidden, kind: "forbidden", field: "Origin")
            let noOrigin = try await server.api.post("/e/v1/visitors", key: server.keys.publishable, body: "{}")
            try noOrigin.expectProblem(.forbidden, field: "Origin")
            try await Self.browser(server, "visitors", [:], key: server.keys.marketing).expectProblem(.forbidden, field: "Authorization")
            let anonymous = try await server.api.post("/e/v1/visitors", key: nil, body: "{}", headers: ["Origin": Self.origin])
            try anonymous.expectProblem(.unauthorized, field: "Authorization")
            #expect(anonymous.header("Access-Control-Allow-Origin") == Self.origin, "errors stay readable by the page")
            try await Self.browser(server, "visitors", [:], key: "cnd_pk_unknown").expectProblem(.unauthorized, field: "Authorization")
            #expect(try await server.store.count("prompt_visitors") == before)
            // And the publishable key still opens nothing under /v1.
            try await server.api.get("/v1/prompts", key: server.keys.publishable).expectProblem(.forbidden, field: "Authorization")
        }
    }

    @Test("A prompt on its trigger, answered with its notice version; identify with a valid signature carries it to the person")
    func promptAnswerIdentify() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            // The front page shows nothing yet but says what to watch for.
            let front = try await Self.browser(server, "decide", ["visitor": visitor, "url": "https://shop.example/demo/shop", "locale": "en"])
            #expect(front.status == .ok)
            let frontJSON = try front.object()
            #expect(frontJSON["prompt"] == nil)
            #expect((frontJSON["watch"] as? [String: Any])?["scroll"] as? [Int] == [50])
            // The product page asks for shoe size, in Hebrew when asked, right to left, with why we ask.
            let decided = try await Self.browser(server, "decide", ["visitor": visitor, "url": Self.product, "locale": "he-IL"])
            let prompt = try #require(try decided.object()["prompt"] as? [String: Any])
            #expect(prompt["field"] as? String == "shoe_size" && prompt["type"] as? String == "number")
            #expect(prompt["dir"] as? String == "rtl" && prompt["delay_seconds"] as? Int == 3)
            #expect((prompt["question"] as? String)?.contains("מידת") == true)
            let notices = try #require(prompt["notices"] as? [[String: Any]])
            #expect(Set(notices.compactMap { $0["purpose"] as? String }) == ["offers", "support"])
            let promptId = try #require(prompt["id"] as? String)
            #expect(try await Self.browser(server, "prompts/\(promptId)/display", ["visitor": visitor]).status == .ok)

            let cited = Dictionary(uniqueKeysWithValues: notices.map { ($0["purpose"] as! String, $0["version"] as! Int) })
            let answered = try await Self.browser(server, "prompts/\(promptId)/answer", ["visitor": visitor, "value": 42, "notices": cited])
            #expect(answered.status == .created, "\(answered.text)")
            #expect(try answered.object()["notices"] as? [String: Int] == cited)
            // Within the cooldown nothing more is shown.
            #expect(try await Self.browser(server, "decide", ["visitor": visitor, "url": "https://shop.example/demo/shop", "scroll": 80]).object()["prompt"] == nil)

            let signature = try await Self.sign(server, "cus_shop_1")
            let identified = try await Self.browser(server, "identify", ["visitor": visitor, "id": "cus_shop_1", "signature": signature])
            #expect(identified.status == .ok, "\(identified.text)")
            let lookup = try await server.api.post("/v1/subjects/lookup", key: server.keys.support, body: #"{"external_id":"cus_shop_1"}"#)
            let subjectId = try #require(try lookup.object()["id"] as? String)
            let profile = try await server.profile(subjectId, purpose: "support", key: server.keys.support)
            let shoe = try #require((profile["values"] as? [String: Any])?["shoe_size"] as? [String: Any])
            #expect(shoe["value"] as? Int == 42)
            #expect(shoe["source"] as? String == "prompt")
            #expect(shoe["collection_point"] as? String == "prompt:\(promptId)")
            #expect(shoe["notices"] as? [String: Int] == cited)
        }
    }

    @Test("A forged signature is refused naming `signature`, and nothing is written")
    func forgedSignature() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            let before = try await server.footprint()
            let signature = try await Self.sign(server, "cus_real")
            for forged in [signature, String(repeating: "0", count: 64), "not hex", ""] {
                let reply = try await Self.browser(server, "identify", ["visitor": visitor, "id": "cus_other", "signature": forged])
                try reply.expectProblem(.forbidden, field: "signature")
            }
            var after = try await server.footprint()
            after["audit_log"] = before["audit_log"]  // the admin's read of the identity secret is audited
            #expect(after == before)
            #expect(try await server.store.visitor(visitor, keyId: try Self.keyId(server)).subjectId == nil)
        }
    }

    @Test("Bad input: answers outside the options, unknown visitors, bad signals and oversized bodies get problems and write nothing")
    func badInput() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            let prompts = try await server.store.prompts()
            let interests = try #require(prompts.first { $0.field == "interests" }?.id)
            let shoe = try #require(prompts.first { $0.field == "shoe_size" }?.id)
            let before = try await server.footprint()
            let notices = ["newsletter": 1, "offers": 1, "research": 1]
            try await Self.browser(server, "prompts/\(interests)/answer", ["visitor": visitor, "value": ["golf"], "notices": notices])
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "value[0]")
            try await Self.browser(server, "prompts/\(shoe)/answer", ["visitor": visitor, "value": "big", "notices": ["offers": 1, "support": 1]])
                .expectProblem(.unprocessableContent, field: "value")
            try await Self.browser(server, "prompts/\(shoe)/answer", ["visitor": visitor, "value": 40, "notices": ["offers": 9, "support": 1]])
                .expectProblem(.unprocessableContent, field: "notices.offers")
            try await Self.browser(server, "prompts/prm_nope/answer", ["visitor": visitor, "value": 40, "notices": [:] as [String: Int]])
                .expectProblem(.notFound)
            try await Self.browser(server, "decide", ["visitor": "vis_" + String(repeating: "a", count: 32), "url": "/"]).expectProblem(.notFound, field: "visitor")
            try await Self.browser(server, "decide", ["visitor": "someone", "url": "/"]).expectProblem(.unprocessableContent, field: "visitor")
            try await Self.browser(server, "decide", ["visitor": visitor, "url": "/", "scroll": 140, "event": "no spaces"])
                .expectProblem(.unprocessableContent, field: "scroll")
            try await Self.browser(server, "decide", ["visitor": visitor]).expectProblem(.unprocessableContent, field: "url")
            try await Self.browser(server, "track", ["visitor": visitor, "url": "/"]).expectProblem(.unprocessableContent, field: "event")
            let huge = try await Self.browser(server, "decide", ["visitor": visitor, "url": String(repeating: "x", count: 10_000)])
            try huge.expectProblem(.contentTooLarge, field: "body")
            #expect(try await server.footprint() == before)
        }
    }

    @Test("Rate limits: a visitor gets 429 naming `visitor` after 120 requests in a minute")
    func rateLimit() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            // The limiter estimates a sliding minute from two fixed ones (the previous one weighted by
            // the time left), so a burst that straddles a minute boundary is counted low by design. The
            // 120 requests take up to ~20 s on a loaded machine: start them with 30 s of the minute left.
            let intoMinute = server.store.currentMillis % 60_000
            if intoMinute > 30_000 { try await Task.sleep(for: .milliseconds(60_000 - intoMinute + 50)) }
            for _ in 0..<120 {
                let reply = try await Self.browser(server, "decide", ["visitor": visitor, "url": "https://shop.example/"])
                #expect(reply.status == .ok)
            }
            let limited = try await Self.browser(server, "decide", ["visitor": visitor, "url": "https://shop.example/"])
            try limited.expectProblem(.tooManyRequests, kind: "rate-limited", field: "visitor")
            // Another visitor is not held back by the first one.
            let other = try await Self.newVisitor(server)
            #expect(try await Self.browser(server, "decide", ["visitor": other, "url": "https://shop.example/"]).status == .ok)
        }
    }

    @Test("Track fires event prompts; dismiss with don't-ask-again silences every prompt; dont-ask works on its own")
    func trackDismissDontAsk() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            let tracked = try await Self.browser(server, "track", ["visitor": visitor, "url": "https://shop.example/demo/shop/product", "event": "added_to_cart"])
            let prompt = try #require(try tracked.object()["prompt"] as? [String: Any])
            #expect(prompt["field"] as? String == "offer_types")
            let options = try #require(prompt["options"] as? [[String: Any]])
            #expect(options.count == 5 && options.first?["label"] as? String == "Discounts")
            let id = try #require(prompt["id"] as? String)
            let dismissed = try await Self.browser(server, "prompts/\(id)/dismiss", ["visitor": visitor, "dont_ask_again": true])
            #expect(dismissed.status == .ok)
            #expect(try await server.store.dontAsk(visitorId: visitor, keyId: try Self.keyId(server)))
            let second = try await Self.newVisitor(server)
            #expect(try await Self.browser(server, "dont-ask", ["visitor": second]).status == .ok)
            #expect(try await Self.browser(server, "decide", ["visitor": second, "url": Self.product]).object()["prompt"] == nil)
        }
    }

    @Test("Onsite offers for the identified visitor carry plain-words explanations and a preference link; outcomes only for their own decision")
    func onsiteOffers() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            // A runner who agreed to personalized offers.
            let subjectId = try await server.createSubject(externalId: "cus_runner")
            try await server.declare(subjectId, ["interests": ["running", "yoga"]])
            try await server.consent(subjectId, ["offers": "granted"])
            let visitor = try await Self.newVisitor(server)
            let anonymous = try await Self.browser(server, "offers", ["visitor": visitor, "locale": "en"])
            #expect(try anonymous.object()["offers"] as? [Any] != nil && (try anonymous.object()["offers"] as? [Any])?.isEmpty == true)
            let signature = try await Self.sign(server, "cus_runner")
            #expect(try await Self.browser(server, "identify", ["visitor": visitor, "id": "cus_runner", "signature": signature]).status == .ok)
            let reply = try await Self.browser(server, "offers", ["visitor": visitor, "locale": "en", "url": "https://shop.example/demo/shop"])
            #expect(reply.status == .ok, "\(reply.text)")
            let json = try reply.object()
            let offers = try #require(json["offers"] as? [[String: Any]])
            let decisionId = try #require(json["decision_id"] as? String)
            #expect((json["preferences_url"] as? String)?.contains("/p/") == true)
            // The holdout share may put this person in the non-personalized arm; both must explain themselves.
            let first = try #require(offers.first)
            let why = try #require(first["why"] as? [String])
            if first["personalized"] as? Bool == true {
                #expect(why.contains { $0.contains("Running") && $0.contains("What are you into?") }, "the option reads as its label")
                #expect(why.contains { $0.contains("Personalized offers") })
            } else {
                #expect(why == ["Everyone sees this offer. It does not use anything you told us."])
            }
            let offerId = try #require(first["offer_id"] as? String)
            let impression = try await Self.browser(server, "decisions/\(decisionId)/outcomes", ["visitor": visitor, "type": "impression", "offer_id": offerId])
            #expect(impression.status == .created, "\(impression.text)")
            try await Self.browser(server, "decisions/\(decisionId)/outcomes", ["visitor": visitor, "type": "conversion", "offer_id": offerId])
                .expectProblem(.unprocessableContent, field: "type")
            let stranger = try await Self.newVisitor(server)
            try await Self.browser(server, "decisions/\(decisionId)/outcomes", ["visitor": stranger, "type": "click", "offer_id": offerId]).expectProblem(.notFound)
            // Hebrew explanations read in Hebrew.
            let hebrew = try await Self.browser(server, "offers", ["visitor": visitor, "locale": "he"])
            #expect(try hebrew.object()["dir"] as? String == "rtl")
        }
    }

    @Test("Sec-GPC: 1 from an identified visitor records an opt-out of sale, once")
    func globalPrivacyControl() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            let signature = try await Self.sign(server, "cus_gpc")
            #expect(try await Self.browser(server, "identify", ["visitor": visitor, "id": "cus_gpc", "signature": signature], headers: ["Sec-GPC": "1"]).status == .ok)
            let admin = try #require(server.store.authenticate(server.keys.admin))
            let subject = try #require(try await server.store.findSubject(externalId: "cus_gpc", email: nil, by: admin))
            #expect(subject.hasOptedOutOfSale)
            let entries = try await server.ledgerEntries()
            #expect(try await Self.browser(server, "decide", ["visitor": visitor, "url": "/"], headers: ["Sec-GPC": "1"]).status == .ok)
            #expect(try await server.ledgerEntries() == entries, "an opt-out already recorded is not recorded again")
        }
    }

    @Test("Admin: prompts are created, read, replaced, activated and paused with the write role; bad prompts name their fields")
    func adminPrompts() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let bad = try await server.api.post("/v1/prompts", key: server.keys.marketing, body: try JSON.text([
                "name": "x", "field": "shoe_size", "frequency": "up_to", "triggers": [["type": "scroll", "percent": 0]], "audience": "shoe_size >",
            ]))
            try bad.expectProblem(.unprocessableContent, field: "audience")
            #expect(Set(try bad.problemFields()).isSuperset(of: ["triggers[0].percent", "max_displays", "audience"]))
            try await server.api.post("/v1/prompts", key: server.keys.marketing, body: #"{"name":"x","field":"shoe_size","frequency":"sometimes","triggers":[]}"#)
                .expectProblem(.unprocessableContent, field: "frequency")
            try await server.api.post("/v1/prompts", key: server.keys.sales, body: "{}").expectProblem(.forbidden)

            let body: [String: Any] = ["name": "Channels on exit", "field": "channels", "frequency": "once", "triggers": [["type": "exit_intent"]],
                                       "texts": ["en": ["question": "How should we reach you?"]], "sample_percent": 50]
            let created = try await server.api.post("/v1/prompts", key: server.keys.marketing, body: try JSON.text(body))
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(try created.object()["id"] as? String)
            #expect(try created.object()["status"] as? String == "draft")
            #expect(try await server.api.get("/v1/prompts/\(id)", key: server.keys.marketing).status == .ok)
            let list = try await server.api.get("/v1/prompts", key: server.keys.marketing)
            #expect((try list.object()["data"] as? [[String: Any]])?.contains { $0["id"] as? String == id } == true)
            var changed = body
            changed["name"] = "Channels, on the way out"
            let replaced = try await server.api.send(.put, "/v1/prompts/\(id)", key: server.keys.marketing, body: try JSON.text(changed))
            #expect(try replaced.object()["name"] as? String == "Channels, on the way out")
            #expect(try await server.api.post("/v1/prompts/\(id)/activate", key: server.keys.marketing, body: "").object()["status"] as? String == "active")
            #expect(try await server.api.post("/v1/prompts/\(id)/pause", key: server.keys.marketing, body: "").object()["status"] as? String == "paused")
            try await server.api.get("/v1/prompts/prm_missing", key: server.keys.marketing).expectProblem(.notFound)
            try await server.api.post("/v1/prompts/prm_missing/activate", key: server.keys.marketing, body: "").expectProblem(.notFound)
            // Identity secrets: admins only, publishable keys only.
            try await server.api.get("/v1/keys/\(try Self.keyId(server))/identity-secret", key: server.keys.marketing).expectProblem(.forbidden)
            let secretKeyId = try #require(server.store.authenticate(server.keys.marketing)?.key.id)
            try await server.api.get("/v1/keys/\(secretKeyId)/identity-secret", key: server.keys.admin).expectProblem(.unprocessableContent, field: "id")
            try await server.api.get("/v1/keys/key_missing/identity-secret", key: server.keys.admin).expectProblem(.notFound)
        }
    }

    @Test("One person's prompt history for the admin: displays, dismissals, answers, last shown, don't-ask; purpose-bound, audited, in the export")
    func personPromptHistory() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let admin = try #require(server.store.authenticate(server.keys.admin))
            // One person sees the shoe-size prompt and closes it with "don't ask me again" …
            let visitor = try await Self.newVisitor(server)
            #expect(try await Self.browser(server, "identify", ["visitor": visitor, "id": "cus_hist", "signature": try await Self.sign(server, "cus_hist")]).status == .ok)
            let shown = try #require(try await Self.browser(server, "decide", ["visitor": visitor, "url": Self.product]).object()["prompt"] as? [String: Any])
            let shoe = try #require(shown["id"] as? String)
            #expect(try await Self.browser(server, "prompts/\(shoe)/display", ["visitor": visitor]).status == .ok)
            #expect(try await Self.browser(server, "prompts/\(shoe)/dismiss", ["visitor": visitor, "dont_ask_again": true]).status == .ok)
            let subjectId = try #require(try await server.store.findSubject(externalId: "cus_hist", email: nil, by: admin)?.id)
            // … another answers it without the display being reported.
            let other = try await Self.newVisitor(server)
            #expect(try await Self.browser(server, "identify", ["visitor": other, "id": "cus_answer", "signature": try await Self.sign(server, "cus_answer")]).status == .ok)
            let answered = try await Self.browser(server, "prompts/\(shoe)/answer", ["visitor": other, "value": 41, "notices": ["offers": 1, "support": 1]])
            #expect(answered.status == .created, "\(answered.text)")
            let answerer = try #require(try await server.store.findSubject(externalId: "cus_answer", email: nil, by: admin)?.id)

            let audits = try await server.store.count("audit_log")
            let reply = try await server.api.get("/v1/subjects/\(subjectId)/prompts", key: server.keys.support, purpose: "support")
            #expect(reply.status == .ok, "\(reply.text)")
            let json = try reply.object()
            #expect(json["subject_id"] as? String == subjectId)
            #expect(json["dont_ask"] as? Bool == true)
            let items = try #require(json["prompts"] as? [[String: Any]])
            #expect(items.count == 1)
            let item = try #require(items.first)
            #expect(item["prompt_id"] as? String == shoe && item["field"] as? String == "shoe_size")
            #expect(item["name"] as? String == "Shoe size on the product page")
            #expect(item["displays"] as? Int == 1, "the dismissal of a reported display is not a second display")
            #expect(item["dismissals"] as? Int == 1 && item["answers"] as? Int == 0)
            #expect(item["last_shown_at"] is String && item["last_answered_at"] == nil)
            #expect(try await server.store.count("audit_log") == audits + 1, "the read is audited")

            let theirs = try await server.api.get("/v1/subjects/\(answerer)/prompts", key: server.keys.support, purpose: "support").object()
            let their = try #require((theirs["prompts"] as? [[String: Any]])?.first)
            #expect(their["answers"] as? Int == 1 && their["displays"] as? Int == 1 && their["dismissals"] as? Int == 0)
            #expect(their["last_answered_at"] is String && theirs["dont_ask"] as? Bool == false)

            // Purpose-bound: a team reading for the newsletter sees no prompt asking for a field that does not serve it.
            let newsletter = try await server.api.get("/v1/subjects/\(subjectId)/prompts", key: server.keys.marketing, purpose: "newsletter")
            #expect(newsletter.status == .ok)
            #expect((try newsletter.object()["prompts"] as? [Any])?.isEmpty == true)
            // Refusals: no purpose, a purpose the team does not hold, the browser's key, an unknown person.
            let path = "/v1/subjects/\(subjectId)/prompts"
            try await server.api.get(path, key: server.keys.support).expectProblem(.badRequest, field: "Candor-Purpose")
            try await server.api.get(path, key: server.keys.support, purpose: "offers").expectProblem(.forbidden, field: "Candor-Purpose")
            try await server.api.get(path, key: server.keys.publishable, purpose: "support").expectProblem(.forbidden, field: "Authorization")
            try await server.api.get(path, key: nil, purpose: "support").expectProblem(.unauthorized, field: "Authorization")
            try await server.api.get("/v1/subjects/sub_missing/prompts", key: server.keys.support, purpose: "support").expectProblem(.notFound)

            // The person's own export carries the same history, and names the read among who used their data.
            let export = try await server.api.get("/v1/subjects/\(subjectId)/export", key: server.keys.admin).object()
            let exported = try #require(export["prompts"] as? [String: Any])
            #expect(exported["dont_ask"] as? Bool == true)
            #expect((exported["prompts"] as? [[String: Any]])?.first?["dismissals"] as? Int == 1)
            #expect((export["shared_with"] as? [[String: Any]])?.contains { $0["action"] as? String == "prompt_history.read" } == true)
        }
    }

    @Test("Prompt intro text: shown with the question in the visitor's language, never English above Hebrew; bad intros name their field")
    func promptIntro() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            let english = try #require(try await Self.browser(server, "decide", ["visitor": visitor, "url": Self.product, "locale": "en"]).object()["prompt"] as? [String: Any])
            #expect(english["intro"] as? String == "One quick question, so that we only show you shoes in your size.")
            let second = try await Self.newVisitor(server)
            let hebrew = try #require(try await Self.browser(server, "decide", ["visitor": second, "url": Self.product, "locale": "he"]).object()["prompt"] as? [String: Any])
            #expect((hebrew["intro"] as? String)?.contains("שאלה אחת קצרה") == true)

            let before = try await server.footprint()
            let base: [String: Any] = ["name": "Channels on exit", "field": "channels", "frequency": "once", "triggers": [["type": "exit_intent"]], "status": "active"]
            func create(_ texts: [String: Any]) async throws -> Reply {
                var body = base
                body["texts"] = texts
                return try await server.api.post("/v1/prompts", key: server.keys.marketing, body: try JSON.text(body))
            }
            try await create(["en": ["question": "How should we reach you?", "intro": String(repeating: "a", count: 201)]])
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "texts.en.intro")
            try await create(["he": ["question": "איך לפנות אליכם?", "intro": "   "]]).expectProblem(.unprocessableContent, field: "texts.he.intro")
            try await create(["en": ["question": "How should we reach you?", "intro": "Line one\nline two"]]).expectProblem(.unprocessableContent, field: "texts.en.intro")
            try await create(["en": ["question": "How should we reach you?", "intro": 7]]).expectProblem(.unprocessableContent, field: "texts.en.intro")
            try await create(["english": ["question": "How should we reach you?", "intro": "Hi"]]).expectProblem(.unprocessableContent, field: "texts.english")
            #expect(try await server.footprint() == before, "a refused prompt writes nothing")

            // Only an English text: a Hebrew page asks the field's Hebrew label with no English intro above it.
            let created = try await create(["en": ["question": "How should we reach you?", "intro": "  Two seconds, promise.  "]])
            #expect(created.status == .created, "\(created.text)")
            #expect(((try created.object()["texts"] as? [String: Any])?["en"] as? [String: Any])?["intro"] as? String == "Two seconds, promise.")
            let third = try await Self.newVisitor(server)
            let exit = try #require(try await Self.browser(server, "decide", ["visitor": third, "url": "https://shop.example/", "exit_intent": true, "locale": "he"]).object()["prompt"] as? [String: Any])
            #expect(exit["field"] as? String == "channels" && exit["intro"] == nil)
            let fourth = try await Self.newVisitor(server)
            let exitEnglish = try #require(try await Self.browser(server, "decide", ["visitor": fourth, "url": "https://shop.example/", "exit_intent": true]).object()["prompt"] as? [String: Any])
            #expect(exitEnglish["intro"] as? String == "Two seconds, promise.")
        }
    }

    @Test("Page signals in any JSON spelling decide alike; wrong types and malformed bodies name the member or the body")
    func signalBodies() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            func decide(_ body: String) async throws -> Reply {
                try await server.api.post("/e/v1/decide", key: server.keys.publishable, body: body, headers: ["Origin": Self.origin])
            }
            // The same signal written plainly, with escapes, spacing, nulls, unknown members and a fraction-free
            // number in another member order: the same prompt each time.
            let spellings = [
                #"{"visitor":"\#(visitor)","url":"https://shop.example/demo/shop/product?lang=en","locale":"en"}"#,
                #"{ "locale" : "en" , "url" : "https:\/\/shop.example\/demo\/shop\/product?lang=en", "visitor" : "\#(visitor)" }"#,
                #"{"visitor":"\#(visitor)","url":"https://shop.example/demo/shop/product?lang=en","event":null,"scroll":null,"extra":{"a":[1,2.5]}}"#,
                "{\n\t\"visitor\": \"\(visitor)\",\r\n\"url\": \"https://shop.example/demo/shop/product?lang=\\u0065n\"}",
            ]
            for body in spellings {
                let reply = try await decide(body)
                #expect(reply.status == .ok, "\(body): \(reply.text)")
                #expect((try reply.object()["prompt"] as? [String: Any])?["field"] as? String == "shoe_size", "\(body)")
            }
            let bad: [(String, String)] = [
                (#"{"visitor":"\#(visitor)","url":"/","scroll":"60"}"#, "scroll"),
                (#"{"visitor":"\#(visitor)","url":"/","exit_intent":"yes"}"#, "exit_intent"),
                (#"{"visitor":"\#(visitor)","url":7}"#, "url"),
                (#"{"visitor":"\#(visitor)","url":null}"#, "url"),
                (#"{"visitor":"\#(visitor)"}"#, "url"),
                (#"{"visitor":"\#(visitor)","url":"/"} trailing"#, "body"),
                (#"{"visitor":"\#(visitor)","url":"/""#, "body"),
                ("[1,2]", "body"),
            ]
            for (body, field) in bad {
                let reply = try await decide(body)
                #expect(reply.status.code >= 400 && reply.status.code < 500, "\(body): \(reply.text)")
                #expect(try reply.problemFields().contains(field), "\(body): \(reply.text)")
                try reply.expectProblem(reply.status, field: field)
            }
        }
    }

    @Test("The person's portal page lists the questions the site asked them, with how often, in English and Hebrew")
    func portalShowsPrompts() async throws {
        try await Portal.run { portal in
            let server = portal.server
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let created = try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"email":"walker@example.com","external_id":"cus_walker"}"#)
            #expect(created.status == .created, "\(created.text)")
            let visitor = try await Self.newVisitor(server)
            #expect(try await Self.browser(server, "identify", ["visitor": visitor, "id": "cus_walker", "signature": try await Self.sign(server, "cus_walker")]).status == .ok)
            let session = try await portal.signIn("walker@example.com")
            #expect(try await portal.get("/rights/me", session: session).text.contains("None yet: we have not asked you anything on our site."))

            let prompt = try #require(try await Self.browser(server, "decide", ["visitor": visitor, "url": Self.product]).object()["prompt"] as? [String: Any])
            let id = try #require(prompt["id"] as? String)
            #expect(try await Self.browser(server, "prompts/\(id)/display", ["visitor": visitor]).status == .ok)
            #expect(try await Self.browser(server, "prompts/\(id)/dismiss", ["visitor": visitor, "dont_ask_again": true]).status == .ok)
            let me = try await portal.get("/rights/me", session: session)
            #expect(me.text.contains("Questions we asked you on our site"))
            #expect(me.text.contains("<strong>Shoe size (EU)</strong> — shown 1, closed 1, answered 0"), "the field's label, not the prompt's internal name")
            #expect(me.text.contains("You asked us not to ask you again on our site"))
            let hebrew = try await portal.get("/rights/me?lang=he", session: session)
            #expect(hebrew.text.contains("שאלות ששאלנו אתכם באתר") && hebrew.text.contains("מידת נעליים (אירופית)") && hebrew.text.contains("הוצגה 1, נסגרה 1, נענתה 0"))
        }
    }

    @Test("A revoked publishable key stops working at once on the node that revoked it, preflights included")
    func revokedKeyStopsAtOnce() async throws {
        try await TestServer.run { server in
            try await DemoWorkspace.seedShop(server.store, keys: server.keys)
            let visitor = try await Self.newVisitor(server)
            #expect(try await Self.browser(server, "decide", ["visitor": visitor, "url": Self.product]).status == .ok)
            #expect(try await server.api.delete("/v1/keys/\(try Self.keyId(server))", key: server.keys.admin).status == .ok)
            let refused = try await Self.browser(server, "decide", ["visitor": visitor, "url": Self.product])
            try refused.expectProblem(.unauthorized, field: "Authorization")
            #expect(refused.header("Access-Control-Allow-Origin") == nil, "no live key lists the origin any more")
            try await server.api.send(.options, "/e/v1/decide", headers: ["Origin": Self.origin]).expectProblem(.forbidden, field: "Origin")
        }
    }
}
