import Foundation

/// Why a message could not be built. Each case names the part of the message at fault, so that a
/// caller can turn it into a problem that names the field.
public enum MIMEError: Error, Equatable, Sendable {
    /// A header value held a line break: it would let the value write headers of its own.
    case lineBreakInHeader(String)
    /// An address that is not a plain `local@domain` mailbox.
    case invalidAddress(String)
}

/// A mailbox: an address and an optional display name.
public struct MailAddress: Sendable, Hashable {
    public var address: String
    public var displayName: String?

    /// Checks the address: a plain `local@domain` with no spaces, brackets or line breaks, because an
    /// address travels inside SMTP commands and headers, where any of those would change their meaning.
    public init(_ address: String, displayName: String? = nil) throws(MIMEError) {
        guard MailAddress.isPlainMailbox(address) else { throw .invalidAddress(address) }
        if let displayName, displayName.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw .lineBreakInHeader("From")
        }
        self.address = address
        self.displayName = displayName
    }

    /// True for `local@domain` without whitespace, control characters, `<`, `>`, `,`, `;`, quotes or
    /// backslashes, at most 254 bytes long, with one `@` and a dotted domain.
    public static func isPlainMailbox(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= 254, bytes.count >= 3 else { return false }
        let forbidden: Set<UInt8> = Set("<>,;:\"\\()[] ".utf8)
        guard bytes.allSatisfy({ $0 > 32 && $0 < 127 && !forbidden.contains($0) }) else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return true
    }

    /// The header form: `"Name" <a@b>` (or an encoded word when the name is not ASCII), or `a@b`.
    func headerValue() -> String {
        guard let displayName, !displayName.isEmpty else { return address }
        let plain = displayName.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 32 && $0 != "\"" && $0 != "\\" }
        let name = plain ? "\"\(displayName)\"" : HeaderEncoding.encodedWords(displayName).joined(separator: " ")
        return "\(name) <\(address)>"
    }
}

/// RFC 2047 encoded words for header text that is not plain ASCII (a Hebrew subject, a name).
public enum HeaderEncoding {
    /// Longest UTF-8 run per encoded word: 42 bytes become 56 base64 characters, so each word is at
    /// most 68 characters and `Subject: ` plus the first word stays within the 78-character line.
    static let bytesPerWord = 42

    /// The value as it may appear in a header: unchanged when it is printable ASCII and cannot be
    /// mistaken for an encoded word, otherwise B-encoded UTF-8 words folded onto continuation lines.
    public static func encode(_ value: String) -> String {
        let plain = value.unicodeScalars.allSatisfy { $0.isASCII && ($0.value >= 32 && $0.value < 127) }
        if plain && !value.contains("=?") { return value }
        return encodedWords(value).joined(separator: "\r\n ")
    }

    /// Splits the text at character boundaries (never inside a UTF-8 sequence or a grapheme, so each
    /// word decodes on its own, as RFC 2047 §5 requires) into `=?UTF-8?B?…?=` words.
    public static func encodedWords(_ value: String) -> [String] {
        var words = [String]()
        var chunk = [UInt8]()
        for character in value {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty && chunk.count + bytes.count > bytesPerWord {
                words.append(word(chunk))
                chunk.removeAll(keepingCapacity: true)
            }
            chunk.append(contentsOf: bytes)
        }
        if !chunk.isEmpty || words.isEmpty { words.append(word(chunk)) }
        return words
    }

    private static func word(_ bytes: [UInt8]) -> String {
        "=?UTF-8?B?\(Data(bytes).base64EncodedString())?="
    }
}

/// Quoted-printable (RFC 2045 §6.7) for UTF-8 text: readable where the text is ASCII, never a line
/// longer than 76 characters, soft line breaks (`=` at the end) that a reader removes again.
public enum QuotedPrintable {
    public static let maximumLineLength = 76

