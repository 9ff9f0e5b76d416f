import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Questionnaires, quizzes and incentives: the admin API under `/v1/surveys` and `/v1/incentive-pools`,
/// the secret-key answer API, and the hosted page at `/s/{survey_id}/{token}`.
///
/// The hosted page is for a known person only: its link is signed for that person and that survey and
/// expires after seven days. One question per page, a plain form POST whose CSRF token is bound to the
/// link (no cookie, so it also works inside an iframe on the shop's own site), English and Hebrew.
/// Framing is allowed only from the origins of the installation's publishable keys.
struct SurveyRoutes {
    let store: CandorStore
    let config: ServerConfig
    let support: RouteSupport
    let portal: PortalRoutes

    static let linkLifetime: Int64 = 7 * 24 * 60 * 60 * 1000
    /// Page views and answers per client address per hour (in memory; the address is never stored).
    static let perClientLimit = 600
    /// CSV uploads of codes may be larger than ordinary JSON bodies (authenticated, `write` role).
    static let maxUploadBytes = 1024 * 1024

    var links: SubjectLinks { store.subjectLinks }

    func add(pages router: Router<CandorRequestContext>, api: RouterGroup<CandorRequestContext>) {
        api.post("surveys") { request, context in
            let principal = try support.principal(context, .write)
            let (input, _) = try await support.decode(SurveyInput.self, from: request)
            return try support.json(try await store.createSurvey(input, by: principal), status: .created)
        }
        api.get("surveys") { _, context in
            _ = try support.principal(context, .write)
            return try support.json(["surveys": try await store.surveys()])
        }
        api.get("surveys/:survey") { _, context in
            _ = try support.principal(context, .write)
            return try support.json(try await known(support.parameter(context, "survey")))
        }
        api.put("surveys/:survey") { request, context in
            let principal = try support.principal(context, .write)
            let id = try support.parameter(context, "survey")
            _ = try await known(id)
            let (input, _) = try await support.decode(SurveyInput.self, from: request)
            return try support.json(try await store.replaceSurvey(id, input, by: principal))
        }
        for (verb, published) in [("publish", true), ("close", false)] {
            api.post("surveys/:survey/\(verb)") { _, context in
                let principal = try support.principal(context, .write)
                return try support.json(try await store.setSurveyStatus(try support.parameter(context, "survey"), published: published, by: principal))
            }
        }
        api.post("surveys/:survey/responses/:subject/answers") { request, context in
            let principal = try support.principal(context, .write)
            let surveyId = try support.parameter(context, "survey")
            let subjectId = try support.parameter(context, "subject")
            let (input, body) = try await support.decode(AnswerInput.self, from: request)
            let outcome = try await store.answerSurvey(surveyId: surveyId, subjectId: subjectId, questionId: input.question, value: input.value,
                                                       notices: input.notices, by: principal, idempotency: try support.idempotency(request, body: body))
            return try support.answer(outcome, status: .created)
        }
        api.post("surveys/:survey/links/:subject") { request, context in
            let principal = try support.principal(context, .write)
            let survey = try await known(support.parameter(context, "survey"))
            let subjectId = try support.parameter(context, "subject")
            try await store.auditLinkIssued(subjectId: subjectId, action: "survey.link.issued", by: principal)
            let url = link(surveyId: survey.id, subjectId: subjectId, language: PageLanguage.choose(request))
            return try support.json(PortalRoutes.RightsLinkView(url: url, expiresAt: Timestamp.rfc3339(store.currentMillis + Self.linkLifetime)), status: .created)
        }

        api.post("incentive-pools") { request, context in
            let principal = try support.principal(context, .write)
            let (input, _) = try await support.decode(IncentivePoolInput.self, from: request)
            return try support.json(try await store.createIncentivePool(input, by: principal), status: .created)
        }
        api.get("incentive-pools/:pool") { _, context in
            _ = try support.principal(context, .write)
            let id = try support.parameter(context, "pool")
            guard let pool = try await store.incentivePool(id) else { throw CandorError(.notFound, "no incentive pool '\(id)'") }
            return try support.json(pool)
        }
        api.post("incentive-pools/:pool/codes") { request, context in
            let principal = try support.principal(context, .write)
            let id = try support.parameter(context, "pool")
            let type = (request.headers[.contentType] ?? "").lowercased()
            if type.hasPrefix("text/csv") {
                guard let buffer = try? await request.body.collect(upTo: Self.maxUploadBytes) else {
                    throw CandorError(.tooLarge, "the upload exceeds \(Self.maxUploadBytes) bytes", errors: [FieldError("body", "must be at most \(Self.maxUploadBytes) bytes")])
                }
                let codes = try IncentiveCodes.parseCSV(String(buffer: buffer)).get()
                return try support.json(try await store.addIncentiveCodes(poolId: id, codes: codes, by: principal), status: .created)
            }
            let (input, _) = try await support.decode(IncentiveGenerateInput.self, from: request)
            return try support.json(try await store.generateIncentiveCodes(poolId: id, input, by: principal), status: .created)
        }

        router.get("s/:survey") { request, _ in
            let language = PageLanguage.choose(request)
            return page(portal.message(language, path: request.uri.path, status: .unauthorized, heading: "surveyLinkHeading", body: "surveyLinkBody",
                                       actions: [], strings: SurveyStrings.of(language)))
        }
        router.get("s/:survey/:token") { request, context in try await show(request, context) }
        router.post("s/:survey/:token") { request, context in try await answer(request, context) }
    }

