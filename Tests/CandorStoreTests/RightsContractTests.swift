import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("An export holds identifiers, every value with provenance, consents, decrypted history, disclosures and flags", arguments: Backend.available)
    func exportHoldsEverything(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject(externalId: "crm-export", email: "Export.Me@Example.com")
            try await h.grant(subject, "newsletter")
            try await h.declare(subject, ["nickname": .string("Ziggy"), "shoe_size": .number(42)])
            _ = try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal)
            _ = try await h.store.optOutOfSale(subjectId: subject, method: .gpc, by: h.principal)

            let export = try await h.store.exportSubject(subjectId: subject, by: nil)

            #expect(export.subject.externalId == "crm-export")
            #expect(export.subject.email == "export.me@example.com")
            // Not purpose-gated: `shoe_size` serves `offers`, which has no consent.
            #expect(export.values["shoe_size"]?.value == .number(42))
            #expect(export.values["nickname"]?.source == "api")
            #expect(export.consents.map(\.purpose) == ["newsletter"])
            #expect(export.history.map(\.kind) == ["subject.created", "consent", "declaration", "subject.opted_out_of_sale"])
            #expect(export.history.first?.email == "export.me@example.com")
            #expect(export.history.last?.method == "gpc")
            #expect(export.sharedWith.contains { $0.team == "ops" && $0.purpose == "support" && $0.fields == ["nickname"] })
            #expect(export.flags.optedOutOfSale && !export.flags.objectedToDirectMarketing && !export.flags.restricted)
            // The person's own export is audited as self-service.
            let rows = try await h.query("SELECT actor, team FROM audit_log WHERE action = 'subject.export' AND subject_id = ?", [.text(subject)])
            #expect(rows.map { [$0.text(0), $0.text(1)] } == [["subject", "self-service"]])
        }
    }

    @Test("Rectification records a declaration with source rectification; an invalid value is refused naming `value` and changes nothing", arguments: Backend.available)
    func rectification(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject()
            try await h.declare(subject, ["shoe_size": .number(41)])
            let receipt = try #require(try await h.store.rectify(subjectId: subject, field: "shoe_size", value: .number(43), by: nil).freshValue)
            #expect(receipt.source == "rectification")
            #expect(receipt.values.first?.notices == ["offers": 1])

            let before = try await h.counts()
            let error = await candorError { _ = try await h.store.rectify(subjectId: subject, field: "shoe_size", value: .number(99), by: nil) }
            #expect(error?.kind == .validation)
            #expect(error?.errors.map(\.field) == ["value"])
            let unknown = await candorError { _ = try await h.store.rectify(subjectId: subject, field: "hat_size", value: .number(1), by: h.principal) }
            #expect(unknown?.errors.map(\.field) == ["field"])
            #expect(try await h.counts() == before)
            #expect(try await h.store.exportSubject(subjectId: subject, by: h.principal).values["shoe_size"]?.value == .number(43))
        }
    }

    @Test("An objection withdraws every marketing purpose, hides the person from marketing reads, and refuses new grants until lifted", arguments: Backend.available)
    func objection(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject()
            try await h.grant(subject, "newsletter", "offers")
            try await h.declare(subject, ["interests": .array([.string("yoga")]), "nickname": .string("Kim")])

            let objected = try #require(try await h.store.objectToDirectMarketing(subjectId: subject, by: nil).freshValue)
            #expect(objected.hasObjected)
            let profile = try await h.store.profile(subjectId: subject, purpose: "newsletter", by: h.principal)
            #expect(!profile.isVisible)
            #expect(try await h.store.listProfiles(purpose: "offers", cursor: nil, limit: 50, by: h.principal).data.isEmpty)
            // Support is not marketing: still served.
            #expect(try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal).values["nickname"] != nil)
            let consents = try await h.store.exportSubject(subjectId: subject, by: h.principal).consents
            #expect(consents.allSatisfy { $0.status == .withdrawn && $0.method == .objection })

            let before = try await h.counts()
            let refused = await candorError { try await h.grant(subject, "offers") }
            #expect(refused?.kind == .conflict)
            #expect(refused?.errors.map(\.field) == ["consents[0].status"])
            #expect(try await h.counts() == before)
            let events = try await h.store.pendingEvents(limit: 100).filter { $0.subjectId == subject }.map(\.type)
            #expect(events.contains("subject.objected"))

            _ = try await h.store.liftObjection(subjectId: subject, by: nil)
            try await h.grant(subject, "offers")
            #expect(try await h.store.profile(subjectId: subject, purpose: "offers", by: h.principal).isVisible)
        }
    }

    @Test("Erasing an already erased person is refused as gone and changes nothing", arguments: Backend.available)
    func eraseTwice(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject(email: "twice@example.com")
            _ = try await h.store.erase(subjectId: subject, by: h.principal)
            let before = try await h.counts()
            let error = await candorError { _ = try await h.store.erase(subjectId: subject, by: h.principal) }
            #expect(error?.kind == .gone)
            #expect(try await h.counts() == before)
            #expect(await candorError { _ = try await h.store.exportSubject(subjectId: subject, by: nil) }?.kind == .gone)
        }
    }

    @Test("Property: a restricted or objecting person never appears in a purpose read", arguments: Backend.available)
    func restrictedAndObjectingNeverRead(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            var generator = SystemRandomNumberGenerator()
            var hidden = [String: Set<String>]() // purpose → subjects that must never be read for it
            let marketing = ["newsletter", "offers"]
            for _ in 0..<24 {
                let subject = try await h.newSubject()
                let grants = marketing.filter { _ in Bool.random(using: &generator) }
                if !grants.isEmpty {
                    _ = try await h.store.setConsents(subjectId: subject, grants.map { ConsentInput(purpose: $0, status: "granted", noticeVersion: 1) }, by: h.principal)
                }
                try await h.declare(subject, ["interests": .array([.string("yoga")]), "nickname": .string("n")])
                switch Int.random(in: 0..<3, using: &generator) {
                case 0:
                    _ = try await h.store.setRestricted(true, subjectId: subject, by: h.principal)
                    for purpose in marketing + ["support"] { hidden[purpose, default: []].insert(subject) }
                case 1:
                    _ = try await h.store.objectToDirectMarketing(subjectId: subject, by: h.principal)
                    for purpose in marketing { hidden[purpose, default: []].insert(subject) }
                default: break
                }
            }
            for purpose in marketing + ["support"] {
                let listed = Set(try await h.store.listProfiles(purpose: purpose, cursor: nil, limit: 500, by: h.principal).data.map(\.subjectId))
                #expect(listed.isDisjoint(with: hidden[purpose] ?? []), "list for \(purpose)")
                for subject in hidden[purpose] ?? [] {
                    let view = try await h.store.profile(subjectId: subject, purpose: purpose, by: h.principal)
                    #expect(!view.isVisible && view.values.isEmpty, "profile for \(purpose)")
                    #expect(try await h.store.history(subjectId: subject, purpose: purpose, by: h.principal).isEmpty)
                }
            }
        }
    }

    @Test("Requests: deadlines, verification, extension limits, completion through the rights functions; unknown people look the same", arguments: Backend.available)
    func requests(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject(email: "known@example.com")
            let known = try #require(try await h.store.createRequest(RightsRequestInput(type: "object", channel: "email", jurisdiction: "gdpr", email: "known@example.com"), by: h.principal).freshValue)
            let unknown = try #require(try await h.store.createRequest(RightsRequestInput(type: "object", channel: "email", jurisdiction: "gdpr", email: "nobody@example.com"), by: h.principal).freshValue)
            // Same shape and same answers: nothing tells the two apart before verification.
            #expect(known.subjectId == nil && unknown.subjectId == nil)
            #expect(known.status == .received && unknown.status == .received)
            #expect(known.dueAt == Timestamp.rfc3339(Deadlines.due(.gdpr, receivedAt: Timestamp.parse(known.receivedAt)!)))

            let before = try await h.counts()
            let noReason = await candorError { _ = try await h.store.extendRequest(id: known.id, by: 1, reason: nil, principal: h.principal) }
            #expect(noReason?.errors.map(\.field) == ["reason"])
            let tooLong = await candorError { _ = try await h.store.extendRequest(id: known.id, by: 3, reason: "complex", principal: h.principal) }
            #expect(tooLong?.errors.map(\.field) == ["months"])
            #expect(await candorError { _ = try await h.store.completeRequest(id: known.id, by: h.principal) }?.kind == .conflict)
            #expect(try await h.counts() == before)

            let extended = try #require(try await h.store.extendRequest(id: known.id, by: 2, reason: "many systems", principal: h.principal).freshValue)
            #expect(extended.extended == 2 && extended.extensionReason == "many systems")
            _ = try await h.store.verifyRequest(id: known.id, method: "email_link", by: h.principal)
            _ = try await h.store.assignRequest(id: known.id, assignee: "dpo", by: h.principal)
            let done = try await h.store.completeRequest(id: known.id, by: h.principal)
            #expect(done.request.status == .completed && done.request.outcome == "completed" && done.request.subjectId == subject)
            #expect(try await h.store.subject(subject).hasObjected)

            _ = try await h.store.verifyRequest(id: unknown.id, method: "email_link", by: h.principal)
            #expect(try await h.store.completeRequest(id: unknown.id, by: h.principal).request.outcome == "no_data_held")

            // An erased person's request log stays readable (it keeps only the subject id).
            _ = try await h.store.erase(subjectId: subject, by: h.principal)
            #expect(try await h.store.request(id: known.id, by: h.principal).subjectId == subject)

            // Overdue: a CCPA request received 50 days ago.
            let old = Timestamp.rfc3339(h.clock.nowMillis() - 50 * 86_400_000)
            let late = try #require(try await h.store.createRequest(RightsRequestInput(type: "access", channel: "phone", jurisdiction: "ccpa", externalId: "x", receivedAt: old), by: h.principal).freshValue)
            #expect(late.isOverdue && late.confirmationDueAt != nil)
            let overdue = try await h.store.listRequests(status: nil, overdueOnly: true, cursor: nil, limit: 50, by: h.principal)
            #expect(overdue.data.map(\.id) == [late.id])
            let again = await candorError { _ = try await h.store.extendRequest(id: late.id, by: 45, reason: "r", principal: h.principal); _ = try await h.store.extendRequest(id: late.id, by: 1, reason: "r", principal: h.principal) }
            #expect(again?.errors.map(\.field) == ["days"])
        }
    }

    @Test("Retention removes expired values, consents, inactive anonymous people and old requests, and audits each", arguments: Backend.available)
    func retention(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let day: Int64 = 86_400_000
            let anonymous = try await h.newSubject()
            let identified = try await h.newSubject(externalId: "keep-me")
            try await h.grant(identified, "newsletter")
            try await h.declare(identified, ["nickname": .string("old")])
            let request = try #require(try await h.store.createRequest(RightsRequestInput(type: "access", channel: "email", jurisdiction: "gdpr", externalId: "keep-me"), by: h.principal).freshValue)
            _ = try await h.store.verifyRequest(id: request.id, method: "id", by: h.principal)
            _ = try await h.store.completeRequest(id: request.id, by: h.principal)

            // Nothing has expired yet.
            let none = try await h.store.runRetention()
            #expect(none.declarations + none.consents + none.anonymousSubjects + none.requests == 0)
            // Purposes keep 730 days (Harness), fields as long as their longest purpose, anonymous people
            // 395 days of inactivity, the request log 24 months.
            h.clock.advance(byMillis: 400 * day)
            let first = try await h.store.runRetention()
            #expect(first.declarations == 0 && first.anonymousSubjects == 1 && first.consents == 0 && first.requests == 0)
            #expect(await candorError { _ = try await h.store.subject(anonymous) }?.kind == .gone)
            h.clock.advance(byMillis: 400 * day)
            let second = try await h.store.runRetention()
            #expect(second.declarations == 1 && second.consents == 1 && second.requests == 1 && second.anonymousSubjects == 0)
            #expect(try await h.store.subject(identified).status == .active)
            let actions = Set(try await h.query("SELECT action FROM audit_log WHERE action LIKE 'retention.%'").map { $0.text(0) })
            #expect(actions == ["retention.declaration", "retention.consent", "retention.subject", "retention.request"])
            let fields = try await h.query("SELECT fields FROM audit_log WHERE action = 'retention.declaration'").map { $0.text(0) }
            #expect(fields == [#"["nickname"]"#])
        }
    }

    @Test("Audit: query by subject and team; report reads, unused keys and purposes, coalesced failed authentication", arguments: Backend.available)
    func auditReport(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let start = h.clock.nowMillis()
            let subject = try await h.newSubject()
            try await h.declare(subject, ["nickname": .string("A")])
            _ = try await h.store.profile(subjectId: subject, purpose: "support", by: h.principal)
            for _ in 0..<5 { await h.store.recordFailedAuthentication(presented: "cnd_sk_WRONGsecretSECRETsecret") }
            await h.store.recordFailedAuthentication(presented: nil)

            let page = try await h.store.auditLog(AuditQuery(subjectId: subject), cursor: nil, limit: 2)
            #expect(page.data.count == 2 && page.nextCursor != nil)
            let rest = try await h.store.auditLog(AuditQuery(subjectId: subject), cursor: page.nextCursor, limit: 50)
            #expect(Set((page.data + rest.data).map(\.action)) == ["subject.create", "declaration.create", "profile.read"])
            #expect(try await h.store.auditLog(AuditQuery(team: "nobody"), cursor: nil, limit: 50).data.isEmpty)

            let report = try await h.store.auditReport(since: start - 1000, until: start + 1000)
            #expect(report.reads.contains { $0.team == "ops" && $0.purpose == "support" && $0.action == "profile.read" && $0.fields == ["nickname"] && $0.count == 1 })
            #expect(report.unusedPurposes.contains { $0.team == "ops" && $0.keyId == nil && $0.purposes == ["newsletter", "offers"] })
            #expect(report.failedAuthentications.map(\.keyPrefix) == ["(none)", "cnd_sk_WRON…"])
            #expect(report.failedAuthentications.allSatisfy { $0.minutes == 1 })
            let secretLeak = try await h.query("SELECT count(*) FROM audit_log WHERE actor LIKE '%secretSECRET%'")
            #expect(secretLeak.first?.int(0) == 0)
            #expect(report.unusedKeys.isEmpty)

            h.clock.advance(byMillis: 91 * 86_400_000)
            #expect(try await h.store.auditReport(since: start, until: h.clock.nowMillis()).unusedKeys.map(\.keyId) == [h.principal.key.id])
            // A purpose used only before the period is unused within it (and only the period's rows count).
            let later = try await h.store.auditReport(since: start + 1000, until: h.clock.nowMillis())
            #expect(later.unusedPurposes.contains { $0.team == "ops" && $0.keyId == nil && $0.purposes == ["newsletter", "offers", "support"] })
            #expect(later.unusedPurposes.contains { $0.team == "ops" && $0.keyId == h.principal.key.id && $0.purposes.contains("support") })
        }
    }
}
