import CandorCore
import CandorStore
import Foundation

/// The demo workspace: four purposes with English and Hebrew notices, six fields, four teams, keys,
/// and synthetic people who declared things and consented (or not). Used by `candor demo`, the
/// benchmarks and the tests, so all of them exercise the same registry.
public enum DemoWorkspace {
    /// The keys `candor demo` hands out, saved to `demo-keys.json`.
    public struct Keys: Codable, Sendable {
        public var admin: String
        public var marketing: String
        public var sales: String
        public var support: String
        public var publishable: String
        /// One console operator per team, with the password printed once by `candor demo` (ConsoleDemo.swift).
        public var operators: [DemoOperator]? = nil
    }

    static func notice(_ enTitle: String, _ enWhy: String, _ enBenefit: String, _ heTitle: String, _ heWhy: String, _ heBenefit: String) -> [String: NoticeText] {
        ["en": NoticeText(title: enTitle, why: enWhy, benefit: enBenefit), "he": NoticeText(title: heTitle, why: heWhy, benefit: heBenefit)]
    }

    /// The demo purposes.
    public static let purposes: [PurposeInput] = [
        PurposeInput(
            key: "newsletter", names: ["en": "Newsletter", "he": "ניוזלטר"], legalBasis: "consent", retentionDays: 730, dpvTerm: "DirectMarketing", isMarketing: true,
            notice: notice("Our newsletter", "We use your interests and preferred frequency to choose what goes into your newsletter.",
                           "Only stories about what you care about, as often as you like.",
                           "הניוזלטר שלנו", "אנחנו משתמשים בתחומי העניין ובתדירות שבחרתם כדי לבחור מה ייכנס לניוזלטר שלכם.",
                           "רק כתבות על מה שמעניין אתכם, בתדירות שנוחה לכם.")),
        PurposeInput(
            key: "offers", names: ["en": "Personalized offers", "he": "הצעות מותאמות אישית"], legalBasis: "consent", retentionDays: 365, dpvTerm: "PersonalisedAdvertising", isMarketing: true,
            notice: notice("Offers chosen for you", "We use what you told us — interests, the kinds of offers you like, your size — to pick offers.",
                           "Offers that fit you, instead of everything we have.",
                           "הצעות שנבחרו בשבילכם", "אנחנו משתמשים במה שסיפרתם לנו — תחומי עניין, סוגי ההצעות שאתם אוהבים, המידה שלכם — כדי לבחור הצעות.",
                           "הצעות שמתאימות לכם, במקום כל מה שיש לנו.")),
        PurposeInput(
            key: "support", names: ["en": "Customer support", "he": "שירות לקוחות"], legalBasis: "contract", retentionDays: 1095, dpvTerm: "CustomerCare", isMarketing: false,
            notice: notice("Helping you", "We use your channels and size so that support can reach you the way you prefer and get things right.",
                           "Faster, better answers from our support team.",
                           "כדי לעזור לכם", "אנחנו משתמשים בערוצים ובמידה שלכם כדי שהתמיכה תגיע אליכם בדרך המועדפת ותדייק.",
                           "תשובות מהירות וטובות יותר מצוות התמיכה.")),
        PurposeInput(
            key: "research", names: ["en": "Product research", "he": "מחקר מוצר"], legalBasis: "consent", retentionDays: 365, dpvTerm: "ResearchAndDevelopment", isMarketing: false,
            notice: notice("Making better products", "We study interests across many people to decide what to make next.",
                           "Products shaped by what people like you asked for.",
                           "מוצרים טובים יותר", "אנחנו לומדים את תחומי העניין של אנשים רבים כדי להחליט מה לייצר בהמשך.",
                           "מוצרים שמעוצבים לפי מה שאנשים כמוכם ביקשו.")),
    ]

