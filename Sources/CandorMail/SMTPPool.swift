import NIOCore
import NIOPosix

/// Up to `size` open connections to one server, reused from message to message, so that a batch
/// does not pay a TCP and TLS handshake per message.
public actor SMTPConnectionPool {
    public let configuration: SMTPConfiguration
    public let size: Int
    private let group: EventLoopGroup
    private var idle = [SMTPConnection]()
    private var open = 0
    private var waiters = [CheckedContinuation<Void, Never>]()

    public init(configuration: SMTPConfiguration, size: Int = 4, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.size = max(1, size)
        self.group = group
    }

    /// An idle live connection, a new one while fewer than `size` are open, or the next one returned.
    public func acquire() async throws -> SMTPConnection {
        while true {
            while let connection = idle.popLast() {
                if connection.isActive { return connection }
                open -= 1
            }
            if open < size {
                open += 1
                do {
                    return try await SMTPConnection.connect(configuration, group: group)
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// Gives a connection back; a broken one is closed and its place freed.
    public func release(_ connection: SMTPConnection, reusable: Bool) async {
        if reusable && connection.isActive {
            idle.append(connection)
        } else {
            open -= 1
            Task { await connection.quit() }
        }
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    /// Sends the messages over up to `size` connections at once and reports each one's outcome, in
    /// the order given. When a connection breaks, the message in flight and the rest of that
    /// connection's share are reported `.deferred`: never silently lost, and sent again later.
    public func deliver(_ mails: [OutgoingMail]) async -> [DeliveryOutcome] {
        guard !mails.isEmpty else { return [] }
        let lanes = min(size, mails.count)
        var outcomes = [DeliveryOutcome?](repeating: nil, count: mails.count)
        await withTaskGroup(of: [(Int, DeliveryOutcome)].self) { group in
            for lane in 0..<lanes {
                let indices = Array(stride(from: lane, to: mails.count, by: lanes))
                group.addTask { await self.deliverLane(indices.map { ($0, mails[$0]) }) }
            }
            for await results in group {
                for (index, outcome) in results { outcomes[index] = outcome }
            }
        }
        return outcomes.map { $0 ?? .deferred("not attempted") }
    }

    private func deliverLane(_ work: [(Int, OutgoingMail)]) async -> [(Int, DeliveryOutcome)] {
        var results = [(Int, DeliveryOutcome)]()
        let connection: SMTPConnection
        do {
            connection = try await acquire()
        } catch {
            return work.map { ($0.0, .deferred("cannot connect: \(SMTPConnectionPool.describe(error))")) }
        }
        for (position, (index, mail)) in work.enumerated() {
            do {
                results.append((index, try await connection.send(mail)))
            } catch {
                let reason = SMTPConnectionPool.describe(error)
                results.append((index, .deferred(reason)))
                for (laterIndex, _) in work[(position + 1)...] { results.append((laterIndex, .deferred("not sent: \(reason)"))) }
                await release(connection, reusable: false)
                return results
            }
        }
        await release(connection, reusable: true)
        return results
    }

    /// Says QUIT on every idle connection.
    public func shutdown() async {
        let connections = idle
        idle.removeAll()
        open -= connections.count
        for connection in connections { await connection.quit() }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case SMTPError.connectionClosed: "connection closed"
        case SMTPError.timeout: "timeout"
        case SMTPError.unexpectedReply(let step, let reply): "\(step): \(reply)"
        case let error as SMTPError: "\(error)"
        default: "connection failed"
        }
    }
}

/// Something that hands messages to a mail server and says what became of each.
public protocol MailTransport: Sendable {
    /// Delivers the messages, returning one outcome per message in the same order.
    func deliver(_ mails: [OutgoingMail]) async -> [DeliveryOutcome]
}

extension SMTPConnectionPool: MailTransport {}
