import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The request context: Hummingbird's core storage plus the authenticated principal, if any.
public struct CandorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The API key and team behind the request, set by `AuthMiddleware`.
    public var principal: Principal?
    /// The peer's IP address, for per-client rate limits on public pages (never logged).
    public let remoteIP: String?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.remoteIP = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies larger than this are refused with 413 before they are read.
    public var maxUploadSize: Int { 1024 * 1024 }
}

extension HTTPField.Name {
    static let candorPurpose = Self("Candor-Purpose")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}

/// Authenticates `/v1` requests with a bearer key. Unknown, malformed and revoked keys are refused
/// alike, so a caller learns nothing about which keys exist.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = CandorRequestContext
    let store: CandorStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.field(.unauthorized, .unauthorized, field: "Authorization", "send 'Authorization: Bearer cnd_sk_…'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let principal = store.authenticate(String(parts[1])) else {
            // Audited for the security review under the key's visible prefix only (coalesced per minute).
            await store.recordFailedAuthentication(presented: parts.count == 2 ? String(parts[1]) : nil)
            throw Problem.field(.unauthorized, .unauthorized, field: "Authorization", "the key is malformed, unknown or revoked")
        }
        if principal.key.kind == .publishable {
            throw Problem.field(.forbidden, .forbidden, field: "Authorization", "publishable keys only work from the browser on collection endpoints; use a secret key")
        }
        var context = context
        // The key is named in the log where a request's failure is logged (`ProblemMiddleware`), not set on
        // the request's logger here: setting logger metadata re-renders all of it, on every request.
        context.principal = principal
        return try await next(request, context)
    }
}

/// Helpers every route uses: permission checks, body decoding, purpose headers, JSON answers.
struct RouteSupport: Sendable {
    let store: CandorStore
    let maxBodyBytes: Int

    /// The principal, which must hold `role`.
    func principal(_ context: CandorRequestContext, _ role: Role) throws -> Principal {
        guard let principal = context.principal else { throw CandorError(.unauthorized, "authentication required") }
        guard principal.has(role) else {
            throw CandorError(.forbidden, "team '\(principal.team.key)' lacks the '\(role.rawValue)' role")
        }
        return principal
    }

    /// The purpose named in `Candor-Purpose`: it must exist and the team must hold it.
    func purpose(_ request: Request, _ principal: Principal) throws -> String {
        guard let purpose = request.headers[.candorPurpose], !purpose.isEmpty else {
            throw Problem.field(.badRequest, .malformed, field: "Candor-Purpose", "reads of personal data must name their purpose in the Candor-Purpose header")
        }
        guard store.registry.purposes[purpose] != nil else {
            throw Problem.field(.badRequest, .malformed, field: "Candor-Purpose", "unknown purpose '\(purpose)'")
        }
        guard PurposeGate.teamMayUse(principal.team, purpose: purpose) else {
            throw Problem.field(.forbidden, .forbidden, field: "Candor-Purpose", "team '\(principal.team.key)' may not use purpose '\(purpose)'")
        }
        return purpose
    }

