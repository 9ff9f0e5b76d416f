import Foundation
import Testing
@testable import CandorMail

@Suite struct MIMETests {
    let from = try! MailAddress("news@shop.example", displayName: "Shop")
    let to = try! MailAddress("dana@example.org")

    @Test func hebrewSubjectBecomesEncodedWordsThatDecodeBack() throws {
        let subject = "מבצעי ריצה חדשים לחורף — רק לך, דנה, עם הנחה מיוחדת"
        let encoded = HeaderEncoding.encode(subject)
        let lines = encoded.components(separatedBy: "\r\n")
        #expect(lines.count > 1, "a long subject is folded")
        var decoded = Data()
        for line in lines {
            let word = line.trimmingCharacters(in: .whitespaces)
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            #expect(word.count <= 75, "RFC 2047 caps an encoded word at 75 characters")
            let payload = word.dropFirst(10).dropLast(2)
            let bytes = try #require(Data(base64Encoded: String(payload)))
            #expect(String(data: bytes, encoding: .utf8) != nil, "each word holds whole characters")
            decoded.append(bytes)
        }
        #expect(String(decoding: decoded, as: UTF8.self) == subject)
        #expect(HeaderEncoding.encode("Spring running picks") == "Spring running picks")
        #expect(HeaderEncoding.encode("a =?b?= c").hasPrefix("=?UTF-8?B?"), "text that looks like an encoded word is encoded")
    }

    @Test func quotedPrintableKeepsLinesShortAndDecodesBack() {
        let text = String(repeating: "שלום עולם, running shoes = great! ", count: 12) + "\nLine two ends with a space \n.starts with dot"
        let encoded = QuotedPrintable.encode(text)
        for line in encoded.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 76)
            #expect(!line.hasSuffix(" ") && !line.hasSuffix("\t"), "no trailing blank survives")
        }
        #expect(decodeQP(encoded) == text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(QuotedPrintable.encode("a=b") == "a=3Db")
    }

    @Test func multipartMessageHasBothPartsAndUnsubscribeHeaders() throws {
        let message = MIMEMessage(from: from, to: to, subject: "ריצה", text: "Hello\nrunner", html: "<p>Hello</p>",
                                  unsubscribeURL: "https://shop.example/unsubscribe/tok", date: Date(timeIntervalSince1970: 0),
                                  messageID: "abc@shop.example")
        let rendered = try message.render()
        let head = rendered.components(separatedBy: "\r\n\r\n")[0]
        #expect(head.contains("From: \"Shop\" <news@shop.example>"))
        #expect(head.contains("Subject: =?UTF-8?B?16jXmdem15Q=?="))
        #expect(head.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000"))
        #expect(head.contains("Message-ID: <abc@shop.example>"))
        #expect(head.contains("List-Unsubscribe: <https://shop.example/unsubscribe/tok>"))
        #expect(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
        #expect(head.contains("Content-Type: multipart/alternative; boundary=\"=_candor_abc\""))
        #expect(rendered.contains("--=_candor_abc\r\nContent-Type: text/plain; charset=utf-8"))
        #expect(rendered.contains("--=_candor_abc\r\nContent-Type: text/html; charset=utf-8"))
        #expect(rendered.hasSuffix("--=_candor_abc--\r\n"))
        #expect(!rendered.contains("\n\n") && !rendered.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF only")
    }

    @Test func lineBreaksInHeadersAndBadAddressesAreRefused() throws {
        let message = MIMEMessage(from: from, to: to, subject: "Hi\r\nBcc: all@example.org", text: "x")
        #expect(throws: MIMEError.lineBreakInHeader("Subject")) { try message.render() }
        #expect(throws: MIMEError.invalidAddress("a@b.c>\r\nRCPT TO:<x@y.z")) { try MailAddress("a@b.c>\r\nRCPT TO:<x@y.z") }
        #expect(throws: MIMEError.invalidAddress("no-at-sign")) { try MailAddress("no-at-sign") }
        #expect(throws: SMTPError.invalidAddress("a b@c.d")) { try OutgoingMail(id: "1", from: "x@y.z", recipients: ["a b@c.d"], data: "") }
    }

    @Test func dateHeaderMatchesAFormatterAcrossYears() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        var generator = SystemRandomNumberGenerator()
        let samples = [0, 951_782_400, 1_709_164_800, 4_107_542_399] + (0..<200).map { _ in Double(Int.random(in: 0...4_102_444_800, using: &generator)) }
        for seconds in samples {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(MIMEMessage.rfc5322Date(date) == formatter.string(from: date))
        }
    }

    @Test func dotStuffingDoublesLeadingDots() {
        #expect(SMTPConnection.dotStuffed(".a\n..b\nc") == "..a\r\n...b\r\nc\r\n.\r\n")
    }

    func decodeQP(_ text: String) -> String {
        var bytes = [UInt8]()
        let source = Array(text.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var index = 0
        while index < source.count {
            if source[index] == 61, index + 2 < source.count, let value = UInt8(String(decoding: source[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
