import NIOCore

/// A reader for the embed's tiny request bodies: one JSON object whose values are strings without
/// escapes, integers, booleans or null — the shape the script always sends on a page view. It exists
/// because the page-view decision runs on every page of a shop and JSONDecoder cost more than the
/// decision itself. It gives up (nil) on anything else — nesting, escapes, fractions, exponents,
/// duplicate keys, invalid UTF-8, trailing bytes — and the caller then asks JSONDecoder, which accepts
/// what JSON allows and names what is wrong. So this reader never decides that a body is invalid.
enum FlatJSON {
    enum Value: Equatable, Sendable {
        case string(String)
        case int(Int)
        case bool(Bool)
        case null

        var text: String? { if case .string(let text) = self { text } else { nil } }
        var integer: Int? { if case .int(let number) = self { number } else { nil } }
        var boolean: Bool? { if case .bool(let flag) = self { flag } else { nil } }
    }

    /// The object's members, or nil when the body is not an object of that simple shape.
    static func parse(_ buffer: ByteBuffer) -> [String: Value]? {
        buffer.withUnsafeReadableBytes { parse(bytes: $0) }
    }

    static func parse(bytes: UnsafeRawBufferPointer) -> [String: Value]? {
        var reader = Reader(bytes: bytes)
        return reader.object()
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func object() -> [String: Value]? {
            skipWhitespace()
            guard expect(UInt8(ascii: "{")) else { return nil }
            var members = [String: Value]()
            skipWhitespace()
            if !expect(UInt8(ascii: "}")) {
                while true {
                    skipWhitespace()
                    guard let key = string() else { return nil }
                    skipWhitespace()
                    guard expect(UInt8(ascii: ":")) else { return nil }
                    skipWhitespace()
                    guard let value = value(), members.updateValue(value, forKey: key) == nil else { return nil }
                    skipWhitespace()
                    if expect(UInt8(ascii: ",")) { continue }
                    guard expect(UInt8(ascii: "}")) else { return nil }
                    break
                }
            }
            skipWhitespace()
            return index == bytes.count ? members : nil
        }

        mutating func value() -> Value? {
            guard let byte = current else { return nil }
            switch byte {
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer().map(Value.int)
            default: return nil
            }
        }

        /// A string without escapes or control characters, as valid UTF-8.
        mutating func string() -> String? {
            guard expect(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while let byte = current, byte != UInt8(ascii: "\"") {
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                index += 1
            }
            guard current != nil else { return nil }
            let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            index += 1
            return text
        }

        /// An integer as JSON writes it (no leading zeros, no fraction or exponent), within `Int`.
        mutating func integer() -> Int? {
            let negative = expect(UInt8(ascii: "-"))
            let start = index
            var magnitude = 0
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                let (times, overflowA) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                if overflowA || overflowB { return nil }
                magnitude = sum
                index += 1
            }
            let digits = index - start
            if digits == 0 || (digits > 1 && bytes[start] == UInt8(ascii: "0")) { return nil }
            if let byte = current, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return nil }
            return negative ? -magnitude : magnitude
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let length = word.utf8CodeUnitCount
            guard index + length <= bytes.count else { return false }
            for offset in 0..<length where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += length
            return true
        }
    }
}

extension [String: FlatJSON.Value] {
    /// A required string member; nil when missing or of another type.
    func string(_ key: String) -> String? {
        if case .string(let text)? = self[key] { return text }
        return nil
    }

    /// An optional member read with `read`: `.some(nil)` when absent or null, nil when of another type.
    func optional<T>(_ key: String, _ read: (FlatJSON.Value) -> T?) -> T?? {
        guard let value = self[key], value != .null else { return .some(nil) }
        return read(value).map { .some($0) }
    }
}
