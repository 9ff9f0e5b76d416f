import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The demo shop at `/demo/shop` (served by `candor demo` only): a small sports shop that loads the
/// embed script with the demo publishable key, lets a demo customer "sign in" (the page carries the
/// identity signature the shop's server computed, as a real shop's backend would), shows onsite offers
/// in a slot, and triggers the seeded demo prompts: shoe size on the product page after 3 seconds,
/// interests at half-way down the front page, favourite kinds of offers after "add to cart".
struct DemoShop {
    let store: CandorStore
    let resources: Resources
    let config: ServerConfig

    func add(to router: Router<CandorRequestContext>) {
        router.get("demo/shop") { request, _ in try page(request, product: false) }
        router.get("demo/shop/product") { request, _ in try page(request, product: true) }
        router.get("demo/shop.js") { _, _ in EmbedRoutes.asset(Self.files.script, type: "text/javascript; charset=utf-8") }
        router.get("demo/shop.css") { _, _ in EmbedRoutes.asset(Self.files.style, type: "text/css; charset=utf-8") }
    }

    static let files: (script: String, style: String) = {
        let root = Bundle.module.url(forResource: "Resources", withExtension: nil)
        func read(_ name: String) -> String {
            root.flatMap { try? String(contentsOf: $0.appendingPathComponent("static/\(name)"), encoding: .utf8) } ?? ""
        }
        return (read("demo-shop.js"), read("demo-shop.css"))
    }()

    /// The demo's publishable key as `candor demo` saved it, and its id.
    func publishableKey() -> (secret: String, id: String)? {
        let file = URL(fileURLWithPath: config.dataDirectory).appendingPathComponent("demo-keys.json")
        guard let data = try? Data(contentsOf: file), let keys = try? JSONDecoder().decode(DemoWorkspace.Keys.self, from: data),
              let key = store.registry.keysByHash[KeyMaterial.storageHash(keys.publishable)]
        else { return nil }
        return (keys.publishable, key.id)
    }

