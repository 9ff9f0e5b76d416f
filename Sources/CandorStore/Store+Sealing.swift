import CandorCore
import Crypto
import Foundation

/// Crypto-shredding of everything a person declared.
///
/// Deleting a row does not remove its bytes: SQLite's WAL and PostgreSQL's write-ahead log (and heap
/// pages until reused, and any WAL archive or replica) keep the old row. So the values a person declared,
/// their external id, the events that carry those values and the stored answers of idempotent writes
/// are written only sealed under the subject's own key (ChaCha20-Poly1305, the subject id bound as
/// associated data). Erasure destroys the key; whatever copy of those rows outlives it is ciphertext.
/// Lookups go through keyed hashes (like the e-mail address), never the clear value.
///
/// What stays in clear: ids, field and purpose keys, times and statuses — what the database must
/// index and count, none of which says who the person was once their key is gone.
extension Migrations {
    static let sealedValuesV1 = Migration(
        name: "sealed_values_v1",
        sqlite: [
            "ALTER TABLE profile_values ADD COLUMN sealed BLOB",
            "ALTER TABLE subjects ADD COLUMN external_id_hash TEXT",
            "ALTER TABLE subjects ADD COLUMN external_id_cipher BLOB",
            "CREATE UNIQUE INDEX subjects_by_external_id_hash ON subjects (external_id_hash)",
            // Work the upgrade does in Swift after migrating (it needs the keys); the row goes when done.
            "CREATE TABLE upgrade_tasks (name TEXT PRIMARY KEY)",
            "INSERT INTO upgrade_tasks (name) VALUES ('seal_clear_rows')",
        ],
        postgres: [
            "ALTER TABLE profile_values ADD COLUMN sealed BYTEA",
            "ALTER TABLE subjects ADD COLUMN external_id_hash TEXT",
            "ALTER TABLE subjects ADD COLUMN external_id_cipher BYTEA",
            "CREATE UNIQUE INDEX subjects_by_external_id_hash ON subjects (external_id_hash)",
            "CREATE TABLE upgrade_tasks (name TEXT PRIMARY KEY)",
            "INSERT INTO upgrade_tasks (name) VALUES ('seal_clear_rows')",
        ])
}

/// The marks that tell sealed from clear content in columns that held clear text before sealing began.
enum SealedFormat {
    /// An outbox payload sealed under the subject key: this prefix, then the ciphertext in base64.
    static let payloadPrefix = "sealed:v1:"
    /// A stored idempotent answer sealed under the subject key starts with this byte (a JSON body never does).
    static let bodyMark: UInt8 = 0
}

extension CandorStore {
    // MARK: - Keys

    /// The keys of the given subjects that still have one (erased subjects have none), in one query.
    func subjectKeys(_ connection: SQLConnection, _ subjectIds: some Collection<String>) throws -> [String: SymmetricKey] {
        guard !subjectIds.isEmpty else { return [:] }
        let ids = Array(Set(subjectIds))
        var keys = [String: SymmetricKey]()
        for chunk in SQLList.chunks(ids) {
            let marks = SQLList.placeholders(chunk.count)
            for row in try connection.query("SELECT subject_id, wrapped_key FROM subject_keys WHERE subject_id IN (\(marks))", chunk.map(SQLValue.text)) {
                keys[row.text(0)] = try secrets.unwrapSubjectKey(row.blob(1), subjectId: row.text(0))
            }
        }
        return keys
    }

    /// One subject's key, or nil when it has none (erased, or never existed).
    func optionalSubjectKey(_ connection: SQLConnection, _ subjectId: String) throws -> SymmetricKey? {
        guard let row = try connection.queryOne("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?", .text(subjectId)) else { return nil }
        return try secrets.unwrapSubjectKey(row.blob(0), subjectId: subjectId)
    }

    // MARK: - Declared values

    /// A declared value (its JSON text) sealed for the `sealed` column of `profile_values`.
    static func sealValue(_ jsonText: String, key: SymmetricKey, subjectId: String) throws -> [UInt8] {
        try SubjectCipher.seal(Data(jsonText.utf8), key: key, subjectId: subjectId)
    }