    /// One answer sent by the business's server for a person it knows.
    struct AnswerInput: Codable {
        var question: String
        var value: JSONValue
        /// purpose → notice version shown with the question; absent: the current versions were shown.
        var notices: [String: Int]?
    }

    func known(_ id: String) async throws -> Survey {
        guard let survey = try await store.survey(id) else { throw CandorError(.notFound, "no survey '\(id)'") }
        return survey
    }

    /// A fresh link to the hosted survey for one person, valid for seven days.
    func link(surveyId: String, subjectId: String, language: PageLanguage) -> String {
        let token = links.issue(subjectId: subjectId, purpose: Self.linkPurpose(surveyId), now: store.currentMillis, lifetimeMillis: Self.linkLifetime)
        return "\(config.baseURL)/s/\(surveyId)/\(token)?lang=\(language.code)"
    }

    /// A link is signed for one survey: it cannot open another one, nor the preference center.
    static func linkPurpose(_ surveyId: String) -> String { "survey:\(surveyId)" }

    // MARK: - The hosted page

    /// Lets the shop's own pages frame the survey: `frame-ancestors` lists the origins of the live
    /// publishable keys; every other page keeps `frame-ancestors 'none'`.
    ///
    /// A survey that ends with a redirect answers its last form with a 303 to another site; browsers
    /// apply `form-action` to that redirect, so the question pages of such a survey allow its origin.
    func page(_ response: Response, survey: Survey? = nil) -> Response {
        var response = response
        let origins = Set(store.registry.keysById.values.filter { $0.kind == .publishable && $0.revokedAt == nil }.flatMap(\.origins))
            .filter(Self.isOrigin).sorted()
        let ancestors = (["'self'"] + origins).joined(separator: " ")
        var policy = (response.headers[.contentSecurityPolicy] ?? "").replacingOccurrences(of: "frame-ancestors 'none'", with: "frame-ancestors \(ancestors)")
        if let survey, survey.ending.type == .redirect, let target = survey.ending.url.flatMap(URL.init(string:)), let host = target.host {
            let origin = "https://\(host)" + (target.port.map { ":\($0)" } ?? "")
            if Self.isOrigin(origin) { policy = policy.replacingOccurrences(of: "form-action 'self'", with: "form-action 'self' \(origin)") }
        }
        response.headers[.contentSecurityPolicy] = policy
        return response
    }

    /// An origin safe to put into a header: scheme, host and optional port, nothing else.
    static func isOrigin(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme, ["https", "http"].contains(scheme), let host = url.host, !host.isEmpty else { return false }
        return text == "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "") && text.allSatisfy { $0.isASCII && !$0.isWhitespace && $0 != ";" && $0 != "'" }
    }