    /// Demo customer ids: short and plain, so any can be typed into the sign-in box.
    static func isDemoUser(_ text: String) -> Bool {
        (1...40).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    func page(_ request: Request, product: Bool) throws -> Response {
        let language = PageLanguage.choose(request)
        let t = Self.strings[language.code] ?? Self.strings["en"]!
        let query = request.uri.queryParameters
        let user = query.get("user").map { String($0) }.flatMap { Self.isDemoUser($0) ? $0 : nil }
        guard let key = publishableKey() else { throw CandorError(.notFound, "the demo shop needs the workspace made by `candor demo`") }
        let path = product ? "/demo/shop/product" : "/demo/shop"
        func link(_ to: String, lang: String = language.code, user: String? = user) -> String {
            var parts = ["lang=\(lang)"]
            if let user { parts.append("user=\(user)") }
            return to + "?" + parts.joined(separator: "&")
        }
        let context: [String: Any] = [
            "lang": language.code, "dir": language.direction, "t": t, "product": product,
            "key": key.secret, "user": user ?? "", "signedIn": user != nil,
            // What the shop's backend computes for its signed-in customer (docs/embed.md shows it in Python).
            "signature": user.map { store.identitySignature(keyId: key.id, externalId: $0) } ?? "",
            "signedOut": query.get("signout") != nil,
            "homeLink": link("/demo/shop"), "productLink": link("/demo/shop/product"),
            "switchLink": link(path, lang: language.code == "he" ? "en" : "he"), "switchLang": language.code == "he" ? "en" : "he",
            "signOutLink": link(path, user: nil) + "&signout=1", "action": path,
            "users": ["cus_00001", "cus_00002", "cus_00003"].map { id -> [String: Any] in ["id": id, "selected": id == user] },
        ]
        var response = Response.html(resources.templates.render(context, withTemplate: "demo_shop") ?? "")
        // The shop runs the embed: scripts and requests from this origin only, still no inline anything.
        response.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        return response
    }

    static let strings: [String: [String: String]] = [
        "en": [
            "shop": "Trailhead", "tagline": "Running, hiking and yoga gear — picked for what you tell us, nothing else.",
            "home": "Shop", "productNav": "Trail shoe", "switch": "עברית", "signIn": "Sign in as", "signInButton": "Sign in",
            "signOut": "Sign out", "signedInAs": "Signed in as", "demoNote": "A demo shop for Candor. Nothing here is for sale.",
            "heroTitle": "Gear for the way you move", "heroText": "Tell us what you are into and we will show you what fits — you can change or erase it any time.",
            "featured": "Featured", "addToCart": "Add to cart", "added": "Added to your cart.",
            "p1": "Ridge trail shoe", "p1d": "Grippy, light, made for rocky paths.", "p2": "Studio yoga mat", "p2d": "Cork top, natural rubber base.",
            "p3": "Summit day pack", "p3d": "22 litres, rain cover included.", "p4": "Road runner tee", "p4d": "Breathable, recycled fibres.",
            "productTitle": "Ridge trail shoe", "productText": "A light trail shoe with a rock plate and a sticky outsole. Half sizes from EU 36 to 47.",
            "price": "€129", "story": "Our story",
            "storyText": "We are a small shop run by people who run, hike and stretch. We only keep what you tell us, for the reasons we show you when we ask, and you can see, change or erase it on your preferences page.",
            "care": "Care and repairs", "careText": "Send us your worn shoes and we will resole them for half the price of a new pair.",
            "privacy": "Privacy at a glance", "preferences": "Your preferences", "offers": "Offers",
        ],
        "he": [
            "shop": "טרייל־הד", "tagline": "ציוד לריצה, לטיולים וליוגה — נבחר לפי מה שסיפרתם לנו, ותו לא.",
            "home": "חנות", "productNav": "נעל שטח", "switch": "English", "signIn": "התחברות בתור", "signInButton": "התחברות",
            "signOut": "התנתקות", "signedInAs": "מחוברים בתור", "demoNote": "חנות הדגמה של Candor. שום דבר כאן אינו למכירה.",
            "heroTitle": "ציוד שמתאים לדרך שבה אתם זזים", "heroText": "ספרו לנו במה אתם עוסקים ונראה לכם מה שמתאים — אפשר לשנות או למחוק בכל עת.",
            "featured": "מומלצים", "addToCart": "הוספה לסל", "added": "נוסף לסל שלכם.",
            "p1": "נעל שטח רידג'", "p1d": "אחיזה טובה, קלה, לשבילים סלעיים.", "p2": "מזרן יוגה לסטודיו", "p2d": "שכבת שעם, בסיס גומי טבעי.",
            "p3": "תיק יום סאמיט", "p3d": "22 ליטר, כולל כיסוי גשם.", "p4": "חולצת ריצה", "p4d": "נושמת, מסיבים ממוחזרים.",
            "productTitle": "נעל שטח רידג'", "productText": "נעל שטח קלה עם לוח הגנה וסוליה דביקה. חצאי מידות מ־36 עד 47.",
            "price": "‏129 €", "story": "הסיפור שלנו",
            "storyText": "אנחנו חנות קטנה של אנשים שרצים, מטיילים ומתמתחים. אנחנו שומרים רק מה שסיפרתם לנו, מהסיבות שאנחנו מראים כשאנחנו שואלים, ותוכלו לראות, לשנות או למחוק הכול בדף ההעדפות שלכם.",
            "care": "טיפול ותיקונים", "careText": "שלחו לנו את הנעליים השחוקות ונחליף להן סוליה בחצי ממחיר זוג חדש.",
            "privacy": "פרטיות במבט אחד", "preferences": "ההעדפות שלכם", "offers": "הצעות",
        ],
    ]

    // MARK: - Seeding

    /// The demo prompts and onsite offers, made once with the demo workspace.
    static func seed(_ store: CandorStore, keys: DemoWorkspace.Keys) async throws {
        guard try await store.prompts().isEmpty, let admin = store.authenticate(keys.admin), let marketing = store.authenticate(keys.marketing) else { return }
        let shopPages = [PromptURLRule(match: .equals, value: "/demo/shop"), PromptURLRule(match: .glob, value: "/demo/shop?*")]
        let prompts = [
            Prompt(name: "Shoe size on the product page", field: "shoe_size",
                   texts: ["en": PromptText(question: "What is your shoe size (EU)? We will show shoes that fit.",
                                            intro: "One quick question, so that we only show you shoes in your size."),
                           "he": PromptText(question: "מה מידת הנעליים שלכם (אירופית)? נראה לכם נעליים שמתאימות.",
                                            intro: "שאלה אחת קצרה, כדי שנראה לכם רק נעליים במידה שלכם.")],
                   triggers: [PromptTrigger(type: .pageView, url: PromptURLRule(match: .prefix, value: "/demo/shop/product"))],
                   audience: "not set(shoe_size)", frequency: .untilAnswered, delaySeconds: 3, priority: 10, status: .active),
            Prompt(name: "Interests half-way down the shop", field: "interests",
                   texts: ["en": PromptText(question: "What are you into? Pick as many as you like."),
                           "he": PromptText(question: "במה אתם עוסקים? אפשר לבחור כמה שרוצים.")],
                   triggers: shopPages.map { PromptTrigger(type: .scroll, url: $0, percent: 50) },
                   frequency: .upTo, maxDisplays: 2, priority: 5, status: .active),
            Prompt(name: "Offer types after adding to cart", field: "offer_types",
                   texts: ["en": PromptText(question: "Which offers would you like from us?"),
                           "he": PromptText(question: "אילו הצעות הייתם רוצים לקבל מאיתנו?")],
                   triggers: [PromptTrigger(type: .event, event: "added_to_cart")], frequency: .once, priority: 1, status: .active),
        ]
        for prompt in prompts { _ = try await store.createPrompt(prompt, by: admin) }
        guard case .fresh(let runners) = try await store.createSegment(SegmentInput(name: "Shop: runners", rule: #"interests has "running""#), by: admin) else { return }
        let offers: [[String: Any]] = [
            ["name": "Trail running week", "placements": ["onsite"], "segment_id": runners.id, "purpose": "offers", "priority": 10,
             "content": ["en": ["title": "Trail running week: 20% off trail shoes", "body": "Because you run: our trail shoes, this week only."],
                         "he": ["title": "שבוע ריצת שטח: 20% הנחה על נעלי שטח", "body": "כי אתם רצים: נעלי השטח שלנו, רק השבוע."]]],
            ["name": "Free shipping", "placements": ["onsite"], "priority": 1,
             "content": ["en": ["title": "Free shipping over €50", "body": "On every order, for everyone."],
                         "he": ["title": "משלוח חינם מעל 50 €", "body": "על כל הזמנה, לכולם."]]],
        ]
        for offer in offers {
            let input = try JSONDecoder().decode(Offer.self, from: JSONSerialization.data(withJSONObject: offer))
            _ = try await store.createOffer(input, by: marketing.has(.admin) ? marketing : admin)
        }
    }
}

extension DemoWorkspace {
    /// The demo shop's prompts and onsite offers on a store seeded with the demo registry (for tests
    /// and benchmarks that want the shop's catalog without the rest of the demo).
    public static func seedShop(_ store: CandorStore, keys: Keys) async throws {
        try await DemoShop.seed(store, keys: keys)
    }
}
