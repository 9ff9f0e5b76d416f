import CandorCore
import Foundation

/// The in-memory segment index: per (field, value) bitmaps, per-field value and declaration-time
/// columns for ranges, and per-purpose bitmaps of who the purpose gate lets through. It is fed whole
/// subject projections (never individual rule changes), so it cannot drift from the rules it mirrors.
///
/// Not thread-safe on its own; `SegmentIndexFeeder` owns it behind a lock.
public struct SegmentIndex: Sendable {
    /// subject id → dense ordinal, and back. Ordinals are never reused (an erased person's bit is just cleared).
    var ordinals = OrdinalTable()
    /// People whose data may be used at all (active: not restricted, not erased).
    var active = Bitmap()
    var objected = Bitmap()
    var isSet: [String: Bitmap] = [:]
    /// field → canonical JSON of a value (or, for multi-choice, of one option) → who holds it.
    var equal: [String: [String: Bitmap]] = [:]
    /// field → ordinal → comparable number (numbers; dates as yyyymmdd); NaN when unset.
    var ordered: [String: [Double]] = [:]
    /// field → ordinal → when it was declared (ms); 0 when unset.
    var declaredAt: [String: [Int64]] = [:]
    /// purpose → who the purpose gate let through when their projection was last applied.
    var visible: [String: Bitmap] = [:]
    /// purpose → the definition `visible` was computed with; a changed purpose is recomputed.
    var visibleUnder: [String: Purpose] = [:]
    /// purpose → ordinal → consent expiry, for granted consents that expire (the one clock-dependent part of the gate).
    var expiring: [String: [Int: Int64]] = [:]
    /// purpose → who has granted it, and (for the few whose grant expires) when, kept so a purpose whose
    /// definition changes can be recomputed without the database. Columns, not a record per person: a
    /// dictionary of records per person cost a few hundred bytes each, most of the index at a million people.
    var granted: [String: Bitmap] = [:]
    var grantExpiry: [String: [Int: Int64]] = [:]
    /// What decisions read per person, changed in the same `apply` as everything above.
    var people = DecisionProjection()
    /// Whether `people` may answer decisions: true once the index was loaded whole, false after a refresh
    /// failed or while a reload is pending (then decisions read the database).
    var servesDecisions = false

    public init() {}

    /// How many people the index has seen.
    public var subjectCount: Int { ordinals.count }

    mutating func ordinal(for id: String) -> Int {
        ordinals.insert(id)
    }

    /// Replaces everything known about one person with their current projection (nil: gone or erased).
    public mutating func apply(_ subjectId: String, _ profile: SegmentProfile?, purposes: [String: Purpose], now: Int64) {
        guard profile != nil || ordinals.ordinal(of: subjectId) != nil else { return }
        let o = ordinal(for: subjectId)
        active.remove(o)
        objected.remove(o)
        // Each structure is first read to find what holds the person, then only that is changed. Mutating
        // while iterating a dictionary (`for key in map.keys { map[key]!… }`) kept its storage shared,
        // so every change copied the dictionary and then the whole bitmap: a write cost the size of
        // the index (at 1M people, most of the time of loading it). Touching only bitmaps that hold the
        // person also spares copying the rest while a count holds a snapshot.
        Self.clear(o, in: &isSet)
        for (field, key) in equal.flatMap({ field, values in values.compactMap { $0.value.contains(o) ? (field, $0.key) : nil } }) {
            equal[field]![key]!.remove(o)
        }
        for key in ordered.compactMap({ o < $0.value.count && !$0.value[o].isNaN ? $0.key : nil }) { ordered[key]![o] = .nan }
        for key in declaredAt.compactMap({ o < $0.value.count && $0.value[o] != 0 ? $0.key : nil }) { declaredAt[key]![o] = 0 }
        Self.clear(o, in: &visible)
        for key in expiring.compactMap({ $0.value[o] != nil ? $0.key : nil }) { expiring[key]![o] = nil }
        Self.clear(o, in: &granted)
        for key in grantExpiry.compactMap({ $0.value[o] != nil ? $0.key : nil }) { grantExpiry[key]![o] = nil }
        people.set(o, profile)
        guard let profile, profile.status != .erased else { return }
        if profile.status == .active { active.insert(o) }
        if profile.hasObjected { objected.insert(o) }
        for (purpose, consent) in profile.consents where consent.status == .granted {
            granted[purpose, default: Bitmap()].insert(o)
            if let expiry = consent.expiresAt { grantExpiry[purpose, default: [:]][o] = expiry }
        }
        for (field, fact) in profile.values {
            isSet[field, default: Bitmap()].insert(o)
            switch fact.value {
            case .array(let items): for item in items { equal[field, default: [:]][item.jsonText, default: Bitmap()].insert(o) }
            default: equal[field, default: [:]][fact.value.jsonText, default: Bitmap()].insert(o)
            }
            if let number = Self.comparable(fact.value) { Self.put(&ordered[field, default: []], o, number, .nan) }
            Self.put(&declaredAt[field, default: []], o, fact.declaredAt, 0)
        }
        for purpose in purposes.values { gate(purpose, o, profile.status, profile.hasObjected, now: now) }
    }

