import CandorCore
import CandorMail
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Campaigns over HTTP with a real SMTP conversation: an in-process sink server on loopback.
@Suite struct CampaignHTTPTests {
    struct Env: Sendable {
        let store: CandorStore
        let keys: DemoWorkspace.Keys
        let api: API
        let sink: SMTPSinkServer
        let job: @Sendable () async throws -> Void
    }

    static func run(rejecting: Set<String> = [], _ body: @Sendable (Env) async throws -> Void) async throws {
        _ = CandorMetrics.registry
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-mail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.rejectedRecipients = rejecting
        let sink = try await SMTPSinkServer.start(behaviour)
        var config = ServerConfig()
        config.dataDirectory = directory.path
        config.checkpointIntervalSeconds = 0
        config.publicBaseURL = "https://candor.example"
        config.newsletters.from = "news@shop.example"
        config.newsletters.messagesPerSecond = 1000
        let pool = SMTPConnectionPool(configuration: SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .none), size: 2)
        config.newsletters.transport = pool
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(database: try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path),
                                          secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
        let keys = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["https://shop.example"])
        let resources = try await Resources.load()
        let app = Application(router: buildRouter(config: config, store: store, resources: resources))
        let frozen = config
        let job: @Sendable () async throws -> Void = {
            try await store.catchUpSegmentIndex()
            try await CampaignSendJobRunner.runOnce(store: store, config: frozen)
        }
        do {
            try await app.test(.router) { client in
                try await body(Env(store: store, keys: keys, api: API(client: client), sink: sink, job: job))
            }
        } catch {
            await sink.stop()
            try? await store.database.close()
            throw error
        }
        await pool.shutdown()
        await sink.stop()
        try await store.database.close()
    }

    static func campaignBody(segmentId: String, purpose: String = "newsletter", html: String = "<html><body>{{#blocks}}<h2>{{title}}</h2><p>{{body}}</p>{{/blocks}}</body></html>") -> [String: Any] {
        [
            "name": "Spring", "purpose": purpose, "segment_id": segmentId, "interest_field": "interests", "default_locale": "en",
            "content": [
                "en": ["subject": "Spring picks", "text": "{{#blocks}}* {{title}}: {{body}}\n{{/blocks}}", "html": html],
                "he": ["subject": "המבחר של האביב", "text": "{{#blocks}}* {{title}}: {{body}}\n{{/blocks}}", "html": html],
            ],
            "blocks": [
                ["key": "run", "interests": ["running"], "content": ["en": ["title": "Trail shoes", "body": "Grip & comfort"], "he": ["title": "נעלי שטח", "body": "אחיזה"]]],
                ["key": "yoga", "interests": ["yoga"], "content": ["en": ["title": "Yoga mats", "body": "Soft"], "he": ["title": "מזרני יוגה", "body": "רכים"]]],
            ],
            "fallback": ["en": ["title": "Our news", "body": "A bit of everything"], "he": ["title": "החדשות שלנו", "body": "מכל דבר קצת"]],
        ]
    }

    func person(_ env: Env, email: String, interests: [String]?, consent: Bool) async throws -> String {
        let created = try await env.api.post("/v1/subjects", key: env.keys.marketing, body: try JSON.text(["email": email]))
        #expect(created.status == .created, "\(created.text)")
        let id = try #require(try created.object()["id"] as? String)
        let notices = env.store.registry.purposes.compactMapValues(\.currentNoticeVersion)
        if let interests {
            let reply = try await env.api.post("/v1/subjects/\(id)/declarations", key: env.keys.marketing, body: try JSON.text([
                "values": [["field": "interests", "value": interests]], "notices": ["newsletter": notices["newsletter"]!, "offers": notices["offers"]!, "research": notices["research"]!],
            ]))
            #expect(reply.status == .created, "\(reply.text)")
        }
        if consent {
            let reply = try await env.api.post("/v1/subjects/\(id)/consents", key: env.keys.marketing, body: try JSON.text([
                "consents": [["purpose": "newsletter", "status": "granted", "method": "checkbox", "notice_version": notices["newsletter"]!]],
            ]))
            #expect(reply.status == .created, "\(reply.text)")
        }
        return id
    }

    func segment(_ env: Env, rule: String = #"consent("newsletter") or interests has "tennis""#) async throws -> String {
        let reply = try await env.api.post("/v1/segments", key: env.keys.admin, body: try JSON.text(["name": "Readers", "rule": rule]))
        #expect(reply.status == .created, "\(reply.text)")
        return try #require(try reply.object()["id"] as? String)
    }

    func createCampaign(_ env: Env, segmentId: String) async throws -> String {
        let reply = try await env.api.post("/v1/campaigns", key: env.keys.marketing, body: try JSON.text(Self.campaignBody(segmentId: segmentId)))
        #expect(reply.status == .created, "\(reply.text)")
        return try #require(try reply.object()["id"] as? String)
    }

    @Test func campaignIsPersonalizedSentAndUnsubscribable() async throws {
        try await Self.run { env in
            let runner = try await person(env, email: "runner@example.org", interests: ["running", "hiking"], consent: true)
            _ = try await person(env, email: "nobody@example.org", interests: nil, consent: true)
            _ = try await person(env, email: "silent@example.org", interests: ["tennis"], consent: false)
            let id = try await createCampaign(env, segmentId: try await segment(env))

            let list = try await env.api.get("/v1/campaigns", key: env.keys.marketing)
            #expect((try list.object()["data"] as? [[String: Any]])?.count == 1)
            let sales = try await env.api.get("/v1/campaigns/\(id)", key: env.keys.sales)
            try sales.expectProblem(.notFound)

            let preview = try await env.api.post("/v1/campaigns/\(id)/preview", key: env.keys.marketing, body: try JSON.text(["subject_id": runner]))
            #expect(preview.status == .ok, "\(preview.text)")
            let shown = try preview.object()
            #expect(shown["would_send"] as? Bool == true)
            #expect(shown["blocks"] as? [String] == ["run"])
            #expect(shown["declared_values"] as? [String] == ["running"])

            let scheduled = try await env.api.post("/v1/campaigns/\(id)/schedule", key: env.keys.marketing, body: #"{"send_at":"2020-01-01T00:00:00Z"}"#)
            #expect(scheduled.status == .ok, "\(scheduled.text)")
            #expect(try scheduled.object()["status"] as? String == "scheduled")
            try await env.job()

            let messages = env.sink.messages
            #expect(messages.map { $0.recipients }.sorted { $0[0] < $1[0] } == [["nobody@example.org"], ["runner@example.org"]])
            // Soft line breaks of quoted-printable removed, so sentences read whole.
            let runnerMail = try #require(messages.first { $0.recipients == ["runner@example.org"] }?.data).replacingOccurrences(of: "=\r\n", with: "")
            #expect(runnerMail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
            #expect(runnerMail.contains("Trail shoes") && !runnerMail.contains("Yoga mats") && !runnerMail.contains("Our news"))
            #expect(runnerMail.contains("You receive this because you told us you are interested in Running") || runnerMail.contains("interested in running"))
            #expect(!runnerMail.lowercased().contains("<img"), "no tracking pixels")
            let nobodyMail = try #require(messages.first { $0.recipients == ["nobody@example.org"] }?.data).replacingOccurrences(of: "=\r\n", with: "")
            #expect(nobodyMail.contains("Our news") && !nobodyMail.contains("Trail shoes"))

            let done = try await env.api.get("/v1/campaigns/\(id)", key: env.keys.marketing)
            let campaign = try done.object()
            #expect(campaign["status"] as? String == "completed")
            #expect((campaign["stats"] as? [String: Any])?["sent"] as? Int == 2)

            // The unsubscribe link of the runner's mail.
            let header = try #require(runnerMail.components(separatedBy: "\r\n").first { $0.hasPrefix("List-Unsubscribe: ") })
            let url = String(header.dropFirst("List-Unsubscribe: <".count).dropLast())
            let path = String(url.dropFirst("https://candor.example".count))
            let page = try await env.api.get(path)
            #expect(page.status == .ok)
            #expect(page.text.contains("name=\"csrf\"") && page.text.contains("Newsletter"))
            #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            let hebrew = try await env.api.get(path + "?lang=he")
            #expect(hebrew.text.contains("dir=\"rtl\""))

            let before = try await env.store.count("ledger_entries")
            let wrong = try await env.api.post(path, key: nil, body: "List-Unsubscribe=Yes", contentType: "application/x-www-form-urlencoded")
            try wrong.expectProblem(.badRequest, field: "body")
            let tampered = try await env.api.post(String(path.dropLast(2)) + "AA", key: nil, body: "List-Unsubscribe=One-Click", contentType: "application/x-www-form-urlencoded")
            try tampered.expectProblem(.notFound, field: "token")
            #expect(try await env.store.count("ledger_entries") == before, "refused unsubscribes write nothing")

            let oneClick = try await env.api.post(path, key: nil, body: "List-Unsubscribe=One-Click", contentType: "application/x-www-form-urlencoded")
            #expect(oneClick.status == .ok)
            #expect(oneClick.header("Location") == nil, "never a redirect")
            let consents = try await env.api.get("/v1/subjects/\(runner)/consents", key: env.keys.marketing, purpose: "newsletter")
            #expect(consents.text.contains("\"method\":\"unsubscribe\""), "\(consents.text)")
            #expect(consents.text.contains("\"status\":\"withdrawn\""))
        }
    }

    @Test func consentWithdrawnAfterSchedulingMeansNoMail() async throws {
        try await Self.run { env in
            let changesMind = try await person(env, email: "mind@example.org", interests: ["yoga"], consent: true)
            let id = try await createCampaign(env, segmentId: try await segment(env, rule: #"interests has "yoga""#))
            _ = try await env.api.post("/v1/campaigns/\(id)/schedule", key: env.keys.marketing, body: #"{"send_at":"2020-01-01T00:00:00Z"}"#)
            let notices = env.store.registry.purposes.compactMapValues(\.currentNoticeVersion)
            _ = notices
            let withdraw = try await env.api.post("/v1/subjects/\(changesMind)/consents", key: env.keys.marketing, body: try JSON.text([
                "consents": [["purpose": "newsletter", "status": "withdrawn", "method": "checkbox"]],
            ]))
            #expect(withdraw.status == .created)
            try await env.job()
            #expect(env.sink.messages.isEmpty)
            let campaign = try await env.api.get("/v1/campaigns/\(id)", key: env.keys.marketing).object()
            #expect(campaign["status"] as? String == "completed")
            #expect((campaign["note"] as? String)?.contains("no e-mail sent") == true)
            #expect(((campaign["stats"] as? [String: Any])?["skipped_reasons"] as? [String: Any])?["consent_withdrawn"] as? Int == 1)
        }
    }

    @Test func rejectedRecipientFailsOnlyTheirMessage() async throws {
        try await Self.run(rejecting: ["gone@example.org"]) { env in
            _ = try await person(env, email: "gone@example.org", interests: ["yoga"], consent: true)
            _ = try await person(env, email: "here@example.org", interests: ["yoga"], consent: true)
            let id = try await createCampaign(env, segmentId: try await segment(env))
            _ = try await env.api.post("/v1/campaigns/\(id)/schedule", key: env.keys.marketing, body: #"{"send_at":"2020-01-01T00:00:00Z"}"#)
            try await env.job()
            #expect(env.sink.messages.map(\.recipients) == [["here@example.org"]])
            let stats = try await env.api.get("/v1/campaigns/\(id)", key: env.keys.marketing).object()["stats"] as? [String: Any]
            #expect(stats?["sent"] as? Int == 1 && stats?["failed"] as? Int == 1)
        }
    }

    @Test func badInputIsRefusedNamingTheField() async throws {
        try await Self.run { env in
            let segmentId = try await segment(env)
            let before = try await env.store.count("campaigns")
            var body = Self.campaignBody(segmentId: segmentId, html: "<p>{{#blocks}}{{title}}</p>")
            var reply = try await env.api.post("/v1/campaigns", key: env.keys.marketing, body: try JSON.text(body))
            try reply.expectProblem(.unprocessableContent, kind: "validation-failed", field: "content.en.html")
            body = Self.campaignBody(segmentId: segmentId, html: "<p>{{> /etc/passwd}}</p>")
            reply = try await env.api.post("/v1/campaigns", key: env.keys.marketing, body: try JSON.text(body))
            try reply.expectProblem(.unprocessableContent, field: "content.en.html")
            reply = try await env.api.post("/v1/campaigns", key: env.keys.marketing, body: try JSON.text(Self.campaignBody(segmentId: "seg_nope")))
            try reply.expectProblem(.unprocessableContent, field: "segment_id")
            reply = try await env.api.post("/v1/campaigns", key: env.keys.marketing, body: try JSON.text(Self.campaignBody(segmentId: segmentId, purpose: "support")))
            try reply.expectProblem(.unprocessableContent, field: "purpose")
            reply = try await env.api.post("/v1/campaigns", key: env.keys.sales, body: try JSON.text(Self.campaignBody(segmentId: segmentId)))
            try reply.expectProblem(.forbidden)
            #expect(try await env.store.count("campaigns") == before)

            let id = try await createCampaign(env, segmentId: segmentId)
            reply = try await env.api.post("/v1/campaigns/\(id)/schedule", key: env.keys.marketing, body: #"{"send_at":"tomorrow"}"#)
            try reply.expectProblem(.unprocessableContent, field: "send_at")
            reply = try await env.api.post("/v1/campaigns/\(id)/test-send", key: env.keys.marketing, body: #"{"to":"not an address"}"#)
            try reply.expectProblem(.unprocessableContent, field: "to")
            reply = try await env.api.post("/v1/campaigns/\(id)/preview", key: env.keys.marketing, body: #"{"subject_id":"sub_missing"}"#)
            try reply.expectProblem(.notFound)
        }
    }

    @Test func rightsLinkMailsGoOverSMTPWhenConfigured() async throws {
        let sink = try await SMTPSinkServer.start()
        var settings = NewsletterSettings()
        settings.from = "privacy@shop.example"
        settings.smtp = SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .none)
        let sender = try #require(SMTPMailSender(settings: settings))
        try await sender.send(MailMessage(to: "dana@example.org", subject: "הקישור שלכם", body: "Open: https://candor.example/rights/x", link: "https://candor.example/rights/x", language: "he"))
        let mail = try #require(sink.messages.first)
        #expect(mail.recipients == ["dana@example.org"] && mail.from == "privacy@shop.example")
        #expect(mail.data.contains("Content-Type: text/plain; charset=utf-8") && mail.data.contains("Subject: =?UTF-8?B?"))
        #expect(SMTPMailSender(settings: NewsletterSettings()) == nil, "no SMTP host, no SMTP sender")
        await sink.stop()
    }

    @Test func testSendCarriesSampleContentAndNoRealLinks() async throws {
        try await Self.run { env in
            let id = try await createCampaign(env, segmentId: try await segment(env))
            let reply = try await env.api.post("/v1/campaigns/\(id)/test-send", key: env.keys.marketing,
                                               body: #"{"to":"editor@shop.example","locale":"he","interests":["yoga"]}"#)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(try reply.object()["delivered"] as? Bool == true)
            let mail = try #require(env.sink.messages.first)
            #expect(mail.recipients == ["editor@shop.example"])
            #expect(mail.data.contains("Subject: =?UTF-8?B?"))
            #expect(mail.data.contains("/unsubscribe/test>"))
        }
    }
}
