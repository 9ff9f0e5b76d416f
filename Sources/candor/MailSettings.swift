import ArgumentParser
import CandorMail
import CandorServer
import Configuration
import Foundation

/// Reads the mail settings (docs/newsletters.md): `smtp_host`, `smtp_port`, `smtp_username`,
/// `smtp_password` (secret), `smtp_starttls` (`when_offered`, `required` or `none`), `mail_from`,
/// `mail_rate` (messages per second), `smtp_connections`, `dkim_selector`, `dkim_domain`,
/// `dkim_private_key_file`. With an SMTP host, the server's own link mails go over SMTP too.
func resolveMailSettings(_ reader: ConfigReader, into config: inout ServerConfig) throws {
    var settings = config.newsletters
    settings.from = reader.string(forKey: "mail_from", default: settings.from)
    guard MailAddress.isPlainMailbox(settings.from) else { throw ValidationError("mail_from must be an e-mail address, not '\(settings.from)'") }
    settings.messagesPerSecond = max(0.1, reader.double(forKey: "mail_rate", default: settings.messagesPerSecond))
    settings.connections = min(64, max(1, reader.int(forKey: "smtp_connections", default: settings.connections)))
    if let host = reader.string(forKey: "smtp_host"), !host.isEmpty {
        let mode = reader.string(forKey: "smtp_starttls", default: SMTPTransportSecurity.startTLSWhenOffered.rawValue)
        guard let security = SMTPTransportSecurity(rawValue: mode) else {
            throw ValidationError("smtp_starttls must be when_offered, required or none, not '\(mode)'")
        }
        let domain = settings.from.split(separator: "@").last.map(String.init) ?? "localhost"
        settings.smtp = SMTPConfiguration(
            host: host, port: reader.int(forKey: "smtp_port", default: 587), security: security,
            username: reader.string(forKey: "smtp_username"), password: reader.string(forKey: "smtp_password", isSecret: true),
            heloName: domain)
        settings.smtp?.commandTimeoutSeconds = Int64(max(1, reader.int(forKey: "smtp_timeout_seconds", default: 30)))
    }
    if let selector = reader.string(forKey: "dkim_selector"), let domain = reader.string(forKey: "dkim_domain"),
       let file = reader.string(forKey: "dkim_private_key_file") {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("dkim_private_key_file cannot be read: \(file)") }
        do {
            settings.dkim = try DKIMSigner(domain: domain, selector: selector, keyText: text)
        } catch {
            throw ValidationError("dkim_private_key_file holds neither a PEM RSA key nor a base64 Ed25519 key")
        }
    }
    config.newsletters = settings
    if let sender = SMTPMailSender(settings: settings) { config.mailer = sender }
}
