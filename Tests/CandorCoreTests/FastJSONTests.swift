import CandorCore
import Foundation
import Testing

@Suite("Fast JSON encoder")
struct FastJSONTests {
    /// A model with every shape the API's answers use.
    struct Sample: Codable, Equatable {
        enum Kind: String, Codable { case alpha, beta }
        struct Inner: Codable, Equatable {
            var name: String
            var count: Int64
            var tags: [String]
        }
        var text: String
        var optional: String?
        var flag: Bool
        var whole: Int
        var big: Int64
        var kind: Kind
        var inner: Inner
        var list: [Inner]
        var map: [String: Int]
        var value: JSONValue
        var bytes: Data
        var date: Date
        var fraction: Double

        enum CodingKeys: String, CodingKey {
            case optional, flag, whole, big, kind, inner, list, map, value, bytes, date, fraction
            case text = "text_value"
        }
    }

    static let alphabet: [String] = ["a", "é", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "ש", "😀", " ", "\r", "\u{08}", "\u{0C}", "}"]

    static func text(_ random: inout SeededRandom) -> String {
        (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
    }

    static func json(_ random: inout SeededRandom, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0...(depth > 2 ? 3 : 5), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &random)))
        case 3: return .string(text(&random))
        case 4: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in json(&random, depth: depth + 1) })
        default: return .object(Dictionary((0..<Int.random(in: 0...4, using: &random)).map { _ in (text(&random), json(&random, depth: depth + 1)) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    static func sample(_ random: inout SeededRandom) -> Sample {
        func inner() -> Sample.Inner {
            Sample.Inner(name: text(&random), count: Int64.random(in: Int64.min...Int64.max, using: &random), tags: (0..<Int.random(in: 0...3, using: &random)).map { _ in text(&random) })
        }
        return Sample(
            text: text(&random), optional: Bool.random(using: &random) ? text(&random) : nil, flag: Bool.random(using: &random),
            whole: Int.random(in: -5_000...5_000, using: &random), big: Int64.random(in: Int64.min...Int64.max, using: &random),
            kind: Bool.random(using: &random) ? .alpha : .beta, inner: inner(), list: (0..<Int.random(in: 0...3, using: &random)).map { _ in inner() },
            map: Dictionary((0..<Int.random(in: 0...4, using: &random)).map { _ in (text(&random), Int.random(in: -99...99, using: &random)) }, uniquingKeysWith: { a, _ in a }),
            value: json(&random), bytes: Data((0..<Int.random(in: 0...20, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }),
            date: Date(timeIntervalSinceReferenceDate: Double(Int.random(in: 0...900_000_000, using: &random))),
            fraction: Double(Int.random(in: -100_000...100_000, using: &random)) / 64)
    }

    @Test("Writes the same bytes as Foundation's encoder (sorted keys, slashes unescaped) for random values")
    func sameBytesAsFoundation() throws {
        var random = SeededRandom(seed: 11)
        for _ in 0..<500 {
            let value = Self.sample(&random)
            let fast = try FastJSON.encode(value)
            let foundation = Array(try CandorJSON.encode(value))
            #expect(fast == foundation, "\(String(decoding: foundation, as: UTF8.self))\n\(String(decoding: fast, as: UTF8.self))")
            #expect(try JSONDecoder().decode(Sample.self, from: Data(fast)) == value)
        }
    }

    @Test("A JSON value on its own, and a non-finite number is refused")
    func edges() throws {
        #expect(try FastJSON.string(JSONValue.object(["b": .number(1), "a": .array([.null, .bool(true), .number(2.5)])])) == #"{"a":[null,true,2.5],"b":1}"#)
        #expect(try FastJSON.string(["x/y": "a/b"]) == #"{"x/y":"a/b"}"#)
        #expect(try FastJSON.string([Int64.max]) == "[9223372036854775807]")
        #expect(throws: EncodingError.self) { try FastJSON.encode([Double.nan]) }
    }
}