    /// Clears a person's bit in every bitmap of `maps` that has it set, and touches no other.
    static func clear(_ o: Int, in maps: inout [String: Bitmap]) {
        for key in maps.compactMap({ $0.value.contains(o) ? $0.key : nil }) { maps[key]!.remove(o) }
    }

    /// Asks the purpose gate about one person and one purpose, and records the answer.
    mutating func gate(_ purpose: Purpose, _ o: Int, _ status: SubjectStatus, _ hasObjected: Bool, now: Int64) {
        // Only whether a grant stands (and until when) matters to visibility; method and notice do not.
        let consent = granted[purpose.key]?.contains(o) == true
            ? ConsentRecord(purpose: purpose.key, status: .granted, method: .api, noticeVersion: nil, updatedAt: 0, expiresAt: grantExpiry[purpose.key]?[o])
            : nil
        if PurposeGate.visibility(for: purpose, status: status, hasObjected: hasObjected, consent: consent, now: now) == .visible {
            visible[purpose.key, default: Bitmap()].insert(o)
            if purpose.legalBasis.requiresConsent, let expiry = consent?.expiresAt { expiring[purpose.key, default: [:]][o] = expiry }
        }
        visibleUnder[purpose.key] = purpose
    }

    static func put<T>(_ column: inout [T], _ o: Int, _ value: T, _ empty: T) {
        if o >= column.count { column.append(contentsOf: repeatElement(empty, count: o + 1 - column.count)) }
        column[o] = value
    }

