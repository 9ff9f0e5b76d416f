import CandorCore
import Crypto
import Foundation

/// The result of verifying the whole ledger.
public struct LedgerReport: Codable, Sendable {
    public var isIntact: Bool
    public var chains: Int64
    public var entries: Int64
    public var checkpoint: Checkpoint?
    public var isCheckpointSignatureValid: Bool?
    public var firstBreak: LedgerBreak?

    enum CodingKeys: String, CodingKey {
        case chains, entries, checkpoint
        case isIntact = "ok"
        case isCheckpointSignatureValid = "checkpoint_signature_valid"
        case firstBreak = "first_break"
    }
}

extension CandorStore {
    /// Appends an entry to a subject's chain inside a transaction; the payload is sealed with the
    /// subject's key. `head` is the chain's head as read under the subject's lock (nil for a new chain).
    func appendLedger(_ connection: SQLConnection, subjectId: String, key: SymmetricKey, head: LedgerHead?, kind: String, record: LedgerRecord) throws -> LedgerReference {
        try appendLedger(connection, subjectId: subjectId, head: head, try sealLedgerEntry(subjectId: subjectId, key: key, kind: kind, record: record, at: now))
    }

    /// A ledger entry's sealed payload, made before the transaction that chains it: encoding and
    /// encryption then run in parallel, outside the single writer every write waits on.
    func sealLedgerEntry(subjectId: String, key: SymmetricKey, kind: String, record: LedgerRecord, at: Int64) throws -> SealedLedgerEntry {
        SealedLedgerEntry(kind: kind, createdAt: at, payload: try SubjectCipher.seal(try FastJSON.encode(record), key: key, subjectId: subjectId))
    }

