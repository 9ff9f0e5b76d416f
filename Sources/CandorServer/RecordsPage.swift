import CandorCore
import CandorStore
import Foundation

/// The printable record of processing activities at `/records-of-processing`, in English or Hebrew.
struct RecordsPage {
    let store: CandorStore
    let language: PageLanguage

    static let strings: [String: [String: String]] = [
        "en": [
            "title": "Record of processing activities",
            "brand": "Candor",
            "lede": "What we process, why, on what legal basis, for how long and who receives it (GDPR Article 30). Generated from the live registry; it contains no personal data.",
            "controller": "Controller",
            "name": "Name",
            "contact": "Contact",
            "email": "E-mail",
            "policy": "Privacy policy",
            "jurisdiction": "Jurisdiction",
            "subjects": "Data subjects",
            "generated": "Generated",
            "activities": "Processing activities",
            "basis": "Legal basis",
            "retention": "Kept for",
            "days": "days",
            "categories": "Categories of data",
            "recipients": "Recipients",
            "noRecipients": "No team uses this purpose.",
            "noCategories": "No declarable fields.",
            "special": "special category",
            "dpv": "DPV purpose",
            "notice": "Current notice",
            "marketing": "Direct marketing",
            "yes": "yes",
            "no": "no",
            "notes": "Scope",
            "destinations": "This public copy lists the internal teams that may use each purpose. The external systems that receive data for a purpose (webhook destinations) are listed in the record administrators and auditors download.",
            "json": "Machine-readable version (JSON, for administrators and auditors)",
            "switch": "עברית",
            "switchLang": "he",
            "consent": "consent",
            "contract": "contract",
            "legitimate_interest": "legitimate interest",
            "legal_obligation": "legal obligation",
            "internal_team": "internal team",
        ],
        "he": [
            "title": "רשומת פעילויות עיבוד",
            "brand": "Candor",
            "lede": "מה אנו מעבדים, למה, על איזה בסיס חוקי, לכמה זמן ומי מקבל את המידע (סעיף 30 ל-GDPR). נוצר מהמרשם העדכני; אין בו מידע אישי.",
            "controller": "בעל השליטה במידע",
            "name": "שם",
            "contact": "איש קשר",
            "email": "דוא״ל",
            "policy": "מדיניות פרטיות",
            "jurisdiction": "תחום שיפוט",
            "subjects": "נושאי המידע",
            "generated": "נוצר",
            "activities": "פעילויות עיבוד",
            "basis": "בסיס חוקי",
            "retention": "נשמר למשך",
            "days": "ימים",
            "categories": "סוגי מידע",
            "recipients": "נמענים",
            "noRecipients": "אף צוות אינו משתמש במטרה זו.",
            "noCategories": "אין שדות למסירה.",
            "special": "מידע רגיש",
            "dpv": "מטרה לפי DPV",
            "notice": "הודעה עדכנית",
            "marketing": "דיוור ישיר",
            "yes": "כן",
            "no": "לא",
            "notes": "היקף",
            "destinations": "עותק ציבורי זה מפרט את הצוותים הפנימיים שרשאים להשתמש בכל מטרה. המערכות החיצוניות שמקבלות נתונים למטרה (יעדי webhook) מפורטות ברישום שמנהלים ומבקרים מורידים.",
            "json": "גרסה קריאה למכונה (JSON, למנהלים ולמבקרים)",
            "switch": "English",
            "switchLang": "en",
            "consent": "הסכמה",
            "contract": "חוזה",
            "legitimate_interest": "אינטרס לגיטימי",
            "legal_obligation": "חובה חוקית",
            "internal_team": "צוות פנימי",
        ],
    ]

    func context() -> [String: Any] {
        let code = language.code
        let strings = Self.strings[code] ?? Self.strings["en"]!
        let record = store.recordOfProcessing(language: code)
        let activities: [[String: Any]] = record.activities.map { activity in
            [
                "key": activity.purpose,
                "name": activity.name,
                "basis": strings[activity.legalBasis.rawValue] ?? activity.legalBasis.rawValue,
                "retention": activity.retentionDays,
                "dpvLabel": activity.dpvLabel,
                "dpvIRI": activity.dpvIRI,
                "notice": activity.noticeVersion.map { "v\($0)" } ?? "—",
                "marketing": strings[activity.isMarketing ? "yes" : "no"]!,
                "categories": activity.dataCategories.map { category -> [String: Any] in
                    ["key": category.key, "label": category.label, "special": category.isSpecialCategory, "retention": category.retentionDays]
                },
                "hasCategories": !activity.dataCategories.isEmpty,
                "recipients": activity.recipients.map { ["name": $0.name, "key": $0.key, "kind": strings[$0.kind] ?? $0.kind] },
                "hasRecipients": !activity.recipients.isEmpty,
            ]
        }
        let controller = record.controller
        return [
            "lang": code,
            "dir": language.direction,
            "t": strings,
            "controller": [
                "name": controller.name, "contact": controller.contact, "email": controller.email,
                "policy": controller.policyURL, "jurisdiction": controller.jurisdiction,
            ] as [String: Any],
            "hasEmail": !controller.email.isEmpty,
            "generated": record.generatedAt,
            "activities": activities,
        ]
    }
}
