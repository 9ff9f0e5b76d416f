import CandorMail
import Foundation

/// How newsletters and server mail leave the building: the SMTP server, the sender, DKIM, and the
/// send rate. Without an SMTP server, campaigns can be created and previewed but the send job waits.
public struct NewsletterSettings: Sendable {
    /// The SMTP server (settings `smtp_host`, `smtp_port`, `smtp_username`, `smtp_password`, `smtp_starttls`).
    public var smtp: SMTPConfiguration?
    /// The sender of every mail (`mail_from`).
    public var from: String = "newsletter@localhost.localdomain"
    /// The DKIM signer (`dkim_selector`, `dkim_domain`, `dkim_private_key_file`), if configured.
    public var dkim: DKIMSigner?
    /// Messages per second the send job does not exceed (`mail_rate`).
    public var messagesPerSecond: Double = 50
    /// Open SMTP connections at most.
    public var connections: Int = 4
    /// How often the send job looks for due campaigns.
    public var pollSeconds: Double = 1
    /// Run the send job in this process.
    public var runsSendJob: Bool = true
    /// The transport to use instead of SMTP (tests); nil means an SMTP pool over `smtp`.
    public var transport: (any MailTransport)?

    public init() {}

    /// The transport the send job and test sends use: the injected one, or a pool over `smtp`.
    func makeTransport() -> (any MailTransport)? {
        if let transport { return transport }
        guard let smtp else { return nil }
        return SMTPConnectionPool(configuration: smtp, size: connections)
    }
}
