import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The numbers behind the at-a-glance page, kept in memory and refreshed off the page's path.
///
/// A page view reads the snapshot; when it is older than the refresh interval, one background task
/// recomputes it while pages keep showing the previous one ("as of" on the page says when it was
/// made). Ledger days are counted incrementally (only entries after the last one counted are read),
/// the totals are a handful of grouped counts. The interval grows with the cost of a refresh
/// (20 times its duration, at least 15 s), so a large installation spends at most a few percent of a
/// core on it however often the page is opened.
final class ConsoleGlanceCache: Sendable {
    struct Snapshot: Sendable {
        var ledger: LedgerDayCounts
        var totals: GlanceTotals
        var lift: LiftReport?
        var computedAt: Int64
        var tookMillis: Int64
    }

    private struct State {
        var snapshot: Snapshot?
        var computing: Task<Snapshot, Error>?
    }

    private let state = LockedBox(State())
    static let minimumIntervalMillis: Int64 = 15_000
    /// How long a page waits for the very first snapshot before it says the figures are being counted.
    static let firstWait: Duration = .seconds(3)

    /// The current snapshot. The first is computed now (waiting at most `firstWait`; nil if it takes
    /// longer — it goes on in the background); a stale one is returned while a refresh runs.
    func snapshot(_ store: CandorStore) async throws -> Snapshot? {
        let now = store.currentMillis
        let (current, task) = state.withLock { state -> (Snapshot?, Task<Snapshot, Error>?) in
            if let snapshot = state.snapshot {
                let interval = max(Self.minimumIntervalMillis, 20 * snapshot.tookMillis)
                guard now - snapshot.computedAt >= interval, state.computing == nil else { return (snapshot, nil) }
            } else if let running = state.computing {
                return (nil, running)
            }
            let started = Task { try await self.refresh(store) }
            state.computing = started
            return (state.snapshot, started)
        }
        if let current { return current }
        guard task != nil else { return nil }
        // Polled, not raced in a task group: a group waits for all its children, and awaiting the
        // computation's value cannot be cancelled, so the page waited for the whole first count (28 s at
        // a million people) instead of `firstWait`.
        let deadline = ContinuousClock.now + Self.firstWait
        while ContinuousClock.now < deadline {
            if let ready = state.withLock({ $0.snapshot }) { return ready }
            try await Task.sleep(for: .milliseconds(25))
        }
        return state.withLock { $0.snapshot }
    }

    private func refresh(_ store: CandorStore) async throws -> Snapshot {
        do {
            let fresh = try await Self.compute(store)
            state.withLock {
                $0.snapshot = fresh
                $0.computing = nil
            }
            return fresh
        } catch {
            state.withLock { $0.computing = nil }
            throw error
        }
    }

    static func compute(_ store: CandorStore) async throws -> Snapshot {
        let started = Date()
        // Daily counters persist in the database: only ledger entries since the last roll-up (by any node) are read.
        while try await store.rollUpLedgerDays() {}
        let today = store.currentMillis / 86_400_000
        let ledger = try await store.ledgerDays(fromDay: today - Int64(ConsoleRoutes.periods.max() ?? 90))
        let totals = try await store.glanceTotals()
        let lift = try? await store.liftReport()
        return Snapshot(ledger: ledger, totals: totals, lift: lift, computedAt: store.currentMillis,
                        tookMillis: Int64(Date().timeIntervalSince(started) * 1000))
    }
}

extension ConsoleRoutes {
    /// The periods the home page offers, in days.
    static let periods = [7, 30, 90]

