import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A reply from the server: a three-digit code and its text lines.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var lines: [String]

    public var isPositive: Bool { (200..<400).contains(code) }
    /// 5xx: the server will never accept this; retrying is pointless.
    public var isPermanentFailure: Bool { code >= 500 }
    public var description: String { "\(code) \(lines.last ?? "")" }
}

/// What went wrong talking to the server.
public enum SMTPError: Error, Sendable, Hashable {
    /// The connection closed or broke; messages not yet acknowledged were not sent.
    case connectionClosed
    /// The server did not answer in time.
    case timeout
    /// The server answered with something that is not an SMTP reply.
    case malformedReply
    /// The server answered a step with an unexpected code.
    case unexpectedReply(step: String, reply: SMTPReply)
    /// TLS was required but the server does not offer STARTTLS.
    case startTLSNotOffered
    /// Credentials are configured but the server offers neither AUTH PLAIN nor AUTH LOGIN.
    case authenticationNotOffered
    /// Credentials would travel in clear text to a host that is not this machine.
    case credentialsWithoutTLS
    /// An address that cannot be put in an SMTP command.
    case invalidAddress(String)
}

/// How the connection is secured.
public enum SMTPTransportSecurity: String, Sendable, Hashable {
    /// Plain text only; for a local sink.
    case none
    /// Upgrade with STARTTLS when the server offers it.
    case startTLSWhenOffered = "when_offered"
    /// Upgrade with STARTTLS, and fail before sending anything when the server does not offer it.
    case startTLSRequired = "required"
}

/// Where and how to connect.
public struct SMTPConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var security: SMTPTransportSecurity
    public var username: String?
    public var password: String?
    /// The name given in EHLO.
    public var heloName: String
    /// How long one command may wait for its reply.
    public var commandTimeout: TimeAmount
    /// The TLS settings used for STARTTLS; certificates are always verified.
    public var tlsConfiguration: TLSConfiguration

    public init(host: String, port: Int = 587, security: SMTPTransportSecurity = .startTLSWhenOffered,
                username: String? = nil, password: String? = nil, heloName: String = "localhost",
                commandTimeout: TimeAmount = .seconds(30), tlsConfiguration: TLSConfiguration = .makeClientConfiguration()) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.heloName = heloName
        self.commandTimeout = commandTimeout
        self.tlsConfiguration = tlsConfiguration
    }

    /// The command timeout in whole seconds (for callers that do not import NIO).
    public var commandTimeoutSeconds: Int64 {
        get { commandTimeout.nanoseconds / 1_000_000_000 }
        set { commandTimeout = .seconds(newValue) }
    }

    var hostIsLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}

/// One message to hand to the server: envelope sender, recipients, and the rendered message.
public struct OutgoingMail: Sendable {
    public var id: String
    public var from: String
    public var recipients: [String]
    public var data: String

    /// Checks the envelope addresses, which are written into SMTP commands.
    public init(id: String, from: String, recipients: [String], data: String) throws(SMTPError) {
        for address in [from] + recipients where !MailAddress.isPlainMailbox(address) {
            throw .invalidAddress(address)
        }
        self.id = id
        self.from = from
        self.recipients = recipients
        self.data = data
    }
}

/// What became of one message.
public enum DeliveryOutcome: Sendable, Hashable {
    /// The server took responsibility for the message; `rejected` lists recipients it refused.
    case delivered(rejected: [String: SMTPReply])
    /// The server refused the message or every recipient for good (5xx): do not retry.
    case rejected(SMTPReply)
    /// Not sent — a temporary refusal or a lost connection: send again later.
    case deferred(String)
}

/// Splits the byte stream into replies, joining the lines of a multi-line reply (`250-…`, `250 …`).
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    private var pending = [String]()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 8192 { throw SMTPError.malformedReply }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex + 1
        guard var line = buffer.readString(length: length) else { return .needMoreData }
        while line.hasSuffix("\n") || line.hasSuffix("\r") || line.hasSuffix("\r\n") { line.removeLast() }
        let scalars = Array(line.utf8)
        guard scalars.count >= 3, let code = Int(String(decoding: scalars[0..<3], as: UTF8.self)), (200...599).contains(code) else {
            throw SMTPError.malformedReply
        }
        pending.append(scalars.count > 4 ? String(decoding: scalars[4...], as: UTF8.self) : "")
        if scalars.count > 3 && scalars[3] == UInt8(ascii: "-") { return .continue }
        let reply = SMTPReply(code: code, lines: pending)
        pending.removeAll()
        context.fireChannelRead(wrapInboundOut(reply))
        return .continue
    }
}

