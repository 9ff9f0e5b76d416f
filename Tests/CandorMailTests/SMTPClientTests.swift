import Foundation
import NIOCore
import NIOSSL
import Testing
@testable import CandorMail

@Suite struct SMTPClientTests {
    static let certificatePEM = """
    -----BEGIN CERTIFICATE-----
    MIIBmzCCAUGgAwIBAgIUHmzKIDXkFOmI/O7PewVv4P5tZO8wCgYIKoZIzj0EAwIw
    FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyOTA1NTA1MloYDzIxMjYxMTA1
    MDU1MDUyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
    PQMBBwNCAASBE3g+wizvycoj3c29HalsFpsQvUjebpJqwgNWc694k2kgAomL8ilf
    fB5rGjRecgrk2KBo+U9WysCxziP4TLepo28wbTAdBgNVHQ4EFgQUB6KuUC2o/ImB
    P183C0jXriVkGuowHwYDVR0jBBgwFoAUB6KuUC2o/ImBP183C0jXriVkGuowDwYD
    VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
    zj0EAwIDSAAwRQIhAIQVkXyUItmvRIN9Cy84zO6+ykKkbmBhKMvzJ3rLLEvwAiBI
    0hf5KqYovpoZ617W8VGQVGdR5T8kynYSo6U5NYhLpw==
    -----END CERTIFICATE-----
    """
    /// A throwaway key for the loopback test server's self-signed certificate; it protects nothing.
    static let keyPEM = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgxdXqb8ZULRFe2Yc9
    vwoWHX0F5zIYmrp+SmIzIJlmXEGhRANCAASBE3g+wizvycoj3c29HalsFpsQvUje
    bpJqwgNWc694k2kgAomL8ilffB5rGjRecgrk2KBo+U9WysCxziP4TLep
    -----END PRIVATE KEY-----
    """

    func serverTLS() throws -> TLSConfiguration {
        .makeServerConfiguration(certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(Self.certificatePEM.utf8), format: .pem))],
                                 privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(Self.keyPEM.utf8), format: .pem)))
    }

    func clientTLS() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(Self.certificatePEM.utf8), format: .pem)])
        return configuration
    }

    func mail(_ n: Int, to recipients: [String]? = nil) throws -> OutgoingMail {
        try OutgoingMail(id: "m\(n)", from: "news@shop.example", recipients: recipients ?? ["p\(n)@example.org"],
                         data: "Subject: \(n)\r\n\r\n.hidden dot line \(n)\r\n")
    }

    @Test func deliversOverPooledConnectionsWithRsetBetweenMessages() async throws {
        let server = try await SMTPSinkServer.start()
        let pool = SMTPConnectionPool(configuration: .init(host: "127.0.0.1", port: server.port, security: .none), size: 2)
        let outcomes = await pool.deliver(try (1...6).map { try mail($0) })
        #expect(outcomes == Array(repeating: .delivered(rejected: [:]), count: 6))
        #expect(server.count == 6)
        #expect(server.messages.contains { $0.data == "Subject: 3\r\n\r\n.hidden dot line 3\r\n" }, "dot-stuffing is undone by the server")
        let ehlos = server.commands.filter { $0.hasPrefix("EHLO") }.count
        #expect(ehlos == 2, "two connections, reused")
        #expect(server.commands.filter { $0 == "RSET" }.count == 4)
        await pool.shutdown()
        await server.stop()
    }

    @Test func oneRejectedRecipientFailsOnlyThatMessage() async throws {
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.rejectedRecipients = ["gone@example.org"]
        let server = try await SMTPSinkServer.start(behaviour)
        let pool = SMTPConnectionPool(configuration: .init(host: "127.0.0.1", port: server.port, security: .none), size: 1)
        let outcomes = await pool.deliver([try mail(1), try mail(2, to: ["gone@example.org"]), try mail(3),
                                           try mail(4, to: ["p4@example.org", "gone@example.org"])])
        #expect(outcomes[0] == .delivered(rejected: [:]))
        guard case .rejected(let reply) = outcomes[1] else { Issue.record("expected a rejection"); return }
        #expect(reply.code == 550)
        #expect(outcomes[2] == .delivered(rejected: [:]))
        guard case .delivered(let rejected) = outcomes[3] else { Issue.record("expected delivery"); return }
        #expect(rejected.keys.sorted() == ["gone@example.org"])
        #expect(server.messages.map(\.recipients) == [["p1@example.org"], ["p3@example.org"], ["p4@example.org"]])
        await pool.shutdown()
        await server.stop()
    }

    @Test func droppedConnectionReportsEveryUnsentMessage() async throws {
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.dropConnectionAtMessage = 3
        let server = try await SMTPSinkServer.start(behaviour)
        let pool = SMTPConnectionPool(configuration: .init(host: "127.0.0.1", port: server.port, security: .none, commandTimeout: .seconds(5)), size: 1)
        let outcomes = await pool.deliver(try (1...5).map { try mail($0) })
        #expect(outcomes[0] == .delivered(rejected: [:]))
        #expect(outcomes[1] == .delivered(rejected: [:]))
        for outcome in outcomes[2...] {
            guard case .deferred = outcome else { Issue.record("message 3–5 must be reported unsent, got \(outcome)"); continue }
        }
        #expect(server.count == 2)
        await server.stop()
    }

    @Test func aServerThatStopsAnsweringTimesOutAndTheMessageIsDeferred() async throws {
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.stallAfterData = true
        let server = try await SMTPSinkServer.start(behaviour)
        let pool = SMTPConnectionPool(configuration: .init(host: "127.0.0.1", port: server.port, security: .none, commandTimeout: .milliseconds(300)), size: 1)
        let started = ContinuousClock.now
        let outcomes = await pool.deliver([try mail(1), try mail(2)])
        // Far above the 300 ms timeout (a loaded 2-core CI machine took 5.8 s), far below a hang.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(outcomes == [.deferred("timeout"), .deferred("not sent: timeout")])
        await server.stop()
    }

    @Test func upgradesWithStartTLSWhenOfferedAndAuthenticates() async throws {
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.tls = try serverTLS()
        behaviour.credentials = ("mailer", "s3cret")
        let server = try await SMTPSinkServer.start(behaviour)
        let configuration = SMTPConfiguration(host: "localhost", port: server.port, security: .startTLSWhenOffered,
                                              username: "mailer", password: "s3cret", tlsConfiguration: try clientTLS())
        let connection = try await SMTPConnection.connect(configuration)
        #expect(connection.isSecured)
        #expect(try await connection.send(mail(1)) == .delivered(rejected: [:]))
        await connection.quit()
        #expect(server.messages.first?.overTLS == true)
        #expect(server.messages.first?.authenticatedAs == "mailer")
        #expect(server.commands.filter { $0.hasPrefix("EHLO") }.count == 2, "EHLO again after TLS")
        await server.stop()
    }

    @Test func authenticatesAndABadPasswordStopsTheConnection() async throws {
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.credentials = ("mailer", "s3cret")
        let server = try await SMTPSinkServer.start(behaviour)
        let wrong = SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .none, username: "mailer", password: "nope")
        await #expect(throws: SMTPError.self) { _ = try await SMTPConnection.connect(wrong) }
        let right = SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .none, username: "mailer", password: "s3cret")
        let connection = try await SMTPConnection.connect(right)
        #expect(try await connection.send(mail(1)) == .delivered(rejected: [:]))
        await connection.quit()
        #expect(server.messages.first?.authenticatedAs == "mailer")
        await server.stop()
    }

    @Test func requiredTLSNotOfferedSendsNothing() async throws {
        let server = try await SMTPSinkServer.start()
        let configuration = SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .startTLSRequired)
        await #expect(throws: SMTPError.startTLSNotOffered) { _ = try await SMTPConnection.connect(configuration) }
        #expect(!server.commands.contains { $0.hasPrefix("MAIL") })
        await server.stop()
    }

    @Test func offeredTLSIsNotUsedWhenSecurityIsNone() async throws {
        var behaviour = SMTPSinkServer.Behaviour()
        behaviour.tls = try serverTLS()
        let server = try await SMTPSinkServer.start(behaviour)
        let connection = try await SMTPConnection.connect(.init(host: "127.0.0.1", port: server.port, security: .none))
        #expect(!connection.isSecured)
        #expect(try await connection.send(mail(1)) == .delivered(rejected: [:]))
        await connection.quit()
        #expect(!server.commands.contains("STARTTLS"))
        await server.stop()
    }
}
