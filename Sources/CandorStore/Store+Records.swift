import CandorCore
import Foundation

extension CandorStore {
    /// The record of processing activities (GDPR Art. 30) from the registry as last loaded. Registry data
    /// only, never personal data, so it needs no audit.
    public func recordOfProcessing(language: String = "en") -> RecordOfProcessing {
        let registry = self.registry
        return RecordOfProcessing.build(
            purposes: Array(registry.purposes.values), fields: Array(registry.fields.values), teams: Array(registry.teams.values),
            controller: dataController, generatedAt: Timestamp.rfc3339(now), language: language)
    }

    /// Records a read by a principal in the audit log, durably, before the data is handed out. For routes
    /// that call store functions which do not audit themselves (receipts, proofs).
    public func auditRead(_ principal: Principal, action: String, purpose: String? = nil, subjectId: String? = nil) async throws {
        try await auditOnly(principal, action: action, purpose: purpose, subjectId: subjectId)
    }
}
