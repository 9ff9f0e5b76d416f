import CandorCore
import Foundation

// Automations (issue 6, items 3 and 5): storage, the run log, the per-person alert log and the
// engine's durable cursor, and the one transaction in which an event's runs are decided.
//
// The engine (CandorServer/AutomationEngine.swift) follows the outbox by id. For each event it calls
// `runAutomations`, which in one transaction claims a run per matching automation — the unique key
// (automation_id, event_id) makes a second claim, by a restarted engine or another node, do nothing —
// runs every action that stays inside the database (set a field, issue an incentive, queue a webhook,
// record an alert), records the run and moves the cursor past the event. E-mails leave after that
// commit: their outcome is `sending` until `completeAutomationSends` records what the SMTP server said,
// and a crash in between leaves them `failed` with reason `interrupted` (at most once).

extension Migrations {
    /// Automations, their runs (one per automation and event), the alert log per person, and the cursor.
    static let automationsV1 = Migration(
        name: "automations_v1",
        sqlite: [
            "CREATE TABLE automations (id TEXT PRIMARY KEY, body TEXT NOT NULL, enabled INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
            """
            CREATE TABLE automation_runs (subject_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, automation_id TEXT NOT NULL, event_id TEXT NOT NULL,
              event_seq INTEGER NOT NULL, event_type TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, caused_by TEXT NOT NULL, actions TEXT NOT NULL,
              created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (automation_id, event_id))
            """,
            "CREATE INDEX automation_runs_by_automation ON automation_runs (automation_id, event_seq)",
            "CREATE INDEX automation_runs_by_subject ON automation_runs (subject_id)",
            """
            CREATE TABLE automation_alerts (subject_id TEXT NOT NULL, run_id TEXT NOT NULL, automation_id TEXT NOT NULL, status TEXT NOT NULL,
              channel TEXT, at INTEGER NOT NULL, not_before INTEGER)
            """,
            "CREATE INDEX automation_alerts_by_subject ON automation_alerts (subject_id, status, at)",
            "CREATE TABLE automation_cursor (name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
        ],
        postgres: [
            "CREATE TABLE automations (id TEXT PRIMARY KEY, body TEXT NOT NULL, enabled BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            """
            CREATE TABLE automation_runs (subject_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, automation_id TEXT NOT NULL, event_id TEXT NOT NULL,
              event_seq BIGINT NOT NULL, event_type TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, caused_by TEXT NOT NULL, actions TEXT NOT NULL,
              created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (automation_id, event_id))
            """,
            "CREATE INDEX automation_runs_by_automation ON automation_runs (automation_id, event_seq)",
            "CREATE INDEX automation_runs_by_subject ON automation_runs (subject_id)",
            """
            CREATE TABLE automation_alerts (subject_id TEXT NOT NULL, run_id TEXT NOT NULL, automation_id TEXT NOT NULL, status TEXT NOT NULL,
              channel TEXT, at BIGINT NOT NULL, not_before BIGINT)
            """,
            "CREATE INDEX automation_alerts_by_subject ON automation_alerts (subject_id, status, at)",
            "CREATE TABLE automation_cursor (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
        ])
}

/// An outbox event an automation may start on, opened.
public struct AutomationEventRecord: Sendable, Hashable {
    public var sequence: Int64
    public var id: String
    public var type: String
    public var subjectId: String
    public var data: [String: JSONValue]
    /// The automations whose actions caused this event (its `caused_by`), oldest first.
    public var causedBy: [String]

    public init(sequence: Int64, id: String, type: String, subjectId: String, data: [String: JSONValue], causedBy: [String]) {
        self.sequence = sequence
        self.id = id
        self.type = type
        self.subjectId = subjectId
        self.data = data
        self.causedBy = causedBy
    }
}

/// A message rendered for one person: what an e-mail or an alert says.
public struct RenderedAutomationMessage: Sendable, Hashable {
    public var subject: String
    public var text: String

    public init(subject: String, text: String) {
        self.subject = subject
        self.text = text
    }
}

/// Renders an action's message for one person (the server's Mustache): the message of the chosen
/// locale, the person's declared values that serve the action's purpose (display text), the person, the purpose.
public typealias AutomationMessageRenderer = @Sendable (_ message: AutomationMessage, _ locale: String, _ values: [String: String], _ subjectId: String, _ purpose: String) -> RenderedAutomationMessage?

/// An e-mail decided in a run, to be sent after the run committed.
public struct AutomationSend: Sendable, Hashable {
    public var runId: String
    public var automationId: String
    public var actionIndex: Int
    public var subjectId: String
    public var purpose: String
    /// `send_email` or `alert`.
    public var kind: String
    /// The decrypted address; kept in memory only, never logged.
    public var to: String
    public var message: RenderedAutomationMessage
    /// The fields whose values the message used (for the audit row).
    public var fields: [String]
}

/// How an e-mail of a run ended.
public enum AutomationSendResult: Sendable, Hashable {
    case sent
    case failed(String)
}

/// What the engine needs per automation on each round: the automation and its compiled rule.
public struct CompiledAutomation: Sendable {
    public var automation: Automation
    public var rule: SegmentExpr?
    /// The rule no longer compiles against the registry (a field was removed): runs fail with `rule_invalid`.
    public var ruleBroken: Bool

    public init(automation: Automation, rule: SegmentExpr?, ruleBroken: Bool) {
        self.automation = automation
        self.rule = rule
        self.ruleBroken = ruleBroken
    }
}

extension CandorStore {
    /// The automations acting in the current transaction, oldest first: `emit` names them in `caused_by`.
    /// Bound (synchronously, inside the transaction) only while an automation's actions run.
    @TaskLocal static var automationChain: [String] = []

    static let automationColumns = "id, body, enabled, created_at, updated_at"

    static func automation(_ row: SQLRow) throws -> Automation {
        let input = try CandorJSON.decode(AutomationInput.self, from: row.text(1))
        return Automation(id: row.text(0), input: input, enabled: row.int(2) != 0, createdAt: Timestamp.rfc3339(row.int(3)), updatedAt: Timestamp.rfc3339(row.int(4)))
    }

    // MARK: - Administration

    /// Every problem of an automation that the store can see — the registry rules of `AutomationRules`,
    /// and that its destinations, pools and surveys exist. (Templates are the server's to check.)
    public func automationProblems(_ input: AutomationInput) async throws -> [FieldError] {
        let registry = self.registry
        var errors = AutomationRules.validate(input, fields: registry.fields, purposes: registry.purposes).errors
        let destinations = input.actions.enumerated().compactMap { index, action in action.destinationId.map { (index, $0) } }
        let pools = input.actions.enumerated().compactMap { index, action in action.kind == .issueIncentive ? action.poolId.map { (index, $0) } : nil }
        let surveys = input.trigger.surveys ?? []
        let missing = try await database.read { connection -> [FieldError] in
            var out = [FieldError]()
            for (index, id) in destinations where try connection.queryOne("SELECT 1 FROM destinations WHERE id = ?", .text(id)) == nil {
                out.append(FieldError("actions[\(index)].destination_id", "unknown destination '\(id)'"))
            }
            for (index, id) in pools where !id.isEmpty {
                if try connection.queryOne("SELECT 1 FROM incentive_pools WHERE id = ?", .text(id)) == nil {
                    out.append(FieldError("actions[\(index)].pool_id", "unknown incentive pool '\(id)'"))
                }
            }
            for (index, id) in surveys.enumerated() where try connection.queryOne("SELECT 1 FROM surveys WHERE id = ?", .text(id)) == nil {
                out.append(FieldError("trigger.surveys[\(index)]", "unknown survey '\(id)'"))
            }
            return out
        }
        errors += missing
        return errors
    }

    private func loadAutomation(_ connection: SQLConnection, _ id: String, lock: Bool = false) throws -> Automation {
        guard let row = try connection.queryOne("SELECT \(Self.automationColumns) FROM automations WHERE id = ?\(lock ? database.dialect.forUpdate : "")", .text(id)) else {
            throw CandorError(.notFound, "no automation '\(id)'")
        }
        return try Self.automation(row)
    }

    /// Creates an automation (validated by the caller with `automationProblems` and its template checks). Audited.
    public func createAutomation(_ input: AutomationInput, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Automation> {
        if let replayed: WriteOutcome<Automation> = try await replay(principal, idempotency) { return replayed }
        let id = Identifier.make("aut")
        return try await write(principal, idempotency: idempotency, status: 201) { connection -> Automation in
            let at = self.now
            try connection.execute(
                "INSERT INTO automations (id, body, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                .text(id), .text(String(decoding: try CandorJSON.encode(input), as: UTF8.self)), .int(input.enabled == false ? 0 : 1), .int(at), .int(at))
            try self.audit(connection, principal, action: "automation.create", fields: Self.automationFields(input))
            return try self.loadAutomation(connection, id)
        }
    }

    /// Replaces an automation's settings. Audited.
    public func updateAutomation(_ id: String, _ input: AutomationInput, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Automation> {
        if let replayed: WriteOutcome<Automation> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200) { connection -> Automation in
            let current = try self.loadAutomation(connection, id, lock: true)
            try connection.execute(
                "UPDATE automations SET body = ?, enabled = ?, updated_at = ? WHERE id = ?",
                .text(String(decoding: try CandorJSON.encode(input), as: UTF8.self)), .int((input.enabled ?? current.enabled) ? 1 : 0), .int(self.now), .text(id))
            try self.audit(connection, principal, action: "automation.update", fields: Self.automationFields(input))
            return try self.loadAutomation(connection, id)
        }
    }

    /// Turns an automation on or off. Events committed while it is off never start it. Audited.
    public func setAutomationEnabled(_ id: String, _ enabled: Bool, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Automation> {
        if let replayed: WriteOutcome<Automation> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200) { connection -> Automation in
            _ = try self.loadAutomation(connection, id, lock: true)
            try connection.execute("UPDATE automations SET enabled = ?, updated_at = ? WHERE id = ?", .int(enabled ? 1 : 0), .int(self.now), .text(id))
            try self.audit(connection, principal, action: enabled ? "automation.enable" : "automation.disable")
            return try self.loadAutomation(connection, id)
        }
    }

    /// Deletes an automation with its run log (the audit log keeps what it did). Audited.
    public func deleteAutomation(_ id: String, by principal: Principal, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Automation> {
        if let replayed: WriteOutcome<Automation> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200) { connection -> Automation in
            let automation = try self.loadAutomation(connection, id, lock: true)
            try connection.execute("DELETE FROM automation_runs WHERE automation_id = ?", .text(id))
            try connection.execute("DELETE FROM automations WHERE id = ?", .text(id))
            try self.audit(connection, principal, action: "automation.delete")
            return automation
        }
    }

    /// One automation.
    public func automation(_ id: String) async throws -> Automation {
        try await database.read { try self.loadAutomation($0, id) }
    }

    /// Automations by id, with cursor pagination.
    public func automations(cursor: String?, limit: Int) async throws -> Page<Automation> {
        try await database.read { connection in
            let rows = try connection.query("SELECT \(Self.automationColumns) FROM automations WHERE id > ? ORDER BY id LIMIT ?", [.text(cursor ?? ""), .int(Int64(limit + 1))])
            let items = try rows.prefix(limit).map(Self.automation)
            return Page(data: Array(items), nextCursor: rows.count > limit ? items.last?.id : nil)
        }
    }

    /// The enabled automations (the engine's working set).
    public func enabledAutomations() async throws -> [Automation] {
        try await database.read { connection in
            try connection.query("SELECT \(Self.automationColumns) FROM automations WHERE enabled = 1 ORDER BY id", []).map(Self.automation)
        }
    }

    /// The run log of an automation, newest event first; `subjectId` narrows it to one person.
    public func automationRuns(automationId: String, subjectId: String? = nil, cursor: String?, limit: Int) async throws -> Page<AutomationRun> {
        try await database.read { connection in
            _ = try self.loadAutomation(connection, automationId)
            var sql = "SELECT \(Self.runColumns) FROM automation_runs WHERE automation_id = ? AND event_seq < ?"
            var arguments: [SQLValue] = [.text(automationId), .int(Int64(cursor ?? "") ?? Int64.max)]
            if let subjectId {
                sql += " AND subject_id = ?"
                arguments.append(.text(subjectId))
            }
            let rows = try connection.query(sql + " ORDER BY event_seq DESC LIMIT ?", arguments + [.int(Int64(limit + 1))])
            let page = Array(rows.prefix(limit))
            return Page(data: page.map(Self.run), nextCursor: rows.count > limit ? page.last.map { String($0.int(11)) } : nil)
        }
    }

    static let runColumns = "id, automation_id, event_id, event_type, subject_id, status, reason, caused_by, actions, created_at, updated_at, event_seq"

    static func run(_ row: SQLRow) -> AutomationRun {
        AutomationRun(
            id: row.text(0), automationId: row.text(1), eventId: row.text(2), eventType: row.text(3), subjectId: row.text(4), status: row.text(5),
            reason: row.optionalText(6), causedBy: (try? CandorJSON.decode([String].self, from: row.text(7))) ?? [],
            actions: (try? CandorJSON.decode([AutomationActionOutcome].self, from: row.text(8))) ?? [],
            createdAt: Timestamp.rfc3339(row.int(9)), updatedAt: Timestamp.rfc3339(row.int(10)))
    }

    /// The fields an automation touches, for the audit row of its creation.
    static func automationFields(_ input: AutomationInput) -> [String] {
        Array(Set((input.trigger.fields ?? []) + input.actions.compactMap(\.field) + input.actions.compactMap(\.permission?.field))).sorted()
    }

    // MARK: - The engine's cursor and queue

    /// How far the engine has read the outbox (every event at or below was decided).
    public func automationCursor() async throws -> Int64 {
        try await database.read { try $0.queryOne("SELECT position FROM automation_cursor WHERE name = 'automations'")?.int(0) ?? -1 }
    }

    /// Starts the cursor at the end of the outbox the first time the engine runs, so that an installation
    /// that adds automations later does not run them over its whole history. Returns the position.
    public func startAutomationCursor() async throws -> Int64 {
        try await committer.submit { connection -> Int64 in
            if let row = try connection.queryOne("SELECT position FROM automation_cursor WHERE name = 'automations'") { return row.int(0) }
            let end = try connection.queryOne("SELECT COALESCE(MAX(id), 0) FROM outbox")?.int(0) ?? 0
            try connection.execute("INSERT INTO automation_cursor (name, position) VALUES ('automations', ?) ON CONFLICT (name) DO NOTHING", .int(end))
            return try connection.queryOne("SELECT position FROM automation_cursor WHERE name = 'automations'")?.int(0) ?? end
        }
    }

    /// Moves the cursor forward (never back) to `position`.
    public func advanceAutomationCursor(to position: Int64) async throws {
        _ = try await committer.submit { connection in
            try Self.advanceCursor(connection, to: position)
        }
    }

    static func advanceCursor(_ connection: SQLConnection, to position: Int64) throws {
        try connection.execute("UPDATE automation_cursor SET position = ? WHERE name = 'automations' AND position < ?", .int(position), .int(position))
    }

    /// Outbox entries after `position`, oldest first: every sequence number (so the engine can see holes
    /// left by transactions not yet committed), with the opened event when it is one automations start on.
    /// With `opening: false` no payload is opened (nothing is enabled, so only the positions matter).
    public func automationQueue(after position: Int64, limit: Int, opening: Bool = true) async throws -> [(sequence: Int64, event: AutomationEventRecord?)] {
        let types = opening ? AutomationEvent.allCases.map(\.rawValue) : ["-"]
        return try await database.read { connection in
            let marks = types.map { _ in "?" }.joined(separator: ", ")
            let rows = try connection.query(
                "SELECT id, event_id, type, subject_id, CASE WHEN type IN (\(marks)) THEN payload END FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                types.map(SQLValue.text) + [.int(position), .int(Int64(limit))])
            let opened = try self.openPayloads(connection, rows.filter { !$0.isNull(4) }.map { ($0.int(0), $0.optionalText(3), $0.optionalText(4)) })
            return rows.map { row in
                guard let subjectId = row.optionalText(3), let json = opened[row.int(0)],
                      case .object(let payload)? = try? JSONValue.decoding(json) else { return (row.int(0), nil) }
                let data: [String: JSONValue] = if case .object(let object)? = payload["data"] { object } else { [:] }
                let chain: [String] = if case .array(let items)? = payload["caused_by"] { items.compactMap(\.stringValue) } else { [] }
                return (row.int(0), AutomationEventRecord(sequence: row.int(0), id: row.text(1), type: row.text(2), subjectId: subjectId, data: data, causedBy: chain))
            }
        }
    }

    // MARK: - Running

    /// Decides and runs every matching automation on one event in one durable transaction, and moves the
    /// cursor past it. Returns the e-mails to send now. A run already claimed (by an earlier attempt or
    /// another node) is left alone; restricted and erased people get no runs.
    public func runAutomations(_ event: AutomationEventRecord, automations: [CompiledAutomation], canSendMail: Bool,
                               render: @escaping AutomationMessageRenderer) async throws -> [AutomationSend] {
        let matching = automations.filter { AutomationRules.matches($0.automation.trigger, type: event.type, data: event.data) }
        guard !matching.isEmpty else {
            try await advanceAutomationCursor(to: event.sequence)
            return []
        }
        let registry = self.registry
        let (sends, changed) = try await committer(for: event.subjectId).submit { connection -> ([AutomationSend], Bool) in
            var sends = [AutomationSend]()
            var changed = false
            // Restricted and erased people get no runs; the event is passed all the same.
            let status: SubjectStatus
            do {
                status = try self.liveSubject(connection, event.subjectId).status
            } catch let error as CandorError where error.kind == .gone || error.kind == .notFound {
                status = .erased
            }
            if status == .active {
                for compiled in matching {
                    let result = try self.run(compiled, on: event, registry: registry, canSendMail: canSendMail, render: render, connection)
                    sends += result.sends
                    changed = changed || result.changedProfile
                }
            }
            try Self.advanceCursor(connection, to: event.sequence)
            return (sends, changed)
        }
        if changed { try await noteSubjectChanged(event.subjectId) }
        return sends
    }

    /// One automation on one event, inside the event's transaction.
    private func run(_ compiled: CompiledAutomation, on event: AutomationEventRecord, registry: RegistrySnapshot, canSendMail: Bool,
                     render: AutomationMessageRenderer, _ connection: SQLConnection) throws -> (sends: [AutomationSend], changedProfile: Bool) {
        let automation = compiled.automation
        let at = now
        let runId = Identifier.make("arn")
        try connection.execute(
            """
            INSERT INTO automation_runs (subject_id, id, automation_id, event_id, event_seq, event_type, status, reason, caused_by, actions, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'running', NULL, ?, '[]', ?, ?) ON CONFLICT (automation_id, event_id) DO NOTHING
            """,
            .text(event.subjectId), .text(runId), .text(automation.id), .text(event.id), .int(event.sequence), .text(event.type),
            .text(JSONValue.array(event.causedBy.map(JSONValue.string)).jsonText), .int(at), .int(at))
        // The unique key decides who runs it: a run claimed before (a restart, another node) is not run again.
        guard try connection.queryOne("SELECT id FROM automation_runs WHERE automation_id = ? AND event_id = ?", .text(automation.id), .text(event.id))?.text(0) == runId else {
            return ([], false)
        }
        var status = "completed", reason: String?
        var outcomes = [AutomationActionOutcome]()
        var sends = [AutomationSend]()
        var changed = false
        switch AutomationRules.loopCheck(automation.id, chain: event.causedBy) {
        case .loop: (status, reason) = ("skipped", "loop")
        case .depthLimit: (status, reason) = ("skipped", "depth_limit")
        case .allowed:
            if compiled.ruleBroken {
                (status, reason) = ("failed", "rule_invalid")
            } else if let rule = compiled.rule {
                let profile = try readProfiles(connection, where: "= ?", [.text(event.subjectId)])[event.subjectId]
                if !(profile.map { SegmentEvaluator.matches(rule, $0, purposes: registry.purposes, now: at) } ?? false) {
                    (status, reason) = ("skipped", "rule_not_met")
                }
            }
        }
        if status == "completed" {
            let chain = event.causedBy + [automation.id]
            try Self.$automationChain.withValue(chain) {
                for (index, action) in automation.actions.enumerated() {
                    do {
                        let result = try connection.savepoint {
                            try self.perform(action, index: index, automation: automation, runId: runId, event: event, registry: registry,
                                             canSendMail: canSendMail, render: render, connection)
                        }
                        outcomes.append(result.outcome)
                        if let send = result.send { sends.append(send) }
                        changed = changed || result.changedProfile
                    } catch let error as CandorError {
                        outcomes.append(AutomationActionOutcome(index: index, type: action.type, outcome: "failed", reason: error.kind.rawValue))
                    }
                }
            }
        }
        try connection.execute(
            "UPDATE automation_runs SET status = ?, reason = ?, actions = ?, updated_at = ? WHERE id = ?",
            .text(status), .text(reason), .text(String(decoding: try CandorJSON.encode(outcomes), as: UTF8.self)), .int(at), .text(runId))
        try audit(connection, nil, action: "automation.run", subjectId: event.subjectId,
                  fields: automation.actions.compactMap(\.field), outcome: reason.map { "\(status):\($0)" } ?? status)
        return (sends, changed)
    }

    private struct Performed {
        var outcome: AutomationActionOutcome
        var send: AutomationSend?
        var changedProfile = false
    }

    /// One action, inside its own savepoint.
    private func perform(_ action: AutomationAction, index: Int, automation: Automation, runId: String, event: AutomationEventRecord, registry: RegistrySnapshot,
                         canSendMail: Bool, render: AutomationMessageRenderer, _ connection: SQLConnection) throws -> Performed {
        let subjectId = event.subjectId
        let at = now
        func outcome(_ word: String, _ reason: String? = nil, channel: String? = nil, notBefore: Int64? = nil) -> Performed {
            Performed(outcome: AutomationActionOutcome(index: index, type: action.type, outcome: word, reason: reason, channel: channel, notBefore: notBefore.map(Timestamp.rfc3339)))
        }
        guard let kind = action.kind else { return outcome("failed", "unknown_action") }
        switch kind {
        case .callDestination:
            var data: [String: JSONValue] = [
                "automation_id": .string(automation.id), "automation_name": .string(automation.name),
                "trigger": .object(["event_id": .string(event.id), "type": .string(event.type)]),
            ]
            let values = try profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:]
            if !values.isEmpty {
                data["values"] = .array(values.keys.sorted().map { .object(["field": .string($0), "value": values[$0]!.value]) })
            }
            guard try enqueueWebhook(connection, destinationId: action.destinationId ?? "", type: "automation.triggered", subjectId: subjectId, data: data) else {
                return outcome("failed", "destination_gone")
            }
            return outcome("queued")

        case .sendEmail, .alert:
            guard let purposeKey = action.purpose, let purpose = registry.purposes[purposeKey] else { return outcome("failed", "purpose_gone") }
            // Consent, restriction and objection, now: the same check as a newsletter at send time.
            let check = try recipientCheck(connection, subjectId: subjectId, purpose: purpose, interestField: nil, at: at)
            let email: String?
            switch check {
            case .skip(let why) where why != "no_email": return outcome("skipped", why)
            case .skip: email = nil
            case .send(let address, _, _): email = address
            }
            let values = try profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:]
            let serving = PurposeGate.fieldKeys(serving: purposeKey, in: registry.fields.values)
            var display = [String: String]()
            for (key, value) in values where serving.contains(key) { display[key] = Self.displayText(value.value, field: registry.fields[key]) }
            let language = values["language"]?.value.stringValue
            let locale = action.locale(for: language)
            guard let message = action.content?[locale], let rendered = render(message, locale, display, subjectId, purposeKey) else {
                return outcome("failed", "template")
            }
            if kind == .sendEmail {
                guard let email else { return outcome("skipped", "no_email") }
                guard canSendMail else { return outcome("skipped", "no_mail_server") }
                return Performed(outcome: AutomationActionOutcome(index: index, type: action.type, outcome: "sending", channel: "email"),
                                 send: AutomationSend(runId: runId, automationId: automation.id, actionIndex: index, subjectId: subjectId, purpose: purposeKey,
                                                      kind: kind.rawValue, to: email, message: rendered, fields: ["email"] + display.keys.sorted()))
            }
            // An alert: at most once per the period the person declared, over a channel they declared.
            let frequency = AlertFrequency.of(values[AlertFrequency.field]?.value)
            let last = try connection.queryOne(
                "SELECT MAX(at) FROM automation_alerts WHERE subject_id = ? AND status IN ('sent', 'sending')", .text(subjectId))?.optionalInt(0)
            if case .deferred(let until) = frequency.decide(lastSentAt: last, now: at) {
                try connection.execute(
                    "INSERT INTO automation_alerts (subject_id, run_id, automation_id, status, channel, at, not_before) VALUES (?, ?, ?, 'deferred', NULL, ?, ?)",
                    .text(subjectId), .text(runId), .text(automation.id), .int(at), .int(until))
                return outcome("deferred", "frequency:\(frequency.rawValue)", notBefore: until)
            }
            let route = AlertRoute.choose(declared: values[AlertFrequency.channelsField]?.value, hasEmail: email != nil, canSendMail: canSendMail,
                                          hasDestination: action.destinationId != nil)
            switch route {
            case .skip(let why):
                return outcome("skipped", why)
            case .email:
                try connection.execute(
                    "INSERT INTO automation_alerts (subject_id, run_id, automation_id, status, channel, at) VALUES (?, ?, ?, 'sending', 'email', ?)",
                    .text(subjectId), .text(runId), .text(automation.id), .int(at))
                return Performed(outcome: AutomationActionOutcome(index: index, type: action.type, outcome: "sending", channel: "email"),
                                 send: AutomationSend(runId: runId, automationId: automation.id, actionIndex: index, subjectId: subjectId, purpose: purposeKey,
                                                      kind: kind.rawValue, to: email ?? "", message: rendered, fields: ["email", AlertFrequency.channelsField] + display.keys.sorted()))
            case .webhook(let channel):
                let data: [String: JSONValue] = [
                    "automation_id": .string(automation.id), "purpose": .string(purposeKey), "channel": .string(channel), "locale": .string(locale),
                    "message": .object(["subject": .string(rendered.subject), "text": .string(rendered.text)]),
                ]
                guard try enqueueWebhook(connection, destinationId: action.destinationId ?? "", type: "automation.alert", subjectId: subjectId, data: data) else {
                    return outcome("failed", "destination_gone", channel: channel)
                }
                try connection.execute(
                    "INSERT INTO automation_alerts (subject_id, run_id, automation_id, status, channel, at) VALUES (?, ?, ?, 'sent', ?, ?)",
                    .text(subjectId), .text(runId), .text(automation.id), .text(channel), .int(at))
                return outcome("queued", channel: channel)
            }

        case .issueIncentive:
            let key = "automation:\(automation.id)"
            if try connection.queryOne("SELECT 1 FROM incentive_issues WHERE subject_id = ? AND survey_id = ?", .text(subjectId), .text(key)) != nil {
                return outcome("skipped", "already_issued")
            }
            let (result, issued) = try issueIncentive(connection, subjectId: subjectId, issueKey: key,
                                                      incentive: SurveyIncentive(type: .pool, poolId: action.poolId), surveys: [:], at: at)
            guard result == .issued, issued != nil else { return outcome("skipped", result.rawValue) }
            try audit(connection, nil, action: "incentive.issue", subjectId: subjectId, outcome: "pool")
            return outcome("issued")

        case .setField:
            guard let fieldKey = action.field, let field = registry.fields[fieldKey] else { return outcome("failed", "field_gone") }
            guard let permission = action.permission else { return outcome("not_allowed", "no_permission_field") }
            let values = try profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:]
            guard AutomationRules.permits(permission, current: values[permission.field]?.value) else {
                return outcome("not_allowed", "\(permission.field) not declared as \(permission.value.jsonText)")
            }
            let target: JSONValue
            if action.clear == true {
                target = .null
            } else {
                switch DeclarationRules.normalize(action.value ?? .null, for: field, path: "value") {
                case .success(let value): target = value
                case .failure: return outcome("failed", "value_invalid")
                }
            }
            if (values[fieldKey]?.value ?? .null) == target { return outcome("skipped", "unchanged") }
            var notices = [String: Int]()
            for purpose in field.purposes {
                guard let version = registry.purposes[purpose]?.currentNoticeVersion else { return outcome("failed", "no_notice") }
                notices[purpose] = version
            }
            let input = DeclarationInput(values: [DeclaredValueInput(field: fieldKey, value: target)], notices: notices, collectionPoint: "automation:\(automation.id)")
            guard case .success(let validated) = DeclarationRules.validate(input, fields: registry.fields, purposes: registry.purposes) else {
                return outcome("failed", "value_invalid")
            }
            // The ledger head moves with every write in this transaction, so the subject is read again here.
            let subject = try liveSubject(connection, subjectId)
            _ = try recordDeclaration(connection, subjectId: subjectId, subject: subject, values: validated, input: input, source: "automation",
                                      by: nil, selfService: false)
            var done = outcome(target == .null ? "cleared" : "set")
            done.changedProfile = true
            return done
        }
    }

    /// Queues a webhook to one destination through the delivery pipeline: the event goes to the outbox
    /// already dispatched (no other destination takes it) with one delivery job for `destinationId`, which
    /// the workers then filter, sign, send and retry like any other. False when the destination is gone.
    private func enqueueWebhook(_ connection: SQLConnection, destinationId: String, type: String, subjectId: String, data: [String: JSONValue]) throws -> Bool {
        guard try connection.queryOne("SELECT 1 FROM destinations WHERE id = ?", .text(destinationId)) != nil else { return false }
        let eventId = try emit(connection, type: type, subjectId: subjectId, data: data)
        guard let sequence = try connection.queryOne("SELECT id FROM outbox WHERE event_id = ?", .text(eventId))?.int(0) else { return false }
        let at = now
        try connection.execute("UPDATE outbox SET status = 'dispatched' WHERE id = ?", .int(sequence))
        try connection.execute(
            """
            INSERT INTO delivery_jobs (subject_id, destination_id, event_seq, event_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
            """, .text(subjectId), .text(destinationId), .int(sequence), .text(eventId), .text(type), .int(at), .int(at), .int(at))
        return true
    }

    /// A declared value as a message shows it: option labels in English, lists joined with commas.
    static func displayText(_ value: JSONValue, field: Field?) -> String {
        func one(_ item: JSONValue) -> String {
            if let text = item.stringValue { return field?.label(ofOption: text, locale: "en") ?? text }
            return item.jsonText
        }
        if case .array(let items) = value { return items.map(one).joined(separator: ", ") }
        return one(value)
    }

    /// Records how the run's e-mails ended: the action's outcome in the run log, the alert log, and an
    /// audit row for each message sent (an outbound transfer of the address and the values it used).
    public func completeAutomationSends(_ results: [(AutomationSend, AutomationSendResult)]) async throws {
        guard !results.isEmpty else { return }
        _ = try await committer.submit { connection in
            let at = self.now
            for (send, result) in results {
                guard let row = try connection.queryOne("SELECT actions FROM automation_runs WHERE id = ?\(self.database.dialect.forUpdate)", .text(send.runId)) else { continue }
                var outcomes = (try? CandorJSON.decode([AutomationActionOutcome].self, from: row.text(0))) ?? []
                guard let position = outcomes.firstIndex(where: { $0.index == send.actionIndex }), outcomes[position].outcome == "sending" else { continue }
                switch result {
                case .sent:
                    outcomes[position].outcome = "sent"
                case .failed(let why):
                    outcomes[position].outcome = "failed"
                    outcomes[position].reason = why
                }
                try connection.execute("UPDATE automation_runs SET actions = ?, updated_at = ? WHERE id = ?",
                                       .text(String(decoding: try CandorJSON.encode(outcomes), as: UTF8.self)), .int(at), .text(send.runId))
                if send.kind == AutomationActionType.alert.rawValue {
                    try connection.execute("UPDATE automation_alerts SET status = ? WHERE run_id = ? AND status = 'sending'",
                                           .text(result == .sent ? "sent" : "failed"), .text(send.runId))
                }
                if result == .sent {
                    try self.audit(connection, nil, action: send.kind == "alert" ? "automation.alert" : "automation.email", purpose: send.purpose,
                                   subjectId: send.subjectId, fields: send.fields)
                }
            }
        }
    }

    /// E-mails left `sending` by a process that stopped before recording their outcome become `failed`
    /// with reason `interrupted`: whether they left is unknown, and a duplicate is worse than a miss.
    /// `olderThanMillis` spares other nodes' sends in flight (0 on SQLite, which runs one node).
    public func failInterruptedAutomationSends(olderThanMillis: Int64) async throws {
        let before = now - olderThanMillis
        _ = try await committer.submit { connection in
            for row in try connection.query("SELECT id, actions FROM automation_runs WHERE updated_at <= ? AND actions LIKE '%\"sending\"%'", [.int(before)]) {
                var outcomes = (try? CandorJSON.decode([AutomationActionOutcome].self, from: row.text(1))) ?? []
                for index in outcomes.indices where outcomes[index].outcome == "sending" {
                    outcomes[index].outcome = "failed"
                    outcomes[index].reason = "interrupted"
                }
                try connection.execute("UPDATE automation_runs SET actions = ? WHERE id = ?",
                                       .text(String(decoding: try CandorJSON.encode(outcomes), as: UTF8.self)), .text(row.text(0)))
                try connection.execute("UPDATE automation_alerts SET status = 'failed' WHERE run_id = ? AND status = 'sending'", .text(row.text(0)))
            }
        }
    }

    /// Inside an erasure: the person's runs and alert log go.
    func eraseAutomationData(_ connection: SQLConnection, subjectId: String) throws {
        try connection.execute("DELETE FROM automation_runs WHERE subject_id = ?", .text(subjectId))
        try connection.execute("DELETE FROM automation_alerts WHERE subject_id = ?", .text(subjectId))
    }
}
