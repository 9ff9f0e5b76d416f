import CandorCore
import Foundation

extension CandorStore {
    /// The newest incentive pools with their counts, for the console's pool list: at most `limit`
    /// pools, each counted over its own codes through the `(pool_id, code)` primary key (no scan of
    /// other pools' codes, nothing personal read).
    public func incentivePools(limit: Int) async throws -> [IncentivePool] {
        let now = self.now
        let limit = Int64(max(1, min(limit, 500)))
        return try await database.read { connection in
            let rows = try connection.query(
                """
                SELECT p.id, p.name, p.expires_at, p.created_at, count(c.code), count(c.issued_at)
                FROM (SELECT id, name, expires_at, created_at FROM incentive_pools ORDER BY created_at DESC, id LIMIT ?) p
                LEFT JOIN incentive_codes c ON c.pool_id = p.id
                GROUP BY p.id, p.name, p.expires_at, p.created_at
                ORDER BY p.created_at DESC, p.id
                """, .int(limit))
            return rows.map { row in
                let size = Int(row.int(4)), issued = Int(row.int(5))
                let expiresAt = row.optionalInt(2)
                return IncentivePool(id: row.text(0), name: row.text(1), expiresAt: expiresAt.map(Timestamp.rfc3339), isExpired: expiresAt.map { $0 <= now } ?? false,
                                     size: size, issued: issued, remaining: size - issued, createdAt: Timestamp.rfc3339(row.int(3)))
            }
        }
    }
}
