import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Consent receipts, the record of processing and per-person ledger proofs (issue 4, parts 4, 5 and 7).
struct GovernanceRoutes {
    let support: RouteSupport
    let resources: Resources
    var store: CandorStore { support.store }

    struct ReceiptList: Codable {
        var subjectId: String
        var receipts: [ConsentReceiptDocument]

        enum CodingKeys: String, CodingKey {
            case receipts
            case subjectId = "subject_id"
        }
    }

    /// The offline proof of one person's chain: everything `tools/verify_chain.py` needs, and the rules it applies.
    struct ProofView: Codable {
        struct Covered: Codable {
            var seq: Int64
            var head: String
            var line: String
        }

        var format: String
        var subjectId: String
        var publicKey: String
        var hashing: [String: String]
        var entries: [LedgerRoutes.ChainEntryView]
        var checkpoint: Checkpoint
        var covered: Covered
        var inclusion: MerkleProof

        enum CodingKeys: String, CodingKey {
            case format, hashing, entries, checkpoint, covered, inclusion
            case subjectId = "subject_id"
            case publicKey = "public_key"
        }
    }

    /// The exact rules, in the document itself, so a proof can be checked years later without this code.
    static let hashingRules: [String: String] = [
        "entry_hash": "SHA-256(prev_hash(32 bytes) || u64be(seq) || u64be(created_at ms) || u32be(len)||subject_id utf8 || u32be(len)||kind utf8 || u32be(len)||payload bytes)",
        "genesis_prev_hash": "32 zero bytes",
        "payload": "base64 of the ciphertext exactly as stored; hashes are lowercase hex",
        "checkpoint_line": "subject_id + ' ' + decimal seq + ' ' + head_hex, UTF-8, no newline; one per chain, in subject id order",
        "merkle_leaf": "SHA-256(0x00 || line)",
        "merkle_node": "SHA-256(0x01 || left || right); an odd last node of a level is promoted unchanged",
        "merkle_empty": "SHA-256 of nothing",
        "inclusion_path": "sibling hashes bottom-up; side 'left' means node = SHA-256(0x01 || sibling || node), 'right' means SHA-256(0x01 || node || sibling)",
        "checkpoint_signature": "Ed25519 over UTF-8 'candor-checkpoint-v2|id|created_at|up_to_entry|chain_count|entry_count|root'",
    ]

    func add(api group: RouterGroup<CandorRequestContext>, router: Router<CandorRequestContext>) {
        group.get("subjects/:id/receipts") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let id = try support.parameter(context, "id")
            let held = Set(principal.team.purposes)
            let receipts = try await store.consentReceipts(subjectId: id).compactMap { Self.restricted($0, to: held) }
            try await store.auditRead(principal, action: "receipt.read", purpose: purpose, subjectId: id)
            return try support.json(ReceiptList(subjectId: id, receipts: receipts))
        }
        group.get("subjects/:id/receipts/:seq") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let id = try support.parameter(context, "id")
            let text = try support.parameter(context, "seq")
            guard let seq = Int64(text), seq > 0 else { throw CandorError.invalid("seq", "must be a positive integer") }
            guard let receipt = Self.restricted(try await store.consentReceipt(subjectId: id, seq: seq), to: Set(principal.team.purposes)) else {
                throw CandorError(.notFound, "no consent change at ledger position \(seq) for the team's purposes", errors: [FieldError("seq", "not a consent change this team may read")])
            }
            try await store.auditRead(principal, action: "receipt.read", purpose: purpose, subjectId: id)
            return try support.json(receipt)
        }
        group.get("subjects/:id/proof") { _, context in
            let principal = try support.principal(context, .audit)
            let id = try support.parameter(context, "id")
            let proof = try await store.ledgerProof(subjectId: id)
            try await store.auditRead(principal, action: "ledger.proof", subjectId: id)
            return try support.json(Self.view(proof, publicKey: store.signingPublicKeyHex))
        }
        group.get("ropa") { request, context in
            guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
            guard principal.has(.admin) || principal.has(.audit) else {
                throw CandorError(.forbidden, "team '\(principal.team.key)' lacks the 'admin' or 'audit' role")
            }
            let language = request.uri.queryParameters.get("lang").map { String($0) } ?? "en"
            guard Locales.supported.contains(language) else { throw CandorError.invalid("lang", "must be one of \(Locales.supported.sorted().joined(separator: ", "))") }
            return try support.json(try await store.recordOfProcessingWithDestinations(language: language))
        }
        // Public on purpose: an Art. 30 record holds registry data only (no personal data), is what an
        // authority asks for, and mirrors what Art. 13 notices already tell every person.
        router.get("records-of-processing") { request, _ in
            let page = RecordsPage(store: store, language: PageLanguage.choose(request))
            return Response.html(resources.templates.render(page.context(), withTemplate: "records") ?? "")
        }
    }

    /// A receipt with only the purposes a team holds; nil when none is left (the team may not see it at all).
    static func restricted(_ receipt: ConsentReceiptDocument, to held: Set<String>) -> ConsentReceiptDocument? {
        var out = receipt
        out.services = receipt.services.map { service in
            var service = service
            service.purposes = service.purposes.filter { held.contains($0.purposeKey) }
            return service
        }.filter { !$0.purposes.isEmpty }
        return out.services.isEmpty ? nil : out
    }

    static func view(_ proof: SubjectProof, publicKey: String) -> ProofView {
        ProofView(
            format: "candor-proof-v1", subjectId: proof.subjectId, publicKey: publicKey, hashing: hashingRules,
            entries: proof.entries.map {
                LedgerRoutes.ChainEntryView(seq: $0.seq, kind: $0.kind, createdAt: $0.createdAt, prevHash: Digest.hex($0.prevHash),
                                            payload: Data($0.payload).base64EncodedString(), hash: Digest.hex($0.hash))
            },
            checkpoint: proof.checkpoint,
            covered: .init(seq: proof.checkpointSeq, head: Digest.hex(proof.checkpointHead), line: proof.line),
            inclusion: proof.inclusion)
    }
}