/// Pairs each reply with the command waiting for it. Lives on the channel's event loop.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = SMTPReply
    private var waiting = CircularBuffer<EventLoopPromise<SMTPReply>>()
    private var failure: SMTPError?

    init(greeting: EventLoopPromise<SMTPReply>) { waiting.append(greeting) }

    func expectReply(_ promise: EventLoopPromise<SMTPReply>) {
        if let failure { promise.fail(failure) } else { waiting.append(promise) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if let promise = waiting.popFirst() {
            promise.succeed(reply)
        } else {
            // A reply nobody asked for: the conversation is out of step, so stop it.
            failAll(.malformedReply)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error as? SMTPError ?? .connectionClosed)
        context.close(promise: nil)
    }

    func failAll(_ error: SMTPError) {
        if failure == nil { failure = error }
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}

/// One conversation with an SMTP server: greeting, EHLO, STARTTLS, AUTH, then any number of
/// messages separated by RSET, and QUIT. Not for concurrent use; the pool gives each task its own.
public final class SMTPConnection: Sendable {
    let channel: Channel
    private let handler: NIOLoopBound<SMTPReplyHandler>
    let configuration: SMTPConfiguration
    /// Set once a message has been attempted, so the next one starts with RSET.
    private let state: NIOLockedValueBox<(used: Bool, extensions: Set<String>, secured: Bool)>

    private init(channel: Channel, handler: NIOLoopBound<SMTPReplyHandler>, configuration: SMTPConfiguration) {
        self.channel = channel
        self.handler = handler
        self.configuration = configuration
        self.state = NIOLockedValueBox((false, [], false))
    }

    /// True while the connection can carry another message.
    public var isActive: Bool { channel.isActive }

    /// Whether the conversation runs over TLS.
    public var isSecured: Bool { state.withLockedValue { $0.secured } }

    /// Connects, reads the greeting, says EHLO, upgrades to TLS and authenticates as configured.
    public static func connect(_ configuration: SMTPConfiguration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> SMTPConnection {
        let eventLoop = group.next()
        let greeting = eventLoop.makePromise(of: SMTPReply.self)
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.commandTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler(greeting: greeting))
                }
            }
            .connect(host: configuration.host, port: configuration.port).get()
        let handler = try await channel.pipeline.handler(type: SMTPReplyHandler.self).map { NIOLoopBound($0, eventLoop: eventLoop) }.get()
        let connection = SMTPConnection(channel: channel, handler: handler, configuration: configuration)
        do {
            let timeout = eventLoop.scheduleTask(in: configuration.commandTimeout) {
                handler.value.failAll(.timeout)
                channel.close(promise: nil)
            }
            let hello = try await greeting.futureResult.get()
            timeout.cancel()
            guard hello.code == 220 else { throw SMTPError.unexpectedReply(step: "greeting", reply: hello) }
            try await connection.open()
            return connection
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private func open() async throws {
        var extensions = try await ehlo()
        let offersTLS = extensions.contains("STARTTLS")
        if configuration.security == .startTLSRequired && !offersTLS { throw SMTPError.startTLSNotOffered }
        if configuration.security != .none && offersTLS {
            try await expect(220, "STARTTLS", await command("STARTTLS"))
            try await channel.eventLoop.flatSubmit { [channel, configuration] in
                channel.eventLoop.makeCompletedFuture {
                    let context = try NIOSSLContext(configuration: configuration.tlsConfiguration)
                    let isAddress = (try? SocketAddress(ipAddress: configuration.host, port: 0)) != nil
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : configuration.host)
                    try channel.pipeline.syncOperations.addHandler(tls, position: .first)
                }
            }.get()
            state.withLockedValue { $0.secured = true }
            // RFC 3207: forget what the server said before TLS and ask again.
            extensions = try await ehlo()
        }
        if let username = configuration.username, let password = configuration.password {
            guard isSecured || configuration.hostIsLoopback else { throw SMTPError.credentialsWithoutTLS }
            try await authenticate(username: username, password: password, extensions: extensions)
        }
    }

    /// EHLO, returning the keywords the server offers, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`…).
    private func ehlo() async throws -> Set<String> {
        let reply = try await command("EHLO \(configuration.heloName)")
        try expect(250, "EHLO", reply)
        var keywords = Set<String>()
        for line in reply.lines.dropFirst() {
            let words = line.uppercased().split(separator: " ")
            guard let first = words.first else { continue }
            keywords.insert(String(first))
            if first == "AUTH" { for mechanism in words.dropFirst() { keywords.insert("AUTH=\(mechanism)") } }
        }
        state.withLockedValue { $0.extensions = keywords }
        return keywords
    }

    private func authenticate(username: String, password: String, extensions: Set<String>) async throws {
        if extensions.contains("AUTH=PLAIN") {
            let token = Data("\0\(username)\0\(password)".utf8).base64EncodedString()
            try expect(235, "AUTH PLAIN", await command("AUTH PLAIN \(token)"))
        } else if extensions.contains("AUTH=LOGIN") {
            try expect(334, "AUTH LOGIN", await command("AUTH LOGIN"))
            try expect(334, "AUTH LOGIN username", await command(Data(username.utf8).base64EncodedString()))
            try expect(235, "AUTH LOGIN password", await command(Data(password.utf8).base64EncodedString()))
        } else {
            throw SMTPError.authenticationNotOffered
        }
    }

    private func expect(_ code: Int, _ step: String, _ reply: SMTPReply) throws {
        guard reply.code == code else { throw SMTPError.unexpectedReply(step: step, reply: reply) }
    }

    /// Writes one command line (or the message data) and waits for the reply, within the timeout.
    func command(_ line: String) async throws -> SMTPReply {
        try await send(raw: line + "\r\n")
    }

    private func send(raw: String) async throws -> SMTPReply {
        let timeoutAmount = configuration.commandTimeout
        return try await channel.eventLoop.flatSubmit { [channel, handler] in
            let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
            handler.value.expectReply(promise)
            let timeout = channel.eventLoop.scheduleTask(in: timeoutAmount) {
                handler.value.failAll(.timeout)
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in timeout.cancel() }
            channel.writeAndFlush(channel.allocator.buffer(string: raw)).whenFailure { _ in
                handler.value.failAll(.connectionClosed)
            }
            return promise.futureResult
        }.get()
    }

    /// Sends one message. A refused recipient fails only that recipient; a 5xx for the sender or the
    /// data, or every recipient refused, is `.rejected`; a 4xx is `.deferred`. Throws
    /// `SMTPError` when the connection breaks, leaving the message unsent as far as we know.
    public func send(_ mail: OutgoingMail) async throws -> DeliveryOutcome {
        let used = state.withLockedValue { state in
            defer { state.used = true }
            return state.used
        }
        if used { try expect(250, "RSET", await command("RSET")) }
        let mailFrom = try await command("MAIL FROM:<\(mail.from)>")
        guard mailFrom.code == 250 else { return SMTPConnection.refusal(mailFrom) }
        var rejected = [String: SMTPReply]()
        var lastRefusal: SMTPReply?
        for recipient in mail.recipients {
            let reply = try await command("RCPT TO:<\(recipient)>")
            if reply.code != 250 && reply.code != 251 {
                rejected[recipient] = reply
                lastRefusal = reply
            }
        }
        if rejected.count == mail.recipients.count, let lastRefusal {
            // Every recipient refused: a temporary refusal for any of them means try again later.
            if rejected.values.contains(where: { !$0.isPermanentFailure }) { return .deferred(lastRefusal.description) }
            return .rejected(lastRefusal)
        }
        let dataReply = try await command("DATA")
        guard dataReply.code == 354 else { return SMTPConnection.refusal(dataReply) }
        let accepted = try await send(raw: SMTPConnection.dotStuffed(mail.data))
        guard accepted.code == 250 else { return SMTPConnection.refusal(accepted) }
        return .delivered(rejected: rejected)
    }

    private static func refusal(_ reply: SMTPReply) -> DeliveryOutcome {
        reply.isPermanentFailure ? .rejected(reply) : .deferred(reply.description)
    }

    /// The message as DATA content: CRLF line ends, a leading "." doubled (RFC 5321 §4.5.2), and the
    /// terminating line.
    static func dotStuffed(_ data: String) -> String {
        var text = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        if text.hasPrefix(".") { text = "." + text }
        text = text.replacingOccurrences(of: "\r\n.", with: "\r\n..")
        if !text.hasSuffix("\r\n") { text += "\r\n" }
        return text + ".\r\n"
    }

    /// Says goodbye and closes; errors are ignored because the connection is being dropped anyway.
    public func quit() async {
        if channel.isActive { _ = try? await command("QUIT") }
        try? await channel.close()
    }
}
