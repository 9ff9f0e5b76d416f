import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A small SMTP server on loopback that accepts and counts messages, for `candor bench mail` and for
/// tests of the client's fault handling. It does not relay anything anywhere.
public final class SMTPSinkServer: Sendable {
    /// How the sink misbehaves, to exercise the client's fault paths.
    public struct Behaviour: Sendable {
        /// Recipients answered with `550 no such user`.
        public var rejectedRecipients: Set<String> = []
        /// Close the connection instead of answering the DATA terminator of the n-th message (1-based)
        /// on each connection.
        public var dropConnectionAtMessage: Int? = nil
        /// Never answer the end of a message's data (a server that hangs), to exercise timeouts.
        public var stallAfterData = false
        /// Offer STARTTLS with this configuration.
        public var tls: TLSConfiguration? = nil
        /// Offer AUTH PLAIN and LOGIN and accept only this username and password.
        public var credentials: (username: String, password: String)? = nil
        /// Keep message contents (tests); the benchmark only counts them.
        public var keepMessages = true
        public init() {}
    }

    /// One received message.
    public struct Received: Sendable, Hashable {
        public var from: String
        public var recipients: [String]
        public var data: String
        public var overTLS: Bool
        public var authenticatedAs: String?
    }

    private let channel: Channel
    fileprivate let store: NIOLockedValueBox<(messages: [Received], count: Int, commands: [String])>

    /// The port it listens on.
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Everything received so far.
    public var messages: [Received] { store.withLockedValue { $0.messages } }
    /// How many messages were accepted.
    public var count: Int { store.withLockedValue { $0.count } }
    /// Every command line received, in order (AUTH arguments blanked).
    public var commands: [String] { store.withLockedValue { $0.commands } }

    private init(channel: Channel, store: NIOLockedValueBox<(messages: [Received], count: Int, commands: [String])>) {
        self.channel = channel
        self.store = store
    }

    /// Starts listening on 127.0.0.1 at a free port.
    public static func start(_ behaviour: Behaviour = Behaviour(), group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> SMTPSinkServer {
        let store = NIOLockedValueBox<(messages: [Received], count: Int, commands: [String])>(([], 0, []))
        let sslContext = try behaviour.tls.map { try NIOSSLContext(configuration: $0) }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SinkLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SinkSession(behaviour: behaviour, sslContext: sslContext, store: store))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return SMTPSinkServer(channel: channel, store: store)
    }

    public func stop() async {
        try? await channel.close()
    }
}

private struct SinkLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        var line = buffer.readString(length: newline - buffer.readerIndex + 1)!
        line.removeLast()
        if line.hasSuffix("\r") { line.removeLast() }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

private final class SinkSession: ChannelInboundHandler {
    typealias InboundIn = String
    typealias OutboundOut = ByteBuffer
    let behaviour: SMTPSinkServer.Behaviour
    let sslContext: NIOSSLContext?
    let store: NIOLockedValueBox<(messages: [SMTPSinkServer.Received], count: Int, commands: [String])>
    var from: String?
    var recipients = [String]()
    var data: [String]?
    var tls = false
    var user: String?
    var loginStep = 0
    var loginUser = ""
    var messagesOnConnection = 0

    init(behaviour: SMTPSinkServer.Behaviour, sslContext: NIOSSLContext?, store: NIOLockedValueBox<(messages: [SMTPSinkServer.Received], count: Int, commands: [String])>) {
        self.behaviour = behaviour
        self.sslContext = sslContext
        self.store = store
    }

    func channelActive(context: ChannelHandlerContext) {
        reply(context, "220 sink ready")
    }

