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

    @Test("PostgreSQL: after erasure and VACUUM, no file of the cluster (heap, indexes, WAL) holds the person's value or external id")
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
            // survey progress and answers, and an issued code: a free-text question, then completion
            let motto = "Wanderlust-\(marker)"
            let poolId = try await pool(h, codes: ["PGB-\(marker)"])
            let survey = try await h.store.createSurvey(SurveyInput(
                title: ["en": "About you"], kind: .questionnaire, questions: [SurveyQuestion(id: "nick", field: "nickname"), SurveyQuestion(id: "size", field: "shoe_size")],
                incentive: SurveyIncentive(type: .pool, poolId: poolId)), by: h.principal)
            _ = try await h.store.setSurveyStatus(survey.id, published: true, by: h.principal)
            _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "nick", value: .string(motto), by: h.principal)
            let ending = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "size", value: .number(41), by: h.principal)
            #expect(ending.ending?.incentive?.code == "PGB-\(marker)")
            let now = Timestamp.millis(Date())
            try await h.tamper("INSERT INTO offers (id, body, created_at) VALUES ('off_1', '{}', ?)", [.int(now)])
            try await h.tamper("INSERT INTO decisions (id, subject_id, placement, arm, offers, created_at) VALUES (?, ?, 'home', 'treatment', '[\"off_1\"]', ?)",
                               [.text("dec_\(marker)"), .text(subject), .int(now)])
            try await h.tamper("INSERT INTO outcomes (decision_id, offer_id, type, created_at) VALUES (?, 'off_1', 'click', ?)", [.text("dec_\(marker)"), .int(now)])
            try await h.tamper("INSERT INTO used_links (subject_id, nonce, used_at, expires_at) VALUES (?, ?, ?, ?)", [.text(subject), .text("n-\(marker)"), .int(now), .int(now + 3_600_000)])

            // (and a bystander, so the erased rows' pages stay in use rather than being truncated away)
            let bystander = try await h.newSubject(externalId: "crm-bystander-\(marker)")
            try await h.grant(bystander, "newsletter")
            try await h.declare(bystander, ["nickname": .string("Bystander")])

            // ... whose lookup hash the scan finds on disk (so it can fail), while the value and the external
            // id are sealed under the subject key from the first write on (Store+Sealing.swift)
            try await Backend.administer(url, "CHECKPOINT")
            let emailHash = h.secrets.emailLookupHash("pg.bytes.\(marker)@example.com")
            let before = Self.directoryContains(dataDirectory, [nickname, motto, externalId, emailHash])
            #expect(before.contains { $0.hasPrefix(emailHash) }, "the scan must find the stored lookup hash before erasure")
            #expect(!before.contains { $0.hasPrefix(nickname) || $0.hasPrefix(motto) || $0.hasPrefix(externalId) }, "stored in clear: \(before)")
            #expect(try await h.store.subject(subject).externalId == externalId, "the store still reads the sealed external id")

            // When the person is erased and the database vacuumed
            _ = try await h.store.erase(subjectId: subject, by: h.principal)
            try await Backend.administer(testURL, "VACUUM")
            try await Backend.administer(url, "CHECKPOINT")

            // Then no subject-owned row still names them (rights requests and the audit log keep the bare id by design)
            for table in ["profile_values", "consents", "subject_keys", "idempotency", "decisions", "used_links",
                          "survey_progress", "survey_responses", "incentive_issues"] {
                #expect(try await h.query("SELECT count(*) FROM \(table) WHERE subject_id = ?", [.text(subject)]).first?.int(0) == 0, "\(table)")
            }
            #expect(try await h.query("SELECT count(*) FROM decisions WHERE id = ?", [.text("dec_\(marker)")]).first?.int(0) == 1, "the decision is kept for lift, without the subject")

            // ... and no byte of the cluster — heap, indexes, WAL — holds the value or the external id: every
            // copy PostgreSQL kept was ciphertext under a key that no longer exists.
            let after = Self.directoryContains(dataDirectory, [nickname, motto, externalId])
            var named = [String]()
            for hit in after {
                let parts = hit.split(separator: "/")
                if parts.count == 3, parts[1] != "", let node = Int64(parts[2]) {
                    let relation = try await h.query("SELECT relname FROM pg_class WHERE relfilenode = ?", [.int(node)]).first?.text(0) ?? "?"
                    named.append("\(hit) (\(relation))")
                } else { named.append(hit) }
            }
            print("PostgreSQL erasure byte scan: \(named.isEmpty ? "clean" : named.joined(separator: ", "))")
            #expect(after.isEmpty, "survived erasure: \(named)")
        }
    }
}
