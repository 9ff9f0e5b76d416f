import Foundation
import Testing

@testable import CandorCore

/// `JSONValue.jsonText` replaces Foundation's encoder on the write path, so it must produce JSON that
/// reads back as the same value, for any value.
@Suite struct JSONTextTests {
    static func randomValue(_ random: inout SplitMix, depth: Int = 0) -> JSONValue {
        switch random.next() % (depth > 2 ? 4 : 6) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .number(random.next() % 3 == 0 ? Double(Int64(random.next() % 100_000) - 50_000) : Double(random.next() % 1_000_000) / 7.0)
        case 3: return .string(randomString(&random))
        case 4: return .array((0..<Int(random.next() % 4)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var object = [String: JSONValue]()
            for _ in 0..<Int(random.next() % 4) { object[randomString(&random)] = randomValue(&random, depth: depth + 1) }
            return .object(object)
        }
    }

    static func randomString(_ random: inout SplitMix) -> String {
        let pool: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "ש", "😀", "\u{7F}"]
        return String((0..<Int(random.next() % 8)).map { _ in pool[Int(random.next() % UInt64(pool.count))] })
    }

    @Test func jsonTextReadsBackAsTheSameValue() throws {
        var random = SplitMix(seed: 7)
        for _ in 0..<2000 {
            let value = Self.randomValue(&random)
            let decoded = try CandorJSON.decode(JSONValue.self, from: value.jsonText)
            #expect(decoded == value, "\(value.jsonText)")
        }
    }

    @Test func theFastParserReadsWhatTheDecoderReads() throws {
        var random = SplitMix(seed: 11)
        for _ in 0..<2000 {
            let value = Self.randomValue(&random)
            // Both the compact form and Foundation's (escaped slashes, other spacing) parse to the value.
            #expect(JSONValue.parse(value.jsonText) == value, "\(value.jsonText)")
            let foundation = try CandorJSON.string(value)
            #expect(JSONValue.parse(foundation) == value, "\(foundation)")
        }
        // Escapes, surrogate pairs, exponents and whitespace as other writers produce them.
        #expect(JSONValue.parse(#" { "a" : [ 1e3 , -0.5, "\u05e9\ud83d\ude00\n" ] } "#)
                == .object(["a": .array([.number(1000), .number(-0.5), .string("ש😀\n")])]))
    }

    @Test func theFastParserRefusesWhatIsNotJSON() {
        // Foundation's decoder tolerates trailing commas; the fast parser is strict and leaves them to it.
        for text in ["[1,]", "{\"a\":1,}"] { #expect(JSONValue.parse(text) == nil, "\(text)") }
        for text in ["", "01", "1.", ".5", "+1", "\"abc", "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "tru", "nul",
                     "[1] [2]", "{\"a\" 1}", "{a:1}"] {
            #expect(JSONValue.parse(text) == nil, "\(text)")
            #expect(throws: (any Error).self) { try JSONValue.decoding(text) }
        }
        // Hostile nesting is refused by the fast parser (no deep recursion); the decoder then decides.
        #expect(JSONValue.parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200)) == nil)
    }

    @Test func jsonTextMatchesTheEncoderOnPlainValues() throws {
        let value = JSONValue.object(["b": .array([.string("x/y"), .number(42), .number(1.5)]), "a": .bool(true), "c": .null, "d": .string("שלום \"hi\"")])
        #expect(value.jsonText == (try CandorJSON.string(value)))
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
