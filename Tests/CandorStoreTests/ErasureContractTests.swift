import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    /// Whether any of the store's files holds any of the needles, byte for byte (SQLite: the database and its WAL).
    func filesContain(_ h: Harness, _ needles: [String]) throws -> [String] {
        var found = [String]()
        for path in h.store.database.files where FileManager.default.fileExists(atPath: path) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            for needle in needles where bytes.range(of: Data(needle.utf8)) != nil {
                found.append("\(needle) in \((path as NSString).lastPathComponent)")
            }
        }
        return found
    }

    @Test("Erasure leaves nothing of the person readable, and the ledger still verifies", arguments: Backend.available)
    func erasure(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a subject with identifiers, consents, values (one of them free text) and an idempotent retry stored,
            // and another subject who must not be affected
            let marker = UUID().uuidString.prefix(8).lowercased()
            let email = "erase.me.\(marker)@example.com"
            let externalId = "crm-\(marker)"
            let nickname = "Zephyrine-\(marker)"
            let subject = try await h.newSubject(externalId: externalId, email: email)
            try await h.grant(subject, "newsletter", "offers")
            try await h.declare(subject, ["nickname": .string(nickname), "interests": .array([.string("yoga")])],
                                idempotency: IdempotencyRequest(key: "nick-\(marker)", requestHash: "sha256:nick"))
            let bystander = try await h.newSubject(email: "bystander@example.com")
            try await h.declare(bystander, ["nickname": .string("Bystander")])
            _ = try await h.store.checkpoint()
            let emailHash = h.secrets.emailLookupHash(email)

            // ... whose data can be found in the raw database before erasure (so the scan below can fail)
            if h.backend.isSQLite {
                let before = try filesContain(h, [nickname, externalId, emailHash, email])
                #expect(before.contains { $0.hasPrefix(emailHash) }, "the scan must find the lookup hash before erasure")
                // The address, the declared text and the external id are never stored in clear, even before
                // erasure: they are sealed under the subject key (Store+Sealing.swift).
                #expect(before.filter { !$0.hasPrefix(emailHash) } == [])
            }
            // ... yet the store reads them back, and the pending event carries the value for delivery
            #expect(try await h.store.subject(subject).externalId == externalId)
            #expect(try await h.store.pendingEvents(limit: 1_000).contains { $0.subjectId == subject && $0.payload?.contains(nickname) == true })
            #expect(try await h.query("SELECT count(*) FROM outbox WHERE payload LIKE ?", [.text("%\(nickname)%")]).first?.int(0) == 0, "sealed at rest")

            // When the subject is erased
            let erased = try #require(try await h.store.erase(subjectId: subject, by: h.principal).freshValue)
            #expect(erased.status == .erased)
            #expect(erased.erasedAt != nil)

            // Then every use of the subject answers "gone"
            let gone: [(String, () async throws -> Void)] = [
                ("profile", { _ = try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal) }),
                ("declare", { _ = try await h.declare(subject, ["nickname": .string("Back again")]) }),
                ("consent", { try await h.grant(subject, "newsletter") }),
                ("history", { _ = try await h.store.history(subjectId: subject, purpose: "support", by: h.principal) }),
                ("subject", { _ = try await h.store.subject(subject) }),
                ("erase again", { _ = try await h.store.erase(subjectId: subject, by: h.principal) }),
            ]
            for (name, use) in gone {
                #expect(await candorError(use)?.kind == .gone, "\(name)")
            }
            // ... and the identifiers no longer find anyone
            #expect(try await h.store.findSubject(externalId: nil, email: email, by: h.principal) == nil)
            #expect(try await h.store.findSubject(externalId: externalId, email: nil, by: h.principal) == nil)
            #expect(try await h.store.listProfiles(purpose: "support", cursor: nil, limit: 10, by: h.principal).data.map(\.subjectId) == [bystander])

            // And the key is destroyed, projections and stored answers are gone, and pending events are emptied
            for table in ["subject_keys", "profile_values", "consents", "idempotency"] {
                #expect(try await h.query("SELECT count(*) FROM \(table) WHERE subject_id = ?", [.text(subject)]).first?.int(0) == 0, "\(table)")
            }
            let events = try await h.query("SELECT type, payload, status FROM outbox WHERE subject_id = ? ORDER BY id", [.text(subject)])
            #expect(events.filter { !$0.isNull(1) }.map { $0.text(0) } == ["subject.erased"])
            #expect(events.last.map { $0.text(1).contains(nickname) || $0.text(1).contains(externalId) } == false)
            #expect(try await h.query("SELECT count(*) FROM outbox WHERE payload LIKE ?", [.text("%\(nickname)%")]).first?.int(0) == 0)
            let tombstone = try await h.query("SELECT external_id, email_hash, email_cipher, status, external_id_hash, external_id_cipher FROM subjects WHERE id = ?", [.text(subject)])
            #expect(tombstone.first.map { $0.isNull(0) && $0.isNull(1) && $0.isNull(2) && $0.isNull(4) && $0.isNull(5) } == true)
            #expect(tombstone.first?.text(3) == "erased")

            // And the ledger chain remains, ends in the erasure, and still verifies against the checkpoint
            let chain = try await h.store.chain(subjectId: subject)
            #expect(chain.entries.last?.kind == "subject.erased")
            let report = try await h.store.verifyLedger()
            #expect(report.isIntact)
            #expect(report.isCheckpointSignatureValid == true)

            // And the bystander is untouched
            #expect(try await h.store.profile(subjectId: bystander, purpose: "support", by: h.principal).values["nickname"]?.value == .string("Bystander"))

            // And no byte of the person remains in the database files
            if h.backend.isSQLite {
                #expect(try filesContain(h, [nickname, externalId, emailHash, email]) == [])
                #expect(try filesContain(h, [h.secrets.emailLookupHash("bystander@example.com")]).isEmpty == false, "the scan still finds the bystander")
            }
        }
    }
}
