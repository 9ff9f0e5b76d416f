import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The language of a page: `?lang=` first, then `Accept-Language`, then English.
struct PageLanguage {
    let code: String
    var isRightToLeft: Bool { code == "he" }
    var direction: String { isRightToLeft ? "rtl" : "ltr" }

    static func choose(_ request: Request) -> PageLanguage {
        if let asked = request.uri.queryParameters.get("lang").map({ String($0) }), Locales.supported.contains(asked) {
            return PageLanguage(code: asked)
        }
        let header = request.headers[.acceptLanguage] ?? ""
        // Honour the order of preference; quality values are rarely out of order in practice.
        for part in header.split(separator: ",") {
            let tag = part.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased()
            let primary = String(tag.split(separator: "-").first ?? "")
            if primary == "iw" || primary == "he" { return PageLanguage(code: "he") }
            if Locales.supported.contains(primary) { return PageLanguage(code: primary) }
        }
        return PageLanguage(code: "en")
    }
}

/// The start page at `/`: what Candor is, what is registered, and everything there is to try.
struct StartPage {
    let store: CandorStore
    let config: ServerConfig
    let language: PageLanguage

    static let strings: [String: [String: String]] = [
        "en": [
            "title": "Candor",
            "tagline": "Zero-party data: what your customers choose to tell you — used only for the purposes they agreed to, provably.",
            "purposes": "Purposes and their current notices",
            "why": "Why we ask",
            "benefit": "What you get",
            "basis": "Legal basis",
            "retention": "Kept for",
            "days": "days",
            "fields": "Fields people can declare",
            "serves": "serves",
            "try": "Try it",
            "api": "API contract (OpenAPI 3.1)",
            "console": "Operator console",
            "health": "Liveness",
            "ready": "Readiness",
            "metrics": "Prometheus metrics",
            "tour": "A first request",
            "tourNote": "The demo keys are in demo-keys.json in the data directory (readable only by you).",
            "switch": "עברית",
            "switchLang": "he",
            "field": "Field",
            "type": "Type",
            "purpose": "Purpose",
            "consent": "consent",
            "contract": "contract",
            "legitimate_interest": "legitimate interest",
            "legal_obligation": "legal obligation",
            "single_choice": "single choice",
            "multi_choice": "multiple choice",
            "boolean": "yes / no",
            "number": "number",
            "text": "text",
            "date": "date",
        ],
        "he": [
            "title": "Candor",
            "tagline": "נתונים שהלקוחות בוחרים לספר לכם — ומשמשים רק למטרות שהסכימו להן, באופן שניתן להוכיח.",
            "purposes": "מטרות והודעות הפרטיות העדכניות שלהן",
            "why": "למה אנחנו שואלים",
            "benefit": "מה תקבלו",
            "basis": "בסיס חוקי",
            "retention": "נשמר למשך",
            "days": "ימים",
            "fields": "שדות שאנשים יכולים למסור",
            "serves": "משרת את",
            "try": "נסו בעצמכם",
            "api": "חוזה ה-API ‏(OpenAPI 3.1)",
            "console": "מסוף המפעילים",
            "health": "חיות",
            "ready": "מוכנות",
            "metrics": "מדדי Prometheus",
            "tour": "בקשה ראשונה",
            "tourNote": "מפתחות ההדגמה נמצאים בקובץ demo-keys.json בתיקיית הנתונים (קריא רק לכם).",
            "switch": "English",
            "switchLang": "en",
            "field": "שדה",
            "type": "סוג",
            "purpose": "מטרה",
            "consent": "הסכמה",
            "contract": "חוזה",
            "legitimate_interest": "אינטרס לגיטימי",
            "legal_obligation": "חובה חוקית",
            "single_choice": "בחירה אחת",
            "multi_choice": "בחירה מרובה",
            "boolean": "כן / לא",
            "number": "מספר",
            "text": "טקסט",
            "date": "תאריך",
        ],
    ]

    func context() -> [String: Any] {
        let registry = store.registry
        let code = language.code
        let strings = Self.strings[code] ?? Self.strings["en"]!
        let purposes: [[String: Any]] = registry.purposes.values.sorted { $0.key < $1.key }.map { purpose in
            let notice = registry.currentNotice(of: purpose.key)
            let text = notice?.texts[code] ?? notice?.texts["en"]
            return [
                "key": purpose.key,
                "name": purpose.names[code] ?? purpose.names["en"] ?? purpose.key,
                "basis": strings[purpose.legalBasis.rawValue] ?? purpose.legalBasis.rawValue,
                "retention": purpose.retentionDays,
                "dpv": purpose.dpvTerm,
                "dpvIRI": DPVPurposes.iri(purpose.dpvTerm),
                "version": purpose.currentNoticeVersion ?? 0,
                "why": text?.why ?? "",
                "benefit": text?.benefit ?? "",
            ]
        }
        let fields: [[String: Any]] = registry.fields.values.sorted { $0.key < $1.key }.map { field in
            [
                "key": field.key,
                "label": field.labels[code] ?? field.labels["en"] ?? field.key,
                "type": strings[field.type.rawValue] ?? field.type.rawValue,
                "purposes": field.purposes.joined(separator: ", "),
            ]
        }
        let base = config.baseURL
        return [
            "lang": code,
            "dir": language.direction,
            "t": strings,
            "purposes": purposes,
            "fields": fields,
            "base": base,
            "tour": """
            ADMIN=$(python3 -c 'import json;print(json.load(open("\(config.dataDirectory)/demo-keys.json"))["admin"])')
            curl -s \(base)/v1/purposes -H "Authorization: Bearer $ADMIN"
            """,
        ]
    }
}
