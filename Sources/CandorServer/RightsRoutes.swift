import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// Global Privacy Control (https://privacycg.github.io/gpc-spec/): `Sec-GPC: 1` asks not to sell or share.
    static let secGPC = Self("Sec-GPC")!
}

extension RouteSupport {
    /// The principal, which must hold one of `roles`.
    func principal(_ context: CandorRequestContext, anyOf roles: [Role]) throws -> Principal {
        guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
        guard roles.contains(where: principal.has) else {
            throw CandorError(.forbidden, "team '\(principal.team.key)' lacks the '\(roles.map(\.rawValue).joined(separator: "' or '"))' role")
        }
        return principal
    }

    /// Honours a Global Privacy Control signal sent with a write about a subject: the spec's only valid
    /// value is exactly "1"; anything else is no signal.
    func honourGPC(_ request: Request, subjectId: String, by principal: Principal) async throws {
        guard request.headers[.secGPC] == "1" else { return }
        _ = try await store.optOutOfSale(subjectId: subjectId, method: .gpc, by: principal)
    }
}

/// The privacy rights of one person, exercised by the business on their behalf: access/export,
/// rectification, objection to direct marketing, opting out of sale. Restriction and erasure live in
/// `SubjectRoutes`. Also the public GPC support statement.
struct RightsRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    struct RectifyInput: Codable {
        var field: String
        var value: JSONValue
    }

    /// When the GPC statement last changed (the spec's `lastUpdate`, YYYY-MM-DD).
    static let gpcLastUpdate = "2025-01-01"

    /// Public routes, outside `/v1` and without a key.
    func addPublic(to router: Router<CandorRequestContext>) {
        router.get(".well-known/gpc.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.cacheControl] = "public, max-age=86400"
            let body = #"{"gpc":true,"lastUpdate":"\#(Self.gpcLastUpdate)"}"#
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
    }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.get("subjects/:id/export") { _, context in
            let principal = try support.principal(context, anyOf: [.erase, .audit])
            let id = try support.parameter(context, "id")
            var response = try support.json(try await store.exportSubject(subjectId: id, by: principal))
            response.headers[.contentDisposition] = "attachment; filename=\"\(id)-export.json\""
            return response
        }
        group.post("subjects/:id/rectify") { request, context in
            let principal = try support.principal(context, .erase)
            let id = try support.parameter(context, "id")
            let (input, body) = try await support.decode(RectifyInput.self, from: request)
            return try support.answer(try await store.rectify(subjectId: id, field: input.field, value: input.value, by: principal,
                                                              idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        support.subjectAction(group, .post, "subjects/:id/object") { id, principal, _, idempotency in
            try await store.objectToDirectMarketing(subjectId: id, by: principal, idempotency: idempotency)
        }
        support.subjectAction(group, .delete, "subjects/:id/object") { id, principal, _, idempotency in
            try await store.liftObjection(subjectId: id, by: principal, idempotency: idempotency)
        }
        support.subjectAction(group, .post, "subjects/:id/opt-out-of-sale") { id, principal, request, idempotency in
            let method: ConsentMethod = request.headers[.secGPC] == "1" ? .gpc : .api
            return try await store.optOutOfSale(subjectId: id, method: method, by: principal, idempotency: idempotency)
        }
    }
}
