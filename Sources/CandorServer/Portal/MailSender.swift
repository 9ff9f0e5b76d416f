import Foundation
import Logging

/// One e-mail the server sends: to whom, about what, and the text. Plain text only, because a rights
/// link must be readable in every mail client, and nothing in it should load from the network.
public struct MailMessage: Sendable, Hashable {
    /// The recipient's address.
    public var to: String
    public var subject: String
    public var body: String
    /// The link the message carries, kept apart so that a demo can print it and tests can follow it.
    public var link: String
    /// The language the message is written in.
    public var language: String

    public init(to: String, subject: String, body: String, link: String, language: String) {
        self.to = to
        self.subject = subject
        self.body = body
        self.link = link
        self.language = language
    }
}

/// Where the server's e-mail goes. Pluggable, so that SMTP delivery (issue 3's outbox workers) can
/// replace the console without the portal knowing.
public protocol MailSender: Sendable {
    /// Sends a message; throwing means it was not sent.
    func send(_ message: MailMessage) async throws
}

/// Logs only *that* a message went out: never the address or the link, because a rights link opens a
/// person's data to whoever reads it, and logs are read by many.
public struct ConsoleMailSender: MailSender {
    let logger: Logger

    public init(logger: Logger = Logger(label: "candor.mail")) { self.logger = logger }

    public func send(_ message: MailMessage) async throws {
        logger.info("rights link sent", metadata: ["mail.language": "\(message.language)"])
    }
}

/// For `candor demo` only: prints the link to standard output so that the demo can be tried without a
/// mail server. Never used by `candor serve`.
public struct DemoMailSender: MailSender {
    public init() {}

    public func send(_ message: MailMessage) async throws {
        // Written straight to the file descriptor: print() is block-buffered when stdout is a file.
        let what = message.link.contains("/p/") ? "preference center link (7 days)" : "rights portal link (valid once, 60 minutes)"
        FileHandle.standardOutput.write(Data("Demo mail — \(what): \(message.link)\n".utf8))
    }
}

/// Keeps messages in memory, for tests to read the link a person would have received.
public final class InMemoryMailSender: MailSender, @unchecked Sendable {
    private let lock = NSLock()
    private var stored = [MailMessage]()

    public init() {}

    public func send(_ message: MailMessage) async throws {
        lock.withLock { stored.append(message) }
    }

    /// Every message sent so far, oldest first.
    public var messages: [MailMessage] { lock.withLock { stored } }
}
