import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("Declared values, external ids and event payloads are stored sealed; an upgrade seals what an older version stored in clear",
          arguments: Backend.available)
    func sealingAtRestAndUpgrade(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // A new database has nothing stored in clear to seal
            #expect(try await h.store.sealClearRows() == 0)

            // Given a person declared through the store
            let subject = try await h.newSubject(externalId: "crm-sealed-1")
            try await h.grant(subject, "newsletter")
            try await h.declare(subject, ["nickname": .string("Marigold"), "interests": .array([.string("yoga")])])

            // Then no column holds the value or the external id in clear, but the store reads both back
            #expect(try await h.query("SELECT count(*) FROM profile_values WHERE value <> '' OR sealed IS NULL").first?.int(0) == 0)
            #expect(try await h.query("SELECT count(*) FROM subjects WHERE external_id IS NOT NULL").first?.int(0) == 0)
            #expect(try await h.query("SELECT count(*) FROM outbox WHERE payload LIKE ?", [.text("%Marigold%")]).first?.int(0) == 0)
            let profile = try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal)
            #expect(profile.values["nickname"]?.value == .string("Marigold"))
            #expect(try await h.store.findSubject(externalId: "crm-sealed-1", email: nil, by: h.principal)?.id == subject)

            // Given rows as a version before sealing wrote them: clear value, clear external id, clear payload
            try await h.tamper("UPDATE profile_values SET value = ?, sealed = NULL WHERE subject_id = ? AND field = 'nickname'",
                               [.text(JSONValue.string("Hollyhock").jsonText), .text(subject)])
            try await h.tamper("UPDATE subjects SET external_id = 'crm-old-2', external_id_hash = NULL, external_id_cipher = NULL WHERE id = ?", [.text(subject)])
            try await h.tamper("UPDATE outbox SET payload = ? WHERE subject_id = ? AND type = 'declaration.recorded'",
                               [.text(#"{"type":"declaration.recorded","data":{"values":[{"field":"nickname","value":"Hollyhock"}]}}"#), .text(subject)])
            try await h.tamper("INSERT INTO upgrade_tasks (name) VALUES ('seal_clear_rows')", [])
            // ... which the store still reads (an upgrade never breaks reads halfway)
            #expect(try await h.store.subject(subject).externalId == "crm-old-2")

            // When the upgrade runs
            let sealed = try await h.store.sealClearRows()

            // Then the clear rows are sealed, still read back, found by external id, and the task is done
            #expect(sealed == 3)
            #expect(try await h.query("SELECT count(*) FROM profile_values WHERE value <> '' OR sealed IS NULL").first?.int(0) == 0)
            #expect(try await h.query("SELECT count(*) FROM subjects WHERE external_id IS NOT NULL").first?.int(0) == 0)
            #expect(try await h.query("SELECT count(*) FROM outbox WHERE payload LIKE ?", [.text("%Hollyhock%")]).first?.int(0) == 0)
            #expect(try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal).values["nickname"]?.value == .string("Hollyhock"))
            #expect(try await h.store.findSubject(externalId: "crm-old-2", email: nil, by: h.principal)?.id == subject)
            #expect(try await h.store.pendingEvents(limit: 1_000).contains { $0.payload?.contains("Hollyhock") == true })
            #expect(try await h.query("SELECT count(*) FROM upgrade_tasks").first?.int(0) == 0)
            #expect(try await h.store.sealClearRows() == 0, "a second run has nothing to do")
        }
    }
}
