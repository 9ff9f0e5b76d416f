import CandorCore
import CandorStore
import Foundation
import Testing

/// Automations (Store+Automations.swift) on every backend: one run per automation and event however
/// often the queue is read, a durable cursor, loops stopped, set-field only with the person's
/// permission, alerts held by the declared frequency, incentives once, and erasure of runs and alerts.
@Suite("Automation contract")
struct AutomationContractTests {
    static let render: AutomationMessageRenderer = { message, locale, values, _, _ in
        RenderedAutomationMessage(subject: message.subject, text: message.text + " [\(locale)] " + values.keys.sorted().joined(separator: ","))
    }
    static let hello = ["en": AutomationMessage(subject: "Hello", text: "Thanks for telling us")]

    /// Adds the fields the tests act on: `followups` (yes/no, the permission) and `content_frequency`.
    static func addFields(_ h: Harness) async throws {
        _ = try await h.store.createField(FieldInput(key: "followups", type: "single_choice", options: ["yes", "no"], purposes: ["newsletter"],
                                                     labels: ["en": "May we follow up for you?"]), by: nil)
        _ = try await h.store.createField(FieldInput(key: "content_frequency", type: "single_choice", options: ["daily", "weekly", "monthly"], purposes: ["newsletter"],
                                                     labels: ["en": "How often?"]), by: nil)
    }

    static func create(_ h: Harness, _ input: AutomationInput) async throws -> Automation {
        let problems = try await h.store.automationProblems(input)
        #expect(problems.isEmpty, "\(problems)")
        return try #require(try await h.store.createAutomation(input, by: h.principal).freshValue)
    }

    static func destination(_ h: Harness) async throws -> Destination {
        let secret = Array(repeating: UInt8(9), count: 32)
        let settings = DestinationSettings(url: "https://hooks.example.com/candor", description: nil, purposes: ["newsletter"], fields: [], eventTypes: ["consent.*"],
                                           sharesData: false, enabled: true, maxAttempts: nil, timeoutMs: nil, retryBaseMs: nil)
        return try #require(try await h.store.createDestination(settings, secret: secret, secretText: "whsec_" + Data(secret).base64EncodedString(), by: h.principal).freshValue)
    }

    /// The engine's loop without the server: every event after the cursor, in order. Returns the e-mails decided.
    @discardableResult
    static func drain(_ h: Harness, canSendMail: Bool = false) async throws -> [AutomationSend] {
        let automations = try await h.store.enabledAutomations().map { automation in
            CompiledAutomation(automation: automation, rule: try automation.rule.map { try h.store.compileRule($0) }, ruleBroken: false)
        }
        var sends = [AutomationSend]()
        for _ in 0..<50 {
            let queue = try await h.store.automationQueue(after: try await h.store.automationCursor(), limit: 100)
            if queue.isEmpty { return sends }
            for (sequence, event) in queue {
                if let event {
                    sends += try await h.store.runAutomations(event, automations: automations, canSendMail: canSendMail, render: render)
                } else {
                    try await h.store.advanceAutomationCursor(to: sequence)
                }
            }
        }
        Issue.record("the queue never drained")
        return sends
    }

    static func runs(_ h: Harness, _ automation: Automation) async throws -> [AutomationRun] {
        try await h.store.automationRuns(automationId: automation.id, cursor: nil, limit: 100).data
    }