    /// Encodes text whose lines may end in LF or CRLF; the result uses CRLF throughout.
    public static func encode(_ text: String) -> String {
        var output = [UInt8]()
        output.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        // One pass over the bytes: a line ends at LF (a CR right before it belongs to the break).
        let bytes = Array(text.utf8)
        var start = 0
        var index = 0
        while index <= bytes.count {
            if index == bytes.count || bytes[index] == 10 {
                var end = index
                if end > start && bytes[end - 1] == 13 { end -= 1 }
                if start > 0 { output.append(contentsOf: [13, 10]) }
                encodeLine(bytes[start..<end], into: &output)
                start = index + 1
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func encodeLine(_ bytes: ArraySlice<UInt8>, into output: inout [UInt8]) {
        var column = 0
        for index in bytes.indices {
            let byte = bytes[index]
            let isLast = index == bytes.endIndex - 1
            var token: [UInt8]
            // Trailing blanks would be eaten by transports, so the last one is encoded.
            if (byte >= 33 && byte <= 126 && byte != 61) || ((byte == 32 || byte == 9) && !isLast) {
                token = [byte]
            } else {
                token = [61, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
            // Leave room for the "=" of a soft break unless this token ends the line.
            let limit = isLast ? maximumLineLength : maximumLineLength - 1
            if column + token.count > limit {
                output.append(contentsOf: [61, 13, 10])
                column = 0
            }
            output.append(contentsOf: token)
            column += token.count
        }
    }
}

/// One e-mail with a plain-text part and an optional HTML part, ready to be rendered as an RFC 5322
/// message. Headers are kept in order because a DKIM signature covers them by name.
public struct MIMEMessage: Sendable {
    public var from: MailAddress
    public var to: MailAddress
    public var subject: String
    public var date: Date
    /// Without the angle brackets: `id@domain`.
    public var messageID: String
    public var text: String
    public var html: String?
    /// The one-click unsubscribe URL (RFC 8058); adds `List-Unsubscribe` and `List-Unsubscribe-Post`.
    public var unsubscribeURL: String?
    /// Further headers, in order, as (name, value); values are encoded like the subject.
    public var extraHeaders: [(String, String)]

    public init(from: MailAddress, to: MailAddress, subject: String, text: String, html: String? = nil,
                unsubscribeURL: String? = nil, date: Date = Date(), messageID: String? = nil,
                extraHeaders: [(String, String)] = []) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.unsubscribeURL = unsubscribeURL
        self.date = date
        self.messageID = messageID ?? MIMEMessage.newMessageID(domain: from.address.split(separator: "@").last.map(String.init) ?? "localhost")
        self.extraHeaders = extraHeaders
    }

    /// A random, unguessable id at the sender's domain.
    public static func newMessageID(domain: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        var random = [UInt8]()
        random.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next()
            for _ in 0..<8 {
                random.append(hex[Int(word & 0xF)])
                random.append(hex[Int((word >> 4) & 0xF)])
                word >>= 8
            }
        }
        return String(decoding: random, as: UTF8.self) + "@" + domain
    }

    /// The RFC 5322 date form, always in UTC so that no server locale leaks into it.
    public static func rfc5322Date(_ date: Date) -> String {
        // Civil-from-days (proleptic Gregorian), so no formatter or locale is involved per message.
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let weekday = Int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(names[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) +0000"
    }

    /// The headers in the order they are written, each as (name, value already encoded and folded).
    public func headers() throws(MIMEError) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            ("From", from.headerValue()),
            ("To", to.headerValue()),
            ("Subject", HeaderEncoding.encode(try MIMEMessage.checked(subject, "Subject"))),
            ("Date", MIMEMessage.rfc5322Date(date)),
            ("Message-ID", "<\(try MIMEMessage.checked(messageID, "Message-ID"))>"),
            ("MIME-Version", "1.0"),
        ]
        if let unsubscribeURL {
            headers.append(("List-Unsubscribe", "<\(try MIMEMessage.checked(unsubscribeURL, "List-Unsubscribe"))>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        }
        for (name, value) in extraHeaders {
            headers.append((try MIMEMessage.checked(name, name), HeaderEncoding.encode(try MIMEMessage.checked(value, name))))
        }
        return headers
    }

    /// The body below the headers: the content headers of the top part, a blank line, and its content.
    /// Returned apart from the headers so a signer can hash exactly what follows the blank line.
    public func contentHeadersAndBody() -> (headers: [(name: String, value: String)], body: String) {
        let textPart = QuotedPrintable.encode(text)
        guard let html else {
            return ([("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")], textPart + "\r\n")
        }
        // "=_" cannot occur in quoted-printable output, so the boundary never collides with content.
        let boundary = "=_candor_" + messageID.prefix(while: { $0 != "@" })
        var body = "This is a multipart message in MIME format.\r\n"
        body += "--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        body += textPart + "\r\n"
        body += "--\(boundary)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        body += QuotedPrintable.encode(html) + "\r\n"
        body += "--\(boundary)--\r\n"
        return ([("Content-Type", "multipart/alternative; boundary=\"\(boundary)\"")], body)
    }

    /// The whole message with CRLF line ends, optionally signed.
    public func render(signer: DKIMSigner? = nil) throws -> String {
        let content = contentHeadersAndBody()
        var all = try headers()
        all.append(contentsOf: content.headers)
        var head = ""
        if let signer {
            let signature = try signer.signatureHeader(headers: all, body: content.body, time: date)
            head += "DKIM-Signature: \(signature)\r\n"
        }
        for header in all { head += "\(header.name): \(header.value)\r\n" }
        return head + "\r\n" + content.body
    }

    private static func checked(_ value: String, _ field: String) throws(MIMEError) -> String {
        if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) { throw .lineBreakInHeader(field) }
        return value
    }
}
