import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The embed script and what it talks to (issue 3 item 4, issue 5 item 6):
///
/// - `/embed.js`, `/embed.css`: the script and its stylesheet, public and cacheable;
/// - `/e/v1/…`: the browser's endpoints, authenticated by a publishable key from an allowed `Origin`,
///   with CORS for those origins only, small bodies, and rate limits per visitor and per client address;
/// - `/v1/prompts…` and `/v1/keys/{id}/identity-secret`: the admin side.
///
/// Every targeting rule is evaluated here on the server; the script only reports what happened on the
/// page and shows what it is told to.
struct EmbedRoutes {
    let store: CandorStore
    let resources: Resources
    let config: ServerConfig
    let catalog = PromptCatalog()
    /// Visitors' prompt state for a few seconds: the signals of one visit cost one database read.
    let states = PromptStateCache()
    /// Prompt views as JSON, per prompt version, notices and locale.
    let views = PromptViewCache()
    let limiter = EmbedRateLimiter()

    /// Embed requests are tiny; anything bigger is refused before it is read.
    static let maxBodyBytes = 8 * 1024

    var support: RouteSupport { RouteSupport(store: store, maxBodyBytes: Self.maxBodyBytes) }
    var cooldownMillis: Int64 { Int64(config.promptCooldownSeconds) * 1000 }

    func add(pages router: Router<CandorRequestContext>, api: RouterGroup<CandorRequestContext>) {
        addStatic(router)
        addAdmin(api)
        let browser = router.group("e/v1").add(middleware: EmbedGate(store: store, limiter: limiter, ipLimit: config.embedIPLimit))
        addBrowser(browser)
        if config.demoShop { DemoShop(store: store, resources: resources, config: config).add(to: router) }
    }

    // MARK: - Static files

    static let files: (script: String, style: String) = {
        let root = Bundle.module.url(forResource: "Resources", withExtension: nil)
        func read(_ name: String) -> String {
            root.flatMap { try? String(contentsOf: $0.appendingPathComponent("static/\(name)"), encoding: .utf8) } ?? ""
        }
        return (read("embed.js"), read("embed.css"))
    }()

    func addStatic(_ router: Router<CandorRequestContext>) {
        router.get("embed.js") { _, _ in Self.asset(Self.files.script, type: "text/javascript; charset=utf-8") }
        router.get("embed.css") { _, _ in Self.asset(Self.files.style, type: "text/css; charset=utf-8") }
    }

    /// A public asset any site may load: cached for five minutes (so a fix reaches every page soon),
    /// readable cross-origin.
    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=300"
        headers[.accessControlAllowOrigin] = "*"
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "cross-origin"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - Admin

    struct List<Item: Codable & Sendable>: Codable, Sendable {
        var data: [Item]
    }

    struct IdentitySecretView: Codable {
        var keyId: String
        var identitySecret: String
        var algorithm: String

        enum CodingKeys: String, CodingKey {
            case algorithm
            case keyId = "key_id"
            case identitySecret = "identity_secret"
        }
    }