    @Test("An event runs each matching automation once: reading the queue again, or from an older cursor, repeats nothing", arguments: Backend.available)
    func oneRunPerEvent(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let destination = try await Self.destination(h)
            let automation = try await Self.create(h, AutomationInput(
                name: "Tell the CRM", trigger: AutomationTrigger(event: "declaration.recorded", fields: ["interests"]),
                actions: [AutomationAction(type: .callDestination, destinationId: destination.id)]))
            _ = try await h.store.startAutomationCursor()
            let person = try await h.newSubject()
            try await h.grant(person, "newsletter")
            try await h.declare(person, ["shoe_size": .number(41)])
            try await h.declare(person, ["interests": .array([.string("hiking")])])
            try await Self.drain(h)

            var runs = try await Self.runs(h, automation)
            #expect(runs.count == 1, "the shoe size declaration does not match the filter")
            #expect(runs.first?.status == "completed" && runs.first?.actions.map(\.outcome) == ["queued"] && runs.first?.subjectId == person)
            // The webhook goes through the delivery pipeline, to this destination only, once.
            let jobs = try await h.query("SELECT destination_id, event_type FROM delivery_jobs WHERE event_type = 'automation.triggered'")
            #expect(jobs.map { $0.text(0) } == [destination.id])
            #expect(try await h.store.fanOutDeliveries() >= 0)
            #expect(try await h.query("SELECT count(*) FROM delivery_jobs WHERE event_type = 'automation.triggered'").first?.int(0) == 1)

            // A restart that lost its cursor (or a second node) reads the same events again: nothing repeats.
            let end = try await h.store.automationCursor()
            try await h.tamper("UPDATE automation_cursor SET position = 0", [])
            try await Self.drain(h)
            runs = try await Self.runs(h, automation)
            #expect(runs.count == 1)
            #expect(try await h.query("SELECT count(*) FROM delivery_jobs WHERE event_type = 'automation.triggered'").first?.int(0) == 1)
            #expect(try await h.store.automationCursor() == end, "the cursor is durable and back at the end")
            // The run is audited.
            #expect(try await h.query("SELECT count(*) FROM audit_log WHERE action = 'automation.run' AND subject_id = ?", [.text(person)]).first?.int(0) == 1)
        }
    }

    @Test("The cursor starts at the end of the outbox, so events from before automations existed start nothing", arguments: Backend.available)
    func cursorStartsAtTheEnd(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let person = try await h.newSubject()
            try await h.declare(person, ["interests": .array([.string("hiking")])])
            let automation = try await Self.create(h, AutomationInput(
                name: "Alert", trigger: AutomationTrigger(event: "declaration.recorded"),
                actions: [AutomationAction(type: .alert, purpose: "support", content: Self.hello)]))
            let start = try await h.store.startAutomationCursor()
            #expect(try await h.store.startAutomationCursor() == start, "starting again keeps the stored position")
            try await Self.drain(h)
            #expect(try await Self.runs(h, automation).isEmpty)
        }
    }

    @Test("Two automations that would trigger each other stop: neither fires on an event it caused", arguments: Backend.available)
    func loopsStop(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            try await Self.addFields(h)
            let yes = AutomationPermission(field: "followups", value: .string("yes"))
            let a = try await Self.create(h, AutomationInput(
                name: "A", trigger: AutomationTrigger(event: "declaration.recorded", fields: ["interests"]),
                actions: [AutomationAction(type: .setField, field: "content_frequency", value: .string("weekly"), permission: yes)]))
            let b = try await Self.create(h, AutomationInput(
                name: "B", trigger: AutomationTrigger(event: "declaration.recorded", fields: ["content_frequency"]),
                actions: [AutomationAction(type: .setField, field: "interests", value: .array([.string("yoga")]), permission: yes)]))
            _ = try await h.store.startAutomationCursor()
            let person = try await h.newSubject()
            try await h.declare(person, ["followups": .string("yes"), "interests": .array([.string("running")])])
            try await Self.drain(h)

            let runsA = try await Self.runs(h, a).sorted { $0.createdAt < $1.createdAt || ($0.createdAt == $1.createdAt && $0.causedBy.count < $1.causedBy.count) }
            let runsB = try await Self.runs(h, b)
            #expect(runsA.map(\.status) == ["completed", "skipped"])
            #expect(runsA.last?.reason == "loop" && runsA.last?.causedBy == [a.id, b.id])
            #expect(runsB.map(\.status) == ["completed"] && runsB.first?.causedBy == [a.id])
            // What the automations wrote is the person's, made on their behalf, citing the current notices.
            let values = try await h.store.exportSubject(subjectId: person, by: h.principal).values
            #expect(values["content_frequency"]?.value == .string("weekly") && values["content_frequency"]?.source == "automation"
                    && values["content_frequency"]?.collectionPoint == "automation:\(a.id)")
            #expect(values["interests"]?.value == .array([.string("yoga")]) && values["interests"]?.collectionPoint == "automation:\(b.id)")
            #expect(values["interests"]?.notices == h.currentNotices.filter { ["newsletter", "offers"].contains($0.key) })
        }
    }

    @Test("A set-field action acts only where the person declared the permission", arguments: Backend.available)
    func setFieldNeedsPermission(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            try await Self.addFields(h)
            let automation = try await Self.create(h, AutomationInput(
                name: "Frequency follow-up", trigger: AutomationTrigger(event: "consent.granted", purposes: ["newsletter"]),
                actions: [AutomationAction(type: .setField, field: "content_frequency", value: .string("monthly"),
                                           permission: AutomationPermission(field: "followups", value: .string("yes")))]))
            _ = try await h.store.startAutomationCursor()
            let silent = try await h.newSubject()
            try await h.declare(silent, ["followups": .string("no")])
            try await h.grant(silent, "newsletter")
            try await Self.drain(h)
            let run = try #require(try await Self.runs(h, automation).first)
            #expect(run.actions.first?.outcome == "not_allowed")
            #expect(try await h.store.exportSubject(subjectId: silent, by: h.principal).values["content_frequency"] == nil)

            // With the permission declared, a value is set — and a clearing action clears it, on the person's behalf.
            let clearing = try await Self.create(h, AutomationInput(
                name: "Forget frequency", trigger: AutomationTrigger(event: "consent.withdrawn", purposes: ["newsletter"]),
                actions: [AutomationAction(type: .setField, field: "content_frequency", clear: true,
                                           permission: AutomationPermission(field: "followups", value: .string("yes")))]))
            let willing = try await h.newSubject()
            try await h.declare(willing, ["followups": .string("yes")])
            try await h.grant(willing, "newsletter")
            try await Self.drain(h)
            #expect(try await h.store.exportSubject(subjectId: willing, by: h.principal).values["content_frequency"]?.value == .string("monthly"))
            try await h.withdraw(willing, "newsletter")
            try await Self.drain(h)
            #expect(try await h.store.automationRuns(automationId: clearing.id, subjectId: willing, cursor: nil, limit: 5).data.first?.actions.first?.outcome == "cleared")
            let export = try await h.store.exportSubject(subjectId: willing, by: h.principal)
            #expect(export.values["content_frequency"] == nil)
            #expect(export.history.filter { $0.source == "automation" }.map(\.collectionPoint) == ["automation:\(automation.id)", "automation:\(clearing.id)"],
                    "the person's history shows both as made on their behalf")
        }
    }

    @Test("Alerts go over a declared channel, at most once per declared period; a held alert is recorded as deferred", arguments: Backend.available)
    func alertsHonourFrequency(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            try await Self.addFields(h)
            let destination = try await Self.destination(h)
            let alert = try await Self.create(h, AutomationInput(
                name: "Interest alert", trigger: AutomationTrigger(event: "declaration.recorded", fields: ["interests"]),
                actions: [AutomationAction(type: .alert, destinationId: destination.id, purpose: "newsletter", content: Self.hello)]))
            _ = try await h.store.startAutomationCursor()
            let texted = try await h.newSubject()
            try await h.grant(texted, "newsletter")
            try await h.declare(texted, ["channels": .array([.string("sms")]), "content_frequency": .string("weekly")])
            try await h.declare(texted, ["interests": .array([.string("hiking")])])
            try await h.declare(texted, ["interests": .array([.string("yoga")])])
            try await Self.drain(h)
            h.clock.advance(byMillis: 7 * 86_400_000)
            try await h.declare(texted, ["interests": .array([.string("running")])])
            try await Self.drain(h)

            let runs = try await Self.runs(h, alert).reversed().map { $0.actions[0] }
            #expect(runs.map(\.outcome) == ["queued", "deferred", "queued"])
            #expect(runs.map(\.channel) == ["sms", nil, "sms"])
            #expect(runs[1].reason == "frequency:weekly" && runs[1].notBefore != nil)
            #expect(try await h.query("SELECT count(*) FROM delivery_jobs WHERE event_type = 'automation.alert'").first?.int(0) == 2)

            // By e-mail: the message is decided in the run and its outcome recorded after the send.
            let mailed = try await h.newSubject(email: "ada@example.com")
            try await h.grant(mailed, "newsletter")
            try await h.declare(mailed, ["channels": .array([.string("email")]), "content_frequency": .string("daily")])
            try await h.declare(mailed, ["interests": .array([.string("hiking")])])
            let sends = try await Self.drain(h, canSendMail: true)
            let send = try #require(sends.first)
            #expect(sends.count == 1 && send.to == "ada@example.com" && send.message.subject == "Hello")
            try await h.store.completeAutomationSends([(send, .sent)])
            let mailedRun = try #require(try await h.store.automationRuns(automationId: alert.id, subjectId: mailed, cursor: nil, limit: 5).data.first)
            #expect(mailedRun.actions.first?.outcome == "sent" && mailedRun.actions.first?.channel == "email")
            #expect(try await h.query("SELECT count(*) FROM audit_log WHERE action = 'automation.alert' AND subject_id = ?", [.text(mailed)]).first?.int(0) == 1)
            // The message shows in the person's export and in the audit report, with the fields it used.
            let shared = try await h.store.exportSubject(subjectId: mailed, by: h.principal).sharedWith.filter { $0.action == "automation.alert" }
            #expect(shared.count == 1 && shared.first?.purpose == "newsletter" && shared.first?.fields.contains("email") == true)
            let report = try await h.store.auditReport(since: 0, until: h.clock.nowMillis() + 1)
            #expect(report.reads.contains { $0.action == "automation.alert" && $0.purpose == "newsletter" && $0.count == 1 })

            // A person who withdrew consent for the alert's purpose gets nothing.
            try await h.withdraw(mailed, "newsletter")
            h.clock.advance(byMillis: 2 * 86_400_000)
            try await h.declare(mailed, ["interests": .array([.string("yoga")])])
            #expect(try await Self.drain(h, canSendMail: true).isEmpty)
            let withdrawn = try #require(try await h.store.automationRuns(automationId: alert.id, subjectId: mailed, cursor: nil, limit: 5).data.first)
            #expect(withdrawn.actions.first?.outcome == "skipped" && withdrawn.actions.first?.reason == "consent_withdrawn")
        }
    }

    @Test("E-mails: skipped without an address; a send interrupted by a crash is recorded as failed, never sent twice", arguments: Backend.available)
    func emailOutcomes(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let automation = try await Self.create(h, AutomationInput(
                name: "Welcome", trigger: AutomationTrigger(event: "consent.granted"),
                actions: [AutomationAction(type: .sendEmail, purpose: "newsletter", content: Self.hello)]))
            _ = try await h.store.startAutomationCursor()
            let anonymous = try await h.newSubject()
            try await h.grant(anonymous, "newsletter")
            let known = try await h.newSubject(email: "bo@example.com")
            try await h.grant(known, "newsletter")
            let sends = try await Self.drain(h, canSendMail: true)
            #expect(sends.map(\.subjectId) == [known])
            let skipped = try #require(try await h.store.automationRuns(automationId: automation.id, subjectId: anonymous, cursor: nil, limit: 5).data.first)
            #expect(skipped.actions.first?.outcome == "skipped" && skipped.actions.first?.reason == "no_email")
            // The process stops before recording the send: the next start marks it interrupted.
            try await h.store.failInterruptedAutomationSends(olderThanMillis: 0)
            let interrupted = try #require(try await h.store.automationRuns(automationId: automation.id, subjectId: known, cursor: nil, limit: 5).data.first)
            #expect(interrupted.actions.first?.outcome == "failed" && interrupted.actions.first?.reason == "interrupted")
            try await h.store.completeAutomationSends([(sends[0], .sent)])
            #expect(try await h.store.automationRuns(automationId: automation.id, subjectId: known, cursor: nil, limit: 5).data.first?.actions.first?.outcome == "failed",
                    "a late answer does not rewrite an interrupted send")
        }
    }

    @Test("An incentive is issued once per person per automation, and its event names the automation that caused it", arguments: Backend.available)
    func incentiveOnce(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let pool = try await h.store.createIncentivePool(IncentivePoolInput(name: "Thanks"), by: h.principal)
            _ = try await h.store.addIncentiveCodes(poolId: pool.id, codes: ["A1", "B2", "C3"], by: h.principal)
            let automation = try await Self.create(h, AutomationInput(
                name: "Thank you", trigger: AutomationTrigger(event: "declaration.recorded"), actions: [AutomationAction(type: .issueIncentive, poolId: pool.id)]))
            _ = try await h.store.startAutomationCursor()
            let person = try await h.newSubject()
            try await h.declare(person, ["shoe_size": .number(40)])
            try await h.declare(person, ["shoe_size": .number(41)])
            try await Self.drain(h)
            let outcomes = try await Self.runs(h, automation).reversed().map { $0.actions[0].outcome }
            #expect(outcomes == ["issued", "skipped"])
            #expect(try await h.store.incentivePool(pool.id)?.issued == 1)
            let events = try await h.store.automationQueue(after: 0, limit: 100).compactMap(\.event).filter { $0.type == "incentive.issued" }
            #expect(events.count == 1 && events.first?.causedBy == [automation.id] && events.first?.data["automation_id"] == .string(automation.id))
        }
    }

    @Test("Restricted people get no runs; erasure deletes a person's runs and alert log", arguments: Backend.available)
    func restrictedAndErased(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let automation = try await Self.create(h, AutomationInput(
                name: "Alert", trigger: AutomationTrigger(event: "declaration.recorded"),
                actions: [AutomationAction(type: .alert, purpose: "support", content: Self.hello)]))
            _ = try await h.store.startAutomationCursor()
            let restricted = try await h.newSubject()
            _ = try await h.store.setRestricted(true, subjectId: restricted, by: h.principal)
            try await h.declare(restricted, ["nickname": .string("Ri")])
            let erased = try await h.newSubject()
            try await h.declare(erased, ["nickname": .string("Er")])
            try await Self.drain(h)
            #expect(try await Self.runs(h, automation).map(\.subjectId) == [erased])
            #expect(try await h.query("SELECT count(*) FROM automation_runs WHERE subject_id = ?", [.text(restricted)]).first?.int(0) == 0)
            _ = try await h.store.erase(subjectId: erased, by: h.principal)
            try await Self.drain(h)
            #expect(try await h.query("SELECT count(*) FROM automation_runs WHERE subject_id = ?", [.text(erased)]).first?.int(0) == 0)
            #expect(try await h.query("SELECT count(*) FROM automation_alerts WHERE subject_id = ?", [.text(erased)]).first?.int(0) == 0)
        }
    }

    @Test("GPC received and a completed rights request are events automations start on, emitted once where they happen", arguments: Backend.available)
    func gpcAndRightsEvents(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let onGPC = try await Self.create(h, AutomationInput(
                name: "GPC noted", trigger: AutomationTrigger(event: "gpc.received"), actions: [AutomationAction(type: .alert, purpose: "support", content: Self.hello)]))
            let onAccess = try await Self.create(h, AutomationInput(
                name: "Access done", trigger: AutomationTrigger(event: "rights.completed", requestTypes: ["access"]),
                actions: [AutomationAction(type: .alert, purpose: "support", content: Self.hello)]))
            _ = try await h.store.startAutomationCursor()
            let person = try await h.newSubject(email: "gpc@example.com")
            _ = try await h.store.optOutOfSale(subjectId: person, method: .gpc, by: nil)
            _ = try await h.store.optOutOfSale(subjectId: person, method: .gpc, by: nil)
            let request = try #require(try await h.store.createRequest(
                RightsRequestInput(type: "access", channel: "email", jurisdiction: "gdpr", email: "gpc@example.com"), by: h.principal).freshValue)
            _ = try await h.store.verifyRequest(id: request.id, method: "email_link", by: h.principal)
            _ = try await h.store.completeRequest(id: request.id, by: h.principal)
            try await Self.drain(h)
            #expect(try await Self.runs(h, onGPC).map(\.eventType) == ["gpc.received"], "the second signal changes nothing and emits nothing")
            let access = try await Self.runs(h, onAccess)
            #expect(access.map(\.eventType) == ["rights.completed"] && access.first?.subjectId == person)
        }
    }

    @Test("Unknown destinations, pools and surveys are named before anything is written", arguments: Backend.available)
    func unknownReferences(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let problems = try await h.store.automationProblems(AutomationInput(
                name: "Broken", trigger: AutomationTrigger(event: "survey.completed", surveys: ["srv_nope"]),
                actions: [AutomationAction(type: .callDestination, destinationId: "dst_nope"), AutomationAction(type: .issueIncentive, poolId: "ipl_nope")]))
            #expect(problems.map(\.field) == ["actions[0].destination_id", "actions[1].pool_id", "trigger.surveys[0]"])
        }
    }

    @Test("Two nodes on PostgreSQL never run the same automation for the same event")
    func twoNodes() async throws {
        try await Harness.withTwoPostgresNodes { nodeA, nodeB, principal in
            let automation = try #require(try await nodeA.createAutomation(AutomationInput(
                name: "Tag", trigger: AutomationTrigger(event: "consent.granted"), actions: [AutomationAction(type: .alert, purpose: "support", content: Self.hello)]),
                by: principal).freshValue)
            _ = try await nodeA.startAutomationCursor()
            let subject = try #require(try await nodeA.createSubject(SubjectInput(), by: principal).freshValue)
            _ = try await nodeA.setConsents(subjectId: subject.id, [ConsentInput(purpose: "newsletter", status: "granted", method: "checkbox", noticeVersion: 1)], by: principal)
            let event = try #require(try await nodeA.automationQueue(after: 0, limit: 50).compactMap(\.event).first { $0.type == "consent.granted" })
            let compiled = [CompiledAutomation(automation: automation, rule: nil, ruleBroken: false)]
            async let onA = nodeA.runAutomations(event, automations: compiled, canSendMail: false, render: Self.render)
            async let onB = nodeB.runAutomations(event, automations: compiled, canSendMail: false, render: Self.render)
            _ = try await (onA, onB)
            #expect(try await nodeA.automationRuns(automationId: automation.id, cursor: nil, limit: 10).data.count == 1)
        }
    }
}
