import CandorCore
import CandorMail
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import ServiceLifecycle

/// Renders a campaign for one person: only the blocks matching what they declared (the fallback
/// otherwise), and a footer that says which declared values chose the content, with their
/// preference-center and unsubscribe links. No tracking pixels, no remote images added, ever.
struct CampaignRenderer: Sendable {
    /// What one person receives.
    struct Rendered: Sendable {
        var locale: String
        var subject: String
        var text: String
        var html: String
        var blockKeys: [String]
        var usedValues: [String]
        var usedFallback: Bool
    }

    let campaign: Campaign
    let registry: RegistrySnapshot
    private let templates: [String: (text: MustacheTemplate, html: MustacheTemplate)]

    init(campaign: Campaign, registry: RegistrySnapshot) throws {
        self.campaign = campaign
        self.registry = registry
        var templates = [String: (text: MustacheTemplate, html: MustacheTemplate)]()
        for (locale, content) in campaign.content {
            templates[locale] = (try Self.textTemplate(content.text), try MustacheTemplate(string: content.html))
        }
        self.templates = templates
    }

    /// Plain-text templates render without HTML escaping.
    static func textTemplate(_ source: String) throws -> MustacheTemplate {
        try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
    }

    /// Template problems, each naming its field. Partials, inheritance, pragmas and delimiter changes
    /// are refused: a partial would be read from the server's disk.
    static func templateProblems(_ input: CampaignInput) -> [FieldError] {
        var errors = [FieldError]()
        for (locale, content) in input.content.sorted(by: { $0.key < $1.key }) {
            for (name, source) in [("text", content.text), ("html", content.html)] {
                if let problem = templateProblem(source, field: "content.\(locale).\(name)", isText: name == "text") { errors.append(problem) }
            }
        }
        return errors
    }

    /// The problem of one template source, named `field`, or nil when it is a valid, self-contained
    /// template (automations' e-mail and alert templates are checked here too).
    static func templateProblem(_ source: String, field: String, isText: Bool) -> FieldError? {
        if source.isEmpty || source.utf8.count > 100_000 { return FieldError(field, "must be 1 to 100000 bytes") }
        if source.range(of: #"\{\{\s*[>=<$%]"#, options: .regularExpression) != nil {
            return FieldError(field, "partials, inheritance, pragmas and delimiter changes are not allowed")
        }
        do {
            _ = isText ? try textTemplate(source) : try MustacheTemplate(string: source)
        } catch {
            return FieldError(field, "is not a valid Mustache template: \(error)")
        }
        return nil
    }

    /// The locale a person reads: their declared `language` when the campaign has it, else the default.
    func locale(for values: [String: JSONValue], preferred: String? = nil) -> String {
        if let preferred, campaign.content[preferred] != nil { return preferred }
        if case .string(let declared)? = values["language"], campaign.content[declared] != nil { return declared }
        return campaign.defaultLocale
    }

