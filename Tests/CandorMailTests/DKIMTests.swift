import Crypto
import _CryptoExtras
import Foundation
import Testing
@testable import CandorMail

@Suite struct DKIMTests {
    func message() throws -> MIMEMessage {
        MIMEMessage(from: try MailAddress("news@shop.example"), to: try MailAddress("dana@example.org"),
                    subject: "חדש בריצה", text: "Hello  runner \n\n\n", html: "<p>Hi</p>",
                    unsubscribeURL: "https://shop.example/unsubscribe/t1")
    }

    /// Splits a rendered message into unfolded headers and the body, as a verifier reads it.
    func parse(_ rendered: String) -> (headers: [(String, String)], body: String) {
        let parts = rendered.components(separatedBy: "\r\n\r\n")
        let body = parts.dropFirst().joined(separator: "\r\n\r\n")
        var headers = [(String, String)]()
        for line in parts[0].components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t") {
                headers[headers.count - 1].1 += "\r\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        return (headers, body)
    }

    /// Checks a signature the way a receiving server does: body hash, then the signed header hash.
    func verify(_ rendered: String, check: (Data, Data) -> Bool) throws -> Bool {
        let (headers, body) = parse(rendered)
        let signature = try #require(headers.first { $0.0 == "DKIM-Signature" }?.1)
        var tags = [String: String]()
        for tag in signature.split(separator: ";") {
            let pair = tag.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            tags[pair[0]] = pair.count > 1 ? pair[1] : ""
        }
        let bodyHash = Data(SHA256.hash(data: Data(DKIMSigner.relaxedBody(body).utf8))).base64EncodedString()
        guard bodyHash == tags["bh"] else { return false }
        var data = ""
        for name in try #require(tags["h"]).split(separator: ":") {
            let header = try #require(headers.last { $0.0.lowercased() == name })
            data += DKIMSigner.relaxedHeader(name: header.0, value: header.1) + "\r\n"
        }
        let withoutB = signature.replacingOccurrences(of: "b=" + tags["b"]!, with: "b=")
        data += DKIMSigner.relaxedHeader(name: "DKIM-Signature", value: withoutB)
        return check(Data(data.utf8), try #require(Data(base64Encoded: tags["b"]!)))
    }

    @Test func rsaSignatureVerifiesAndCoversTheUnsubscribeHeaders() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let signer = DKIMSigner(domain: "shop.example", selector: "s1", key: .rsa(key))
        let rendered = try message().render(signer: signer)
        #expect(rendered.hasPrefix("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example; s=s1;"))
        #expect(rendered.contains("h=from:to:subject:date:message-id:mime-version:content-type:list-unsubscribe:list-unsubscribe-post;"))
        let rsaCheck: (Data, Data) -> Bool = { data, signature in
            key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
        }
        #expect(try verify(rendered, check: rsaCheck))
        // A changed unsubscribe link no longer verifies.
        let tampered = rendered.replacingOccurrences(of: "unsubscribe/t1", with: "unsubscribe/t2")
        #expect(try !verify(tampered, check: rsaCheck))
    }

    @Test func ed25519SignatureVerifies() throws {
        let key = Curve25519.Signing.PrivateKey()
        let signer = try DKIMSigner(domain: "shop.example", selector: "ed", keyText: key.rawRepresentation.base64EncodedString())
        let rendered = try message().render(signer: signer)
        #expect(rendered.contains("a=ed25519-sha256"))
        #expect(try verify(rendered) { data, signature in
            key.publicKey.isValidSignature(signature, for: Data(SHA256.hash(data: data)))
        })
        #expect(signer.publicKeyRecord == "v=DKIM1; k=ed25519; p=" + key.publicKey.rawRepresentation.base64EncodedString())
    }

    @Test func unreadableKeyIsRefused() {
        #expect(throws: DKIMError.self) { try DKIMSigner(domain: "d.example", selector: "s", keyText: "not a key") }
    }

    @Test func relaxedBodyCanonicalization() {
        #expect(DKIMSigner.relaxedBody("a  b \t\r\nc\r\n\r\n\r\n") == "a b\r\nc\r\n")
        #expect(DKIMSigner.relaxedBody("\r\n\r\n") == "")
    }
}
