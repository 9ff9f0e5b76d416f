import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/subjects`: people, their declarations and consents, read only for a named purpose.
struct SubjectRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    struct LookupInput: Codable {
        var externalId: String?
        var email: String?

        enum CodingKeys: String, CodingKey {
            case externalId = "external_id"
            case email
        }
    }

    struct ConsentsInput: Codable {
        var consents: [ConsentInput]
    }

    struct SubjectView: Codable {
        var subject: Subject
        var profile: ProfileView
    }

    struct ConsentsView: Codable {
        var subjectId: String
        var consents: [ConsentView]
        var history: [HistoryItem]

        enum CodingKeys: String, CodingKey {
            case consents, history
            case subjectId = "subject_id"
        }
    }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.post("subjects") { request, context in
            let principal = try support.principal(context, .write)
            let (input, body) = try await support.decode(SubjectInput.self, from: request)
            return try support.answer(try await store.createSubject(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        // A POST, so that e-mail addresses never travel in URLs (and so in access logs).
        group.post("subjects/lookup") { request, context in
            let principal = try support.principal(context, .write)
            let (input, _) = try await support.decode(LookupInput.self, from: request)
            if input.externalId == nil && input.email == nil { throw CandorError.invalid("external_id", "give external_id or email") }
            guard let subject = try await store.findSubject(externalId: input.externalId, email: input.email, by: principal) else {
                throw CandorError(.notFound, "no subject matches")
            }
            return try support.json(subject)
        }
        group.get("subjects") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let page = try await store.listProfiles(purpose: purpose, cursor: try support.cursor(request), limit: try support.limit(request), by: principal)
            return try support.json(page.opaque)
        }
        group.get("subjects/:id") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let id = try support.parameter(context, "id")
            let subject = try await store.subject(id)
            let profile = try await store.profile(subjectId: id, purpose: purpose, by: principal)
            return try support.json(SubjectView(subject: subject, profile: profile))
        }
        support.subjectAction(group, .delete, "subjects/:id") { id, principal, _, idempotency in
            try await store.erase(subjectId: id, by: principal, idempotency: idempotency)
        }
        support.subjectAction(group, .post, "subjects/:id/restrict") { id, principal, _, idempotency in
            try await store.setRestricted(true, subjectId: id, by: principal, idempotency: idempotency)
        }
        support.subjectAction(group, .post, "subjects/:id/unrestrict") { id, principal, _, idempotency in
            try await store.setRestricted(false, subjectId: id, by: principal, idempotency: idempotency)
        }
        group.post("subjects/:id/declarations") { request, context in
            let principal = try support.principal(context, .write)
            let id = try support.parameter(context, "id")
            let (input, body) = try await support.decode(DeclarationInput.self, from: request)
            let outcome = try await store.declare(subjectId: id, input, by: principal, idempotency: try support.idempotency(request, body: body))
            try await support.honourGPC(request, subjectId: id, by: principal)
            return try support.answer(outcome, status: .created)
        }
        group.get("subjects/:id/declarations") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let id = try support.parameter(context, "id")
            return try support.json(Page(data: try await store.history(subjectId: id, purpose: purpose, by: principal), nextCursor: nil))
        }
        group.post("subjects/:id/consents") { request, context in
            let principal = try support.principal(context, .write)
            let id = try support.parameter(context, "id")
            let (input, body) = try await support.decode(ConsentsInput.self, from: request)
            let outcome = try await store.setConsents(subjectId: id, input.consents, by: principal, idempotency: try support.idempotency(request, body: body))
            try await support.honourGPC(request, subjectId: id, by: principal)
            return try support.answer(outcome, status: .created)
        }
        group.get("subjects/:id/consents") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let id = try support.parameter(context, "id")
            let (current, history) = try await store.consents(subjectId: id, by: principal, purpose: purpose)
            return try support.json(ConsentsView(subjectId: id, consents: current, history: history))
        }
    }
}
