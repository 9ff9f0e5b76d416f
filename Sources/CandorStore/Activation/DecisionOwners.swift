/// Finds a person's decisions on SQLite without an index by person on disk.
///
/// Decisions are logged for random people at thousands per second. An index on `decisions (subject_id)`
/// put every one of them on a random leaf page: one page written to the WAL and copied back by the
/// checkpoint per decision, a quarter of decide's throughput at 1M people (decide ratio 0.35–0.37 with
/// it, see docs/segments.md). The people of decisions are instead kept here, in memory: a 32-bit hash
/// of the person per decision, in `rowid` order (4 bytes a decision), read from the table itself.
///
/// It is an index, never the truth: a lookup gives candidate rows whose `subject_id` the query still
/// compares, so a hash collision costs one row read and nothing else. Rows are read from committed
/// snapshots only (`advance`, on a read connection), so a transaction that rolls back never leaves a
/// trace; rows newer than what was read — another process's, this transaction's own — are covered by
/// the lookup itself, which also takes every row past the last one read (`rowid > watermark`).
///
/// Decisions are never deleted (an erasure blanks `subject_id`), so rowids only grow and are never
/// reused: if decisions ever get a retention that deletes rows, the table needs AUTOINCREMENT first.
/// PostgreSQL keeps its index (`decisions_by_subject`); its nodes share no memory.
final class DecisionOwners: Sendable {
    private struct State {
        /// hashes[i] is the person of the decision with rowid i + 1 (0: a gap, or no person).
        var hashes: [UInt32] = []
        var watermark: Int64 { Int64(hashes.count) }
    }

    private let state = Locked(State())
    /// Rows read per query while catching up, so a long backlog is read in steps.
    static let readStep = 50_000

    /// The hash a person's decisions are filed under (never 0, which marks rows without a person).
    static func hash(_ subjectId: String) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(subjectId)
        let value = UInt32(truncatingIfNeeded: hasher.finalize())
        return value == 0 ? 1 : value
    }

    /// The last rowid read into memory.
    var watermark: Int64 { state.withLock { $0.watermark } }

    /// Reads the decisions committed since the last call (from a read connection: committed rows only).
    func advance(_ connection: SQLConnection) throws {
        while true {
            let from = watermark
            let rows = try connection.query("SELECT rowid, subject_id FROM decisions WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                            [.int(from), .int(Int64(Self.readStep))])
            let count = state.withLock { state -> Int in
                // Another caller may have read some of these already; take only what lies past its end.
                for row in rows where row.int(0) > state.watermark {
                    let rowid = row.int(0), subject = row.text(1)
                    while state.watermark < rowid - 1 { state.hashes.append(0) }
                    state.hashes.append(subject.isEmpty ? 0 : Self.hash(subject))
                }
                return rows.count
            }
            if count < Self.readStep { return }
        }
    }

    /// The rowids in memory that may be this person's decisions, and the watermark they were read up to:
    /// every decision of the person has a rowid in the list or above the watermark.
    func candidates(_ subjectId: String) -> (rowids: [Int64], watermark: Int64) {
        let wanted = Self.hash(subjectId)
        return state.withLock { state in
            var rowids = [Int64]()
            state.hashes.withUnsafeBufferPointer { hashes in
                for index in hashes.indices where hashes[index] == wanted { rowids.append(Int64(index + 1)) }
            }
            return (rowids, state.watermark)
        }
    }
}

extension CandorStore {
    /// A condition on `decisions` (under `alias`) that holds for exactly the person's decisions, with its
    /// arguments. SQLite: the rows that `DecisionOwners` names, and any written since it last read, whose
    /// `subject_id` matches; it reads what was committed since its last look first (from a read
    /// connection, so call this outside a write transaction). PostgreSQL: the index by person.
    func decisionsOf(_ subjectId: String, alias: String = "decisions") async throws -> (sql: String, arguments: [SQLValue]) {
        guard database.dialect == .sqlite else { return ("\(alias).subject_id = ?", [.text(subjectId)]) }
        let owners = decisionOwners
        try await database.read { try owners.advance($0) }
        let (rowids, watermark) = owners.candidates(subjectId)
        let list = "[" + rowids.map(String.init).joined(separator: ",") + "]"
        return ("\(alias).rowid IN (SELECT value FROM json_each(?) UNION ALL SELECT rowid FROM decisions WHERE rowid > ?) AND \(alias).subject_id = ?",
                [.text(list), .int(watermark), .text(subjectId)])
    }
}