    /// The verified link, the survey and the person; or the page that says why not.
    func open(_ request: Request, _ context: CandorRequestContext) async throws -> Result<(SubjectLinkClaims, Survey), PreferenceCenter.ResponseBox> {
        let language = PageLanguage.choose(request)
        let t = SurveyStrings.of(language)
        let surveyId = context.parameters.get("survey") ?? ""
        guard portal.limiter.allow("survey:" + (context.remoteIP ?? "unknown"), limit: Self.perClientLimit, now: store.currentMillis) else {
            return .failure(.init(portal.message(language, path: request.uri.path, status: .tooManyRequests, heading: "rateHeading", body: "rateBody", actions: [], strings: t)))
        }
        let claims: SubjectLinkClaims
        switch links.verify(context.parameters.get("token") ?? "", purpose: Self.linkPurpose(surveyId), now: store.currentMillis) {
        case .failure(.expired):
            return .failure(.init(portal.message(language, path: request.uri.path, status: .gone, heading: "expiredHeading", body: "surveyExpiredBody", actions: [], strings: t)))
        case .failure(.invalid):
            return .failure(.init(portal.message(language, path: request.uri.path, status: .notFound, heading: "invalidHeading", body: "surveyLinkBody", actions: [], strings: t)))
        case .success(let verified):
            claims = verified
        }
        guard let survey = try await store.survey(surveyId), survey.status != "draft" else {
            return .failure(.init(portal.message(language, path: request.uri.path, status: .notFound, heading: "surveyMissingHeading", body: "surveyMissingBody", actions: [], strings: t)))
        }
        return .success((claims, survey))
    }

    func show(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let opened = try await open(request, context)
        guard case .success(let (claims, survey)) = opened else {
            if case .failure(let box) = opened { return page(box.response) }
            return Response(status: .internalServerError)
        }
        let language = PageLanguage.choose(request)
        let progress: SurveyProgress
        do {
            progress = try await store.surveyProgress(surveyId: survey.id, subjectId: claims.subjectId)
        } catch let error as CandorError where error.kind == .gone || error.kind == .notFound {
            let t = SurveyStrings.of(language)
            return page(portal.message(language, path: request.uri.path, status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [], strings: t))
        }
        let gpc = try await honourGPC(request, subjectId: claims.subjectId)
        if progress.isCompleted { return page(ending(request, survey: survey, progress: progress, gpc: gpc)) }
        if survey.status != "published" {
            let t = SurveyStrings.of(language)
            return page(portal.message(language, path: request.uri.path, status: .gone, heading: "surveyClosedHeading", body: "surveyClosedBody", actions: [], strings: t))
        }
        // Back: an answered question on the path may be shown again to change its answer.
        let asked = request.uri.queryParameters.get("q").map { String($0) }
        let questionId = asked.flatMap { progress.answered.contains($0) ? $0 : nil } ?? progress.next ?? ""
        var proposed: JSONValue?
        if let shown = survey.question(questionId) { proposed = try await currentAnswer(claims.subjectId, shown) }
        return page(question(request, claims: claims, survey: survey, progress: progress, questionId: questionId, gpc: gpc, proposed: proposed), survey: survey)
    }

    /// The person's current answer to a question (to fill in the form when they come Back to it).
    func currentAnswer(_ subjectId: String, _ question: SurveyQuestion) async throws -> JSONValue? {
        guard let key = question.field else { return nil }
        return try await store.preferenceState(subjectId: subjectId, audited: false)?.values[key]
    }

