import CandorCore
import Foundation

extension CandorStore {
    /// The controller named in receipts and in the record of processing.
    public var dataController: DataController { controllerBox.withLock { $0 } }

    /// Sets the controller named in receipts (from the server's configuration, at start-up).
    public func setDataController(_ controller: DataController) {
        controllerBox.withLock { $0 = controller }
    }

    /// Every consent change of a subject as a Kantara Consent Receipt v1.1, oldest first.
    /// No principal and no audit here: the caller (an admin route, or the person's own portal) audits.
    /// Throws 404 for an unknown subject and 410 for an erased one (their key is gone, so are the receipts).
    public func consentReceipts(subjectId: String) async throws -> [ConsentReceiptDocument] {
        try await consentEvents(subjectId: subjectId, seq: nil).map(receipt)
    }

    /// The receipt of the consent change at ledger position `seq`; 404 when that entry is not a consent change.
    public func consentReceipt(subjectId: String, seq: Int64) async throws -> ConsentReceiptDocument {
        guard let event = try await consentEvents(subjectId: subjectId, seq: seq).first else {
            throw CandorError(.notFound, "subject '\(subjectId)' has no consent change at ledger position \(seq)")
        }
        return receipt(event)
    }

    func receipt(_ event: ConsentEvent) -> ConsentReceiptDocument {
        let registry = self.registry
        return ConsentReceiptBuilder.receipt(
            for: event, purposes: registry.purposes, fields: Array(registry.fields.values), notices: registry.notices,
            controller: dataController)
    }

    /// Reads and opens a subject's consent entries from the ledger (one of them when `seq` is given).
    func consentEvents(subjectId: String, seq: Int64?) async throws -> [ConsentEvent] {
        try await database.read { connection -> [ConsentEvent] in
            guard let row = try connection.queryOne("SELECT status FROM subjects WHERE id = ?", .text(subjectId)) else {
                throw CandorError(.notFound, "no subject '\(subjectId)'")
            }
            if row.text(0) == SubjectStatus.erased.rawValue { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            let key = try self.subjectKey(connection, subjectId)
            var sql = "SELECT \(Self.entryColumns) FROM ledger_entries WHERE subject_id = ? AND kind = ?"
            var arguments: [SQLValue] = [.text(subjectId), .text("consent")]
            if let seq {
                sql += " AND seq = ?"
                arguments.append(.int(seq))
            }
            return try connection.query(sql + " ORDER BY seq", arguments).map(Self.entry).map { entry in
                let record = try CandorJSON.decode(LedgerRecord.self, from: SubjectCipher.open(entry.payload, key: key, subjectId: subjectId))
                return ConsentEvent(subjectId: subjectId, seq: entry.seq, entryHash: entry.hash, recordedAt: entry.createdAt, changes: record.consents ?? [])
            }
        }
    }
}
