import CandorCore
import Foundation

/// How eligible personalized offers are ordered in a decision.
public enum OfferRanking: String, Codable, Sendable, CaseIterable {
    /// Highest `priority` first (ties by id): predictable, what an operator set.
    case priority
    /// One Thompson-sampling draw per offer from the conversions it earned: offers that convert win
    /// more often, new ones still get tried.
    case thompson
}

/// An offer as decisions use it, prepared once per catalog load: its validity window parsed, and held
/// by reference, so a decision passes offers around without copying their every field.
final class CatalogOffer: Sendable {
    let offer: Offer
    let liveFrom: Int64?
    let liveUntil: Int64?
    /// Whether a cap (total or per person) applies: such offers are issued in a transaction that counts.
    let capped: Bool

    init(_ offer: Offer) {
        self.offer = offer
        liveFrom = offer.validFrom.flatMap(Timestamp.parse)
        liveUntil = offer.validUntil.flatMap(Timestamp.parse)
        capped = offer.capTotal != nil || offer.capPerPerson != nil
    }

    /// Whether the offer can be shown at `now` (within its validity window).
    func isLive(at now: Int64) -> Bool { (liveFrom.map { $0 <= now } ?? true) && (liveUntil.map { $0 > now } ?? true) }
}

/// What a decision needs besides the person: the live catalog with its rules compiled, and what each
/// offer earned so far. Decisions are the hot path, so neither is read from the database per request.
///
/// The catalog is dropped whenever this node writes an offer or a segment (the next decision waits for
/// it to be read again), and is otherwise reloaded in the background once it is older than
/// `catalogLifetime`: decisions keep using the one in hand meanwhile, so a slow read (the database busy
/// with a WAL checkpoint, say) never holds them up, and one reload runs, not one per waiting decision.
/// Another node's new offer appears here within `catalogLifetime` plus one read.
/// Offer records count this node's own decisions and conversions as they happen and are reloaded from
/// the database (in the background) every `recordLifetime`, which folds in the other nodes' counts.
struct ActivationCache: Sendable {
    struct Catalog: Sendable {
        /// Every offer, highest priority first (ties by id): the order of a decision ranked by priority.
        var ranked: [CatalogOffer]
        /// segment id → compiled rule (segments that fail to compile are absent and match nobody).
        var rules: [String: SegmentExpr]
        var loadedAt: ContinuousClock.Instant

        init(offers: [Offer], rules: [String: SegmentExpr], loadedAt: ContinuousClock.Instant) {
            ranked = offers.sorted { ($0.priority ?? 0, $1.id ?? "") > ($1.priority ?? 0, $0.id ?? "") }.map(CatalogOffer.init)
            self.rules = rules
            self.loadedAt = loadedAt
        }
    }

    static let catalogLifetime: Duration = .seconds(1)
    static let recordLifetime: Duration = .seconds(60)

    var catalog: Catalog?
    /// Counts this node's catalog changes, so a reload that read before a change never stores its result after it.
    var generation = 0
    var refreshing = false
    var records: [String: ArmRecord]?
    var recordsLoadedAt: ContinuousClock.Instant?
    var refreshingRecords = false
    var firstRecordsLoad: Task<[String: ArmRecord], Error>?

    /// The two things kept fresh in the background.
    enum Reload: String, Sendable {
        case catalog = "offer catalog"
        case records = "offer records"
    }

    /// Whether a value loaded at `loadedAt` is due for a reload that nobody runs yet; if so, the caller
    /// now runs it (and `finishReload` must follow).
    mutating func claimReload(_ which: Reload, loadedAt: ContinuousClock.Instant, lifetime: Duration, now: ContinuousClock.Instant) -> Bool {
        guard now - loadedAt >= lifetime else { return false }
        switch which {
        case .catalog:
            if refreshing { return false }
            refreshing = true
        case .records:
            if refreshingRecords { return false }
            refreshingRecords = true
        }
        return true
    }

    mutating func finishReload(_ which: Reload) {
        switch which {
        case .catalog: refreshing = false
        case .records: refreshingRecords = false
        }
    }
}

extension CandorStore {
    /// The live catalog with compiled rules: from memory, or read now when this node dropped it.
    func activationCatalog() async throws -> ActivationCache.Catalog {
        if let catalog = cachedActivationCatalog() { return catalog }
        return try await loadActivationCatalog()
    }

    /// The catalog in memory, without suspending; a stale one starts a single background reload and is
    /// used until that lands. Nil when this node dropped it (after changing an offer or a segment).
    func cachedActivationCatalog() -> ActivationCache.Catalog? {
        let now = ContinuousClock().now
        let (catalog, reload) = activationCache.withLock { cache -> (ActivationCache.Catalog?, Bool) in
            guard let catalog = cache.catalog else { return (nil, false) }
            return (catalog, cache.claimReload(.catalog, loadedAt: catalog.loadedAt, lifetime: ActivationCache.catalogLifetime, now: now))
        }
        if reload { reloadInBackground(.catalog) }
        return catalog
    }

