import AsyncHTTPClient
import CandorCore
import CandorStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// How a node delivers webhooks.
public struct DeliverySettings: Sendable {
    /// Networks webhooks may reach although they are private (`delivery.allow_private_networks`).
    public var networkGuard: NetworkGuard
    /// The retry policy; a destination may override the base delay and the attempt count.
    public var retry: RetrySchedule
    /// How long a receiver has to answer, unless the destination says otherwise.
    public var timeout: Duration
    /// How often an idle worker looks for work.
    public var pollInterval: Duration
    /// Deliveries claimed (and sent concurrently) at once.
    public var batchSize: Int
    /// How long a claim is held: longer than the longest allowed timeout, so a live worker never loses
    /// a delivery to another node; a crashed node's claims come free after it (at once on SQLite).
    public var lease: Duration

    public init(networkGuard: NetworkGuard = NetworkGuard(), retry: RetrySchedule = RetrySchedule(), timeout: Duration = .seconds(10),
                pollInterval: Duration = .milliseconds(250), batchSize: Int = 32, lease: Duration = .seconds(70)) {
        self.networkGuard = networkGuard
        self.retry = retry
        self.timeout = timeout
        self.pollInterval = pollInterval
        self.batchSize = max(1, batchSize)
        self.lease = lease
    }
}

/// The outbox worker of one node, run as a swift-service-lifecycle `Service`: fans new events out to
/// destinations, claims due deliveries, filters each payload through the purpose gate, signs it
/// (Standard Webhooks) and sends it, then records the outcome. Nothing lives only in memory: a killed
/// worker's claims are taken up again after a restart (or by another node once the lease ends).
public struct DeliveryWorker: Service {
    let store: CandorStore
    let settings: DeliverySettings
    let logger: Logger
    /// This worker's name on the claims it holds.
    public let owner: String

    public init(store: CandorStore, settings: DeliverySettings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.owner = Identifier.make("wrk")
    }

    public func run() async throws {
        var configuration = HTTPClient.Configuration()
        // A redirect could lead past the network guard; receivers must answer at the URL they gave.
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, settings.batchSize)
        configuration.timeout.connect = .seconds(5)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        if store.database.dialect == .sqlite {
            // One node: any claim in the file was left by a process that is gone.
            try? await store.releaseDeliveryLeases()
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let busy: Bool
            do {
                busy = try await runOnce(client: client)
            } catch {
                logger.error("delivery round failed", metadata: ["error.type": "\(type(of: error))"])
                busy = false
            }
            if !busy {
                do { try await Task.sleep(for: settings.pollInterval) } catch { break }
            }
        }
        try? await client.shutdown()
    }

    /// One round: fan out, claim, deliver. Returns whether there was work (so the next round follows at once).
    @discardableResult
    public func runOnce(client: HTTPClient) async throws -> Bool {
        let fanned = try await store.fanOutDeliveries()
        let leaseMillis = settings.lease.components.seconds * 1000 + settings.lease.components.attoseconds / 1_000_000_000_000_000
        let claims = try await store.claimDeliveries(owner: owner, limit: settings.batchSize, leaseMillis: leaseMillis)
        let outcomes = await withTaskGroup(of: (ClaimedDelivery, DeliveryResult).self) { group in
            for claim in claims {
                group.addTask { (claim, await decideAndSend(claim, client: client)) }
            }
            return await group.reduce(into: [(ClaimedDelivery, DeliveryResult)]()) { $0.append($1) }
        }
        do {
            // The round's outcomes in one durable transaction.
            try await store.completeDeliveries(outcomes)
        } catch {
            // The claims' leases run out and the deliveries are tried again: at least once, never lost.
            logger.error("recording deliveries failed", metadata: ["deliveries": "\(outcomes.count)", "error.type": "\(type(of: error))"])
        }
        return fanned > 0 || !claims.isEmpty
    }

    /// Filters the payload through the purpose gate and, when anything may go, signs and sends it.
    func decideAndSend(_ claim: ClaimedDelivery, client: HTTPClient) async -> DeliveryResult {
        let registry = store.registry
        let now = Timestamp.millis(Date())
        switch PayloadFilter.decide(claim, purposes: registry.purposes, fields: registry.fields, now: now) {
        case .skip(let reason):
            return .skipped(reason: reason)
        case .withhold(let reason, let withheld):
            return .withheld(reason: reason, withheld: withheld)
        case .send(let body, let fields, let withheld):
            return await send(claim, body: body, fields: fields, withheld: withheld, client: client)
        }
    }

    func send(_ claim: ClaimedDelivery, body: [UInt8], fields: [String], withheld: [String: String], client: HTTPClient) async -> DeliveryResult {
        let destination = claim.destination
        let schedule = RetrySchedule(
            baseDelay: destination.retryBaseMs.map { .milliseconds($0) } ?? settings.retry.baseDelay,
            maxDelay: settings.retry.maxDelay, maxAttempts: destination.maxAttempts ?? settings.retry.maxAttempts)
        func failure(_ code: Int?, _ message: String, _ durationMs: Int?, retryAfter: String? = nil) -> DeliveryResult {
            guard schedule.retries(afterAttempt: claim.attempt) else { return .failed(statusCode: code, error: message, durationMs: durationMs, retryAt: nil) }
            let delay = schedule.retryAfter(retryAfter, now: Date()) ?? schedule.delay(afterAttempt: claim.attempt)
            let millis = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
            return .failed(statusCode: code, error: message, durationMs: durationMs, retryAt: Timestamp.millis(Date()) + millis)
        }
        guard var components = URLComponents(string: destination.url), let host = components.host, let scheme = components.scheme?.lowercased() else {
            return failure(nil, "the destination URL cannot be parsed", nil)
        }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        // Checked again for every connection: the name may resolve elsewhere now (DNS rebinding).
        let addresses: [IPAddress]
        do {
            addresses = try await settings.networkGuard.check(host: host, port: port)
        } catch {
            return failure(nil, "\(error)", nil)
        }
        var request = HTTPClientRequest(url: destination.url)
        if scheme == "http", let pinned = addresses.first, IPAddress(host) == nil {
            // Plain http goes to the address just checked, so a second lookup cannot lead elsewhere.
            // (https needs the name for TLS; a rebound name fails certificate verification instead.)
            components.host = pinned.isIPv4 ? pinned.description : pinned.urlHost
            if let url = components.string { request.url = url }
            request.headers.replaceOrAdd(name: "Host", value: components.port.map { "\(host):\($0)" } ?? host)
        }
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Candor-Webhooks/1")
        let timestamp = Timestamp.millis(Date()) / 1000
        for header in WebhookSigner.headers(id: claim.eventId, timestamp: timestamp, body: body, secrets: claim.secrets.map(WebhookSecret.init(bytes:))) {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let timeout = destination.timeoutMs.map { Duration.milliseconds($0) } ?? settings.timeout
        let timeoutMillis = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let duration = ContinuousClock.now - started
            return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        do {
            let response = try await client.execute(request, timeout: .milliseconds(timeoutMillis))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            switch code {
            case 200..<300: return .delivered(statusCode: code, durationMs: elapsed(), fields: fields, withheld: withheld)
            case 410: return .gone(durationMs: elapsed())
            default: return failure(code, "the receiver answered \(code)", elapsed(), retryAfter: response.headers.first(name: "Retry-After"))
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return failure(nil, "timed out after \(timeoutMillis) ms", elapsed())
        } catch {
            return failure(nil, "the request failed: \(error)", elapsed())
        }
    }
}
