import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/audit`: the audit log and the periodic review report, for teams with the `audit` role.
struct AuditRoutes {
    let support: RouteSupport
    var store: CandorStore { support.store }

    func add(to group: RouterGroup<CandorRequestContext>) {
        group.get("audit") { request, context in
            _ = try support.principal(context, .audit)
            let parameters = request.uri.queryParameters
            let query = AuditQuery(
                subjectId: parameters.get("subject_id"), team: parameters.get("team"), purpose: parameters.get("purpose"), action: parameters.get("action"),
                since: try Self.time(request, "since"), until: try Self.time(request, "until"))
            let cursor = try support.cursor(request)
            // Audit cursors are row ids: anything else would silently restart at the first page.
            if let cursor, Int64(cursor) == nil { throw Problem.field(.badRequest, .malformed, field: "cursor", "is not a cursor this server issued") }
            return try support.json(try await store.auditLog(query, cursor: cursor, limit: try support.limit(request)).opaque)
        }
        group.get("audit/report") { request, context in
            _ = try support.principal(context, .audit)
            guard let since = try Self.time(request, "since") else { throw Problem.field(.badRequest, .malformed, field: "since", "is required (RFC 3339)") }
            let until = try Self.time(request, "until") ?? Timestamp.parse(Timestamp.rfc3339(Timestamp.millis(Date())))!
            guard since < until else { throw Problem.field(.badRequest, .malformed, field: "until", "must be after since") }
            return try support.json(try await store.auditReport(since: since, until: until))
        }
    }

    static func time(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let millis = Timestamp.parse(text) else { throw Problem.field(.badRequest, .malformed, field: name, "expected an RFC 3339 time") }
        return millis
    }
}
