import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("Every consent change reads back as a Kantara receipt tied to its ledger entry", arguments: Backend.available)
    func consentReceiptsFromTheLedger(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a person who granted two purposes, declared a value, then withdrew one
            let subject = try await h.newSubject(email: "receipt@example.com")
            try await h.grant(subject, "newsletter", "offers")
            try await h.declare(subject, ["interests": .array([.string("running")])])
            try await h.withdraw(subject, "offers")
            h.store.setDataController(DataController(name: "Example Ltd", contact: "DPO", email: "dpo@example.com", phone: "+1 555 0100",
                                                     policyURL: "https://example.com/privacy", service: "Newsletter"))

            // Then there is one receipt per consent change, in ledger order
            let receipts = try await h.store.consentReceipts(subjectId: subject)
            #expect(receipts.map(\.candorLedger.seq) == [2, 4])
            #expect(receipts[0].services[0].purposes.map(\.purposeKey) == ["newsletter", "offers"])
            #expect(receipts[0].services[0].purposes[0].purposeCategory == [DPVPurposes.iri("DirectMarketing")])
            #expect(receipts[0].services[0].purposes[0].piiCategory == ["channels", "interests"])
            #expect(receipts[0].services[0].purposes[0].noticeVersion == 1)
            #expect(receipts[0].services[0].purposes[0].noticeHash?.hasPrefix("sha256:") == true)
            #expect(receipts[1].services[0].purposes.map(\.consentStatus) == ["withdrawn"])
            #expect(receipts.allSatisfy { $0.piiPrincipalId == subject && $0.piiControllers[0].piiController == "Example Ltd" })
            // ... whose ledger hashes are the chain's
            let chain = try await h.store.chain(subjectId: subject).entries
            #expect(receipts[0].candorLedger.entryHash == Digest.hex(chain[1].hash))

            // And one can be fetched by its seq; a seq that is not a consent change, or an unknown subject, is 404
            #expect(try await h.store.consentReceipt(subjectId: subject, seq: 4) == receipts[1])
            #expect(await candorError { _ = try await h.store.consentReceipt(subjectId: subject, seq: 3) }?.kind == .notFound)
            #expect(await candorError { _ = try await h.store.consentReceipt(subjectId: subject, seq: 99) }?.kind == .notFound)
            #expect(await candorError { _ = try await h.store.consentReceipts(subjectId: "sub_nobody") }?.kind == .notFound)

            // And after erasure the receipts are gone with the key
            _ = try await h.store.erase(subjectId: subject, by: h.principal)
            #expect(await candorError { _ = try await h.store.consentReceipts(subjectId: subject) }?.kind == .gone)
        }
    }

    @Test("A person's proof covers their head with a signed checkpoint and a Merkle path to its root", arguments: Backend.available)
    func subjectProofVerifies(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given several chains and no checkpoint yet
            let (alone, target, other) = try await seedChains(h)
            for _ in 0..<4 { try await h.newSubject() }

            // When a proof is asked for, a checkpoint is signed so that it covers the chain
            let proof = try await h.store.ledgerProof(subjectId: target)
            #expect(proof.checkpoint.hasValidSignature())
            #expect(proof.checkpoint.chainCount == 7)
            #expect(proof.checkpointSeq == 4)
            #expect(proof.checkpointHead == proof.entries.last?.hash)
            #expect(proof.inclusion.treeSize == 7)
            #expect(proof.inclusion.path.count <= 3)
            #expect(proof.inclusion.root(forLine: proof.line) == proof.checkpoint.root)

            // And after the chain grows, the old checkpoint is replaced by one covering the new head
            try await h.declare(target, ["channels": .array([.string("email")])])
            let later = try await h.store.ledgerProof(subjectId: target)
            #expect(later.checkpoint.id != proof.checkpoint.id)
            #expect(later.checkpointSeq == 5)
            #expect(later.inclusion.root(forLine: later.line) == later.checkpoint.root)

            // And a chain that grew after the newest checkpoint is proven at its head as of that checkpoint
            try await h.declare(other, ["nickname": .string("Again")])
            let stale = try await h.store.ledgerProof(subjectId: alone)
            #expect(stale.checkpoint.id == later.checkpoint.id)
            #expect(stale.inclusion.root(forLine: stale.line) == stale.checkpoint.root)

            // And the whole ledger still verifies against the Merkle root
            let report = try await h.store.verifyLedger()
            #expect(report.isIntact)
            #expect(await candorError { _ = try await h.store.ledgerProof(subjectId: "sub_nobody") }?.kind == .notFound)
        }
    }
}
