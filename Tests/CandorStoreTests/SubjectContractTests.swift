import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("A subject's external id and e-mail address belong to one subject only", arguments: Backend.available)
    func subjectConflicts(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a subject with an external id and an e-mail address
            let ada = try await h.newSubject(externalId: "cust-1", email: "Ada@Example.com")

            // When another subject claims the same external id, or the same address in another case
            let sameExternal = await candorError { try await h.newSubject(externalId: "cust-1", email: "someone@example.com") }
            let sameEmail = await candorError { try await h.newSubject(externalId: "cust-2", email: "ada@EXAMPLE.com") }

            // Then both are conflicts naming the identifier, and there is still one subject
            #expect(sameExternal?.kind == .conflict)
            #expect(sameExternal?.errors.map(\.field) == ["external_id"])
            #expect(sameExternal?.detail.contains(ada) == true)
            #expect(sameEmail?.kind == .conflict)
            #expect(sameEmail?.errors.map(\.field) == ["email"])
            #expect(try await h.store.count("subjects") == 1)

            // And anonymous subjects never conflict with each other
            try await h.newSubject()
            try await h.newSubject()
            #expect(try await h.store.count("subjects") == 3)
        }
    }

    @Test("Subjects are found by e-mail address (any case) and by external id", arguments: Backend.available)
    func findSubjects(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given two identified subjects
            let ada = try await h.newSubject(externalId: "cust-1", email: "Ada@Example.com")
            let grace = try await h.newSubject(externalId: "cust-2", email: "grace@example.com")

            // When they are looked up
            let byEmail = try await h.store.findSubject(externalId: nil, email: "ADA@example.COM", by: h.principal)
            let byExternal = try await h.store.findSubject(externalId: "cust-2", email: nil, by: h.principal)
            let unknownEmail = try await h.store.findSubject(externalId: nil, email: "nobody@example.com", by: h.principal)
            let unknownExternal = try await h.store.findSubject(externalId: "cust-3", email: nil, by: h.principal)

            // Then each finds the right person, and unknown identifiers find nobody
            #expect(byEmail?.id == ada)
            #expect(byEmail?.hasEmail == true)
            #expect(byEmail?.externalId == "cust-1")
            #expect(byEmail?.status == .active)
            #expect(byExternal?.id == grace)
            #expect(unknownEmail == nil)
            #expect(unknownExternal == nil)
            #expect(try await h.store.subject(grace).externalId == "cust-2")
            #expect(await candorError { _ = try await h.store.subject(Identifier.make("sub")) }?.kind == .notFound)

            // And the address is not stored in clear: only its keyed hash and a ciphertext are
            let rows = try await h.query("SELECT email_hash, email_cipher FROM subjects WHERE id = ?", [.text(ada)])
            #expect(rows.first?.text(0) == h.secrets.emailLookupHash("ada@example.com"))
            let cipher = String(decoding: rows.first?.blob(1) ?? [], as: UTF8.self)
            #expect(cipher.isEmpty == false)
            #expect(cipher.contains("ada@example.com") == false)

            // And every lookup is audited
            let lookups = try await h.query("SELECT count(*) FROM audit_log WHERE action = 'subject.lookup'")
            #expect(lookups.first?.int(0) == 4)
        }
    }
}