    func render(interests: [String], locale: String, preferencesURL: String, unsubscribeURL: String) -> Rendered {
        let declared = Set(interests)
        let chosen = campaign.blocks.filter { !declared.isDisjoint(with: $0.interests) }
        let usedFallback = chosen.isEmpty
        let texts: [CampaignBlockText] = usedFallback
            ? [campaign.fallback[locale] ?? campaign.fallback[campaign.defaultLocale]].compactMap { $0 }
            : chosen.compactMap { $0.content[locale] ?? $0.content[campaign.defaultLocale] }
        // Only the declared values that chose a block are named in the footer, in the field's order.
        let matched = Set(chosen.flatMap(\.interests)).intersection(declared)
        let field = registry.fields[campaign.interestField]
        let used = (field?.options ?? Array(declared)).filter { matched.contains($0) }
        let labels = used.map { field?.label(ofOption: $0, locale: locale) ?? $0 }
        let words = NewsletterStrings.of(locale)
        let purposeName = registry.purposes[campaign.purpose].map { $0.names[locale] ?? $0.names["en"] ?? $0.key } ?? campaign.purpose
        let because = labels.isEmpty
            ? words["becauseConsent"]!.replacingOccurrences(of: "{purpose}", with: purposeName)
            : words["becauseValues"]!.replacingOccurrences(of: "{values}", with: labels.joined(separator: words["listSeparator"]!))
                .replacingOccurrences(of: "{purpose}", with: purposeName)
        let context: [String: Any] = [
            "blocks": texts.map { ["title": $0.title, "body": $0.body] },
            "fallback": usedFallback,
            "preferences_url": preferencesURL,
            "unsubscribe_url": unsubscribeURL,
        ]
        let pair = templates[locale] ?? templates[campaign.defaultLocale]!
        let text = pair.text.render(context) + "\n\n-- \n\(because)\n\(words["changeText"]!): \(preferencesURL)\n\(words["unsubscribeText"]!): \(unsubscribeURL)\n"
        let dir = locale == "he" ? "rtl" : "ltr"
        let footer = """
        <hr><footer dir="\(dir)"><p>\(Self.escape(because))</p>\
        <p><a href="\(Self.escape(preferencesURL))">\(Self.escape(words["changeText"]!))</a> · \
        <a href="\(Self.escape(unsubscribeURL))">\(Self.escape(words["unsubscribeText"]!))</a></p></footer>
        """
        var html = pair.html.render(context)
        if let end = html.range(of: "</body>", options: [.caseInsensitive, .backwards]) {
            html.replaceSubrange(end.lowerBound..<end.lowerBound, with: footer + "\n")
        } else {
            html += "\n" + footer + "\n"
        }
        let subject = (campaign.content[locale] ?? campaign.content[campaign.defaultLocale]!).subject
        return Rendered(locale: locale, subject: subject, text: text, html: html, blockKeys: usedFallback ? [] : chosen.map(\.key),
                        usedValues: used, usedFallback: usedFallback)
    }

    /// HTML-escapes text for the footer, in one pass.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// Footer words of newsletters, in English and Hebrew.
enum NewsletterStrings {
    static func of(_ locale: String) -> [String: String] { all[locale] ?? all["en"]! }

    static let all: [String: [String: String]] = [
        "en": [
            "becauseValues": "You receive this because you told us you are interested in {values}, and agreed to {purpose}.",
            "becauseConsent": "You receive this because you agreed to {purpose}. Tell us what interests you and we will send only that.",
            "listSeparator": ", ",
            "changeText": "Change what you told us",
            "unsubscribeText": "Unsubscribe",
        ],
        "he": [
            "becauseValues": "קיבלתם את ההודעה הזו כי סיפרתם לנו שאתם מתעניינים ב{values}, והסכמתם ל{purpose}.",
            "becauseConsent": "קיבלתם את ההודעה הזו כי הסכמתם ל{purpose}. ספרו לנו מה מעניין אתכם ונשלח רק את זה.",
            "listSeparator": ", ",
            "changeText": "לשנות את מה שסיפרתם לנו",
            "unsubscribeText": "להסרה מרשימת התפוצה",
        ],
    ]
}

/// Builds the MIME message of one campaign e-mail, signed when DKIM is configured.
struct CampaignMailer: Sendable {
    let config: ServerConfig
    let links: SubjectLinks
    let store: CandorStore

    /// The preference-center link of a person (the same signed link the preference center issues).
    func preferencesURL(subjectId: String, locale: String) -> String {
        let token = links.issue(subjectId: subjectId, purpose: PreferenceCenter.linkPurpose, now: store.currentMillis, lifetimeMillis: PreferenceCenter.linkLifetime)
        return "\(config.baseURL)/p/\(token)?lang=\(locale)"
    }

    /// The one-click unsubscribe link of a person for a purpose.
    func unsubscribeURL(subjectId: String, purpose: String) -> String {
        "\(config.baseURL)/unsubscribe/\(UnsubscribeRoutes.token(links: links, subjectId: subjectId, purpose: purpose, now: store.currentMillis))"
    }

    func message(_ rendered: CampaignRenderer.Rendered, to: String, unsubscribeURL: String) throws -> MIMEMessage {
        MIMEMessage(from: try MailAddress(config.newsletters.from), to: try MailAddress(to), subject: rendered.subject,
                    text: rendered.text, html: rendered.html, unsubscribeURL: unsubscribeURL)
    }

