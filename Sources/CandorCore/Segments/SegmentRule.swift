import Foundation

/// A literal in a rule.
public enum SegmentLiteral: Sendable, Hashable {
    case string(String)
    case number(Double)
    case bool(Bool)

    /// The literal as a declared JSON value.
    public var json: JSONValue {
        switch self {
        case .string(let text): .string(text)
        case .number(let value): .number(value)
        case .bool(let value): .bool(value)
        }
    }
}

/// An ordering comparison.
public enum SegmentOrder: String, Sendable, Hashable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
}

/// A type-checked segment rule: what the parser produces and both evaluators (brute force and index) run.
public indirect enum SegmentExpr: Sendable, Hashable {
    case and(SegmentExpr, SegmentExpr)
    case or(SegmentExpr, SegmentExpr)
    case not(SegmentExpr)
    /// `field op literal` on a single-valued field; false when the field is not set.
    case compare(field: String, SegmentOrder, SegmentLiteral)
    /// `field in [...]`; false when the field is not set.
    case oneOf(field: String, [SegmentLiteral])
    /// `field has "x"` / `has any [...]` / `has all [...]` on a multi-choice field.
    case has(field: String, all: Bool, [String])
    /// `field between low and high`, both ends included.
    case between(field: String, SegmentLiteral, SegmentLiteral)
    /// `set(field)`: the person declared a value.
    case isSet(field: String)
    /// `declared_within(field, 90d)`: declared no longer ago than the duration.
    case declaredWithin(field: String, millis: Int64)
    /// `consent("purpose")`: the purpose gate lets this person's data be used for the purpose now.
    case consent(purpose: String)

    /// The fields the rule reads.
    public var fields: Set<String> {
        switch self {
        case .and(let a, let b), .or(let a, let b): a.fields.union(b.fields)
        case .not(let a): a.fields
        case .compare(let f, _, _), .oneOf(let f, _), .has(let f, _, _), .between(let f, _, _), .isSet(let f), .declaredWithin(let f, _): [f]
        case .consent: []
        }
    }

    /// The purposes the rule's `consent(...)` terms name.
    public var purposes: Set<String> {
        switch self {
        case .and(let a, let b), .or(let a, let b): a.purposes.union(b.purposes)
        case .not(let a): a.purposes
        case .consent(let p): [p]
        default: []
        }
    }
}

/// The segment rule language (grammar in docs/segments.md): parse, then type check against the registry.
public enum SegmentRule {
    /// Parses and type checks a rule. Errors name the line, the column and what was expected.
    public static func compile(_ text: String, fields: [String: Field], purposes: [String: Purpose]) -> Result<SegmentExpr, SegmentError> {
        do {
            var parser = SegmentParser(tokens: try SegmentLexer.tokens(text), fields: fields, purposes: purposes)
            let expr = try parser.rule()
            try parser.expectEnd()
            return .success(expr)
        } catch {
            return .failure(error)
        }
    }
}

/// Recursive descent over the token list, one function per grammar rule, type checking as it goes
/// so an error points at the token that is wrong.
struct SegmentParser {
    let tokens: [SegmentToken]
    let fields: [String: Field]
    let purposes: [String: Purpose]
    var position = 0
    var depth = 0

    init(tokens: [SegmentToken], fields: [String: Field], purposes: [String: Purpose]) {
        self.tokens = tokens
        self.fields = fields
        self.purposes = purposes
    }

    var current: SegmentToken { tokens[position] }

    func fail(_ message: String, at token: SegmentToken? = nil) -> SegmentError {
        let token = token ?? current
        return SegmentError(line: token.line, column: token.column, message: message)
    }

    func expected(_ what: String) -> SegmentError { fail("expected \(what), found \(current.described)") }

    func isKeyword(_ word: String) -> Bool {
        if case .identifier(let name) = current.kind { return name == word }
        return false
    }

