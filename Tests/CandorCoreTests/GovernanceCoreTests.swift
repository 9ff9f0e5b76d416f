import CandorCore
import Crypto
import Foundation
import Testing

@Suite("Checkpoint Merkle tree and consent receipts")
struct GovernanceCoreTests {
    static func heads(_ count: Int) -> [(String, Int64, [UInt8])] {
        (0..<count).map { i in
            let id = String(format: "sub_%04d", i)
            return (id, Int64(i % 5 + 1), Array(SHA256.hash(data: Array(id.utf8))))
        }
    }

    static func builder(_ heads: [(String, Int64, [UInt8])]) -> CheckpointRootBuilder {
        var builder = CheckpointRootBuilder()
        for (id, seq, head) in heads { builder.add(subjectId: id, seq: seq, head: head) }
        return builder
    }

    @Test("The root follows the documented rules: leaves 0x00‖line, nodes 0x01‖left‖right, odd node promoted")
    func rootMatchesTheRules() {
        let heads = Self.heads(3)
        let leaves = heads.map { CheckpointRootBuilder.leafHash("\($0.0) \($0.1) \(Digest.hex($0.2))") }
        // Three leaves: the third is promoted to the second level unchanged.
        let expected = CheckpointRootBuilder.nodeHash(CheckpointRootBuilder.nodeHash(leaves[0], leaves[1]), leaves[2])
        #expect(Self.builder(heads).finish() == Digest.hex(expected))
        // One leaf: the root is the leaf; none: SHA-256 of nothing.
        #expect(Self.builder(Array(heads.prefix(1))).finish() == Digest.hex(leaves[0]))
        #expect(CheckpointRootBuilder().finish() == Digest.sha256Hex(Data()))
        #expect(Array(leaves[0]) == Array(SHA256.hash(data: [0x00] + Array("sub_0000 1 \(Digest.hex(heads[0].2))".utf8))))
    }

    @Test("Every chain has an inclusion proof of about log2(n) hashes that leads to the root", arguments: [1, 2, 3, 5, 8, 13, 100])
    func everyLeafProves(count: Int) throws {
        let heads = Self.heads(count)
        let builder = Self.builder(heads)
        let root = builder.finish()
        for (index, head) in heads.enumerated() {
            let proof = try #require(builder.proof(at: index))
            #expect(proof.treeSize == Int64(count))
            #expect(proof.path.count <= Int(log2(Double(count)).rounded(.up)))
            #expect(proof.root(forLine: CheckpointRootBuilder.line(subjectId: head.0, seq: head.1, head: head.2)) == root)
            // A different head for the same chain does not lead to the root.
            #expect(proof.root(forLine: CheckpointRootBuilder.line(subjectId: head.0, seq: head.1 + 1, head: head.2)) != root)
        }
        #expect(builder.proof(at: count) == nil)
        #expect(builder.proof(at: -1) == nil)
    }

    @Test("A tampered sibling hash breaks the proof")
    func tamperedProofFails() throws {
        let heads = Self.heads(6)
        let builder = Self.builder(heads)
        var proof = try #require(builder.proof(at: 2))
        proof.path[0].hash = String(proof.path[0].hash.reversed())
        #expect(proof.root(forLine: CheckpointRootBuilder.line(subjectId: heads[2].0, seq: heads[2].1, head: heads[2].2)) != builder.finish())
        proof.path[0].hash = "not hex"
        #expect(proof.root(forLine: "x") == nil)
    }

    static let controller = DataController(
        name: "Example Shoes Ltd", contact: "Data protection officer", email: "privacy@example.com", phone: "+972-3-555-0100",
        address: ["street": "1 Main St", "city": "Tel Aviv", "country": "IL"], url: "https://example.com",
        policyURL: "https://example.com/privacy", jurisdiction: "EU", service: "Example newsletter")

    @Test("A receipt carries the controller, DPV category, fields, retention and the ledger link")
    func receiptFromPureValues() throws {
        var fields = Array(Sample.fields.values)
        fields.append(Field(id: "fld_health", key: "health", type: .text, purposes: ["offers"], retentionDays: 30, sensitivity: .special, labels: ["en": "Health"], createdAt: Sample.createdAt))
        let notice = try NoticeVersion(id: "ntc_1", purpose: "newsletter", version: 2, texts: ["en": NoticeText(title: "t", why: "w", benefit: "b")], createdAt: Sample.createdAt)
        let hash = Array(SHA256.hash(data: Array("entry".utf8)))
        let event = ConsentEvent(subjectId: "sub_1", seq: 2, entryHash: hash, recordedAt: Sample.now + 999, changes: [
            ConsentChange(purpose: "newsletter", status: .granted, method: .checkbox, noticeVersion: 2, expiresAt: nil),
            ConsentChange(purpose: "offers", status: .withdrawn, method: .gpc, noticeVersion: nil, expiresAt: nil),
        ])
        let receipt = ConsentReceiptBuilder.receipt(for: event, purposes: Sample.purposes, fields: fields, notices: ["newsletter": [notice]], controller: Self.controller,
                                                    destinations: ["offers": ["Ad partner"]])
        #expect(receipt.version == "KI-CR-v1.1.0")
        #expect(receipt.consentTimestamp == Sample.now / 1000)
        #expect(receipt.piiPrincipalId == "sub_1")
        #expect(receipt.policyUrl == "https://example.com/privacy")
        #expect(receipt.piiControllers.first?.piiController == "Example Shoes Ltd")
        #expect(receipt.candorLedger.seq == 2)
        #expect(receipt.candorLedger.entryHash == Digest.hex(hash))
        #expect(receipt.consentReceiptID.count == 36)
        let purposes = receipt.services[0].purposes
        #expect(purposes.map(\.purposeKey) == ["newsletter", "offers"])
        #expect(purposes[0].purposeCategory == ["https://w3id.org/dpv#Marketing"])
        #expect(purposes[0].piiCategory == ["interests", "likes_email"])
        #expect(purposes[0].consentType == "EXPLICIT")
        #expect(purposes[0].noticeHash == notice.contentHash)
        #expect(purposes[0].thirdPartyDisclosure == false && purposes[0].thirdPartyName == nil)
        #expect(purposes[0].termination.contains("365 days"))
        #expect(purposes[1].consentType == "IMPLICIT")
        #expect(purposes[1].consentStatus == "withdrawn")
        #expect(purposes[1].thirdPartyDisclosure && purposes[1].thirdPartyName == "Ad partner")
        #expect(receipt.sensitive && receipt.spiCat == ["health"])
        // The same change always gives the same receipt.
        #expect(receipt == ConsentReceiptBuilder.receipt(for: event, purposes: Sample.purposes, fields: fields, notices: ["newsletter": [notice]], controller: Self.controller,
                                                         destinations: ["offers": ["Ad partner"]]))
    }
}
