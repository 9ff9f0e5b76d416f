import CandorCore
import Testing

@Suite("Deadlines")
struct DeadlineTests {
    static func at(_ text: String) -> Int64 { Timestamp.parse(text)! }
    static func day(_ millis: Int64) -> String { String(Timestamp.rfc3339(millis).prefix(10)) }

    @Test("GDPR: one calendar month, clamped to the end of shorter months, leap years included", arguments: [
        ("2025-01-31T10:00:00Z", "2025-02-28"), ("2024-01-31T10:00:00Z", "2024-02-29"), ("2025-03-31T10:00:00Z", "2025-04-30"),
        ("2025-12-15T10:00:00Z", "2026-01-15"), ("2025-02-28T10:00:00Z", "2025-03-28"),
    ])
    func gdprMonth(received: String, due: String) {
        #expect(Self.day(Deadlines.due(.gdpr, receivedAt: Self.at(received))) == due)
    }

    @Test("GDPR extensions count from receipt, so month ends are not lost on the way")
    func gdprExtension() {
        #expect(Self.day(Deadlines.due(.gdpr, receivedAt: Self.at("2025-01-31T10:00:00Z"), extendedBy: 2)) == "2025-04-30")
        #expect(Self.day(Deadlines.due(.gdpr, receivedAt: Self.at("2023-11-30T10:00:00Z"), extendedBy: 2)) == "2024-02-29")
    }

    @Test("CCPA: 45 days, plus 45 once; receipt confirmed within 10 business days across weekends")
    func ccpa() {
        let friday = Self.at("2025-01-03T09:00:00Z")
        #expect(Self.day(Deadlines.due(.ccpa, receivedAt: friday)) == "2025-02-17")
        #expect(Self.day(Deadlines.due(.ccpa, receivedAt: friday, extendedBy: 45)) == "2025-04-03")
        // Friday + 10 business days = the second Friday after (two weekends skipped).
        #expect(Self.day(Deadlines.confirmationDue(.ccpa, receivedAt: friday)!) == "2025-01-17")
        let saturday = Self.at("2025-01-04T09:00:00Z")
        #expect(Self.day(Deadlines.confirmationDue(.ccpa, receivedAt: saturday)!) == "2025-01-17")
        #expect(Deadlines.confirmationDue(.gdpr, receivedAt: friday) == nil)
    }

    @Test("Extensions need a reason and stay within the legal maximum, naming the field")
    func extensionRules() {
        #expect(Deadlines.validateExtension(.gdpr, alreadyExtended: 0, by: 2, reason: "complex").isEmpty)
        #expect(Deadlines.validateExtension(.gdpr, alreadyExtended: 0, by: 1, reason: "  ").map(\.field) == ["reason"])
        #expect(Deadlines.validateExtension(.gdpr, alreadyExtended: 1, by: 2, reason: "r").map(\.field) == ["months"])
        #expect(Deadlines.validateExtension(.ccpa, alreadyExtended: 0, by: 46, reason: "r").map(\.field) == ["days"])
        #expect(Deadlines.validateExtension(.ccpa, alreadyExtended: 45, by: 1, reason: "r").map(\.field) == ["days"])
        #expect(Deadlines.validateExtension(.ccpa, alreadyExtended: 0, by: nil, reason: nil).map(\.field) == ["reason", "days"])
    }

    @Test("An objecting person is withheld from marketing purposes only")
    func objectionGate() {
        let marketing = Purpose(id: "pur_m", key: "m", names: [:], legalBasis: .legitimateInterest, retentionDays: 1, dpvTerm: "Marketing", isMarketing: true, createdAt: "")
        let care = Purpose(id: "pur_c", key: "c", names: [:], legalBasis: .contract, retentionDays: 1, dpvTerm: "CustomerCare", isMarketing: false, createdAt: "")
        #expect(PurposeGate.visibility(for: marketing, status: .active, hasObjected: true, consent: nil, now: 0) == .withheld(reason: "objected"))
        #expect(PurposeGate.visibility(for: care, status: .active, hasObjected: true, consent: nil, now: 0) == .visible)
    }
}
