import CandorCore
import Foundation

/// What one retention run removed.
public struct RetentionReport: Codable, Sendable, Hashable {
    /// Current values removed because their field's retention passed since they were declared.
    public var declarations: Int
    /// Consent records removed because their purpose's retention passed since they last changed.
    public var consents: Int
    /// Anonymous subjects (no external id, no e-mail) inactive for longer than the limit, erased.
    public var anonymousSubjects: Int
    /// Rights requests completed more than 24 months ago, removed from the log.
    public var requests: Int
    public var ranAt: String

    enum CodingKeys: String, CodingKey {
        case declarations, consents, requests
        case anonymousSubjects = "anonymous_subjects"
        case ranAt = "ran_at"
    }
}

extension CandorStore {
    /// How many rows one retention transaction removes, so a large backlog never holds a long lock.
    static let retentionBatch = 500

    /// Removes what has outlived its retention (GDPR Art. 5(1)(e)), auditing every removal as
    /// `retention.*` with the subject and fields:
    /// - current values older than their field's `retention_days` (by `declared_at`);
    /// - consent records older than their purpose's `retention_days` (by `updated_at`);
    /// - anonymous subjects with no ledger activity for `anonymousInactiveDays` (erased, crypto-shredded);
    /// - completed rights requests older than 24 months.
    ///
    /// Poll raw data is not covered: polls do not exist yet (issue 3). When they land, deleting raw
    /// responses of closed polls belongs here, with its own `retention.poll` audit action.
    ///
    /// The encrypted ledger keeps its entries (it is the proof), but only the subject's key opens them;
    /// values removed here are no longer used or shown anywhere.
    public func runRetention(anonymousInactiveDays: Int = 395) async throws -> RetentionReport {
        let now = self.now
        let registry = self.registry
        var report = RetentionReport(declarations: 0, consents: 0, anonymousSubjects: 0, requests: 0, ranAt: Timestamp.rfc3339(now))

        for field in registry.fields.values.sorted(by: { $0.key < $1.key }) where field.retentionDays > 0 {
            let cutoff = now - Int64(field.retentionDays) * Self.dayMillis
            report.declarations += try await removeInBatches(
                select: "SELECT subject_id FROM profile_values WHERE field = ? AND declared_at < ? AND subject_id > ? ORDER BY subject_id LIMIT ?",
                arguments: [.text(field.key), .int(cutoff)]
            ) { connection, subjectId in
                try connection.execute("DELETE FROM profile_values WHERE subject_id = ? AND field = ? AND declared_at < ?", .text(subjectId), .text(field.key), .int(cutoff))
                try self.audit(connection, nil, action: "retention.declaration", subjectId: subjectId, fields: [field.key])
            }
        }
        for purpose in registry.purposes.values.sorted(by: { $0.key < $1.key }) where purpose.retentionDays > 0 {
            let cutoff = now - Int64(purpose.retentionDays) * Self.dayMillis
            report.consents += try await removeInBatches(
                select: "SELECT subject_id FROM consents WHERE purpose = ? AND updated_at < ? AND subject_id > ? ORDER BY subject_id LIMIT ?",
                arguments: [.text(purpose.key), .int(cutoff)]
            ) { connection, subjectId in
                try connection.execute("DELETE FROM consents WHERE subject_id = ? AND purpose = ? AND updated_at < ?", .text(subjectId), .text(purpose.key), .int(cutoff))
                try self.audit(connection, nil, action: "retention.consent", purpose: purpose.key, subjectId: subjectId)
            }
        }

        // Activity is any ledger entry (every write appends one), not only `updated_at`, which declarations do not touch.
        let inactiveSince = now - Int64(anonymousInactiveDays) * Self.dayMillis
        while true {
            let ids = try await database.read { connection in
                try connection.query(
                    """
                    SELECT s.id FROM subjects s WHERE s.status <> 'erased' AND s.external_id IS NULL AND s.external_id_hash IS NULL AND s.email_hash IS NULL AND s.updated_at < ?
                      AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.subject_id = s.id AND e.created_at >= ?)
                    ORDER BY s.id LIMIT ?
                    """, [.int(inactiveSince), .int(inactiveSince), .int(Int64(Self.retentionBatch))]
                ).map { $0.text(0) }
            }
            if ids.isEmpty { break }
            for id in ids {
                do {
                    _ = try await erase(subjectId: id, by: nil, auditAction: "retention.subject", purge: false)
                    report.anonymousSubjects += 1
                } catch let error as CandorError where error.kind == .gone || error.kind == .notFound {
                    continue // erased meanwhile
                }
            }
            if ids.count < Self.retentionBatch { break }
        }
        if report.anonymousSubjects > 0 { try await database.purgeFreedSpace() }

        let requestCutoff = Deadlines.addingMonths(-Self.requestLogMonths, to: now)
        report.requests = try await removeInBatches(
            select: "SELECT id FROM rights_requests WHERE status = 'completed' AND completed_at < ? AND id > ? ORDER BY id LIMIT ?",
            arguments: [.int(requestCutoff)]
        ) { connection, requestId in
            let subjectId = try connection.queryOne("SELECT subject_id FROM rights_requests WHERE id = ?", .text(requestId))?.optionalText(0)
            try connection.execute("DELETE FROM rights_requests WHERE id = ?", .text(requestId))
            try self.audit(connection, nil, action: "retention.request", subjectId: subjectId, outcome: requestId)
        }
        // Removed values emit no events, so the segment index is rebuilt rather than followed.
        if report.declarations + report.consents > 0 { try await reloadSegmentIndex() }
        return report
    }

    /// Selects keys in batches and removes each in a transaction per batch; returns how many were removed.
    /// `select` takes `arguments` then the batch size.
    /// `select` ends with `AND key > ? ORDER BY key LIMIT ?`: each batch continues after the last key
    /// seen, so a run reads the candidates once instead of rescanning from the start for every batch.
    func removeInBatches(select: String, arguments: [SQLValue], _ remove: @escaping (SQLConnection, String) throws -> Void) async throws -> Int {
        var removed = 0
        var after = ""
        while true {
            let batch = try await database.read { [after] connection in
                try connection.query(select, arguments + [.text(after), .int(Int64(Self.retentionBatch))]).map { $0.text(0) }
            }
            if batch.isEmpty { return removed }
            after = batch.last!
            _ = try await committer.submit { connection in
                for key in batch { try remove(connection, key) }
            }
            removed += batch.count
            if batch.count < Self.retentionBatch { return removed }
        }
    }
}
