import CandorCore
import Foundation

extension Migrations {
    /// Incentives (issue 3, item 3): code pools, their codes, and what each person was given per survey.
    ///
    /// `incentive_codes` never names a person: a spent code only has `issued_at`. Who got it is in
    /// `incentive_issues`, whose primary key (subject, survey) makes a second issue impossible even if two
    /// completions raced; erasure deletes that row, so the code stays spent but is no longer anybody's.
    /// The partial index finds a free code without scanning the spent ones.
    static let incentivesV1 = Migration(
        name: "incentives_v1",
        sqlite: [
            "CREATE TABLE incentive_pools (id TEXT PRIMARY KEY, name TEXT NOT NULL, expires_at INTEGER, created_at INTEGER NOT NULL)",
            "CREATE TABLE incentive_codes (pool_id TEXT NOT NULL, code TEXT NOT NULL, issued_at INTEGER, PRIMARY KEY (pool_id, code))",
            "CREATE INDEX incentive_codes_free ON incentive_codes (pool_id, code) WHERE issued_at IS NULL",
            """
            CREATE TABLE incentive_issues (subject_id TEXT NOT NULL, survey_id TEXT NOT NULL, type TEXT NOT NULL, pool_id TEXT, code TEXT,
              issued_at INTEGER NOT NULL, PRIMARY KEY (subject_id, survey_id))
            """,
        ],
        postgres: [
            "CREATE TABLE incentive_pools (id TEXT PRIMARY KEY, name TEXT NOT NULL, expires_at BIGINT, created_at BIGINT NOT NULL)",
            "CREATE TABLE incentive_codes (pool_id TEXT NOT NULL, code TEXT NOT NULL, issued_at BIGINT, PRIMARY KEY (pool_id, code))",
            "CREATE INDEX incentive_codes_free ON incentive_codes (pool_id, code) WHERE issued_at IS NULL",
            """
            CREATE TABLE incentive_issues (subject_id TEXT NOT NULL, survey_id TEXT NOT NULL, type TEXT NOT NULL, pool_id TEXT, code TEXT,
              issued_at BIGINT NOT NULL, PRIMARY KEY (subject_id, survey_id))
            """,
        ])
}

/// What an administrator sends to create a code pool.
public struct IncentivePoolInput: Codable, Sendable {
    public var name: String
    /// RFC 3339; after it no code of the pool is issued.
    public var expiresAt: String?

    enum CodingKeys: String, CodingKey {
        case name
        case expiresAt = "expires_at"
    }

    public init(name: String, expiresAt: String? = nil) {
        self.name = name
        self.expiresAt = expiresAt
    }
}

/// Codes to generate from a pattern: `#` is a digit, `X` a capital letter or digit.
public struct IncentiveGenerateInput: Codable, Sendable {
    public var generate: Int
    public var pattern: String

    public init(generate: Int, pattern: String) {
        self.generate = generate
        self.pattern = pattern
    }
}

/// A pool with its counts.
public struct IncentivePool: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var expiresAt: String?
    public var isExpired: Bool
    public var size: Int
    public var issued: Int
    public var remaining: Int
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, size, issued, remaining
        case expiresAt = "expires_at"
        case isExpired = "expired"
        case createdAt = "created_at"
    }
}

/// What a person was given for completing a survey.
public struct IssuedIncentive: Codable, Sendable, Hashable {
    public var surveyId: String
    public var type: SurveyIncentiveType
    public var code: String?
    public var text: [String: String]?
    public var url: String?
    public var issuedAt: String

    enum CodingKeys: String, CodingKey {
        case type, code, text, url
        case surveyId = "survey_id"
        case issuedAt = "issued_at"
    }
}

/// How the incentive of a completion turned out.
public enum IncentiveOutcome: String, Codable, Sendable {
    case issued
    /// Every code of the pool was already given out.
    case exhausted
    /// The pool's expiry has passed.
    case expired
    /// The survey offers none.
    case none
}

extension CandorStore {
    // MARK: - Pools