    /// The home page: what is happening, for the chosen period. Counts only, nothing about one person.
    func glancePage(_ request: Request, _ visit: Visit) async throws -> Response {
        let t = visit.t
        let rtl = visit.language.isRightToLeft
        var days = 30
        if let asked = request.uri.queryParameters.get("days") {
            guard let value = Int(asked), Self.periods.contains(value) else {
                return errorPage(visit.language, status: .badRequest, heading: "invalidHeading", body: "badPeriod", link: ("/console", "home"), visit: visit)
            }
            days = value
        }
        guard let snapshot = try await glance.snapshot(store) else {
            // The very first count of a large installation takes a while; it goes on in the background.
            return render("console/message", visit.language, path: "/console?days=\(days)", status: .ok, visit: visit, [
                "heading": t["navGlance"]!, "body": t["counting"]!, "problem": false, "link": ["href": "/console?days=\(days)", "label": t["refresh"]!],
            ])
        }
        let registry = store.registry
        let code = visit.language.code
        let totals = snapshot.totals
        let people = Double(max(1, totals.people))

        // Declarations and consent changes per day.
        let today = store.currentMillis / 86_400_000
        let dayNumbers = ((today - Int64(days) + 1)...today).map { $0 }
        let declarations = dayNumbers.map { Double(snapshot.ledger.byKind["declaration"]?[$0] ?? 0) }
        let consents = dayNumbers.map { Double(snapshot.ledger.byKind["consent"]?[$0] ?? 0) }
        let dayLabels = dayNumbers.map { Self.dayLabel($0) }
        let activity = SVGChart.lines(
            id: "activity", title: t["activityTitle"]!,
            description: t["activityDesc"]!.replacingOccurrences(of: "%1", with: String(days))
                .replacingOccurrences(of: "%2", with: String(Int(declarations.reduce(0, +))))
                .replacingOccurrences(of: "%3", with: String(Int(consents.reduce(0, +)))),
            labels: dayLabels,
            series: [SVGChart.Series(name: t["declarations"]!, cssClass: "series-a", values: declarations),
                     SVGChart.Series(name: t["consentChanges"]!, cssClass: "series-b", values: consents)],
            rightToLeft: rtl)
        let activityRows: [[String: Any]] = dayNumbers.indices.reversed().map {
            ["day": dayLabels[$0], "declarations": Int(declarations[$0]), "consents": Int(consents[$0])]
        }

        // Consent rate per purpose that needs consent.
        let granted = Dictionary(totals.consents.map { ($0.purpose, $0.granted) }, uniquingKeysWith: +)
        let consentPurposes = registry.purposes.values.filter { $0.legalBasis.requiresConsent }.sorted { $0.key < $1.key }
        let consentRows: [[String: Any]] = consentPurposes.map { purpose in
            let count = granted[purpose.key] ?? 0
            return ["name": purpose.names[code] ?? purpose.names["en"] ?? purpose.key, "granted": count, "rate": Self.percent(Double(count) / people)]
        }
        let consentChart = SVGChart.bars(
            id: "consent", title: t["consentTitle"]!, description: t["consentDesc"]!,
            bars: consentPurposes.map { purpose in
                let share = Double(granted[purpose.key] ?? 0) / people
                return SVGChart.Bar(label: purpose.names[code] ?? purpose.names["en"] ?? purpose.key, share: share, text: Self.percent(share))
            }, rightToLeft: rtl)

        // Profile depth: the share of people with each field declared.
        let depth = Dictionary(totals.depth.map { ($0.field, $0.people) }, uniquingKeysWith: +)
        let fields = registry.fields.values.sorted { $0.key < $1.key }
        let depthRows: [[String: Any]] = fields.map { field in
            let count = depth[field.key] ?? 0
            return ["name": field.labels[code] ?? field.labels["en"] ?? field.key, "people": count, "rate": Self.percent(Double(count) / people)]
        }
        let depthChart = SVGChart.bars(
            id: "depth", title: t["depthTitle"]!, description: t["depthDesc"]!,
            bars: fields.map { field in
                let share = Double(depth[field.key] ?? 0) / people
                return SVGChart.Bar(label: field.labels[code] ?? field.labels["en"] ?? field.key, share: share, text: Self.percent(share))
            }, rightToLeft: rtl)

        // Prompts and surveys: names from the catalog.
        let promptNames = Dictionary(((try? await store.prompts()) ?? []).compactMap { prompt in prompt.id.map { ($0, prompt.name) } }, uniquingKeysWith: { a, _ in a })
        let promptRows: [[String: Any]] = totals.prompts.sorted { $0.displays > $1.displays }.map { funnel in
            ["name": promptNames[funnel.promptId] ?? funnel.promptId, "people": funnel.people, "displays": funnel.displays, "answered": funnel.answered, "dismissed": funnel.dismissals,
             "rate": Self.percent(funnel.people == 0 ? 0 : Double(funnel.answered) / Double(funnel.people))]
        }
        let surveyTitles = Dictionary(((try? await store.surveys()) ?? []).map { ($0.id, $0.title[code] ?? $0.title["en"] ?? $0.id) }, uniquingKeysWith: { a, _ in a })
        let surveyRows: [[String: Any]] = totals.surveys.sorted { $0.started > $1.started }.map { funnel in
            ["name": surveyTitles[funnel.surveyId] ?? funnel.surveyId, "started": funnel.started, "completed": funnel.completed,
             "rate": Self.percent(funnel.started == 0 ? 0 : Double(funnel.completed) / Double(funnel.started))]
        }

        var context: [String: Any] = [
            "title": t["navGlance"]!,
            "periods": Self.periods.map { ["days": $0, "label": t["days\($0)"]!, "current": $0 == days, "href": "/console?days=\($0)"] },
            "days": days, "asOf": Self.time(millis: snapshot.computedAt),
            "people": Self.grouped(totals.people),
            "activityChart": activity, "activityRows": activityRows,
            "consentChart": consentChart, "consentRows": consentRows,
            "depthChart": depthChart, "depthRows": depthRows,
            "prompts": promptRows, "hasPrompts": !promptRows.isEmpty,
            "surveys": surveyRows, "hasSurveys": !surveyRows.isEmpty,
            "codesIssued": Self.grouped(totals.codesIssued), "codesLeft": Self.grouped(totals.codesLeft),
            "requestsOpen": Self.grouped(totals.requestsOpen), "requestsDueSoon": Self.grouped(totals.requestsDueSoon),
            "requestsOverdue": Self.grouped(totals.requestsOverdue), "hasOverdue": totals.requestsOverdue > 0,
            "delivered": Self.grouped(totals.deliveries["delivered"] ?? 0), "pending": Self.grouped(totals.deliveries["pending"] ?? 0),
            "retrying": Self.grouped(totals.retrying), "dead": Self.grouped(totals.deliveries["dead"] ?? 0),
            "withheld": Self.grouped(totals.deliveries["withheld"] ?? 0), "hasDead": (totals.deliveries["dead"] ?? 0) > 0,
            // Counts whose API needs a role are shown to the teams that hold it, as the API would.
            "canSeeRequests": visit.principal.has(.erase) || visit.principal.has(.audit),
            "canSeeWebhooks": visit.principal.has(.admin) || visit.principal.has(.audit),
            "canSeeLift": visit.principal.has(.admin),
        ]
        if visit.principal.has(.admin), let lift = snapshot.lift, lift.personalized.decisions + lift.holdout.decisions > 0 {
            context["lift"] = [
                "personalizedRate": Self.percent(lift.personalized.rate), "personalizedDecisions": Self.grouped(Int64(lift.personalized.decisions)),
                "personalizedRange": "\(Self.percent(lift.personalized.low)) – \(Self.percent(lift.personalized.high))",
                "holdoutRate": Self.percent(lift.holdout.rate), "holdoutDecisions": Self.grouped(Int64(lift.holdout.decisions)),
                "holdoutRange": "\(Self.percent(lift.holdout.low)) – \(Self.percent(lift.holdout.high))",
                "difference": Self.signedPoints(lift.difference),
                "differenceRange": "\(Self.signedPoints(lift.differenceLow)) … \(Self.signedPoints(lift.differenceHigh))",
                "significant": lift.differenceLow > 0 || lift.differenceHigh < 0,
            ]
        }
        return render("console/glance", visit.language, path: "/console?days=\(days)", visit: visit, context)
    }

    /// A UTC day number as `MM-DD`.
    static func dayLabel(_ day: Int64) -> String {
        let date = civilDate(daysSinceEpoch: day)
        return "\(twoDigits(date.month))-\(twoDigits(date.day))"
    }

    static func percent(_ share: Double) -> String {
        let value = share * 100
        return (value > 0 && value < 10 ? String(format: "%.1f", value) : String(Int(value.rounded()))) + "%"
    }

    /// A difference of rates in percentage points, with its sign.
    static func signedPoints(_ difference: Double) -> String {
        String(format: "%+.1f", difference * 100) + " pp"
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}
