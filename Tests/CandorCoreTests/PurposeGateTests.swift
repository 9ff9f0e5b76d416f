import CandorCore
import Testing

@Suite("Purpose gate")
struct PurposeGateTests {
    static let consentPurpose = Sample.purpose("newsletter")
    static let day: Int64 = 86_400_000

    static func consent(_ status: ConsentStatus, expiresAt: Int64? = nil) -> ConsentRecord {
        ConsentRecord(purpose: "newsletter", status: status, method: .checkbox, noticeVersion: 1, updatedAt: Sample.now - day, expiresAt: expiresAt)
    }

    @Test("An active subject with granted consent is visible")
    func grantedIsVisible() {
        #expect(PurposeGate.visibility(for: Self.consentPurpose, status: .active, hasObjected: false, consent: Self.consent(.granted), now: Sample.now) == .visible)
        let notYetExpired = Self.consent(.granted, expiresAt: Sample.now + 1)
        #expect(PurposeGate.visibility(for: Self.consentPurpose, status: .active, hasObjected: false, consent: notYetExpired, now: Sample.now) == .visible)
    }

    @Test("Consent missing, withdrawn or expired withholds the subject, saying why", arguments: [
        (nil as ConsentRecord?, "consent_missing"),
        (PurposeGateTests.consent(.withdrawn), "consent_withdrawn"),
        (PurposeGateTests.consent(.granted, expiresAt: Sample.now), "consent_expired"),
        (PurposeGateTests.consent(.granted, expiresAt: Sample.now - PurposeGateTests.day), "consent_expired"),
    ])
    func consentProblemsWithhold(consent: ConsentRecord?, reason: String) {
        #expect(PurposeGate.visibility(for: Self.consentPurpose, status: .active, hasObjected: false, consent: consent, now: Sample.now) == .withheld(reason: reason))
    }

    @Test("Restricted and erased subjects are withheld even with consent granted", arguments: [
        (SubjectStatus.restricted, "restricted"), (.erased, "erased"),
    ])
    func statusWithholds(status: SubjectStatus, reason: String) {
        #expect(PurposeGate.visibility(for: Self.consentPurpose, status: status, hasObjected: false, consent: Self.consent(.granted), now: Sample.now) == .withheld(reason: reason))
        #expect(PurposeGate.visibility(for: Sample.purpose("support", basis: .contract), status: status, hasObjected: false, consent: nil, now: Sample.now) == .withheld(reason: reason))
    }

    @Test("A purpose whose legal basis is not consent needs no consent record", arguments: [
        LegalBasis.contract, .legitimateInterest, .legalObligation,
    ])
    func nonConsentBasisIsVisible(basis: LegalBasis) {
        let purpose = Sample.purpose("support", basis: basis)
        #expect(PurposeGate.visibility(for: purpose, status: .active, hasObjected: false, consent: nil, now: Sample.now) == .visible)
    }

    @Test("Only fields that serve a purpose are listed for it")
    func fieldKeysForPurpose() {
        #expect(PurposeGate.fieldKeys(serving: "newsletter", in: Sample.fields.values) == ["interests", "likes_email"])
        #expect(PurposeGate.fieldKeys(serving: "support", in: Sample.fields.values) == ["nickname"])
        #expect(PurposeGate.fieldKeys(serving: "telepathy", in: Sample.fields.values).isEmpty)
    }

    @Test("Teams may use only the purposes they hold")
    func teamPurposes() {
        let team = Team(id: "team_1", key: "marketing", name: "Marketing", purposes: ["newsletter"], roles: [.read], createdAt: Sample.createdAt)
        #expect(PurposeGate.teamMayUse(team, purpose: "newsletter"))
        #expect(!PurposeGate.teamMayUse(team, purpose: "support"))
    }

    /// DESIGN §6: random schemas and consents — no field ever leaks to a purpose it does not serve, and
    /// nothing is visible without the consent the purpose needs.
    @Test("Property: no field ever reaches a purpose it does not serve", arguments: [UInt64(1), 42, 20_260_601])
    func noFieldLeaks(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let bases = LegalBasis.allCases
        let statuses: [SubjectStatus] = [.active, .active, .active, .restricted, .erased]
        for _ in 0..<300 {
            // Given a random registry: purposes with random legal bases, fields serving random subsets of them
            let purposeKeys = (0..<Int.random(in: 1...6, using: &random)).map { "p\($0)" }
            let purposes = purposeKeys.map { Sample.purpose($0, basis: bases.randomElement(using: &random)!) }
            var fields = [Field]()
            for index in 0..<Int.random(in: 0...12, using: &random) {
                let served = purposeKeys.filter { _ in Bool.random(using: &random) }
                fields.append(Sample.field("f\(index)", .text, purposes: served.isEmpty ? [purposeKeys.randomElement(using: &random)!] : served))
            }
            // ... a subject with a value for every field and random consents
            let status = statuses.randomElement(using: &random)!
            var consents = [String: ConsentRecord]()
            for key in purposeKeys where Bool.random(using: &random) {
                let expiry: Int64? = Bool.random(using: &random) ? nil : Sample.now + Int64.random(in: -5...5, using: &random) * Self.day
                consents[key] = ConsentRecord(purpose: key, status: Bool.random(using: &random) ? .granted : .withdrawn, method: .api,
                                              noticeVersion: 1, updatedAt: Sample.now, expiresAt: expiry)
            }
            let declared = Set(fields.map(\.key))

            for purpose in purposes {
                // When the gate decides what this purpose may see
                let allowed = PurposeGate.fieldKeys(serving: purpose.key, in: fields)
                let visibility = PurposeGate.visibility(for: purpose, status: status, hasObjected: false, consent: consents[purpose.key], now: Sample.now)
                let shown = visibility == .visible ? declared.intersection(allowed) : []

                // Then every field shown serves the purpose, and every field serving it is shown when visible
                let serving = Set(fields.filter { $0.purposes.contains(purpose.key) }.map(\.key))
                #expect(shown.isSubset(of: serving), "seed \(seed): \(shown.subtracting(serving)) leaked to \(purpose.key)")
                #expect(allowed == serving)
                // ... and anything visible is active, and consented (granted, unexpired) when the basis is consent
                if visibility == .visible {
                    #expect(status == .active)
                    if purpose.legalBasis == .consent {
                        let consent = consents[purpose.key]
                        #expect(consent?.status == .granted && (consent?.expiresAt ?? .max) > Sample.now)
                    }
                }
            }
        }
    }
}
