import Foundation
import HTTPTypes
import Testing

/// Privacy rights, rights requests and the audit log over HTTP, in process: who may call what, and
/// the main flows end to end.
@Suite struct RightsHTTPTests {
    static let unknown = "sub_0000000000zzzzzzzzzzzzzzzz"

    @Test func rightsRoutesCheckRoles() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject(externalId: "cus_roles")
            let before = try await server.footprint()
            // Marketing and sales lack the erase role; only erase or audit may export.
            for key in [server.keys.marketing, server.keys.sales] {
                try (try await server.api.get("/v1/subjects/\(id)/export", key: key)).expectProblem(.forbidden, kind: "forbidden")
                try (try await server.api.post("/v1/subjects/\(id)/rectify", key: key, body: #"{"field":"shoe_size","value":40}"#)).expectProblem(.forbidden)
                try (try await server.api.post("/v1/subjects/\(id)/object", key: key, body: "")).expectProblem(.forbidden)
                try (try await server.api.delete("/v1/subjects/\(id)/object", key: key)).expectProblem(.forbidden)
                try (try await server.api.post("/v1/subjects/\(id)/opt-out-of-sale", key: key, body: "")).expectProblem(.forbidden)
                try (try await server.api.post("/v1/requests", key: key, body: #"{"type":"access","channel":"email","jurisdiction":"gdpr","external_id":"cus_roles"}"#))
                    .expectProblem(.forbidden)
                try (try await server.api.get("/v1/requests", key: key)).expectProblem(.forbidden)
            }
            // Support may act on rights but not read the audit log; without a key nothing works.
            try (try await server.api.get("/v1/audit", key: server.keys.support)).expectProblem(.forbidden)
            try (try await server.api.get("/v1/audit/report?since=2020-01-01T00:00:00Z", key: server.keys.support)).expectProblem(.forbidden)
            try (try await server.api.get("/v1/subjects/\(id)/export")).expectProblem(.unauthorized, kind: "unauthorized")
            try (try await server.api.get("/v1/requests.csv")).expectProblem(.unauthorized)
            // Refusals write nothing but their audit rows.
            var after = try await server.footprint()
            after["audit_log"] = before["audit_log"]
            #expect(after == before)
        }
    }

    @Test func exportRectifyObjectAndOptOut() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject(externalId: "cus_rights")
            try await server.consent(id, ["newsletter": "granted", "offers": "granted"])
            try await server.declare(id, ["shoe_size": 41, "interests": ["yoga"]])

            // Export: everything, not purpose-gated, as an attachment.
            let export = try await server.api.get("/v1/subjects/\(id)/export", key: server.keys.support)
            #expect(export.status == .ok, "\(export.text)")
            #expect(export.header("Content-Disposition") == "attachment; filename=\"\(id)-export.json\"")
            let body = try export.object()
            let values = try #require(body["values"] as? [String: Any])
            #expect(Set(values.keys) == ["shoe_size", "interests"])
            #expect((body["history"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["subject.created", "consent", "declaration"])
            #expect((body["flags"] as? [String: Bool]) == ["restricted": false, "objected_to_direct_marketing": false, "opted_out_of_sale": false])

            // Rectify: an invalid value is refused naming `value` and changes nothing; a valid one is visible.
            let before = try await server.footprint()
            try (try await server.api.post("/v1/subjects/\(id)/rectify", key: server.keys.support, body: #"{"field":"shoe_size","value":99}"#))
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "value")
            try (try await server.api.post("/v1/subjects/\(id)/rectify", key: server.keys.support, body: #"{"field":"hat_size","value":1}"#))
                .expectProblem(.unprocessableContent, field: "field")
            #expect(try await server.footprint() == before)
            let fixed = try await server.api.post("/v1/subjects/\(id)/rectify", key: server.keys.support, body: #"{"field":"shoe_size","value":43}"#)
            #expect(fixed.status == .created, "\(fixed.text)")
            #expect(try fixed.object()["source"] as? String == "rectification")
            let support = try await server.profile(id, purpose: "support", key: server.keys.support)
            #expect(((support["values"] as? [String: Any])?["shoe_size"] as? [String: Any])?["value"] as? Int == 43)

            // Object: marketing reads withheld as "objected", new marketing grants refused until lifted.
            let objected = try await server.api.post("/v1/subjects/\(id)/object", key: server.keys.support, body: "")
            #expect(objected.status == .ok, "\(objected.text)")
            #expect(try objected.object()["has_objected"] as? Bool == true)
            let offers = try await server.profile(id, purpose: "offers", key: server.keys.sales)
            #expect(offers["is_visible"] as? Bool == false && offers["withheld_reason"] as? String == "objected")
            let refused = try await server.api.post("/v1/subjects/\(id)/consents", key: server.keys.marketing,
                                                    body: #"{"consents":[{"purpose":"offers","status":"granted","notice_version":1}]}"#)
            try refused.expectProblem(.conflict, kind: "conflict")
            #expect(try refused.problemFields() == ["consents[0].status"])
            let lifted = try await server.api.delete("/v1/subjects/\(id)/object", key: server.keys.support)
            #expect(try lifted.object()["has_objected"] as? Bool == false)
            try await server.consent(id, ["offers": "granted"])
            #expect(try await server.profile(id, purpose: "offers", key: server.keys.sales)["is_visible"] as? Bool == true)

            // Opt-out of sale, and Sec-GPC on a consent write: only exactly "1" counts.
            let other = try await server.createSubject(externalId: "cus_gpc")
            let consent = #"{"consents":[{"purpose":"newsletter","status":"granted","notice_version":1}]}"#
            _ = try await server.api.post("/v1/subjects/\(other)/consents", key: server.keys.marketing, body: consent, headers: ["Sec-GPC": "0"])
            #expect(try await server.store.subject(other).hasOptedOutOfSale == false)
            let signalled = try await server.api.post("/v1/subjects/\(other)/consents", key: server.keys.marketing, body: consent, headers: ["Sec-GPC": "1"])
            #expect(signalled.status == .created)
            #expect(try await server.store.subject(other).hasOptedOutOfSale == true)
            let optOut = try await server.api.post("/v1/subjects/\(id)/opt-out-of-sale", key: server.keys.support, body: "")
            #expect(try optOut.object()["has_opted_out_of_sale"] as? Bool == true)

            let gpc = try await server.api.get("/.well-known/gpc.json")
            #expect(gpc.status == .ok && gpc.contentType == "application/json")
            #expect(try gpc.object()["gpc"] as? Bool == true)

            // Erased: every rights route answers 410, and erasing again too.
            #expect((try await server.api.delete("/v1/subjects/\(id)", key: server.keys.support)).status == .ok)
            try (try await server.api.delete("/v1/subjects/\(id)", key: server.keys.support)).expectProblem(.gone, kind: "subject-erased")
            try (try await server.api.get("/v1/subjects/\(id)/export", key: server.keys.support)).expectProblem(.gone)
            try (try await server.api.post("/v1/subjects/\(id)/rectify", key: server.keys.support, body: #"{"field":"shoe_size","value":40}"#)).expectProblem(.gone)
            try (try await server.api.post("/v1/subjects/\(id)/object", key: server.keys.support, body: "")).expectProblem(.gone)
            try (try await server.api.get("/v1/subjects/\(Self.unknown)/export", key: server.keys.support)).expectProblem(.notFound)
            #expect(try await server.ledgerEntries() > 0)
        }
    }

    @Test func requestsAreTrackedAndCompleted() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject(externalId: "cus_request")
            let known = try await server.api.post("/v1/requests", key: server.keys.support,
                                                  body: #"{"type":"erase","channel":"email","jurisdiction":"gdpr","external_id":"cus_request"}"#)
            let unknown = try await server.api.post("/v1/requests", key: server.keys.support,
                                                    body: #"{"type":"erase","channel":"email","jurisdiction":"gdpr","external_id":"cus_nobody"}"#)
            #expect(known.status == .created && unknown.status == .created)
            let knownBody = try known.object()
            #expect(Set(knownBody.keys) == Set(try unknown.object().keys))
            #expect(knownBody["subject_id"] == nil)
            let requestId = try #require(knownBody["id"] as? String)

            try (try await server.api.post("/v1/requests/\(requestId)/extend", key: server.keys.support, body: #"{"months":1}"#))
                .expectProblem(.unprocessableContent, field: "reason")
            try (try await server.api.post("/v1/requests/\(requestId)/extend", key: server.keys.support, body: #"{"months":3,"reason":"complex"}"#))
                .expectProblem(.unprocessableContent, field: "months")
            let early = try await server.api.post("/v1/requests/\(requestId)/complete", key: server.keys.support, body: "{}")
            try early.expectProblem(.conflict)
            #expect(try early.problemFields() == ["status"])
            let extended = try await server.api.post("/v1/requests/\(requestId)/extend", key: server.keys.support, body: #"{"months":2,"reason":"complex"}"#)
            #expect(try extended.object()["extension"] as? Int == 2)

            let verified = try await server.api.post("/v1/requests/\(requestId)/verify", key: server.keys.support, body: #"{"method":"email_link"}"#)
            #expect(try verified.object()["subject_id"] as? String == id)
            let assigned = try await server.api.post("/v1/requests/\(requestId)/assign", key: server.keys.support, body: #"{"assignee":"dpo"}"#)
            #expect(try assigned.object()["assignee"] as? String == "dpo")
            let done = try await server.api.post("/v1/requests/\(requestId)/complete", key: server.keys.support, body: "{}")
            #expect(done.status == .ok, "\(done.text)")
            #expect((try done.object()["request"] as? [String: Any])?["outcome"] as? String == "completed")
            try (try await server.api.get("/v1/subjects/\(id)", key: server.keys.support, purpose: "support")).expectProblem(.gone)

            // The log as JSON and CSV, readable by erase or audit.
            let list = try await server.api.get("/v1/requests?limit=1", key: server.keys.admin)
            let listBody = try list.object()
            #expect((listBody["data"] as? [Any])?.count == 1)
            #expect(listBody["next_cursor"] is String)
            let csv = try await server.api.get("/v1/requests.csv", key: server.keys.support)
            #expect(csv.status == .ok && csv.contentType == "text/csv; charset=utf-8")
            let lines = csv.text.split(separator: "\r\n")
            #expect(lines.count == 3 && lines[0].hasPrefix("id,type,channel,jurisdiction,status"))
            let negotiated = try await server.api.get("/v1/requests", key: server.keys.support, headers: ["Accept": "text/csv"])
            #expect(negotiated.text == csv.text)
            let overdue = try await server.api.get("/v1/requests?overdue=true", key: server.keys.support)
            #expect((try overdue.object()["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func auditLogAndReport() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            try await server.declare(id, ["shoe_size": 40])
            _ = try await server.profile(id, purpose: "support", key: server.keys.support)
            try (try await server.api.get("/v1/purposes", key: "cnd_sk_BADBADBADBADBADBADBADBADBADBADBA")).expectProblem(.unauthorized)

            let log = try await server.api.get("/v1/audit?subject_id=\(id)", key: server.keys.admin)
            #expect(log.status == .ok, "\(log.text)")
            let actions = (try log.object()["data"] as? [[String: Any]])?.map { $0["action"] as? String }
            #expect(actions == ["subject.create", "declaration.create", "profile.read"])
            let byTeam = try await server.api.get("/v1/audit?subject_id=\(id)&team=support", key: server.keys.admin)
            #expect((try byTeam.object()["data"] as? [[String: Any]])?.map { $0["action"] as? String } == ["profile.read"])
            try (try await server.api.get("/v1/audit?since=yesterday", key: server.keys.admin)).expectProblem(.badRequest, field: "since")

            let report = try await server.api.get("/v1/audit/report?since=2020-01-01T00:00:00Z", key: server.keys.admin)
            #expect(report.status == .ok, "\(report.text)")
            let body = try report.object()
            let failures = try #require(body["failed_authentications"] as? [[String: Any]])
            #expect(failures.map { $0["key_prefix"] as? String } == ["cnd_sk_BADB…"])
            #expect(body["unused_key_days"] as? Int == 90)
            try (try await server.api.get("/v1/audit/report", key: server.keys.admin)).expectProblem(.badRequest, field: "since")
        }
    }
}
