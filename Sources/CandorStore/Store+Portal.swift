import CandorCore
import Foundation

extension Migrations {
    /// The self-service portal: nonces of e-mailed rights links already used, so each link works once.
    /// Rows hold no personal data (a subject id and random bits) and go when the link would have expired.
    static let portal = Migration(
        name: "portal_v1",
        sqlite: [
            "CREATE TABLE used_links (subject_id TEXT NOT NULL, nonce TEXT NOT NULL, used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (subject_id, nonce))",
            "CREATE INDEX used_links_by_expiry ON used_links (expires_at)",
        ],
        postgres: [
            "CREATE TABLE used_links (subject_id TEXT NOT NULL, nonce TEXT NOT NULL, used_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (subject_id, nonce))",
            "CREATE INDEX used_links_by_expiry ON used_links (expires_at)",
        ])
}

/// What the portal learns about the owner of an e-mail address or a link: only enough to decide
/// whether to send a link or open a session.
public struct PortalSubject: Sendable, Hashable {
    public var id: String
    public var status: SubjectStatus
}

extension CandorStore {
    /// The time on the store's clock, in milliseconds: the portal signs and checks expiry with the
    /// same clock the store writes with, so tests move both together.
    public var currentMillis: Int64 { now }

    /// The signer of this installation's subject tokens (its key is derived from the master key).
    public var subjectLinks: SubjectLinks { secrets.subjectLinks }

    /// The live subject with this e-mail address, for sending a rights link; nil when there is none or
    /// it was erased. Audited as the person's own request, by subject id only (never the address).
    public func portalSubject(email: String) async throws -> PortalSubject? {
        let hash = secrets.emailLookupHash(email)
        let found = try await database.read { connection in
            try connection.queryOne("SELECT id, status FROM subjects WHERE email_hash = ?", .text(hash))
                .map { PortalSubject(id: $0.text(0), status: SubjectStatus(rawValue: $0.text(1)) ?? .active) }
        }
        guard let found, found.status != .erased else { return nil }
        _ = try await committer(for: found.id).submit { connection in
            try self.audit(connection, nil, action: "portal.link.requested", subjectId: found.id, selfService: true)
        }
        return found
    }

    /// The subject a link or session speaks for: nil for an unknown id, with its status otherwise.
    public func portalSubject(id: String) async throws -> PortalSubject? {
        try await database.read { connection in
            try connection.queryOne("SELECT id, status FROM subjects WHERE id = ?", .text(id))
                .map { PortalSubject(id: $0.text(0), status: SubjectStatus(rawValue: $0.text(1)) ?? .active) }
        }
    }

    /// Records that a single-use link was used. Returns false when it had been used before, so the
    /// second click (or a replay of a leaked link) opens nothing. Expired nonces are swept on the way:
    /// an expired link is refused by its signature check anyway.
    public func consumeLink(_ claims: SubjectLinkClaims) async throws -> Bool {
        let at = now
        return try await committer(for: claims.subjectId).submit { connection -> Bool in
            try connection.execute("DELETE FROM used_links WHERE expires_at < ?", .int(at))
            if try connection.queryOne("SELECT 1 FROM used_links WHERE subject_id = ? AND nonce = ?", .text(claims.subjectId), .text(claims.nonce)) != nil {
                return false
            }
            try connection.execute(
                "INSERT INTO used_links (subject_id, nonce, used_at, expires_at) VALUES (?, ?, ?, ?)",
                .text(claims.subjectId), .text(claims.nonce), .int(at), .int(claims.expiresAt))
            try self.audit(connection, nil, action: "portal.link.used", subjectId: claims.subjectId, selfService: true)
            return true
        }
    }

    /// Records that an administrator issued a rights link for a subject (the link itself is never stored).
    public func auditRightsLink(subjectId: String, by principal: Principal) async throws {
        _ = try await subject(subjectId)
        try await auditOnly(principal, action: "portal.link.issued", subjectId: subjectId)
    }
}

extension CandorStore {
    /// Audits something a person did for themselves through the portal (a receipt download, say).
    public func auditSelfService(subjectId: String, action: String) async throws {
        _ = try await committer(for: subjectId).submit { connection in
            try self.audit(connection, nil, action: action, subjectId: subjectId, selfService: true)
        }
    }
}
