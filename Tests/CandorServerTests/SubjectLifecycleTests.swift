import Foundation
import HTTPTypes
import Testing

/// Unknown and erased subjects, and erasure that keeps the ledger verifiable.
@Suite struct SubjectLifecycleTests {
    static let declaration = #"{"values":[{"field":"channels","value":["sms"]}],"notices":{"newsletter":1,"offers":1,"support":1}}"#

    @Test func unknownSubjectIs404() async throws {
        try await TestServer.run { server in
            let id = "sub_0000000000zzzzzzzzzzzzzzzz"
            let before = try await server.footprint()
            try (try await server.api.get("/v1/subjects/\(id)", key: server.keys.support, purpose: "support")).expectProblem(.notFound, kind: "not-found")
            try (try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.support, body: Self.declaration))
                .expectProblem(.notFound, kind: "not-found")
            try (try await server.api.post("/v1/subjects/\(id)/consents", key: server.keys.marketing,
                                           body: #"{"consents":[{"purpose":"offers","status":"granted","notice_version":1}]}"#))
                .expectProblem(.notFound, kind: "not-found")
            try (try await server.api.get("/v1/subjects/\(id)/declarations", key: server.keys.support, purpose: "support")).expectProblem(.notFound)
            try (try await server.api.delete("/v1/subjects/\(id)", key: server.keys.support)).expectProblem(.notFound, kind: "not-found")
            #expect(try await server.footprint() == before)
        }
    }

    @Test func erasedSubjectIs410AndTheChainStillVerifies() async throws {
        try await TestServer.run(people: 3) { server in
            let id = try await server.createSubject(externalId: "cus_erase")
            try await server.declare(id, ["channels": ["sms"], "shoe_size": 44])
            try await server.consent(id, ["offers": "granted"])
            let entriesBefore = try await server.ledgerEntries()

            let erased = try await server.api.delete("/v1/subjects/\(id)", key: server.keys.support)
            #expect(erased.status == .ok, "\(erased.text)")
            #expect(erased.contentType == "application/json")
            let subject = try erased.object()
            #expect(subject["id"] as? String == id)
            #expect(subject["status"] as? String == "erased")
            #expect(subject["erased_at"] is String)
            #expect(subject["external_id"] == nil)
            #expect(!erased.text.contains("cus_erase"))

            // The chain still verifies, with one more entry (the erasure itself).
            let verify = try await server.api.get("/v1/ledger/verify", key: server.keys.admin)
            #expect(verify.status == .ok)
            let report = try verify.object()
            #expect(report["ok"] as? Bool == true)
            #expect(report["first_break"] == nil)
            #expect(report["entries"] as? Int == entriesBefore + 1)
            #expect(report["chains"] as? Int == 4)

            let before = try await server.footprint()
            let read = try await server.api.get("/v1/subjects/\(id)", key: server.keys.support, purpose: "support")
            try read.expectProblem(.gone, kind: "subject-erased")
            try (try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.support, body: Self.declaration))
                .expectProblem(.gone, kind: "subject-erased")
            try (try await server.api.post("/v1/subjects/\(id)/consents", key: server.keys.marketing,
                                           body: #"{"consents":[{"purpose":"offers","status":"granted","notice_version":1}]}"#))
                .expectProblem(.gone, kind: "subject-erased")
            try (try await server.api.get("/v1/subjects/\(id)/consents", key: server.keys.sales, purpose: "offers")).expectProblem(.gone)
            try (try await server.api.delete("/v1/subjects/\(id)", key: server.keys.support)).expectProblem(.gone)
            #expect(try await server.footprint() == before)

            // Erased people are not listed, and cannot be looked up.
            let list = try await server.api.get("/v1/subjects?limit=50", key: server.keys.support, purpose: "support")
            let ids = (try list.object()["data"] as? [[String: Any]] ?? []).compactMap { $0["subject_id"] as? String }
            #expect(Set(ids) == Set(server.seeded))
            try (try await server.api.post("/v1/subjects/lookup", key: server.keys.marketing, body: #"{"external_id":"cus_erase"}"#)).expectProblem(.notFound)

            // The audit trail can still read the (unreadable) chain and checkpoint it.
            let chain = try await server.api.get("/v1/subjects/\(id)/ledger", key: server.keys.admin)
            #expect(chain.status == .ok)
            let chainEntries = try #require(try chain.object()["entries"] as? [[String: Any]])
            #expect(chainEntries.map { $0["kind"] as? String } == ["subject.created", "declaration", "consent", "subject.erased"])
            let checkpoint = try await server.api.post("/v1/ledger/checkpoints", key: server.keys.admin, body: "")
            #expect(checkpoint.status == .created, "\(checkpoint.text)")
            let verified = try await server.api.get("/v1/ledger/verify", key: server.keys.admin)
            #expect(try verified.object()["ok"] as? Bool == true)
            #expect(try verified.object()["checkpoint_signature_valid"] as? Bool == true)
        }
    }

    @Test func retriedErasureReplaysAndStoredAnswersAreShredded() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let declared = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.support, body: Self.declaration,
                                                    headers: ["Idempotency-Key": "decl-1"])
            #expect(declared.status == .created)
            let headers = ["Idempotency-Key": "erase-1"]
            let first = try await server.api.send(.delete, "/v1/subjects/\(id)", key: server.keys.support, headers: headers)
            #expect(first.status == .ok)
            let entries = try await server.ledgerEntries()
            let again = try await server.api.send(.delete, "/v1/subjects/\(id)", key: server.keys.support, headers: headers)
            #expect(again.status == .ok)
            #expect(again.header("Idempotent-Replayed") == "true")
            #expect(again.body == first.body)
            #expect(try await server.ledgerEntries() == entries)
            // The stored answer of the declaration (which held the values) went with the subject: a retry is now refused.
            let retried = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.support, body: Self.declaration,
                                                   headers: ["Idempotency-Key": "decl-1"])
            try retried.expectProblem(.gone, kind: "subject-erased")
        }
    }

    @Test func createValidatesIdentifiers() async throws {
        try await TestServer.run { server in
            let before = try await server.footprint()
            try (try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"email":"not an address"}"#))
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "email")
            try (try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"external_id":""}"#))
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "external_id")
            try (try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"external_id":42}"#))
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "external_id")
            #expect(try await server.footprint() == before)

            let created = try await server.api.post("/v1/subjects", key: server.keys.marketing, body: #"{"external_id":"cus_1","email":"Ada@Example.com"}"#)
            #expect(created.status == .created)
            let subject = try created.object()
            #expect((subject["id"] as? String)?.hasPrefix("sub_") == true)
            #expect(subject["has_email"] as? Bool == true)
            #expect(!created.text.contains("Example.com"), "the address is stored encrypted and never echoed")
            let found = try await server.api.post("/v1/subjects/lookup", key: server.keys.marketing, body: #"{"email":"ada@example.com"}"#)
            #expect(found.status == .ok)
            #expect(try found.object()["id"] as? String == subject["id"] as? String)
        }
    }
}
