import CandorCore
import CandorDelivery
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/destinations`: webhook destinations, their delivery log and dead letters.
///
/// Managing destinations needs the `admin` role: a destination decides where personal data goes and
/// holds a signing secret. The `audit` role may read destinations (never their secrets), the delivery
/// log and the dead letters, for the review of what went where.
struct DeliveryRoutes {
    let support: RouteSupport
    let validator: DestinationValidator
    var store: CandorStore { support.store }

    /// How long the previous secret keeps signing after a rotation unless the request says otherwise.
    static let defaultOverlapSeconds = 86_400

    /// The body of a secret rotation (optional).
    struct RotateInput: Codable {
        var overlapSeconds: Int?
        enum CodingKeys: String, CodingKey { case overlapSeconds = "overlap_seconds" }
    }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.post("destinations") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(DestinationInput.self, from: request)
            let idempotency = try support.idempotency(request, body: body)
            let settings = try await validator.validate(input, registry: store.registry)
            let secret = WebhookSecret.generate()
            return try support.answer(try await store.createDestination(settings, secret: secret.bytes, secretText: secret.text, by: principal, idempotency: idempotency), status: .created)
        }
        group.get("destinations") { request, context in
            _ = try reader(context)
            return try support.json(try await store.destinations(cursor: try support.cursor(request), limit: try support.limit(request)).opaque)
        }
        group.get("destinations/:id") { _, context in
            _ = try reader(context)
            return try support.json(try await store.destination(try support.parameter(context, "id")))
        }
        group.put("destinations/:id") { request, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            _ = try await store.destination(id)
            let (input, body) = try await support.decode(DestinationInput.self, from: request)
            let idempotency = try support.idempotency(request, body: body)
            let settings = try await validator.validate(input, registry: store.registry)
            return try support.answer(try await store.updateDestination(id, settings, by: principal, idempotency: idempotency), status: .ok)
        }
        group.delete("destinations/:id") { request, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            return try support.answer(try await store.deleteDestination(id, by: principal, idempotency: try support.idempotency(request, body: Data())), status: .ok)
        }
        group.post("destinations/:id/rotate-secret") { request, context in
            let principal = try support.principal(context, .admin)
            let id = try support.parameter(context, "id")
            let buffer = try await request.body.collect(upTo: support.maxBodyBytes)
            var input = RotateInput()
            if buffer.readableBytes > 0 { input = try await support.decode(RotateInput.self, from: Request(head: request.head, body: .init(buffer: buffer))).0 }
            let overlap = input.overlapSeconds ?? Self.defaultOverlapSeconds
            guard (0...(30 * 86_400)).contains(overlap) else { throw CandorError.invalid("overlap_seconds", "must be from 0 to 2592000 (30 days)") }
            let secret = WebhookSecret.generate()
            return try support.answer(try await store.rotateDestinationSecret(
                id, secret: secret.bytes, secretText: secret.text, overlapMillis: Int64(overlap) * 1000, by: principal,
                idempotency: try support.idempotency(request, body: Data(buffer: buffer))), status: .ok)
        }
        group.get("destinations/:id/deliveries") { request, context in
            _ = try reader(context)
            let status = request.uri.queryParameters.get("status")
            if let status, !["pending", "delivered", "withheld", "skipped", "dead"].contains(status) {
                throw Problem.field(.badRequest, .malformed, field: "status", "must be one of pending, delivered, withheld, skipped, dead")
            }
            return try support.json(try await store.deliveries(
                destinationId: try support.parameter(context, "id"), status: status, cursor: try support.cursor(request), limit: try support.limit(request)).opaque)
        }
        group.get("destinations/:id/dead-letters") { request, context in
            _ = try reader(context)
            return try support.json(try await store.deliveries(
                destinationId: try support.parameter(context, "id"), status: "dead", cursor: try support.cursor(request), limit: try support.limit(request)).opaque)
        }
        group.post("destinations/:id/dead-letters/:event/replay") { request, context in
            let principal = try support.principal(context, .admin)
            let outcome = try await store.replayDeadLetter(
                destinationId: try support.parameter(context, "id"), eventId: try support.parameter(context, "event"), by: principal,
                idempotency: try support.idempotency(request, body: Data()))
            return try support.answer(outcome, status: .accepted)
        }
    }

    /// Readers of destinations and their logs: administrators and auditors.
    func reader(_ context: CandorRequestContext) throws -> Principal {
        guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
        guard principal.has(.admin) || principal.has(.audit) else {
            throw CandorError(.forbidden, "team '\(principal.team.key)' lacks the 'admin' or 'audit' role")
        }
        return principal
    }
}
