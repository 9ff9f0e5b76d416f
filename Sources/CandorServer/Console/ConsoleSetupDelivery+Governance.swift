import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The internal audit report (as `GET /v1/audit/report`, role `audit`) and the record of processing
/// (as `GET /v1/ropa`, role `admin` or `audit`) as readable pages, each with its download.
extension ConsoleRoutes {
    /// The report's preset periods, in days; the default is the middle one.
    static let reportPeriods = [7, 30, 90]

    func addGovernancePages(to router: Router<CandorRequestContext>) {
        router.get("console/audit-report") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.audit], visit) { return refused }
                return try await auditReportPage(request, visit)
            }
        }
        router.get("console/audit-report/download") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.audit], visit) { return refused }
                guard case .success(let period) = reportPeriod(request, visit) else {
                    return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "gvBadPeriod", link: ("/console/audit-report", "navAuditReport"), visit: visit)
                }
                let report = try await store.auditReport(since: period.since, until: period.until)
                let name = "candor-audit-report-\(Self.day(period.since))-\(Self.day(period.until - 1)).json"
                return deliveryDownload(try CandorJSON.encode(report), type: "application/json", filename: name)
            }
        }
        router.get("console/records") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin, .audit], visit) { return refused }
                let record = try await store.recordOfProcessingWithDestinations(language: visit.language.code)
                return render("console/delivery_records", visit.language, path: "/console/records", visit: visit, recordsContext(record, visit))
            }
        }
        router.get("console/records/download") { request, context in
            try await visit(request, context) { visit in
                if let refused = require([.admin, .audit], visit) { return refused }
                let format = request.uri.queryParameters.get("format").map { String($0) } ?? "json"
                let record = try await store.recordOfProcessingWithDestinations(language: visit.language.code)
                switch format {
                case "json":
                    return deliveryDownload(try CandorJSON.encode(record), type: "application/json", filename: "record-of-processing.json")
                case "html":
                    let html = resources.templates.render(recordsContext(record, visit), withTemplate: "console/delivery_records_print") ?? ""
                    return deliveryDownload(Data(html.utf8), type: "text/html; charset=utf-8", filename: "record-of-processing-\(visit.language.code).html")
                default:
                    return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "gvBadFormat", link: ("/console/records", "navRecords"), visit: visit)
                }
            }
        }
    }

    /// A file to save, never shown inline (and never cached: it may describe who read what).
    func deliveryDownload(_ body: Data, type: String, filename: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: - The audit report

    /// The report's period `[since, until)`: `days` (7, 30, 90; default 30) ending now, or whole UTC days `from`–`to`.
    struct ReportPeriod {
        var since: Int64
        var until: Int64
        var days: Int?
        var from: String
        var to: String
    }

    enum PeriodProblem: Error {
        case field(String, String)
    }

    func reportPeriod(_ request: Request, _ visit: Visit) -> Result<ReportPeriod, PeriodProblem> {
        let query = request.uri.queryParameters
        let now = store.currentMillis
        let fromText = query.get("from").map { String($0) } ?? "", toText = query.get("to").map { String($0) } ?? ""
        if !fromText.isEmpty || !toText.isEmpty {
            guard let from = Self.parseDay(fromText) else { return .failure(.field("from", visit.t["gvBadDate"]!)) }
            guard let to = Self.parseDay(toText) else { return .failure(.field("to", visit.t["gvBadDate"]!)) }
            guard from <= to else { return .failure(.field("to", visit.t["gvToBeforeFrom"]!)) }
            return .success(ReportPeriod(since: from, until: to + 86_400_000, days: nil, from: fromText, to: toText))
        }
        let text = query.get("days").map { String($0) } ?? "30"
        guard let days = Int(text), Self.reportPeriods.contains(days) else { return .failure(.field("days", visit.t["badPeriod"]!)) }
        let since = now - Int64(days) * 86_400_000
        return .success(ReportPeriod(since: since, until: now, days: days, from: Self.day(since), to: Self.day(now)))
    }

    /// `YYYY-MM-DD` as the UTC midnight it starts with.
    static func parseDay(_ text: String) -> Int64? {
        guard text.count == 10, let millis = Timestamp.parse(text + "T00:00:00Z") else { return nil }
        return day(millis) == text ? millis : nil
    }

    static func day(_ millis: Int64) -> String {
        let (year, month, day) = civilDate(daysSinceEpoch: floorDiv(millis, 86_400_000))
        return "\(year)-\(twoDigits(month))-\(twoDigits(day))"
    }

    func auditReportPage(_ request: Request, _ visit: Visit) async throws -> Response {
        let t = visit.t
        let registry = store.registry
        let code = visit.language.code
        var context: [String: Any] = [
            "title": t["navAuditReport"]!,
            "presets": Self.reportPeriods.map { days in ["days": String(days), "label": t["days\(days)"] ?? "\(days)", "href": "/console/audit-report?days=\(days)"] as [String: Any] },
        ]
        let period: ReportPeriod
        switch reportPeriod(request, visit) {
        case .failure(.field(let field, let message)):
            context["error_\(field)"] = message
            context["hasErrors"] = true
            let query = request.uri.queryParameters
            context["from"] = query.get("from").map { String($0) } ?? ""
            context["to"] = query.get("to").map { String($0) } ?? ""
            return render("console/delivery_audit_report", visit.language, path: "/console/audit-report", status: .badRequest, visit: visit, context)
        case .success(let chosen):
            period = chosen
        }
        let report = try await store.auditReport(since: period.since, until: period.until)
        let destinations = try await store.destinations(cursor: nil, limit: 200).data
        let destinationNames = Dictionary(destinations.map { ($0.id, Self.deliveryHost($0.url)) }, uniquingKeysWith: { a, _ in a })
        func purposeName(_ key: String?) -> String {
            guard let key else { return "—" }
            return registry.purposes[key].map { $0.names[code] ?? $0.names["en"] ?? key } ?? key
        }
        func teamName(_ key: String) -> String { registry.teams[key]?.name ?? key }
        let reads: [[String: Any]] = report.reads.map { read in
            ["team": teamName(read.team), "purpose": purposeName(read.purpose), "action": read.action, "count": Self.grouped(read.count),
             "subjects": Self.grouped(read.subjects), "fields": read.fields.isEmpty ? "—" : read.fields.joined(separator: ", ")]
        }
        let deliveries: [[String: Any]] = report.deliveries.map { sent in
            ["destination": destinationNames[sent.team] ?? sent.team, "id": sent.team, "count": Self.grouped(sent.count),
             "subjects": Self.grouped(sent.subjects), "fields": sent.fields.isEmpty ? "—" : sent.fields.joined(separator: ", ")]
        }
        let unusedKeys: [[String: Any]] = report.unusedKeys.map { key in
            ["name": key.name, "team": teamName(key.team), "hint": key.hint, "lastUsed": key.lastUsedAt.map { Self.time($0) } ?? t["auNever"]!]
        }
        let unusedPurposes: [[String: Any]] = report.unusedPurposes.map { item in
            PortalView.compact(["team": teamName(item.team), "key": item.keyId.flatMap { registry.keysById[$0]?.name ?? $0 }, "purposes": item.purposes.map { purposeName($0) }.joined(separator: ", ")])
        }
        let failures: [[String: Any]] = report.failedAuthentications.map { failure in
            ["prefix": failure.keyPrefix, "minutes": Self.grouped(failure.minutes), "first": Self.time(failure.first), "last": Self.time(failure.last)]
        }
        let totalReads = report.reads.reduce(Int64(0)) { $0 + $1.count }
        let totalSent = report.deliveries.reduce(Int64(0)) { $0 + $1.count }
        let failedMinutes = report.failedAuthentications.reduce(Int64(0)) { $0 + $1.minutes }
        let downloadQuery = period.days.map { "days=\($0)" } ?? "from=\(period.from)&to=\(period.to)"
        context.merge(PortalView.compact([
            "since": Self.time(report.since), "until": Self.time(report.until), "generated": Self.time(report.generatedAt),
            "presets": Self.reportPeriods.map { days in
                ["days": String(days), "label": t["days\(days)"] ?? "\(days)", "href": "/console/audit-report?days=\(days)", "current": period.days == days] as [String: Any]
            },
            "from": period.from, "to": period.to, "custom": period.days == nil,
            "totalReads": Self.grouped(totalReads), "totalSent": Self.grouped(totalSent), "unusedKeyCount": String(report.unusedKeys.count),
            "failedMinutes": Self.grouped(failedMinutes), "hasFailures": !failures.isEmpty, "hasUnusedKeys": !unusedKeys.isEmpty,
            "reads": reads, "hasReads": !reads.isEmpty, "deliveries": deliveries, "hasDeliveries": !deliveries.isEmpty,
            "unusedKeys": unusedKeys, "unusedPurposes": unusedPurposes, "hasUnusedPurposes": !unusedPurposes.isEmpty, "failures": failures,
            "keysTitle": t["gvKeysTitle"]!.replacingOccurrences(of: "%1", with: String(report.unusedKeyDays)), "download": "/console/audit-report/download?\(downloadQuery)",
        ])) { _, new in new }
        return render("console/delivery_audit_report", visit.language, path: "/console/audit-report", visit: visit, context)
    }

    // MARK: - The record of processing

    func recordsContext(_ record: RecordOfProcessing, _ visit: Visit) -> [String: Any] {
        let t = visit.t
        let words = RecordsPage.strings[visit.language.code] ?? RecordsPage.strings["en"]!
        let activities: [[String: Any]] = record.activities.map { activity in
            PortalView.compact([
                "key": activity.purpose, "name": activity.name, "basis": words[activity.legalBasis.rawValue] ?? activity.legalBasis.rawValue,
                "retention": String(activity.retentionDays), "dpvLabel": activity.dpvLabel, "dpvIRI": activity.dpvIRI, "dpvTerm": activity.dpvTerm,
                "notice": activity.noticeVersion.map { "v\($0)" } ?? "—", "marketing": activity.isMarketing,
                "categories": activity.dataCategories.map { category in
                    ["key": category.key, "label": category.label, "type": category.type, "special": category.isSpecialCategory, "retention": String(category.retentionDays)] as [String: Any]
                },
                "hasCategories": !activity.dataCategories.isEmpty,
                "teams": activity.recipients.filter { $0.kind == "internal_team" }.map { ["name": $0.name, "key": $0.key] },
                "destinations": activity.recipients.filter { $0.kind == "destination" }.map { ["name": $0.name, "key": $0.key] },
                "hasTeams": activity.recipients.contains { $0.kind == "internal_team" },
                "hasDestinations": activity.recipients.contains { $0.kind == "destination" },
            ])
        }
        let controller = record.controller
        return PortalView.compact([
            "title": t["navRecords"]!, "lang": visit.language.code, "dir": visit.language.direction,
            "controller": PortalView.compact(["name": controller.name, "contact": controller.contact, "email": controller.email.isEmpty ? nil : controller.email,
                                              "policy": controller.policyURL, "jurisdiction": controller.jurisdiction]),
            "generated": Self.time(record.generatedAt), "subjects": record.dataSubjects, "activities": activities,
            "canDownload": true,
        ])
    }
}

