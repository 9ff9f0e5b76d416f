import CandorCore
import Foundation

/// Exactly what a decision reads about one person — status, objection, consents, and each declared
/// value with when and where it was declared — kept in memory for everyone the segment index holds, so
/// `POST /v1/decide` answers without a database read.
///
/// It lives inside `SegmentIndex` and is changed by the same `apply` call that changes the bitmaps, so
/// the feeder's step that makes a write visible to counts makes it visible to decisions too (a writer on
/// this node is answered only after that step: a consent withdrawn now counts on the next decision).
///
/// Packed, not a dictionary of strings per person: each person's record is a run of 32-bit words in a
/// page shared by 4,096 people, and every string (field, purpose, source, collection point) and value
/// is stored once and named by a number. A page is small enough that copying it (when a count holds a
/// snapshot of the index while a write lands) costs microseconds, and a replaced record only wastes its
/// old words until the page is compacted.
///
/// A record is `header, consents…, facts…`, most of it optional words behind flags:
/// - header: restricted (bit 0), objected (bit 1), consent count (bits 8–15), fact count (bits 16–31);
/// - consent: one word — purpose name (bits 0–15), granted (bit 16), notice version follows (bit 17),
///   expiry follows (bit 18), method (bits 24–31) — then the notice version (1 word) and the expiry
///   (2 words) when present;
/// - fact: one word — field name (bits 0–15), source name (bits 16–30), collection point follows
///   (bit 31) — then the value's number, the declaration time (2 words) and the collection point.
///
/// A consent's `updatedAt` is not kept (no decision reads it; projections come back with 0). A person
/// whose record cannot be packed (more than 255 consents, names beyond 16 bits, a notice version
/// beyond 32 bits) gets no record and is answered from the database.
struct DecisionProjection: Sendable {
    static let pageShift = 12
    static let pageSize = 1 << pageShift
    static let absent = UInt32.max

    struct Page: Sendable {
        /// Per person of the page: where their record starts in `words`, or `absent`.
        var starts = [UInt32](repeating: DecisionProjection.absent, count: DecisionProjection.pageSize)
        var words: [UInt32] = []
        /// Words no record uses any more (replaced or removed), reclaimed by `compact`.
        var dead = 0
    }

    private(set) var pages: [Page] = []
    /// Field, purpose and source names by number (few: they come from the registry and a fixed list).
    private var names = InternTable<String>()
    /// Collection points by number, from 1 (callers name them freely, so there may be many).
    private var points = InternTable<String>(first: "")
    /// Declared values by number; a value that many people share is held once.
    private var values = InternTable<JSONValue>()
    /// How many people have a record.
    private(set) var count = 0

    private static let methods = ConsentMethod.allCases

    /// Replaces a person's record (nil or erased: removes it, so the caller asks the database instead).
    mutating func set(_ o: Int, _ profile: SegmentProfile?) {
        let page = o >> Self.pageShift, slot = o & (Self.pageSize - 1)
        while pages.count <= page { pages.append(Page()) }
        let old = pages[page].starts[slot]
        if old != Self.absent {
            pages[page].dead += Self.length(pages[page].words, Int(old))
            pages[page].starts[slot] = Self.absent
            count -= 1
        }
        if let profile, profile.status != .erased, let record = encode(profile) {
            pages[page].starts[slot] = UInt32(pages[page].words.count)
            pages[page].words.append(contentsOf: record)
            count += 1
        }
        if pages[page].dead > 1024 && pages[page].dead * 2 > pages[page].words.count { Self.compact(&pages[page]) }
    }

    /// The person's projection, if they have a record.
    func profile(_ o: Int, subjectId: String) -> SegmentProfile? {
        let page = o >> Self.pageShift
        guard page < pages.count else { return nil }
        let start = pages[page].starts[o & (Self.pageSize - 1)]
        guard start != Self.absent else { return nil }
        return pages[page].words.withUnsafeBufferPointer { decode($0, Int(start), subjectId: subjectId) }
    }

    /// Bytes held: pages (capacity, not just use), the string and value tables (estimated).
    var estimatedBytes: Int {
        var bytes = pages.count * MemoryLayout<Page>.stride
        for page in pages { bytes += page.starts.capacity * 4 + page.words.capacity * 4 }
        bytes += (names.items + points.items).reduce(0) { $0 + 16 + ($1.utf8.count > 15 ? $1.utf8.count + 32 : 0) } * 2
        bytes += values.items.reduce(0) { $0 + 16 + Self.approximateSize($1) } * 2
        return bytes
    }