    /// Creates an empty pool.
    public func createIncentivePool(_ input: IncentivePoolInput, by principal: Principal) async throws -> IncentivePool {
        var errors = [FieldError]()
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty || name.count > 200 { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        var expiresAt: Int64?
        if let text = input.expiresAt {
            if let millis = Timestamp.parse(text) { expiresAt = millis } else { errors.append(FieldError("expires_at", "must be an RFC 3339 time")) }
        }
        if !errors.isEmpty { throw CandorError.invalid(errors) }
        let id = Identifier.make("ipl")
        let at = now
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("INSERT INTO incentive_pools (id, name, expires_at, created_at) VALUES (?, ?, ?, ?)", .text(id), .text(name), .int(expiresAt), .int(at))
            try self.audit(connection, principal, action: "incentive_pool.create")
        }
        guard let pool = try await incentivePool(id) else { throw CandorStoreError.corrupt("pool \(id) vanished") }
        return pool
    }

    /// A pool with its size, issued and remaining counts; nil when unknown.
    public func incentivePool(_ id: String) async throws -> IncentivePool? {
        let now = self.now
        return try await database.read { connection in
            guard let row = try connection.queryOne("SELECT id, name, expires_at, created_at FROM incentive_pools WHERE id = ?", .text(id)) else { return nil }
            let counts = try connection.queryOne("SELECT count(*), count(issued_at) FROM incentive_codes WHERE pool_id = ?", .text(id))
            let size = Int(counts?.int(0) ?? 0), issued = Int(counts?.int(1) ?? 0)
            let expiresAt = row.optionalInt(2)
            return IncentivePool(id: row.text(0), name: row.text(1), expiresAt: expiresAt.map(Timestamp.rfc3339), isExpired: expiresAt.map { $0 <= now } ?? false,
                                 size: size, issued: issued, remaining: size - issued, createdAt: Timestamp.rfc3339(row.int(3)))
        }
    }

    /// Adds uploaded codes to a pool. A code already in the pool refuses the whole upload (nothing is added).
    public func addIncentiveCodes(poolId: String, codes: [String], by principal: Principal) async throws -> IncentivePool {
        guard try await incentivePool(poolId) != nil else { throw CandorError(.notFound, "no incentive pool '\(poolId)'") }
        _ = try await committer(for: nil).submit { connection in
            // One savepoint of the group commit: a duplicate throws and rolls back every code of this upload.
            for (index, code) in codes.enumerated() {
                if try connection.queryOne("SELECT 1 FROM incentive_codes WHERE pool_id = ? AND code = ?", .text(poolId), .text(code)) != nil {
                    throw CandorError.invalid("body.code[\(index)]", "'\(code)' is already in the pool")
                }
                try connection.execute("INSERT INTO incentive_codes (pool_id, code) VALUES (?, ?)", .text(poolId), .text(code))
            }
            try self.audit(connection, principal, action: "incentive_pool.codes_added")
        }
        return try await incentivePool(poolId)!
    }

    /// Generates `count` fresh codes from a pattern, distinct from each other and from the pool's codes.
    public func generateIncentiveCodes(poolId: String, _ input: IncentiveGenerateInput, by principal: Principal) async throws -> IncentivePool {
        if let problem = IncentiveCodes.patternProblem(input.pattern, count: input.generate) { throw CandorError.invalid([problem]) }
        guard try await incentivePool(poolId) != nil else { throw CandorError(.notFound, "no incentive pool '\(poolId)'") }
        _ = try await committer(for: nil).submit { connection in
            var random = SystemRandomNumberGenerator()
            var made = 0
            var attempts = 0
            // The pattern allows at least 1000× the request, so a collision is rare and retrying is cheap.
            while made < input.generate && attempts < input.generate * 20 {
                attempts += 1
                let code = IncentiveCodes.generate(input.pattern, using: &random)
                if try connection.queryOne("SELECT 1 FROM incentive_codes WHERE pool_id = ? AND code = ?", .text(poolId), .text(code)) != nil { continue }
                try connection.execute("INSERT INTO incentive_codes (pool_id, code) VALUES (?, ?)", .text(poolId), .text(code))
                made += 1
            }
            try self.audit(connection, principal, action: "incentive_pool.codes_generated")
        }
        return try await incentivePool(poolId)!
    }

    // MARK: - Issuing (inside the completing transaction)

