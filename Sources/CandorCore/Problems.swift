/// One thing wrong with a request, named by the JSON path of the field that holds it.
public struct FieldError: Error, Sendable, Hashable, Codable {
    /// The offending field as a JSON path, e.g. `values[0].value`.
    public var field: String
    /// What is wrong, in words a developer can act on.
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
}

/// A failure that the caller caused and can fix. The server turns it into an RFC 9457 problem document.
public struct CandorError: Error, Sendable {
    /// The kind of failure, which decides the HTTP status and the problem `type`.
    public enum Kind: String, Sendable {
        case validation = "validation-failed"
        case notFound = "not-found"
        case conflict = "conflict"
        case gone = "subject-erased"
        case forbidden = "forbidden"
        case unauthorized = "unauthorized"
        case idempotencyMismatch = "idempotency-key-reused"
        case tooLarge = "payload-too-large"
        case malformed = "malformed-request"
    }

    public var kind: Kind
    public var detail: String
    public var errors: [FieldError]

    public init(_ kind: Kind, _ detail: String, errors: [FieldError] = []) {
        self.kind = kind
        self.detail = detail
        self.errors = errors
    }

    /// A validation failure listing every field error found.
    public static func invalid(_ errors: [FieldError]) -> CandorError {
        let detail = errors.count == 1 ? "\(errors[0].field): \(errors[0].message)" : "\(errors.count) fields are invalid"
        return CandorError(.validation, detail, errors: errors)
    }

    /// A validation failure for a single field.
    public static func invalid(_ field: String, _ message: String) -> CandorError {
        invalid([FieldError(field, message)])
    }
}