    /// Reads the body (refusing one over the limit) and decodes it, naming the field a decoding error is about.
    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> (T, Data) {
        let data = Data(buffer: try await jsonBody(request))
        do {
            return (try JSONDecoder().decode(T.self, from: data), data)
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
    }

    /// Reads a JSON body, refusing one over the limit or of another content type (for routes that read
    /// the body themselves before `decode(_:from:)` on the bytes).
    func jsonBody(_ request: Request) async throws -> ByteBuffer {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            throw CandorError(.tooLarge, "the body exceeds \(maxBodyBytes) bytes", errors: [FieldError("body", "must be at most \(maxBodyBytes) bytes")])
        }
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw Problem.field(.unsupportedMediaType, .malformed, field: "Content-Type", "send application/json")
        }
        return buffer
    }

    /// Decodes a body read by `jsonBody`, naming the field a decoding error is about.
    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
    }

    static func describe(_ error: DecodingError) -> CandorError {
        func path(_ codingPath: [CodingKey], _ last: CodingKey? = nil) -> String {
            var text = ""
            for key in codingPath + (last.map { [$0] } ?? []) {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text.isEmpty ? "body" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .invalid(path(context.codingPath, key), "is required")
        case .typeMismatch(let expected, let context):
            return .invalid(path(context.codingPath), "expected \(Self.typeName(expected))")
        case .valueNotFound(let expected, let context):
            return .invalid(path(context.codingPath), "expected \(Self.typeName(expected)), got null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return CandorError(.malformed, "the body is not valid JSON", errors: [FieldError("body", "is not valid JSON")]) }
            return .invalid(path(context.codingPath), "is not valid")
        @unknown default:
            return CandorError(.malformed, "the body could not be read")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    /// The `Idempotency-Key` of a write, bound to the hash of the exact request.
    func idempotency(_ request: Request, body: Data) throws -> IdempotencyRequest? {
        guard let key = request.headers[.idempotencyKey] else { return nil }
        guard (1...255).contains(key.count), key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw Problem.field(.badRequest, .malformed, field: "Idempotency-Key", "must be 1 to 255 visible ASCII characters")
        }
        var material = Data("\(request.method.rawValue) \(request.uri.path)\n".utf8)
        material.append(body)
        return IdempotencyRequest(key: key, requestHash: Digest.sha256Hex(material))
    }

    /// Encodes a value as the JSON answer (the same bytes the store keeps for idempotent replays).
    func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try FastJSON.encode(value))))
    }

    /// Answers a write: the fresh result with `status`, or the first answer replayed.
    func answer<T: Encodable & Sendable>(_ outcome: WriteOutcome<T>, status: HTTPResponse.Status) throws -> Response {
        switch outcome {
        case .fresh(let value):
            return try json(value, status: status)
        case .replayed(let code, let body):
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.idempotentReplayed] = "true"
            return Response(status: HTTPResponse.Status(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    /// Registers a write on one subject that takes no body (erase, restrict, object, …): the `erase`
    /// role, the id from the path, the Idempotency-Key, and the answer — the same for every such action.
    func subjectAction<R: Codable & Sendable>(
        _ group: RouterGroup<CandorRequestContext>, _ method: HTTPRequest.Method, _ path: String,
        _ action: @escaping @Sendable (_ id: String, _ principal: Principal, _ request: Request, _ idempotency: IdempotencyRequest?) async throws -> WriteOutcome<R>
    ) {
        group.on(RouterPath(path), method: method) { request, context in
            let principal = try self.principal(context, .erase)
            let id = try self.parameter(context, "id")
            return try self.answer(try await action(id, principal, request, try self.idempotency(request, body: Data())), status: .ok)
        }
    }

    /// A list limit from the query (1–500, default 50).
    func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 50 }
        guard let value = Int(text), (1...500).contains(value) else {
            throw Problem.field(.badRequest, .malformed, field: "limit", "must be a whole number from 1 to 500")
        }
        return value
    }

    /// An opaque cursor from the query.
    func cursor(_ request: Request) throws -> String? {
        guard let text = request.uri.queryParameters.get("cursor") else { return nil }
        guard let data = Data(base64Encoded: text), let value = String(data: data, encoding: .utf8) else {
            throw Problem.field(.badRequest, .malformed, field: "cursor", "is not a cursor this server issued")
        }
        return value
    }

    /// A path parameter.
    func parameter(_ context: CandorRequestContext, _ name: String) throws -> String {
        guard let value = context.parameters.get(name) else { throw CandorError(.notFound, "missing \(name)") }
        return value
    }
}

extension Page {
    /// The page with its cursor made opaque.
    var opaque: Page {
        Page(data: data, nextCursor: nextCursor.map { Data($0.utf8).base64EncodedString() })
    }
}
