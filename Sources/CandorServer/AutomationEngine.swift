import CandorCore
import CandorMail
import CandorStore
import Foundation
import Logging
import Mustache
import ServiceLifecycle

/// Runs automations: a swift-service-lifecycle `Service` that follows the outbox by id from a durable
/// cursor (`automation_cursor`), like the segment index feeder follows it in memory.
///
/// For each event an automation starts on, one transaction claims the runs (unique per automation and
/// event), runs the actions that stay in the database — a webhook job, an incentive, a declaration, an
/// alert-log row — records the run and moves the cursor past the event. So a restart neither loses nor
/// repeats a run, and on PostgreSQL several nodes never run the same automation for the same event.
/// E-mails are sent after that commit and their outcome recorded afterwards: at most once.
///
/// A PostgreSQL sequence can leave a hole that a slower transaction fills a moment later; the engine
/// waits at a hole for `gapPatience` before taking it as a rolled-back write that will never appear.
public struct AutomationEngine: Service {
    let store: CandorStore
    let config: ServerConfig
    let transport: (any MailTransport)?
    let logger: Logger
    /// How often an idle engine looks for new events.
    public var pollInterval: Duration = .milliseconds(200)
    /// How long a hole in the outbox ids is waited for.
    public var gapPatienceMillis: Int64 = 5_000
    /// Events read per round.
    public var batchSize = 200

    public init(store: CandorStore, config: ServerConfig, transport: (any MailTransport)?, logger: Logger) {
        self.store = store
        self.config = config
        self.transport = transport
        self.logger = logger
    }

