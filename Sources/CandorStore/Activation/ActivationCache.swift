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

/// What a decision needs besides the person: the live catalog with its rules compiled, and what each
/// offer earned so far. Decisions are the hot path, so neither is read from the database per request.
///
/// The catalog is dropped whenever this node writes an offer or a segment, and is otherwise reloaded
/// after `catalogLifetime`, which bounds how long another node's new offer takes to appear here.
/// Offer records count this node's own decisions and conversions as they happen and are reloaded from
/// the database every `recordLifetime`, which folds in the other nodes' counts.
struct ActivationCache: Sendable {
    struct Catalog: Sendable {
        var offers: [Offer]
        /// segment id → compiled rule (segments that fail to compile are absent and match nobody).
        var rules: [String: SegmentExpr]
        var loadedAt: ContinuousClock.Instant
    }

    static let catalogLifetime: Duration = .seconds(1)
    static let recordLifetime: Duration = .seconds(60)

    var catalog: Catalog?
    var records: [String: ArmRecord]?
    var recordsLoadedAt: ContinuousClock.Instant?
}

extension CandorStore {
    /// The live catalog with compiled rules, from memory when fresh.
    func activationCatalog() async throws -> ActivationCache.Catalog {
        let clock = ContinuousClock()
        if let catalog = activationCache.withLock({ $0.catalog }), clock.now - catalog.loadedAt < ActivationCache.catalogLifetime { return catalog }
        let (bodies, ruleTexts) = try await database.read { connection in
            (try connection.query("SELECT body FROM offers ORDER BY created_at, id", []).map { $0.text(0) },
             try connection.query("SELECT id, rule FROM segments", []).map { ($0.text(0), $0.text(1)) })
        }
        var rules = [String: SegmentExpr]()
        for (id, text) in ruleTexts { rules[id] = try? compileRule(text) }
        let catalog = ActivationCache.Catalog(offers: try bodies.map { try CandorJSON.decode(Offer.self, from: $0) }, rules: rules, loadedAt: clock.now)
        activationCache.withLock { $0.catalog = catalog }
        return catalog
    }

    /// Forgets the catalog after this node changed an offer or a segment, so its next decision sees it.
    func invalidateActivationCatalog() {
        activationCache.withLock { $0.catalog = nil }
    }

    /// What each offer earned: trials are the times it was issued in a decision, successes the
    /// decisions of it that converted.
    func offerRecords() async throws -> [String: ArmRecord] {
        let clock = ContinuousClock()
        if let (records, at) = activationCache.withLock({ cache in cache.records.map { ($0, cache.recordsLoadedAt!) } }),
           clock.now - at < ActivationCache.recordLifetime { return records }
        let loaded = try await database.read { connection -> [String: ArmRecord] in
            var out = [String: ArmRecord]()
            for row in try connection.query("SELECT offer_id, count(*) FROM offer_issues GROUP BY offer_id", []) {
                out[row.text(0)] = ArmRecord(trials: Int(row.int(1)), successes: 0)
            }
            for row in try connection.query("SELECT offer_id, count(*) FROM outcomes WHERE type = 'conversion' GROUP BY offer_id", []) {
                out[row.text(0), default: ArmRecord(trials: 0, successes: 0)].successes = Int(row.int(1))
            }
            return out.mapValues { ArmRecord(trials: max($0.trials, $0.successes), successes: $0.successes) }
        }
        activationCache.withLock {
            $0.records = loaded
            $0.recordsLoadedAt = clock.now
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
