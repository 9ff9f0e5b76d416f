import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    /// Three subjects with chains of 1, 4 and 3 entries; returns their ids in that order.
    func seedChains(_ h: Harness) async throws -> (alone: String, target: String, other: String) {
        let alone = try await h.newSubject()
        let target = try await h.newSubject(email: "target@example.com")
        try await h.grant(target, "newsletter")
        try await h.declare(target, ["interests": .array([.string("running")])])
        try await h.declare(target, ["interests": .array([.string("hiking")])])
        let other = try await h.newSubject()
        try await h.declare(other, ["nickname": .string("Other")])
        try await h.grant(other, "offers")
        return (alone, target, other)
    }

    @Test("An untouched ledger verifies, and checkpoints are signed by this server's key", arguments: Backend.available)
    func ledgerVerifies(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given three chains
            let (_, target, _) = try await seedChains(h)
            let chain = try await h.store.chain(subjectId: target)
            #expect(chain.entries.map(\.seq) == [1, 2, 3, 4])
            #expect(chain.entries.map(\.kind) == ["subject.created", "consent", "declaration", "declaration"])
            #expect(chain.entries.first?.prevHash == LedgerHash.genesis)
            #expect(zip(chain.entries, chain.entries.dropFirst()).allSatisfy { $0.hash == $1.prevHash })

            // Then the ledger verifies without a checkpoint
            let report = try await h.store.verifyLedger()
            #expect(report.isIntact)
            #expect(report.chains == 3)
            #expect(report.entries == 8)
            #expect(report.firstBreak == nil)
            #expect(report.checkpoint == nil)

            // When a checkpoint is taken
            let checkpoint = try #require(try await h.store.checkpoint())

            // Then it covers every chain and entry, and its signature verifies with the server's public key
            #expect(checkpoint.chainCount == 3)
            #expect(checkpoint.entryCount == 8)
            #expect(checkpoint.hasValidSignature())
            #expect(checkpoint.publicKey == h.store.signingPublicKeyHex)
            #expect(try await h.store.latestCheckpoint() == checkpoint)
            // ... and taking another with nothing new appended returns the same one
            #expect(try await h.store.checkpoint()?.id == checkpoint.id)

            // And the ledger still verifies after more entries are appended past the checkpoint
            try await h.declare(target, ["channels": .array([.string("email")])])
            try await h.newSubject()
            let later = try await h.store.verifyLedger()
            #expect(later.isIntact)
            #expect(later.checkpoint?.id == checkpoint.id)
            #expect(later.isCheckpointSignatureValid == true)
            #expect(later.chains == 4)
            #expect(later.entries == 10)
        }
    }

    @Test("Flipping one byte of a stored payload is detected and names the subject", arguments: Backend.available)
    func flippedPayloadDetected(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a verified ledger
            let (_, target, _) = try await seedChains(h)
            #expect(try await h.store.verifyLedger().isIntact)

            // When one byte of the payload of the target's third entry is changed in the database
            let entry = try await h.store.chain(subjectId: target).entries[2]
            var payload = entry.payload
            payload[payload.count / 2] ^= 0x20
            try await h.tamper("UPDATE ledger_entries SET payload = ? WHERE id = ?", [.blob(payload), .int(entry.id)])

            // Then verification fails at that entry of that subject
            let report = try await h.store.verifyLedger()
            #expect(!report.isIntact)
            #expect(report.firstBreak?.subjectId == target)
            #expect(report.firstBreak?.seq == 3)
            #expect(report.firstBreak?.reason == "content does not match its hash")
        }
    }

    @Test("Deleting an entry from the middle of a chain is detected and names the subject", arguments: Backend.available)
    func deletedMiddleEntryDetected(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let (_, target, _) = try await seedChains(h)

            // When the target's second entry (its consent) is deleted
            try await h.tamper("DELETE FROM ledger_entries WHERE subject_id = ? AND seq = 2", [.text(target)])

            // Then verification reports the missing entry
            let report = try await h.store.verifyLedger()
            #expect(!report.isIntact)
            #expect(report.firstBreak?.subjectId == target)
            #expect(report.firstBreak?.seq == 2)
            #expect(report.firstBreak?.reason.contains("missing") == true)
        }
    }

    @Test("Deleting the last entry of a chain covered by a checkpoint is detected", arguments: Backend.available)
    func deletedLastEntryDetected(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a checkpoint over every chain
            let (_, target, _) = try await seedChains(h)
            try #require(try await h.store.checkpoint() != nil)

            // When the target's last entry is deleted
            try await h.tamper("DELETE FROM ledger_entries WHERE subject_id = ? AND seq = 4", [.text(target)])

            // Then verification reports the entries missing at the end of that subject's chain
            let report = try await h.store.verifyLedger()
            #expect(!report.isIntact)
            #expect(report.firstBreak?.subjectId == target)
            #expect(report.firstBreak?.seq == 4)
            #expect(report.firstBreak?.reason.contains("missing") == true)
        }
    }

    @Test("Truncating a chain and its head together is caught by the checkpoint", arguments: Backend.available)
    func truncationCaughtByCheckpoint(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a checkpoint over every chain
            let (_, target, _) = try await seedChains(h)
            let checkpoint = try #require(try await h.store.checkpoint())
            let entries = try await h.store.chain(subjectId: target).entries

            // When an attacker deletes the last entry and moves the head back, so the chain looks whole
            try await h.tamper("DELETE FROM ledger_entries WHERE subject_id = ? AND seq = 4", [.text(target)])
            try await h.tamper("UPDATE ledger_heads SET seq = 3, hash = ? WHERE subject_id = ?", [.blob(entries[2].hash), .text(target)])

            // Then the chains no longer match the signed checkpoint
            let report = try await h.store.verifyLedger()
            #expect(!report.isIntact)
            #expect(report.isCheckpointSignatureValid == true)
            #expect(report.firstBreak?.reason.contains(checkpoint.id) == true)
        }
    }

    @Test("A consistently rewritten chain passes the hash checks but not the checkpoint", arguments: Backend.available)
    func rewriteCaughtByCheckpoint(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a checkpoint over every chain
            let (_, target, _) = try await seedChains(h)
            let checkpoint = try #require(try await h.store.checkpoint())

            // When an attacker replaces the payload of entry 2 and recomputes every later hash and the head
            var prev = LedgerHash.genesis
            for var entry in try await h.store.chain(subjectId: target).entries {
                if entry.seq == 2 { entry.payload = Array(entry.payload.reversed()) }
                entry.prevHash = prev
                entry.hash = LedgerHash.entryHash(subjectId: entry.subjectId, seq: entry.seq, kind: entry.kind, createdAt: entry.createdAt, prevHash: prev, payload: entry.payload)
                try await h.tamper("UPDATE ledger_entries SET payload = ?, prev_hash = ?, hash = ? WHERE id = ?",
                                   [.blob(entry.payload), .blob(entry.prevHash), .blob(entry.hash), .int(entry.id)])
                prev = entry.hash
            }
            try await h.tamper("UPDATE ledger_heads SET hash = ? WHERE subject_id = ?", [.blob(prev), .text(target)])

            // Then the checkpoint exposes the rewrite
            let report = try await h.store.verifyLedger()
            #expect(!report.isIntact)
            #expect(report.firstBreak?.reason.contains(checkpoint.id) == true)
        }
    }

    @Test("A forged checkpoint is rejected", arguments: Backend.available)
    func forgedCheckpointRejected(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a checkpoint
            _ = try await seedChains(h)
            var checkpoint = try #require(try await h.store.checkpoint())

            // When its stored root is replaced
            checkpoint.root = String(checkpoint.root.reversed())
            try await h.tamper("UPDATE checkpoints SET body = ? WHERE id = ?", [.text(try CandorJSON.string(checkpoint)), .text(checkpoint.id)])

            // Then its signature no longer verifies, and neither does the ledger
            let report = try await h.store.verifyLedger()
            #expect(!report.isIntact)
            #expect(report.isCheckpointSignatureValid == false)
        }
    }
}