    /// The JSON text of a stored value: opened from `sealed` when present, else the clear `value` of a
    /// row written before sealing (until `sealClearRows` reaches it).
    static func openValue(clear: String, sealed: [UInt8]?, key: SymmetricKey?, subjectId: String) throws -> String {
        guard let sealed else { return clear }
        guard let key else { throw CandorStoreError.corrupt("subject \(subjectId) has sealed values but no key") }
        return String(decoding: try SubjectCipher.open(sealed, key: key, subjectId: subjectId), as: UTF8.self)
    }

    // MARK: - External ids

    /// The external id of a subject row: opened from its cipher, or the clear column of an old row.
    func externalId(clear: String?, cipher: [UInt8]?, key: SymmetricKey?, subjectId: String) throws -> String? {
        if let cipher, let key { return String(decoding: try SubjectCipher.open(cipher, key: key, subjectId: subjectId), as: UTF8.self) }
        return clear
    }

    /// The subject with this external id, if any (through its keyed hash; rows from before sealing by the clear column).
    func subjectIdForExternalId(_ connection: SQLConnection, _ externalId: String) throws -> String? {
        try connection.queryOne("SELECT id FROM subjects WHERE external_id_hash = ? OR external_id = ?",
                                .text(secrets.externalIdLookupHash(externalId)), .text(externalId))?.text(0)
    }

    // MARK: - Events and stored answers

    /// An event's JSON for the outbox: sealed under the subject key when there is one.
    static func sealPayload(_ json: String, key: SymmetricKey?, subjectId: String?) throws -> String {
        guard let key, let subjectId else { return json }
        return SealedFormat.payloadPrefix + Data(try SubjectCipher.seal(Data(json.utf8), key: key, subjectId: subjectId)).base64EncodedString()
    }

    /// An outbox payload as JSON, opened when sealed; nil when it was purged or its subject's key is gone.
    static func openPayload(_ stored: String?, key: SymmetricKey?, subjectId: String?) -> String? {
        guard let stored else { return nil }
        guard stored.hasPrefix(SealedFormat.payloadPrefix) else { return stored }
        guard let key, let subjectId, let sealed = Data(base64Encoded: String(stored.dropFirst(SealedFormat.payloadPrefix.count))),
              let opened = try? SubjectCipher.open(Array(sealed), key: key, subjectId: subjectId) else { return nil }
        return String(decoding: opened, as: UTF8.self)
    }

    /// Outbox payloads (by sequence number) opened with their subjects' keys, in one pass.
    func openPayloads(_ connection: SQLConnection, _ rows: [(sequence: Int64, subjectId: String?, payload: String?)]) throws -> [Int64: String] {
        let sealedSubjects = rows.compactMap { $0.payload?.hasPrefix(SealedFormat.payloadPrefix) == true ? $0.subjectId : nil }
        let keys = try subjectKeys(connection, sealedSubjects)
        var out = [Int64: String]()
        for row in rows {
            if let json = Self.openPayload(row.payload, key: row.subjectId.flatMap { keys[$0] }, subjectId: row.subjectId) { out[row.sequence] = json }
        }
        return out
    }

    /// A stored idempotent answer, sealed under the subject key when the write concerned a subject that has one.
    static func sealBody(_ body: [UInt8], key: SymmetricKey?, subjectId: String?) throws -> [UInt8] {
        guard let key, let subjectId else { return body }
        return [SealedFormat.bodyMark] + (try SubjectCipher.seal(body, key: key, subjectId: subjectId))
    }

    /// A stored idempotent answer, opened when sealed.
    func openBody(_ connection: SQLConnection, _ stored: [UInt8], subjectId: String?) throws -> [UInt8] {
        guard stored.first == SealedFormat.bodyMark else { return stored }
        guard let subjectId, let key = try optionalSubjectKey(connection, subjectId) else {
            throw CandorError(.gone, "the subject of this request was erased")
        }
        return Array(try SubjectCipher.open(Array(stored.dropFirst()), key: key, subjectId: subjectId))
    }

    // MARK: - Rows written before sealing

