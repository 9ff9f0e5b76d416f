import CandorCore
import Foundation

/// Everything needed to check one person's chain offline: the entries (ciphertext and hashes only), a
/// signed checkpoint that covers the chain's head, and the Merkle path from that head to the checkpoint root.
public struct SubjectProof: Sendable {
    public var subjectId: String
    public var entries: [LedgerEntry]
    public var checkpoint: Checkpoint
    /// The chain's head as the checkpoint saw it.
    public var checkpointSeq: Int64
    public var checkpointHead: [UInt8]
    /// The line `subject_id seq head_hex` whose leaf the proof starts from.
    public var line: String
    public var inclusion: MerkleProof
}

extension CandorStore {
    /// One subject's chain with a covering checkpoint and the inclusion proof of its head. When the newest
    /// checkpoint predates the chain's head, a new one is signed first, so the whole chain is covered
    /// (entries appended while this runs may still be newer than the checkpoint; the proof says so).
    /// No principal and no audit here: the route audits.
    public func ledgerProof(subjectId: String) async throws -> SubjectProof {
        var (entries, checkpoint) = try await chain(subjectId: subjectId)
        let headId = entries.last?.id ?? 0
        if checkpoint == nil || checkpoint!.upToEntry < headId {
            checkpoint = try await self.checkpoint()
        }
        guard let checkpoint else { throw CandorError(.conflict, "the ledger is empty") }
        let upTo = checkpoint.upToEntry
        entries = try await chain(subjectId: subjectId).entries
        // The chain's head at the checkpoint: its last entry with an id the checkpoint covers.
        guard let covered = entries.last(where: { $0.id <= upTo }) else {
            throw CandorError(.conflict, "subject '\(subjectId)' is newer than the latest checkpoint; try again")
        }
        let (builder, index) = try await checkpointTree(upTo: upTo, locate: subjectId)
        guard builder.finish() == checkpoint.root, let index, let inclusion = builder.proof(at: index) else {
            throw CandorStoreError.corrupt("the ledger no longer matches checkpoint \(checkpoint.id); run GET /v1/ledger/verify")
        }
        return SubjectProof(
            subjectId: subjectId, entries: entries, checkpoint: checkpoint, checkpointSeq: covered.seq, checkpointHead: covered.hash,
            line: CheckpointRootBuilder.line(subjectId: subjectId, seq: covered.seq, head: covered.hash), inclusion: inclusion)
    }

    /// Rebuilds the Merkle tree of a checkpoint from the ledger: every chain's head as of entry `upTo`,
    /// in subject id order, and the leaf position of one subject. Reads the current heads page by page and
    /// looks up the older head only for chains that grew after the checkpoint, so it is one pass over the heads.
    func checkpointTree(upTo: Int64, locate subjectId: String) async throws -> (CheckpointRootBuilder, Int?) {
        try await database.read { connection in
            var builder = CheckpointRootBuilder()
            var index: Int?
            var after = ""
            while true {
                let rows = try connection.query(
                    """
                    SELECT h.subject_id, h.seq, h.hash, e.id FROM ledger_heads h
                    JOIN ledger_entries e ON e.subject_id = h.subject_id AND e.seq = h.seq
                    WHERE h.subject_id > ? ORDER BY h.subject_id LIMIT 5000
                    """, [.text(after)])
                for row in rows {
                    let id = row.text(0)
                    var head: (seq: Int64, hash: [UInt8])? = (row.int(1), row.blob(2))
                    if row.int(3) > upTo {
                        head = try connection.queryOne(
                            "SELECT seq, hash FROM ledger_entries WHERE subject_id = ? AND id <= ? ORDER BY seq DESC LIMIT 1", .text(id), .int(upTo))
                            .map { ($0.int(0), $0.blob(1)) }
                    }
                    guard let head else { continue }
                    if id == subjectId { index = Int(builder.chainCount) }
                    builder.add(subjectId: id, seq: head.seq, head: head.hash)
                }
                guard let last = rows.last, rows.count == 5000 else { break }
                after = last.text(0)
            }
            return (builder, index)
        }
    }
}
