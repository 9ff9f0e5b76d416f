import CandorCore
import CandorMail
import CandorServer
import CandorStore
import Foundation
import Testing

/// `/v1/automations` in process: every route, role checks, bad input named field by field, and one
/// automation run end to end by the engine with a capturing mail transport.
@Suite("Automations over HTTP")
struct AutomationHTTPTests {
    static let alert = #"""
    {"name": "Interest alert", "trigger": {"event": "declaration.recorded", "fields": ["interests"]},
     "rule": "consent(\"newsletter\")",
     "actions": [{"type": "alert", "purpose": "newsletter",
                  "content": {"en": {"subject": "News about {{interests}}", "text": "You told us you like {{interests}}."}}}]}
    """#

    /// Keeps every message handed to it, and says each was delivered.
    final class CapturingTransport: MailTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var kept = [OutgoingMail]()
        var mails: [OutgoingMail] { lock.withLock { kept } }
        func deliver(_ batch: [OutgoingMail]) async -> [DeliveryOutcome] {
            lock.withLock { kept += batch }
            return batch.map { _ in .delivered(rejected: [:]) }
        }
    }

    @Test("Every route: create, read, list, replace, disable, enable, the run log, delete")
    func routes() async throws {
        try await TestServer.run { server in
            let api = server.api, admin = server.keys.admin
            let created = try await api.post("/v1/automations", key: admin, body: Self.alert)
            #expect(created.status == .created, "\(created.text)")
            let automation = try created.object()
            let id = try #require(automation["id"] as? String)
            #expect(id.hasPrefix("aut_") && automation["enabled"] as? Bool == true)

            #expect(try await api.get("/v1/automations/\(id)", key: admin).object()["name"] as? String == "Interest alert")
            #expect((try await api.get("/v1/automations", key: admin).object()["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            let replaced = try await api.send(.put, "/v1/automations/\(id)", key: admin, body: Self.alert.replacingOccurrences(of: "Interest alert", with: "Renamed"))
            let renamed = try replaced.object()["name"] as? String
            #expect(replaced.status == .ok && renamed == "Renamed")
            #expect(try await api.post("/v1/automations/\(id)/disable", key: admin, body: "").object()["enabled"] as? Bool == false)
            #expect(try await api.post("/v1/automations/\(id)/enable", key: admin, body: "").object()["enabled"] as? Bool == true)
            #expect((try await api.get("/v1/automations/\(id)/runs", key: admin).object()["data"] as? [Any])?.isEmpty == true)
            // Every write is audited.
            let actions = try await server.store.database.read { connection in
                try connection.query("SELECT action FROM audit_log WHERE action LIKE 'automation.%' ORDER BY id", []).map { $0.text(0) }
            }
            #expect(actions == ["automation.create", "automation.update", "automation.disable", "automation.enable"])
            // A retried creation with the same Idempotency-Key returns the first answer and creates nothing.
            let first = try await api.post("/v1/automations", key: admin, body: Self.alert, headers: ["Idempotency-Key": "auto-1"])
            let again = try await api.post("/v1/automations", key: admin, body: Self.alert, headers: ["Idempotency-Key": "auto-1"])
            #expect(first.status == .created && again.status == .created && again.header("Idempotent-Replayed") == "true")
            #expect(try first.object()["id"] as? String == (try again.object()["id"] as? String))
            #expect(try await server.store.count("automations") == 2)
            #expect(try await api.delete("/v1/automations/\(id)", key: admin).status == .ok)
            try await api.get("/v1/automations/\(id)", key: admin).expectProblem(.notFound, kind: "not-found")
            try await api.get("/v1/automations/\(id)/runs", key: admin).expectProblem(.notFound, kind: "not-found")
        }
    }

    @Test("Bad input is refused naming each field, and nothing is written")
    func badInput() async throws {
        try await TestServer.run { server in
            let api = server.api, admin = server.keys.admin
            let before = try await server.footprint()
            func refused(_ body: String, _ fields: Set<String>, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let reply = try await api.post("/v1/automations", key: admin, body: body)
                try reply.expectProblem(.unprocessableContent, kind: "validation-failed", sourceLocation: sourceLocation)
                #expect(Set(try reply.problemFields()) == fields, sourceLocation: sourceLocation)
            }
            let email = #"{"type": "send_email", "purpose": "newsletter", "content": {"en": {"subject": "Hi", "text": "Hello"}}}"#
            try await refused(#"{"name": "x", "trigger": {"event": "order.placed"}, "actions": [\#(email)]}"#, ["trigger.event"])
            let badRule = try await api.post("/v1/automations", key: admin, body: #"{"name": "x", "trigger": {"event": "gpc.received"}, "rule": "interests has \"running\" and", "actions": [\#(email)]}"#)
            try badRule.expectProblem(.unprocessableContent, field: "rule")
            #expect((try badRule.object()["detail"] as? String)?.contains("line 1, column 28") == true, "\(badRule.text)")
            try await refused(#"{"name": "x", "trigger": {"event": "gpc.received"}, "actions": [{"type": "call_destination", "destination_id": "dst_nope"}]}"#,
                              ["actions[0].destination_id"])
            try await refused(#"{"name": "x", "trigger": {"event": "gpc.received"}, "actions": [{"type": "issue_incentive", "pool_id": "ipl_nope"}]}"#,
                              ["actions[0].pool_id"])
            try await refused(#"{"name": "x", "trigger": {"event": "gpc.received"}, "actions": [{"type": "set_field", "field": "colour", "value": "red", "permission": {"field": "channels", "value": ["email"]}}]}"#,
                              ["actions[0].field"])
            try await refused(#"{"name": "x", "trigger": {"event": "gpc.received"}, "actions": [{"type": "set_field", "field": "content_frequency", "value": "weekly"}]}"#,
                              ["actions[0].permission"])
            try await refused(#"{"name": "x", "trigger": {"event": "gpc.received"}, "actions": [{"type": "send_email", "purpose": "newsletter", "content": {"en": {"subject": "Hi", "text": "{{#open}}never closed"}}}]}"#,
                              ["actions[0].content.en.text"])
            try await refused(#"{"name": "x", "trigger": {"event": "gpc.received"}, "actions": [{"type": "send_email", "purpose": "newsletter", "content": {"en": {"subject": "Hi", "text": "{{> partial}}"}}}]}"#,
                              ["actions[0].content.en.text"])
            try await refused(#"{"name": "", "trigger": {"event": "declaration.recorded", "purposes": ["newsletter"]}, "actions": [{"type": "fax"}]}"#,
                              ["name", "trigger.purposes", "actions[0].type"])
            try await api.post("/v1/automations", key: admin, body: #"{"name": "x"}"#).expectProblem(.unprocessableContent, field: "trigger")
            try await api.post("/v1/automations", key: admin, body: "{").expectProblem(.badRequest, field: "body")
            #expect(try await server.store.count("automations") == 0)
            #expect(try await server.footprint() == before, "a refused automation writes nothing, not even an audit row")
            try await api.post("/v1/automations", key: server.keys.marketing, body: Self.alert).expectProblem(.forbidden, kind: "forbidden")
            try await api.get("/v1/automations", key: server.keys.sales).expectProblem(.forbidden, kind: "forbidden")
            try await api.get("/v1/automations").expectProblem(.unauthorized, field: "Authorization")
            try await api.get("/v1/automations/aut_nope/runs?limit=0", key: admin).expectProblem(.badRequest, field: "limit")
        }
    }

    @Test("The engine runs an automation on a declaration: the e-mail says what the person declared, and the run log shows it was sent")
    func engineSendsEmail() async throws {
        try await TestServer.run { server in
            let api = server.api, admin = server.keys.admin
            let body = #"""
            {"name": "Welcome", "trigger": {"event": "consent.granted", "purposes": ["newsletter"]},
             "actions": [{"type": "send_email", "purpose": "newsletter",
                          "content": {"en": {"subject": "Welcome, {{interests}} fan", "text": "We will write about {{interests}}."},
                                      "he": {"subject": "ברוכים הבאים", "text": "נכתוב על {{interests}}."}}}]}
            """#
            let id = try #require(try await api.post("/v1/automations", key: admin, body: body).object()["id"] as? String)
            let transport = CapturingTransport()
            var config = ServerConfig()
            config.publicBaseURL = "https://candor.example"
            config.newsletters.from = "hello@shop.example"
            config.newsletters.transport = transport
            // The cursor starts now: what happens next is what the engine sees.
            try await AutomationEngineRunner.drain(store: server.store, config: config)

            let created = try await api.post("/v1/subjects", key: server.keys.marketing, body: #"{"email": "dana@example.com"}"#)
            let person = try #require(try created.object()["id"] as? String)
            try await server.declare(person, ["interests": ["running", "hiking"]])
            try await server.consent(person, ["newsletter": "granted"])
            try await AutomationEngineRunner.drain(store: server.store, config: config)

            let mails = transport.mails
            #expect(mails.count == 1)
            let mail = try #require(mails.first)
            #expect(mail.recipients == ["dana@example.com"])
            let text = mail.data
            #expect(text.contains("Subject: Welcome, Running, Hiking fan"))
            #expect(text.contains("List-Unsubscribe: <https://candor.example/unsubscribe/"))
            let runs = try await api.get("/v1/automations/\(id)/runs?subject_id=\(person)", key: admin).object()
            let run = try #require((runs["data"] as? [[String: Any]])?.first)
            #expect(run["status"] as? String == "completed" && run["event_type"] as? String == "consent.granted")
            #expect((run["actions"] as? [[String: Any]])?.first?["outcome"] as? String == "sent")
            // Running again sends nothing more.
            try await AutomationEngineRunner.drain(store: server.store, config: config)
            #expect(transport.mails.count == 1)
        }
    }
}
