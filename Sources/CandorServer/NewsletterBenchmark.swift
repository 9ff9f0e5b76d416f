import CandorCore
import CandorMail
import CandorStore
import Foundation
import Mustache

/// `candor bench mail`: personalized MIME rendering against bare Mustache rendering of the same
/// templates in the same run, and SMTP delivery to an in-process sink on loopback.
public enum NewsletterBenchmark {
    public struct Result: Sendable {
        public var people: Int
        public var bareMustachePerSecond: Double
        public var personalizedMIMEPerSecond: Double
        public var smtpMessages: Int
        public var smtpPerSecond: Double
        public var smtpConnections: Int
    }

    static let campaignJSON = """
    {"id": "cmp_bench", "name": "Bench", "purpose": "newsletter", "segment_id": "seg_bench", "interest_field": "interests",
     "default_locale": "en", "status": "sending", "stats": {"pending": 0, "sent": 0, "skipped": 0, "failed": 0, "skipped_reasons": {}},
     "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
     "content": {"en": {"subject": "Spring picks for you", "text": "Hello,\\n\\n{{#blocks}}* {{title}}\\n  {{body}}\\n\\n{{/blocks}}See you soon.",
                        "html": "<!doctype html><html><body><h1>Spring picks</h1>{{#blocks}}<h2>{{title}}</h2><p>{{body}}</p>{{/blocks}}<p>See you soon.</p></body></html>"},
                 "he": {"subject": "המבחר של האביב בשבילכם", "text": "שלום,\\n\\n{{#blocks}}* {{title}}\\n  {{body}}\\n\\n{{/blocks}}להתראות.",
                        "html": "<!doctype html><html dir=\\"rtl\\"><body><h1>המבחר של האביב</h1>{{#blocks}}<h2>{{title}}</h2><p>{{body}}</p>{{/blocks}}</body></html>"}},
     "blocks": [
       {"key": "run", "interests": ["running"], "content": {"en": {"title": "Trail shoes", "body": "Grip and comfort for muddy spring trails, now in wide fits."}, "he": {"title": "נעלי שטח", "body": "אחיזה ונוחות לשבילים בוציים."}}},
       {"key": "yoga", "interests": ["yoga"], "content": {"en": {"title": "Yoga mats", "body": "Soft, non-slip, and made from natural rubber."}, "he": {"title": "מזרני יוגה", "body": "רכים ולא מחליקים."}}},
       {"key": "bike", "interests": ["cycling"], "content": {"en": {"title": "Bike lights", "body": "Be seen on evening rides."}, "he": {"title": "פנסי אופניים", "body": "שיראו אתכם ברכיבת ערב."}}},
       {"key": "hike", "interests": ["hiking"], "content": {"en": {"title": "Day packs", "body": "Light packs with room for a rain jacket."}, "he": {"title": "תיקי יום", "body": "תיקים קלים עם מקום למעיל."}}}
     ],
     "fallback": {"en": {"title": "Our news", "body": "A bit of everything this spring."}, "he": {"title": "החדשות שלנו", "body": "מכל דבר קצת."}}}
    """

    /// Runs both measurements. `directory` holds a scratch SQLite store for the registry.
    public static func run(people: Int, smtpMessages: Int, connections: Int, directory: String) async throws -> Result {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = URL(fileURLWithPath: directory).appendingPathComponent("bench-mail-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(database: try SQLiteDatabase(path: path), secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
        _ = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["https://shop.example"])
        let campaign = try CandorJSON.decode(Campaign.self, from: campaignJSON)
        let renderer = try CampaignRenderer(campaign: campaign, registry: store.registry)
        var config = ServerConfig()
        config.publicBaseURL = "https://shop.example"
        config.newsletters.from = "news@shop.example"
        let mailer = CampaignMailer(config: config, links: store.subjectLinks, store: store)
        let options = ["running", "yoga", "cycling", "hiking", "swimming", "tennis"]
        var generator = SystemRandomNumberGenerator()
        let population: [(id: String, interests: [String], locale: String)] = (0..<people).map { index in
            let count = Int.random(in: 0...3, using: &generator)
            return ("sub_bench\(index)", Array(options.shuffled(using: &generator).prefix(count)), index % 4 == 0 ? "he" : "en")
        }

        // The ceiling: the same templates rendered with the same blocks, nothing else.
        let text = try CampaignRenderer.textTemplate(campaign.content["en"]!.text)
        let html = try MustacheTemplate(string: campaign.content["en"]!.html)
        var sink = 0
        let bareStart = ContinuousClock.now
        for person in population {
            let declared = Set(person.interests)
            let blocks = campaign.blocks.filter { !declared.isDisjoint(with: $0.interests) }.compactMap { $0.content[person.locale] }
            let context: [String: Any] = ["blocks": (blocks.isEmpty ? [campaign.fallback[person.locale]!] : blocks).map { ["title": $0.title, "body": $0.body] }]
            sink &+= text.render(context).utf8.count &+ html.render(context).utf8.count
        }
        let bareSeconds = seconds(ContinuousClock.now - bareStart)

        // Personalized messages: blocks, footer, signed links, MIME with quoted-printable and encoded words.
        let fullStart = ContinuousClock.now
        for person in population {
            let unsubscribe = mailer.unsubscribeURL(subjectId: person.id, purpose: campaign.purpose)
            let rendered = renderer.render(interests: person.interests, locale: person.locale,
                                           preferencesURL: mailer.preferencesURL(subjectId: person.id, locale: person.locale), unsubscribeURL: unsubscribe)
            let message = try mailer.message(rendered, to: "p\(person.id.count)@example.org", unsubscribeURL: unsubscribe)
            sink &+= try message.render().utf8.count
        }
        let fullSeconds = seconds(ContinuousClock.now - fullStart)
        if sink == 42 { print("") }  // keeps the optimizer from dropping the work

        // SMTP to a loopback sink.
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.keepMessages = false
        let server = try await SMTPSinkServer.start(behaviour)
        let pool = SMTPConnectionPool(configuration: SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .none), size: connections)
        let sample = try mailer.message(renderer.render(interests: ["running"], locale: "en", preferencesURL: "https://shop.example/p/x", unsubscribeURL: "https://shop.example/unsubscribe/x"),
                                        to: "reader@example.org", unsubscribeURL: "https://shop.example/unsubscribe/x").render()
        let mails = try (0..<smtpMessages).map { try OutgoingMail(id: "\($0)", from: "news@shop.example", recipients: ["r\($0)@example.org"], data: sample) }
        let smtpStart = ContinuousClock.now
        var delivered = 0
        for batch in stride(from: 0, to: mails.count, by: 1000) {
            let outcomes = await pool.deliver(Array(mails[batch..<min(mails.count, batch + 1000)]))
            delivered += outcomes.filter { if case .delivered = $0 { true } else { false } }.count
        }
        let smtpSeconds = seconds(ContinuousClock.now - smtpStart)
        await pool.shutdown()
        await server.stop()
        try await store.database.close()
        return Result(people: people, bareMustachePerSecond: Double(people) / bareSeconds, personalizedMIMEPerSecond: Double(people) / fullSeconds,
                      smtpMessages: delivered, smtpPerSecond: Double(delivered) / smtpSeconds, smtpConnections: connections)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
