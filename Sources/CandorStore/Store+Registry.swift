import CandorCore
import Foundation

/// A newly created key: the only time its secret is shown.
public struct CreatedKey: Codable, Sendable {
    public var key: APIKey
    /// The key itself; nil in a replayed answer, since a secret is shown exactly once.
    public var secret: String?
}

extension CandorStore {
    /// Registers a purpose, with notice version 1 when the input carries a notice.
    public func createPurpose(_ input: PurposeInput, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Purpose> {
        if let replayed: WriteOutcome<Purpose> = try await replay(principal, idempotency) { return replayed }
        let createdAt = Timestamp.rfc3339(now)
        var purpose = try input.validated(id: Identifier.make("pur"), createdAt: createdAt).get()
        let outcome = try await write(principal, idempotency: idempotency, status: 201) { connection -> Purpose in
            if try connection.queryOne("SELECT 1 FROM purposes WHERE key = ?", .text(purpose.key)) != nil {
                throw CandorError(.conflict, "a purpose with key '\(purpose.key)' exists", errors: [FieldError("key", "already exists")])
            }
            if let texts = input.notice {
                let notice = try NoticeVersion(id: Identifier.make("ntc"), purpose: purpose.key, version: 1, texts: texts, createdAt: createdAt)
                try connection.execute("INSERT INTO notices (purpose, version, id, body) VALUES (?, 1, ?, ?)", .text(purpose.key), .text(notice.id), .text(try CandorJSON.string(notice)))
                purpose.currentNoticeVersion = 1
            }
            try connection.execute("INSERT INTO purposes (key, id, body) VALUES (?, ?, ?)", .text(purpose.key), .text(purpose.id), .text(try CandorJSON.string(purpose)))
            try self.audit(connection, principal, action: "purpose.create", purpose: purpose.key)
            return purpose
        }
        try await reloadRegistry()
        return outcome
    }

    /// Publishes a new, immutable notice version for a purpose; it becomes the current one.
    public func publishNotice(purpose key: String, _ input: NoticeInput, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<NoticeVersion> {
        if let replayed: WriteOutcome<NoticeVersion> = try await replay(principal, idempotency) { return replayed }
        let errors = NoticeRules.check(input.texts, path: "texts")
        guard errors.isEmpty else { throw CandorError.invalid(errors) }
        let outcome = try await write(principal, idempotency: idempotency, status: 201) { connection -> NoticeVersion in
            guard let row = try connection.queryOne("SELECT body FROM purposes WHERE key = ?\(self.database.dialect.forUpdate)", .text(key)) else {
                throw CandorError(.notFound, "no purpose '\(key)'")
            }
            var purpose = try CandorJSON.decode(Purpose.self, from: row.text(0))
            let version = (purpose.currentNoticeVersion ?? 0) + 1
            let notice = try NoticeVersion(id: Identifier.make("ntc"), purpose: key, version: version, texts: input.texts, createdAt: Timestamp.rfc3339(self.now))
            try connection.execute("INSERT INTO notices (purpose, version, id, body) VALUES (?, ?, ?, ?)", .text(key), .int(Int64(version)), .text(notice.id), .text(try CandorJSON.string(notice)))
            purpose.currentNoticeVersion = version
            try connection.execute("UPDATE purposes SET body = ? WHERE key = ?", .text(try CandorJSON.string(purpose)), .text(key))
            try self.audit(connection, principal, action: "notice.publish", purpose: key)
            return notice
        }
        try await reloadRegistry()
        return outcome
    }

    /// Registers a field.
    public func createField(_ input: FieldInput, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Field> {
        if let replayed: WriteOutcome<Field> = try await replay(principal, idempotency) { return replayed }
        let field = try input.validated(
            id: Identifier.make("fld"), createdAt: Timestamp.rfc3339(now), purposes: registry.purposes,
            allowSpecialCategory: allowSpecialCategory
        ).get()
        let outcome = try await write(principal, idempotency: idempotency, status: 201) { connection -> Field in
            if try connection.queryOne("SELECT 1 FROM fields WHERE key = ?", .text(field.key)) != nil {
                throw CandorError(.conflict, "a field with key '\(field.key)' exists", errors: [FieldError("key", "already exists")])
            }
            try connection.execute("INSERT INTO fields (key, id, body) VALUES (?, ?, ?)", .text(field.key), .text(field.id), .text(try CandorJSON.string(field)))
            try self.audit(connection, principal, action: "field.create", fields: [field.key])
            return field
        }
        try await reloadRegistry()
        return outcome
    }

    /// Registers a team, or replaces the purposes and roles of an existing one (`replace`).
    public func saveTeam(_ input: TeamInput, replace: Bool, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<Team> {
        if let replayed: WriteOutcome<Team> = try await replay(principal, idempotency) { return replayed }
        let existing = registry.teams[input.key]
        if replace && existing == nil { throw CandorError(.notFound, "no team '\(input.key)'") }
        let team = try input.validated(
            id: existing?.id ?? Identifier.make("team"), createdAt: existing?.createdAt ?? Timestamp.rfc3339(now), purposes: registry.purposes
        ).get()
        let outcome = try await write(principal, idempotency: idempotency, status: replace ? 200 : 201) { connection -> Team in
            let found = try connection.queryOne("SELECT 1 FROM teams WHERE key = ?", .text(team.key)) != nil
            if found && !replace {
                throw CandorError(.conflict, "a team with key '\(team.key)' exists", errors: [FieldError("key", "already exists")])
            }
            if replace {
                try connection.execute("UPDATE teams SET body = ? WHERE key = ?", .text(try CandorJSON.string(team)), .text(team.key))
            } else {
                try connection.execute("INSERT INTO teams (key, id, body) VALUES (?, ?, ?)", .text(team.key), .text(team.id), .text(try CandorJSON.string(team)))
            }
            try self.audit(connection, principal, action: replace ? "team.update" : "team.create")
            return team
        }
        try await reloadRegistry()
        return outcome
    }

    /// Creates an API key; the secret is returned once and only its hash is stored.
    public func createKey(_ input: KeyInput, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<CreatedKey> {
        if let replayed: WriteOutcome<CreatedKey> = try await replay(principal, idempotency) { return replayed }
        let (kind, origins) = try input.validated(teams: registry.teams).get()
        let secret = KeyMaterial.generate(kind)
        let key = APIKey(
            id: Identifier.make("key"), name: input.name, team: input.team, kind: kind, hint: String(secret.prefix(11)) + "…",
            origins: origins, createdAt: Timestamp.rfc3339(now))
        let outcome = try await write(principal, idempotency: idempotency, status: 201, storedAs: { CreatedKey(key: $0.key, secret: nil) }) { connection -> CreatedKey in
            try connection.execute("INSERT INTO api_keys (id, hash, body) VALUES (?, ?, ?)", .text(key.id), .text(KeyMaterial.storageHash(secret)), .text(try CandorJSON.string(key)))
            try self.audit(connection, principal, action: "key.create")
            return CreatedKey(key: key, secret: secret)
        }
        try await reloadRegistry()
        return outcome
    }

    /// Revokes a key at once; later requests with it are refused.
    public func revokeKey(id: String, by principal: Principal?, idempotency: IdempotencyRequest? = nil) async throws -> WriteOutcome<APIKey> {
        if let replayed: WriteOutcome<APIKey> = try await replay(principal, idempotency) { return replayed }
        let outcome = try await write(principal, idempotency: idempotency, status: 200) { connection -> APIKey in
            guard let row = try connection.queryOne("SELECT body FROM api_keys WHERE id = ?", .text(id)) else {
                throw CandorError(.notFound, "no key '\(id)'")
            }
            var key = try CandorJSON.decode(APIKey.self, from: row.text(0))
            if key.revokedAt == nil {
                key.revokedAt = Timestamp.rfc3339(self.now)
                try connection.execute("UPDATE api_keys SET body = ?, revoked_at = ? WHERE id = ?", .text(try CandorJSON.string(key)), .int(self.now), .text(id))
                try self.audit(connection, principal, action: "key.revoke")
            }
            return key
        }
        try await reloadRegistry()
        return outcome
    }
}