    func addAdmin(_ api: RouterGroup<CandorRequestContext>) {
        api.post("prompts") { request, context in
            let principal = try support.principal(context, .write)
            let (input, _) = try await RouteSupport(store: store, maxBodyBytes: config.maxBodyBytes).decode(Prompt.self, from: request)
            let prompt = try await store.createPrompt(input, by: principal)
            catalog.invalidate()
            return try support.json(prompt, status: .created)
        }
        api.get("prompts") { _, context in
            _ = try support.principal(context, .write)
            return try support.json(List(data: try await store.prompts()))
        }
        api.get("prompts/:id") { _, context in
            _ = try support.principal(context, .write)
            return try support.json(try await knownPrompt(context))
        }
        api.put("prompts/:id") { request, context in
            let principal = try support.principal(context, .write)
            let (input, _) = try await RouteSupport(store: store, maxBodyBytes: config.maxBodyBytes).decode(Prompt.self, from: request)
            _ = try await knownPrompt(context)
            guard let prompt = try await store.updatePrompt(try support.parameter(context, "id"), input, by: principal) else { throw notFound(context) }
            catalog.invalidate()
            return try support.json(prompt)
        }
        for (action, status) in [("activate", PromptStatus.active), ("pause", PromptStatus.paused)] {
            api.post(RouterPath("prompts/:id/\(action)")) { _, context in
                let principal = try support.principal(context, .write)
                guard let prompt = try await store.setPromptStatus(try support.parameter(context, "id"), status, by: principal) else { throw notFound(context) }
                catalog.invalidate()
                return try support.json(prompt)
            }
        }
        // One person's prompt history: a read of personal data like the other `/v1/subjects/{id}/…`
        // reads — the read role, a purpose the team holds, audited.
        api.get("subjects/:id/prompts") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            return try support.json(try await store.personPromptHistory(subjectId: try support.parameter(context, "id"), purpose: purpose, by: principal))
        }
        // The secret a business signs its users' ids with, for one publishable key (derived, never stored).
        api.get("keys/:id/identity-secret") { _, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            guard let key = store.registry.keysById[id], key.revokedAt == nil else { throw CandorError(.notFound, "no live key '\(id)'") }
            guard key.kind == .publishable else {
                throw Problem.field(.unprocessableContent, .validation, field: "id", "identity secrets belong to publishable keys; this is a secret key")
            }
            try await store.auditIdentitySecretRead(keyId: id, by: principal)
            return try support.json(IdentitySecretView(keyId: id, identitySecret: Digest.hex(store.identitySecret(keyId: id)), algorithm: "HMAC-SHA256"))
        }
    }

    func knownPrompt(_ context: CandorRequestContext) async throws -> Prompt {
        guard let prompt = try await store.prompt(try support.parameter(context, "id")) else { throw notFound(context) }
        return prompt
    }

    func notFound(_ context: CandorRequestContext) -> CandorError {
        CandorError(.notFound, "no prompt '\(context.parameters.get("id") ?? "")'")
    }

    // MARK: - The browser's endpoints

    struct VisitorInput: Codable {
        var visitor: String
    }

    struct VisitorView: Codable {
        var visitor: String
    }

    struct IdentifyInput: Codable {
        var visitor: String
        var id: String
        var signature: String
    }

    struct IdentifiedView: Codable {
        var visitor: String
        var identified: Bool
    }

    struct SignalInput: Codable {
        var visitor: String
        var url: String
        var event: String?
        var scroll: Int?
        var dwell: Int?
        var exitIntent: Bool?
        var locale: String?

        enum CodingKeys: String, CodingKey {
            case visitor, url, event, scroll, dwell, locale
            case exitIntent = "exit_intent"
        }

        /// The signal from a flat body, or nil when a member is missing or of another type than
        /// JSONDecoder would accept (it is then asked, and names the member).
        init?(flat: [String: FlatJSON.Value]) {
            guard let visitor = flat.string(CodingKeys.visitor.rawValue), let url = flat.string(CodingKeys.url.rawValue),
                  case .some(let event) = flat.optional(CodingKeys.event.rawValue, \.text),
                  case .some(let scroll) = flat.optional(CodingKeys.scroll.rawValue, \.integer),
                  case .some(let dwell) = flat.optional(CodingKeys.dwell.rawValue, \.integer),
                  case .some(let exitIntent) = flat.optional(CodingKeys.exitIntent.rawValue, \.boolean),
                  case .some(let locale) = flat.optional(CodingKeys.locale.rawValue, \.text)
            else { return nil }
            self.init(visitor: visitor, url: url, event: event, scroll: scroll, dwell: dwell, exitIntent: exitIntent, locale: locale)
        }

        init(visitor: String, url: String, event: String? = nil, scroll: Int? = nil, dwell: Int? = nil, exitIntent: Bool? = nil, locale: String? = nil) {
            self.visitor = visitor
            self.url = url
            self.event = event
            self.scroll = scroll
            self.dwell = dwell
            self.exitIntent = exitIntent
            self.locale = locale
        }
    }

    struct DismissInput: Codable {
        var visitor: String
        var dontAskAgain: Bool?

        enum CodingKeys: String, CodingKey {
            case visitor
            case dontAskAgain = "dont_ask_again"
        }
    }

    struct AnswerInput: Codable {
        var visitor: String
        var value: JSONValue
        var notices: [String: Int]
    }

    struct OffersInput: Codable {
        var visitor: String
        var url: String?
        var locale: String?
        var limit: Int?
    }

    struct OutcomeBody: Codable {
        var visitor: String
        var type: String
        var offerId: String?

        enum CodingKeys: String, CodingKey {
            case visitor, type
            case offerId = "offer_id"
        }
    }

    struct Recorded: Codable {
        var recorded: Bool
    }

    func addBrowser(_ group: RouterGroup<CandorRequestContext>) {
        // Preflights: EmbedGate answers them for allowed origins; this only gives them a route to reach it.
        for path in ["visitors", "identify", "decide", "track", "dont-ask", "prompts/:id/display", "prompts/:id/dismiss", "prompts/:id/answer",
                     "offers", "decisions/:id/outcomes"] {
            group.on(RouterPath(path), method: .options) { _, _ in Response(status: .noContent) }
        }
        group.post("visitors") { request, context in
            let principal = try principal(context)
            _ = try? await request.body.collect(upTo: Self.maxBodyBytes)
            return try support.json(VisitorView(visitor: try await store.createVisitor(keyId: principal.key.id)), status: .created)
        }
        group.post("identify") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(IdentifyInput.self, from: request)
            _ = try await visitor(input.visitor, principal, request)
            if input.id.isEmpty || input.id.count > 200 { throw CandorError.invalid("id", "must be 1 to 200 characters") }
            // A forged or malformed signature is refused the same way, before anything is written.
            guard store.verifyIdentity(keyId: principal.key.id, externalId: input.id, signature: input.signature) else {
                throw Problem.field(.forbidden, .forbidden, field: "signature", "is not the HMAC-SHA256 of this id under the key's identity secret")
            }
            let subjectId = try await store.identifyVisitor(visitorId: input.visitor, keyId: principal.key.id, externalId: input.id, by: principal)
            states.forget(keyId: principal.key.id, visitorId: input.visitor)
            try await honourGPC(request, subjectId: subjectId, principal)
            return try support.json(IdentifiedView(visitor: input.visitor, identified: true))
        }
        group.post("decide") { request, context in
            let principal = try principal(context)
            return try await decide(try await signal(request), principal, request)
        }
        group.post("track") { request, context in
            let principal = try principal(context)
            let input = try await signal(request)
            guard input.event != nil else { throw CandorError.invalid("event", "is required") }
            return try await decide(input, principal, request)
        }
        group.post("dont-ask") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(VisitorInput.self, from: request)
            _ = try await visitor(input.visitor, principal, request)
            try await store.setDontAsk(visitorId: input.visitor, keyId: principal.key.id)
            states.forget(keyId: principal.key.id, visitorId: input.visitor)
            return try support.json(Recorded(recorded: true))
        }
        group.post("prompts/:id/display") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(VisitorInput.self, from: request)
            _ = try await visitor(input.visitor, principal, request)
            try await store.recordPromptDisplay(visitorId: input.visitor, keyId: principal.key.id, promptId: try support.parameter(context, "id"), dismissal: false)
            states.forget(keyId: principal.key.id, visitorId: input.visitor)
            return try support.json(Recorded(recorded: true))
        }
        group.post("prompts/:id/dismiss") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(DismissInput.self, from: request)
            _ = try await visitor(input.visitor, principal, request)
            try await store.recordPromptDisplay(visitorId: input.visitor, keyId: principal.key.id, promptId: try support.parameter(context, "id"), dismissal: true)
            if input.dontAskAgain == true { try await store.setDontAsk(visitorId: input.visitor, keyId: principal.key.id) }
            states.forget(keyId: principal.key.id, visitorId: input.visitor)
            return try support.json(Recorded(recorded: true))
        }
        group.post("prompts/:id/answer") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(AnswerInput.self, from: request)
            _ = try await visitor(input.visitor, principal, request)
            let receipt = try await store.answerPrompt(visitorId: input.visitor, keyId: principal.key.id, promptId: try support.parameter(context, "id"),
                                                       value: input.value, notices: input.notices, by: principal)
            states.forget(keyId: principal.key.id, visitorId: input.visitor)
            return try support.json(AnswerView(receipt), status: .created)
        }
        group.post("offers") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(OffersInput.self, from: request)
            let visitor = try await visitor(input.visitor, principal, request)
            return try support.json(try await offers(input, visitor, principal))
        }
        group.post("decisions/:id/outcomes") { request, context in
            let principal = try principal(context)
            let (input, _) = try await support.decode(OutcomeBody.self, from: request)
            let visitor = try await visitor(input.visitor, principal, request)
            guard ["impression", "click"].contains(input.type) else { throw CandorError.invalid("type", "the browser reports impression or click") }
            let decisionId = try support.parameter(context, "id")
            // Only the person a decision was made for may report on it.
            guard let subjectId = visitor.subjectId, try await store.decisionSubject(decisionId) == subjectId else {
                throw CandorError(.notFound, "no decision '\(decisionId)' for this visitor")
            }
            return try support.json(try await store.recordOutcome(decisionId: decisionId, OutcomeInput(embedType: input.type, offerId: input.offerId), by: principal), status: .created)
        }
    }

    /// A page signal's body: the usual small flat object is read directly (`FlatJSON`), anything else
    /// by JSONDecoder, which also names what is wrong with a bad one.
    func signal(_ request: Request) async throws -> SignalInput {
        let body = try await support.jsonBody(request)
        if let flat = FlatJSON.parse(body), let input = SignalInput(flat: flat) { return input }
        return try support.decode(SignalInput.self, from: body)
    }

    func principal(_ context: CandorRequestContext) throws -> Principal {
        guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
        return principal
    }

    /// The visitor of a request: well formed, within its rate limit, issued for this key. A known person
    /// sending `Sec-GPC: 1` is recorded as opting out of sale and sharing.
    func visitor(_ id: String, _ principal: Principal, _ request: Request, admitted: Bool = false) async throws -> PromptVisitor {
        if !admitted { try admit(id) }
        let visitor = try await store.visitor(id, keyId: principal.key.id)
        if let subjectId = visitor.subjectId { try await honourGPC(request, subjectId: subjectId, principal) }
        return visitor
    }

    /// A well-formed visitor id within its rate limit.
    func admit(_ id: String) throws {
        guard CandorStore.isVisitorId(id) else { throw CandorError.invalid("visitor", "is not a visitor id this server issued") }
        guard limiter.allow("v:" + id, limit: config.embedVisitorLimit, now: store.currentMillis) else { throw EmbedGate.tooMany("visitor") }
    }

    func honourGPC(_ request: Request, subjectId: String, _ principal: Principal) async throws {
        guard request.headers[.secGPC] == "1", try await !store.subject(subjectId).hasOptedOutOfSale else { return }
        _ = try await store.optOutOfSale(subjectId: subjectId, method: .gpc, by: principal)
    }

    // MARK: - The page-view decision

    struct NoticeView: Codable, Sendable {
        var purpose: String
        var version: Int
        var title: String
        var why: String
        var benefit: String
    }

    struct OptionView: Codable, Sendable {
        var value: String
        var label: String
    }

    struct PromptView: Codable, Sendable {
        var id: String
        var field: String
        var type: String
        var question: String
        /// The lead above the question, in the prompt's locale (plain text; the script never renders HTML).
        var intro: String?
        var options: [OptionView]?
        var minimum: Double?
        var maximum: Double?
        var maxLength: Int?
        var notices: [NoticeView]
        var delaySeconds: Int
        var locale: String
        var dir: String
        var strings: [String: String]

        enum CodingKeys: String, CodingKey {
            case id, field, type, question, intro, options, minimum, maximum, notices, locale, dir, strings
            case maxLength = "max_length"
            case delaySeconds = "delay_seconds"
        }
    }

    struct DecisionView: Codable, Sendable {
        var prompt: PromptView?
        var watch: PromptWatch
    }

    func decide(_ input: SignalInput, _ principal: Principal, _ request: Request) async throws -> Response {
        var errors = [FieldError]()
        if input.url.isEmpty || input.url.count > 2000 { errors.append(FieldError("url", "must be 1 to 2000 characters")) }
        if let event = input.event, !PromptRules.isEventName(event) { errors.append(FieldError("event", "must be 1 to 64 characters of letters, digits, '_', '-' and '.'")) }
        if let scroll = input.scroll, !(0...100).contains(scroll) { errors.append(FieldError("scroll", "must be 0 to 100")) }
        if let dwell = input.dwell, !(0...86_400).contains(dwell) { errors.append(FieldError("dwell", "must be 0 to 86400 seconds")) }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
        // The decision reads the visitor itself (an unknown one is a 404 there), so the page view costs
        // one read transaction; only a GPC signal needs the visitor's person first.
        try admit(input.visitor)
        if request.headers[.secGPC] == "1" { _ = try await visitor(input.visitor, principal, request, admitted: true) }
        let signal = PromptSignal(url: input.url, event: input.event, scrollPercent: input.scroll, dwellSeconds: input.dwell, exitIntent: input.exitIntent ?? false)
        let decision = try await store.decidePrompt(visitorId: input.visitor, keyId: principal.key.id, signal: signal,
                                                    prompts: try await catalog.prompts(store), cooldownMillis: cooldownMillis, cache: states)
        let locale = EmbedStrings.locale(input.locale)
        // The answer is written by hand from parts that never need escaping (numbers, validated event
        // names) and a prompt view encoded once per prompt version and locale: JSONEncoder would cost
        // more than the whole decision. `DecisionView` is the shape it has.
        var body = "{"
        if let offer = decision.offer { body += "\"prompt\":" + (try views.encoded(offer, locale: locale) { try CandorJSON.string(view(offer, locale: locale)) }) + "," }
        let watch = decision.watch
        body += "\"watch\":{\"dwell\":[\(watch.dwell.map(String.init).joined(separator: ","))],"
            + "\"events\":[\(watch.events.map { "\"\($0)\"" }.joined(separator: ","))],"
            + "\"exit_intent\":\(watch.exitIntent),\"scroll\":[\(watch.scroll.map(String.init).joined(separator: ","))]}}"
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    func view(_ offer: PromptOffer, locale: String) -> PromptView {
        let field = offer.field
        var options: [OptionView]?
        if let keys = field.options {
            options = keys.map { OptionView(value: $0, label: field.label(ofOption: $0, locale: locale).capitalizedFirst) }
        }
        let notices = offer.notices.keys.sorted().compactMap { purpose -> NoticeView? in
            guard let notice = offer.notices[purpose], let text = notice.texts[locale] ?? notice.texts["en"] else { return nil }
            return NoticeView(purpose: purpose, version: notice.version, title: text.title, why: text.why, benefit: text.benefit)
        }
        return PromptView(
            id: offer.prompt.id ?? "", field: field.key, type: field.type.rawValue, question: offer.prompt.question(locale: locale, field: field),
            intro: offer.prompt.intro(locale: locale, field: field), options: options, minimum: field.minimum, maximum: field.maximum, maxLength: field.maxLength, notices: notices,
            delaySeconds: offer.prompt.delaySeconds ?? 0, locale: locale, dir: locale == "he" ? "rtl" : "ltr", strings: EmbedStrings.of(locale))
    }

    struct AnswerView: Codable, Sendable {
        var declarationId: String
        var recordedAt: String
        var field: String
        var notices: [String: Int]

        enum CodingKeys: String, CodingKey {
            case field, notices
            case declarationId = "declaration_id"
            case recordedAt = "recorded_at"
        }

        init(_ receipt: DeclarationReceipt) {
            declarationId = receipt.declarationId
            recordedAt = receipt.recordedAt
            field = receipt.values.first?.field ?? ""
            notices = receipt.values.first?.notices ?? [:]
        }
    }

    // MARK: - Onsite offers

    struct OfferView: Codable, Sendable {
        var offerId: String
        var title: String
        var body: String
        var personalized: Bool
        var why: [String]

        enum CodingKeys: String, CodingKey {
            case title, body, personalized, why
            case offerId = "offer_id"
        }
    }

    struct OffersView: Codable, Sendable {
        var decisionId: String?
        var offers: [OfferView]
        var preferencesUrl: String?
        var locale: String
        var dir: String
        var strings: [String: String]

        enum CodingKeys: String, CodingKey {
            case offers, locale, dir, strings
            case decisionId = "decision_id"
            case preferencesUrl = "preferences_url"
        }
    }

    /// The onsite offers of the identified person behind a visitor, from the store's own decide, each
    /// with its explanation in plain words and a signed link to the person's preference center.
    /// Anonymous visitors get none: an offer chosen for nobody in particular belongs in the page itself.
    func offers(_ input: OffersInput, _ visitor: PromptVisitor, _ principal: Principal) async throws -> OffersView {
        let locale = EmbedStrings.locale(input.locale)
        if let limit = input.limit, !(1...5).contains(limit) { throw CandorError.invalid("limit", "must be 1 to 5") }
        if let url = input.url, url.count > 2000 { throw CandorError.invalid("url", "must be at most 2000 characters") }
        let strings = EmbedStrings.of(locale)
        guard let subjectId = visitor.subjectId else {
            return OffersView(decisionId: nil, offers: [], preferencesUrl: nil, locale: locale, dir: locale == "he" ? "rtl" : "ltr", strings: strings)
        }
        let decision = try await store.decide(DecideInput(visitorSubject: subjectId, page: input.url, locale: locale, limit: input.limit ?? 3), by: principal)
        let registry = store.registry
        let token = store.subjectLinks.issue(subjectId: subjectId, purpose: PreferenceCenter.linkPurpose, now: store.currentMillis, lifetimeMillis: PreferenceCenter.linkLifetime)
        return OffersView(
            decisionId: decision.decisionId,
            offers: decision.offers.map {
                OfferView(offerId: $0.offerId, title: $0.title, body: $0.body, personalized: $0.because != nil,
                          why: EmbedStrings.explanation($0.because, locale: locale, registry: registry))
            },
            preferencesUrl: "\(config.baseURL)/p/\(token)?lang=\(locale)", locale: locale, dir: locale == "he" ? "rtl" : "ltr", strings: strings)
    }
}

