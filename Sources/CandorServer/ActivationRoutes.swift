import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/segments`, `/v1/offers`, `/v1/decide` and outcomes: activation of declared data (issue 5).
struct ActivationRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    struct CountInput: Codable {
        var rule: String
    }

    struct CountView: Codable {
        var count: Int
    }

    struct List<Item: Codable & Sendable>: Codable {
        var data: [Item]
    }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.post("segments/count") { request, context in
            _ = try support.principal(context, .admin)
            let (input, _) = try await support.decode(CountInput.self, from: request)
            return try support.json(CountView(count: try await store.countSegment(rule: input.rule)))
        }
        group.post("segments") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(SegmentInput.self, from: request)
            return try support.answer(try await store.createSegment(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("segments") { _, context in
            _ = try support.principal(context, .admin)
            return try support.json(List(data: try await store.segments()))
        }
        group.get("segments/:id") { _, context in
            _ = try support.principal(context, .admin)
            return try support.json(try await store.segment(try support.parameter(context, "id")))
        }
        group.get("segments/:id/members") { request, context in
            let principal = try support.principal(context, .read)
            let purpose = try support.purpose(request, principal)
            let page = try await store.members(ofSegment: try support.parameter(context, "id"), purpose: purpose,
                                               cursor: try support.cursor(request), limit: try support.limit(request), by: principal)
            return try support.json(page.opaque)
        }
        group.post("offers") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, body) = try await support.decode(Offer.self, from: request)
            return try support.answer(try await store.createOffer(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("offers") { _, context in
            _ = try support.principal(context, .admin)
            return try support.json(List(data: try await store.offers()))
        }
        group.get("offers/report") { request, context in
            _ = try support.principal(context, .admin)
            let offerId: String? = request.uri.queryParameters.get("offer_id").map { String($0) }
            if let offerId { _ = try await store.offer(offerId) }
            return try support.json(try await store.liftReport(offerId: offerId))
        }
        group.get("offers/:id") { _, context in
            _ = try support.principal(context, .admin)
            return try support.json(try await store.offer(try support.parameter(context, "id")))
        }
        group.put("offers/:id") { request, context in
            let principal = try support.principal(context, .admin)
            let (input, _) = try await support.decode(Offer.self, from: request)
            return try support.json(try await store.updateOffer(try support.parameter(context, "id"), input, by: principal))
        }
        group.post("decide") { request, context in
            let principal = try support.principal(context, .read)
            // A well-formed request is read by the fast JSON parser; anything else by the decoder, for its problem.
            let body = try await support.jsonBody(request)
            let input = try JSONValue.parse(String(buffer: body)).flatMap(DecideInput.init(parsed:)) ?? support.decode(DecideInput.self, from: body)
            // Written directly (`Decision.jsonBytes`), not through the generic encoder: this is the hot path.
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try await store.decide(input, by: principal).jsonBytes)))
        }
        group.post("decisions/:id/outcomes") { request, context in
            let principal = try support.principal(context, .read)
            let (input, _) = try await support.decode(OutcomeInput.self, from: request)
            return try support.json(try await store.recordOutcome(decisionId: try support.parameter(context, "id"), input, by: principal), status: .created)
        }
    }
}
