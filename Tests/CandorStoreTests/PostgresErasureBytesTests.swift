import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    /// Every file under `directory` (recursively) that holds any of the needles, as "needle in relative/path".
    static func directoryContains(_ directory: String, _ needles: [String]) -> [String] {
        var found = [String]()
        let root = URL(fileURLWithPath: directory)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return found }
        let patterns = needles.map { ($0, Data($0.utf8)) }
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                  let bytes = try? Data(contentsOf: url, options: .alwaysMapped) else { continue }
            for (needle, pattern) in patterns where bytes.range(of: pattern) != nil {
                found.append("\(needle) in \(url.path.dropFirst(root.path.count + 1))")
            }
        }
        return found
    }

    @Test("PostgreSQL: after erasure and VACUUM, no file of the cluster holds the person's value or external id")
    func erasureLeavesNoBytesInPostgres() async throws {
        guard let backend = Backend.available.first(where: { !$0.isSQLite }), case .postgres(let url) = backend else {
            print("skipped: CANDOR_TEST_POSTGRES_URL is not set (SQLite's files are scanned by the erasure contract)")
            return
        }
        try await Harness.with(backend) { h in
            let dataDirectory = try #require(try await h.query("SHOW data_directory").first?.text(0))
            guard FileManager.default.isReadableFile(atPath: dataDirectory),
                  (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/base")) != nil else {
                print("skipped: PostgreSQL's data directory \(dataDirectory) is not readable by this process")
                return
            }
            let database = try #require(try await h.query("SELECT current_database()").first?.text(0))
            var components = try #require(URLComponents(string: url))
            components.path = "/" + database
            let testURL = try #require(components.string)

            // Given a person with something in every subject-owned table
            let marker = UUID().uuidString.prefix(8).lowercased()
            let externalId = "crm-pgbytes-\(marker)"
            let nickname = "Quillonwe-\(marker)"
            let subject = try await h.newSubject(externalId: externalId, email: "pg.bytes.\(marker)@example.com")
            try await h.grant(subject, "newsletter", "offers")                                         // consents, ledger, outbox
            try await h.declare(subject, ["nickname": .string(nickname)],                                // profile_values, outbox payload
                                idempotency: IdempotencyRequest(key: "pg-\(marker)", requestHash: "sha256:pg"))  // idempotency
            _ = try await h.store.createRequest(RightsRequestInput(type: "access", channel: "email", jurisdiction: "gdpr", externalId: externalId), by: h.principal) // rights_requests
            _ = try await h.store.exportSubject(subjectId: subject, by: h.principal)                   // audit_log
            let now = Timestamp.millis(Date())
            try await h.tamper("INSERT INTO offers (id, body, created_at) VALUES ('off_1', '{}', ?)", [.int(now)])
            try await h.tamper("INSERT INTO decisions (id, subject_id, placement, arm, offers, created_at) VALUES (?, ?, 'home', 'treatment', '[\"off_1\"]', ?)",
                               [.text("dec_\(marker)"), .text(subject), .int(now)])
            try await h.tamper("INSERT INTO offer_issues (subject_id, offer_id, decision_id, created_at) VALUES (?, 'off_1', ?, ?)", [.text(subject), .text("dec_\(marker)"), .int(now)])
            try await h.tamper("INSERT INTO outcomes (decision_id, offer_id, type, created_at) VALUES (?, 'off_1', 'click', ?)", [.text("dec_\(marker)"), .int(now)])
            try await h.tamper("INSERT INTO used_links (subject_id, nonce, used_at, expires_at) VALUES (?, ?, ?, ?)", [.text(subject), .text("n-\(marker)"), .int(now), .int(now + 3_600_000)])

            // (and a bystander, so the erased rows' pages stay in use rather than being truncated away)
            let bystander = try await h.newSubject(externalId: "crm-bystander-\(marker)")
            try await h.grant(bystander, "newsletter")
            try await h.declare(bystander, ["nickname": .string("Bystander")])

            // ... whose value and external id the scan finds on disk (so it can fail)
            try await Backend.administer(url, "CHECKPOINT")
            let before = Self.directoryContains(dataDirectory, [nickname, externalId])
            #expect(before.contains { $0.hasPrefix(nickname) }, "the scan must find the declared value before erasure")
            #expect(before.contains { $0.hasPrefix(externalId) }, "the scan must find the external id before erasure")

            // When the person is erased and the database vacuumed
            _ = try await h.store.erase(subjectId: subject, by: h.principal)
            try await Backend.administer(testURL, "VACUUM")
            try await Backend.administer(url, "CHECKPOINT")

            // Then no subject-owned row still names them (rights requests and the audit log keep the bare id by design)
            for table in ["profile_values", "consents", "subject_keys", "idempotency", "decisions", "offer_issues", "used_links"] {
                #expect(try await h.query("SELECT count(*) FROM \(table) WHERE subject_id = ?", [.text(subject)]).first?.int(0) == 0, "\(table)")
            }
            #expect(try await h.query("SELECT count(*) FROM decisions WHERE id = ?", [.text("dec_\(marker)")]).first?.int(0) == 1, "the decision is kept for lift, without the subject")

            // ... and no byte of the cluster holds the value or the external id. KNOWN GAP on PostgreSQL:
            // profile_values and subjects hold them in clear, VACUUM frees dead tuples without zeroing
            // their bytes, and WAL segments keep them until recycled and overwritten. Closing it needs the
            // projections sealed with the subject key (erasure already destroys it); tracked in issue 4.
            let after = Self.directoryContains(dataDirectory, [nickname, externalId])
            var named = [String]()
            for hit in after {
                let parts = hit.split(separator: "/")
                if parts.count == 3, parts[1] != "", let node = Int64(parts[2]) {
                    let relation = try await h.query("SELECT relname FROM pg_class WHERE relfilenode = ?", [.int(node)]).first?.text(0) ?? "?"
                    named.append("\(hit) (\(relation))")
                } else { named.append(hit) }
            }
            print("PostgreSQL erasure byte scan: \(named.isEmpty ? "clean" : named.joined(separator: ", "))")
            withKnownIssue("plaintext projections outlive DELETE + VACUUM in PostgreSQL heap pages and WAL") {
                #expect(after.isEmpty, "survived erasure: \(named)")
            }
        }
    }
}
