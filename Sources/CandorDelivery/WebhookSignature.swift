import CandorCore
import Crypto
import Foundation

/// A Standard Webhooks signing secret: `whsec_` followed by the base64 of random bytes.
/// The HMAC key is the decoded bytes, never the text.
public struct WebhookSecret: Sendable, Hashable {
    public static let prefix = "whsec_"
    /// The raw key bytes.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses `whsec_<base64>`; nil when the text is not a secret of that form.
    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix), let data = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))), data.count >= 24 else { return nil }
        self.bytes = Array(data)
    }

    /// A fresh 32-byte secret.
    public static func generate() -> WebhookSecret {
        WebhookSecret(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The secret as it is shown (once) to the administrator and configured at the receiver.
    public var text: String { Self.prefix + Data(bytes).base64EncodedString() }
}

/// Standard Webhooks signatures (https://www.standardwebhooks.com/): the signed content is
/// `"{webhook-id}.{webhook-timestamp}.{body}"`, signed with HMAC-SHA256; `webhook-signature` holds one
/// `v1,<base64>` per active secret, separated by spaces, so a receiver can rotate without downtime.
public enum WebhookSigner {
    /// One `v1,<base64 HMAC-SHA256>` signature.
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: secret.bytes))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The three headers of a signed delivery. `secrets` is the current secret first, then any older one
    /// still inside its rotation overlap.
    public static func headers(id: String, timestamp: Int64, body: [UInt8], secrets: [WebhookSecret]) -> [(name: String, value: String)] {
        [
            ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", secrets.map { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")),
        ]
    }

    /// Whether any `v1` signature in a `webhook-signature` header matches (constant-time comparison).
    /// Used by Candor's own tests and by the benchmark's receiver.
    public static func verify(header: String, id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> Bool {
        let expected = Array(signature(id: id, timestamp: timestamp, body: body, secret: secret).utf8)
        var matched = false
        for candidate in header.split(separator: " ") where candidate.hasPrefix("v1,") {
            if constantTimeEquals(Array(candidate.utf8), expected) { matched = true }
        }
        return matched
    }
}