    static let interests = ["running", "yoga", "cycling", "hiking", "swimming", "tennis", "climbing"]
    static let offerTypes = ["discounts", "early_access", "bundles", "free_shipping", "loyalty_points"]
    static let channels = ["email", "sms", "push", "post"]
    static let frequencies = ["daily", "weekly", "monthly"]
    static let months = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]

    /// How the demo's options read in English and Hebrew.
    static let optionWords: [String: (en: String, he: String)] = [
        "running": ("Running", "ריצה"), "yoga": ("Yoga", "יוגה"), "cycling": ("Cycling", "רכיבה על אופניים"), "hiking": ("Hiking", "טיולים רגליים"),
        "swimming": ("Swimming", "שחייה"), "tennis": ("Tennis", "טניס"), "climbing": ("Climbing", "טיפוס"),
        "discounts": ("Discounts", "הנחות"), "early_access": ("Early access", "גישה מוקדמת"), "bundles": ("Bundles", "חבילות"),
        "free_shipping": ("Free shipping", "משלוח חינם"), "loyalty_points": ("Loyalty points", "נקודות מועדון"),
        "email": ("Email", "דוא״ל"), "sms": ("SMS", "הודעת SMS"), "push": ("Push notifications", "התראות בדחיפה"), "post": ("Post", "דואר"),
        "daily": ("Daily", "כל יום"), "weekly": ("Weekly", "כל שבוע"), "monthly": ("Monthly", "כל חודש"),
        "january": ("January", "ינואר"), "february": ("February", "פברואר"), "march": ("March", "מרץ"), "april": ("April", "אפריל"),
        "may": ("May", "מאי"), "june": ("June", "יוני"), "july": ("July", "יולי"), "august": ("August", "אוגוסט"),
        "september": ("September", "ספטמבר"), "october": ("October", "אוקטובר"), "november": ("November", "נובמבר"), "december": ("December", "דצמבר"),
    ]

    /// Labels for a list of demo options.
    static func labels(_ options: [String]) -> [String: [String: String]] {
        Dictionary(uniqueKeysWithValues: options.compactMap { option in optionWords[option].map { (option, ["en": $0.en, "he": $0.he]) } })
    }

    /// The demo fields.
    public static let fields: [FieldInput] = [
        FieldInput(key: "interests", type: "multi_choice", options: interests, optionLabels: labels(interests), purposes: ["newsletter", "offers", "research"],
                   labels: ["en": "What are you into?", "he": "במה אתם עוסקים?"]),
        FieldInput(key: "offer_types", type: "multi_choice", options: offerTypes, optionLabels: labels(offerTypes), purposes: ["offers"],
                   labels: ["en": "Which offers do you like?", "he": "אילו הצעות אתם אוהבים?"]),
        FieldInput(key: "channels", type: "multi_choice", options: channels, optionLabels: labels(channels), purposes: ["newsletter", "offers", "support"],
                   labels: ["en": "How should we reach you?", "he": "איך לפנות אליכם?"]),
        FieldInput(key: "content_frequency", type: "single_choice", options: frequencies, optionLabels: labels(frequencies), purposes: ["newsletter"],
                   labels: ["en": "How often would you like to hear from us?", "he": "באיזו תדירות תרצו לשמוע מאיתנו?"]),
        FieldInput(key: "shoe_size", type: "number", purposes: ["offers", "support"],
                   labels: ["en": "Shoe size (EU)", "he": "מידת נעליים (אירופית)"], minimum: 30, maximum: 50),
        FieldInput(key: "birthday_month", type: "single_choice", options: months, optionLabels: labels(months), purposes: ["offers"],
                   labels: ["en": "Birthday month", "he": "חודש יום ההולדת"]),
    ]

    /// The demo teams and what they may do.
    public static let teams: [TeamInput] = [
        TeamInput(key: "it", name: "IT", purposes: ["support"], roles: ["admin", "read", "write", "erase", "audit"]),
        TeamInput(key: "marketing", name: "Marketing", purposes: ["newsletter", "offers", "research"], roles: ["read", "write"]),
        TeamInput(key: "sales", name: "Sales", purposes: ["offers"], roles: ["read"]),
        TeamInput(key: "support", name: "Support", purposes: ["support"], roles: ["read", "write", "erase"]),
    ]

    /// Creates the registry and keys (nothing personal yet). Returns the keys.
    public static func seedRegistry(_ store: CandorStore, publishableOrigins: [String]) async throws -> Keys {
        for purpose in purposes { _ = try await store.createPurpose(purpose, by: nil) }
        for field in fields { _ = try await store.createField(field, by: nil) }
        for team in teams { _ = try await store.saveTeam(team, replace: false, by: nil) }
        func secret(_ name: String, _ team: String, kind: String = "secret", origins: [String]? = nil) async throws -> String {
            guard case .fresh(let created) = try await store.createKey(KeyInput(name: name, team: team, kind: kind, origins: origins), by: nil) else {
                throw CandorStoreError.corrupt("a new key was replayed")
            }
            guard let secret = created.secret else { throw CandorStoreError.corrupt("a new key came without its secret") }
            return secret
        }
        let keys = Keys(
            admin: try await secret("Demo admin", "it"), marketing: try await secret("Demo marketing", "marketing"),
            sales: try await secret("Demo sales", "sales"), support: try await secret("Demo support", "support"),
            publishable: try await secret("Demo website", "marketing", kind: "publishable", origins: publishableOrigins))
        return keys
    }

    /// The whole demo workspace: the registry and keys, plus the demo shop's prompts and onsite offers.
    /// The shop's catalog belongs to `candor demo` only: tests and benchmarks build on the bare registry
    /// of `seedRegistry` and create the catalog they assert on.
    public static func seedDemo(_ store: CandorStore, publishableOrigins: [String], operatorCost: UInt8 = 12) async throws -> Keys {
        var keys = try await seedRegistry(store, publishableOrigins: publishableOrigins)
        keys.operators = try await seedOperators(store, cost: operatorCost)
        try await DemoShop.seed(store, keys: keys)
        if let marketing = store.authenticate(keys.marketing) { try await seedSurveys(store, by: marketing) }
        if let admin = store.authenticate(keys.admin) { try await seedAutomations(store, by: admin) }
        return keys
    }

    /// Creates `count` synthetic people with declarations and consents, `concurrency` at a time, from a
    /// fixed seed so every demo looks the same. Returns their ids.
    @discardableResult
    public static func seedSubjects(_ store: CandorStore, count: Int, concurrency: Int = 128, seed: UInt64 = 2026) async throws -> [String] {
        var ids = [String]()
        ids.reserveCapacity(count)
        var next = 0
        while next < count {
            let chunk = next..<min(count, next + concurrency)
            next = chunk.upperBound
            let created = try await withThrowingTaskGroup(of: String.self) { group in
                for index in chunk {
                    group.addTask { try await seedPerson(store, index: index, seed: seed) }
                }
                var out = [String]()
                for try await id in group { out.append(id) }
                return out
            }
            ids += created
        }
        return ids
    }

    static func seedPerson(_ store: CandorStore, index: Int, seed: UInt64) async throws -> String {
        var random = SeededRandom(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let number = String(format: "%05d", index + 1)
        guard case .fresh(let subject) = try await store.createSubject(
            SubjectInput(externalId: "cus_\(number)", email: "person\(number)@example.com"), by: nil)
        else { throw CandorStoreError.corrupt("a new subject was replayed") }
        let registry = store.registry
        func pick(_ options: [String], max: Int) -> JSONValue {
            .array(options.shuffled(using: &random).prefix(Int.random(in: 1...max, using: &random)).map(JSONValue.string))
        }
        var values = [DeclaredValueInput(field: "interests", value: pick(interests, max: 3))]
        if random.chance(0.7) { values.append(DeclaredValueInput(field: "channels", value: pick(channels, max: 2))) }
        if random.chance(0.6) { values.append(DeclaredValueInput(field: "offer_types", value: pick(offerTypes, max: 3))) }
        if random.chance(0.5) { values.append(DeclaredValueInput(field: "content_frequency", value: .string(frequencies.randomElement(using: &random)!))) }
        if random.chance(0.4) { values.append(DeclaredValueInput(field: "shoe_size", value: .number(Double(Int.random(in: 36...46, using: &random))))) }
        if random.chance(0.3) { values.append(DeclaredValueInput(field: "birthday_month", value: .string(months.randomElement(using: &random)!))) }
        let cited = Set(values.flatMap { registry.fields[$0.field]?.purposes ?? [] })
        var notices = [String: Int]()
        for purpose in cited { notices[purpose] = registry.purposes[purpose]?.currentNoticeVersion }
        let sources = ["preference_center", "survey", "prompt", "import"]
        _ = try await store.declare(subjectId: subject.id, DeclarationInput(
            values: values, notices: notices, source: sources.randomElement(using: &random), collectionPoint: "demo-seed"), by: nil)
        var consents = [ConsentInput]()
        for (purpose, share) in [("newsletter", 0.62), ("offers", 0.48), ("research", 0.3)] where random.chance(share) {
            consents.append(ConsentInput(purpose: purpose, status: "granted", method: "checkbox", noticeVersion: registry.purposes[purpose]?.currentNoticeVersion))
        }
        if !consents.isEmpty { _ = try await store.setConsents(subjectId: subject.id, consents, by: nil) }
        return subject.id
    }
}
