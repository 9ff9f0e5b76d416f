import CandorCore
import CandorStore
import Foundation

/// The words the embed script shows, in English and Hebrew. The server sends them with each prompt and
/// offer, so the script carries no translations and stays small.
enum EmbedStrings {
    /// The strings of a locale (English for any locale without its own).
    static func of(_ locale: String) -> [String: String] { all[locale] ?? all["en"]! }

    /// The locale the server answers in: a supported one, else English.
    static func locale(_ asked: String?) -> String {
        let primary = (asked ?? "en").lowercased().split(separator: "-").first.map(String.init) ?? "en"
        if primary == "iw" { return "he" }
        return Locales.supported.contains(primary) ? primary : "en"
    }

    static let all: [String: [String: String]] = [
        "en": [
            "submit": "Save my answer",
            "not_now": "Not now",
            "dont_ask": "Don't ask me again",
            "why": "Why we ask",
            "benefit": "What you get",
            "close": "Close",
            "thanks": "Thank you — saved.",
            "yes": "Yes",
            "no": "No",
            "number_hint": "Enter a number",
            "error": "That did not work. Please check your answer.",
            "notice_version": "notice version",
            "offers_heading": "Picked for you",
            "why_offer": "Why am I seeing this?",
            "preferences": "Change what you told us",
            "generic": "Everyone sees this offer. It does not use anything you told us.",
            "told_us": "You answered “{question}”: {value} ({date}).",
            "agreed": "You agreed that we may use your answers for “{purpose}”.",
        ],
        "he": [
            "submit": "שמירת התשובה",
            "not_now": "לא עכשיו",
            "dont_ask": "אל תשאלו אותי שוב",
            "why": "למה אנחנו שואלים",
            "benefit": "מה תקבלו",
            "close": "סגירה",
            "thanks": "תודה — נשמר.",
            "yes": "כן",
            "no": "לא",
            "number_hint": "הזינו מספר",
            "error": "זה לא הצליח. בדקו את התשובה בבקשה.",
            "notice_version": "גרסת הודעה",
            "offers_heading": "נבחר בשבילכם",
            "why_offer": "למה אני רואה את זה?",
            "preferences": "לשינוי מה שסיפרתם לנו",
            "generic": "כולם רואים את ההצעה הזאת. היא לא משתמשת בשום דבר שסיפרתם לנו.",
            "told_us": "עניתם על „{question}”: {value} ({date}).",
            "agreed": "הסכמתם שנשתמש בתשובות שלכם לצורך „{purpose}”.",
        ],
    ]

    /// "Why am I seeing this?" in plain words, from the decision's `because`: each declared fact with
    /// the field's question, the value in the person's words and the date, then the consent relied on.
    static func explanation(_ because: Because?, locale: String, registry: RegistrySnapshot) -> [String] {
        let t = of(locale)
        guard let because else { return [t["generic"]!] }
        var lines = [String]()
        for fact in because.facts {
            let field = registry.fields[fact.field]
            let label = field?.labels[locale] ?? field?.labels["en"] ?? fact.field
            let value = describe(fact.value, field: field, locale: locale, t: t)
            let date = Timestamp.parse(fact.declaredAt).map { day($0, locale: locale) } ?? fact.declaredAt
            lines.append(t["told_us"]!.replacingOccurrences(of: "{question}", with: label).replacingOccurrences(of: "{value}", with: value)
                .replacingOccurrences(of: "{date}", with: date))
        }
        let purpose = registry.purposes[because.consent.purpose]
        let name = purpose?.names[locale] ?? purpose?.names["en"] ?? because.consent.purpose
        lines.append(t["agreed"]!.replacingOccurrences(of: "{purpose}", with: name))
        return lines
    }

    static func describe(_ value: JSONValue, field: Field?, locale: String, t: [String: String]) -> String {
        func label(_ option: String) -> String { field?.label(ofOption: option, locale: locale) ?? option }
        switch value {
        case .array(let items): return items.compactMap(\.stringValue).map(label).joined(separator: ", ")
        case .string(let text): return label(text)
        case .bool(let flag): return flag ? t["yes"]! : t["no"]!
        case .number(let number): return number.rounded() == number ? String(Int64(number)) : String(number)
        default: return ""
        }
    }

    static func day(_ millis: Int64, locale: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: locale == "he" ? "he_IL" : "en_GB")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateStyle = .long
        formatter.timeStyle = .none
        return formatter.string(from: Timestamp.date(millis))
    }
}