    /// Gives the person the survey's incentive, once: a free code taken from the pool (locked so that no
    /// concurrent completion takes the same one), the static code, or the content. The primary key of
    /// `incentive_issues` is the last line of defence against a second issue.
    func issueIncentive(_ connection: SQLConnection, subjectId: String, survey: Survey, at: Int64) throws -> (IncentiveOutcome, IssuedIncentive?) {
        guard let incentive = survey.incentive else { return (.none, nil) }
        return try issueIncentive(connection, subjectId: subjectId, issueKey: survey.id, incentive: incentive, surveys: [survey.id: survey], at: at)
    }

    /// Issues `incentive` to the person once per `issueKey` (a survey id, or `automation:<id>` for an
    /// automation's action) and emits `incentive.issued` in the same transaction.
    func issueIncentive(_ connection: SQLConnection, subjectId: String, issueKey: String, incentive: SurveyIncentive, surveys: [String: Survey], at: Int64) throws -> (IncentiveOutcome, IssuedIncentive?) {
        if let existing = try Self.issuedIncentives(connection, subjectId: subjectId, surveyId: issueKey, surveys: surveys).first { return (.issued, existing) }
        var code: String?
        switch incentive.type {
        case .pool:
            let poolId = incentive.poolId ?? ""
            guard let pool = try connection.queryOne("SELECT expires_at FROM incentive_pools WHERE id = ?", .text(poolId)) else { return (.exhausted, nil) }
            if let expiresAt = pool.optionalInt(0), expiresAt <= at { return (.expired, nil) }
            // PostgreSQL: a code another node is handing out right now is skipped, never given twice.
            let lock = database.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            guard let free = try connection.queryOne(
                "SELECT code FROM incentive_codes WHERE pool_id = ? AND issued_at IS NULL ORDER BY code LIMIT 1\(lock)", .text(poolId))
            else { return (.exhausted, nil) }
            code = free.text(0)
            try connection.execute("UPDATE incentive_codes SET issued_at = ? WHERE pool_id = ? AND code = ? AND issued_at IS NULL", .int(at), .text(poolId), .text(code))
        case .staticCode:
            code = incentive.code
        case .content:
            code = nil
        }
        try connection.execute(
            "INSERT INTO incentive_issues (subject_id, survey_id, type, pool_id, code, issued_at) VALUES (?, ?, ?, ?, ?, ?)",
            .text(subjectId), .text(issueKey), .text(incentive.type.rawValue), .text(incentive.poolId), .text(code), .int(at))
        var data: [String: JSONValue] = ["type": .string(incentive.type.rawValue)]
        if issueKey.hasPrefix("automation:") { data["automation_id"] = .string(String(issueKey.dropFirst("automation:".count))) } else { data["survey_id"] = .string(issueKey) }
        if let poolId = incentive.poolId { data["pool_id"] = .string(poolId) }
        if let code { data["code"] = .string(code) }
        try emit(connection, type: "incentive.issued", subjectId: subjectId, data: data)
        return (.issued, IssuedIncentive(surveyId: issueKey, type: incentive.type, code: code, text: incentive.text, url: incentive.url, issuedAt: Timestamp.rfc3339(at)))
    }

    /// What a person was given, for one survey or all (`surveyId` nil), oldest first.
    static func issuedIncentives(_ connection: SQLConnection, subjectId: String, surveyId: String?, surveys: [String: Survey]) throws -> [IssuedIncentive] {
        var sql = "SELECT survey_id, type, code, issued_at FROM incentive_issues WHERE subject_id = ?"
        var arguments: [SQLValue] = [.text(subjectId)]
        if let surveyId {
            sql += " AND survey_id = ?"
            arguments.append(.text(surveyId))
        }
        return try connection.query(sql + " ORDER BY issued_at, survey_id", arguments).map { row in
            let incentive = surveys[row.text(0)]?.incentive
            return IssuedIncentive(surveyId: row.text(0), type: SurveyIncentiveType(rawValue: row.text(1)) ?? .staticCode, code: row.optionalText(2),
                                   text: incentive?.type == .content ? incentive?.text : nil, url: incentive?.type == .content ? incentive?.url : nil,
                                   issuedAt: Timestamp.rfc3339(row.int(3)))
        }
    }
}