extension ConsoleStrings {
    /// The audit report's and the record of processing's words (merged into `deliveryEnglish` / `deliveryHebrew`).
    static let governanceEnglish: [String: String] = [
        "gvReportIntro": "The periodic review of data security and sharing: who read personal data for which purpose, what went to which destination, keys left unused, purposes held but never used, and failed sign-ins with API keys.",
        "gvPeriod": "Period", "gvFrom": "From (UTC day)", "gvTo": "To (UTC day, included)", "gvShow": "Show", "gvDateHint": "YYYY-MM-DD",
        "gvBadDate": "Enter a day as YYYY-MM-DD.", "gvToBeforeFrom": "The last day must not be before the first.", "gvBadPeriod": "That period is not valid.",
        "gvBadFormat": "Unknown download format.", "gvCovers": "Covers", "gvGenerated": "Generated", "gvDownloadJSON": "Download JSON",
        "gvReadsTitle": "Access to personal data", "gvReadsIntro": "Reads and disclosures of personal data, by team, purpose and action.",
        "gvReads": "Reads", "gvPeople": "People (at most)", "gvTeamCol": "Team", "gvActionCol": "Action", "gvFieldsCol": "Fields",
        "gvNoReads": "No personal data was read in this period.",
        "gvSentTitle": "Sent to destinations", "gvSentIntro": "Outbound transfers to webhook destinations and the fields that left.", "gvSent": "Deliveries",
        "gvNoSent": "Nothing was sent to a destination in this period.", "gvDestinationCol": "Destination",
        "gvKeysTitle": "Keys unused for %1 days", "gvKeysIntro": "Secret and publishable keys not used for a long time: revoke what nobody needs.",
        "gvNoKeys": "Every key was used recently.", "gvKeyCol": "Key", "gvHintCol": "Ends in", "gvLastUsed": "Last used",
        "gvPurposesTitle": "Purposes held but not used", "gvPurposesIntro": "Teams and keys allowed a purpose they did not use in the period: candidates for removal (least privilege).",
        "gvNoPurposes": "Every team and key used every purpose it holds.", "gvUnused": "Unused purposes", "gvTeamOnly": "the team",
        "gvFailuresTitle": "Failed authentication", "gvFailuresIntro": "API keys that were refused, by their visible prefix; repeats are counted once per minute.",
        "gvNoFailures": "No failed authentication in this period.", "gvPrefix": "Key prefix", "gvMinutes": "Minutes with failures", "gvFirst": "First", "gvLast": "Last",
        "gvFailedKPI": "Failed sign-in minutes", "gvUnusedKPI": "Unused keys",
        "gvRecordsIntro": "What is processed, why, on which legal basis, for how long and who receives it (GDPR Article 30), generated from the live registry and destinations. It holds no personal data.",
        "gvController": "Controller", "gvContact": "Contact", "gvPolicy": "Privacy policy", "gvJurisdiction": "Jurisdiction", "gvSubjects": "Data subjects",
        "gvBasis": "Legal basis", "gvRetention": "Kept for", "gvDays": "days", "gvDPV": "DPV purpose", "gvNotice": "Current notice", "gvMarketing": "Direct marketing",
        "gvCategories": "Categories of data", "gvRecipients": "Recipients", "gvTeams": "Teams", "gvExternal": "Destinations", "gvNoCategories": "No declarable fields.",
        "gvNoTeams": "No team uses this purpose.", "gvNoExternal": "No destination serves this purpose.", "gvSpecial": "special category", "gvType": "Type",
        "gvDownloads": "Download", "gvDownloadHTML": "Printable HTML", "gvNotes": "Scope", "gvPurposeCol": "Purpose",
        "gvSubjectsText": "Customers and visitors who declare data or give consent through the controller's forms, preference center or API.",
        "gvRecipientsNote": "Recipients are the internal teams allowed to use each purpose and the webhook destinations that serve it. A destination receives only fields of the purposes it serves, for people whose consent allows it.",
    ]
    static let governanceHebrew: [String: String] = [
        "gvReportIntro": "הסקירה התקופתית של אבטחת המידע והשיתוף: מי קרא מידע אישי ולאיזו מטרה, מה נשלח לאיזה יעד, מפתחות שלא נעשה בהם שימוש, מטרות מוחזקות שלא נוצלו, וכניסות שנכשלו עם מפתחות API.",
        "gvPeriod": "תקופה", "gvFrom": "מיום (UTC)", "gvTo": "עד יום (UTC, כולל)", "gvShow": "הצגה", "gvDateHint": "YYYY-MM-DD",
        "gvBadDate": "הזינו יום בתבנית YYYY-MM-DD.", "gvToBeforeFrom": "היום האחרון לא יכול להיות לפני הראשון.", "gvBadPeriod": "התקופה הזו אינה תקינה.",
        "gvBadFormat": "פורמט הורדה לא מוכר.", "gvCovers": "התקופה", "gvGenerated": "נוצר", "gvDownloadJSON": "הורדת JSON",
        "gvReadsTitle": "גישה למידע אישי", "gvReadsIntro": "קריאות וחשיפות של מידע אישי, לפי צוות, מטרה ופעולה.",
        "gvReads": "קריאות", "gvPeople": "אנשים (לכל היותר)", "gvTeamCol": "צוות", "gvActionCol": "פעולה", "gvFieldsCol": "שדות",
        "gvNoReads": "לא נקרא מידע אישי בתקופה הזו.",
        "gvSentTitle": "נשלח ליעדים", "gvSentIntro": "העברות יוצאות ליעדי Webhook והשדות שיצאו.", "gvSent": "משלוחים",
        "gvNoSent": "לא נשלח דבר ליעד בתקופה הזו.", "gvDestinationCol": "יעד",
        "gvKeysTitle": "מפתחות שלא שימשו %1 ימים", "gvKeysIntro": "מפתחות סודיים וציבוריים שלא שימשו זמן רב: בטלו את מה שאיש אינו צריך.",
        "gvNoKeys": "כל המפתחות שימשו לאחרונה.", "gvKeyCol": "מפתח", "gvHintCol": "מסתיים ב־", "gvLastUsed": "שימוש אחרון",
        "gvPurposesTitle": "מטרות מוחזקות שלא נוצלו", "gvPurposesIntro": "צוותים ומפתחות שמורשים למטרה שלא השתמשו בה בתקופה: מועמדים להסרה (הרשאה מינימלית).",
        "gvNoPurposes": "כל צוות ומפתח השתמשו בכל מטרה שהם מחזיקים.", "gvUnused": "מטרות שלא נוצלו", "gvTeamOnly": "הצוות",
        "gvFailuresTitle": "אימות שנכשל", "gvFailuresIntro": "מפתחות API שנדחו, לפי התחילית הגלויה שלהם; חזרות נספרות פעם אחת לדקה.",
        "gvNoFailures": "לא היה אימות שנכשל בתקופה הזו.", "gvPrefix": "תחילית המפתח", "gvMinutes": "דקות עם כשלים", "gvFirst": "ראשון", "gvLast": "אחרון",
        "gvFailedKPI": "דקות עם כניסות שנכשלו", "gvUnusedKPI": "מפתחות לא בשימוש",
        "gvRecordsIntro": "מה מעובד, למה, על איזה בסיס חוקי, לכמה זמן ומי מקבל את המידע (סעיף 30 ל-GDPR), מתוך המרשם והיעדים העדכניים. אין בו מידע אישי.",
        "gvController": "בעל השליטה במידע", "gvContact": "איש קשר", "gvPolicy": "מדיניות פרטיות", "gvJurisdiction": "תחום שיפוט", "gvSubjects": "נושאי המידע",
        "gvBasis": "בסיס חוקי", "gvRetention": "נשמר למשך", "gvDays": "ימים", "gvDPV": "מטרה לפי DPV", "gvNotice": "הודעה עדכנית", "gvMarketing": "דיוור ישיר",
        "gvCategories": "סוגי מידע", "gvRecipients": "נמענים", "gvTeams": "צוותים", "gvExternal": "יעדים", "gvNoCategories": "אין שדות למסירה.",
        "gvNoTeams": "אף צוות אינו משתמש במטרה זו.", "gvNoExternal": "אף יעד אינו משרת מטרה זו.", "gvSpecial": "מידע רגיש", "gvType": "סוג",
        "gvDownloads": "הורדה", "gvDownloadHTML": "HTML להדפסה", "gvNotes": "היקף", "gvPurposeCol": "מטרה",
        "gvSubjectsText": "לקוחות ומבקרים שמוסרים מידע או נותנים הסכמה דרך הטפסים, מרכז ההעדפות או ה-API של בעל השליטה במידע.",
        "gvRecipientsNote": "הנמענים הם הצוותים הפנימיים שמורשים להשתמש בכל מטרה ויעדי ה-Webhook שמשרתים אותה. יעד מקבל רק שדות של המטרות שהוא משרת, ורק של אנשים שהסכמתם מתירה זאת.",
    ]
}
