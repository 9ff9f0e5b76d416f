import CandorCore
import Foundation

extension CandorStore {
    /// Restricts processing (kept, not used: GDPR Art. 18) or lifts the restriction. `selfService`: the
    /// person did it themselves (portal), audited as actor "subject", team "self-service".
    public func setRestricted(_ restricted: Bool, subjectId: String, by principal: Principal?, idempotency: IdempotencyRequest? = nil, selfService: Bool = false) async throws -> WriteOutcome<Subject> {
        if let replayed: WriteOutcome<Subject> = try await replay(principal, idempotency) { return replayed }
        return try await write(principal, idempotency: idempotency, status: 200, subjectId: subjectId) { connection -> Subject in
            let subject = try self.liveSubject(connection, subjectId)
            let status = subject.status
            let target: SubjectStatus = restricted ? .restricted : .active
            if status != target {
                try connection.execute("UPDATE subjects SET status = ?, updated_at = ? WHERE id = ?", .text(target.rawValue), .int(self.now), .text(subjectId))
                let kind = restricted ? "subject.restricted" : "subject.unrestricted"
                _ = try self.appendLedger(connection, subjectId: subjectId, key: subject.key, head: subject.head, kind: kind, record: LedgerRecord(actor: Self.ledgerActor(principal, selfService: selfService)))
                try self.audit(connection, principal, action: kind, subjectId: subjectId, selfService: selfService)
                try self.emit(connection, type: kind, subjectId: subjectId, data: [:])
            }
            guard let subject = try self.subjectRow(connection, subjectId) else { throw CandorError(.notFound, "no subject '\(subjectId)'") }
            return subject
        }
    }

    /// Erases a subject: every projection, pending event payload and stored answer is deleted, the key
    /// is destroyed (so the ledger's ciphertext can never be read again), and a tombstone and a final
    /// ledger entry remain. The chain still verifies. Freed space is then purged from the files.
    /// `selfService`: the person erased themselves (portal), audited as actor "subject", team "self-service".
    public func erase(subjectId: String, by principal: Principal?, idempotency: IdempotencyRequest? = nil, selfService: Bool = false) async throws -> WriteOutcome<Subject> {
        try await erase(subjectId: subjectId, by: principal, idempotency: idempotency, auditAction: "subject.erased", purge: true, selfService: selfService)
    }

    /// `erase`, audited under `auditAction` (retention erases as `retention.subject`); `purge: false`
    /// leaves purging freed space to the caller, which erases many and purges once.
    func erase(subjectId: String, by principal: Principal?, idempotency: IdempotencyRequest? = nil, auditAction: String, purge: Bool, selfService: Bool = false) async throws -> WriteOutcome<Subject> {
        if let replayed: WriteOutcome<Subject> = try await replay(principal, idempotency) { return replayed }
        // Decisions still in the journal are written first, so the erasure below strips the person from them too.
        try await flushDecisions(subjectId: subjectId)
        let decisions = try await decisionsOf(subjectId)
        let outcome = try await write(principal, idempotency: idempotency, status: 200, subjectId: subjectId) { connection -> Subject in
            let subject = try self.liveSubject(connection, subjectId)
            let createdAt = try connection.queryOne("SELECT created_at FROM subjects WHERE id = ?", .text(subjectId))?.int(0) ?? 0
            _ = try self.appendLedger(connection, subjectId: subjectId, key: subject.key, head: subject.head, kind: "subject.erased", record: LedgerRecord(actor: Self.ledgerActor(principal, selfService: selfService)))
            for table in ["profile_values", "consents", "subject_keys", "idempotency"] {
                try connection.execute("DELETE FROM \(table) WHERE subject_id = ?", .text(subjectId))
            }
            try connection.execute("UPDATE outbox SET payload = NULL, status = CASE WHEN status = 'pending' THEN 'purged' ELSE status END WHERE subject_id = ?", .text(subjectId))
            // Activation keeps its decisions (lift, and the offers they issued) but no longer says whom
            // they were about; used portal links go.
            try connection.execute("UPDATE decisions SET subject_id = '' WHERE \(decisions.sql)", decisions.arguments)
            try connection.execute("DELETE FROM used_links WHERE subject_id = ?", .text(subjectId))
            // Surveys: progress and quiz answers go; an issued code stays spent but no longer names anyone.
            for table in ["survey_progress", "survey_responses", "incentive_issues"] {
                try connection.execute("DELETE FROM \(table) WHERE subject_id = ?", .text(subjectId))
            }
            // Prompts: the person's history and settings go; browsers linked to them are forgotten.
            try connection.execute("DELETE FROM prompt_history WHERE person = ?", .text(subjectId))
            try connection.execute("DELETE FROM prompt_people WHERE subject_id = ?", .text(subjectId))
            try connection.execute("DELETE FROM prompt_visitors WHERE subject_id = ? OR anon_subject_id = ?", .text(subjectId), .text(subjectId))
            // Newsletters: what became of each campaign mail to the person goes (Store+Campaigns.swift).
            try connection.execute("DELETE FROM campaign_recipients WHERE subject_id = ?", .text(subjectId))
            // Automations: the person's runs and alert log go (Store+Automations.swift).
            try self.eraseAutomationData(connection, subjectId: subjectId)
            let at = self.now
            try connection.execute(
                """
                UPDATE subjects SET external_id = NULL, external_id_hash = NULL, external_id_cipher = NULL, email_hash = NULL, email_cipher = NULL,
                  status = 'erased', updated_at = ?, erased_at = ? WHERE id = ?
                """,
                .int(at), .int(at), .text(subjectId))
            try self.audit(connection, principal, action: auditAction, subjectId: subjectId, selfService: selfService)
            // Recipients must be told (GDPR Art. 19); the event carries the id only.
            try self.emit(connection, type: "subject.erased", subjectId: subjectId, data: [:])
            return Subject(id: subjectId, externalId: nil, hasEmail: false, status: .erased, createdAt: Timestamp.rfc3339(createdAt), updatedAt: Timestamp.rfc3339(at), erasedAt: Timestamp.rfc3339(at))
        }
        if purge { try await database.purgeFreedSpace() }
        return outcome
    }
}
