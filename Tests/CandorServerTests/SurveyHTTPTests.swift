import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Questionnaires, quizzes and incentives over HTTP: the admin API, the answer API and the hosted page.
@Suite struct SurveyHTTPTests {
    static let form = "application/x-www-form-urlencoded"

    /// interests (running → shoe) · channels · shoe_size, with a pool incentive when `pool` is given.
    static func body(pool: String? = nil, extra: String = "") -> String {
        let incentive = pool.map { #","incentive":{"type":"pool","pool_id":"\#($0)"}"# } ?? ""
        return #"{"title":{"en":"Tell us about your running","he":"ספרו לנו על הריצה שלכם"},"kind":"questionnaire","questions":["#
            + #"{"id":"q1","field":"interests","next":[{"if":{"question":"q1","equals":"running"},"goto":"q3"}]},"#
            + #"{"id":"q2","field":"channels"},{"id":"q3","field":"shoe_size"}]"# + incentive + extra + "}"
    }

    func createPool(_ server: TestServer, codes: String = "SHOE-0001\nSHOE-0002\n") async throws -> String {
        let pool = try await server.api.post("/v1/incentive-pools", key: server.keys.marketing, body: #"{"name":"Running shoes"}"#)
        #expect(pool.status == .created, "\(pool.text)")
        let id = try #require(try pool.object()["id"] as? String)
        let upload = try await server.api.post("/v1/incentive-pools/\(id)/codes", key: server.keys.marketing, body: codes, contentType: "text/csv")
        #expect(upload.status == .created, "\(upload.text)")
        return id
    }

    func createSurvey(_ server: TestServer, body: String, publish: Bool = true) async throws -> String {
        let reply = try await server.api.post("/v1/surveys", key: server.keys.marketing, body: body)
        #expect(reply.status == .created, "\(reply.text)")
        let id = try #require(try reply.object()["id"] as? String)
        if publish { #expect(try await server.api.post("/v1/surveys/\(id)/publish", key: server.keys.marketing, body: "").status == .ok) }
        return id
    }

    func answer(_ server: TestServer, _ survey: String, _ subject: String, _ body: String) async throws -> Reply {
        try await server.api.post("/v1/surveys/\(survey)/responses/\(subject)/answers", key: server.keys.marketing, body: body)
    }

    @Test func adminAPIManagesSurveysAndRefusesBadDefinitions() async throws {
        try await TestServer.run { server in
            let id = try await createSurvey(server, body: Self.body(), publish: false)
            #expect(try await server.api.send(.put, "/v1/surveys/\(id)", key: server.keys.marketing, body: Self.body(extra: #","freshness_days":90"#)).status == .ok)
            let one = try await server.api.get("/v1/surveys/\(id)", key: server.keys.marketing)
            #expect(try one.object()["freshness_days"] as? Int == 90 && one.object()["status"] as? String == "draft")
            #expect(try await server.api.post("/v1/surveys/\(id)/publish", key: server.keys.marketing, body: "").status == .ok)
            try await server.api.send(.put, "/v1/surveys/\(id)", key: server.keys.marketing, body: Self.body()).expectProblem(.conflict, field: "status")
            let list = try await server.api.get("/v1/surveys", key: server.keys.marketing)
            #expect((try list.object()["surveys"] as? [[String: Any]])?.count == 1)
            let closed = try await server.api.post("/v1/surveys/\(id)/close", key: server.keys.marketing, body: "")
            #expect(try closed.object()["status"] as? String == "closed")
            try await server.api.post("/v1/surveys/\(id)/publish", key: server.keys.marketing, body: "").expectProblem(.conflict, field: "status")

            let before = try await server.footprint()
            let bad: [(String, String)] = [
                (Self.body().replacingOccurrences(of: #""field":"channels""#, with: #""field":"hat_size""#), "questions[1].field"),
                (Self.body().replacingOccurrences(of: #""equals":"running""#, with: #""equals":"chess""#), "questions[0].next[0].if.equals"),
                (Self.body().replacingOccurrences(of: #""goto":"q3""#, with: #""goto":"q7""#), "questions[0].next[0].goto"),
                (Self.body(extra: #","ending":{"type":"redirect","url":"http://shop.example/"}"#), "ending.url"),
                (Self.body(pool: "ipl_unknown"), "incentive.pool_id"),
                (#"{"title":{"en":"x"},"kind":"poll","questions":[]}"#, "kind"),
            ]
            for (body, field) in bad {
                try await server.api.post("/v1/surveys", key: server.keys.marketing, body: body).expectProblem(.unprocessableContent, field: field)
            }
            #expect(try await server.footprint() == before)
            try await server.api.post("/v1/surveys", key: server.keys.sales, body: Self.body()).expectProblem(.forbidden)
            try await server.api.get("/v1/surveys/srv_missing", key: server.keys.marketing).expectProblem(.notFound)
            try await server.api.post("/v1/surveys", key: nil, body: Self.body()).expectProblem(.unauthorized)
        }
    }

    @Test func poolsTakeCSVAndGeneratedCodesAndReportCounts() async throws {
        try await TestServer.run { server in
            let id = try await createPool(server, codes: "code\nA-1\nA-2\n")
            let generated = try await server.api.post("/v1/incentive-pools/\(id)/codes", key: server.keys.marketing, body: #"{"generate":50,"pattern":"SHOE-####-XXXX"}"#)
            #expect(try generated.status == .created && generated.object()["size"] as? Int == 52)
            let pool = try await server.api.get("/v1/incentive-pools/\(id)", key: server.keys.marketing)
            #expect(try pool.object()["remaining"] as? Int == 52 && pool.object()["issued"] as? Int == 0 && pool.object()["expired"] as? Bool == false)
            let codes = try await server.store.count("incentive_codes")
            try await server.api.post("/v1/incentive-pools/\(id)/codes", key: server.keys.marketing, body: "B-1\nB 2\n", contentType: "text/csv")
                .expectProblem(.unprocessableContent, field: "body.line[2]")
            try await server.api.post("/v1/incentive-pools/\(id)/codes", key: server.keys.marketing, body: "A-1\n", contentType: "text/csv")
                .expectProblem(.unprocessableContent, field: "body.code[0]")
            try await server.api.post("/v1/incentive-pools/\(id)/codes", key: server.keys.marketing, body: #"{"generate":50,"pattern":"X"}"#)
                .expectProblem(.unprocessableContent, field: "pattern")
            #expect(try await server.store.count("incentive_codes") == codes, "a refused upload adds nothing")
            try await server.api.post("/v1/incentive-pools", key: server.keys.marketing, body: #"{"name":"x","expires_at":"soon"}"#)
                .expectProblem(.unprocessableContent, field: "expires_at")
            try await server.api.get("/v1/incentive-pools/ipl_missing", key: server.keys.marketing).expectProblem(.notFound)
            try await server.api.post("/v1/incentive-pools/ipl_missing/codes", key: server.keys.marketing, body: "A\n", contentType: "text/csv").expectProblem(.notFound)
        }
    }

    @Test func answersAreSavedAsGivenAndBadAnswersWriteNothing() async throws {
        try await TestServer.run { server in
            let pool = try await createPool(server)
            let id = try await createSurvey(server, body: Self.body(pool: pool))
            let subject = try await server.createSubject()
            try await server.consent(subject, ["offers": "granted"])
            let first = try await answer(server, id, subject, #"{"question":"q1","value":["running"]}"#)
            #expect(try first.status == .created && first.object()["next"] as? String == "q3", "\(first.text)")
            let profile = try await server.profile(subject, purpose: "offers", key: server.keys.marketing)
            #expect(((profile["values"] as? [String: Any])?["interests"] as? [String: Any])?["collection_point"] as? String == "survey:\(id)")

            let before = try await server.footprint()
            try await answer(server, id, subject, #"{"question":"q9","value":1}"#).expectProblem(.unprocessableContent, field: "question")
            try await answer(server, id, subject, #"{"question":"q2","value":["email"]}"#).expectProblem(.unprocessableContent, field: "question")
            try await answer(server, id, subject, #"{"question":"q3","value":99}"#).expectProblem(.unprocessableContent, field: "value")
            try await answer(server, id, subject, #"{"question":"q1","value":["chess"]}"#).expectProblem(.unprocessableContent, field: "value[0]")
            try await answer(server, id, subject, #"{"question":"q1"}"#).expectProblem(.unprocessableContent, field: "value")
            try await answer(server, id, "sub_missing", #"{"question":"q1","value":["yoga"]}"#).expectProblem(.notFound)
            #expect(try await server.footprint() == before)
            let draft = try await createSurvey(server, body: Self.body(), publish: false)
            let beforeDraft = try await server.footprint()
            try await answer(server, draft, subject, #"{"question":"q1","value":["yoga"]}"#).expectProblem(.conflict, field: "survey")
            #expect(try await server.footprint() == beforeDraft, "a draft takes no answers")

            let completing = #"{"question":"q3","value":42}"#
            let done = try await server.api.post("/v1/surveys/\(id)/responses/\(subject)/answers", key: server.keys.marketing, body: completing, headers: ["Idempotency-Key": "finish-1"])
            let ending = try #require(try done.object()["ending"] as? [String: Any])
            #expect((ending["incentive"] as? [String: Any])?["code"] as? String == "SHOE-0001")
            let after = try await server.footprint()
            // A retried request with the same key gets the first answer back and writes nothing.
            let retried = try await server.api.post("/v1/surveys/\(id)/responses/\(subject)/answers", key: server.keys.marketing, body: completing, headers: ["Idempotency-Key": "finish-1"])
            #expect(retried.status == .created && retried.header("Idempotent-Replayed") == "true" && retried.body == done.body)
            #expect(try await server.footprint() == after)
            try await answer(server, id, subject, #"{"question":"q3","value":43}"#).expectProblem(.conflict, field: "survey")
            #expect(try await server.footprint() == after)
            let export = try await server.api.get("/v1/subjects/\(subject)/export", key: server.keys.admin)
            #expect(export.text.contains("SHOE-0001") && export.text.contains("\"surveys\""))
        }
    }

    @Test func thePortalShowsSurveysAndCodesInThePersonsHistory() async throws {
        try await Portal.run { portal in
            let server = portal.server
            let pool = try await createPool(server)
            let id = try await createSurvey(server, body: Self.body(pool: pool))
            let subject = try await portal.person("runner@example.com")
            _ = try await answer(server, id, subject, #"{"question":"q1","value":["running"]}"#)
            _ = try await answer(server, id, subject, #"{"question":"q3","value":40}"#)
            let session = try await portal.signIn("runner@example.com")
            let me = try await portal.get("/rights/me", session: session)
            #expect(me.text.contains("Tell us about your running") && me.text.contains("SHOE-0001") && me.text.contains("You completed a survey"))
            #expect(!me.text.contains("None yet: you have not answered a survey"))
        }
    }

    /// Opens the hosted page from a fresh link; returns the link's path and the page.
    func open(_ server: TestServer, _ survey: String, _ subject: String, lang: String = "en", headers: [String: String] = [:]) async throws -> (String, Reply) {
        let link = try await server.api.post("/v1/surveys/\(survey)/links/\(subject)?lang=\(lang)", key: server.keys.marketing, body: "")
        #expect(link.status == .created, "\(link.text)")
        let url = try #require(try link.object()["url"] as? String)
        let start = try #require(url.range(of: "/s/")).lowerBound
        let path = String(url[start...].split(separator: "?")[0])
        return (path, try await server.api.get("\(path)?lang=\(lang)", headers: headers))
    }

    func post(_ server: TestServer, _ path: String, _ page: Reply, _ fields: String, csrf: String? = nil, headers: [String: String] = [:]) async throws -> Reply {
        let token = csrf ?? Portal.csrf(page.text) ?? ""
        var notices = ""
        for purpose in ["newsletter", "offers", "research", "support"] where page.text.contains("name=\"notice.\(purpose)\"") { notices += "&notice.\(purpose)=1" }
        let question = page.text.range(of: #"name="question" value="([a-z0-9_]+)""#, options: .regularExpression).map { String(page.text[$0].dropFirst(23).dropLast()) } ?? ""
        return try await server.api.post(path, key: nil, body: "csrf=\(token)&question=\(question)\(notices)&\(fields)", contentType: Self.form, headers: headers)
    }

    @Test func hostedPageWalksTheQuestionsAndShowsTheCode() async throws {
        try await TestServer.run { server in
            let pool = try await createPool(server)
            let id = try await createSurvey(server, body: Self.body(pool: pool))
            let subject = try await server.createSubject()
            let (path, page) = try await open(server, id, subject)
            #expect(page.status == .ok && page.text.contains("Question 1 of 3") && page.text.contains("Why we ask") && page.text.contains("<progress"))
            let csp = try #require(page.header("Content-Security-Policy"))
            #expect(csp.contains("frame-ancestors 'self' https://shop.example") && !csp.contains("script-src"))
            let first = try await post(server, path, page, "v=running")
            #expect(first.status == .seeOther)
            let second = try await server.api.get("\(path)?lang=en")
            #expect(second.text.contains("Shoe size") && second.text.contains("Question 2 of 2") && second.text.contains("&amp;q=q1"), "q2 skipped; Back leads to q1")
            let bad = try await post(server, path, second, "v=99")
            #expect(bad.status == .unprocessableContent && bad.text.contains("field-error"))
            let last = try await post(server, path, second, "v=41")
            #expect(last.status == .seeOther)
            let ending = try await server.api.get("\(path)?lang=he")
            #expect(ending.text.contains("dir=\"rtl\"") && ending.text.contains("value=\"SHOE-0001\"") && ending.text.contains("readonly"))
            // Other pages still refuse to be framed.
            #expect(try await server.api.get("/privacy").header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
        }
    }

    static let quiz = #"{"title":{"en":"Which runner are you?"},"kind":"quiz","questions":["#
        + #"{"id":"ground","prompt":{"en":"Where do you run?"},"options":[{"key":"road","labels":{"en":"Roads"},"score":0},{"key":"trail","labels":{"en":"Trails"},"score":4}]}],"#
        + #""ending":{"type":"result","results":[{"min":0,"max":2,"title":{"en":"City cruiser"}},{"min":3,"max":9,"title":{"en":"Trail explorer"},"url":"https://shop.example/trail"}]},"#
        + #""incentive":{"type":"content","text":{"en":"Our trail guide is yours."},"url":"https://shop.example/guide"}}"#

    @Test func quizPageScoresAndShowsTheResultAndUnlockedContent() async throws {
        try await TestServer.run { server in
            let id = try await createSurvey(server, body: Self.quiz)
            let subject = try await server.createSubject()
            let (path, page) = try await open(server, id, subject)
            #expect(page.text.contains("Where do you run?") && page.text.contains("only counts towards your result"))
            #expect(try await post(server, path, page, "v=mud").status == .unprocessableContent)
            #expect(try await post(server, path, page, "v=trail").status == .seeOther)
            let ending = try await server.api.get("\(path)?lang=en")
            #expect(ending.text.contains("Trail explorer") && ending.text.contains("https://shop.example/trail") && ending.text.contains("Our trail guide is yours."))
            #expect(try await server.store.count("profile_values") == 0, "a quiz answer is not a profile value")
        }
    }

    @Test func redirectEndingSendsThePersonOnAndTheLimiterStopsFloods() async throws {
        try await TestServer.run { server in
            let id = try await createSurvey(server, body: Self.body(extra: #","ending":{"type":"redirect","url":"https://shop.example/thanks"}"#))
            let subject = try await server.createSubject()
            let (path, page) = try await open(server, id, subject)
            // Browsers apply form-action to the redirect that follows the last answer.
            #expect(page.header("Content-Security-Policy")?.contains("form-action 'self' https://shop.example;") == true)
            _ = try await post(server, path, page, "v=running")
            let last = try await server.api.get("\(path)?lang=en")
            let done = try await post(server, path, last, "v=40")
            #expect(done.status == .seeOther && done.header("Location") == "https://shop.example/thanks")
            var status = HTTPResponse.Status.ok
            // 600 page requests per client address per hour (SurveyRoutes.perClientLimit).
            for _ in 0..<601 where status != .tooManyRequests { status = try await server.api.get(path).status }
            #expect(status == .tooManyRequests)
        }
    }

    @Test func hostedPageRefusesBadLinksAndFormsAndHonoursGPC() async throws {
        try await TestServer.run { server in
            let id = try await createSurvey(server, body: Self.body())
            let subject = try await server.createSubject()
            let (path, page) = try await open(server, id, subject, headers: ["Sec-GPC": "1"])
            #expect(page.text.contains("Global Privacy Control"))
            let subjectView = try await server.api.get("/v1/subjects/\(subject)", key: server.keys.marketing, purpose: "offers")
            #expect(try ((subjectView.object()["subject"] as? [String: Any])?["has_opted_out_of_sale"] as? Bool) == true, "\(subjectView.text)")

            let before = try await server.footprint()
            #expect(try await post(server, path, page, "v=running", csrf: "forged").status == .forbidden)
            let tampered = String(path.dropLast(2)) + (path.hasSuffix("AA") ? "BB" : "AA")
            #expect(try await server.api.get(tampered).status == .notFound)
            let expired = server.store.subjectLinks.sign(SubjectLinkClaims(subjectId: subject, purpose: "survey:\(id)", expiresAt: server.store.currentMillis - 1, nonce: String(repeating: "a", count: 32)))
            #expect(try await server.api.get("/s/\(id)/\(expired)").status == .gone)
            let otherSurvey = server.store.subjectLinks.issue(subjectId: subject, purpose: "preferences", now: server.store.currentMillis, lifetimeMillis: 60_000)
            #expect(try await server.api.get("/s/\(id)/\(otherSurvey)").status == .notFound, "a preference link does not open a survey")
            #expect(try await server.api.get("/s/\(id)").status == .unauthorized)
            #expect(try await post(server, path, page, "v=chess").status == .unprocessableContent)
            #expect(try await server.footprint() == before)
        }
    }
}
