import CandorCore
import Foundation
import Testing

@Suite("Identifiers and timestamps")
struct IdentifierTimestampTests {
    @Test("New identifiers carry their prefix and are well formed")
    func identifiersAreWellFormed() {
        let id = Identifier.make("sub")
        #expect(id.hasPrefix("sub_"))
        #expect(id.count == 4 + 26)
        #expect(Identifier.isWellFormed(id, prefix: "sub"))
        #expect(!Identifier.isWellFormed(id, prefix: "dcl"))
    }

    @Test("Junk is not a well-formed identifier", arguments: [
        "", "sub_", "sub", "sub_01jd", "sub_01JDZZZZZZZZZZZZZZZZZZZZZZ", "sub_01jdiiiiiiiiiiiiiiiiiiiiii",
        "sub_01jd' OR 1=1 --zzzzzzzzz", "xsub_0000000000000000000000000", "sub_00000000000000000000000000x",
    ])
    func junkIsRejected(text: String) {
        #expect(!Identifier.isWellFormed(text, prefix: "sub"))
    }

    @Test("Identifiers sort by creation time, to the millisecond")
    func identifiersSortByTime() {
        // Consecutive milliseconds, with jumps of 400 days every 100 ids (the middle of each millisecond,
        // so that binary floating point cannot move a time into its neighbour).
        let millis = (0..<500).map { Int64(1_780_272_000_000) + Int64($0) + Int64($0 / 100) * 400 * 86_400_000 }
        let ids = millis.map { Identifier.make("sub", at: Date(timeIntervalSince1970: (Double($0) + 0.5) / 1000)) }
        #expect(ids.sorted() == ids)
        #expect(Set(ids).count == ids.count)
    }

    @Test("Identifiers made in the same millisecond are still distinct")
    func identifiersAreUnique() {
        let now = Date()
        let ids = (0..<1000).map { _ in Identifier.make("evt", at: now) }
        #expect(Set(ids).count == 1000)
        #expect(Set(ids.map { $0.prefix(14) }).count == 1)
    }

    @Test("RFC 3339 text has UTC milliseconds", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_780_272_000_123, "2026-06-01T00:00:00.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ])
    func formatsRFC3339(millis: Int64, text: String) {
        #expect(Timestamp.rfc3339(millis) == text)
        #expect(Timestamp.parse(text) == millis)
    }

    @Test("Formatting then parsing gives back the same millisecond")
    func roundTrips() {
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            let millis = Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &random)
            let text = Timestamp.rfc3339(millis)
            #expect(Timestamp.parse(text) == millis, "\(millis) → \(text)")
        }
    }

    @Test("Parsing accepts offsets and whole seconds, and refuses other text")
    func parsesVariants() {
        #expect(Timestamp.parse("2026-06-01T02:00:00+02:00") == 1_780_272_000_000)
        #expect(Timestamp.parse("2026-06-01T00:00:00Z") == 1_780_272_000_000)
        #expect(Timestamp.parse("2026-06-01") == nil)
        #expect(Timestamp.parse("yesterday") == nil)
    }

    @Test("Buffered random bytes look random across refills and never repeat a draw")
    func randomBytes() {
        // 3 × 4 KiB crosses two refills of the pool.
        let draws = (0..<1_000).map { _ in RandomBytes.next(12) }
        #expect(Set(draws).count == draws.count)
        let bytes = draws.flatMap { $0 }
        #expect(Set(bytes).count == 256)
        // Each bit is set about half the time (12,000 bytes: 96,000 bits, expected 48,000 ± ~500).
        let ones = bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect((46_000...50_000).contains(ones))
        #expect(RandomBytes.nextUInt64() != RandomBytes.nextUInt64())
    }
}