extension String {
    /// The text with its first character upper-cased (an option key shown as a label).
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}

/// Guards `/e/v1`: a live publishable key in `Authorization`, sent from an `Origin` on that key's
/// allow-list; CORS answers for allowed origins only (preflights included); a per-client-address rate
/// limit. Errors are answered here, with CORS headers, so the page's script can read them.
struct EmbedGate: RouterMiddleware {
    typealias Context = CandorRequestContext
    let store: CandorStore
    let limiter: EmbedRateLimiter
    let ipLimit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin].map(Self.normalize)
        var allowedOrigin: String?
        var response = try await ProblemMiddleware<Context>().handle(request, context: context) { request, context in
            guard let origin, !origin.isEmpty else {
                throw Problem.field(.forbidden, .forbidden, field: "Origin", "publishable keys work only from a web page on one of the key's origins")
            }
            if request.method == .options {
                guard isAllowedAnywhere(origin) else { throw Problem.field(.forbidden, .forbidden, field: "Origin", "origin '\(origin)' is not on any publishable key's allow-list") }
                allowedOrigin = origin
                var headers = HTTPFields()
                headers[.accessControlAllowMethods] = "POST, GET, OPTIONS"
                headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
                headers[.accessControlMaxAge] = "600"
                return Response(status: .noContent, headers: headers)
            }
            guard let header = request.headers[.authorization] else {
                throw Problem.field(.unauthorized, .unauthorized, field: "Authorization", "send 'Authorization: Bearer cnd_pk_…'")
            }
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", let principal = store.authenticate(String(parts[1])) else {
                await store.recordFailedAuthentication(presented: parts.count == 2 ? String(parts[1]) : nil)
                throw Problem.field(.unauthorized, .unauthorized, field: "Authorization", "the key is malformed, unknown or revoked")
            }
            guard principal.key.kind == .publishable else {
                throw Problem.field(.forbidden, .forbidden, field: "Authorization", "a secret key must never be sent from a browser: use the publishable key")
            }
            guard principal.key.origins.contains(where: { Self.normalize($0) == origin }) else {
                throw Problem.field(.forbidden, .forbidden, field: "Origin", "origin '\(origin)' is not on this key's allow-list")
            }
            allowedOrigin = origin
            if let ip = context.remoteIP, !limiter.allow("ip:" + ip, limit: ipLimit, now: store.currentMillis) { throw Self.tooMany("client") }
            var context = context
            context.principal = principal
            return try await next(request, context)
        }
        // A refusal still carries CORS when the origin is on some live key's list, so that the page's
        // script can read why (looked up only then: an accepted request's origin is its key's).
        if allowedOrigin == nil, let origin, !origin.isEmpty, isAllowedAnywhere(origin) { allowedOrigin = origin }
        if let allowedOrigin {
            response.headers[.accessControlAllowOrigin] = allowedOrigin
            response.headers[.vary] = "Origin"
        }
        return response
    }

    /// Origins compare without a trailing slash and case-insensitively (scheme and host are).
    static func normalize(_ origin: String) -> String {
        // Most origins are already in this form (browsers send them so): checked on the bytes, without
        // Foundation, because this runs on every embed request.
        let bytes = origin.utf8
        if let last = bytes.last, last != UInt8(ascii: "/"),
           bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) {
            return origin
        }
        var text = origin.trimmingCharacters(in: .whitespaces).lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    func isAllowedAnywhere(_ origin: String) -> Bool {
        store.registry.keysById.values.contains { key in
            key.kind == .publishable && key.revokedAt == nil && key.origins.contains { Self.normalize($0) == origin }
        }
    }

    /// 429, naming what was limited (the visitor or the client address).
    static func tooMany(_ field: String) -> Problem {
        Problem(status: .tooManyRequests, kind: "rate-limited", title: "Too many requests",
                detail: "\(field): too many requests in the last minute; try again shortly", errors: [FieldError(field, "too many requests in the last minute")])
    }
}

