import Foundation

/// Encodes `Encodable` values to compact JSON with sorted keys, without Foundation's `JSONEncoder`.
///
/// Every API answer and every ledger payload is encoded on the request's path, and Foundation's
/// generic encoder (boxing every value, a coding path per key) cost more there than the database
/// work. This one builds a small tree and writes it once. Its output is valid JSON that decodes to the
/// same values; it is used where bytes are only ever decoded again (answers, sealed ledger payloads),
/// while `CandorJSON.encode` stays the encoder of anything whose exact bytes are hashed and compared
/// later (notice versions, checkpoints), so stored hashes never depend on two encoders agreeing.
///
/// Supported like Foundation's defaults: `Date` as seconds since 2001 (deferred to `Date`'s own
/// encoding), `Data` as base64, `URL` as its absolute string, non-finite floating point is an error.
public enum FastJSON {
    /// Encodes a value to JSON bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let slot = Slot()
        try fill(slot, with: value, codingPath: [])
        var out = [UInt8]()
        out.reserveCapacity(256)
        if slot.members == nil, slot.items == nil, slot.node == nil { out.append(contentsOf: "{}".utf8) } else { slot.write(into: &out) }
        return out
    }

    /// Encodes a value to a JSON string.
    public static func string<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    /// A scalar as it will be written (numbers keep the text their type gives them), or a JSON value.
    enum Node {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        /// A JSON value, written by its own byte writer.
        case json(JSONValue)

        func write(into out: inout [UInt8]) {
            switch self {
            case .null: out.append(contentsOf: "null".utf8)
            case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
            case .number(let text): out.append(contentsOf: text.utf8)
            case .string(let text): FastJSON.writeString(text, into: &out)
            case .json(let value): value.write(into: &out)
            }
        }
    }

    /// Writes a JSON string, escaped as Foundation does with `.withoutEscapingSlashes`: quote, backslash
    /// and control characters. Runs without anything to escape are copied whole.
    public static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var run = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<index]))
                run = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<utf8.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Where a container puts what it encodes: one slot, filled by a single value, an object or an array.
    final class Slot {
        var node: Node?
        /// Members in the order encoded; sorted (the last of equal keys wins) when written.
        var members: [(key: String, slot: Slot)]?
        var items: [Slot]?

        init() {}

        func write(into out: inout [UInt8]) {
            if let members {
                out.append(UInt8(ascii: "{"))
                var first = true
                let sorted = members.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
                for (index, member) in sorted.enumerated() {
                    if index + 1 < sorted.count, sorted[index + 1].element.key == member.element.key { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    FastJSON.writeString(member.element.key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    member.element.slot.write(into: &out)
                }
                out.append(UInt8(ascii: "}"))
            } else if let items {
                out.append(UInt8(ascii: "["))
                for (index, item) in items.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    item.write(into: &out)
                }
                out.append(UInt8(ascii: "]"))
            } else {
                (node ?? .null).write(into: &out)
            }
        }
    }

    final class TreeEncoder: Encoder {
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        let slot: Slot

        init(codingPath: [any CodingKey], slot: Slot = Slot()) {
            self.codingPath = codingPath
            self.slot = slot
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if slot.members == nil { slot.members = [] }
            return KeyedEncodingContainer(Keyed<Key>(slot: slot, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if slot.items == nil { slot.items = [] }
            return Unkeyed(slot: slot, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(slot: slot, codingPath: codingPath) }
    }

    /// Encodes one value into a slot: primitives directly, anything else through its own `encode(to:)`.
    static func fill<T: Encodable>(_ slot: Slot, with value: T, codingPath: [any CodingKey]) throws {
        // Metatype comparisons, not casts: this runs for every nested value.
        if T.self == String.self { slot.node = .string(value as! String) }
        else if T.self == JSONValue.self { slot.node = .json(value as! JSONValue) }
        else if T.self == Int.self { slot.node = .number(String(value as! Int)) }
        else if T.self == Int64.self { slot.node = .number(String(value as! Int64)) }
        else if T.self == Bool.self { slot.node = .bool(value as! Bool) }
        else if T.self == Double.self { slot.node = try number_(value as! Double, codingPath) }
        else if T.self == Data.self { slot.node = .string((value as! Data).base64EncodedString()) }
        else if T.self == URL.self { slot.node = .string((value as! URL).absoluteString) }
        else { try value.encode(to: TreeEncoder(codingPath: codingPath, slot: slot)) }
    }

    static func number_(_ value: Double, _ codingPath: [any CodingKey]) throws -> Node {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: codingPath, debugDescription: "non-finite number"))
        }
        // Foundation writes whole doubles without a fraction ("42", not "42.0").
        if value.rounded() == value, abs(value) < 9e15 { return .number(String(Int64(value))) }
        return .number("\(value)")
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let slot: Slot
        let codingPath: [any CodingKey]

        private func child(_ key: Key) -> Slot {
            let child = Slot()
            slot.members!.append((key.stringValue, child))
            return child
        }

        mutating func encodeNil(forKey key: Key) throws { child(key).node = .null }
        mutating func encode(_ value: Bool, forKey key: Key) throws { child(key).node = .bool(value) }
        mutating func encode(_ value: String, forKey key: Key) throws { child(key).node = .string(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { child(key).node = try number_(value, codingPath + [key]) }
        mutating func encode(_ value: Float, forKey key: Key) throws { child(key).node = try number_(Double(value), codingPath + [key]) }
        mutating func encode(_ value: Int, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { child(key).node = .number(String(value)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try fill(child(key), with: value, codingPath: codingPath + [key]) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let nested = child(key)
            nested.members = []
            return KeyedEncodingContainer(Keyed<NestedKey>(slot: nested, codingPath: codingPath + [key]))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = child(key)
            nested.items = []
            return Unkeyed(slot: nested, codingPath: codingPath + [key])
        }

        mutating func superEncoder() -> any Encoder {
            let nested = Slot()
            slot.members!.append(("super", nested))
            return TreeEncoder(codingPath: codingPath, slot: nested)
        }

        mutating func superEncoder(forKey key: Key) -> any Encoder { TreeEncoder(codingPath: codingPath + [key], slot: child(key)) }
    }

    struct IndexKey: CodingKey {
        var stringValue: String { "Index \(intValue!)" }
        var intValue: Int?
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]
        var count: Int { slot.items!.count }

        private func next() -> Slot {
            let child = Slot()
            slot.items!.append(child)
            return child
        }

        mutating func encodeNil() throws { next().node = .null }
        mutating func encode(_ value: Bool) throws { next().node = .bool(value) }
        mutating func encode(_ value: String) throws { next().node = .string(value) }
        mutating func encode(_ value: Double) throws { next().node = try number_(value, codingPath) }
        mutating func encode(_ value: Int) throws { next().node = .number(String(value)) }
        mutating func encode(_ value: Int64) throws { next().node = .number(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let path = codingPath + [IndexKey(count)]
            try fill(next(), with: value, codingPath: path)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let nested = next()
            nested.members = []
            return KeyedEncodingContainer(Keyed<NestedKey>(slot: nested, codingPath: codingPath))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = next()
            nested.items = []
            return Unkeyed(slot: nested, codingPath: codingPath)
        }

        mutating func superEncoder() -> any Encoder { TreeEncoder(codingPath: codingPath, slot: next()) }
    }

    struct Single: SingleValueEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { slot.node = .null }
        mutating func encode(_ value: Bool) throws { slot.node = .bool(value) }
        mutating func encode(_ value: String) throws { slot.node = .string(value) }
        mutating func encode(_ value: Double) throws { slot.node = try number_(value, codingPath) }
        mutating func encode(_ value: Float) throws { slot.node = try number_(Double(value), codingPath) }
        mutating func encode(_ value: Int) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: Int8) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: Int16) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: Int32) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: Int64) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: UInt) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: UInt8) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: UInt16) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: UInt32) throws { slot.node = .number(String(value)) }
        mutating func encode(_ value: UInt64) throws { slot.node = .number(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { try fill(slot, with: value, codingPath: codingPath) }
    }
}
