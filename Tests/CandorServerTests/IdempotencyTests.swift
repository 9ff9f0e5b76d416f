import Foundation
import HTTPTypes
import Testing

/// A retried write returns the first answer and writes nothing new (DESIGN §4).
@Suite struct IdempotencyTests {
    static let body = #"{"values":[{"field":"interests","value":["yoga","running"]}],"notices":{"newsletter":1,"offers":1,"research":1},"source":"survey"}"#

    @Test func sameBodyReplaysTheFirstAnswer() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let uri = "/v1/subjects/\(id)/declarations"
            let headers = ["Idempotency-Key": "retry-7f3a"]
            let first = try await server.api.post(uri, key: server.keys.marketing, body: Self.body, headers: headers)
            #expect(first.status == .created, "\(first.text)")
            #expect(first.contentType == "application/json")
            #expect(first.header("Idempotent-Replayed") == nil)
            let entries = try await server.ledgerEntries()
            let before = try await server.footprint()

            for _ in 0..<2 {
                let again = try await server.api.post(uri, key: server.keys.marketing, body: Self.body, headers: headers)
                #expect(again.status == .created)
                #expect(again.contentType == "application/json")
                #expect(again.header("Idempotent-Replayed") == "true")
                #expect(again.body == first.body, "the replay is byte for byte the first answer")
            }
            #expect(try await server.ledgerEntries() == entries)
            #expect(try await server.footprint() == before)

            // The same key from another API key is another request altogether.
            let support = try await server.api.post(uri, key: server.keys.support, body: Self.body, headers: headers)
            #expect(support.status == .created)
            #expect(support.header("Idempotent-Replayed") == nil)
            #expect(try await server.ledgerEntries() == entries + 1)
        }
    }

    @Test func sameKeyWithAnotherBodyIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let uri = "/v1/subjects/\(id)/declarations"
            let headers = ["Idempotency-Key": "retry-1"]
            let first = try await server.api.post(uri, key: server.keys.marketing, body: Self.body, headers: headers)
            #expect(first.status == .created)
            let entries = try await server.ledgerEntries()
            let before = try await server.footprint()

            let other = Self.body.replacingOccurrences(of: "running", with: "hiking")
            let reply = try await server.api.post(uri, key: server.keys.marketing, body: other, headers: headers)
            try reply.expectProblem(.unprocessableContent, kind: "idempotency-key-reused")
            #expect(try await server.ledgerEntries() == entries)
            #expect(try await server.footprint() == before)

            // The value stored is still the first one.
            try await server.consent(id, ["newsletter": "granted"])
            let profile = try await server.profile(id, purpose: "newsletter", key: server.keys.marketing)
            let interests = (profile["values"] as? [String: Any])?["interests"] as? [String: Any]
            #expect(interests?["value"] as? [String] == ["yoga", "running"])
        }
    }

    @Test func malformedIdempotencyKeyIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let before = try await server.footprint()
            let reply = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.marketing, body: Self.body,
                                                 headers: ["Idempotency-Key": String(repeating: "k", count: 256)])
            try reply.expectProblem(.badRequest, kind: "malformed-request", field: "Idempotency-Key")
            #expect(try await server.footprint() == before)
        }
    }

    @Test func subjectCreationReplays() async throws {
        try await TestServer.run { server in
            let headers = ["Idempotency-Key": "create-cus-9"]
            let first = try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"external_id":"cus_9"}"#, headers: headers)
            #expect(first.status == .created)
            let again = try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"external_id":"cus_9"}"#, headers: headers)
            #expect(again.status == .created)
            #expect(again.header("Idempotent-Replayed") == "true")
            #expect(again.body == first.body)
            #expect(try await server.store.count("subjects") == 1)
            // Without the key, the duplicate external id is a conflict naming the field.
            let duplicate = try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"external_id":"cus_9"}"#)
            try duplicate.expectProblem(.conflict, kind: "conflict", field: "external_id")
        }
    }
}
