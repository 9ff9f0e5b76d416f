import CandorCore
import CandorStore
import Foundation
import Testing

/// What the console's teams page reads and does with operators, on every backend: last sign-in, the
/// lockout as an administrator sees it, and unlocking.
extension StoreContractTests {
    @Test("An administrator sees the last sign-in and the lockout, and unlocking lets the operator sign in at once", arguments: Backend.available)
    func operatorUnlock(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let account = try await h.store.createOperator(email: "lock@example.com", name: "Lock", team: "ops", passwordHash: "$2b$04$hash", by: nil)
            var status = try #require(try await h.store.operatorStatuses(team: "ops").first)
            #expect(status.lastSignInAt == nil && status.lockedUntil == nil)
            _ = try await h.store.openOperatorSession(account)
            status = try #require(try await h.store.operatorStatuses(team: "ops").first)
            #expect(status.lastSignInAt != nil)
            #expect(try await h.store.operatorStatuses(team: "nobody").isEmpty)

            for _ in 0..<OperatorPolicy.maxFailures {
                try await h.store.recordFailedLogin(try #require(try await h.store.operatorCredentials(email: account.email)), outcome: .wrongPassword)
            }
            #expect(try await h.store.operatorStatuses().first { $0.account.id == account.id }?.lockedUntil != nil)

            let admin = try #require(h.store.principal(for: account))
            let unlocked = try await h.store.unlockOperator(id: account.id, by: admin)
            #expect(unlocked.id == account.id)
            #expect(!h.store.isLocked(try #require(try await h.store.operatorCredentials(email: account.email))))
            #expect(try await h.store.operatorStatuses(team: "ops").first?.lockedUntil == nil)
            let audit = try await h.store.auditLog(AuditQuery(action: "operator.unlock"), cursor: nil, limit: 5).data
            #expect(audit.map(\.actor) == [account.id])

            // The count restarted: one more failure does not lock again
            try await h.store.recordFailedLogin(try #require(try await h.store.operatorCredentials(email: account.email)), outcome: .wrongPassword)
            #expect(!h.store.isLocked(try #require(try await h.store.operatorCredentials(email: account.email))))

            let missing = await candorError { _ = try await h.store.unlockOperator(id: "op_nobody", by: admin) }
            #expect(missing?.kind == .notFound)
        }
    }
}
