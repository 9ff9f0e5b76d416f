import CandorCore
import Testing

@Suite("Consent validation")
struct ConsentRulesTests {
    func validate(_ inputs: [ConsentInput], now: Int64 = Sample.now) -> Result<[ConsentChange], CandorError> {
        ConsentRules.validate(inputs, purposes: Sample.purposes, now: now)
    }

    @Test("A grant citing the current notice is accepted, with method api by default")
    func acceptsGrantWithCurrentNotice() throws {
        let changes = try validate([ConsentInput(purpose: "newsletter", status: "granted", noticeVersion: 2)]).get()
        #expect(changes == [ConsentChange(purpose: "newsletter", status: .granted, method: .api, noticeVersion: 2, expiresAt: nil)])
    }

    @Test("A grant without a notice version is refused")
    func refusesGrantWithoutNotice() {
        let result = validate([ConsentInput(purpose: "newsletter", status: "granted")])
        #expect(result.errorPaths == ["consents[0].notice_version"])
    }

    @Test("A grant citing a superseded notice is refused")
    func refusesGrantWithSupersededNotice() {
        let result = validate([ConsentInput(purpose: "newsletter", status: "granted", noticeVersion: 1)])
        #expect(result.errorPaths == ["consents[0].notice_version"])
        #expect(result.fieldErrors.first?.message.contains("superseded") == true)
    }

    @Test("A grant citing a notice that does not exist is refused", arguments: [0, 3])
    func refusesGrantWithUnknownNotice(version: Int) {
        let result = validate([ConsentInput(purpose: "newsletter", status: "granted", noticeVersion: version)])
        #expect(result.errorPaths == ["consents[0].notice_version"])
    }

    @Test("A grant for a purpose with no published notice is refused")
    func refusesGrantWithoutPublishedNotice() {
        let result = validate([ConsentInput(purpose: "research", status: "granted", noticeVersion: 1)])
        #expect(result.errorPaths == ["consents[0].notice_version"])
    }

    @Test("Withdrawing needs no notice version: it must be as easy as giving")
    func acceptsWithdrawalWithoutNotice() throws {
        let changes = try validate([
            ConsentInput(purpose: "newsletter", status: "withdrawn"),
            ConsentInput(purpose: "research", status: "withdrawn", method: "gpc"),
        ]).get()
        #expect(changes.map(\.status) == [.withdrawn, .withdrawn])
        #expect(changes.map(\.method) == [.api, .gpc])
    }

    @Test("A withdrawal citing an old notice is accepted, one citing a version that never existed is not")
    func checksNoticeCitedByWithdrawal() {
        #expect(validate([ConsentInput(purpose: "newsletter", status: "withdrawn", noticeVersion: 1)]).value != nil)
        #expect(validate([ConsentInput(purpose: "newsletter", status: "withdrawn", noticeVersion: 9)]).errorPaths == ["consents[0].notice_version"])
    }

    @Test("An expiry in the future is kept as milliseconds")
    func acceptsFutureExpiry() throws {
        let changes = try validate([ConsentInput(purpose: "offers", status: "granted", noticeVersion: 1, expiresAt: "2026-07-01T00:00:00Z")]).get()
        #expect(changes.first?.expiresAt == Sample.now + 30 * 86_400_000)
    }

    @Test("An expiry that is not in the future is refused", arguments: ["2026-05-31T23:59:59Z", "2026-06-01T00:00:00Z", "2020-01-01T00:00:00.000Z"])
    func refusesPastExpiry(expiry: String) {
        let result = validate([ConsentInput(purpose: "offers", status: "granted", noticeVersion: 1, expiresAt: expiry)])
        #expect(result.errorPaths == ["consents[0].expires_at"])
        #expect(result.fieldErrors.first?.message == "must be in the future")
    }

    @Test("An expiry that is not RFC 3339 is refused")
    func refusesMalformedExpiry() {
        let result = validate([ConsentInput(purpose: "offers", status: "granted", noticeVersion: 1, expiresAt: "next tuesday")])
        #expect(result.errorPaths == ["consents[0].expires_at"])
    }

    @Test("Unknown purposes, statuses, methods and repeated purposes are each named")
    func namesEveryBadConsent() {
        let result = validate([
            ConsentInput(purpose: "telepathy", status: "granted", noticeVersion: 1),
            ConsentInput(purpose: "offers", status: "maybe"),
            ConsentInput(purpose: "newsletter", status: "granted", method: "carrier_pigeon", noticeVersion: 2),
            ConsentInput(purpose: "support", status: "granted", noticeVersion: 1),
            ConsentInput(purpose: "support", status: "withdrawn"),
        ])
        #expect(result.errorPaths == ["consents[0].purpose", "consents[1].status", "consents[2].method", "consents[4].purpose"])
    }

    @Test("An empty list of consents is refused")
    func refusesEmptyList() {
        #expect(validate([]).errorPaths == ["consents"])
    }
}