    /// Chains a sealed entry onto the subject's head inside a transaction (the hash covers the previous
    /// hash, so it can only be computed under the subject's lock).
    func appendLedger(_ connection: SQLConnection, subjectId: String, head: LedgerHead?, _ entry: SealedLedgerEntry) throws -> LedgerReference {
        let seq = (head?.seq ?? 0) + 1
        let prevHash = head?.hash ?? LedgerHash.genesis
        let hash = LedgerHash.entryHash(subjectId: subjectId, seq: seq, kind: entry.kind, createdAt: entry.createdAt, prevHash: prevHash, payload: entry.payload)
        try connection.execute(
            "INSERT INTO ledger_entries (subject_id, seq, kind, created_at, prev_hash, payload, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            .text(subjectId), .int(seq), .text(entry.kind), .int(entry.createdAt), .blob(prevHash), .blob(entry.payload), .blob(hash))
        if head == nil {
            try connection.execute("INSERT INTO ledger_heads (subject_id, seq, hash) VALUES (?, ?, ?)", .text(subjectId), .int(seq), .blob(hash))
        } else {
            try connection.execute("UPDATE ledger_heads SET seq = ?, hash = ? WHERE subject_id = ?", .int(seq), .blob(hash), .text(subjectId))
        }
        return LedgerReference(seq: seq, hash: Digest.hex(hash))
    }

    static let entryColumns = "id, subject_id, seq, kind, created_at, prev_hash, payload, hash"

    static func entry(_ row: SQLRow) -> LedgerEntry {
        LedgerEntry(id: row.int(0), subjectId: row.text(1), seq: row.int(2), kind: row.text(3), createdAt: row.int(4),
                    prevHash: row.blob(5), payload: row.blob(6), hash: row.blob(7))
    }

    func ledgerEntries(_ connection: SQLConnection, subjectId: String) throws -> [LedgerEntry] {
        try connection.query("SELECT \(Self.entryColumns) FROM ledger_entries WHERE subject_id = ? ORDER BY seq", [.text(subjectId)]).map(Self.entry)
    }

    /// Signs a checkpoint over every chain's head, unless nothing was appended since the last one.
    /// Writers are held off while the heads are read, so the checkpoint covers exactly the entries up to its id.
    @discardableResult
    public func checkpoint() async throws -> Checkpoint? {
        let dialect = database.dialect
        return try await committer.submit { connection -> Checkpoint? in
            if dialect == .postgres { try connection.execute("LOCK TABLE ledger_entries IN SHARE MODE") }
            let upTo = try connection.queryOne("SELECT max(id) FROM ledger_entries")?.optionalInt(0) ?? 0
            if upTo == 0 { return nil }
            let last = try connection.queryOne("SELECT up_to_entry, body FROM checkpoints ORDER BY up_to_entry DESC LIMIT 1")
            if let last, last.int(0) == upTo { return try CandorJSON.decode(Checkpoint.self, from: last.text(1)) }
            var builder = CheckpointRootBuilder()
            var after = ""
            while true {
                let rows = try connection.query("SELECT subject_id, seq, hash FROM ledger_heads WHERE subject_id > ? ORDER BY subject_id LIMIT 5000", [.text(after)])
                for row in rows { builder.add(subjectId: row.text(0), seq: row.int(1), head: row.blob(2)) }
                guard let lastRow = rows.last, rows.count == 5000 else { break }
                after = lastRow.text(0)
            }
            let at = self.now
            let checkpoint = try builder.sign(id: Identifier.make("chk"), createdAt: Timestamp.rfc3339(at), upToEntry: upTo, with: self.secrets.signingKey)
            try connection.execute("INSERT INTO checkpoints (id, up_to_entry, created_at, body) VALUES (?, ?, ?, ?)",
                                   .text(checkpoint.id), .int(upTo), .int(at), .text(try CandorJSON.string(checkpoint)))
            return checkpoint
        }
    }

    /// The newest checkpoint, if any.
    public func latestCheckpoint() async throws -> Checkpoint? {
        try await database.read { connection in
            try connection.queryOne("SELECT body FROM checkpoints ORDER BY up_to_entry DESC LIMIT 1").map { try CandorJSON.decode(Checkpoint.self, from: $0.text(0)) }
        }
    }

    /// Verifies every chain: each entry's hash, each link, no gaps, heads that match the chains, and the
    /// newest checkpoint's signature and root. Streams the ledger page by page, so it runs in little memory.
    public func verifyLedger() async throws -> LedgerReport {
        let publicKey = signingPublicKeyHex
        return try await database.read { connection -> LedgerReport in
            let checkpoint = try connection.queryOne("SELECT body FROM checkpoints ORDER BY up_to_entry DESC LIMIT 1")
                .map { try CandorJSON.decode(Checkpoint.self, from: $0.text(0)) }
            let signatureValid = checkpoint.map { $0.hasValidSignature() && $0.publicKey == publicKey }
            var report = LedgerReport(isIntact: true, chains: 0, entries: 0, checkpoint: checkpoint, isCheckpointSignatureValid: signatureValid)
            if signatureValid == false {
                report.isIntact = false
                report.firstBreak = LedgerBreak(subjectId: "", seq: 0, reason: "the checkpoint signature is not valid for this server's key")
                return report
            }
            let upTo = checkpoint?.upToEntry ?? 0
            var root = CheckpointRootBuilder()
            var heads = HeadStream(connection: connection)
            var walker: ChainWalker?
            var headAtCheckpoint: (seq: Int64, hash: [UInt8])?

            // Closes one chain: its stored head must be where the chain ends.
            func finish(_ chain: ChainWalker) throws -> LedgerBreak? {
                if let broken = chain.broken { return broken }
                if let at = headAtCheckpoint { root.add(subjectId: chain.subjectId, seq: at.seq, head: at.hash) }
                while let head = try heads.peek(), head.subjectId < chain.subjectId {
                    return LedgerBreak(subjectId: head.subjectId, seq: 1, reason: "chain has a head at \(head.seq) but no entries")
                }
                guard let head = try heads.next(), head.subjectId == chain.subjectId else {
                    return LedgerBreak(subjectId: chain.subjectId, seq: chain.expectedSeq - 1, reason: "chain has no head record")
                }
                if head.seq != chain.expectedSeq - 1 || head.hash != chain.head {
                    return LedgerBreak(subjectId: chain.subjectId, seq: chain.expectedSeq, reason: "entries after \(chain.expectedSeq - 1) are missing (head is at \(head.seq))")
                }
                return nil
            }

            var afterSubject = ""
            var afterSeq: Int64 = 0
            pages: while true {
                let rows = try connection.query(
                    // A row-value comparison, so both SQLite and PostgreSQL seek in the (subject_id, seq)
                    // index; the equivalent OR form makes SQLite scan the index from the start on every page.
                    "SELECT \(Self.entryColumns) FROM ledger_entries WHERE (subject_id, seq) > (?, ?) ORDER BY subject_id, seq LIMIT 5000",
                    [.text(afterSubject), .int(afterSeq)])
                for row in rows {
                    let entry = Self.entry(row)
                    if walker?.subjectId != entry.subjectId {
                        if let chain = walker, let broken = try finish(chain) { report.firstBreak = broken; break pages }
                        walker = ChainWalker(subjectId: entry.subjectId)
                        headAtCheckpoint = nil
                        report.chains += 1
                    }
                    report.entries += 1
                    if !walker!.feed(entry) { report.firstBreak = walker!.broken; break pages }
                    if entry.id <= upTo { headAtCheckpoint = (entry.seq, entry.hash) }
                }
                guard let last = rows.last, rows.count == 5000 else { break }
                afterSubject = last.text(1)
                afterSeq = last.int(2)
            }
            if report.firstBreak == nil, let chain = walker, let broken = try finish(chain) { report.firstBreak = broken }
            if report.firstBreak == nil, let leftover = try heads.next() {
                report.firstBreak = LedgerBreak(subjectId: leftover.subjectId, seq: 1, reason: "chain has a head at \(leftover.seq) but no entries")
            }
            if report.firstBreak == nil, let checkpoint, root.finish() != checkpoint.root {
                report.firstBreak = LedgerBreak(subjectId: "", seq: 0, reason: "chains do not match checkpoint \(checkpoint.id): history before it was rewritten or removed")
            }
            report.isIntact = report.firstBreak == nil
            return report
        }
    }

    /// One subject's chain (ciphertext and hashes only) with the newest checkpoint, for offline proof.
    public func chain(subjectId: String) async throws -> (entries: [LedgerEntry], checkpoint: Checkpoint?) {
        try await database.read { connection in
            let entries = try self.ledgerEntries(connection, subjectId: subjectId)
            if entries.isEmpty { throw CandorError(.notFound, "no subject '\(subjectId)'") }
            let checkpoint = try connection.queryOne("SELECT body FROM checkpoints ORDER BY up_to_entry DESC LIMIT 1")
                .map { try CandorJSON.decode(Checkpoint.self, from: $0.text(0)) }
            return (entries, checkpoint)
        }
    }
}

/// The last entry of a subject's chain.
struct LedgerHead {
    var seq: Int64
    var hash: [UInt8]
}

/// A ledger entry sealed ahead of its transaction (see `sealLedgerEntry`).
struct SealedLedgerEntry: Sendable {
    var kind: String
    var createdAt: Int64
    var payload: [UInt8]
}

/// Reads `ledger_heads` in subject order, a page at a time, alongside the entries.
struct HeadStream {
    struct Head {
        var subjectId: String
        var seq: Int64
        var hash: [UInt8]
    }

    let connection: SQLConnection
    var buffer: [Head] = []
    var after = ""
    var exhausted = false

    init(connection: SQLConnection) { self.connection = connection }

    mutating func peek() throws -> Head? {
        if buffer.isEmpty && !exhausted {
            let rows = try connection.query("SELECT subject_id, seq, hash FROM ledger_heads WHERE subject_id > ? ORDER BY subject_id LIMIT 5000", [.text(after)])
            buffer = rows.reversed().map { Head(subjectId: $0.text(0), seq: $0.int(1), hash: $0.blob(2)) }
            if let last = rows.last { after = last.text(0) }
            exhausted = rows.count < 5000
        }
        return buffer.last
    }

    mutating func next() throws -> Head? {
        let head = try peek()
        if head != nil { buffer.removeLast() }
        return head
    }
}
