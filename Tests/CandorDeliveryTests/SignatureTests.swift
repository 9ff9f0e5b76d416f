import CandorDelivery
import Foundation
import Testing

@Suite("Standard Webhooks signatures")
struct SignatureTests {
    @Test("The signature of the specification's example matches the published one")
    func specificationExample() throws {
        let secret = try #require(WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = WebhookSigner.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8), secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }
}

@Suite("Webhook secrets and signature headers")
struct SignatureHeaderTests {
    @Test("Secrets round-trip as whsec_<base64>; malformed ones are refused")
    func secrets() {
        let secret = WebhookSecret.generate()
        #expect(secret.bytes.count == 32 && secret.text.hasPrefix("whsec_"))
        #expect(WebhookSecret(secret.text) == secret)
        #expect(WebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == nil)
        #expect(WebhookSecret("whsec_not base64!") == nil)
        #expect(WebhookSecret("whsec_c2hvcnQ=") == nil, "too short to be a key")
    }

    @Test("During a rotation both secrets sign; each verifies on its own, a stranger's does not")
    func rotation() {
        let old = WebhookSecret.generate(), new = WebhookSecret.generate(), stranger = WebhookSecret.generate()
        let body = Array(#"{"id":"evt_1"}"#.utf8)
        let headers = Dictionary(uniqueKeysWithValues: WebhookSigner.headers(id: "evt_1", timestamp: 1_700_000_000, body: body, secrets: [new, old]).map { ($0.name, $0.value) })
        #expect(headers["webhook-id"] == "evt_1" && headers["webhook-timestamp"] == "1700000000")
        let signature = headers["webhook-signature"] ?? ""
        #expect(signature.split(separator: " ").count == 2)
        #expect(WebhookSigner.verify(header: signature, id: "evt_1", timestamp: 1_700_000_000, body: body, secret: new))
        #expect(WebhookSigner.verify(header: signature, id: "evt_1", timestamp: 1_700_000_000, body: body, secret: old))
        #expect(!WebhookSigner.verify(header: signature, id: "evt_1", timestamp: 1_700_000_000, body: body, secret: stranger))
        #expect(!WebhookSigner.verify(header: signature, id: "evt_2", timestamp: 1_700_000_000, body: body, secret: new), "the id is signed")
        #expect(!WebhookSigner.verify(header: signature, id: "evt_1", timestamp: 1_700_000_001, body: body, secret: new), "the timestamp is signed")
    }
}
