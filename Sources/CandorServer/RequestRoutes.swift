import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/requests`: rights requests received through other channels, tracked to their legal deadlines.
/// Handling them needs the `erase` role; reading the log, `erase` or `audit`.
struct RequestRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    struct VerifyInput: Codable { var method: String }
    struct AssignInput: Codable { var assignee: String }
    struct ExtendInput: Codable {
        var months: Int?
        var days: Int?
        var reason: String?
    }
    struct CompleteInput: Codable {
        var field: String?
        var value: JSONValue?
    }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.post("requests") { request, context in
            let principal = try support.principal(context, .erase)
            let (input, body) = try await support.decode(RightsRequestInput.self, from: request)
            return try support.answer(try await store.createRequest(input, by: principal, idempotency: try support.idempotency(request, body: body)), status: .created)
        }
        group.get("requests") { request, context in
            try await list(request, context, csv: Self.wantsCSV(request))
        }
        group.get("requests.csv") { request, context in
            try await list(request, context, csv: true)
        }
        group.get("requests/:id") { _, context in
            let principal = try support.principal(context, anyOf: [.erase, .audit])
            return try support.json(try await store.request(id: try support.parameter(context, "id"), by: principal))
        }
        group.post("requests/:id/verify") { request, context in
            let principal = try support.principal(context, .erase)
            let (input, body) = try await support.decode(VerifyInput.self, from: request)
            return try support.answer(try await store.verifyRequest(id: try support.parameter(context, "id"), method: input.method, by: principal,
                                                                    idempotency: try support.idempotency(request, body: body)), status: .ok)
        }
        group.post("requests/:id/assign") { request, context in
            let principal = try support.principal(context, .erase)
            let (input, body) = try await support.decode(AssignInput.self, from: request)
            return try support.answer(try await store.assignRequest(id: try support.parameter(context, "id"), assignee: input.assignee, by: principal,
                                                                    idempotency: try support.idempotency(request, body: body)), status: .ok)
        }
        group.post("requests/:id/extend") { request, context in
            let principal = try support.principal(context, .erase)
            let (input, body) = try await support.decode(ExtendInput.self, from: request)
            let id = try support.parameter(context, "id")
            // The amount is read in the request's own unit, so `days` on a GDPR request is not taken as months.
            let jurisdiction = try await store.request(id: id, by: principal).jurisdiction
            return try support.answer(try await store.extendRequest(id: id, by: jurisdiction == .gdpr ? input.months : input.days, reason: input.reason,
                                                                    principal: principal, idempotency: try support.idempotency(request, body: body)), status: .ok)
        }
        group.post("requests/:id/complete") { request, context in
            let principal = try support.principal(context, .erase)
            let (input, _) = try await support.decode(CompleteInput.self, from: request)
            return try support.json(try await store.completeRequest(id: try support.parameter(context, "id"), field: input.field, value: input.value, by: principal))
        }
    }

    static func wantsCSV(_ request: Request) -> Bool {
        request.headers[.accept]?.lowercased().contains("text/csv") == true
    }

    func list(_ request: Request, _ context: CandorRequestContext, csv: Bool) async throws -> Response {
        let principal = try support.principal(context, anyOf: [.erase, .audit])
        var status: RightsRequestStatus?
        if let text = request.uri.queryParameters.get("status") {
            guard let value = RightsRequestStatus(rawValue: text) else {
                throw Problem.field(.badRequest, .malformed, field: "status", "must be one of \(RightsRequestStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = value
        }
        var overdue = false
        if let text = request.uri.queryParameters.get("overdue") {
            guard text == "true" || text == "false" else { throw Problem.field(.badRequest, .malformed, field: "overdue", "must be true or false") }
            overdue = text == "true"
        }
        let page = try await store.listRequests(status: status, overdueOnly: overdue, cursor: try support.cursor(request), limit: try support.limit(request), by: principal)
        guard csv else { return try support.json(page.opaque) }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"requests.csv\""
        if let next = page.opaque.nextCursor { headers[HTTPField.Name("Candor-Next-Cursor")!] = next }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Self.csv(page.data))))
    }

    /// The log as CSV (RFC 4180). Cells a spreadsheet would run as formulas are prefixed with `'`.
    static func csv(_ requests: [RightsRequest]) -> String {
        let header = ["id", "type", "channel", "jurisdiction", "status", "received_at", "due_at", "confirmation_due_at", "extension", "extension_reason",
                      "verified_at", "verification_method", "assignee", "completed_at", "outcome", "overdue"]
        var lines = [header.joined(separator: ",")]
        for item in requests {
            let cells: [String?] = [item.id, item.type.rawValue, item.channel, item.jurisdiction.rawValue, item.status.rawValue, item.receivedAt, item.dueAt,
                                    item.confirmationDueAt, String(item.extended), item.extensionReason, item.verifiedAt, item.verificationMethod,
                                    item.assignee, item.completedAt, item.outcome, item.isOverdue ? "true" : "false"]
            lines.append(cells.map { cell($0 ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            value = "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }
}
