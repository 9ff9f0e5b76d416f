import Foundation
import HTTPTypes
import Testing

/// Consent-gated use over HTTP (DESIGN §1.3): every read names a purpose, sees only the fields that serve
/// it, and only of people whose consent (or legal basis) allows it.
@Suite struct PurposeGateHTTPTests {
    /// One value for every demo field.
    static var everything: [String: Any] { [
        "interests": ["running", "yoga"],
        "offer_types": ["discounts"],
        "channels": ["email"],
        "content_frequency": "weekly",
        "shoe_size": 42,
        "birthday_month": "may",
    ] }

    @Test func readsWithoutCandorPurposeAreRefused() async throws {
        try await TestServer.run(people: 1) { server in
            let id = try #require(server.seeded.first)
            for uri in ["/v1/subjects/\(id)", "/v1/subjects", "/v1/subjects/\(id)/declarations", "/v1/subjects/\(id)/consents"] {
                let reply = try await server.api.get(uri, key: server.keys.marketing)
                try reply.expectProblem(.badRequest, kind: "malformed-request", field: "Candor-Purpose")
                #expect(!reply.text.contains("interests"), "no data without a purpose")
                let empty = try await server.api.get(uri, key: server.keys.marketing, headers: ["Candor-Purpose": ""])
                try empty.expectProblem(.badRequest, field: "Candor-Purpose")
            }
        }
    }

    @Test func unknownPurposeIsRefused() async throws {
        try await TestServer.run(people: 1) { server in
            let id = try #require(server.seeded.first)
            let reply = try await server.api.get("/v1/subjects/\(id)", key: server.keys.marketing, purpose: "profiling")
            try reply.expectProblem(.badRequest, kind: "malformed-request", field: "Candor-Purpose")
            #expect(try reply.object()["detail"] as? String == "Candor-Purpose: unknown purpose 'profiling'")
        }
    }

    @Test func teamLackingThePurposeIsForbidden() async throws {
        try await TestServer.run(people: 1) { server in
            let id = try #require(server.seeded.first)
            let before = try await server.store.count("audit_log")
            // Sales holds only `offers`; support holds only `support`.
            for (key, purpose) in [(server.keys.sales, "newsletter"), (server.keys.sales, "support"), (server.keys.support, "offers")] {
                let reply = try await server.api.get("/v1/subjects/\(id)", key: key, purpose: purpose)
                try reply.expectProblem(.forbidden, kind: "forbidden", field: "Candor-Purpose")
                let list = try await server.api.get("/v1/subjects", key: key, purpose: purpose)
                try list.expectProblem(.forbidden, kind: "forbidden", field: "Candor-Purpose")
            }
            #expect(try await server.store.count("audit_log") == before, "nothing was read")
        }
    }

    @Test func profileShowsOnlyFieldsServingThePurpose() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject(externalId: "cus_gate")
            let receipt = try await server.declare(id, Self.everything).object()
            #expect((receipt["declaration_id"] as? String)?.hasPrefix("dcl_") == true)
            #expect(receipt["subject_id"] as? String == id)
            #expect((receipt["values"] as? [Any])?.count == 6)
            try await server.consent(id, ["newsletter": "granted", "offers": "granted", "research": "granted"])

            func keys(_ profile: [String: Any]) -> Set<String> { Set((profile["values"] as? [String: Any] ?? [:]).keys) }

            let offers = try await server.profile(id, purpose: "offers", key: server.keys.sales)
            #expect(offers["is_visible"] as? Bool == true)
            #expect(offers["withheld_reason"] == nil)
            #expect(keys(offers) == ["interests", "offer_types", "channels", "shoe_size", "birthday_month"])

            let newsletter = try await server.profile(id, purpose: "newsletter", key: server.keys.marketing)
            #expect(keys(newsletter) == ["interests", "channels", "content_frequency"])

            let research = try await server.profile(id, purpose: "research", key: server.keys.marketing)
            #expect(keys(research) == ["interests"])

            let support = try await server.profile(id, purpose: "support", key: server.keys.support)
            #expect(keys(support) == ["channels", "shoe_size"])

            // Each value carries its provenance, including the notices it was declared under.
            let size = try #require((support["values"] as? [String: Any])?["shoe_size"] as? [String: Any])
            #expect(size["value"] as? Int == 42)
            #expect(size["source"] as? String == "preference_center")
            #expect(size["declaration_id"] as? String == receipt["declaration_id"] as? String)
            #expect(size["notices"] as? [String: Int] == ["offers": 1, "support": 1])
            #expect(size["declared_at"] is String)