    func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(let text) = current.kind { return text == symbol }
        return false
    }

    mutating func take(_ symbol: String, _ what: String? = nil) throws(SegmentError) {
        guard isSymbol(symbol) else { throw expected(what ?? "'\(symbol)'") }
        position += 1
    }

    mutating func expectEnd() throws(SegmentError) {
        guard case .end = current.kind else { throw expected("'and', 'or' or the end of the rule") }
    }

    static let keywords: Set<String> = ["and", "or", "not", "in", "has", "any", "all", "between", "set", "declared_within", "consent", "true", "false"]

    // rule = and_expr { "or" and_expr }
    mutating func rule() throws(SegmentError) -> SegmentExpr {
        depth += 1
        defer { depth -= 1 }
        // Deep nesting would exhaust the stack; no real rule needs it.
        if depth > 64 { throw fail("rules nest at most 64 levels deep") }
        var left = try andExpr()
        while isKeyword("or") {
            position += 1
            left = .or(left, try andExpr())
        }
        return left
    }

    // and_expr = unary { "and" unary }
    mutating func andExpr() throws(SegmentError) -> SegmentExpr {
        var left = try unary()
        while isKeyword("and") {
            position += 1
            left = .and(left, try unary())
        }
        return left
    }

    // unary = "not" unary | primary
    mutating func unary() throws(SegmentError) -> SegmentExpr {
        if isKeyword("not") {
            position += 1
            depth += 1
            defer { depth -= 1 }
            if depth > 64 { throw fail("rules nest at most 64 levels deep") }
            return .not(try unary())
        }
        return try primary()
    }

    mutating func primary() throws(SegmentError) -> SegmentExpr {
        if isSymbol("(") {
            position += 1
            let inner = try rule()
            try take(")", "')' to close the '('")
            return inner
        }
        guard case .identifier(let name) = current.kind else { throw expected("a field, 'not', 'set(', 'declared_within(', 'consent(' or '('") }
        let nameToken = current
        switch name {
        case "set":
            position += 1
            try take("(", "'(' after 'set'")
            let field = try fieldName()
            try take(")")
            return .isSet(field: field.key)
        case "declared_within":
            position += 1
            try take("(", "'(' after 'declared_within'")
            let field = try fieldName()
            try take(",", "',' and a duration such as 90d")
            guard case .duration(let millis) = current.kind else { throw expected("a duration such as 90d, 12h or 2w") }
            position += 1
            try take(")")
            return .declaredWithin(field: field.key, millis: millis)
        case "consent":
            position += 1
            try take("(", "'(' after 'consent'")
            guard case .string(let key) = current.kind else { throw expected("a purpose name in quotes, such as \"offers\"") }
            guard purposes[key] != nil else { throw fail("unknown purpose '\(key)'") }
            position += 1
            try take(")")
            return .consent(purpose: key)
        default:
            if Self.keywords.contains(name) { throw fail("expected a field, 'not', 'set(', 'declared_within(', 'consent(' or '(', found '\(name)'", at: nameToken) }
            return try comparison()
        }
    }

    mutating func fieldName() throws(SegmentError) -> Field {
        guard case .identifier(let name) = current.kind else { throw expected("a field name") }
        guard let field = fields[name] else { throw fail("unknown field '\(name)'") }
        position += 1
        return field
    }

    // comparison = field ( op literal | "in" list | "has" ["any" | "all"] (literal | list) | "between" literal "and" literal )
    mutating func comparison() throws(SegmentError) -> SegmentExpr {
        let field = try fieldName()
        let opToken = current
        if case .symbol(let text) = current.kind, let order = SegmentOrder(rawValue: text) {
            position += 1
            let ordered = order != .equal && order != .notEqual
            if ordered && ![.number, .date].contains(field.type) {
                throw fail("'\(text)' compares numbers and dates; '\(field.key)' is \(field.type.rawValue)", at: opToken)
            }
            if field.type == .multiChoice { throw fail("'\(field.key)' holds several options: use 'has', 'has any [...]' or 'has all [...]'", at: opToken) }
            return .compare(field: field.key, order, try literal(for: field))
        }
        if isKeyword("in") {
            position += 1
            if field.type == .multiChoice { throw fail("'\(field.key)' holds several options: use 'has any [...]'", at: opToken) }
            if field.type == .boolean { throw fail("'in' does not apply to the boolean '\(field.key)': use '='", at: opToken) }
            return .oneOf(field: field.key, try list(for: field))
        }
        if isKeyword("has") {
            position += 1
            guard field.type == .multiChoice else { throw fail("'has' applies to multi-choice fields; '\(field.key)' is \(field.type.rawValue): use '=' or 'in'", at: opToken) }
            if isKeyword("any") || isKeyword("all") {
                let all = isKeyword("all")
                position += 1
                return .has(field: field.key, all: all, try list(for: field).compactMap { if case .string(let s) = $0 { s } else { nil } })
            }
            guard case .string(let option) = try literal(for: field) else { throw fail("expected a string") }
            return .has(field: field.key, all: true, [option])
        }
        if isKeyword("between") {
            position += 1
            guard [.number, .date].contains(field.type) else { throw fail("'between' applies to numbers and dates; '\(field.key)' is \(field.type.rawValue)", at: opToken) }
            let low = try literal(for: field)
            guard isKeyword("and") else { throw expected("'and' between the two ends") }
            position += 1
            return .between(field: field.key, low, try literal(for: field))
        }
        throw expected("'=', '!=', '<', '<=', '>', '>=', 'in', 'has' or 'between' after '\(field.key)'")
    }

    mutating func list(for field: Field) throws(SegmentError) -> [SegmentLiteral] {
        try take("[", "'[' to start a list")
        var items = [try literal(for: field)]
        while isSymbol(",") {
            position += 1
            items.append(try literal(for: field))
        }
        try take("]", "',' or ']'")
        return items
    }

    /// A literal, checked against the field's type and options.
    mutating func literal(for field: Field) throws(SegmentError) -> SegmentLiteral {
        let token = current
        let value: SegmentLiteral
        switch token.kind {
        case .string(let text): value = .string(text)
        case .number(let number): value = .number(number)
        case .identifier("true"): value = .bool(true)
        case .identifier("false"): value = .bool(false)
        default: throw expected("a value (a string in quotes, a number, true or false)")
        }
        position += 1
        switch (field.type, value) {
        case (.singleChoice, .string(let text)), (.multiChoice, .string(let text)):
            guard (field.options ?? []).contains(text) else {
                throw fail("\"\(text)\" is not an option of '\(field.key)' (options: \((field.options ?? []).joined(separator: ", ")))", at: token)
            }
        case (.text, .string), (.number, .number), (.boolean, .bool): break
        case (.date, .string(let text)):
            guard DeclarationRules.isCalendarDate(text) else { throw fail("expected a date as \"YYYY-MM-DD\"", at: token) }
        default:
            let wanted = switch field.type {
            case .number: "a number"
            case .boolean: "true or false"
            case .date: "a date as \"YYYY-MM-DD\""
            default: "a string in quotes"
            }
            throw fail("'\(field.key)' is \(field.type.rawValue): expected \(wanted), found \(token.described)", at: token)
        }
        return value
    }
}
