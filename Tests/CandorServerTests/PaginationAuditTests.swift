import CandorStore
import Foundation
import HTTPTypes
import Testing

/// Cursor pagination over `GET /v1/subjects`, and the audit trail of purpose reads.
@Suite struct PaginationTests {
    /// A cursor as a careful client puts it in a query string.
    static func encode(_ cursor: String) -> String {
        cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor
    }

    @Test func pagesAreDisjointAndComplete() async throws {
        try await TestServer.run(people: 12) { server in
            var seen = [String]()
            var pages = [[String]]()
            var cursor: String?
            repeat {
                let uri = "/v1/subjects?limit=5" + (cursor.map { "&cursor=\(Self.encode($0))" } ?? "")
                let reply = try await server.api.get(uri, key: server.keys.support, purpose: "support")
                #expect(reply.status == .ok, "\(reply.text)")
                #expect(reply.contentType == "application/json")
                let json = try reply.object()
                let data = try #require(json["data"] as? [[String: Any]])
                let ids = data.compactMap { $0["subject_id"] as? String }
                #expect(data.allSatisfy { $0["purpose"] as? String == "support" && $0["is_visible"] as? Bool == true })
                pages.append(ids)
                seen += ids
                cursor = json["next_cursor"] as? String
                #expect(pages.count <= 3)
            } while cursor != nil && pages.count <= 3
            #expect(pages.map(\.count) == [5, 5, 2])
            #expect(Set(seen).count == seen.count, "pages are disjoint")
            #expect(Set(seen) == Set(server.seeded), "every active subject appears once")
            #expect(seen == seen.sorted(), "ordered by id")

            // A consent-based purpose lists only people who granted it.
            let offers = try await server.api.get("/v1/subjects?limit=500", key: server.keys.sales, purpose: "offers")
            let listed = (try offers.object()["data"] as? [[String: Any]] ?? []).compactMap { $0["subject_id"] as? String }
            for id in server.seeded {
                let profile = try await server.profile(id, purpose: "offers", key: server.keys.sales)
                #expect((profile["is_visible"] as? Bool == true) == listed.contains(id), "list and profile agree for \(id)")
            }
        }
    }

    @Test func badCursorAndLimitAreRefused() async throws {
        try await TestServer.run(people: 2) { server in
            for cursor in ["not-a-cursor", "%FF%FE", "***"] {
                let reply = try await server.api.get("/v1/subjects?cursor=\(cursor)", key: server.keys.support, purpose: "support")
                try reply.expectProblem(.badRequest, kind: "malformed-request", field: "cursor")
            }
            for limit in ["0", "501", "ten", "-1"] {
                let reply = try await server.api.get("/v1/subjects?limit=\(limit)", key: server.keys.support, purpose: "support")
                try reply.expectProblem(.badRequest, kind: "malformed-request", field: "limit")
            }
        }
    }
}

/// Every read of personal data for a purpose is audited (DESIGN §1.6).
@Suite struct PurposeReadAuditTests {
    struct AuditRow: Equatable, CustomStringConvertible {
        var action: String
        var team: String
        var purpose: String?
        var subject: String?
        var fields: String
        var outcome: String
        var description: String { "\(action) \(team) \(purpose ?? "-") \(subject ?? "-") \(fields) \(outcome)" }
    }

    static func rows(_ store: CandorStore, after id: Int64) async throws -> [AuditRow] {
        try await store.database.read { connection in
            try connection.query("SELECT action, team, purpose, subject_id, fields, outcome FROM audit_log WHERE id > ? ORDER BY id", [.int(id)]).map {
                AuditRow(action: $0.text(0), team: $0.text(1), purpose: $0.optionalText(2), subject: $0.optionalText(3), fields: $0.text(4), outcome: $0.text(5))
            }
        }
    }

    static func lastId(_ store: CandorStore) async throws -> Int64 {
        try await store.database.read { try $0.query("SELECT coalesce(max(id), 0) FROM audit_log", []).first?.int(0) ?? 0 }
    }

    @Test func everyPurposeReadIsAudited() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            try await server.declare(id, ["interests": ["yoga"], "shoe_size": 40, "channels": ["email"]])
            try await server.consent(id, ["offers": "granted"])

            let reads: [(uri: String, key: String, purpose: String, action: String, fields: String)] = [
                ("/v1/subjects/\(id)", server.keys.sales, "offers", "profile.read", #"["channels","interests","shoe_size"]"#),
                ("/v1/subjects", server.keys.sales, "offers", "profile.list", #"["channels","interests","shoe_size"]"#),
                ("/v1/subjects/\(id)/declarations", server.keys.support, "support", "history.read", #"["channels","shoe_size"]"#),
                ("/v1/subjects/\(id)/consents", server.keys.sales, "offers", "consent.read", "[]"),
            ]
            for read in reads {
                let count = try await server.store.count("audit_log")
                let last = try await Self.lastId(server.store)
                let reply = try await server.api.get(read.uri, key: read.key, purpose: read.purpose)
                #expect(reply.status == .ok, "\(read.uri): \(reply.text)")
                #expect(try await server.store.count("audit_log") == count + 1, "\(read.uri) must be audited once")
                let rows = try await Self.rows(server.store, after: last)
                let team = read.key == server.keys.sales ? "sales" : "support"
                #expect(rows == [AuditRow(action: read.action, team: team, purpose: read.purpose, subject: id, fields: read.fields, outcome: "ok")], "\(read.uri)")
            }

            // A withheld read is audited too, with the reason and no fields.
            try await server.consent(id, ["offers": "withdrawn"])
            let last = try await Self.lastId(server.store)
            let profile = try await server.profile(id, purpose: "offers", key: server.keys.sales)
            #expect(profile["withheld_reason"] as? String == "consent_withdrawn")
            #expect(try await Self.rows(server.store, after: last) == [
                AuditRow(action: "profile.read", team: "sales", purpose: "offers", subject: id, fields: "[]", outcome: "consent_withdrawn"),
            ])

            // A refused read (wrong purpose for the team) hands out nothing.
            let count = try await server.store.count("audit_log")
            try (try await server.api.get("/v1/subjects/\(id)", key: server.keys.sales, purpose: "support")).expectProblem(.forbidden)
            #expect(try await server.store.count("audit_log") == count)
        }
    }
}
