import Foundation
import HTTPTypes
import Testing

/// Who may call `/v1` at all, and with which role.
@Suite struct AuthTests {
    @Test func missingAuthorizationIsRefusedWith401NamingTheHeader() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/v1/purposes")
            try reply.expectProblem(.unauthorized, kind: "unauthorized", field: "Authorization")
            #expect(reply.header("WWW-Authenticate") == #"Bearer realm="candor""#)
            #expect(reply.header("Cache-Control") == "no-store")
        }
    }

    @Test func malformedAuthorizationIsRefusedWith401() async throws {
        try await TestServer.run { server in
            for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", server.keys.admin, "Token \(server.keys.admin)", "Bearer  \(server.keys.admin)x"] {
                let reply = try await server.api.get("/v1/purposes", headers: ["Authorization": header])
                try reply.expectProblem(.unauthorized, kind: "unauthorized", field: "Authorization")
                #expect(reply.header("WWW-Authenticate") == #"Bearer realm="candor""#, "for '\(header)'")
            }
            // The same key, well formed, works (scheme name is case-insensitive).
            let ok = try await server.api.get("/v1/purposes", headers: ["Authorization": "bearer \(server.keys.admin)"])
            #expect(ok.status == .ok)
        }
    }

    @Test func unknownKeyIsRefusedWith401() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/v1/purposes", key: "cnd_sk_" + String(repeating: "a", count: 40))
            try reply.expectProblem(.unauthorized, kind: "unauthorized", field: "Authorization")
            #expect(reply.header("WWW-Authenticate") != nil)
        }
    }

    @Test func revokedKeyIsRefusedAfterDelete() async throws {
        try await TestServer.run { server in
            let created = try await server.api.post("/v1/keys", key: server.keys.admin, body: #"{"name":"temporary","team":"sales"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.contentType == "application/json")
            let json = try created.object()
            let secret = try #require(json["secret"] as? String)
            let key = try #require(json["key"] as? [String: Any])
            let id = try #require(key["id"] as? String)
            #expect(secret.hasPrefix("cnd_sk_"))
            #expect(key["team"] as? String == "sales")
            #expect(key["revoked_at"] == nil)

            #expect(try await server.api.get("/v1/purposes", key: secret).status == .ok)

            // Only admins revoke.
            let refused = try await server.api.delete("/v1/keys/\(id)", key: server.keys.sales)
            try refused.expectProblem(.forbidden, kind: "forbidden")
            #expect(try await server.api.get("/v1/purposes", key: secret).status == .ok)

            let revoked = try await server.api.delete("/v1/keys/\(id)", key: server.keys.admin)
            #expect(revoked.status == .ok, "\(revoked.text)")
            let body = try revoked.object()
            #expect(body["id"] as? String == id)
            #expect(body["revoked_at"] is String)
            #expect(body["secret"] == nil, "the secret is shown only once")

            let after = try await server.api.get("/v1/purposes", key: secret)
            try after.expectProblem(.unauthorized, kind: "unauthorized", field: "Authorization")
            #expect(after.header("WWW-Authenticate") != nil)

            // The key list shows it as revoked, and never the secret.
            let list = try await server.api.get("/v1/keys", key: server.keys.admin)
            #expect(list.status == .ok)
            #expect(!list.text.contains(secret))
            let listed = try #require((try list.object()["data"] as? [[String: Any]])?.first { $0["id"] as? String == id })
            #expect(listed["revoked_at"] is String)

            // Unknown key id.
            try (try await server.api.delete("/v1/keys/key_nope", key: server.keys.admin)).expectProblem(.notFound, kind: "not-found")
        }
    }

    @Test func publishableKeyIsRefusedOnTheSecretAPI() async throws {
        try await TestServer.run { server in
            #expect(server.keys.publishable.hasPrefix("cnd_pk_"))
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/purposes"), (.get, "/v1/subjects"), (.post, "/v1/subjects")] {
                let reply = try await server.api.send(method, uri, key: server.keys.publishable, purpose: "offers", body: method == .post ? "{}" : nil)
                try reply.expectProblem(.forbidden, kind: "forbidden", field: "Authorization")
                #expect(reply.header("WWW-Authenticate") == nil)
            }
            #expect(try await server.store.count("subjects") == 0)
        }
    }
}

/// What each team's role allows.
@Suite struct RoleTests {
    static let purpose = #"""
    {"key":"loyalty","names":{"en":"Loyalty"},"legal_basis":"consent","retention_days":365,"dpv_term":"CustomerRelationshipManagement",
     "notice":{"en":{"title":"Loyalty","why":"To reward you","benefit":"Points"}}}
    """#

    @Test func salesCannotCreatePurposes() async throws {
        try await TestServer.run { server in
            let before = try await server.footprint()
            let reply = try await server.api.post("/v1/purposes", key: server.keys.sales, body: Self.purpose)
            try reply.expectProblem(.forbidden, kind: "forbidden")
            #expect(try reply.object()["detail"] as? String == "team 'sales' lacks the 'admin' role")
            #expect(try await server.footprint() == before)
            let list = try await server.api.get("/v1/purposes", key: server.keys.sales)
            #expect(list.status == .ok)
            #expect((try list.object()["data"] as? [[String: Any]])?.compactMap { $0["key"] as? String } == ["newsletter", "offers", "research", "support"])
            try (try await server.api.get("/v1/purposes/loyalty", key: server.keys.sales)).expectProblem(.notFound, kind: "not-found")

            // The admin can.
            let created = try await server.api.post("/v1/purposes", key: server.keys.admin, body: Self.purpose)
            #expect(created.status == .created, "\(created.text)")
            let purpose = try created.object()
            #expect(purpose["key"] as? String == "loyalty")
            #expect(purpose["current_notice_version"] as? Int == 1)
            #expect((purpose["id"] as? String)?.hasPrefix("pur_") == true)
        }
    }

    @Test func salesAndMarketingCannotEraseSubjects() async throws {
        try await TestServer.run(people: 1) { server in
            let id = try #require(server.seeded.first)
            let before = try await server.footprint()
            for key in [server.keys.sales, server.keys.marketing] {
                let reply = try await server.api.delete("/v1/subjects/\(id)", key: key)
                try reply.expectProblem(.forbidden, kind: "forbidden")
                #expect((try reply.object()["detail"] as? String)?.contains("'erase'") == true)
                let restrict = try await server.api.post("/v1/subjects/\(id)/restrict", key: key, body: "")
                try restrict.expectProblem(.forbidden, kind: "forbidden")
            }
            #expect(try await server.footprint() == before)
            // Still there and readable.
            let profile = try await server.profile(id, purpose: "support", key: server.keys.support)
            #expect(profile["is_visible"] as? Bool == true)
        }
    }

    @Test func salesCannotWriteAndAuditRoutesNeedAudit() async throws {
        try await TestServer.run { server in
            try (try await server.api.post("/v1/subjects", key: server.keys.sales, body: "{}")).expectProblem(.forbidden, kind: "forbidden")
            try (try await server.api.get("/v1/ledger/verify", key: server.keys.marketing)).expectProblem(.forbidden, kind: "forbidden")
            try (try await server.api.get("/v1/teams", key: server.keys.support)).expectProblem(.forbidden, kind: "forbidden")
            #expect(try await server.store.count("subjects") == 0)
        }
    }
}