    func outgoing(_ message: MIMEMessage, id: String) throws -> OutgoingMail {
        try OutgoingMail(id: id, from: message.from.address, recipients: [message.to.address], data: try message.render(signer: config.newsletters.dkim))
    }
}

/// The campaign API: create, list, read, preview for a person, test send, schedule.
struct CampaignRoutes {
    let support: RouteSupport
    let config: ServerConfig
    let transport: (any MailTransport)?

    var store: CandorStore { support.store }
    var mailer: CampaignMailer { CampaignMailer(config: config, links: store.subjectLinks, store: store) }

    struct CampaignList: Codable, Sendable { var data: [Campaign] }

    struct PreviewInput: Codable, Sendable {
        var subjectId: String
        var locale: String?
        enum CodingKeys: String, CodingKey {
            case subjectId = "subject_id"
            case locale
        }
    }

    struct Part: Codable, Sendable {
        var contentType: String
        var body: String
        enum CodingKeys: String, CodingKey {
            case contentType = "content_type"
            case body
        }
    }

    struct Preview: Codable, Sendable {
        var subjectId: String
        var wouldSend: Bool
        var skippedReason: String?
        var locale: String?
        var subject: String?
        var blocks: [String]
        var declaredValues: [String]
        var usedFallback: Bool
        var headers: [String: String]
        var parts: [Part]
        enum CodingKeys: String, CodingKey {
            case subjectId = "subject_id"
            case wouldSend = "would_send"
            case skippedReason = "skipped_reason"
            case locale, subject, blocks, headers, parts
            case declaredValues = "declared_values"
            case usedFallback = "used_fallback"
        }
    }

    struct TestSendInput: Codable, Sendable {
        var to: String
        var locale: String?
        /// Sample interests to pick blocks with: a test send never carries a real person's data or links.
        var interests: [String]?
    }

    struct TestSendResult: Codable, Sendable {
        var delivered: Bool
        var detail: String
        var blocks: [String]
    }

    struct ScheduleInput: Codable, Sendable {
        var sendAt: String
        enum CodingKeys: String, CodingKey { case sendAt = "send_at" }
    }

    /// Registers the campaign API under `/v1` and the public unsubscribe pages.
    static func register(api: RouterGroup<CandorRequestContext>, router: Router<CandorRequestContext>, support: RouteSupport, config: ServerConfig, resources: Resources) {
        CampaignRoutes(support: support, config: config, transport: config.newsletters.makeTransport()).add(to: api)
        UnsubscribeRoutes(store: support.store, portal: PortalRoutes(store: support.store, resources: resources, config: config, support: support), support: support).add(to: router)
    }

    func add(to api: RouterGroup<CandorRequestContext>) {
        api.post("campaigns") { request, context in
            let principal = try support.principal(context, .write)
            let (input, body) = try await support.decode(CampaignInput.self, from: request)
            // Template problems first, then the registry's, reported together; nothing is written.
            var errors = CampaignRenderer.templateProblems(input)
            errors += store.campaignProblems(input, by: principal)
            if !errors.isEmpty { throw CandorError.invalid(errors) }
            let outcome = try await store.createCampaign(input, by: principal, idempotency: try support.idempotency(request, body: body))
            return try support.answer(outcome, status: .created)
        }
        api.get("campaigns") { _, context in
            let principal = try support.principal(context, .read)
            return try support.json(CampaignList(data: try await store.campaigns(by: principal)))
        }
        api.get("campaigns/:id") { _, context in
            let principal = try support.principal(context, .read)
            return try support.json(try await store.campaign(try support.parameter(context, "id"), by: principal))
        }
        api.post("campaigns/:id/preview") { request, context in
            let principal = try support.principal(context, .read)
            let campaign = try await store.campaign(try support.parameter(context, "id"), by: principal)
            let (input, _) = try await support.decode(PreviewInput.self, from: request)
            return try support.json(try await preview(campaign, input, by: principal))
        }
        api.post("campaigns/:id/test-send") { request, context in
            let principal = try support.principal(context, .write)
            let campaign = try await store.campaign(try support.parameter(context, "id"), by: principal)
            let (input, _) = try await support.decode(TestSendInput.self, from: request)
            return try support.json(try await testSend(campaign, input, by: principal))
        }
        api.post("campaigns/:id/schedule") { request, context in
            let principal = try support.principal(context, .write)
            let id = try support.parameter(context, "id")
            _ = try await store.campaign(id, by: principal)
            let (input, _) = try await support.decode(ScheduleInput.self, from: request)
            guard let at = Timestamp.parse(input.sendAt) else { throw CandorError.invalid("send_at", "must be an RFC 3339 time") }
            return try support.json(try await store.scheduleCampaign(id, at: max(at, store.currentMillis), by: principal))
        }
    }

