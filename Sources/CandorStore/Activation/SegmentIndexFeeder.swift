import CandorCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps one node's `SegmentIndex` in step with the database.
///
/// Two paths feed it, both with whole projections read back from the database after commit:
/// - this node's writes: `CandorStore.write` hands over the subject id once its transaction committed, and
///   waits until the index holds the committed state (so a count right after a write sees it);
/// - every other writer (other app nodes on PostgreSQL, retention): a poll of the outbox every
///   `pollInterval`, since every write emits an event that names its subject.
///
/// Refreshes run one at a time, each reading after the previous one applied, so a stale read can never
/// overwrite a newer one.
actor SegmentIndexFeeder {
    /// The index, read under its lock by counts (which never wait for the feeder).
    nonisolated let index = Locked(SegmentIndex())
    nonisolated let started = Locked(false)
    /// Whether a background load, started by a decision that found the projection unusable, is running.
    nonisolated let reviving = Locked(false)
    private var loaded = false
    private var pending = Set<String>()
    private var wantsPoll = false
    private var requested = 0
    private var applied = 0
    private var running = false
    private var waiters: [(Int, CheckedContinuation<Void, Error>)] = []
    /// Outbox ids at or below `floor` have all been applied; `seen` holds applied ids above it.
    private var floor: Int64 = 0
    private var seen = Set<Int64>()
    private var floorStuckSince: Int64?
    /// For people this node read back after a write: the newest outbox event that read saw. A poll skips
    /// their events up to it, since their change is already applied; without this every write of this
    /// node was read back twice, once for its answer and again when the poll met its event. SQLite only:
    /// its single writer hands out event ids in commit order, so no older event can still be on its way.
    /// On PostgreSQL ids and commits can come in different orders, so every polled event is applied.
    private var appliedThrough: [String: Int64] = [:]
    private var pollTask: Task<Void, Never>?
    /// How long an outbox id may stay missing before it is taken as never coming (a rolled-back write
    /// leaves a hole in a PostgreSQL sequence for ever; a slow commit fills it within milliseconds).
    static let gapPatienceMillis: Int64 = 5_000

    deinit { pollTask?.cancel() }

    /// Applies the named subjects' committed state (and, with `poll`, everything new in the outbox),
    /// loading the whole index first if this is the first use. Returns once that is in the index.
    func sync(_ ids: some Sequence<String>, poll: Bool, store: CandorStore) async throws {
        pending.formUnion(ids)
        if poll { wantsPoll = true }
        requested += 1
        let mine = requested
        if running {
            try await withCheckedThrowingContinuation { waiters.append((mine, $0)) }
            return
        }
        running = true
        defer { running = false }
        do {
            while applied < requested {
                let target = requested
                if !loaded {
                    try await load(store)
                    loaded = true
                    startPolling(store)
                }
                if wantsPoll {
                    wantsPoll = false
                    try await pollOutbox(store)
                }
                let batch = pending
                pending = []
                if !batch.isEmpty {
                    let skipsAppliedEvents = store.database.dialect == .sqlite
                    let (profiles, newestEvents) = try await store.segmentProfiles(Array(batch), withNewestEvents: skipsAppliedEvents)
                    let purposes = store.registry.purposes, now = store.now
                    index.withLock { index in
                        for id in batch { index.apply(id, profiles[id], purposes: purposes, now: now) }
                    }
                    for (id, event) in newestEvents where event > floor { appliedThrough[id] = max(appliedThrough[id] ?? 0, event) }
                }
                applied = target
                let ready = waiters.filter { $0.0 <= target }
                waiters.removeAll { $0.0 <= target }
                for waiter in ready { waiter.1.resume() }
            }
        } catch {
            let failed = waiters
            waiters = []
            for waiter in failed { waiter.1.resume(throwing: error) }
            applied = requested
            // Whatever was in flight is lost; the next use rebuilds from the tables. Until then decisions
            // read the database: the projection may have missed a committed change (a withdrawal).
            index.withLock { $0.servesDecisions = false }
            loaded = false
            pollTask?.cancel()
            throw error
        }
    }

    /// Builds the index from the tables. The outbox position is read first, so anything committed while
    /// the tables are read is applied again by the next poll (applying is idempotent).
    private func load(_ store: CandorStore) async throws {
        floor = try await store.database.read { try $0.queryOne("SELECT COALESCE(MAX(id), 0) FROM outbox")?.int(0) ?? 0 }
        let purposes = store.registry.purposes, now = store.now
        // Built aside and swapped in whole, so counts during a reload see the old index, never half of one.
        var fresh = SegmentIndex()
        try await store.forEachSegmentProfilePage { page in
            for profile in page { fresh.apply(profile.subjectId, profile, purposes: purposes, now: now) }
        }
        fresh.people.trim()
        fresh.servesDecisions = true
        let (people, indexBytes, decisionBytes) = (fresh.subjectCount, fresh.estimatedBytes, fresh.people.estimatedBytes)
        index.withLock { $0 = fresh }
        Self.returnFreedMemory()
        // Sizes only (read by bench/decide.sh): nothing about any person.
        store.logger.info("segment index loaded", metadata: ["people": "\(people)", "index_bytes": "\(indexBytes)", "decision_projection_bytes": "\(decisionBytes)"])
    }

    /// The pages of decoded projections are freed once the index is built; glibc keeps such memory
    /// resident for the life of the process unless asked to give it back (`malloc_trim`, looked up at
    /// run time because Swift's Glibc module does not export malloc.h).
    static func returnFreedMemory() {
        #if canImport(Glibc)
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
        #endif
    }

    private func pollOutbox(_ store: CandorStore) async throws {
        let from = floor
        let rows = try await store.database.read { connection in
            try connection.query("SELECT id, subject_id FROM outbox WHERE id > ? ORDER BY id LIMIT 5000", [.int(from)]).map { ($0.int(0), $0.optionalText(1)) }
        }
        for (id, subjectId) in rows where seen.insert(id).inserted {
            if let subjectId, id > appliedThrough[subjectId] ?? 0 { pending.insert(subjectId) }
        }
        let before = floor
        while seen.remove(floor + 1) != nil { floor += 1 }
        if !seen.isEmpty {
            // A hole below the newest id: an event whose transaction has not committed yet, or never will.
            let now = store.now
            if floor != before || floorStuckSince == nil { floorStuckSince = now }
            if let since = floorStuckSince, now - since > Self.gapPatienceMillis, let next = seen.min() {
                floor = next - 1
                while seen.remove(floor + 1) != nil { floor += 1 }
                floorStuckSince = seen.isEmpty ? nil : now
            }
        } else {
            floorStuckSince = nil
        }
        // Events at or below the floor are never polled again.
        let floor = floor
        appliedThrough = appliedThrough.filter { $0.value > floor }
    }

    private func startPolling(_ store: CandorStore) {
        let interval = store.activationSettings.withLock { $0.pollInterval }
        pollTask = Task { [weak store] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let store else { return }
                try? await store.segmentFeeder.sync([], poll: true, store: store)
            }
        }
    }

    /// Rebuilds the index from the tables on the next sync (after changes that emit no events).
    func reload(store: CandorStore) async throws {
        guard loaded else { return }
        index.withLock { $0.servesDecisions = false }
        loaded = false
        pollTask?.cancel()
        try await sync([], poll: false, store: store)
    }

    func stop() { pollTask?.cancel() }
}

/// Activation settings an installation may change.
public struct ActivationSettings: Sendable {
    /// How often each node's segment index polls the outbox for other nodes' writes.
    public var pollInterval: Duration = .milliseconds(200)
    /// The share of people (0…1, stable per person) who get the non-personalized fallback, so lift can be measured.
    public var holdoutShare: Double = 0.1
    /// How eligible personalized offers are ordered: by their priority, or by Thompson sampling on the
    /// conversions they earned.
    public var ranking: OfferRanking = .priority

    public init() {}
}
