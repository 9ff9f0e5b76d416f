import Crypto
import Foundation

/// Hashing helpers.
public enum Digest {
    /// SHA-256 of bytes.
    public static func sha256(_ data: some DataProtocol) -> [UInt8] { Array(SHA256.hash(data: data)) }
    /// SHA-256 of bytes as lowercase hex.
    public static func sha256Hex(_ data: some DataProtocol) -> String { hex(sha256(data)) }
    /// Lowercase hex of bytes.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// SHA-256 of a text's UTF-8 bytes, read in place (no copy into `Data` or an array first).
    public static func sha256(utf8 text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { Array(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }
    /// Bytes from hex, or nil when the text is not hex.
    public static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}

/// Comparison that takes the same time wherever two values differ, for tokens and signatures.
public func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (a, b) in zip(lhs, rhs) { difference |= a ^ b }
    return difference == 0
}

/// API key material: generation and the hash under which a key is stored.
public enum KeyMaterial {
    static let base62 = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// A new key such as `cnd_sk_<32 base62 characters>` (about 190 bits of randomness).
    public static func generate(_ kind: KeyKind) -> String {
        var generator = SystemRandomNumberGenerator()
        var body = ""
        for _ in 0..<32 { body.append(base62[Int(generator.next(upperBound: UInt64(62)))]) }
        return kind.prefix + body
    }

    /// The hash a key is stored and looked up under. Keys carry enough randomness that a plain
    /// SHA-256 cannot be reversed; nobody can learn a key from the database.
    public static func storageHash(_ key: String) -> String { Digest.hex(Digest.sha256(utf8: key)) }
}

/// The secrets a Candor installation holds: the master key that wraps subject keys and derives lookup
/// keys, and the Ed25519 key that signs ledger checkpoints.
public struct ServerSecrets: Sendable {
    public let masterKey: SymmetricKey
    public let signingKey: Curve25519.Signing.PrivateKey

    /// The key for hashing e-mail addresses into lookup values, derived from the master key.
    public let lookupKey: SymmetricKey

    /// The key for hashing external ids into lookup values (a separate derivation, so an e-mail hash and
    /// an external-id hash of the same text never match).
    public let externalIdLookupKey: SymmetricKey

    public init(masterKey: [UInt8], signingKey: [UInt8]) throws {
        guard masterKey.count == 32 else { throw CandorError(.malformed, "master key must be 32 bytes") }
        self.masterKey = SymmetricKey(data: masterKey)
        self.signingKey = try Curve25519.Signing.PrivateKey(rawRepresentation: signingKey)
        self.lookupKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: self.masterKey, info: Data("candor email lookup v1".utf8), outputByteCount: 32)
        self.externalIdLookupKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: self.masterKey, info: Data("candor external id lookup v1".utf8), outputByteCount: 32)
    }

    /// Fresh random secrets (32-byte master key, Ed25519 private key), as raw bytes.
    public static func generateRaw() -> (master: [UInt8], signing: [UInt8]) {
        let master = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        return (master, Array(Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    /// The keyed hash under which a normalized e-mail address is found, without storing it in clear.
    public func emailLookupHash(_ email: String) -> String {
        let normalized = Self.normalizeEmail(email)
        return Digest.hex(HMAC<SHA256>.authenticationCode(for: Data(normalized.utf8), using: lookupKey))
    }

    /// The keyed hash under which an external id (exactly as given) is found: the id itself is stored
    /// only sealed under the subject's key, so erasing the key leaves nothing readable behind, not even
    /// in PostgreSQL's write-ahead log.
    public func externalIdLookupHash(_ externalId: String) -> String {
        Digest.hex(HMAC<SHA256>.authenticationCode(for: Data(externalId.utf8), using: externalIdLookupKey))
    }

    /// Lower-cases and trims an e-mail address.
    public static func normalizeEmail(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// A new per-subject key, wrapped (encrypted) under the master key for storage.
    public func makeSubjectKey(subjectId: String) throws -> (key: SymmetricKey, wrapped: [UInt8]) {
        let key = SymmetricKey(size: .bits256)
        let raw = key.withUnsafeBytes { Data($0) }
        let sealed = try ChaChaPoly.seal(raw, using: masterKey, authenticating: Data(subjectId.utf8))
        return (key, Array(sealed.combined))
    }

    /// Unwraps a stored subject key.
    public func unwrapSubjectKey(_ wrapped: [UInt8], subjectId: String) throws -> SymmetricKey {
        let box = try ChaChaPoly.SealedBox(combined: wrapped)
        let raw = try ChaChaPoly.open(box, using: masterKey, authenticating: Data(subjectId.utf8))
        return SymmetricKey(data: raw)
    }

    /// The public half of the checkpoint signing key.
    public var signingPublicKey: [UInt8] { Array(signingKey.publicKey.rawRepresentation) }
}

/// Encryption of a subject's data under the subject's own key (crypto-shredding: destroy the key,
/// and every ciphertext of the subject is unreadable).
public enum SubjectCipher {
    /// Seals bytes for a subject; the subject id is bound as associated data.
    public static func seal(_ plaintext: some DataProtocol, key: SymmetricKey, subjectId: String) throws -> [UInt8] {
        // The nonce comes from the buffered random pool (one system call per 4 KiB, not one per nonce).
        Array(try ChaChaPoly.seal(plaintext, using: key, nonce: try ChaChaPoly.Nonce(data: RandomBytes.next(12)), authenticating: Data(subjectId.utf8)).combined)
    }

    /// Opens bytes sealed for a subject.
    public static func open(_ ciphertext: [UInt8], key: SymmetricKey, subjectId: String) throws -> Data {
        try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: ciphertext), using: key, authenticating: Data(subjectId.utf8))
    }
}