    private static func approximateSize(_ value: JSONValue) -> Int {
        switch value {
        case .string(let text): text.utf8.count > 15 ? text.utf8.count + 32 : 0
        case .array(let items): 32 + items.reduce(0) { $0 + 16 + approximateSize($1) }
        case .object(let members): 64 + members.reduce(0) { $0 + 32 + approximateSize($1.value) }
        default: 0
        }
    }

    /// How many words the record starting at `start` takes.
    private static func length(_ words: [UInt32], _ start: Int) -> Int {
        let header = words[start]
        var at = start + 1
        for _ in 0..<Int((header >> 8) & 0xFF) {
            let word = words[at]
            at += 1 + (word & (1 << 17) != 0 ? 1 : 0) + (word & (1 << 18) != 0 ? 2 : 0)
        }
        for _ in 0..<Int(header >> 16) { at += words[at] & (1 << 31) != 0 ? 5 : 4 }
        return at - start
    }

    /// Gives back what growing the pages left unused (after a load, where every page grew record by record).
    mutating func trim() {
        for page in pages.indices { Self.compact(&pages[page]) }
    }

    /// Rewrites a page with only the records in use, in slot order.
    private static func compact(_ page: inout Page) {
        var words = [UInt32]()
        words.reserveCapacity(page.words.count - page.dead)
        for slot in page.starts.indices where page.starts[slot] != absent {
            let start = Int(page.starts[slot])
            page.starts[slot] = UInt32(words.count)
            words.append(contentsOf: page.words[start..<start + length(page.words, start)])
        }
        page.words = words
        page.dead = 0
    }

    private mutating func encode(_ profile: SegmentProfile) -> [UInt32]? {
        let consents = profile.consents.values.sorted { $0.purpose < $1.purpose }
        let facts = profile.values.values.sorted { $0.field < $1.field }
        guard consents.count <= 0xFF, facts.count <= 0xFFFF,
              consents.allSatisfy({ $0.noticeVersion.map { (0...Int(UInt32.max)).contains($0) } ?? true }) else { return nil }
        var words = [UInt32]()
        words.reserveCapacity(1 + consents.count * 4 + facts.count * 5)
        words.append((profile.status == .restricted ? 1 : 0) | (profile.hasObjected ? 2 : 0) | UInt32(consents.count) << 8 | UInt32(facts.count) << 16)
        for consent in consents {
            let purpose = names.number(consent.purpose)
            guard purpose <= 0xFFFF else { return nil }
            let method = UInt32(Self.methods.firstIndex(of: consent.method) ?? 0)
            words.append(purpose | (consent.status == .granted ? 1 << 16 : 0) | (consent.noticeVersion != nil ? 1 << 17 : 0)
                         | (consent.expiresAt != nil ? 1 << 18 : 0) | method << 24)
            if let notice = consent.noticeVersion { words.append(UInt32(notice)) }
            if let expiry = consent.expiresAt { Self.append(expiry, to: &words) }
        }
        for fact in facts {
            let field = names.number(fact.field), source = names.number(fact.source)
            guard field <= 0xFFFF, source <= 0x7FFF else { return nil }
            words.append(field | source << 16 | (fact.collectionPoint != nil ? 1 << 31 : 0))
            words.append(values.number(fact.value))
            Self.append(fact.declaredAt, to: &words)
            if let collectionPoint = fact.collectionPoint { words.append(points.number(collectionPoint)) }
        }
        return words
    }

    private static func append(_ number: Int64, to words: inout [UInt32]) {
        let bits = UInt64(bitPattern: number)
        words.append(UInt32(truncatingIfNeeded: bits))
        words.append(UInt32(truncatingIfNeeded: bits >> 32))
    }

    private static func int64(_ words: UnsafeBufferPointer<UInt32>, _ at: Int) -> Int64 {
        Int64(bitPattern: UInt64(words[at]) | UInt64(words[at + 1]) << 32)
    }

