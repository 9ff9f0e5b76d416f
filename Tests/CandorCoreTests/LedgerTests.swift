import CandorCore
import Crypto
import Foundation
import Testing

@Suite("Ledger hash chain and checkpoints")
struct LedgerTests {
    /// A well-formed chain of `count` entries for one subject.
    static func makeChain(subjectId: String = "sub_a", count: Int) -> [LedgerEntry] {
        var entries = [LedgerEntry]()
        var prev = LedgerHash.genesis
        for seq in 1...Int64(count) {
            let payload = Array("payload \(seq) of \(subjectId)".utf8)
            let createdAt = 1_780_272_000_000 + seq
            let kind = seq == 1 ? "subject.created" : "declaration"
            let hash = LedgerHash.entryHash(subjectId: subjectId, seq: seq, kind: kind, createdAt: createdAt, prevHash: prev, payload: payload)
            entries.append(LedgerEntry(id: seq, subjectId: subjectId, seq: seq, kind: kind, createdAt: createdAt, prevHash: prev, payload: payload, hash: hash))
            prev = hash
        }
        return entries
    }

    static func walk(_ entries: [LedgerEntry], subjectId: String = "sub_a") -> ChainWalker {
        var walker = ChainWalker(subjectId: subjectId)
        for entry in entries { walker.feed(entry) }
        return walker
    }

    @Test("An untouched chain verifies and ends at its last hash")
    func intactChainVerifies() {
        let chain = Self.makeChain(count: 5)
        let walker = Self.walk(chain)
        #expect(walker.broken == nil)
        #expect(walker.head == chain.last?.hash)
        #expect(walker.expectedSeq == 6)
    }

    @Test("Flipping one byte of a payload breaks the chain at that entry", arguments: [1, 3, 5])
    func flippedPayloadByteIsDetected(seq: Int) {
        var chain = Self.makeChain(count: 5)
        chain[seq - 1].payload[2] ^= 0x01
        let broken = Self.walk(chain).broken
        #expect(broken == LedgerBreak(subjectId: "sub_a", seq: Int64(seq), reason: "content does not match its hash"))
    }

    @Test("Changing an entry's kind or time breaks the chain too")
    func changedMetadataIsDetected() {
        var chain = Self.makeChain(count: 3)
        chain[1].kind = "consent"
        #expect(Self.walk(chain).broken?.seq == 2)
        chain = Self.makeChain(count: 3)
        chain[2].createdAt += 1
        #expect(Self.walk(chain).broken?.seq == 3)
    }

    @Test("A deleted middle entry is reported as missing")
    func deletedMiddleEntryIsDetected() {
        var chain = Self.makeChain(count: 5)
        chain.remove(at: 2)
        let broken = Self.walk(chain).broken
        #expect(broken?.subjectId == "sub_a")
        #expect(broken?.seq == 3)
        #expect(broken?.reason.contains("missing") == true)
    }

    @Test("An entry whose previous hash is wrong is detected, even when its own hash was recomputed to match")
    func wrongPreviousHashIsDetected() {
        var chain = Self.makeChain(count: 4)
        // An attacker replaces entry 3's link and recomputes its hash so that the entry is self-consistent.
        var forged = chain[2]
        forged.prevHash = Digest.sha256(Data("something else".utf8))
        forged.hash = LedgerHash.entryHash(subjectId: forged.subjectId, seq: forged.seq, kind: forged.kind, createdAt: forged.createdAt, prevHash: forged.prevHash, payload: forged.payload)
        chain[2] = forged
        let broken = Self.walk(chain).broken
        #expect(broken == LedgerBreak(subjectId: "sub_a", seq: 3, reason: "previous hash does not match entry 2"))
    }

    @Test("Entries of another subject do not verify in this subject's chain")
    func entriesAreBoundToTheirSubject() {
        var chain = Self.makeChain(count: 2)
        chain[1].subjectId = "sub_b"
        #expect(Self.walk(chain).broken?.seq == 2)
    }