    /// Numbers as they are; dates `YYYY-MM-DD` as yyyymmdd, which orders the same way.
    static func comparable(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let number): return number
        case .string(let text) where text.count == 10 && DeclarationRulesBridge.isDate(text):
            return Double(text.replacingOccurrences(of: "-", with: ""))
        default: return nil
        }
    }

    static func comparable(_ literal: SegmentLiteral) -> Double? { comparable(literal.json) }

    /// Recomputes the gate for purposes whose definition changed (or that are new) since last applied.
    mutating func refreshPurposes(_ purposes: [String: Purpose], now: Int64) {
        for purpose in purposes.values where visibleUnder[purpose.key] != purpose {
            visible[purpose.key] = Bitmap()
            expiring[purpose.key] = [:]
            for o in 0..<ordinals.count where active.contains(o) { gate(purpose, o, .active, objected.contains(o), now: now) }
            visibleUnder[purpose.key] = purpose
        }
    }

    /// The people a rule selects, as a bitmap of ordinals. The same meaning as `SegmentEvaluator.matches`.
    public func evaluate(_ expr: SegmentExpr, now: Int64) -> Bitmap {
        eval(expr, now: now).intersection(active)
    }

    func eval(_ expr: SegmentExpr, now: Int64) -> Bitmap {
        switch expr {
        case .and(let a, let b):
            var out = eval(a, now: now)
            out.formIntersection(eval(b, now: now))
            return out
        case .or(let a, let b):
            var out = eval(a, now: now)
            out.formUnion(eval(b, now: now))
            return out
        case .not(let a): return active.subtracting(eval(a, now: now))
        case .isSet(let field): return isSet[field] ?? Bitmap()
        case .has(let field, let all, let options):
            let maps = options.map { equal[field]?[JSONValue.string($0).jsonText] ?? Bitmap() }
            var out = maps.first ?? Bitmap()
            for map in maps.dropFirst() { if all { out.formIntersection(map) } else { out.formUnion(map) } }
            return out
        case .compare(let field, let order, let literal):
            // Equality goes through the value bitmaps (canonical JSON, so 42 and 42.0 agree); order scans.
            if order != .equal && order != .notEqual {
                guard let number = Self.comparable(literal) else { return Bitmap() }
                return scan(field) { order.holds($0, number) }
            }
            let hit = equal[field]?[literal.json.jsonText] ?? Bitmap()
            return order == .equal ? hit : (isSet[field] ?? Bitmap()).subtracting(hit)
        case .oneOf(let field, let literals):
            var out = Bitmap()
            for literal in literals { out.formUnion(eval(.compare(field: field, .equal, literal), now: now)) }
            return out
        case .between(let field, let low, let high):
            guard let l = Self.comparable(low), let h = Self.comparable(high) else { return Bitmap() }
            return scan(field) { $0 >= l && $0 <= h }
        case .declaredWithin(let field, let millis):
            var out = Bitmap()
            let since = now - millis
            for (o, at) in (declaredAt[field] ?? []).enumerated() where at != 0 && at >= since { out.insert(o) }
            return out
        case .consent(let purpose):
            var out = visible[purpose] ?? Bitmap()
            for (o, expiry) in expiring[purpose] ?? [:] where expiry <= now { out.remove(o) }
            return out
        }
    }

    /// The people whose comparable value of `field` passes `test`. With few distinct values (sizes,
    /// dates of birth by day) it ors the per-value bitmaps; otherwise it scans the column.
    func scan(_ field: String, _ test: (Double) -> Bool) -> Bitmap {
        if let values = equal[field], values.count <= 512 {
            var out = Bitmap()
            for (key, map) in values {
                // Keys are canonical JSON: a number as written, a date as a quoted YYYY-MM-DD.
                let plain = key.hasPrefix("\"") ? JSONValue.string(String(key.dropFirst().dropLast())) : Double(key).map(JSONValue.number) ?? .null
                guard let number = Self.comparable(plain), test(number) else { continue }
                out.formUnion(map)
            }
            return out
        }
        var out = Bitmap()
        for (o, value) in (ordered[field] ?? []).enumerated() where !value.isNaN && test(value) { out.insert(o) }
        return out
    }

    /// The subject ids of a bitmap, in ordinal order.
    public func subjectIds(_ bitmap: Bitmap) -> [String] { bitmap.members.map { ordinals.id(at: $0) } }
}

extension SegmentOrder {
    func holds(_ a: Double, _ b: Double) -> Bool {
        switch self {
        case .equal: a == b
        case .notEqual: a != b
        case .less: a < b
        case .lessOrEqual: a <= b
        case .greater: a > b
        case .greaterOrEqual: a >= b
        }
    }
}

/// `DeclarationRules.isCalendarDate` is internal to CandorCore; a date-shaped check is enough here,
/// because only values that passed validation reach the index.
enum DeclarationRulesBridge {
    static func isDate(_ text: String) -> Bool {
        let u = Array(text.utf8)
        return u.count == 10 && u[4] == 45 && u[7] == 45 && u.enumerated().allSatisfy { $0.offset == 4 || $0.offset == 7 || (48...57).contains($0.element) }
    }
}

extension SegmentIndex {
    /// Roughly how much memory the index holds (bitmaps and columns; dictionary overhead estimated).
    public var estimatedBytes: Int {
        var words = active.words.count + objected.words.count
        for map in isSet.values { words += map.words.count }
        for maps in equal.values { for map in maps.values { words += map.words.count } }
        for map in visible.values { words += map.words.count }
        var bytes = words * 8
        for column in ordered.values { bytes += column.count * 8 }
        for column in declaredAt.values { bytes += column.count * 8 }
        bytes += ordinals.estimatedBytes
        bytes += people.estimatedBytes
        for map in granted.values { bytes += map.words.count * 8 }
        for column in grantExpiry.values { bytes += column.count * 32 }
        return bytes
    }
}
