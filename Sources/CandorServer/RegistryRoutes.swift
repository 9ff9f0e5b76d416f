import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/purposes`, `/v1/fields`, `/v1/teams`, `/v1/keys`: the registry, managed with the admin role.
/// Purposes and fields (not personal data) can be read by any secret key, since collectors need them.
struct RegistryRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.post("purposes") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(PurposeInput.self, from: request)
            return try support.answer(try await store.createPurpose(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("purposes") { _, context in
            _ = try support.principal(context, .read, orAny: true)
            return try support.json(Page(data: store.registry.purposes.values.sorted { $0.key < $1.key }, nextCursor: nil))
        }
        group.get("purposes/:key") { _, context in
            _ = try support.principal(context, .read, orAny: true)
            return try support.json(try purpose(context))
        }
        group.post("purposes/:key/notices") { request, context in
            let principal = try support.principal(context, .admin)
            let key = try purpose(context).key
            let (input, body) = try await support.decode(NoticeInput.self, from: request)
            return try support.answer(try await store.publishNotice(purpose: key, input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("purposes/:key/notices") { _, context in
            _ = try support.principal(context, .read, orAny: true)
            let key = try purpose(context).key
            return try support.json(Page(data: store.registry.notices[key] ?? [], nextCursor: nil))
        }
        group.get("purposes/:key/notices/:version") { _, context in
            _ = try support.principal(context, .read, orAny: true)
            let key = try purpose(context).key
            let version = Int(try support.parameter(context, "version"))
            guard let notice = store.registry.notices[key]?.first(where: { $0.version == version }) else {
                throw CandorError(.notFound, "purpose '\(key)' has no such notice version")
            }
            return try support.json(notice)
        }
        group.post("fields") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(FieldInput.self, from: request)
            return try support.answer(try await store.createField(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("fields") { _, context in
            _ = try support.principal(context, .read, orAny: true)
            return try support.json(Page(data: store.registry.fields.values.sorted { $0.key < $1.key }, nextCursor: nil))
        }
        group.get("fields/:key") { _, context in
            _ = try support.principal(context, .read, orAny: true)
            let key = try support.parameter(context, "key")
            guard let field = store.registry.fields[key] else { throw CandorError(.notFound, "no field '\(key)'") }
            return try support.json(field)
        }
        group.post("teams") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(TeamInput.self, from: request)
            return try support.answer(try await store.saveTeam(input, replace: false, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("teams") { _, context in
            _ = try support.principal(context, .admin)
            return try support.json(Page(data: store.registry.teams.values.sorted { $0.key < $1.key }, nextCursor: nil))
        }
        group.get("teams/:key") { _, context in
            _ = try support.principal(context, .admin)
            let key = try support.parameter(context, "key")
            guard let team = store.registry.teams[key] else { throw CandorError(.notFound, "no team '\(key)'") }
            return try support.json(team)
        }
        group.put("teams/:key") { request, context in
            let principal = try support.principal(context, .admin)
            let key = try support.parameter(context, "key")
            let (input, body) = try await support.decode(TeamInput.self, from: request)
            guard input.key == key else { throw CandorError.invalid("key", "must match the team in the path") }
            return try support.answer(try await store.saveTeam(input, replace: true, by: principal, idempotency: try support.idempotency(request, body: body)), status: .ok)
        }
        group.post("keys") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(KeyInput.self, from: request)
            return try support.answer(try await store.createKey(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("keys") { _, context in
            _ = try support.principal(context, .admin)
            return try support.json(Page(data: store.registry.keysById.values.sorted { $0.id < $1.id }, nextCursor: nil))
        }
        group.delete("keys/:id") { request, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            return try support.answer(try await store.revokeKey(id: id, by: principal, idempotency: try support.idempotency(request, body: Data())), status: .ok)
        }
    }

    func purpose(_ context: CandorRequestContext) throws -> Purpose {
        let key = try support.parameter(context, "key")
        guard let purpose = store.registry.purposes[key] else { throw CandorError(.notFound, "no purpose '\(key)'") }
        return purpose
    }
}

extension RouteSupport {
    /// The principal; with `orAny`, any authenticated secret key will do (registry reads).
    func principal(_ context: CandorRequestContext, _ role: Role, orAny: Bool) throws -> Principal {
        guard orAny else { return try principal(context, role) }
        guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
        return principal
    }
}
