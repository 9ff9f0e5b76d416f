import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("A retried write with the same Idempotency-Key and body replays the first answer and writes nothing", arguments: Backend.available)
    func idempotentReplay(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a declaration made with an idempotency key
            let subject = try await h.newSubject()
            let request = IdempotencyRequest(key: "retry-1", requestHash: "sha256:body-a")
            let first = try #require(try await h.declare(subject, ["shoe_size": .number(39)], idempotency: request).freshValue)
            let afterFirst = try await h.counts()

            // When the same request is sent again
            let again = try await h.declare(subject, ["shoe_size": .number(39)], idempotency: request)

            // Then the first answer comes back as a replay, byte for byte the same receipt
            guard case .replayed(let status, let body) = again else {
                Issue.record("expected a replay, got \(again)")
                return
            }
            #expect(status == 201)
            let replayed = try CandorJSON.decode(DeclarationReceipt.self, from: Data(body))
            #expect(replayed.declarationId == first.declarationId)
            #expect(replayed.ledger == first.ledger)

            // And nothing new was written: no ledger entry, event, audit row or value
            #expect(try await h.counts() == afterFirst)

            // When the same key comes with a different body (even if it would be valid)
            let mismatch = await candorError {
                _ = try await h.declare(subject, ["shoe_size": .number(44)], idempotency: IdempotencyRequest(key: "retry-1", requestHash: "sha256:body-b"))
            }

            // Then it is refused, and still nothing was written
            #expect(mismatch?.kind == .idempotencyMismatch)
            #expect(try await h.counts() == afterFirst)
            try await h.grant(subject, "offers")
            #expect(try await h.store.profile(subjectId: subject, purpose: "offers", by: h.principal).values["shoe_size"]?.value == .number(39))

            // And creating a subject is idempotent in the same way
            let create = IdempotencyRequest(key: "create-1", requestHash: "sha256:create")
            let created = try await h.store.createSubject(SubjectInput(externalId: "cust-9"), by: h.principal, idempotency: create)
            let subjects = try await h.store.count("subjects")
            let recreated = try await h.store.createSubject(SubjectInput(externalId: "cust-9"), by: h.principal, idempotency: create)
            guard case .replayed(_, let subjectBody) = recreated else {
                Issue.record("expected a replay, got \(recreated)")
                return
            }
            #expect(try CandorJSON.decode(Subject.self, from: Data(subjectBody)).id == created.freshValue?.id)
            #expect(try await h.store.count("subjects") == subjects)
        }
    }

    @Test("Bad input is refused with a clear error and changes nothing", arguments: Backend.available)
    func badInputWritesNothing(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a subject with some history, and an erased one
            let subject = try await h.newSubject(externalId: "cust-1", email: "ada@example.com")
            try await h.grant(subject, "newsletter")
            try await h.declare(subject, ["interests": .array([.string("running")])])
            let erased = try await h.newSubject()
            _ = try await h.store.erase(subjectId: erased, by: h.principal)
            let before = try await h.counts()
            let unknownSubject = Identifier.make("sub")
            let retry = IdempotencyRequest(key: "bad-1", requestHash: "sha256:bad")

            // When each kind of bad request is made
            let cases: [(String, CandorError.Kind, String?, () async throws -> Void)] = [
                ("unknown field", .validation, "values[0].field", {
                    _ = try await h.store.declare(subjectId: subject, DeclarationInput(values: [DeclaredValueInput(field: "eye_colour", value: .string("blue"))], notices: [:]), by: h.principal, idempotency: retry)
                }),
                ("wrong type", .validation, "values[0].value", { _ = try await h.declare(subject, ["shoe_size": .string("big")], idempotency: retry) }),
                ("out of bounds", .validation, "values[0].value", { _ = try await h.declare(subject, ["shoe_size": .number(51)]) }),
                ("notice not cited", .validation, "notices.offers", {
                    _ = try await h.store.declare(subjectId: subject, DeclarationInput(values: [DeclaredValueInput(field: "shoe_size", value: .number(40))], notices: [:]), by: h.principal)
                }),
                ("unknown subject", .notFound, nil, { _ = try await h.declare(unknownSubject, ["shoe_size": .number(40)], idempotency: retry) }),
                ("erased subject", .gone, nil, { _ = try await h.declare(erased, ["shoe_size": .number(40)]) }),
                ("grant without notice", .validation, "consents[0].notice_version", {
                    _ = try await h.store.setConsents(subjectId: subject, [ConsentInput(purpose: "offers", status: "granted")], by: h.principal)
                }),
                ("expiry in the past", .validation, "consents[0].expires_at", {
                    _ = try await h.store.setConsents(subjectId: subject, [ConsentInput(purpose: "offers", status: "granted", noticeVersion: 1, expiresAt: "2001-01-01T00:00:00Z")], by: h.principal)
                }),
                ("consent for unknown subject", .notFound, nil, { try await h.grant(unknownSubject, "offers") }),
                ("malformed e-mail", .validation, "email", { try await h.newSubject(email: "ada at example") }),
                ("duplicate external id", .conflict, "external_id", { try await h.newSubject(externalId: "cust-1") }),
                ("restrict unknown subject", .notFound, nil, { _ = try await h.store.setRestricted(true, subjectId: unknownSubject, by: h.principal) }),
                ("erase erased subject", .gone, nil, { _ = try await h.store.erase(subjectId: erased, by: h.principal) }),
            ]
            for (name, kind, field, request) in cases {
                let error = await candorError(request)

                // Then each gets the right kind of error naming the offending field, and no table changed
                #expect(error?.kind == kind, "\(name)")
                if let field { #expect(error?.errors.first?.field == field, "\(name)") }
                #expect(try await h.counts() == before, "\(name)")
            }

            // And the idempotency key of a refused request is still free for the corrected one
            let corrected = try await h.declare(subject, ["shoe_size": .number(40)], idempotency: retry)
            #expect(corrected.freshValue != nil)
        }
    }

    @Test("Every write of a subject's data adds an outbox event and an audit row", arguments: Backend.available)
    func writesEmitEventsAndAudit(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            var subject = ""
            let steps: [(String, [String], () async throws -> Void)] = [
                ("subject.create", ["subject.created"], { subject = try await h.newSubject(email: "ada@example.com") }),
                ("declaration.create", ["declaration.recorded"], { try await h.declare(subject, ["interests": .array([.string("yoga")])]) }),
                ("consent.change", ["consent.granted", "consent.granted"], { try await h.grant(subject, "newsletter", "offers") }),
                ("consent.change", ["consent.withdrawn"], { try await h.withdraw(subject, "offers") }),
                ("subject.restricted", ["subject.restricted"], { _ = try await h.store.setRestricted(true, subjectId: subject, by: h.principal) }),
                ("subject.unrestricted", ["subject.unrestricted"], { _ = try await h.store.setRestricted(false, subjectId: subject, by: h.principal) }),
                ("subject.erased", ["subject.erased"], { _ = try await h.store.erase(subjectId: subject, by: h.principal) }),
            ]
            for (action, events, step) in steps {
                // Given the outbox and audit log as they are
                let lastEvent = try await h.query("SELECT max(id) FROM outbox").first?.optionalInt(0) ?? 0
                let lastAudit = try await h.query("SELECT max(id) FROM audit_log").first?.optionalInt(0) ?? 0

                // When the write is made
                try await step()

                // Then exactly its events were appended for the subject, and one audit row by the acting key
                let newEvents = try await h.query("SELECT type, subject_id FROM outbox WHERE id > ? ORDER BY id", [.int(lastEvent)])
                #expect(newEvents.map { $0.text(0) } == events, "\(action)")
                #expect(newEvents.allSatisfy { $0.text(1) == subject }, "\(action)")
                let newAudit = try await h.query("SELECT action, actor, team, subject_id FROM audit_log WHERE id > ? ORDER BY id", [.int(lastAudit)])
                #expect(newAudit.map { $0.text(0) } == [action], "\(action)")
                #expect(newAudit.first?.text(1) == h.principal.key.id)
                #expect(newAudit.first?.text(2) == "ops")
                #expect(newAudit.first?.text(3) == subject)
            }

            // And declaration events carry the declared values for delivery (until erasure purges them)
            let declared = try await h.query("SELECT payload FROM outbox WHERE type = 'declaration.recorded'")
            #expect(declared.first?.isNull(0) == true)
            let pending = try await h.store.pendingEvents()
            #expect(pending.map(\.type) == ["subject.erased"])
        }
    }

    @Test("A pending event carries the declared values until the subject is erased", arguments: Backend.available)
    func eventsCarryDeclaredValues(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject()
            let receipt = try #require(try await h.declare(subject, ["interests": .array([.string("yoga")])]).freshValue)
            let events = try await h.store.pendingEvents()
            #expect(events.map(\.type) == ["subject.created", "declaration.recorded"])
            let payload = try CandorJSON.decode(JSONValue.self, from: try #require(events.last?.payload))
            guard case .object(let object) = payload, case .object(let data) = object["data"] else {
                Issue.record("event payload is not an object: \(payload)")
                return
            }
            #expect(object["subject_id"] == .string(subject))
            #expect(data["declaration_id"] == .string(receipt.declarationId))
            #expect(data["values"] == .array([.object(["field": .string("interests"), "value": .array([.string("yoga")])])]))
        }
    }
}
