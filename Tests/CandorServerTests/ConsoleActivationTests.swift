import CandorCore
import CandorMail
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's activation pages in-process: the rule editor's live check (count, error position,
/// CSRF, roles), saving segments, creating offers and campaigns through the forms with errors inline
/// and nothing saved, and a campaign's preview, test send and schedule behind the purpose gate.
/// (The browser walk is tests/python/test_console_activation.py.)
@Suite("Console activation pages")
struct ConsoleActivationTests {
    typealias Browser = ConsoleTests.Browser

    struct Env: Sendable {
        let store: CandorStore
        let keys: DemoWorkspace.Keys
        let api: API
        let sink: SMTPSinkServer

        func browser(_ team: String) async throws -> Browser {
            let browser = Browser(api)
            let reply = try await browser.signIn("\(team)@example.com", ConsoleTests.password)
            #expect(reply.status == .seeOther, "sign-in of \(team)")
            return browser
        }

        /// Row counts of the tables the activation forms write.
        func footprint() async throws -> [String: Int64] {
            var out = [String: Int64]()
            for table in ["segments", "offers", "campaigns"] { out[table] = try await store.count(table) }
            return out
        }
    }

    /// A fresh store with the demo registry, an operator for each demo team plus one of a team holding
    /// only `audit`, and newsletters going to an in-process SMTP sink.
    static func run(_ body: @Sendable (Env) async throws -> Void) async throws {
        _ = CandorMetrics.registry
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-console-act-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sink = try await SMTPSinkServer.start()
        var config = ServerConfig()
        config.dataDirectory = directory.path
        config.checkpointIntervalSeconds = 0
        config.publicBaseURL = "https://candor.example"
        config.newsletters.from = "news@shop.example"
        let pool = SMTPConnectionPool(configuration: SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .none), size: 1)
        config.newsletters.transport = pool
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(database: try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path),
                                          secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
        do {
            let keys = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["https://shop.example"])
            _ = try await store.saveTeam(TeamInput(key: "auditors", name: "Auditors", purposes: [], roles: ["audit"]), replace: false, by: nil)
            for team in ["it", "marketing", "sales", "auditors"] {
                _ = try await OperatorPasswords.createOperator(store, email: "\(team)@example.com", name: "\(team.capitalized) Operator", team: team,
                                                               password: ConsoleTests.password, cost: 4)
            }
            let app = Application(router: buildRouter(config: config, store: store, resources: try await Resources.load()))
            try await app.test(.router) { client in try await body(Env(store: store, keys: keys, api: API(client: client), sink: sink)) }
        } catch {
            await sink.stop()
            try? await store.database.close()
            throw error
        }
        await pool.shutdown()
        await sink.stop()
        try await store.database.close()
    }

    /// A person with an address, an external id, declared interests and newsletter consent.
    static func person(_ env: Env, email: String, externalId: String, interests: [String], consent: Bool = true) async throws -> String {
        let created = try await env.api.post("/v1/subjects", key: env.keys.marketing, body: try JSON.text(["email": email, "external_id": externalId]))
        #expect(created.status == .created, "\(created.text)")
        let id = try #require(try created.object()["id"] as? String)
        let notices = env.store.registry.purposes.compactMapValues(\.currentNoticeVersion)
        let declared = try await env.api.post("/v1/subjects/\(id)/declarations", key: env.keys.marketing, body: try JSON.text([
            "values": [["field": "interests", "value": interests]], "notices": ["newsletter": notices["newsletter"]!, "offers": notices["offers"]!, "research": notices["research"]!],
        ]))
        #expect(declared.status == .created, "\(declared.text)")
        if consent {
            let granted = try await env.api.post("/v1/subjects/\(id)/consents", key: env.keys.marketing, body: try JSON.text([
                "consents": [["purpose": "newsletter", "status": "granted", "method": "checkbox", "notice_version": notices["newsletter"]!]],
            ]))
            #expect(granted.status == .created, "\(granted.text)")
        }
        return id
    }

    /// A JSON object from a reply.
    static func object(_ reply: Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any], "\(reply.text)")
    }

    // MARK: - Segments

    @Test("The live check answers the index's count, or the parser's line and column; it needs the session's CSRF token and the admin role")
    func liveCheck() async throws {
        try await Self.run { env in
            for (index, interests) in [["running"], ["running", "yoga"], ["yoga"]].enumerated() {
                _ = try await Self.person(env, email: "p\(index)@example.com", externalId: "cus_\(index)", interests: interests)
            }
            let it = try await env.browser("it")
            let csrf = try await it.csrf("/console/segments/new")

            let running = try await it.send(.post, "/console/segments/check", form: ["csrf": csrf, "rule": #"interests has "running""#])
            #expect(running.status == .ok)
            #expect(running.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(try Self.object(running)["count"] as? Int == 2)
            #expect(try await env.store.countSegment(rule: #"interests has "running""#) == 2, "the same number as POST /v1/segments/count")
            let yoga = try await it.send(.post, "/console/segments/check", form: ["csrf": csrf, "rule": #"interests has "yoga" and consent("newsletter")"#])
            #expect(try Self.object(yoga)["count"] as? Int == 2)

            // A syntax error on the second line: the position is the parser's, not a guess
            let broken = try await it.send(.post, "/console/segments/check", form: ["csrf": csrf, "rule": "interests has \"running\"\n  and set(shoe_size"])
            let error = try #require(try Self.object(broken)["error"] as? [String: Any])
            #expect(error["line"] as? Int == 2)
            #expect(error["column"] as? Int == 20)
            #expect((error["message"] as? String)?.contains("expected") == true)
            let unknown = try await it.send(.post, "/console/segments/check", form: ["csrf": csrf, "rule": #"colour = "red""#])
            let unknownError = try #require(try Self.object(unknown)["error"] as? [String: Any])
            #expect(unknownError["line"] as? Int == 1 && unknownError["column"] as? Int == 1)

            // Without the token, or with another session's, the check is refused like any form
            let missing = try await it.send(.post, "/console/segments/check", form: ["rule": #"interests has "running""#])
            #expect(missing.status == .forbidden)
            #expect(!missing.text.contains("\"count\""))
            let marketing = try await env.browser("marketing")
            let foreign = try await marketing.send(.post, "/console/segments/check", form: ["csrf": csrf, "rule": #"interests has "running""#])
            #expect(foreign.status == .forbidden)
            // A team without admin gets 403 with its own valid token
            let own = try await marketing.csrf("/console/campaigns")
            let refused = try await marketing.send(.post, "/console/segments/check", form: ["csrf": own, "rule": #"interests has "running""#])
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("admin"))
            // And a signed-out caller is told the session ended
            let anonymous = Browser(env.api)
            #expect(try await anonymous.send(.post, "/console/segments/check", form: ["csrf": csrf, "rule": "x"]).status == .unauthorized)
        }
    }

    @Test("Without JavaScript, Check shows the count, or the error with a caret under the wrong character; an invalid rule is not saved")
    func checkAndSave() async throws {
        try await Self.run { env in
            _ = try await Self.person(env, email: "runner@example.com", externalId: "cus_r", interests: ["running"])
            let it = try await env.browser("it")
            let csrf = try await it.csrf("/console/segments/new")
            let counted = try await it.send(.post, "/console/segments/new", form: ["csrf": csrf, "action": "check", "name": "", "rule": #"interests has "running""#])
            #expect(counted.status == .ok)
            #expect(counted.text.contains("1 people match now."))
            #expect(!counted.text.contains("aria-invalid=\"true\""))

            let before = try await env.footprint()
            let rule = #"interests has "running" and shoe_size > "big""#
            let checked = try await it.send(.post, "/console/segments/new", form: ["csrf": csrf, "action": "check", "name": "Big", "rule": rule])
            #expect(checked.status == .ok)
            let position = try #require(checked.text.firstMatch(of: /Line 1, column (\d+): ([^<]+)</))
            let column = try #require(Int(position.1))
            #expect(column == 41, "the column of \"big\"")
            // The caret line: 40 spaces then ^, under the character the parser names
            #expect(checked.text.contains("<span class=\"act-caret\">" + String(repeating: " ", count: column - 1) + "^</span>"))
            #expect(checked.text.contains("id=\"rule\"") && checked.text.contains("aria-invalid=\"true\""))
            #expect(checked.text.contains("aria-describedby=\"rule-hint rule-status\""))

            let saved = try await it.send(.post, "/console/segments/new", form: ["csrf": csrf, "action": "save", "name": "Big", "rule": rule])
            #expect(saved.status == .unprocessableContent)
            #expect(saved.text.contains("Line 1, column 41"))
            #expect(saved.text.contains("value=\"Big\""), "the form keeps what was typed")
            #expect(try await env.footprint() == before, "nothing was saved")

            let good = try await it.send(.post, "/console/segments/new", form: ["csrf": csrf, "action": "save", "name": "Runners", "rule": #"interests has "running""#])
            #expect(good.status == .seeOther)
            let location = try #require(good.header("Location"))
            #expect(location.hasPrefix("/console/segments/seg_") && location.hasSuffix("?done=saved"))
            let page = try await it.send(.get, location)
            #expect(page.status == .ok)
            #expect(page.text.contains("Segment saved.") && page.text.contains("Runners"))
            #expect(page.text.contains("<dd class=\"act-big\" id=\"segment-count\">1</dd>"))
            #expect(page.text.contains("<script src=\"/static/console-activation.js\" defer></script>"))
            let list = try await it.send(.get, "/console/segments")
            #expect(list.text.contains("Runners") && list.text.contains("interests has &quot;running&quot;"))

            // The same name twice: 409 next to the name, nothing written
            let count = try await env.store.count("segments")
            let twice = try await it.send(.post, "/console/segments/new", form: ["csrf": csrf, "action": "save", "name": "Runners", "rule": #"interests has "yoga""#])
            #expect(twice.status == .conflict)
            #expect(twice.text.contains("id=\"segment-name-error\"") && twice.text.contains("Another segment already has this name."))
            #expect(try await env.store.count("segments") == count)

            // In Hebrew: a Hebrew lead before the parser's English detail
            let hebrew = try await it.send(.post, "/console/segments/new?lang=he", form: ["csrf": csrf, "action": "check", "name": "", "rule": "interests has"])
            #expect(hebrew.text.contains("dir=\"rtl\"") && hebrew.text.contains("שורה 1, עמודה 14"))
            // The script is served, same origin
            let script = try await it.send(.get, "/static/console-activation.js")
            #expect(script.status == .ok && script.text.contains("getAttribute(\"data-check\")"))
        }
    }

    @Test("Teams without admin get 403 on segments and offers")
    func adminOnly() async throws {
        try await Self.run { env in
            let marketing = try await env.browser("marketing")
            for path in ["/console/segments", "/console/segments/new", "/console/offers", "/console/offers/new"] {
                let reply = try await marketing.send(.get, path)
                #expect(reply.status == .forbidden, "\(path)")
                #expect(reply.text.contains("Marketing") && reply.text.contains("admin"))
            }
            let csrf = try await marketing.csrf("/console/campaigns")
            let before = try await env.footprint()
            #expect(try await marketing.send(.post, "/console/segments/new", form: ["csrf": csrf, "action": "save", "name": "X", "rule": "set(interests)"]).status == .forbidden)
            #expect(try await marketing.send(.post, "/console/offers/new", form: ["csrf": csrf, "name": "X", "placements": "onsite", "content.en.title": "X"]).status == .forbidden)
            #expect(try await env.footprint() == before)
        }
    }

    // MARK: - Offers

    @Test("An offer is created and changed through the forms; bad input comes back next to its field and saves nothing")
    func createOffer() async throws {
        try await Self.run { env in
            let it = try await env.browser("it")
            guard case .fresh(let segment) = try await env.store.createSegment(SegmentInput(name: "Runners", rule: #"interests has "running""#),
                                                                               by: env.store.authenticate(env.keys.admin)!) else { Issue.record("no segment"); return }
            let form = try await it.send(.get, "/console/offers/new")
            #expect(form.status == .ok)
            let csrf = try #require(form.text.firstMatch(of: /name="csrf" value="([^"]+)"/)).1

            let before = try await env.footprint()
            // A segment without a purpose, and a cap that is not a number
            var fields = ["csrf": String(csrf), "name": "Trail week", "placements": "onsite", "content.en.title": "Trail week: 20% off", "content.en.body": "For runners.",
                          "segment_id": segment.id, "purpose": "", "priority": "5", "cap_per_person": "two"]
            let notNumber = try await it.send(.post, "/console/offers/new", form: fields)
            #expect(notNumber.status == .unprocessableContent)
            #expect(notNumber.text.contains("id=\"f-cap-per-person-error\"") && notNumber.text.contains("Enter a whole number."))
            fields["cap_per_person"] = "1"
            let noPurpose = try await it.send(.post, "/console/offers/new", form: fields)
            #expect(noPurpose.status == .unprocessableContent)
            #expect(noPurpose.text.contains("id=\"f-purpose-error\"") && noPurpose.text.contains("An offer with a segment is personalized: choose the purpose it uses data for."))
            #expect(noPurpose.text.contains("aria-describedby=\"f-purpose-hint f-purpose-error\" aria-invalid=\"true\""))
            #expect(noPurpose.text.contains("value=\"Trail week: 20% off\""), "what was typed stays")
            // A validity that ends before it starts
            fields["purpose"] = "offers"
            fields["valid_from"] = "2030-01-02T10:00"
            fields["valid_until"] = "2030-01-01T10:00"
            let backwards = try await it.send(.post, "/console/offers/new", form: fields)
            #expect(backwards.status == .unprocessableContent)
            #expect(backwards.text.contains("id=\"f-valid-until-error\"") && backwards.text.contains("Must be after “valid from”."))
            #expect(try await env.footprint() == before, "nothing was saved")

            fields["valid_from"] = "2020-01-01T00:00"
            fields["valid_until"] = "2099-01-01T00:00"
            let created = try await it.send(.post, "/console/offers/new", form: fields)
            #expect(created.status == .seeOther)
            #expect(created.header("Location") == "/console/offers?done=created")
            let offer = try #require(try await env.store.offers().first { $0.name == "Trail week" })
            #expect(offer.placements == ["onsite"] && offer.segmentId == segment.id && offer.purpose == "offers")
            #expect(offer.capPerPerson == 1 && offer.priority == 5 && offer.validFrom == "2020-01-01T00:00:00Z")
            #expect(offer.content["en"]?.title == "Trail week: 20% off" && offer.content["he"] == nil)
            let audit = try await env.store.auditLog(AuditQuery(action: "offer.create"), cursor: nil, limit: 10).data
            #expect(audit.count == 1 && audit[0].actor.hasPrefix("op_"), "created as the operator")

            let catalog = try await it.send(.get, "/console/offers?done=created")
            #expect(catalog.text.contains("Offer created.") && catalog.text.contains("Trail week: 20% off") && catalog.text.contains("Runners"))
            #expect(catalog.text.contains("id=\"placement-onsite\""))

            // Changing it: the form opens with its values, bad input changes nothing, a save changes it in place.
            let offerId = try #require(offer.id)
            #expect(catalog.text.contains("href=\"/console/offers/\(offerId)/edit\""))
            let edit = try await it.send(.get, "/console/offers/\(offerId)/edit")
            #expect(edit.status == .ok && edit.text.contains("value=\"Trail week: 20% off\"") && edit.text.contains("value=\"2099-01-01T00:00\""))
            fields["placements"] = "billboard"
            let refused = try await it.send(.post, "/console/offers/\(offerId)/edit", form: fields)
            #expect(refused.status == .unprocessableContent)
            #expect(try await env.store.offer(offerId) == offer, "nothing changed")
            fields["placements"] = "newsletter"
            fields["content.en.title"] = "Trail week: 25% off"
            let saved = try await it.send(.post, "/console/offers/\(offerId)/edit", form: fields)
            #expect(saved.status == .seeOther && saved.header("Location") == "/console/offers?done=updated")
            let changed = try await env.store.offer(offerId)
            #expect(changed.placements == ["newsletter"] && changed.content["en"]?.title == "Trail week: 25% off" && changed.createdAt == offer.createdAt)
            #expect(try await env.store.offers().count(where: { $0.name == "Trail week" }) == 1, "changed in place, not copied")
            #expect(try await env.store.auditLog(AuditQuery(action: "offer.update"), cursor: nil, limit: 10).data.count == 1)
            #expect(try await it.send(.get, "/console/offers?done=updated").text.contains("Offer saved"))
        }
    }

    // MARK: - Campaigns

    static func campaignForm(_ csrf: String, segmentId: String, html: String) -> [String: String] {
        [
            "csrf": csrf, "name": "Spring picks", "purpose": "newsletter", "segment_id": segmentId, "interest_field": "interests", "default_locale": "en",
            "content.en.subject": "Spring picks for you", "content.en.text": "{{#blocks}}* {{title}}: {{body}}\n{{/blocks}}", "content.en.html": html,
            "fallback.en.title": "Our news", "fallback.en.body": "A bit of everything",
            "blocks[0].key": "run", "blocks[0].interests": "running", "blocks[0].content.en.title": "Trail shoes", "blocks[0].content.en.body": "Grip and comfort",
            "blocks[1].key": "yoga", "blocks[1].interests": "yoga, hiking", "blocks[1].content.en.title": "Yoga mats", "blocks[1].content.en.body": "Soft",
        ]
    }

    @Test("A campaign made in the form, previewed for one person (audited, for its purpose), test-sent and scheduled")
    func campaignWalkThrough() async throws {
        try await Self.run { env in
            let person = try await Self.person(env, email: "dana@example.com", externalId: "cus_dana", interests: ["running"])
            _ = try await Self.person(env, email: "nocons@example.com", externalId: "cus_nc", interests: ["yoga"], consent: false)
            guard case .fresh(let segment) = try await env.store.createSegment(SegmentInput(name: "Everyone declared", rule: "set(interests)"),
                                                                               by: env.store.authenticate(env.keys.admin)!) else { Issue.record("no segment"); return }
            let marketing = try await env.browser("marketing")
            let form = try await marketing.send(.get, "/console/campaigns/new")
            #expect(form.status == .ok && form.text.contains("Everyone declared"))
            let csrf = String(try #require(form.text.firstMatch(of: /name="csrf" value="([^"]+)"/)).1)

            // An invalid template is shown next to its field; nothing is saved
            let before = try await env.footprint()
            let bad = try await marketing.send(.post, "/console/campaigns/new", form: Self.campaignForm(csrf, segmentId: segment.id, html: "<p>{{#blocks}}{{title}}</p>"))
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("id=\"f-content-en-html-error\"") && bad.text.contains("is not a valid Mustache template"))
            // (where and what, not the library's value dump)
            #expect(bad.text.contains("is not a valid Mustache template: line 1, column ") && bad.text.contains("is not closed with"))
            #expect(!bad.text.contains("ParserError"))
            let partial = try await marketing.send(.post, "/console/campaigns/new", form: Self.campaignForm(csrf, segmentId: segment.id, html: "{{> /etc/passwd}}"))
            #expect(partial.status == .unprocessableContent && partial.text.contains("partials, inheritance"))
            var wrongInterest = Self.campaignForm(csrf, segmentId: segment.id, html: "<p>{{#blocks}}{{title}}{{/blocks}}</p>")
            wrongInterest["blocks[1].interests"] = "yoga, knitting"
            let interest = try await marketing.send(.post, "/console/campaigns/new", form: wrongInterest)
            #expect(interest.status == .unprocessableContent)
            #expect(interest.text.contains("id=\"f-blocks-1--interests-error\""))
            #expect(interest.text.contains("knitting") && interest.text.contains("is not an option of"))
            #expect(try await env.footprint() == before)

            let created = try await marketing.send(.post, "/console/campaigns/new",
                                                   form: Self.campaignForm(csrf, segmentId: segment.id, html: "<html><body>{{#blocks}}<h2>{{title}}</h2><p>{{body}}</p>{{/blocks}}</body></html>"))
            #expect(created.status == .seeOther, "\(created.text)")
            let location = try #require(created.header("Location"))
            let id = try #require(location.firstMatch(of: /\/console\/campaigns\/(cmp_[^?]+)\?done=created/)).1
            let campaign = try await env.store.campaign(String(id), by: nil)
            #expect(campaign.blocks.map(\.interests) == [["running"], ["yoga", "hiking"]] && campaign.content.keys.sorted() == ["en"])

            let list = try await marketing.send(.get, "/console/campaigns")
            #expect(list.text.contains("Spring picks") && list.text.contains("Draft"))

            // Preview for one person, found by e-mail as on the People page
            let preview = try await marketing.send(.post, "/console/campaigns/\(id)/preview", form: ["csrf": csrf, "query": "dana@example.com", "locale": ""])
            #expect(preview.status == .ok)
            #expect(preview.text.contains("Spring picks for you") && preview.text.contains("dana@example.com"))
            #expect(preview.text.contains("* Trail shoes: Grip and comfort"), "the block chosen by what Dana declared")
            #expect(preview.text.contains("Blocks chosen by what they declared: Trail shoes"))
            #expect(!preview.text.contains("Yoga mats"))
            #expect(preview.text.contains("/console/campaigns/\(id)/preview/\(person)?locale=en"))
            let audit = try await env.store.auditLog(AuditQuery(action: "campaign.preview"), cursor: nil, limit: 10).data
            #expect(audit.count == 1 && audit[0].subjectId == person && audit[0].purpose == "newsletter" && audit[0].actor.hasPrefix("op_"))
            // The HTML part as its own sandboxed, console-framed document
            let frame = try await marketing.send(.get, "/console/campaigns/\(id)/preview/\(person)?locale=en")
            #expect(frame.status == .ok && frame.text.contains("<h2>Trail shoes</h2>"))
            let policy = try #require(frame.header("Content-Security-Policy"))
            #expect(policy.contains("sandbox") && policy.contains("frame-ancestors 'self'") && !policy.contains("script-src"))
            // A person without consent: would not receive it, and nothing of theirs is shown
            let skipped = try await marketing.send(.post, "/console/campaigns/\(id)/preview", form: ["csrf": csrf, "query": "cus_nc", "locale": ""])
            #expect(skipped.text.contains("This person would not receive the campaign: no consent for the purpose."))
            #expect(!skipped.text.contains("nocons@example.com"))
            let nobody = try await marketing.send(.post, "/console/campaigns/\(id)/preview", form: ["csrf": csrf, "query": "cus_nobody", "locale": ""])
            #expect(nobody.status == .notFound && nobody.text.contains("Nobody matches"))

            // Test send to the SMTP sink
            let badAddress = try await marketing.send(.post, "/console/campaigns/\(id)/test-send", form: ["csrf": csrf, "to": "not an address", "locale": "en"])
            #expect(badAddress.status == .unprocessableContent && badAddress.text.contains("id=\"test-to-error\""))
            let sent = try await marketing.send(.post, "/console/campaigns/\(id)/test-send", form: ["csrf": csrf, "to": "qa@shop.example", "locale": "en"])
            #expect(sent.status == .seeOther && sent.header("Location") == "/console/campaigns/\(id)?done=testSent")
            #expect(env.sink.messages.contains { $0.recipients == ["qa@shop.example"] && $0.data.contains("[TEST]") })

            // Schedule: an unreadable time is refused inline; a real one schedules
            let noTime = try await marketing.send(.post, "/console/campaigns/\(id)/schedule", form: ["csrf": csrf, "send_at": "tomorrow"])
            #expect(noTime.status == .unprocessableContent && noTime.text.contains("id=\"send-at-error\""))
            #expect(try await env.store.campaign(String(id), by: nil).status == .draft)
            let scheduled = try await marketing.send(.post, "/console/campaigns/\(id)/schedule", form: ["csrf": csrf, "send_at": "2099-06-01T09:30"])
            #expect(scheduled.status == .seeOther)
            let after = try await env.store.campaign(String(id), by: nil)
            #expect(after.status == .scheduled && after.scheduledAt?.hasPrefix("2099-06-01T09:30") == true)
            let page = try await marketing.send(.get, "/console/campaigns/\(id)?done=scheduled")
            #expect(page.text.contains("Campaign scheduled.") && page.text.contains("value=\"2099-06-01T09:30\""))
        }
    }

    @Test("A team lacking the campaign's purpose gets a 403 naming it, and reads nothing; a team without read or write cannot open campaigns")
    func purposeRefusal() async throws {
        try await Self.run { env in
            _ = try await Self.person(env, email: "dana@example.com", externalId: "cus_dana", interests: ["running"])
            guard case .fresh(let segment) = try await env.store.createSegment(SegmentInput(name: "All", rule: "set(interests)"), by: env.store.authenticate(env.keys.admin)!),
                  case .fresh(let campaign) = try await env.store.createCampaign(
                      CampaignInput(name: "News", purpose: "newsletter", segmentId: segment.id, interestField: "interests", defaultLocale: "en",
                                    content: ["en": CampaignContent(subject: "Hi", text: "{{#blocks}}{{title}}{{/blocks}}", html: "<p>{{#blocks}}{{title}}{{/blocks}}</p>")],
                                    blocks: [], fallback: ["en": CampaignBlockText(title: "News", body: "All")]),
                      by: env.store.authenticate(env.keys.marketing)!)
            else { Issue.record("setup"); return }
            // IT holds read and write, but not the newsletter purpose
            let it = try await env.browser("it")
            #expect(!(try await it.send(.get, "/console/campaigns")).text.contains("/console/campaigns/\(campaign.id)"))
            let page = try await it.send(.get, "/console/campaigns/\(campaign.id)")
            #expect(page.status == .forbidden)
            #expect(page.text.contains("Team IT may not use personal data for the purpose"))
            let csrf = try await it.csrf("/console/campaigns")
            let preview = try await it.send(.post, "/console/campaigns/\(campaign.id)/preview", form: ["csrf": csrf, "query": "dana@example.com", "locale": ""])
            #expect(preview.status == .forbidden && !preview.text.contains("dana@example.com"))
            #expect(try await it.send(.get, "/console/campaigns/\(campaign.id)/preview/sub_x").status == .forbidden)
            #expect(try await it.send(.post, "/console/campaigns/\(campaign.id)/schedule", form: ["csrf": csrf, "send_at": "2099-01-01T00:00"]).status == .forbidden)
            #expect(try await env.store.auditLog(AuditQuery(action: "campaign.preview"), cursor: nil, limit: 10).data.isEmpty)
            #expect(try await env.store.campaign(campaign.id, by: nil).status == .draft)

            // Sales may read campaigns but not write: no create form, no test send
            let sales = try await env.browser("sales")
            #expect(try await sales.send(.get, "/console/campaigns").status == .ok)
            #expect(try await sales.send(.get, "/console/campaigns/new").status == .forbidden)
            // A team with neither read nor write
            let auditors = try await env.browser("auditors")
            let refused = try await auditors.send(.get, "/console/campaigns")
            #expect(refused.status == .forbidden && refused.text.contains("read / write"))
        }
    }
}
