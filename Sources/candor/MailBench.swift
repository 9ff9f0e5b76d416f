import ArgumentParser
import CandorServer
import Foundation

/// `candor bench mail`: personalized MIME rendering for synthetic people as a ratio to bare Mustache
/// rendering of the same templates in the same run, and SMTP delivery to a loopback sink.
struct MailBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mail", abstract: "Newsletter rendering (vs bare Mustache) and SMTP delivery to a loopback sink.")
    @Option(help: "Synthetic people to render for.") var people = 100_000
    @Option(help: "Messages to deliver over SMTP.") var smtpMessages = 20_000
    @Option(help: "SMTP connections in the pool.") var connections = 4
    @Option(help: "Directory for the scratch registry store.") var dataDir = "./candor-bench-mail"

    func run() async throws {
        let result = try await NewsletterBenchmark.run(people: people, smtpMessages: smtpMessages, connections: connections, directory: dataDir)
        print(String(format: "people %d", result.people))
        print(String(format: "bare_mustache_per_s %.0f", result.bareMustachePerSecond))
        print(String(format: "personalized_mime_per_s %.0f", result.personalizedMIMEPerSecond))
        print(String(format: "personalized_vs_bare_ratio %.3f", result.personalizedMIMEPerSecond / result.bareMustachePerSecond))
        print(String(format: "smtp_messages %d over %d connections", result.smtpMessages, result.smtpConnections))
        print(String(format: "smtp_per_s %.0f (listmonk default 100/s: %.1fx)", result.smtpPerSecond, result.smtpPerSecond / 100))
    }
}