/// Counts requests per key in fixed one-minute windows, in this node's memory. The embed's endpoints
/// are called on every page view, so the count is O(1) per request (the portal's sliding-hour limiter
/// keeps every timestamp, which suits a few requests an hour, not hundreds a minute).
final class EmbedRateLimiter: Sendable {
    /// Counts per key for the current and the previous minute.
    private let window = LockedBox<(minute: Int64, current: [String: Int], previous: [String: Int])>((0, [:], [:]))

    /// Counts a request and says whether it is within `limit` per minute. A sliding window: the previous
    /// minute's count weighs in by how much of it still lies within the last 60 seconds, so a burst
    /// across a minute boundary cannot pass twice the limit (as a fixed window lets it).
    func allow(_ key: String, limit: Int, now: Int64) -> Bool {
        window.withLock { state in
            let minute = now / 60_000
            if state.minute != minute {
                state = (minute, [:], minute == state.minute + 1 ? state.current : [:])
            }
            let elapsed = Double(now % 60_000) / 60_000
            let estimate = Double(state.previous[key, default: 0]) * (1 - elapsed) + Double(state.current[key, default: 0])
            guard estimate < Double(limit) else { return false }
            state.current[key, default: 0] += 1
            return true
        }
    }
}

/// Encoded prompt views, so a page view that shows a prompt does not run JSONEncoder. Keyed by prompt
/// id, its last change, the notice versions shown and the locale: any change makes a new entry.
final class PromptViewCache: Sendable {
    private let entries = LockedBox([String: String]())

    func encoded(_ offer: PromptOffer, locale: String, encode: () throws -> String) throws -> String {
        let notices = offer.notices.keys.sorted().map { "\($0)=\(offer.notices[$0]?.version ?? 0)" }.joined(separator: ",")
        let key = "\(offer.prompt.id ?? "")|\(offer.prompt.updatedAt ?? "")|\(notices)|\(locale)"
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let text = try encode()
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[key] = text
        }
        return text
    }
}
