import Crypto
import Foundation

/// What a verified subject token says: whose it is, what it may be used for, until when, and the
/// random nonce that makes each token unique (and lets single-use links be recorded as used).
public struct SubjectLinkClaims: Sendable, Hashable {
    /// The subject the token speaks for.
    public var subjectId: String
    /// What the token may be used for, such as `rights` (an e-mailed link) or `session` (a portal session).
    public var purpose: String
    /// Expiry in milliseconds since the epoch.
    public var expiresAt: Int64
    /// 128 random bits as hex.
    public var nonce: String

    public init(subjectId: String, purpose: String, expiresAt: Int64, nonce: String) {
        self.subjectId = subjectId
        self.purpose = purpose
        self.expiresAt = expiresAt
        self.nonce = nonce
    }
}

/// Why a subject token was refused. Pages tell a person "wrong" and "expired" apart (they can act on
/// the difference: ask for a new link), but never why a wrong token is wrong.
public enum SubjectLinkError: Error, Sendable, Hashable {
    /// Not a token this installation signed, or signed for another purpose.
    case invalid
    /// Signed by us, but past its expiry.
    case expired
}

/// Signs and verifies short-lived subject tokens: `base64url(payload).base64url(HMAC-SHA256)`.
///
/// The key is derived from the master key with HKDF under its own label, so a token can never be
/// confused with an e-mail lookup hash, and rotating the master key invalidates every link.
/// The purpose is inside the signed payload, so a session token cannot be replayed as an e-mail link.
public struct SubjectLinks: Sendable {
    let key: SymmetricKey

    /// A signer whose key is derived from the installation's master key.
    public init(masterKey: SymmetricKey) {
        self.key = HKDF<SHA256>.deriveKey(inputKeyMaterial: masterKey, info: Data("candor subject link v1".utf8), outputByteCount: 32)
    }

    /// A fresh token for `subjectId`, valid for `lifetimeMillis` from `now`.
    public func issue(subjectId: String, purpose: String, now: Int64, lifetimeMillis: Int64) -> String {
        var nonce = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in nonce.indices { nonce[index] = UInt8.random(in: 0...255, using: &generator) }
        return sign(SubjectLinkClaims(subjectId: subjectId, purpose: purpose, expiresAt: now + lifetimeMillis, nonce: Digest.hex(nonce)))
    }

    /// The token for exactly these claims (tests use it to forge expiry and purpose under the right key).
    public func sign(_ claims: SubjectLinkClaims) -> String {
        let payload = Data("\(claims.purpose)\n\(claims.subjectId)\n\(claims.expiresAt)\n\(claims.nonce)".utf8)
        return Self.base64URL(payload) + "." + Self.base64URL(Data(mac(payload)))
    }

    /// The claims of a token signed by this installation for `purpose` and not yet expired at `now`.
    /// The signature is checked (in constant time) before anything in the payload is believed.
    public func verify(_ token: String, purpose: String, now: Int64) -> Result<SubjectLinkClaims, SubjectLinkError> {
        guard token.count <= 512 else { return .failure(.invalid) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Self.decodeBase64URL(String(parts[0])), let signature = Self.decodeBase64URL(String(parts[1])),
              constantTimeEquals(Array(signature), mac(payload))
        else { return .failure(.invalid) }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4, let expiresAt = Int64(fields[2]) else { return .failure(.invalid) }
        // Compared after the signature, so the purpose is one we signed; a mismatch is just "not for this".
        guard fields[0] == purpose else { return .failure(.invalid) }
        guard now < expiresAt else { return .failure(.expired) }
        return .success(SubjectLinkClaims(subjectId: fields[1], purpose: fields[0], expiresAt: expiresAt, nonce: fields[3]))
    }

    /// A keyed digest of `value` under a label: CSRF tokens bound to a session or browser nonce.
    public func tag(_ label: String, _ value: String) -> String {
        Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data("\(label)\n\(value)".utf8), using: key)))
    }

    /// Whether `presented` is the tag of `value` under `label` (constant time).
    public func checkTag(_ label: String, _ value: String, presented: String) -> Bool {
        constantTimeEquals(Array(tag(label, value).utf8), Array(presented.utf8))
    }

    func mac(_ payload: Data) -> [UInt8] {
        var material = Data("candor-link-v1\n".utf8)
        material.append(payload)
        return Array(HMAC<SHA256>.authenticationCode(for: material, using: key))
    }

    /// Base64url without padding (RFC 4648 §5): safe in paths and cookies as it is.
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url without padding; nil for anything else.
    public static func decodeBase64URL(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        // Only the canonical spelling: otherwise unused low bits of the last character would let one
        // token be written several ways, and each way would look like a different, unused link.
        guard let data = Data(base64Encoded: standard), base64URL(data) == text else { return nil }
        return data
    }
}

extension ServerSecrets {
    /// The signer of this installation's subject tokens.
    public var subjectLinks: SubjectLinks { SubjectLinks(masterKey: masterKey) }
}