    func question(_ request: Request, claims: SubjectLinkClaims, survey: Survey, progress: SurveyProgress, questionId: String,
                  gpc: Bool, submitted: [String]? = nil, error: String? = nil, status: HTTPResponse.Status = .ok, proposed: JSONValue? = nil) -> Response {
        let language = PageLanguage.choose(request)
        let title = text(survey.title, language)
        let t = SurveyStrings.of(language, title: title)
        let view = PortalView(store: store, language: language)
        let registry = store.registry
        guard let question = survey.question(questionId) else {
            return portal.message(language, path: request.uri.path, status: .notFound, heading: "surveyMissingHeading", body: "surveyMissingBody", actions: [], strings: t)
        }
        let path = "/s/\(survey.id)/\(context(request))"
        var form: [String: Any]
        var notices: [[String: Any]] = []
        if let key = question.field, let field = registry.fields[key] {
            form = view.fieldForm(field, proposed: proposed, submitted: submitted)
            notices = field.purposes.sorted().compactMap { purposeKey in
                guard let purpose = registry.purposes[purposeKey], let notice = registry.currentNotice(of: purposeKey) else { return nil }
                let words = notice.texts[language.code] ?? notice.texts["en"]
                return PortalView.compact(["key": purposeKey, "name": view.purposeName(purpose.key), "why": words?.why, "benefit": words?.benefit, "version": notice.version])
            }
        } else {
            let chosen = Set(submitted ?? [proposed?.stringValue].compactMap { $0 })
            let options: [[String: Any]] = (question.options ?? []).enumerated().map { index, option in
                ["id": "value-\(index)", "value": option.key, "label": text(option.labels, language), "checked": chosen.contains(option.key)]
            }
            form = ["fieldKey": question.id, "fieldLabel": text(question.prompt ?? [:], language), "options": options, "hasOptions": true, "isSingle": true, "isMulti": false]
        }
        if let error { form["error"] = error }
        let index = progress.answered.firstIndex(of: questionId)
        let step = index.map { $0 + 1 } ?? progress.step
        let previous = (index ?? progress.answered.count) > 0 ? progress.answered[(index ?? progress.answered.count) - 1] : nil
        let isLast = index == nil && progress.steps == step
        let values: [String: Any?] = [
            "t": t, "heading": title, "surveyTitle": title, "question": form, "questionId": questionId, "notices": notices, "hasNotices": !notices.isEmpty,
            "isScored": question.isScored, "csrf": links.tag("csrf-survey\n\(survey.id)", claims.nonce), "action": path,
            "step": step, "steps": progress.steps, "stepText": t["stepOf"]!.replacingOccurrences(of: "%1", with: String(step)).replacingOccurrences(of: "%2", with: String(progress.steps)),
            "backHref": previous.map { "\(path)?lang=\(language.code)&q=\($0)" }, "hasBack": previous != nil,
            "submitLabel": isLast ? t["finish"]! : t["next"]!, "gpc": gpc, "hasError": error != nil,
        ]
        return portal.render("survey", language, path: path, status: status, PortalView.compact(values))
    }

    /// The token part of the path, as it came.
    func context(_ request: Request) -> String {
        String(request.uri.path.split(separator: "/").last ?? "")
    }

    func ending(_ request: Request, survey: Survey, progress: SurveyProgress, gpc: Bool) -> Response {
        let language = PageLanguage.choose(request)
        let title = text(survey.title, language)
        let t = SurveyStrings.of(language, title: title)
        let ending = progress.ending
        let result = ending?.result
        let incentive = ending?.incentive
        var values: [String: Any?] = [
            "t": t, "heading": title, "surveyTitle": title, "gpc": gpc,
            "message": ending?.message.map { text($0, language) } ?? t["thanksBody"],
            "isResult": result != nil, "resultTitle": result.map { text($0.title, language) }, "resultText": result?.text.map { text($0, language) },
            "resultURL": result?.url,
            "score": progress.score.map { t["scoreIs"]!.replacingOccurrences(of: "%1", with: PortalView.number($0)) },
            "code": incentive?.code, "hasCode": incentive?.code != nil,
            "content": incentive?.type == .content ? incentive?.text.map { text($0, language) } : nil,
            "contentURL": incentive?.type == .content ? incentive?.url : nil,
            "exhausted": ending?.incentiveStatus == .exhausted, "expired": ending?.incentiveStatus == .expired,
            "redirectURL": survey.ending.type == .redirect ? survey.ending.url : nil,
        ]
        values["hasContent"] = values["content"] as? String != nil || values["contentURL"] as? String != nil
        return portal.render("survey_end", language, path: request.uri.path, PortalView.compact(values))
    }

