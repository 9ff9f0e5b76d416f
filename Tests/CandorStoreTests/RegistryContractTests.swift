import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("The registry is stored, survives reopening, and refuses duplicate keys", arguments: Backend.available)
    func registryCreateAndConflict(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given the seeded registry
            #expect(Set(h.store.registry.purposes.keys) == ["newsletter", "offers", "support"])
            #expect(h.store.registry.purposes["support"]?.legalBasis == .contract)
            #expect(h.store.registry.purposes["newsletter"]?.currentNoticeVersion == 1)
            #expect(h.store.registry.fields["shoe_size"]?.maximum == 50)
            let audited = try await h.store.count("audit_log")

            // When a purpose or field is registered again under an existing key
            let purposeError = await candorError {
                _ = try await h.store.createPurpose(
                    PurposeInput(key: "offers", names: ["en": "Other offers"], legalBasis: "consent", retentionDays: 30, dpvTerm: "Marketing"), by: h.principal)
            }
            let fieldError = await candorError {
                _ = try await h.store.createField(FieldInput(key: "nickname", type: "text", purposes: ["offers"], labels: ["en": "Name"]), by: h.principal)
            }
            let teamError = await candorError {
                _ = try await h.store.saveTeam(TeamInput(key: "ops", name: "Ops again", purposes: [], roles: ["read"]), replace: false, by: h.principal)
            }

            // Then each is a conflict naming the key, and the original is unchanged
            for error in [purposeError, fieldError, teamError] {
                #expect(error?.kind == .conflict)
                #expect(error?.errors.map(\.field) == ["key"])
            }
            #expect(h.store.registry.purposes["offers"]?.names["en"] == "Offers")
            #expect(h.store.registry.fields["nickname"]?.purposes == ["support"])
            #expect(try await h.store.count("audit_log") == audited)

            // And a second store opened on the same database sees the same registry and key
            let reopened = try await CandorStore(database: h.store.database, secrets: h.secrets)
            #expect(reopened.registry.purposes == h.store.registry.purposes)
            #expect(reopened.registry.fields == h.store.registry.fields)
            #expect(reopened.registry.keysById.values.map(\.team) == ["ops"])
            #expect(reopened.registry.teams["ops"]?.roles == [.admin, .read, .write, .erase])
        }
    }

    @Test("Notice versions are immutable, and citing a superseded one is refused", arguments: Backend.available)
    func noticeVersions(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a subject and newsletter's notice v1
            let subject = try await h.newSubject()
            let v1 = try #require(h.store.registry.currentNotice(of: "newsletter"))
            #expect(v1.version == 1)

            // When a new wording is published
            let texts = ["en": NoticeText(title: "Our newsletter", why: "To send you news you chose", benefit: "Early access"),
                         "he": NoticeText(title: "הניוזלטר שלנו", why: "כדי לשלוח לך חדשות", benefit: "גישה מוקדמת")]
            let published = try await h.store.publishNotice(purpose: "newsletter", NoticeInput(texts: texts), by: h.principal)
            let v2 = try #require(published.freshValue)

            // Then it is version 2 and current, and version 1 is exactly as it was, also after a reload from the database
            #expect(v2.version == 2)
            #expect(v2.contentHash != v1.contentHash)
            #expect(h.store.registry.purposes["newsletter"]?.currentNoticeVersion == 2)
            let reopened = try await CandorStore(database: h.store.database, secrets: h.secrets)
            #expect(reopened.registry.notices["newsletter"] == [v1, v2])
            #expect(reopened.registry.currentNotice(of: "newsletter")?.texts["he"]?.title == "הניוזלטר שלנו")

            // And a declaration or a grant citing version 1 is refused and writes nothing
            let before = try await h.counts()
            let declareError = await candorError {
                _ = try await h.store.declare(subjectId: subject, DeclarationInput(
                    values: [DeclaredValueInput(field: "channels", value: .array([.string("email")]))], notices: ["newsletter": 1]), by: h.principal)
            }
            #expect(declareError?.kind == .validation)
            #expect(declareError?.errors.first?.field == "notices.newsletter")
            #expect(declareError?.errors.first?.message.contains("superseded by version 2") == true)
            let grantError = await candorError {
                _ = try await h.store.setConsents(subjectId: subject, [ConsentInput(purpose: "newsletter", status: "granted", noticeVersion: 1)], by: h.principal)
            }
            #expect(grantError?.errors.first?.field == "consents[0].notice_version")
            #expect(try await h.counts() == before)

            // While citing version 2 is accepted and recorded with the value
            let receipt = try #require(try await h.declare(subject, ["channels": .array([.string("email")])]).freshValue)
            #expect(receipt.values.first?.notices == ["newsletter": 2])

            // And a notice for a purpose that does not exist is not found
            let missing = await candorError { _ = try await h.store.publishNotice(purpose: "telepathy", NoticeInput(texts: texts), by: h.principal) }
            #expect(missing?.kind == .notFound)
        }
    }

    @Test("Special-category fields are refused unless the installation enables them", arguments: Backend.available)
    func specialCategory(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let input = FieldInput(key: "health_condition", type: "text", purposes: ["support"], sensitivity: "special", labels: ["en": "Health"])

            // When the default store is asked to register special-category data
            let error = await candorError { _ = try await h.store.createField(input, by: h.principal) }

            // Then it is refused and nothing is registered
            #expect(error?.kind == .validation)
            #expect(error?.errors.map(\.field) == ["sensitivity"])
            #expect(h.store.registry.fields["health_condition"] == nil)
            #expect(try await h.store.count("fields") == 4)

            // When the installation enables it explicitly, the same field is accepted
            let enabled = try await CandorStore(database: h.store.database, secrets: h.secrets, allowSpecialCategory: true)
            let field = try #require(try await enabled.createField(input, by: h.principal).freshValue)
            #expect(field.sensitivity == .special)
        }
    }
}
