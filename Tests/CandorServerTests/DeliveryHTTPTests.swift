import CandorCore
import CandorServer
import CandorStore
import Foundation
import Testing

/// `/v1/destinations` in process: every route, its role checks and bad input. The server has no
/// allowed private networks, so the guard refuses every internal address; a public literal address
/// stands in for a receiver (nothing is delivered in these tests: no worker runs).
@Suite("Destinations over HTTP")
struct DeliveryHTTPTests {
    static let good = #"{"url": "https://8.8.8.8/hooks/candor", "purposes": ["newsletter"], "fields": ["interests"], "event_types": ["declaration.recorded", "consent.*"]}"#

    @Test("Every route: create (secret once), read, list, replace, rotate, logs, replay, delete")
    func routes() async throws {
        try await TestServer.run { server in
            let api = server.api, admin = server.keys.admin
            let created = try await api.post("/v1/destinations", key: admin, body: Self.good)
            #expect(created.status == .created, "\(created.text)")
            let destination = try created.object()
            let id = try #require(destination["id"] as? String)
            let secret = try #require(destination["secret"] as? String)
            #expect(secret.hasPrefix("whsec_") && destination["secret_hint"] as? String == String(secret.suffix(4)))

            let shown = try await api.get("/v1/destinations/\(id)", key: admin).object()
            #expect(shown["secret"] == nil && shown["event_types"] as? [String] == ["consent.*", "declaration.recorded"])
            let listed = try await api.get("/v1/destinations", key: admin).object()
            #expect((listed["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])

            let replaced = try await api.send(.put, "/v1/destinations/\(id)", key: admin, body: #"{"url": "https://8.8.4.4/h", "purposes": ["offers"], "enabled": false}"#)
            #expect(replaced.status == .ok)
            let replacement = try replaced.object()
            #expect(replacement["enabled"] as? Bool == false && replacement["purposes"] as? [String] == ["offers"])

            let rotated = try await api.post("/v1/destinations/\(id)/rotate-secret", key: admin, body: "")
            #expect(rotated.status == .ok)
            let rotation = try rotated.object()
            let newSecret = try #require(rotation["secret"] as? String)
            #expect(newSecret != secret && rotation["previous_secret_expires_at"] as? String != nil)

            #expect(try await api.get("/v1/destinations/\(id)/deliveries", key: admin).object()["data"] as? [Any] != nil)
            #expect(try await api.get("/v1/destinations/\(id)/dead-letters", key: admin).object()["data"] as? [Any] != nil)
            try await api.post("/v1/destinations/\(id)/dead-letters/evt_nothing/replay", key: admin, body: "").expectProblem(.notFound, kind: "not-found")

            let deleted = try await api.delete("/v1/destinations/\(id)", key: admin)
            #expect(deleted.status == .ok)
            try await api.get("/v1/destinations/\(id)", key: admin).expectProblem(.notFound, kind: "not-found")
        }
    }

    @Test("Internal addresses, unknown purposes, fields and event types are refused, naming the field, and nothing is written")
    func badInput() async throws {
        try await TestServer.run { server in
            let api = server.api, admin = server.keys.admin
            for url in ["https://127.0.0.1/h", "https://10.0.0.8/h", "https://169.254.169.254/", "https://[::1]/h", "https://[fd00::5]/", "https://100.64.1.1/",
                        "https://[::ffff:10.0.0.1]/", "http://8.8.8.8/h", "https://localhost/h", "file:///etc/passwd"] {
                try await api.post("/v1/destinations", key: admin, body: #"{"url": "\#(url)", "purposes": ["newsletter"]}"#)
                    .expectProblem(.unprocessableContent, kind: "validation-failed", field: "url")
            }
            let reply = try await api.post("/v1/destinations", key: admin, body: #"{"url": "https://8.8.8.8/", "purposes": ["newsletter", "ghost"], "fields": ["shoe_size", "nope"], "event_types": ["declaration.recorded", "nope.*"], "timeout_ms": 1}"#)
            try reply.expectProblem(.unprocessableContent, kind: "validation-failed")
            #expect(Set(try reply.problemFields()) == ["purposes[1]", "fields[0]", "fields[1]", "event_types[1]", "timeout_ms"])
            try await api.post("/v1/destinations", key: admin, body: #"{"url": "https://8.8.8.8/"}"#).expectProblem(.unprocessableContent, field: "purposes")
            try await api.post("/v1/destinations", key: admin, body: "{").expectProblem(.badRequest, field: "body")
            try await api.post("/v1/destinations", key: server.keys.marketing, body: Self.good).expectProblem(.forbidden, kind: "forbidden")
            try await api.get("/v1/destinations", key: server.keys.marketing).expectProblem(.forbidden, kind: "forbidden")
            try await api.get("/v1/destinations").expectProblem(.unauthorized, field: "Authorization")
            try await api.get("/v1/destinations/dst_missing/deliveries", key: admin).expectProblem(.notFound)
            #expect(try await server.store.count("destinations") == 0)

            let id = try #require(try await api.post("/v1/destinations", key: admin, body: Self.good).object()["id"] as? String)
            try await api.get("/v1/destinations/\(id)/deliveries?status=lost", key: admin).expectProblem(.badRequest, field: "status")
            try await api.post("/v1/destinations/\(id)/rotate-secret", key: admin, body: #"{"overlap_seconds": 99999999}"#).expectProblem(.unprocessableContent, field: "overlap_seconds")
            try await api.send(.put, "/v1/destinations/\(id)", key: admin, body: #"{"url": "https://192.168.1.1/", "purposes": ["newsletter"]}"#)
                .expectProblem(.unprocessableContent, field: "url")
            #expect(try await api.get("/v1/destinations/\(id)", key: admin).object()["url"] as? String == "https://8.8.8.8/hooks/candor", "a refused change changes nothing")
        }
    }
}
