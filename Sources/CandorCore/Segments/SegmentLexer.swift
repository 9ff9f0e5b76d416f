import Foundation

/// A parse or type error in a segment rule, at a 1-based line and column.
public struct SegmentError: Error, Sendable, Hashable, Codable {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// The error as a field error of an API request, with the position in the message.
    public func fieldError(_ field: String) -> FieldError {
        FieldError(field, "line \(line), column \(column): \(message)")
    }
}

/// One token of the rule language.
struct SegmentToken: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case identifier(String)
        case string(String)
        case number(Double)
        /// A duration such as `90d`, in milliseconds.
        case duration(Int64)
        case symbol(String)
        case end
    }

    var kind: Kind
    var line: Int
    var column: Int

    /// How the token reads in an error message.
    var described: String {
        switch kind {
        case .identifier(let name): "'\(name)'"
        case .string(let text): "the string \"\(text)\""
        case .number(let value): "the number \(DeclarationRules.format(value))"
        case .duration: "a duration"
        case .symbol(let text): "'\(text)'"
        case .end: "the end of the rule"
        }
    }
}

/// A hand-written lexer: rules are short, and a hand-written one gives exact positions for errors.
enum SegmentLexer {
    static let maxLength = 10_000

    static func tokens(_ text: String) throws(SegmentError) -> [SegmentToken] {
        if text.count > maxLength { throw SegmentError(line: 1, column: 1, message: "a rule is at most \(maxLength) characters") }
        let scalars = Array(text.unicodeScalars)
        var out = [SegmentToken]()
        var index = 0, line = 1, column = 1
        func advance() {
            if scalars[index] == "\n" { line += 1; column = 1 } else { column += 1 }
            index += 1
        }
        while index < scalars.count {
            let c = scalars[index]
            let (startLine, startColumn) = (line, column)
            if c == " " || c == "\t" || c == "\n" || c == "\r" { advance(); continue }
            if c == "#" { // a comment runs to the end of the line
                while index < scalars.count && scalars[index] != "\n" { advance() }
                continue
            }
            if c.properties.isAlphabetic || c == "_" {
                var name = ""
                while index < scalars.count, scalars[index].properties.isAlphabetic || scalars[index] == "_" || ("0"..."9").contains(scalars[index]) {
                    name.unicodeScalars.append(scalars[index]); advance()
                }
                out.append(SegmentToken(kind: .identifier(name), line: startLine, column: startColumn))
                continue
            }
            if ("0"..."9").contains(c) || (c == "-" && index + 1 < scalars.count && ("0"..."9").contains(scalars[index + 1])) {
                var digits = ""
                digits.unicodeScalars.append(c); advance()
                while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." {
                    digits.unicodeScalars.append(scalars[index]); advance()
                }
                // A number glued to a unit letter is a duration: 90d, 12h, 2w.
                if index < scalars.count, let unit = ["d": Int64(86_400_000), "h": 3_600_000, "w": 604_800_000][String(scalars[index])],
                   index + 1 >= scalars.count || !(scalars[index + 1].properties.isAlphabetic || scalars[index + 1] == "_") {
                    advance()
                    guard let count = Int64(digits), count > 0, count <= 36_500 else {
                        throw SegmentError(line: startLine, column: startColumn, message: "expected a whole positive number of days, hours or weeks")
                    }
                    out.append(SegmentToken(kind: .duration(count * unit), line: startLine, column: startColumn))
                    continue
                }
                guard let value = Double(digits), value.isFinite else {
                    throw SegmentError(line: startLine, column: startColumn, message: "'\(digits)' is not a number")
                }
                out.append(SegmentToken(kind: .number(value), line: startLine, column: startColumn))
                continue
            }
            if c == "\"" {
                advance()
                var text = ""
                while true {
                    guard index < scalars.count, scalars[index] != "\n" else {
                        throw SegmentError(line: startLine, column: startColumn, message: "expected a closing '\"' for this string")
                    }
                    let s = scalars[index]
                    advance()
                    if s == "\"" { break }
                    if s == "\\" {
                        guard index < scalars.count, scalars[index] == "\"" || scalars[index] == "\\" else {
                            throw SegmentError(line: line, column: column, message: "expected '\\\"' or '\\\\' after a backslash")
                        }
                        text.unicodeScalars.append(scalars[index]); advance()
                        continue
                    }
                    text.unicodeScalars.append(s)
                }
                out.append(SegmentToken(kind: .string(text), line: startLine, column: startColumn))
                continue
            }
            let two = index + 1 < scalars.count ? String(c) + String(scalars[index + 1]) : ""
            if ["!=", "<=", ">="].contains(two) {
                advance(); advance()
                out.append(SegmentToken(kind: .symbol(two), line: startLine, column: startColumn))
                continue
            }
            if "=<>()[],".unicodeScalars.contains(c) {
                advance()
                out.append(SegmentToken(kind: .symbol(String(c)), line: startLine, column: startColumn))
                continue
            }
            throw SegmentError(line: startLine, column: startColumn, message: "unexpected character '\(c)'")
        }
        out.append(SegmentToken(kind: .end, line: line, column: column))
        return out
    }
}