    /// Runs a reload claimed with `ActivationCache.claimReload` in the background. On failure decisions
    /// keep what they have, and the next use past the lifetime tries again.
    private func reloadInBackground(_ which: ActivationCache.Reload) {
        Task { [weak self] in
            guard let self else { return }
            defer { self.activationCache.withLock { $0.finishReload(which) } }
            do {
                switch which {
                case .catalog: _ = try await self.loadActivationCatalog()
                case .records: _ = try await self.loadOfferRecords()
                }
            } catch {
                self.logger.warning("\(which.rawValue) reload failed; decisions keep what is in memory", metadata: ["error": "\(type(of: error))"])
            }
        }
    }

    /// Reads the catalog and compiles its rules; stored unless this node changed it meanwhile.
    private func loadActivationCatalog() async throws -> ActivationCache.Catalog {
        let generation = activationCache.withLock { $0.generation }
        let (bodies, ruleTexts) = try await database.read { connection in
            (try connection.query("SELECT body FROM offers ORDER BY created_at, id", []).map { $0.text(0) },
             try connection.query("SELECT id, rule FROM segments", []).map { ($0.text(0), $0.text(1)) })
        }
        var rules = [String: SegmentExpr]()
        for (id, text) in ruleTexts { rules[id] = try? compileRule(text) }
        let catalog = ActivationCache.Catalog(offers: try bodies.map { try CandorJSON.decode(Offer.self, from: $0) }, rules: rules, loadedAt: ContinuousClock().now)
        activationCache.withLock { if $0.generation == generation { $0.catalog = catalog } }
        return catalog
    }

    /// Forgets the catalog after this node changed an offer or a segment, so its next decision sees it.
    func invalidateActivationCatalog() {
        activationCache.withLock {
            $0.catalog = nil
            $0.generation += 1
        }
    }

    /// What each offer earned: trials are the times it was issued in a decision, successes the
    /// decisions of it that converted. Only the first use waits for the read; afterwards records older
    /// than `recordLifetime` are reloaded in the background (one reload, not one per decision — the
    /// counts scan every issue ever made) while decisions use the ones in hand, which count this
    /// node's own issues and conversions as they happen.
    func offerRecords() async throws -> [String: ArmRecord] {
        let now = ContinuousClock().now
        let (records, reload) = activationCache.withLock { cache -> ([String: ArmRecord]?, Bool) in
            guard let records = cache.records, let at = cache.recordsLoadedAt else { return (nil, false) }
            return (records, cache.claimReload(.records, loadedAt: at, lifetime: ActivationCache.recordLifetime, now: now))
        }
        if reload { reloadInBackground(.records) }
        if let records { return records }
        // The first use: every decision arriving meanwhile waits for the same read, not a read of its own.
        let load = activationCache.withLock { cache -> Task<[String: ArmRecord], Error> in
            if let running = cache.firstRecordsLoad { return running }
            let task = Task { [self] in
                defer { self.activationCache.withLock { $0.firstRecordsLoad = nil } }
                return try await self.loadOfferRecords()
            }
            cache.firstRecordsLoad = task
            return task
        }
        return try await load.value
    }

    private func loadOfferRecords() async throws -> [String: ArmRecord] {
        let loaded = try await database.read { connection -> [String: ArmRecord] in
            var out = [String: ArmRecord]()
            for row in try connection.query("SELECT offer_id, issued FROM offer_issue_counts", []) {
                out[row.text(0)] = ArmRecord(trials: Int(row.int(1)), successes: 0)
            }
            for row in try connection.query("SELECT offer_id, count(*) FROM outcomes WHERE type = 'conversion' GROUP BY offer_id", []) {
                out[row.text(0), default: ArmRecord(trials: 0, successes: 0)].successes = Int(row.int(1))
            }
            return out.mapValues { ArmRecord(trials: max($0.trials, $0.successes), successes: $0.successes) }
        }
        activationCache.withLock {
            $0.records = loaded
            $0.recordsLoadedAt = ContinuousClock().now
        }
        return loaded
    }

    /// Counts this node's issues and conversions into the loaded records as they happen.
    func countOfferRecord(_ offerIds: [String], trials: Int = 0, successes: Int = 0) {
        activationCache.withLock { cache in
            guard cache.records != nil else { return }
            for id in offerIds {
                var record = cache.records![id] ?? ArmRecord(trials: 0, successes: 0)
                record = ArmRecord(trials: record.trials + trials, successes: record.successes + successes)
                cache.records![id] = record
            }
        }
    }
}