    private func decode(_ words: UnsafeBufferPointer<UInt32>, _ start: Int, subjectId: String) -> SegmentProfile {
        let header = words[start]
        let consentCount = Int((header >> 8) & 0xFF), factCount = Int(header >> 16)
        var consents = [String: ConsentRecord](minimumCapacity: consentCount)
        var at = start + 1
        for _ in 0..<consentCount {
            let word = words[at]
            at += 1
            let purpose = names.items[Int(word & 0xFFFF)]
            var notice: Int?, expiry: Int64?
            if word & (1 << 17) != 0 { notice = Int(words[at]); at += 1 }
            if word & (1 << 18) != 0 { expiry = Self.int64(words, at); at += 2 }
            consents[purpose] = ConsentRecord(purpose: purpose, status: word & (1 << 16) != 0 ? .granted : .withdrawn, method: Self.methods[Int(word >> 24)],
                                              noticeVersion: notice, updatedAt: 0, expiresAt: expiry)
        }
        var facts = [String: DeclaredFact](minimumCapacity: factCount)
        for _ in 0..<factCount {
            let word = words[at]
            let field = names.items[Int(word & 0xFFFF)]
            let point = word & (1 << 31) != 0 ? points.items[Int(words[at + 4])] : nil
            facts[field] = DeclaredFact(field: field, value: values.items[Int(words[at + 1])], declaredAt: Self.int64(words, at + 2),
                                        source: names.items[Int((word >> 16) & 0x7FFF)], collectionPoint: point)
            at += point == nil ? 4 : 5
        }
        return SegmentProfile(subjectId: subjectId, status: header & 1 != 0 ? .restricted : .active, hasObjected: header & 2 != 0, values: facts, consents: consents)
    }
}

extension CandorStore {
    /// A person's projection from memory, for a decision; nil when memory cannot answer (the index is not
    /// loaded yet or a refresh failed, the person is erased, unknown, or not yet seen by this node), and
    /// the caller reads the database. The first call starts loading the index in the background, so
    /// decisions never wait for a load (a minute at a million people): they read the database meanwhile.
    func projectedProfile(_ subjectId: String) -> SegmentProfile? {
        let found = segmentFeeder.index.withLock { index -> SegmentProfile?? in
            guard index.servesDecisions else { return .none }
            guard let o = index.ordinals.ordinal(of: subjectId) else { return .some(nil) }
            return .some(index.people.profile(o, subjectId: subjectId))
        }
        if let found { return found }
        if segmentFeeder.reviving.withLock({ let was = $0; $0 = true; return was }) { return nil }
        segmentFeeder.started.withLock { $0 = true }
        Task { [weak self] in
            defer { self?.segmentFeeder.reviving.withLock { $0 = false } }
            guard let self else { return }
            do {
                try await self.segmentFeeder.sync([], poll: false, store: self)
            } catch {
                self.logger.warning("segment index load for decisions failed; decisions read the database", metadata: ["error": "\(type(of: error))"])
            }
        }
        return nil
    }
}

extension CandorStore {
    /// A person as decisions see them from memory (after loading the index if needed) and as the database
    /// has them now: the property tests' check that the projection never drifts from the tables.
    /// `projected` is nil when memory would send the decision to the database.
    public func decisionProfiles(_ subjectId: String) async throws -> (projected: SegmentProfile?, stored: SegmentProfile?) {
        _ = try await segmentIndex()
        let projected = segmentFeeder.index.withLock { index in
            index.servesDecisions ? index.ordinals.ordinal(of: subjectId).flatMap { index.people.profile($0, subjectId: subjectId) } : nil
        }
        return (projected, try await segmentProfiles([subjectId])[subjectId])
    }

    /// How many people decisions can answer from memory, and the bytes that takes (for the benchmark).
    public func decisionProjectionSize() async throws -> (people: Int, bytes: Int, indexBytes: Int) {
        let index = try await segmentIndex()
        return (index.people.count, index.people.estimatedBytes, index.estimatedBytes)
    }
}

/// Values stored once and named by number, in the order first seen.
struct InternTable<Value: Hashable & Sendable>: Sendable {
    private(set) var items: [Value] = []
    private var numbers: [Value: UInt32] = [:]

    init() {}

    /// A table whose number 0 is `first` (a reserved "none").
    init(first: Value) { _ = number(first) }

    /// The value's number, given it now if it has none.
    mutating func number(_ value: Value) -> UInt32 {
        if let number = numbers[value] { return number }
        let number = UInt32(items.count)
        items.append(value)
        numbers[value] = number
        return number
    }
}
