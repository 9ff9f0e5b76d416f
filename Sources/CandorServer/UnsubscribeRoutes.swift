import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/unsubscribe/{token}`: the link in every newsletter's `List-Unsubscribe` header and footer.
///
/// GET shows a confirmation page (never a redirect, and it changes nothing: link scanners open it).
/// POST with exactly `List-Unsubscribe=One-Click` (RFC 8058, sent by mail clients, so no CSRF token)
/// withdraws consent for the newsletter's purpose; the page's own form posts with a CSRF token. Any
/// other body is a 400 problem and writes nothing.
struct UnsubscribeRoutes {
    let store: CandorStore
    let portal: PortalRoutes
    let support: RouteSupport

    /// The token's signed purpose is `unsubscribe.{purpose}`; a year, because a newsletter sits in an
    /// inbox for long and RFC 8058 expects the link to keep working.
    static let linkPrefix = "unsubscribe."
    static let linkLifetime: Int64 = 365 * 24 * 60 * 60 * 1000
    static let oneClickBody = "List-Unsubscribe=One-Click"

    static func token(links: SubjectLinks, subjectId: String, purpose: String, now: Int64) -> String {
        links.issue(subjectId: subjectId, purpose: linkPrefix + purpose, now: now, lifetimeMillis: linkLifetime)
    }

    var links: SubjectLinks { store.subjectLinks }

    func add(to router: Router<CandorRequestContext>) {
        router.get("unsubscribe/:token") { request, context in try await show(request, context) }
        router.post("unsubscribe/:token") { request, context in try await post(request, context) }
    }

    /// The verified claims and the purpose, or nil. The purpose is read from the payload only to ask
    /// `verify` for it, and `verify` checks the signature before anything in it is believed.
    func claims(_ token: String) -> Result<(SubjectLinkClaims, String), SubjectLinkError> {
        guard let first = token.split(separator: ".").first, let payload = SubjectLinks.decodeBase64URL(String(first)),
              let signedPurpose = String(decoding: payload, as: UTF8.self).split(separator: "\n").first.map(String.init),
              signedPurpose.hasPrefix(Self.linkPrefix)
        else { return .failure(.invalid) }
        return links.verify(token, purpose: signedPurpose, now: store.currentMillis).map { ($0, String(signedPurpose.dropFirst(Self.linkPrefix.count))) }
    }

    func strings(_ language: PageLanguage) -> [String: String] {
        var merged = PortalStrings.of(language).merging(UnsubscribeStrings.of(language)) { $1 }
        merged["title"] = merged["unsubTitle"]
        return merged
    }

    func purposeName(_ key: String, _ language: PageLanguage) -> String {
        store.registry.purposes[key].map { $0.names[language.code] ?? $0.names["en"] ?? key } ?? key
    }

    func show(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let language = PageLanguage.choose(request)
        let t = strings(language)
        switch claims(context.parameters.get("token") ?? "") {
        case .failure(.expired):
            return portal.message(language, path: request.uri.path, status: .gone, heading: "expiredHeading", body: "unsubExpiredBody", actions: [("/p", "unsubPreferences")], strings: t)
        case .failure:
            return portal.message(language, path: request.uri.path, status: .notFound, heading: "invalidHeading", body: "unsubInvalidBody", actions: [], strings: t)
        case .success(let (claims, purpose)):
            return portal.render("unsubscribe", language, path: request.uri.path, [
                "t": t, "heading": t["unsubHeading"]!, "purpose": purposeName(purpose, language),
                "question": t["unsubQuestion"]!.replacingOccurrences(of: "{purpose}", with: purposeName(purpose, language)),
                "csrf": links.tag("csrf-unsubscribe", claims.nonce), "action": request.uri.path,
            ])
        }
    }

    func post(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let language = PageLanguage.choose(request)
        let t = strings(language)
        let body = (try? await request.body.collect(upTo: 4096)).map { String(buffer: $0) }
        let claimed = claims(context.parameters.get("token") ?? "")
        guard case .success(let (claims, purpose)) = claimed else {
            if case .failure(.expired) = claimed { throw Problem.field(.gone, .gone, field: "token", "the token of this unsubscribe link has expired") }
            throw CandorError(.notFound, "the token is not a valid unsubscribe link", errors: [FieldError("token", "is not a valid unsubscribe link")])
        }
        let isOneClick = body?.trimmingCharacters(in: .whitespacesAndNewlines) == Self.oneClickBody
        if !isOneClick {
            let form = FormData(body ?? "")
            guard !form.first("csrf").isEmpty else {
                throw Problem.field(.badRequest, .malformed, field: "body", "send exactly 'List-Unsubscribe=One-Click' (RFC 8058)")
            }
            guard links.checkTag("csrf-unsubscribe", claims.nonce, presented: form.first("csrf")) else {
                return portal.message(language, path: request.uri.path, status: .forbidden, heading: "csrfHeading", body: "csrfBody",
                                      actions: [(request.uri.path, "unsubBack")], strings: t)
            }
        }
        do {
            _ = try await store.unsubscribe(subjectId: claims.subjectId, purpose: purpose)
        } catch let error as CandorError where error.kind == .gone || error.kind == .notFound {
            return portal.message(language, path: request.uri.path, status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [], strings: t)
        }
        let preferences = links.issue(subjectId: claims.subjectId, purpose: PreferenceCenter.linkPurpose, now: store.currentMillis, lifetimeMillis: PreferenceCenter.linkLifetime)
        return portal.render("unsubscribe", language, path: request.uri.path, [
            "t": t, "heading": t["unsubDoneHeading"]!, "done": true,
            "doneBody": t["unsubDoneBody"]!.replacingOccurrences(of: "{purpose}", with: purposeName(purpose, language)),
            "preferences": "/p/\(preferences)",
        ])
    }
}

/// The unsubscribe page's words, laid over the portal's.
enum UnsubscribeStrings {
    static func of(_ language: PageLanguage) -> [String: String] { all[language.code] ?? all["en"]! }

    static let all: [String: [String: String]] = [
        "en": [
            "unsubTitle": "Unsubscribe",
            "unsubHeading": "Unsubscribe",
            "unsubQuestion": "Stop receiving e-mails for “{purpose}”? We will record that you withdrew your consent, and send no more of them.",
            "unsubConfirm": "Yes, unsubscribe me",
            "unsubKeep": "Keep my subscription",
            "unsubDoneHeading": "You are unsubscribed",
            "unsubDoneBody": "We will send you no more e-mails for “{purpose}”. Changed your mind, or want to tell us what interests you? Your preferences are one click away.",
            "unsubPreferences": "Open my preferences",
            "unsubBack": "Back",
            "unsubExpiredBody": "This unsubscribe link has expired. Open your preferences to change what we send you.",
            "unsubInvalidBody": "This unsubscribe link is not valid. Use the link in a recent e-mail, or open your preferences.",
        ],
        "he": [
            "unsubTitle": "הסרה מרשימת התפוצה",
            "unsubHeading": "הסרה מרשימת התפוצה",
            "unsubQuestion": "להפסיק לקבל הודעות בנושא „{purpose}”? נרשום שביטלתם את ההסכמה שלכם, ולא נשלח עוד הודעות כאלה.",
            "unsubConfirm": "כן, להסיר אותי",
            "unsubKeep": "להישאר ברשימה",
            "unsubDoneHeading": "הוסרתם מרשימת התפוצה",
            "unsubDoneBody": "לא נשלח לכם עוד הודעות בנושא „{purpose}”. שיניתם את דעתכם, או רוצים לספר לנו מה מעניין אתכם? ההעדפות שלכם במרחק לחיצה.",
            "unsubPreferences": "לפתוח את ההעדפות שלי",
            "unsubBack": "חזרה",
            "unsubExpiredBody": "תוקף הקישור להסרה פג. פתחו את ההעדפות שלכם כדי לשנות את מה שאנחנו שולחים לכם.",
            "unsubInvalidBody": "הקישור להסרה אינו תקין. השתמשו בקישור שבהודעה עדכנית, או פתחו את ההעדפות שלכם.",
        ],
    ]
}