    public func run() async throws {
        var state = State()
        var started = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var busy = false
            do {
                if !started {
                    _ = try await store.startAutomationCursor()
                    // SQLite is one node: any `sending` left behind was this process's predecessor's.
                    try await store.failInterruptedAutomationSends(olderThanMillis: store.database.dialect == .sqlite ? 0 : 600_000)
                    started = true
                }
                busy = try await runOnce(&state)
            } catch {
                logger.error("automation round failed", metadata: ["error.type": "\(type(of: error))"])
            }
            if !busy {
                do { try await Task.sleep(for: pollInterval) } catch { break }
            }
        }
    }

    /// What the engine remembers between rounds (in memory only: a restart starts afresh).
    public struct State: Sendable {
        /// When each missing outbox id was first seen.
        var holes = [Int64: Int64]()
        /// How often deciding an event failed in a row, by outbox id.
        var failures = [Int64: Int]()
        public init() {}
    }

    /// An event whose transaction fails this many times in a row (a fault, not bad input: that is
    /// recorded per action) is passed over with an error in the log, so one event cannot stop them all.
    static let maxFailures = 3

    /// One round: reads the outbox after the cursor and decides each event in order, up to the first
    /// hole that is still young. Returns whether there was anything to do.
    @discardableResult
    public func runOnce(_ state: inout State) async throws -> Bool {
        let automations = compiled(try await store.enabledAutomations())
        let position = try await store.automationCursor()
        guard position >= 0 else { return false }
        let queue = try await store.automationQueue(after: position, limit: batchSize, opening: !automations.isEmpty)
        guard !queue.isEmpty else { return false }
        var expected = position + 1
        var done: Int64?
        for (sequence, event) in queue {
            if sequence > expected {
                let now = store.currentMillis
                var young = false
                for missing in expected..<sequence {
                    if state.holes[missing] == nil { state.holes[missing] = now }
                    if now - state.holes[missing]! < gapPatienceMillis { young = true }
                }
                if young { break }
            }
            state.holes = state.holes.filter { $0.key > sequence }
            if let event, automations.contains(where: { AutomationRules.matches($0.automation.trigger, type: event.type, data: event.data) }) {
                let sends: [AutomationSend]
                do {
                    sends = try await store.runAutomations(event, automations: automations, canSendMail: transport != nil, render: renderer)
                    state.failures[sequence] = nil
                } catch {
                    let failures = (state.failures[sequence] ?? 0) + 1
                    state.failures[sequence] = failures
                    guard failures >= Self.maxFailures else { throw error }
                    // Ids only in the log: the event, never what it says about the person.
                    logger.error("automation event passed over after repeated failures",
                                 metadata: ["event": "\(event.id)", "type": "\(event.type)", "error.type": "\(type(of: error))"])
                    state.failures[sequence] = nil
                    try await store.advanceAutomationCursor(to: sequence)
                    expected = sequence + 1
                    done = nil
                    continue
                }
                await deliver(sends)
                done = nil
            } else {
                done = sequence
            }
            expected = sequence + 1
        }
        // Events that started nothing move the cursor in one write.
        if let done { try await store.advanceAutomationCursor(to: done) }
        return expected > position + 1
    }

    /// The automations with their rules compiled against the registry now.
    func compiled(_ automations: [Automation]) -> [CompiledAutomation] {
        let registry = store.registry
        return automations.map { automation in
            guard let rule = automation.rule, !rule.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return CompiledAutomation(automation: automation, rule: nil, ruleBroken: false)
            }
            switch SegmentRule.compile(rule, fields: registry.fields, purposes: registry.purposes) {
            case .success(let expr): return CompiledAutomation(automation: automation, rule: expr, ruleBroken: false)
            case .failure: return CompiledAutomation(automation: automation, rule: nil, ruleBroken: true)
            }
        }
    }

    /// Renders an e-mail or alert: the Mustache templates with the person's values serving the purpose
    /// (`{{interests}}`, or `{{values.interests}}`), their preference-center link, and — for a consent-based
    /// purpose — the one-click unsubscribe link; the text ends with the same footer lines a newsletter has.
    var renderer: AutomationMessageRenderer {
        let links = store.subjectLinks
        let store = self.store
        let base = config.baseURL
        return { message, locale, values, subjectId, purposeKey in
            guard let subject = try? CampaignRenderer.textTemplate(message.subject), let text = try? CampaignRenderer.textTemplate(message.text) else { return nil }
            let now = store.currentMillis
            let preferences = "\(base)/p/\(links.issue(subjectId: subjectId, purpose: PreferenceCenter.linkPurpose, now: now, lifetimeMillis: PreferenceCenter.linkLifetime))?lang=\(locale)"
            let consentBased = store.registry.purposes[purposeKey]?.legalBasis.requiresConsent ?? false
            let unsubscribe = consentBased ? "\(base)/unsubscribe/\(UnsubscribeRoutes.token(links: links, subjectId: subjectId, purpose: purposeKey, now: now))" : nil
            var context: [String: Any] = values
            context["values"] = values
            context["preferences_url"] = preferences
            if let unsubscribe { context["unsubscribe_url"] = unsubscribe }
            let words = NewsletterStrings.of(locale)
            var body = text.render(context) + "\n\n-- \n\(words["changeText"]!): \(preferences)\n"
            if let unsubscribe { body += "\(words["unsubscribeText"]!): \(unsubscribe)\n" }
            let line = subject.render(context).replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
            return RenderedAutomationMessage(subject: line, text: body)
        }
    }

    /// Sends a run's e-mails and records each outcome. Counts only in the log, never an address.
    func deliver(_ sends: [AutomationSend]) async {
        guard !sends.isEmpty else { return }
        var results = [(AutomationSend, AutomationSendResult)]()
        var mails = [OutgoingMail]()
        var queued = [AutomationSend]()
        for send in sends {
            do {
                let consentBased = store.registry.purposes[send.purpose]?.legalBasis.requiresConsent ?? false
                let unsubscribe = consentBased
                    ? "\(config.baseURL)/unsubscribe/\(UnsubscribeRoutes.token(links: store.subjectLinks, subjectId: send.subjectId, purpose: send.purpose, now: store.currentMillis))" : nil
                let message = MIMEMessage(from: try MailAddress(config.newsletters.from), to: try MailAddress(send.to), subject: send.message.subject,
                                          text: send.message.text, unsubscribeURL: unsubscribe)
                mails.append(try OutgoingMail(id: send.runId, from: message.from.address, recipients: [message.to.address], data: try message.render(signer: config.newsletters.dkim)))
                queued.append(send)
            } catch {
                results.append((send, .failed("invalid_address")))
            }
        }
        if let transport, !mails.isEmpty {
            let outcomes = await transport.deliver(mails)
            for (send, outcome) in zip(queued, outcomes) {
                switch outcome {
                case .delivered: results.append((send, .sent))
                case .rejected(let reply): results.append((send, .failed("rejected \(reply.code)")))
                case .deferred: results.append((send, .failed("not_delivered")))
                }
            }
        } else {
            results += queued.map { ($0, .failed("no_mail_server")) }
        }
        do {
            try await store.completeAutomationSends(results)
        } catch {
            // Left `sending`: the next start records them as interrupted (at most once, never twice).
            logger.error("recording automation e-mails failed", metadata: ["messages": "\(results.count)", "error.type": "\(type(of: error))"])
        }
        logger.info("automation e-mails", metadata: ["sent": "\(results.filter { $0.1 == .sent }.count)", "total": "\(results.count)"])
    }
}

/// Runs the automation engine until the outbox is drained, outside the service lifecycle (tests).
public enum AutomationEngineRunner {
    /// Decides every event committed so far (holes are not waited for: call after the writes returned).
    public static func drain(store: CandorStore, config: ServerConfig) async throws {
        var engine = AutomationEngine(store: store, config: config, transport: config.newsletters.makeTransport(), logger: Logger(label: "candor.automations"))
        engine.gapPatienceMillis = 0
        _ = try await store.startAutomationCursor()
        var state = AutomationEngine.State()
        while try await engine.runOnce(&state) {}
    }
}