    func answer(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let opened = try await open(request, context)
        guard case .success(let (claims, survey)) = opened else {
            if case .failure(let box) = opened { return page(box.response) }
            return Response(status: .internalServerError)
        }
        let language = PageLanguage.choose(request)
        let t = SurveyStrings.of(language, title: text(survey.title, language))
        let here = request.uri.path
        let form = try await PortalRoutes.form(request, limit: support.maxBodyBytes)
        guard links.checkTag("csrf-survey\n\(survey.id)", claims.nonce, presented: form.first("csrf")) else {
            return page(portal.message(language, path: here, status: .forbidden, heading: "csrfHeading", body: "csrfBody", actions: [("\(here)?lang=\(language.code)", "toSurvey")], strings: t))
        }
        guard survey.status == "published" else {
            return page(portal.message(language, path: here, status: .conflict, heading: "surveyClosedHeading", body: "surveyClosedBody", actions: [], strings: t))
        }
        let progress: SurveyProgress
        do {
            progress = try await store.surveyProgress(surveyId: survey.id, subjectId: claims.subjectId)
        } catch let error as CandorError where error.kind == .gone || error.kind == .notFound {
            return page(portal.message(language, path: here, status: .gone, heading: "erasedHeading", body: "erasedBody", actions: [], strings: t))
        }
        let gpc = try await honourGPC(request, subjectId: claims.subjectId)
        if progress.isCompleted { return page(Response(status: .seeOther, headers: [.location: "\(here)?lang=\(language.code)"])) }
        let questionId = form.first("question")
        guard let question = survey.question(questionId), SurveyRules.mayAnswer(questionId, at: SurveyPosition(answered: progress.answered, skipped: progress.skipped, current: progress.next)) else {
            return page(portal.message(language, path: here, status: .conflict, heading: "surveyTitle", body: "notOnPathBody", actions: [("\(here)?lang=\(language.code)", "toSurvey")], strings: t))
        }
        let submitted = form.all("v")
        let registry = store.registry
        var value: JSONValue
        var shown: [String: Int]?
        if let key = question.field, let field = registry.fields[key] {
            // The notice versions shown with the question must still be current (as in the preference center).
            var cited = [String: Int]()
            for purposeKey in field.purposes where registry.purposes[purposeKey] != nil {
                guard let version = Int(form.first("notice.\(purposeKey)")), version == registry.purposes[purposeKey]?.currentNoticeVersion else {
                    return page(portal.message(language, path: here, status: .conflict, heading: "noticeChangedHeading", body: "noticeChangedBody",
                                               actions: [("\(here)?lang=\(language.code)&q=\(questionId)", "reviewNotice")], strings: t))
                }
                cited[purposeKey] = version
            }
            shown = cited
            // The page asks for an answer: an empty form is a missed question, not "none of these".
            if submitted.allSatisfy({ $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
                return page(self.question(request, claims: claims, survey: survey, progress: progress, questionId: questionId, gpc: gpc,
                                          submitted: submitted, error: t["answerNeeded"]!, status: .unprocessableContent), survey: survey)
            }
            switch PortalView(store: store, language: language).parse(submitted, for: field) {
            case .success(let parsed): value = parsed
            case .failure(let error):
                return page(self.question(request, claims: claims, survey: survey, progress: progress, questionId: questionId, gpc: gpc,
                                          submitted: submitted, error: error.message, status: .unprocessableContent), survey: survey)
            }
        } else {
            guard submitted.count == 1, (question.options ?? []).contains(where: { $0.key == submitted[0] }) else {
                return page(self.question(request, claims: claims, survey: survey, progress: progress, questionId: questionId, gpc: gpc,
                                          submitted: submitted, error: t["answerNeeded"]!, status: .unprocessableContent), survey: survey)
            }
            value = .string(submitted[0])
        }
        let after: SurveyProgress
        do {
            after = try await store.answerSurvey(surveyId: survey.id, subjectId: claims.subjectId, questionId: questionId, value: value, notices: shown,
                                                 by: nil, selfService: true)
        } catch let error as CandorError where error.kind == .validation {
            return page(self.question(request, claims: claims, survey: survey, progress: progress, questionId: questionId, gpc: gpc,
                                      submitted: submitted, error: error.errors.first?.message ?? t["answerNeeded"]!, status: .unprocessableContent), survey: survey)
        } catch let error as CandorError where error.kind == .conflict {
            // Completed in another tab a moment ago: show the ending.
            return page(Response(status: .seeOther, headers: [.location: "\(here)?lang=\(language.code)"]))
        }
        // A redirect ending with nothing to show sends the person straight on.
        if after.isCompleted, survey.ending.type == .redirect, after.ending?.incentive == nil, after.ending?.incentiveStatus == IncentiveOutcome.none, let url = survey.ending.url {
            return page(Response(status: .seeOther, headers: [.location: url]))
        }
        return page(Response(status: .seeOther, headers: [.location: "\(here)?lang=\(language.code)"]))
    }

    /// `Sec-GPC: 1` on the survey records an opt-out of sale and sharing for the person, as on every
    /// collection point (the preference center's rule, reused).
    func honourGPC(_ request: Request, subjectId: String) async throws -> Bool {
        guard request.headers[PreferenceCenter.gpcHeader]?.trimmingCharacters(in: .whitespaces) == "1",
              let state = try await store.preferenceState(subjectId: subjectId, audited: false) else { return false }
        return try await PreferenceCenter(store: store, config: config, support: support, portal: portal).honourGPC(request, subjectId: subjectId, state: state)
    }

    func text(_ texts: [String: String], _ language: PageLanguage) -> String { texts[language.code] ?? texts["en"] ?? "" }
}

// MARK: - Demo

extension DemoWorkspace {
    /// The demo's questionnaire (with a pool of 200 generated codes, progressive profiling over 90 days
    /// and a branch for runners) and quiz (scored, with a result that recommends a page), both published.
    /// Returns their ids.
    @discardableResult
    public static func seedSurveys(_ store: CandorStore, by principal: Principal) async throws -> [String] {
        let pool = try await store.createIncentivePool(IncentivePoolInput(name: "Demo welcome codes"), by: principal)
        _ = try await store.generateIncentiveCodes(poolId: pool.id, IncentiveGenerateInput(generate: 200, pattern: "SHOE-####-XXXX"), by: principal)
        let questionnaire = try await store.createSurvey(SurveyInput(
            title: ["en": "Help us fit your next pair", "he": "עזרו לנו להתאים לכם את הזוג הבא"], kind: .questionnaire,
            questions: [
                SurveyQuestion(id: "sport", field: "interests", next: [
                    SurveyBranch(condition: SurveyCondition(question: "sport", equals: "running"), goto: "size"),
                ]),
                SurveyQuestion(id: "offers", field: "offer_types"),
                SurveyQuestion(id: "size", field: "shoe_size"),
                SurveyQuestion(id: "often", field: "content_frequency"),
            ],
            ending: SurveyEnding(type: .thankYou, message: ["en": "Thank you! Here is 10% off your next pair.", "he": "תודה! הנה 10% הנחה על הזוג הבא שלכם."]),
            freshnessDays: 90, incentive: SurveyIncentive(type: .pool, poolId: pool.id)), by: principal)
        func option(_ key: String, _ en: String, _ he: String, _ score: Double) -> SurveyOption { SurveyOption(key: key, labels: ["en": en, "he": he], score: score) }
        let quiz = try await store.createSurvey(SurveyInput(
            title: ["en": "Which runner are you?", "he": "איזה רץ אתם?"], kind: .quiz,
            questions: [
                SurveyQuestion(id: "ground", prompt: ["en": "Where do you run most?", "he": "איפה אתם רצים בדרך כלל?"], options: [
                    option("road", "On roads", "על כבישים", 0), option("park", "In parks", "בפארקים", 2), option("trail", "On mountain trails", "בשבילי הרים", 4),
                ]),
                SurveyQuestion(id: "distance", prompt: ["en": "How far is a usual run?", "he": "מה אורך ריצה רגילה?"], options: [
                    option("short", "Under 5 km", "פחות מ-5 ק״מ", 0), option("mid", "5 to 15 km", "5 עד 15 ק״מ", 1), option("long", "Over 15 km", "יותר מ-15 ק״מ", 3),
                ]),
                SurveyQuestion(id: "size", field: "shoe_size"),
            ],
            ending: SurveyEnding(type: .result, results: [
                SurveyResult(min: 0, max: 2, title: ["en": "City cruiser", "he": "שועטי העיר"], text: ["en": "Light, cushioned road shoes suit you.", "he": "נעלי כביש קלות ומרופדות מתאימות לכם."],
                             url: "https://shop.example/road"),
                SurveyResult(min: 3, max: 7, title: ["en": "Trail explorer", "he": "חוקרי השבילים"], text: ["en": "Grippy trail shoes with a rock plate.", "he": "נעלי שטח עם אחיזה ולוחית הגנה."],
                             url: "https://shop.example/trail"),
            ]),
            incentive: SurveyIncentive(type: .content, text: ["en": "Our trail-running guide is unlocked for you.", "he": "המדריך שלנו לריצת שטח נפתח בשבילכם."],
                                       url: "https://shop.example/guide")), by: principal)
        for survey in [questionnaire, quiz] { _ = try await store.setSurveyStatus(survey.id, published: true, by: principal) }
        return [questionnaire.id, quiz.id]
    }
}
