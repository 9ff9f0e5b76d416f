import Crypto
import _CryptoExtras
import Foundation

/// Why a DKIM key could not be used.
public enum DKIMError: Error, Equatable, Sendable {
    case unreadableKey(String)
}

/// Signs messages with DKIM (RFC 6376), relaxed/relaxed canonicalization, with an RSA key
/// (`rsa-sha256`) or an Ed25519 key (`ed25519-sha256`, RFC 8463).
public struct DKIMSigner: Sendable {
    /// The signing key.
    public enum Key: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)

        var algorithm: String {
            switch self {
            case .rsa: "rsa-sha256"
            case .ed25519: "ed25519-sha256"
            }
        }
    }

    /// The headers the signature covers, so that none of them can be altered or added in transit
    /// without breaking it — including the one-click unsubscribe pair that mail clients act on.
    public static let signedHeaders = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
                                       "Content-Type", "List-Unsubscribe", "List-Unsubscribe-Post"]

    public var domain: String
    public var selector: String
    public var key: Key

    public init(domain: String, selector: String, key: Key) {
        self.domain = domain
        self.selector = selector
        self.key = key
    }

    /// Reads a key file: a PEM RSA private key (PKCS #1 or PKCS #8), or an Ed25519 key as the base64
    /// of its 32 raw bytes (the form `openssl` and DNS records use for the public half).
    public init(domain: String, selector: String, keyText: String) throws {
        let trimmed = keyText.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("-----BEGIN") {
            do {
                self.init(domain: domain, selector: selector, key: .rsa(try _RSA.Signing.PrivateKey(pemRepresentation: trimmed)))
            } catch {
                throw DKIMError.unreadableKey("not an RSA private key in PEM form")
            }
        } else if let raw = Data(base64Encoded: trimmed), raw.count == 32,
                  let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) {
            self.init(domain: domain, selector: selector, key: .ed25519(key))
        } else {
            throw DKIMError.unreadableKey("neither a PEM RSA key nor a base64 Ed25519 key")
        }
    }

    /// The value of the `p=` tag to publish in DNS at `{selector}._domainkey.{domain}`.
    public var publicKeyRecord: String {
        switch key {
        case .rsa(let key): "v=DKIM1; k=rsa; p=" + key.publicKey.derRepresentation.base64EncodedString()
        case .ed25519(let key): "v=DKIM1; k=ed25519; p=" + key.publicKey.rawRepresentation.base64EncodedString()
        }
    }

    /// The DKIM-Signature header value for a message with these headers (name, value as written) and
    /// this body (everything after the blank line).
    public func signatureHeader(headers: [(name: String, value: String)], body: String, time: Date) throws -> String {
        let bodyHash = Data(SHA256.hash(data: Data(DKIMSigner.relaxedBody(body).utf8))).base64EncodedString()
        // Sign only headers that are present; the last instance of a name is the one a verifier picks.
        var signedNames = [String]()
        var canonical = ""
        for name in DKIMSigner.signedHeaders {
            if let header = headers.last(where: { $0.name.lowercased() == name.lowercased() }) {
                signedNames.append(name.lowercased())
                canonical += DKIMSigner.relaxedHeader(name: header.name, value: header.value) + "\r\n"
            }
        }
        let unsigned = "v=1; a=\(key.algorithm); c=relaxed/relaxed; d=\(domain); s=\(selector); t=\(Int(time.timeIntervalSince1970)); h=\(signedNames.joined(separator: ":")); bh=\(bodyHash); b="
        // The signature header itself is hashed last, without its trailing CRLF and with b= empty.
        canonical += DKIMSigner.relaxedHeader(name: "DKIM-Signature", value: unsigned)
        let data = Data(canonical.utf8)
        let signature: Data
        switch key {
        case .rsa(let key):
            signature = try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation
        case .ed25519(let key):
            // RFC 8463: Ed25519 signs the SHA-256 digest of the canonicalized header data.
            signature = try key.signature(for: Data(SHA256.hash(data: data)))
        }
        return unsigned + signature.base64EncodedString()
    }

    /// Relaxed header canonicalization (RFC 6376 §3.4.2): lower-case name, unfolded value, runs of
    /// blanks made one space, no blanks around the colon or at the end.
    static func relaxedHeader(name: String, value: String) -> String {
        let unfolded = value.replacingOccurrences(of: "\r\n", with: "")
        return name.lowercased().trimmingCharacters(in: .whitespaces) + ":" + collapseBlanks(unfolded).trimmingCharacters(in: .whitespaces)
    }

    /// Relaxed body canonicalization (RFC 6376 §3.4.4): blanks collapsed, none at line ends, no empty
    /// lines at the end, and a final CRLF when the body is not empty.
    static func relaxedBody(_ body: String) -> String {
        var lines = body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map {
            var line = collapseBlanks(String($0))
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.isEmpty ? "" : lines.joined(separator: "\r\n") + "\r\n"
    }

    private static func collapseBlanks(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var inBlank = false
        for scalar in text.unicodeScalars {
            if scalar == " " || scalar == "\t" {
                if !inBlank { result.unicodeScalars.append(" ") }
                inBlank = true
            } else {
                result.unicodeScalars.append(scalar)
                inBlank = false
            }
        }
        return result
    }
}
