import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Anonymous community polls: the admin API, one answer per browser, and the k threshold.
@Suite struct PollTests {
    static let form = "application/x-www-form-urlencoded"
    static let body = #"{"question":{"en":"Which colour next?","he":"איזה צבע הבא?"},"options":[{"key":"red","labels":{"en":"Red","he":"אדום"}},{"key":"blue","labels":{"en":"Blue","he":"כחול"}}],"k":3}"#

    func create(_ server: TestServer) async throws -> String {
        let reply = try await server.api.post("/v1/polls", key: server.keys.marketing, body: Self.body)
        #expect(reply.status == .created, "\(reply.text)")
        return try #require((try reply.object()["poll"] as? [String: Any])?["id"] as? String)
    }

    /// A new browser answers: returns the reply to the POST.
    func vote(_ server: TestServer, _ id: String, _ option: String, csrf: String? = nil) async throws -> (Reply, String) {
        let page = try await server.api.get("/polls/\(id)")
        let cookie = try #require(Portal.cookie(page, "candor_poll_voter"))
        let token = try #require(Portal.csrf(page.text))
        let reply = try await server.api.post("/polls/\(id)", key: nil, body: "option=\(option)&csrf=\(csrf ?? token)", contentType: Self.form,
                                              headers: ["Cookie": "candor_poll_voter=\(cookie)"])
        return (reply, cookie)
    }

    @Test func resultsStayHiddenBelowK() async throws {
        try await TestServer.run { server in
            let id = try await create(server)
            let (first, cookie) = try await vote(server, id, "red")
            #expect(first.status == .seeOther)
            let results = try await server.api.get("/polls/\(id)/results", headers: ["Cookie": "candor_poll_voter=\(cookie)"])
            #expect(results.text.contains("Not enough responses yet") && !results.text.contains("<progress"))
            #expect(try await server.api.get("/polls/\(id)/results").status == .forbidden, "results are for those who answered")
            _ = try await vote(server, id, "blue")
            _ = try await vote(server, id, "red")
            let shown = try await server.api.get("/polls/\(id)/results", headers: ["Cookie": "candor_poll_voter=\(cookie)"])
            #expect(shown.text.contains("67%") && shown.text.contains("33%"))
            let api = try await server.api.get("/v1/polls/\(id)", key: server.keys.marketing)
            #expect((try api.object()["results"] as? [String: Any])?["total"] as? Int == 3)
        }
    }

    @Test func secondAnswerIsRefusedAndNothingLinksAnswerToVoter() async throws {
        try await TestServer.run { server in
            let id = try await create(server)
            let (_, cookie) = try await vote(server, id, "red")
            let page = try await server.api.get("/polls/\(id)", headers: ["Cookie": "candor_poll_voter=\(cookie)"])
            #expect(page.text.contains("Not enough responses yet"), "a voter sees results, not the form")
            let token = try await server.api.get("/polls/\(id)", headers: ["Cookie": "candor_poll_voter=\(cookie)"])
            _ = token
            let again = try await server.api.post("/polls/\(id)", key: nil, body: "option=blue&csrf=\(server.store.subjectLinks.tag("csrf-poll\n\(id)", cookie))",
                                                  contentType: Self.form, headers: ["Cookie": "candor_poll_voter=\(cookie)"])
            #expect(again.status == .conflict && again.text.contains("You have already answered"))
            #expect(try await server.store.count("poll_voters") == 1)
            #expect(try await server.store.count("subjects") == 0)
        }
    }

    @Test func badAnswersWriteNothing() async throws {
        try await TestServer.run(maxBodyBytes: 4096) { server in
            let id = try await create(server)
            let (outside, _) = try await vote(server, id, "green")
            #expect(outside.status == .unprocessableContent)
            let (forged, _) = try await vote(server, id, "red", csrf: "forged")
            #expect(forged.status == .forbidden)
            let (huge, _) = try await vote(server, id, "red&pad=" + String(repeating: "x", count: 10_000))
            #expect(huge.status == .forbidden)
            #expect(try await server.store.count("poll_voters") == 0)
            let bad = try await server.api.post("/v1/polls", key: server.keys.marketing, body: #"{"question":{"he":"x"},"options":[{"key":"A B","labels":{"en":"x"}}],"k":1}"#)
            #expect(bad.status == .unprocessableContent && bad.contentType == "application/problem+json")
            #expect(try await server.api.get("/polls/pol_missing").status == .notFound)
        }
    }

    @Test func closedPollTakesNoAnswers() async throws {
        try await TestServer.run { server in
            let id = try await create(server)
            let page = try await server.api.get("/polls/\(id)")
            let cookie = try #require(Portal.cookie(page, "candor_poll_voter"))
            #expect(try await server.api.post("/v1/polls/\(id)/close", key: server.keys.marketing, body: "").status == .ok)
            let reply = try await server.api.post("/polls/\(id)", key: nil, body: "option=red&csrf=\(try #require(Portal.csrf(page.text)))", contentType: Self.form,
                                                  headers: ["Cookie": "candor_poll_voter=\(cookie)"])
            #expect(reply.status == .conflict)
        }
    }
}
