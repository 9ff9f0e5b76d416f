import CandorCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// An RFC 9457 problem document. Every failure the caller can act on is answered with one.
struct Problem: Error, HTTPResponseError, Codable {
    var type: String
    var title: String
    var statusCode: Int
    var detail: String
    var errors: [FieldError]?

    enum CodingKeys: String, CodingKey {
        case type, title, detail, errors
        case statusCode = "status"
    }

    var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    init(status: HTTPResponse.Status, kind: String, title: String, detail: String, errors: [FieldError]? = nil) {
        self.type = "urn:candor:problem:\(kind)"
        self.title = title
        self.statusCode = status.code
        self.detail = detail
        self.errors = errors?.isEmpty == true ? nil : errors
    }

    init(_ error: CandorError) {
        let (status, title): (HTTPResponse.Status, String) = switch error.kind {
        case .validation: (.unprocessableContent, "The request is not valid")
        case .malformed: (.badRequest, "The request could not be read")
        case .notFound: (.notFound, "Not found")
        case .conflict: (.conflict, "Conflict")
        case .gone: (.gone, "The subject was erased")
        case .forbidden: (.forbidden, "Not allowed")
        case .unauthorized: (.unauthorized, "Authentication required")
        case .idempotencyMismatch: (.unprocessableContent, "Idempotency-Key reused with a different request")
        case .tooLarge: (.contentTooLarge, "The request body is too large")
        }
        self.init(status: status, kind: error.kind.rawValue, title: title, detail: error.detail, errors: error.errors)
    }

    static func field(_ status: HTTPResponse.Status, _ kind: CandorError.Kind, field: String, _ message: String) -> Problem {
        Problem(CandorError(kind, "\(field): \(message)", errors: [FieldError(field, message)])).with(status: status)
    }

    func with(status: HTTPResponse.Status) -> Problem {
        var copy = self
        copy.statusCode = status.code
        return copy
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if statusCode == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"candor\"" }
        let body = (try? CandorJSON.encode(self)) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns anything thrown by a handler into a problem document; unknown failures become a bare 500
/// whose details stay in the log (ids and types only, never request content).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as Problem {
            return try error.response(from: request, context: context)
        } catch let error as CandorError {
            return try Problem(error).response(from: request, context: context)
        } catch let error as HTTPError {
            let kind = error.status == .notFound ? "not-found" : "http-\(error.status.code)"
            return try Problem(status: error.status, kind: kind, title: error.status.reasonPhrase, detail: error.body ?? error.status.reasonPhrase)
                .response(from: request, context: context)
        } catch {
            var metadata: Logger.Metadata = ["error.type": "\(type(of: error))", "error": "\(String(describing: error).prefix(300))"]
            if let key = (context as? CandorRequestContext)?.principal?.key.id { metadata["candor.key"] = .string(key) }
            context.logger.error("request failed", metadata: metadata)
            return try Problem(status: .internalServerError, kind: "internal", title: "Internal error", detail: "The server failed; nothing was acknowledged.")
                .response(from: request, context: context)
        }
    }
}