            // The history read is filtered the same way.
            let history = try await server.api.get("/v1/subjects/\(id)/declarations", key: server.keys.support, purpose: "support")
            #expect(history.status == .ok)
            let items = try #require(try history.object()["data"] as? [[String: Any]])
            #expect(items.count == 1)
            let fields = Set((items.first?["values"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["channels", "shoe_size"])
            #expect(!history.text.contains("birthday_month") && !history.text.contains("content_frequency"))
        }
    }

    @Test func subjectWithoutConsentIsWithheld() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            try await server.declare(id, Self.everything)
            let profile = try await server.profile(id, purpose: "offers", key: server.keys.sales)
            #expect(profile["is_visible"] as? Bool == false)
            #expect(profile["withheld_reason"] as? String == "consent_missing")
            #expect((profile["values"] as? [String: Any])?.isEmpty == true)

            // Nor is the subject listed for the purpose.
            let list = try await server.api.get("/v1/subjects", key: server.keys.sales, purpose: "offers")
            #expect(list.status == .ok)
            #expect((try list.object()["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func withdrawnConsentIsWithheld() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            try await server.declare(id, Self.everything)
            try await server.consent(id, ["offers": "granted"])
            let granted = try await server.profile(id, purpose: "offers", key: server.keys.sales)
            #expect(granted["is_visible"] as? Bool == true)
            #expect((granted["values"] as? [String: Any])?.count == 5)

            try await server.consent(id, ["offers": "withdrawn"])
            let withdrawn = try await server.profile(id, purpose: "offers", key: server.keys.sales)
            #expect(withdrawn["is_visible"] as? Bool == false)
            #expect(withdrawn["withheld_reason"] as? String == "consent_withdrawn")
            #expect((withdrawn["values"] as? [String: Any])?.isEmpty == true)

            let consents = try await server.api.get("/v1/subjects/\(id)/consents", key: server.keys.sales, purpose: "offers")
            #expect(consents.status == .ok)
            let body = try consents.object()
            let current = try #require(body["consents"] as? [[String: Any]])
            #expect(current.count == 1)
            #expect(current.first?["status"] as? String == "withdrawn")
            #expect(current.first?["is_effective"] as? Bool == false)
            #expect((body["history"] as? [Any])?.count == 2)
        }
    }

    @Test func restrictedSubjectIsWithheldEvenUnderContract() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            try await server.declare(id, Self.everything)
            try await server.consent(id, ["offers": "granted"])

            let restricted = try await server.api.post("/v1/subjects/\(id)/restrict", key: server.keys.support, body: "")
            #expect(restricted.status == .ok, "\(restricted.text)")
            #expect(try restricted.object()["status"] as? String == "restricted")

            for (purpose, key) in [("offers", server.keys.sales), ("support", server.keys.support)] {
                let profile = try await server.profile(id, purpose: purpose, key: key)
                #expect(profile["is_visible"] as? Bool == false)
                #expect(profile["withheld_reason"] as? String == "restricted")
                #expect((profile["values"] as? [String: Any])?.isEmpty == true)
            }

            let lifted = try await server.api.post("/v1/subjects/\(id)/unrestrict", key: server.keys.support, body: "")
            #expect(lifted.status == .ok)
            #expect(try lifted.object()["status"] as? String == "active")
            #expect(try await server.profile(id, purpose: "offers", key: server.keys.sales)["is_visible"] as? Bool == true)
        }
    }

    @Test func contractPurposeIsVisibleWithoutConsent() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            try await server.declare(id, Self.everything)
            let profile = try await server.profile(id, purpose: "support", key: server.keys.support)
            #expect(profile["is_visible"] as? Bool == true)
            #expect(profile["withheld_reason"] == nil)
            let values = try #require(profile["values"] as? [String: Any])
            #expect(Set(values.keys) == ["channels", "shoe_size"])
            #expect((values["channels"] as? [String: Any])?["value"] as? [String] == ["email"])

            // And it is listed for the purpose.
            let list = try await server.api.get("/v1/subjects", key: server.keys.support, purpose: "support")
            let data = try #require(try list.object()["data"] as? [[String: Any]])
            #expect(data.compactMap { $0["subject_id"] as? String } == [id])
        }
    }
}