    func preview(_ campaign: Campaign, _ input: PreviewInput, by principal: Principal) async throws -> Preview {
        if let locale = input.locale, campaign.content[locale] == nil { throw CandorError.invalid("locale", "the campaign has no content in '\(locale)'") }
        let check = try await store.campaignRecipientCheck(campaign, subjectId: input.subjectId, by: principal)
        guard case .send(let email, let interests, let values) = check else {
            if case .skip(let reason) = check {
                return Preview(subjectId: input.subjectId, wouldSend: false, skippedReason: reason, blocks: [], declaredValues: [], usedFallback: false, headers: [:], parts: [])
            }
            throw CandorError(.notFound, "no subject")
        }
        let renderer = try CampaignRenderer(campaign: campaign, registry: store.registry)
        let locale = renderer.locale(for: values, preferred: input.locale)
        // The preview shows the shape of the links without issuing live ones.
        let rendered = renderer.render(interests: interests, locale: locale, preferencesURL: "\(config.baseURL)/p/{token}",
                                       unsubscribeURL: "\(config.baseURL)/unsubscribe/{token}")
        let message = try mailer.message(rendered, to: email, unsubscribeURL: "\(config.baseURL)/unsubscribe/{token}")
        var headers = [String: String]()
        for header in try message.headers() { headers[header.name] = header.value }
        return Preview(subjectId: input.subjectId, wouldSend: true, skippedReason: nil, locale: locale, subject: rendered.subject, blocks: rendered.blockKeys,
                       declaredValues: rendered.usedValues, usedFallback: rendered.usedFallback, headers: headers,
                       parts: [Part(contentType: "text/plain; charset=utf-8", body: rendered.text), Part(contentType: "text/html; charset=utf-8", body: rendered.html)])
    }

