import CandorCore
import CandorStore
import Foundation

/// A destination as an administrator sends it (`POST` and `PUT /v1/destinations…`).
public struct DestinationInput: Codable, Sendable {
    public var url: String
    public var description: String?
    public var purposes: [String]
    public var fields: [String]?
    public var eventTypes: [String]?
    public var sharesData: Bool?
    public var enabled: Bool?
    public var maxAttempts: Int?
    public var timeoutMs: Int?
    public var retryBaseMs: Int?

    enum CodingKeys: String, CodingKey {
        case url, description, purposes, fields, enabled
        case eventTypes = "event_types"
        case sharesData = "shares_data"
        case maxAttempts = "max_attempts"
        case timeoutMs = "timeout_ms"
        case retryBaseMs = "retry_base_ms"
    }

    public init(url: String, purposes: [String], fields: [String]? = nil, eventTypes: [String]? = nil, sharesData: Bool? = nil, enabled: Bool? = nil) {
        self.url = url
        self.purposes = purposes
        self.fields = fields
        self.eventTypes = eventTypes
        self.sharesData = sharesData
        self.enabled = enabled
    }
}

/// The event types Candor emits, for checking what a destination subscribes to.
public enum EventCatalog {
    public static let types: Set<String> = [
        "subject.created", "declaration.recorded", "consent.granted", "consent.withdrawn", "subject.restricted", "subject.unrestricted",
        "subject.erased", "subject.objected", "subject.objection_lifted", "subject.opted_out_of_sale",
        "survey.completed", "incentive.issued", "rights.completed", "gpc.received",
    ]

    /// Whether a subscription pattern names something that exists: `*`, a known type, or `prefix.*` of one.
    public static func isKnown(_ pattern: String) -> Bool {
        if pattern == "*" || types.contains(pattern) { return true }
        guard pattern.hasSuffix(".*") else { return false }
        let prefix = String(pattern.dropLast())
        return types.contains { $0.hasPrefix(prefix) }
    }
}

/// Checks a destination before anything is written: the URL (https, or http only to networks the guard
/// allows; never a refused address), purposes and fields that exist and fit together, known event types.
/// Every problem is reported at once, each naming its field.
public struct DestinationValidator: Sendable {
    public let networkGuard: NetworkGuard

    public init(networkGuard: NetworkGuard) { self.networkGuard = networkGuard }

    public func validate(_ input: DestinationInput, registry: RegistrySnapshot) async throws -> DestinationSettings {
        var errors = [FieldError]()
        let components = URLComponents(string: input.url)
        let scheme = components?.scheme?.lowercased()
        if input.url.count > 2000 {
            errors.append(FieldError("url", "must be at most 2000 characters"))
        } else if let components, let scheme, let host = components.host, !host.isEmpty, scheme == "https" || scheme == "http", components.user == nil, components.password == nil {
            let port = components.port ?? (scheme == "https" ? 443 : 80)
            do {
                let addresses = try await networkGuard.check(host: host, port: port)
                // Plain http is only for receivers on networks the operator allowed explicitly (a local test receiver).
                if scheme == "http" && !addresses.allSatisfy({ address in networkGuard.allowed.contains { $0.contains(address) } }) {
                    errors.append(FieldError("url", "must use https (http is accepted only for networks allowed by delivery.allow_private_networks)"))
                }
            } catch let refusal as NetworkGuard.GuardError {
                errors.append(FieldError("url", refusal.description))
            }
        } else {
            errors.append(FieldError("url", "must be an absolute https URL without credentials"))
        }
        if let description = input.description, description.count > 500 { errors.append(FieldError("description", "must be at most 500 characters")) }
        if input.purposes.isEmpty { errors.append(FieldError("purposes", "name at least one purpose the destination serves")) }
        for (index, purpose) in input.purposes.enumerated() where registry.purposes[purpose] == nil {
            errors.append(FieldError("purposes[\(index)]", "unknown purpose '\(purpose)'"))
        }
        for (index, field) in (input.fields ?? []).enumerated() {
            guard let known = registry.fields[field] else {
                errors.append(FieldError("fields[\(index)]", "unknown field '\(field)'"))
                continue
            }
            if !known.purposes.contains(where: input.purposes.contains) {
                errors.append(FieldError("fields[\(index)]", "field '\(field)' serves none of the destination's purposes"))
            }
        }
        let eventTypes = input.eventTypes ?? ["*"]
        if eventTypes.isEmpty { errors.append(FieldError("event_types", "name at least one event type, or \"*\"")) }
        for (index, type) in eventTypes.enumerated() where !EventCatalog.isKnown(type) {
            errors.append(FieldError("event_types[\(index)]", "unknown event type '\(type)'"))
        }
        if let attempts = input.maxAttempts, !(1...50).contains(attempts) { errors.append(FieldError("max_attempts", "must be from 1 to 50")) }
        if let timeout = input.timeoutMs, !(100...60_000).contains(timeout) { errors.append(FieldError("timeout_ms", "must be from 100 to 60000")) }
        if let base = input.retryBaseMs, !(10...3_600_000).contains(base) { errors.append(FieldError("retry_base_ms", "must be from 10 to 3600000")) }
        guard errors.isEmpty else { throw CandorError.invalid(errors) }
        return DestinationSettings(
            url: input.url, description: input.description, purposes: Array(Set(input.purposes)).sorted(), fields: Array(Set(input.fields ?? [])).sorted(),
            eventTypes: Array(Set(eventTypes)).sorted(), sharesData: input.sharesData ?? false, enabled: input.enabled ?? true,
            maxAttempts: input.maxAttempts, timeoutMs: input.timeoutMs, retryBaseMs: input.retryBaseMs)
    }
}