    @Test("The walker stops at the first break")
    func walkerStopsAtFirstBreak() {
        var chain = Self.makeChain(count: 5)
        chain[1].payload[0] ^= 0xff
        chain[3].payload[0] ^= 0xff
        var walker = ChainWalker(subjectId: "sub_a")
        let fed = chain.map { walker.feed($0) }
        #expect(fed == [true, false, false, false, false])
        #expect(walker.broken?.seq == 2)
    }

    static func signedCheckpoint(key: Curve25519.Signing.PrivateKey) throws -> Checkpoint {
        var builder = CheckpointRootBuilder()
        for subject in ["sub_a", "sub_b", "sub_c"] {
            let chain = makeChain(subjectId: subject, count: 3)
            builder.add(subjectId: subject, seq: 3, head: chain.last!.hash)
        }
        return try builder.sign(id: "chk_1", createdAt: "2026-06-01T00:00:00.000Z", upToEntry: 9, with: key)
    }

    @Test("A signed checkpoint verifies, and counts the chains and entries it covers")
    func checkpointSignatureVerifies() throws {
        let key = Curve25519.Signing.PrivateKey()
        let checkpoint = try Self.signedCheckpoint(key: key)
        #expect(checkpoint.hasValidSignature())
        #expect(checkpoint.chainCount == 3)
        #expect(checkpoint.entryCount == 9)
        #expect(checkpoint.publicKey == Digest.hex(key.publicKey.rawRepresentation))
    }

    @Test("Changing anything a checkpoint states invalidates its signature")
    func alteredCheckpointFails() throws {
        let checkpoint = try Self.signedCheckpoint(key: Curve25519.Signing.PrivateKey())
        var changedRoot = checkpoint
        changedRoot.root = Digest.sha256Hex(Data("another history".utf8))
        #expect(!changedRoot.hasValidSignature())
        var changedCount = checkpoint
        changedCount.entryCount -= 1
        #expect(!changedCount.hasValidSignature())
        var changedUpTo = checkpoint
        changedUpTo.upToEntry = 8
        #expect(!changedUpTo.hasValidSignature())
        var otherKey = checkpoint
        otherKey.publicKey = Digest.hex(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        #expect(!otherKey.hasValidSignature())
        var garbage = checkpoint
        garbage.signature = "zz"
        #expect(!garbage.hasValidSignature())
    }

    @Test("The checkpoint root changes when any chain's head or length changes")
    func rootDependsOnEveryHead() {
        func root(_ heads: [(String, Int64, [UInt8])]) -> String {
            var builder = CheckpointRootBuilder()
            for (subject, seq, head) in heads { builder.add(subjectId: subject, seq: seq, head: head) }
            return builder.finish()
        }
        let a = Self.makeChain(subjectId: "sub_a", count: 3)
        let b = Self.makeChain(subjectId: "sub_b", count: 2)
        let original = root([("sub_a", 3, a[2].hash), ("sub_b", 2, b[1].hash)])
        #expect(original == root([("sub_a", 3, a[2].hash), ("sub_b", 2, b[1].hash)]))
        #expect(original != root([("sub_a", 2, a[1].hash), ("sub_b", 2, b[1].hash)]))
        #expect(original != root([("sub_a", 3, a[2].hash)]))
        #expect(original != root([("sub_a", 3, b[1].hash), ("sub_b", 2, b[1].hash)]))
    }

    @Test("Hashes bind field boundaries: moving bytes between kind and payload changes the hash")
    func hashIsUnambiguous() {
        let one = LedgerHash.entryHash(subjectId: "sub_a", seq: 1, kind: "ab", createdAt: 0, prevHash: LedgerHash.genesis, payload: Array("c".utf8))
        let two = LedgerHash.entryHash(subjectId: "sub_a", seq: 1, kind: "a", createdAt: 0, prevHash: LedgerHash.genesis, payload: Array("bc".utf8))
        #expect(one != two)
    }
}
