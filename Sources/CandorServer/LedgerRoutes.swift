import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/ledger`: verification, checkpoints and one subject's chain, for the audit role.
struct LedgerRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    struct ChainEntryView: Codable {
        var seq: Int64
        var kind: String
        var createdAt: Int64
        var prevHash: String
        var payload: String
        var hash: String

        enum CodingKeys: String, CodingKey {
            case seq, kind, payload, hash
            case createdAt = "created_at"
            case prevHash = "prev_hash"
        }
    }

    struct ChainView: Codable {
        var subjectId: String
        var entries: [ChainEntryView]
        var checkpoint: Checkpoint?

        enum CodingKeys: String, CodingKey {
            case entries, checkpoint
            case subjectId = "subject_id"
        }
    }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.get("ledger/verify") { _, context in
            _ = try support.principal(context, .audit)
            return try support.json(try await store.verifyLedger())
        }
        group.post("ledger/checkpoints") { _, context in
            _ = try support.principal(context, .audit)
            guard let checkpoint = try await store.checkpoint() else { throw CandorError(.conflict, "the ledger is empty") }
            return try support.json(checkpoint, status: .created)
        }
        group.get("ledger/checkpoints/latest") { _, context in
            _ = try support.principal(context, .audit)
            guard let checkpoint = try await store.latestCheckpoint() else { throw CandorError(.notFound, "no checkpoint yet") }
            return try support.json(checkpoint)
        }
        group.get("subjects/:id/ledger") { _, context in
            _ = try support.principal(context, .audit)
            let id = try support.parameter(context, "id")
            let (entries, checkpoint) = try await store.chain(subjectId: id)
            let views = entries.map {
                ChainEntryView(seq: $0.seq, kind: $0.kind, createdAt: $0.createdAt, prevHash: Digest.hex($0.prevHash),
                               payload: Data($0.payload).base64EncodedString(), hash: Digest.hex($0.hash))
            }
            return try support.json(ChainView(subjectId: id, entries: views, checkpoint: checkpoint))
        }
    }
}
