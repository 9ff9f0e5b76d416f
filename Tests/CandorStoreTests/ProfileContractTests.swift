import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("A profile read for a purpose shows only the fields that serve it", arguments: Backend.available)
    func profileShowsOnlyServingFields(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a subject who consented to newsletter and offers and declared four fields
            let subject = try await h.newSubject(email: "ada@example.com")
            try await h.grant(subject, "newsletter", "offers")
            let receipt = try #require(try await h.declare(subject, [
                "interests": .array([.string("running"), .string("yoga"), .string("running")]),
                "channels": .array([.string("email")]),
                "shoe_size": .number(38),
                "nickname": .string("  Ada  "),
            ]).freshValue)

            // When the profile is read for each purpose
            let newsletter = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            let offers = try await h.store.profile(subjectId: subject, purpose: "offers", by: h.principal)
            let support = try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal)

            // Then each purpose sees exactly its own fields, with the normalized values
            #expect(newsletter.isVisible)
            #expect(Set(newsletter.values.keys) == ["interests", "channels"])
            #expect(newsletter.values["interests"]?.value == .array([.string("running"), .string("yoga")]))
            #expect(Set(offers.values.keys) == ["interests", "shoe_size"])
            #expect(offers.values["shoe_size"]?.value == .number(38))
            // (support's legal basis is a contract: no consent needed)
            #expect(support.isVisible)
            #expect(Set(support.values.keys) == ["nickname"])
            #expect(support.values["nickname"]?.value == .string("Ada"))

            // And every value carries its provenance
            let interests = try #require(newsletter.values["interests"])
            #expect(interests.declarationId == receipt.declarationId)
            #expect(interests.source == "api")
            #expect(interests.notices == ["newsletter": 1, "offers": 1])

            // And the read is audited with the fields shown
            let audit = try await h.query("SELECT fields, outcome FROM audit_log WHERE action = 'profile.read' AND purpose = 'newsletter'")
            #expect(audit.map { $0.text(0) } == [#"["channels","interests"]"#])
            #expect(audit.map { $0.text(1) } == ["ok"])
        }
    }

    @Test("A profile is withheld, with the reason, until consent is granted and after it is withdrawn", arguments: Backend.available)
    func profileNeedsConsent(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a subject who declared interests but never consented
            let subject = try await h.newSubject()
            try await h.declare(subject, ["interests": .array([.string("hiking")])])

            // Then the newsletter sees nothing, and is told why
            let missing = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            #expect(!missing.isVisible)
            #expect(missing.withheldReason == "consent_missing")
            #expect(missing.values.isEmpty)

            // When consent is granted, the value appears
            try await h.grant(subject, "newsletter")
            let granted = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            #expect(granted.isVisible)
            #expect(granted.values["interests"]?.value == .array([.string("hiking")]))
            // ... but only for the purpose consented to
            #expect(try await h.store.profile(subjectId: subject, purpose: "offers", by: h.principal).withheldReason == "consent_missing")

            // When consent is withdrawn, it is withheld again
            try await h.withdraw(subject, "newsletter")
            let withdrawn = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            #expect(withdrawn.withheldReason == "consent_withdrawn")
            #expect(withdrawn.values.isEmpty)

            // And withheld reads are audited with no fields and the reason
            let audit = try await h.query("SELECT fields, outcome FROM audit_log WHERE action = 'profile.read' AND purpose = 'newsletter' ORDER BY id")
            #expect(audit.map { $0.text(1) } == ["consent_missing", "ok", "consent_withdrawn"])
            #expect(audit.map { $0.text(0) } == ["[]", #"["interests"]"#, "[]"])

            // And an unknown purpose is refused
            #expect(await candorError { _ = try await h.store.profile(subjectId: subject, purpose: "telepathy", by: h.principal) }?.kind == .validation)
        }
    }

    @Test("Consent with an expiry stops permitting use when it expires", arguments: Backend.available)
    func consentExpires(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given consent to newsletter that expires in one hour
            let subject = try await h.newSubject()
            try await h.declare(subject, ["channels": .array([.string("sms")])])
            try await h.grant(subject, "newsletter", expiresAt: Timestamp.rfc3339(h.clock.nowMillis() + 3_600_000))
            #expect(try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal).isVisible)
            #expect(try await h.store.listProfiles(purpose: "newsletter", cursor: nil, limit: 10, by: h.principal).data.map(\.subjectId) == [subject])

            // When two hours pass
            h.clock.advance(byMillis: 2 * 3_600_000)

            // Then the profile is withheld as expired, and the subject leaves the purpose's list
            let expired = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            #expect(expired.withheldReason == "consent_expired")
            #expect(expired.values.isEmpty)
            #expect(try await h.store.listProfiles(purpose: "newsletter", cursor: nil, limit: 10, by: h.principal).data.isEmpty)
        }
    }

    @Test("A restricted subject is withheld from every purpose until the restriction is lifted", arguments: Backend.available)
    func restrictedSubjectWithheld(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a consenting subject with values
            let subject = try await h.newSubject()
            try await h.grant(subject, "newsletter")
            try await h.declare(subject, ["interests": .array([.string("yoga")]), "nickname": .string("Yogi")])

            // When processing is restricted
            let restricted = try #require(try await h.store.setRestricted(true, subjectId: subject, by: h.principal).freshValue)
            #expect(restricted.status == .restricted)

            // Then no purpose sees the subject, not even one that needs no consent
            for purpose in ["newsletter", "support"] {
                let view = try await h.store.profile(subjectId: subject, purpose: purpose, by: h.principal)
                #expect(view.withheldReason == "restricted")
                #expect(view.values.isEmpty)
                #expect(try await h.store.listProfiles(purpose: purpose, cursor: nil, limit: 10, by: h.principal).data.isEmpty)
            }
            #expect(try await h.store.history(subjectId: subject, purpose: "newsletter", by: h.principal).isEmpty)

            // When the restriction is lifted, the data is visible again (it was kept)
            _ = try await h.store.setRestricted(false, subjectId: subject, by: h.principal)
            let lifted = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            #expect(lifted.values["interests"]?.value == .array([.string("yoga")]))
        }
    }

    @Test("Profiles for a purpose are listed a page at a time, only for active subjects whose consent permits it", arguments: Backend.available)
    func listProfilesPaginates(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given five subjects who granted newsletter consent, each with a value
            var consenting = [String]()
            for index in 0..<5 {
                let subject = try await h.newSubject()
                try await h.grant(subject, "newsletter")
                try await h.declare(subject, ["channels": .array([.string(index.isMultiple(of: 2) ? "email" : "sms")]), "shoe_size": .number(40)])
                consenting.append(subject)
            }
            // ... and subjects who must not be listed: never asked, withdrawn, restricted, erased, consented only to offers
            let neverAsked = try await h.newSubject()
            try await h.declare(neverAsked, ["channels": .array([.string("post")])])
            let withdrawn = try await h.newSubject()
            try await h.grant(withdrawn, "newsletter")
            try await h.withdraw(withdrawn, "newsletter")
            let restricted = try await h.newSubject()
            try await h.grant(restricted, "newsletter")
            _ = try await h.store.setRestricted(true, subjectId: restricted, by: h.principal)
            let erased = try await h.newSubject()
            try await h.grant(erased, "newsletter")
            _ = try await h.store.erase(subjectId: erased, by: h.principal)
            let offersOnly = try await h.newSubject()
            try await h.grant(offersOnly, "offers")

            // When the newsletter walks the list two at a time
            var pages = [Page<ProfileView>]()
            var cursor: String?
            repeat {
                let page = try await h.store.listProfiles(purpose: "newsletter", cursor: cursor, limit: 2, by: h.principal)
                pages.append(page)
                cursor = page.nextCursor
            } while cursor != nil && pages.count < 10

            // Then it sees each consenting subject exactly once, in id order, in pages of at most two
            #expect(pages.map(\.data.count) == [2, 2, 1])
            #expect(pages.flatMap(\.data).map(\.subjectId) == consenting.sorted())
            // ... with only the newsletter's fields
            for view in pages.flatMap(\.data) {
                #expect(view.isVisible)
                #expect(Set(view.values.keys) == ["channels"])
            }

            // And a purpose that needs no consent lists every active subject
            let support = try await h.store.listProfiles(purpose: "support", cursor: nil, limit: 100, by: h.principal)
            #expect(Set(support.data.map(\.subjectId)) == Set(consenting + [neverAsked, withdrawn, offersOnly]))
            #expect(support.nextCursor == nil)
        }
    }

    @Test("History is read back from the ledger, newest first, limited to the purpose's fields", arguments: Backend.available)
    func historyFromLedger(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given three declarations, one of which holds only an offers field
            let subject = try await h.newSubject()
            try await h.grant(subject, "newsletter", "offers")
            let first = try #require(try await h.declare(subject, ["interests": .array([.string("running")])]).freshValue)
            let second = try #require(try await h.declare(subject, ["shoe_size": .number(41)]).freshValue)
            let third = try #require(try await h.declare(subject, ["interests": .array([.string("hiking")]), "shoe_size": .number(42)]).freshValue)

            // When the newsletter and offers read the history
            let newsletter = try await h.store.history(subjectId: subject, purpose: "newsletter", by: h.principal)
            let offers = try await h.store.history(subjectId: subject, purpose: "offers", by: h.principal)

            // Then the newsletter sees the two declarations of interests, newest first, without the shoe size
            #expect(newsletter.map(\.declarationId) == [third.declarationId, first.declarationId])
            #expect(newsletter.map { $0.values?.map(\.field) ?? [] } == [["interests"], ["interests"]])
            #expect(newsletter.first?.values?.first?.value == .array([.string("hiking")]))
            #expect(newsletter.map(\.seq) == [third.ledger.seq, first.ledger.seq])
            // ... and offers sees all three
            #expect(offers.map(\.declarationId) == [third.declarationId, second.declarationId, first.declarationId])
            #expect(offers.first.map { Set($0.values?.map(\.field) ?? []) } == ["interests", "shoe_size"])

            // And the consent history is read back from the ledger too
            let consents = try await h.store.consents(subjectId: subject, by: h.principal, purpose: "newsletter")
            #expect(Set(consents.current.map(\.purpose)) == ["newsletter", "offers"])
            #expect(consents.current.map(\.isEffective) == [true, true])
            #expect(consents.history.first?.consents?.map(\.status) == [.granted, .granted])

            // And once consent is withdrawn, the history is not shown to the newsletter
            try await h.withdraw(subject, "newsletter")
            #expect(try await h.store.history(subjectId: subject, purpose: "newsletter", by: h.principal).isEmpty)
            #expect(try await h.store.history(subjectId: subject, purpose: "offers", by: h.principal).count == 3)
        }
    }
}
