/// One schema change, for both backends.
struct Migration {
    /// A unique, permanent name (GRDB and `schema_migrations` record it).
    let name: String
    let sqlite: [String]
    let postgres: [String]
}

/// The schema. Append-only: a migration that has landed is never edited; a change is a new
/// `Migration` at the end of `all`, with its statements for both backends.
///
/// Every subject-owned table leads with `subject_id`, so it can be distributed by subject.
enum Migrations {
    static let all: [Migration] = [core, rightsV1, portal, collection, activationV1, promptsV1, surveysV1, incentivesV1, deliveryV1, campaignsV1, operatorsV1, sealedValuesV1, automationsV1, promptHistoryCountsV1, consoleCountsV1, operatorSignInV1, deliveryByStatusV1, surveyPromptsV1, auditPurposeUseV1, offerIssuesByDecisionV1, auditDecisionRefV1, decisionOwnersInMemoryV1, subjectsByErasedAtV1, offerIssueCountsV1, auditBySubjectPartialV1, decisionAuditV1]

    static let core = Migration(
        name: "v1",
        sqlite: [
            "CREATE TABLE purposes (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
            "CREATE TABLE notices (purpose TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, PRIMARY KEY (purpose, version))",
            "CREATE TABLE fields (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
            "CREATE TABLE teams (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL, revoked_at INTEGER, last_used_at INTEGER)",
            """
            CREATE TABLE subjects (id TEXT PRIMARY KEY, external_id TEXT UNIQUE, email_hash TEXT UNIQUE, email_cipher BLOB,
              status TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, erased_at INTEGER)
            """,
            "CREATE TABLE subject_keys (subject_id TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL)",
            """
            CREATE TABLE profile_values (subject_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, declared_at INTEGER NOT NULL,
              declaration_id TEXT NOT NULL, source TEXT NOT NULL, collection_point TEXT, notices TEXT NOT NULL, PRIMARY KEY (subject_id, field))
            """,
            """
            CREATE TABLE consents (subject_id TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL, method TEXT NOT NULL,
              notice_version INTEGER, updated_at INTEGER NOT NULL, expires_at INTEGER, PRIMARY KEY (subject_id, purpose))
            """,
            "CREATE INDEX consents_by_purpose ON consents (purpose, status, subject_id)",
            """
            CREATE TABLE ledger_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL, seq INTEGER NOT NULL,
              kind TEXT NOT NULL, created_at INTEGER NOT NULL, prev_hash BLOB NOT NULL, payload BLOB NOT NULL, hash BLOB NOT NULL,
              UNIQUE (subject_id, seq))
            """,
            "CREATE TABLE ledger_heads (subject_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL)",
            "CREATE TABLE checkpoints (id TEXT PRIMARY KEY, up_to_entry INTEGER NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL)",
            """
            CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, team TEXT NOT NULL,
              action TEXT NOT NULL, purpose TEXT, subject_id TEXT, fields TEXT NOT NULL, outcome TEXT NOT NULL)
            """,
            "CREATE INDEX audit_by_subject ON audit_log (subject_id, at)",
            """
            CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
              payload TEXT, created_at INTEGER NOT NULL, status TEXT NOT NULL)
            """,
            "CREATE INDEX outbox_pending ON outbox (status, id)",
            "CREATE INDEX outbox_by_subject ON outbox (subject_id)",
            """
            CREATE TABLE idempotency (key_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL,
              body BLOB NOT NULL, subject_id TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (key_id, idem_key))
            """,
            "CREATE INDEX idempotency_by_subject ON idempotency (subject_id)",
        ],
        postgres: [
            "CREATE TABLE purposes (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
            "CREATE TABLE notices (purpose TEXT NOT NULL, version BIGINT NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, PRIMARY KEY (purpose, version))",
            "CREATE TABLE fields (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
            "CREATE TABLE teams (key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL, revoked_at BIGINT, last_used_at BIGINT)",
            """
            CREATE TABLE subjects (id TEXT PRIMARY KEY, external_id TEXT UNIQUE, email_hash TEXT UNIQUE, email_cipher BYTEA,
              status TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, erased_at BIGINT)
            """,
            "CREATE TABLE subject_keys (subject_id TEXT PRIMARY KEY, wrapped_key BYTEA NOT NULL)",
            """
            CREATE TABLE profile_values (subject_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, declared_at BIGINT NOT NULL,
              declaration_id TEXT NOT NULL, source TEXT NOT NULL, collection_point TEXT, notices TEXT NOT NULL, PRIMARY KEY (subject_id, field))
            """,
            """
            CREATE TABLE consents (subject_id TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL, method TEXT NOT NULL,
              notice_version BIGINT, updated_at BIGINT NOT NULL, expires_at BIGINT, PRIMARY KEY (subject_id, purpose))
            """,
            "CREATE INDEX consents_by_purpose ON consents (purpose, status, subject_id)",
            """
            CREATE TABLE ledger_entries (id BIGSERIAL PRIMARY KEY, subject_id TEXT NOT NULL, seq BIGINT NOT NULL,
              kind TEXT NOT NULL, created_at BIGINT NOT NULL, prev_hash BYTEA NOT NULL, payload BYTEA NOT NULL, hash BYTEA NOT NULL,
              UNIQUE (subject_id, seq))
            """,
            "CREATE TABLE ledger_heads (subject_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash BYTEA NOT NULL)",
            "CREATE TABLE checkpoints (id TEXT PRIMARY KEY, up_to_entry BIGINT NOT NULL, created_at BIGINT NOT NULL, body TEXT NOT NULL)",
            """
            CREATE TABLE audit_log (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, team TEXT NOT NULL,
              action TEXT NOT NULL, purpose TEXT, subject_id TEXT, fields TEXT NOT NULL, outcome TEXT NOT NULL)
            """,
            "CREATE INDEX audit_by_subject ON audit_log (subject_id, at)",
            """
            CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, subject_id TEXT, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
              payload TEXT, created_at BIGINT NOT NULL, status TEXT NOT NULL)
            """,
            "CREATE INDEX outbox_pending ON outbox (status, id)",
            "CREATE INDEX outbox_by_subject ON outbox (subject_id)",
            """
            CREATE TABLE idempotency (key_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, status BIGINT NOT NULL,
              body BYTEA NOT NULL, subject_id TEXT, created_at BIGINT NOT NULL, PRIMARY KEY (key_id, idem_key))
            """,
            "CREATE INDEX idempotency_by_subject ON idempotency (subject_id)",
        ])

