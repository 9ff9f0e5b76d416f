import CandorCore
import Foundation

// What the console's teams page needs to administer operators: when each last signed in, whether the
// lockout holds them, and a way for an administrator to lift it early (issue 7). Kept apart from
// Store+Operators.swift, which is about signing in.

extension Migrations {
    /// When each operator last signed in (written by `openOperatorSession`), shown on the teams page.
    static let operatorSignInV1 = Migration(
        name: "operator_sign_in_v1",
        sqlite: ["ALTER TABLE operators ADD COLUMN last_sign_in_at INTEGER"],
        postgres: ["ALTER TABLE operators ADD COLUMN last_sign_in_at BIGINT"])
}

/// An operator as an administrator sees them: the account, the last sign-in, and the lockout.
public struct OperatorStatus: Sendable, Hashable {
    public var account: Operator
    /// RFC 3339; nil when the operator never signed in.
    public var lastSignInAt: String?
    /// RFC 3339 end of the lockout when the account is locked now; nil when it is not.
    public var lockedUntil: String?
}

extension CandorStore {
    /// The live operators of a team (every team when nil) with their last sign-in and lockout, by e-mail address.
    /// Operators are staff, a short list: read whole.
    public func operatorStatuses(team: String? = nil) async throws -> [OperatorStatus] {
        let at = now
        var sql = "SELECT \(Self.operatorColumns), last_sign_in_at, locked_until FROM operators WHERE disabled_at IS NULL"
        var arguments = [SQLValue]()
        if let team {
            sql += " AND team = ?"
            arguments.append(.text(team))
        }
        sql += " ORDER BY email"
        let query = sql
        let values = arguments
        return try await database.read { connection in
            try connection.query(query, values).map { row in
                let locked = row.optionalInt(6).flatMap { $0 > at ? Timestamp.rfc3339($0) : nil }
                return OperatorStatus(account: Self.operatorAccount(row), lastSignInAt: row.optionalInt(5).map(Timestamp.rfc3339), lockedUntil: locked)
            }
        }
    }

    /// Lifts an operator's lockout at once and restarts their failure count, audited as `operator.unlock`
    /// under the acting principal. Unlocking an account that is not locked changes nothing but is not an
    /// error (two administrators may click at once).
    public func unlockOperator(id: String, by principal: Principal?) async throws -> Operator {
        let unlocked: Operator? = try await committer.submit { connection in
            guard let row = try connection.queryOne("SELECT \(Self.operatorColumns) FROM operators WHERE id = ? AND disabled_at IS NULL", .text(id)) else {
                return nil
            }
            try connection.execute("UPDATE operators SET locked_until = NULL, failed_attempts = 0 WHERE id = ?", .text(id))
            try self.audit(connection, principal, action: "operator.unlock", fields: ["locked_until"])
            return Self.operatorAccount(row)
        }
        guard let unlocked else { throw CandorError(.notFound, "no operator '\(id)'") }
        return unlocked
    }

    /// When each API key was last used (key id → RFC 3339), for keys used at least once. Written at most
    /// hourly per key (see `noteKeyUse`), so it is "last used within the hour".
    public func keyLastUse() async throws -> [String: String] {
        try await database.read { connection in
            var result = [String: String]()
            for row in try connection.query("SELECT id, last_used_at FROM api_keys WHERE last_used_at IS NOT NULL", []) {
                result[row.text(0)] = Timestamp.rfc3339(row.int(1))
            }
            return result
        }
    }
}
