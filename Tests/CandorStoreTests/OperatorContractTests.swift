import CandorCore
import CandorStore
import Foundation
import Testing

/// Operator accounts, the sign-in lockout, console sessions and the at-a-glance counts, on every backend.
/// Passwords are hashed in CandorServer (bcrypt); here the store only keeps what it is given.
extension StoreContractTests {
    static let minute: Int64 = 60_000

    @Test("An operator is validated before anything is written, and an address signs in once", arguments: Backend.available)
    func operatorValidation(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let audited = try await h.store.count("audit_log")
            // When the e-mail, name and team are all wrong
            let invalid = await candorError {
                _ = try await h.store.createOperator(email: "not-an-address", name: " ", team: "nobody", passwordHash: "$2b$04$x", by: nil)
            }
            // Then each is named, and nothing is stored
            #expect(invalid?.kind == .validation)
            #expect(Set(invalid?.errors.map(\.field) ?? []) == ["email", "name", "team"])
            #expect(try await h.store.count("operators") == 0)
            #expect(try await h.store.count("audit_log") == audited)

            // When a valid operator is created, the address is kept lower-cased, and a second one with it is a conflict
            let created = try await h.store.createOperator(email: " Ana@Example.com ", name: "Ana", team: "ops", passwordHash: "$2b$04$hash", by: nil)
            #expect(created.email == "ana@example.com" && created.id.hasPrefix("op_"))
            let duplicate = await candorError {
                _ = try await h.store.createOperator(email: "ana@example.com", name: "Other", team: "ops", passwordHash: "$2b$04$x", by: nil)
            }
            #expect(duplicate?.kind == .conflict && duplicate?.errors.map(\.field) == ["email"])
            #expect(try await h.store.operators().map(\.email) == ["ana@example.com"])
            // And signing in finds the account by any spelling of the address
            let credentials = try #require(try await h.store.operatorCredentials(email: "ANA@example.com"))
            #expect(credentials.passwordHash == "$2b$04$hash" && credentials.account.id == created.id)
            #expect(try await h.store.operatorCredentials(email: "bob@example.com") == nil)
            // And the operator acts as a principal of their team, named by their own id in the audit log
            let principal = try #require(h.store.principal(for: created))
            #expect(principal.team.key == "ops" && principal.key.id == created.id && principal.has(.erase))
        }
    }

    @Test("Five wrong passwords in a row lock an account for 15 minutes; a sign-in clears the count", arguments: Backend.available)
    func operatorLockout(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let account = try await h.store.createOperator(email: "ops@example.com", name: "Ops", team: "ops", passwordHash: "$2b$04$hash", by: nil)
            func credentials() async throws -> OperatorCredentials { try #require(try await h.store.operatorCredentials(email: account.email)) }

            // Four failures, a success, and four more do not lock: the count restarts at each sign-in
            for _ in 0..<4 { try await h.store.recordFailedLogin(try await credentials(), outcome: .wrongPassword) }
            #expect(!h.store.isLocked(try await credentials()))
            _ = try await h.store.openOperatorSession(account)
            for _ in 0..<4 { try await h.store.recordFailedLogin(try await credentials(), outcome: .wrongPassword) }
            #expect(!h.store.isLocked(try await credentials()))

            // The fifth in a row locks the account
            try await h.store.recordFailedLogin(try await credentials(), outcome: .wrongPassword)
            #expect(h.store.isLocked(try await credentials()))
            h.clock.advance(byMillis: 14 * Self.minute)
            #expect(h.store.isLocked(try await credentials()))
            // … for 15 minutes
            h.clock.advance(byMillis: Self.minute + 1)
            #expect(!h.store.isLocked(try await credentials()))

            // Every attempt is audited with its outcome, never with a password
            let log = try await h.store.auditLog(AuditQuery(action: "console.login"), cursor: nil, limit: 100).data
            #expect(log.filter { $0.outcome == "wrong_password" }.count == 9)
            #expect(log.filter { $0.outcome == "ok" }.count == 1)
            #expect(log.allSatisfy { $0.actor == account.id && $0.team == "ops" })
            try await h.store.recordFailedLogin(nil, outcome: .unknownOperator)
            let unknown = try await h.store.auditLog(AuditQuery(action: "console.login"), cursor: nil, limit: 100).data.last
            #expect(unknown?.actor == "unknown" && unknown?.outcome == "unknown_operator")
        }
    }

    @Test("A session lives 30 idle minutes and 12 hours at most; only its hash is stored; sign-out ends it", arguments: Backend.available)
    func operatorSessions(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let account = try await h.store.createOperator(email: "ops@example.com", name: "Ops", team: "ops", passwordHash: "$2b$04$hash", by: nil)
            let (token, opened) = try await h.store.openOperatorSession(account)
            #expect(token.count == 64)
            // The database never holds the token itself
            let stored = try await h.store.database.read { try $0.query("SELECT token_hash FROM operator_sessions", []).map { $0.text(0) } }
            #expect(stored == [opened.tokenHash] && !stored.contains(token))
            #expect(try await h.store.operatorSession(token: token)?.account.id == account.id)
            #expect(try await h.store.operatorSession(token: String(repeating: "a", count: 64)) == nil)
            #expect(try await h.store.operatorSession(token: "short") == nil)

            // Used every 29 minutes it stays open …
            for _ in 0..<3 {
                h.clock.advance(byMillis: 29 * Self.minute)
                #expect(try await h.store.operatorSession(token: token) != nil)
            }
            // … left alone for 30 minutes it ends, and is deleted
            h.clock.advance(byMillis: 30 * Self.minute)
            #expect(try await h.store.operatorSession(token: token) == nil)
            #expect(try await h.store.count("operator_sessions") == 0)

            // However busy, a session ends 12 hours after sign-in
            let (busy, _) = try await h.store.openOperatorSession(account)
            for _ in 0..<(12 * 60 / 20 - 1) {
                h.clock.advance(byMillis: 20 * Self.minute)
                #expect(try await h.store.operatorSession(token: busy) != nil)
            }
            h.clock.advance(byMillis: 20 * Self.minute)
            #expect(try await h.store.operatorSession(token: busy) == nil)

            // Signing out deletes the session: the same cookie opens nothing afterwards
            let (fresh, session) = try await h.store.openOperatorSession(account)
            try await h.store.endOperatorSession(session)
            #expect(try await h.store.operatorSession(token: fresh) == nil)
            let actions = try await h.store.auditLog(AuditQuery(subjectId: nil), cursor: nil, limit: 500).data.map(\.action)
            #expect(actions.contains("console.logout"))
        }
    }

    @Test("The at-a-glance counts: ledger days counted incrementally, consents and profile depth", arguments: Backend.available)
    func glanceCounts(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let first = try await h.newSubject(externalId: "a")
            let second = try await h.newSubject(externalId: "b")
            try await h.declare(first, ["interests": .array([.string("running")]), "shoe_size": .number(42)])
            try await h.declare(second, ["interests": .array([.string("yoga")])])
            _ = try await h.store.setConsents(subjectId: first, [ConsentInput(purpose: "newsletter", status: "granted", method: "checkbox", noticeVersion: 1)], by: h.principal)

            let counts = try await h.store.ledgerDayCounts(afterEntry: 0)
            let today = h.clock.nowMillis() / 86_400_000
            #expect(counts.byKind["declaration"]?[today] == 2)
            #expect(counts.byKind["consent"]?[today] == 1)
            // Counting again after the last entry reads only what is new
            #expect(try await h.store.ledgerDayCounts(afterEntry: counts.lastEntry).byKind.isEmpty)
            h.clock.advance(byMillis: 86_400_000)
            try await h.declare(second, ["shoe_size": .number(39)])
            var merged = counts
            merged.merge(try await h.store.ledgerDayCounts(afterEntry: counts.lastEntry))
            #expect(merged.byKind["declaration"]?[today] == 2 && merged.byKind["declaration"]?[today + 1] == 1)

            // The daily counters in the database: rolled up once, never counted twice, continued after the mark
            h.clock.advance(byMillis: 11_000)  // PostgreSQL counts only entries a few seconds old
            while try await h.store.rollUpLedgerDays(batch: 2) {}
            #expect(try await h.store.rollUpLedgerDays() == false)
            var days = try await h.store.ledgerDays(fromDay: today)
            #expect(days.byKind["declaration"] == [today: 2, today + 1: 1] && days.byKind["consent"] == [today: 1])
            try await h.declare(first, ["shoe_size": .number(44)])
            h.clock.advance(byMillis: 11_000)
            try await h.store.rollUpLedgerDays()
            days = try await h.store.ledgerDays(fromDay: today + 1)
            #expect(days.byKind["declaration"] == [today + 1: 2] && days.byKind["consent"] == nil)

            let totals = try await h.store.glanceTotals()
            #expect(totals.people == 2)
            #expect(totals.consents.map { "\($0.purpose)=\($0.granted)" } == ["newsletter=1"])
            #expect(Dictionary(uniqueKeysWithValues: totals.depth.map { ($0.field, $0.people) }) == ["interests": 2, "shoe_size": 2])
            #expect(totals.requestsOpen == 0 && totals.deliveries.isEmpty)
        }
    }
}