    /// Seals what an older version stored in clear (declared values, external ids, event payloads), a
    /// page of subjects per transaction, so an upgraded installation keeps nothing readable behind an
    /// erasure. Runs once after the `sealed_values_v1` migration (an `upgrade_tasks` row says it is due;
    /// an interrupted run resumes from the start and skips what is sealed). Returns the rows it sealed.
    @discardableResult
    public func sealClearRows(pageSize: Int = 2_000) async throws -> Int {
        let due = try await database.read { try $0.queryOne("SELECT 1 FROM upgrade_tasks WHERE name = 'seal_clear_rows'") != nil }
        guard due else { return 0 }
        var sealed = 0
        var after = ""
        while true {
            let start = after
            let (count, last) = try await database.write { connection -> (Int, String?) in
                let subjects = try connection.query("SELECT id, external_id FROM subjects WHERE id > ? ORDER BY id LIMIT ?", [.text(start), .int(Int64(pageSize))])
                guard let first = subjects.first?.text(0), let last = subjects.last?.text(0) else { return (0, nil) }
                let clearValues = try connection.query(
                    "SELECT subject_id, field, value FROM profile_values WHERE subject_id BETWEEN ? AND ? AND sealed IS NULL", [.text(first), .text(last)])
                let withExternalId = subjects.filter { !$0.isNull(1) }
                guard !clearValues.isEmpty || !withExternalId.isEmpty else { return (0, last) }
                let keys = try self.subjectKeys(connection, clearValues.map { $0.text(0) } + withExternalId.map { $0.text(0) })
                var count = 0
                for row in withExternalId {
                    let (id, externalId) = (row.text(0), row.text(1))
                    guard let key = keys[id] else { continue }
                    // The guards in these updates keep a concurrent write (or another node's upgrade) from being
                    // overwritten with what this transaction read earlier (PostgreSQL runs READ COMMITTED).
                    try connection.execute("UPDATE subjects SET external_id = NULL, external_id_hash = ?, external_id_cipher = ? WHERE id = ? AND external_id IS NOT NULL",
                                           .text(self.secrets.externalIdLookupHash(externalId)),
                                           .blob(try SubjectCipher.seal(Data(externalId.utf8), key: key, subjectId: id)), .text(id))
                    count += 1
                }
                for row in clearValues {
                    let id = row.text(0)
                    guard let key = keys[id] else {
                        // No key: the person was erased; a value left behind must not stay.
                        try connection.execute("DELETE FROM profile_values WHERE subject_id = ? AND field = ? AND sealed IS NULL", .text(id), .text(row.text(1)))
                        continue
                    }
                    try connection.execute("UPDATE profile_values SET value = '', sealed = ? WHERE subject_id = ? AND field = ? AND sealed IS NULL",
                                           .blob(try Self.sealValue(row.text(2), key: key, subjectId: id)), .text(id), .text(row.text(1)))
                    count += 1
                }
                return (count, last)
            }
            guard let last else { break }
            sealed += count
            after = last
        }
        sealed += try await sealClearPayloads(pageSize: pageSize)
        try await database.write { try $0.execute("DELETE FROM upgrade_tasks WHERE name = 'seal_clear_rows'") }
        if sealed > 0 { logger.info("sealed rows an earlier version stored in clear", metadata: ["rows": "\(sealed)"]) }
        return sealed
    }

    /// Seals the clear payloads of subjects' events an earlier version left in the outbox.
    func sealClearPayloads(pageSize: Int) async throws -> Int {
        var sealed = 0
        var after: Int64 = 0
        while true {
            let start = after
            let (count, last) = try await database.write { connection -> (Int, Int64?) in
                let rows = try connection.query(
                    "SELECT id, subject_id, payload FROM outbox WHERE id > ? AND subject_id IS NOT NULL AND payload IS NOT NULL ORDER BY id LIMIT ?",
                    [.int(start), .int(Int64(pageSize))])
                guard let last = rows.last?.int(0) else { return (0, nil) }
                let clear = rows.filter { !$0.text(2).hasPrefix(SealedFormat.payloadPrefix) }
                let keys = try self.subjectKeys(connection, clear.map { $0.text(1) })
                for row in clear {
                    let subjectId = row.text(1)
                    try connection.execute("UPDATE outbox SET payload = ? WHERE id = ? AND payload NOT LIKE '\(SealedFormat.payloadPrefix)%'",
                                           keys[subjectId].map { .text(try Self.sealPayload(row.text(2), key: $0, subjectId: subjectId)) } ?? .null, .int(row.int(0)))
                }
                return (clear.count, last)
            }
            guard let last else { return sealed }
            sealed += count
            after = last
        }
    }
}