    /// Privacy rights (issue 4): objection and do-not-sell flags on subjects, the rights request log,
    /// and indexes for audit queries by team and by action (reports, failed authentication).
    static let rightsV1 = Migration(
        name: "rights_v1",
        sqlite: [
            "ALTER TABLE subjects ADD COLUMN has_objected INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE subjects ADD COLUMN has_opted_out_of_sale INTEGER NOT NULL DEFAULT 0",
            """
            CREATE TABLE rights_requests (id TEXT PRIMARY KEY, subject_id TEXT, type TEXT NOT NULL, channel TEXT NOT NULL,
              jurisdiction TEXT NOT NULL, status TEXT NOT NULL, received_at INTEGER NOT NULL, due_at INTEGER NOT NULL,
              confirm_due_at INTEGER, extended_months INTEGER NOT NULL DEFAULT 0, extended_days INTEGER NOT NULL DEFAULT 0,
              extension_reason TEXT, verified_at INTEGER, verification_method TEXT, assignee TEXT, completed_at INTEGER,
              outcome TEXT, body TEXT NOT NULL, updated_at INTEGER NOT NULL)
            """,
            "CREATE INDEX rights_requests_by_status ON rights_requests (status, due_at)",
            "CREATE INDEX rights_requests_by_received ON rights_requests (received_at)",
            "CREATE INDEX audit_by_team ON audit_log (team, at)",
            "CREATE INDEX audit_by_action ON audit_log (action, at)",
            "CREATE INDEX audit_by_at ON audit_log (at)",
        ],
        postgres: [
            "ALTER TABLE subjects ADD COLUMN has_objected BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE subjects ADD COLUMN has_opted_out_of_sale BIGINT NOT NULL DEFAULT 0",
            """
            CREATE TABLE rights_requests (id TEXT PRIMARY KEY, subject_id TEXT, type TEXT NOT NULL, channel TEXT NOT NULL,
              jurisdiction TEXT NOT NULL, status TEXT NOT NULL, received_at BIGINT NOT NULL, due_at BIGINT NOT NULL,
              confirm_due_at BIGINT, extended_months BIGINT NOT NULL DEFAULT 0, extended_days BIGINT NOT NULL DEFAULT 0,
              extension_reason TEXT, verified_at BIGINT, verification_method TEXT, assignee TEXT, completed_at BIGINT,
              outcome TEXT, body TEXT NOT NULL, updated_at BIGINT NOT NULL)
            """,
            "CREATE INDEX rights_requests_by_status ON rights_requests (status, due_at)",
            "CREATE INDEX rights_requests_by_received ON rights_requests (received_at)",
            "CREATE INDEX audit_by_team ON audit_log (team, at)",
            "CREATE INDEX audit_by_action ON audit_log (action, at)",
            "CREATE INDEX audit_by_at ON audit_log (at)",
        ])

    /// Activation (issue 5): saved segments, the offers catalog, decisions with the offers they issued
    /// (counted for caps in the deciding transaction) and their outcomes.
    static let activationV1 = Migration(
        name: "activation_v1",
        sqlite: [
            "CREATE TABLE segments (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, created_at INTEGER NOT NULL)",
            "CREATE TABLE offers (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL)",
            """
            CREATE TABLE decisions (id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, placement TEXT NOT NULL, arm TEXT NOT NULL,
              offers TEXT NOT NULL, created_at INTEGER NOT NULL)
            """,
            "CREATE INDEX decisions_by_subject ON decisions (subject_id)",
            "CREATE TABLE offer_issues (subject_id TEXT NOT NULL, offer_id TEXT NOT NULL, decision_id TEXT NOT NULL, created_at INTEGER NOT NULL)",
            "CREATE INDEX offer_issues_by_offer ON offer_issues (offer_id, subject_id)",
            """
            CREATE TABLE outcomes (decision_id TEXT NOT NULL, offer_id TEXT NOT NULL, type TEXT NOT NULL, created_at INTEGER NOT NULL,
              PRIMARY KEY (decision_id, offer_id, type))
            """,
        ],
        postgres: [
            "CREATE TABLE segments (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE TABLE offers (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
            """
            CREATE TABLE decisions (id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, placement TEXT NOT NULL, arm TEXT NOT NULL,
              offers TEXT NOT NULL, created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX decisions_by_subject ON decisions (subject_id)",
            "CREATE TABLE offer_issues (subject_id TEXT NOT NULL, offer_id TEXT NOT NULL, decision_id TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE INDEX offer_issues_by_offer ON offer_issues (offer_id, subject_id)",
            """
            CREATE TABLE outcomes (decision_id TEXT NOT NULL, offer_id TEXT NOT NULL, type TEXT NOT NULL, created_at BIGINT NOT NULL,
              PRIMARY KEY (decision_id, offer_id, type))
            """,
        ])
}