    func testSend(_ campaign: Campaign, _ input: TestSendInput, by principal: Principal) async throws -> TestSendResult {
        guard MailAddress.isPlainMailbox(input.to) else { throw CandorError.invalid("to", "must be an e-mail address") }
        if let locale = input.locale, campaign.content[locale] == nil { throw CandorError.invalid("locale", "the campaign has no content in '\(locale)'") }
        guard let transport else {
            throw CandorError(.conflict, "no SMTP server is configured", errors: [FieldError("smtp_host", "set smtp_host to send mail")])
        }
        let renderer = try CampaignRenderer(campaign: campaign, registry: store.registry)
        let locale = input.locale ?? campaign.defaultLocale
        let placeholder = "\(config.baseURL)/unsubscribe/test"
        let rendered = renderer.render(interests: input.interests ?? [], locale: locale, preferencesURL: "\(config.baseURL)/p", unsubscribeURL: placeholder)
        var message = try mailer.message(rendered, to: input.to, unsubscribeURL: placeholder)
        message.subject = "[TEST] " + message.subject
        let outcome = await transport.deliver([try mailer.outgoing(message, id: "test")]).first ?? .deferred("not attempted")
        try await store.auditTestSend(campaign: campaign, by: principal, outcome: "\(outcome)")
        switch outcome {
        case .delivered: return TestSendResult(delivered: true, detail: "accepted by the SMTP server", blocks: rendered.blockKeys)
        case .rejected(let reply): return TestSendResult(delivered: false, detail: "refused: \(reply)", blocks: rendered.blockKeys)
        case .deferred(let reason): return TestSendResult(delivered: false, detail: "not sent: \(reason)", blocks: rendered.blockKeys)
        }
    }
}

/// Sends due campaigns: at send time it takes the segment's members, checks each person (consent,
/// restriction, objection, address), renders their message, hands batches to the transport no faster
/// than the configured rate, and records every outcome durably before the next batch.
struct CampaignSendJob: Service {
    let store: CandorStore
    let config: ServerConfig
    let transport: (any MailTransport)?
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await runOnce()
            } catch {
                logger.error("campaign send failed", metadata: ["error.type": "\(type(of: error))"])
            }
            do { try await Task.sleep(for: .milliseconds(Int(max(0.05, config.newsletters.pollSeconds) * 1000))) } catch { return }
        }
    }

    /// Sends everything due now; returns the ids of campaigns it worked on.
    @discardableResult
    func runOnce() async throws -> [String] {
        guard let transport else { return [] }
        let due = try await store.dueCampaignIds()
        for id in due { try await send(id, transport: transport) }
        return due
    }

    private func send(_ id: String, transport: any MailTransport) async throws {
        let campaign = try await store.beginCampaign(id)
        let renderer = try CampaignRenderer(campaign: campaign, registry: store.registry)
        let mailer = CampaignMailer(config: config, links: store.subjectLinks, store: store)
        let rate = max(0.1, config.newsletters.messagesPerSecond)
        let batchSize = max(1, min(200, Int(rate)))
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let claimed = try await store.claimCampaignRecipients(campaign, limit: batchSize)
            if claimed.isEmpty { break }
            var mails = [OutgoingMail]()
            var outcomes = [(subjectId: String, outcome: CampaignRecipientOutcome)]()
            var sentIds = [String]()
            for recipient in claimed {
                guard case .send(let email, let interests, let values) = recipient.check else { continue }
                let locale = renderer.locale(for: values)
                let unsubscribe = mailer.unsubscribeURL(subjectId: recipient.subjectId, purpose: campaign.purpose)
                let rendered = renderer.render(interests: interests, locale: locale,
                                               preferencesURL: mailer.preferencesURL(subjectId: recipient.subjectId, locale: locale), unsubscribeURL: unsubscribe)
                do {
                    mails.append(try mailer.outgoing(try mailer.message(rendered, to: email, unsubscribeURL: unsubscribe), id: recipient.subjectId))
                    sentIds.append(recipient.subjectId)
                } catch {
                    outcomes.append((recipient.subjectId, .failed("invalid_address")))
                }
            }
            let delivered = await transport.deliver(mails)
            for (subjectId, outcome) in zip(sentIds, delivered) {
                switch outcome {
                case .delivered: outcomes.append((subjectId, .sent))
                case .rejected(let reply): outcomes.append((subjectId, .failed("rejected \(reply.code)")))
                case .deferred(let reason): outcomes.append((subjectId, .deferred(reason)))
                }
            }
            try await store.recordCampaignOutcomes(campaign, outcomes)
            // Counts only in the log; never an address.
            logger.info("campaign batch", metadata: ["campaign": "\(campaign.id)", "sent": "\(outcomes.filter { $0.outcome == .sent }.count)", "claimed": "\(claimed.count)"])
            if outcomes.contains(where: { if case .deferred = $0.outcome { true } else { false } }) {
                // The server is in trouble: leave the rest for the next round instead of hammering it.
                break
            }
            let minimum = Duration.milliseconds(Int(Double(mails.count) / rate * 1000))
            let elapsed = ContinuousClock.now - started
            if elapsed < minimum { try await Task.sleep(for: minimum - elapsed) }
        }
        try await store.completeCampaignIfDone(id)
    }
}

/// Runs the campaign send job once, outside the service lifecycle (tests, and `candor` commands).
public enum CampaignSendJobRunner {
    public static func runOnce(store: CandorStore, config: ServerConfig) async throws {
        try await CampaignSendJob(store: store, config: config, transport: config.newsletters.makeTransport(), logger: Logger(label: "candor.campaigns")).runOnce()
    }
}
