import Foundation

/// One declared value with its provenance, as a rule and an explanation see it.
public struct DeclaredFact: Sendable, Hashable, Codable {
    public var field: String
    public var value: JSONValue
    public var declaredAt: Int64
    public var source: String
    public var collectionPoint: String?

    public init(field: String, value: JSONValue, declaredAt: Int64, source: String, collectionPoint: String?) {
        self.field = field
        self.value = value
        self.declaredAt = declaredAt
        self.source = source
        self.collectionPoint = collectionPoint
    }
}

/// Everything a rule may look at for one person: declared values, consents and status.
public struct SegmentProfile: Sendable, Hashable {
    public var subjectId: String
    public var status: SubjectStatus
    public var hasObjected: Bool
    public var values: [String: DeclaredFact]
    public var consents: [String: ConsentRecord]

    public init(subjectId: String, status: SubjectStatus, hasObjected: Bool, values: [String: DeclaredFact], consents: [String: ConsentRecord]) {
        self.subjectId = subjectId
        self.status = status
        self.hasObjected = hasObjected
        self.values = values
        self.consents = consents
    }
}

/// The reference evaluator: plain and obviously right, one person at a time. The in-memory index must
/// agree with it (property tests), and decisions use it directly on the freshest data.
public enum SegmentEvaluator {
    /// Whether a person is in the segment now. Restricted and erased people are in no segment: their
    /// data is not used (GDPR Art. 18), not even to be counted.
    public static func matches(_ expr: SegmentExpr, _ profile: SegmentProfile, purposes: [String: Purpose], now: Int64) -> Bool {
        guard profile.status == .active else { return false }
        return evaluate(expr, profile, purposes: purposes, now: now)
    }

    static func evaluate(_ expr: SegmentExpr, _ p: SegmentProfile, purposes: [String: Purpose], now: Int64) -> Bool {
        switch expr {
        case .and(let a, let b): return evaluate(a, p, purposes: purposes, now: now) && evaluate(b, p, purposes: purposes, now: now)
        case .or(let a, let b): return evaluate(a, p, purposes: purposes, now: now) || evaluate(b, p, purposes: purposes, now: now)
        case .not(let a): return !evaluate(a, p, purposes: purposes, now: now)
        case .isSet(let field): return p.values[field] != nil
        case .declaredWithin(let field, let millis):
            guard let fact = p.values[field] else { return false }
            return fact.declaredAt >= now - millis
        case .consent(let key):
            guard let purpose = purposes[key] else { return false }
            return PurposeGate.visibility(for: purpose, status: p.status, hasObjected: p.hasObjected, consent: p.consents[key], now: now) == .visible
        case .compare(let field, let order, let literal):
            guard let value = p.values[field]?.value else { return false }
            return compare(value, order, literal)
        case .oneOf(let field, let literals):
            guard let value = p.values[field]?.value else { return false }
            return literals.contains { $0.json == value }
        case .has(let field, let all, let options):
            guard let items = p.values[field]?.value.arrayValue else { return false }
            let held = Set(items.compactMap(\.stringValue))
            return all ? options.allSatisfy(held.contains) : options.contains(where: held.contains)
        case .between(let field, let low, let high):
            guard let value = p.values[field]?.value else { return false }
            return compare(value, .greaterOrEqual, low) && compare(value, .lessOrEqual, high)
        }
    }

    /// Compares a declared value with a literal. Dates are `YYYY-MM-DD`, so text order is date order.
    public static func compare(_ value: JSONValue, _ order: SegmentOrder, _ literal: SegmentLiteral) -> Bool {
        let sign: Int
        switch (value, literal) {
        case (.number(let a), .number(let b)): sign = a < b ? -1 : (a > b ? 1 : 0)
        case (.string(let a), .string(let b)): sign = a < b ? -1 : (a > b ? 1 : 0)
        case (.bool(let a), .bool(let b)): sign = a == b ? 0 : 1
        default: return order == .notEqual
        }
        switch order {
        case .equal: return sign == 0
        case .notEqual: return sign != 0
        case .less: return sign < 0
        case .lessOrEqual: return sign <= 0
        case .greater: return sign > 0
        case .greaterOrEqual: return sign >= 0
        }
    }

    /// The declared facts and consents a matching rule relied on: every field term and consent term that
    /// holds for the person, outside a `not` (a negated term is a fact's absence, and absence is not shown
    /// as a reason).
    public static func reasons(_ expr: SegmentExpr, _ p: SegmentProfile, purposes: [String: Purpose], now: Int64) -> (facts: [DeclaredFact], consents: [String]) {
        var facts = [String: DeclaredFact]()
        var consents = Set<String>()
        func walk(_ e: SegmentExpr) {
            switch e {
            case .and(let a, let b), .or(let a, let b): walk(a); walk(b)
            case .not: break
            case .consent(let key): if evaluate(e, p, purposes: purposes, now: now) { consents.insert(key) }
            default:
                if evaluate(e, p, purposes: purposes, now: now), let field = e.fields.first, let fact = p.values[field] { facts[field] = fact }
            }
        }
        walk(expr)
        return (facts.keys.sorted().compactMap { facts[$0] }, consents.sorted())
    }
}
