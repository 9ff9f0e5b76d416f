import CandorMail
import Foundation

/// Sends the server's own mail (rights-portal and preference-center links) over SMTP, signed with
/// DKIM when configured. Plain text, as `MailMessage` promises; nothing loads from the network.
public struct SMTPMailSender: MailSender {
    let transport: any MailTransport
    let from: String
    let dkim: DKIMSigner?

    public init(transport: any MailTransport, from: String, dkim: DKIMSigner?) {
        self.transport = transport
        self.from = from
        self.dkim = dkim
    }

    /// A sender over the newsletter settings' SMTP server; nil when none is configured.
    public init?(settings: NewsletterSettings) {
        guard let transport = settings.makeTransport() else { return nil }
        self.init(transport: transport, from: settings.from, dkim: settings.dkim)
    }

    public func send(_ message: MailMessage) async throws {
        let mime = MIMEMessage(from: try MailAddress(from), to: try MailAddress(message.to), subject: message.subject, text: message.body)
        let mail = try OutgoingMail(id: "link", from: from, recipients: [message.to], data: try mime.render(signer: dkim))
        let outcome = await transport.deliver([mail]).first
        guard case .delivered? = outcome else { throw SMTPMailSenderError.notSent }
    }
}

/// The server could not hand a link mail to the SMTP server.
public enum SMTPMailSenderError: Error, Sendable {
    case notSent
}