    private func reply(_ context: ChannelHandlerContext, _ text: String) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text + "\r\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data input: NIOAny) {
        let line = unwrapInboundIn(input)
        if data != nil {
            if line == "." { finishMessage(context) } else { data!.append(line.hasPrefix(".") ? String(line.dropFirst()) : line) }
            return
        }
        if loginStep > 0 { continueLogin(context, line); return }
        let upper = line.uppercased()
        if behaviour.keepMessages {
            store.withLockedValue { $0.commands.append(upper.hasPrefix("AUTH") ? "AUTH" : line) }
        }
        if upper.hasPrefix("EHLO") {
            var lines = ["250-sink"]
            if sslContext != nil && !tls { lines.append("250-STARTTLS") }
            if behaviour.credentials != nil { lines.append("250-AUTH PLAIN LOGIN") }
            lines.append("250 8BITMIME")
            reply(context, lines.joined(separator: "\r\n"))
        } else if upper == "STARTTLS", let sslContext, !tls {
            reply(context, "220 go ahead")
            tls = true
            _ = try? context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext), position: .first)
        } else if upper.hasPrefix("AUTH PLAIN ") {
            let token = String(line.dropFirst(11))
            let parts = decodeBase64(token).split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3, let credentials = behaviour.credentials, parts[1] == credentials.username, parts[2] == credentials.password {
                user = parts[1]
                reply(context, "235 ok")
            } else {
                reply(context, "535 bad credentials")
            }
        } else if upper == "AUTH LOGIN" {
            loginStep = 1
            reply(context, "334 VXNlcm5hbWU6")
        } else if upper.hasPrefix("MAIL FROM:") {
            if behaviour.credentials != nil && user == nil { reply(context, "530 authentication required"); return }
            from = String(line.dropFirst(10)).trimmingAngles()
            recipients = []
            reply(context, "250 ok")
        } else if upper.hasPrefix("RCPT TO:") {
            let recipient = String(line.dropFirst(8)).trimmingAngles()
            if behaviour.rejectedRecipients.contains(recipient) {
                reply(context, "550 no such user")
            } else {
                recipients.append(recipient)
                reply(context, "250 ok")
            }
        } else if upper == "DATA" {
            if from == nil || recipients.isEmpty { reply(context, "503 bad sequence"); return }
            data = []
            reply(context, "354 end with .")
        } else if upper == "RSET" {
            from = nil
            recipients = []
            reply(context, "250 ok")
        } else if upper == "QUIT" {
            reply(context, "221 bye")
            context.close(promise: nil)
        } else if upper == "NOOP" {
            reply(context, "250 ok")
        } else {
            reply(context, "502 not implemented")
        }
    }

    private func continueLogin(_ context: ChannelHandlerContext, _ line: String) {
        if loginStep == 1 {
            loginUser = decodeBase64(line)
            loginStep = 2
            reply(context, "334 UGFzc3dvcmQ6")
        } else {
            loginStep = 0
            if let credentials = behaviour.credentials, loginUser == credentials.username, decodeBase64(line) == credentials.password {
                user = loginUser
                reply(context, "235 ok")
            } else {
                reply(context, "535 bad credentials")
            }
        }
    }

    private func finishMessage(_ context: ChannelHandlerContext) {
        messagesOnConnection += 1
        if behaviour.stallAfterData { return }
        if let drop = behaviour.dropConnectionAtMessage, messagesOnConnection >= drop {
            context.close(promise: nil)
            return
        }
        let received = SMTPSinkServer.Received(from: from ?? "", recipients: recipients, data: (data ?? []).joined(separator: "\r\n") + "\r\n", overTLS: tls, authenticatedAs: user)
        let keep = behaviour.keepMessages
        store.withLockedValue {
            $0.count += 1
            if keep { $0.messages.append(received) }
        }
        data = nil
        from = nil
        recipients = []
        reply(context, "250 queued")
    }

    private func decodeBase64(_ text: String) -> String {
        Data(base64Encoded: text).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

extension String {
    fileprivate func trimmingAngles() -> String {
        var text = Substring(self).drop(while: { $0 == " " })
        if text.hasPrefix("<") { text = text.dropFirst() }
        if let end = text.firstIndex(of: ">") { text = text[..<end] }
        return String(text)
    }
}
