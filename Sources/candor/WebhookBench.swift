import ArgumentParser
import AsyncHTTPClient
import CandorCore
import CandorDelivery
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `candor bench webhooks`: webhook deliveries per second through the whole path (fan-out, claim,
/// purpose filter, signing, HTTP, durable acknowledgement, audit) to a receiver on loopback that checks
/// every signature, against the ceiling of bare POSTs of the same bodies to the same receiver with the
/// same client and concurrency, in the same run.
struct WebhooksBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "webhooks", abstract: "Webhook deliveries/s to a local receiver vs bare POSTs to it.")
    @Option(help: "Directory for the benchmark database (recreated).") var dataDir = "./candor-webhooks-bench"
    @Option(help: "Synthetic people (each makes several events).") var people = 2_000
    @Option(help: "Deliveries claimed and sent at once.") var batchSize = 64
    @Option(help: "Run on PostgreSQL instead of SQLite: postgres://user@host:port/db (must be an empty database).") var postgresURL: String?

    /// Counts what the receiver accepted, and whether every signature verified.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var accepted = 0
        private var bad = 0
        func add(valid: Bool) { lock.withLock { if valid { accepted += 1 } else { bad += 1 } } }
        var counts: (accepted: Int, bad: Int) { lock.withLock { (accepted, bad) } }
    }

    func run() async throws {
        var logger = Logger(label: "candor.bench")
        logger.logLevel = .warning
        let directory = URL(fileURLWithPath: dataDir)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database: SQLDatabase = if let postgresURL {
            try await PostgresDatabase.connect(url: postgresURL, logger: logger)
        } else {
            try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path)
        }
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(database: database, secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing), logger: logger)
        let keys = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["http://127.0.0.1:8080"])
        guard let admin = store.authenticate(keys.admin) else { throw ValidationError("the demo admin key does not authenticate") }

        // The receiver: verifies each signature with the destination's secret, answers 204.
        let secret = WebhookSecret.generate()
        let tally = Tally()
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            let timestamp = Int64(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0
            let signature = request.headers[HTTPField.Name("webhook-signature")!] ?? ""
            let valid = WebhookSigner.verify(header: signature, id: id, timestamp: timestamp, body: Array(buffer: body), secret: secret)
            if id != "ceiling" { tally.add(valid: valid) }
            return .noContent
        }
        let portBox = AsyncStream<Int>.makeStream()
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                   onServerRunning: { portBox.continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "candor.bench.receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
        let receiverTask = Task { try await receiver.runService() }
        var ports = portBox.stream.makeAsyncIterator()
        guard let port = await ports.next() else { throw ValidationError("the receiver did not start") }
        let url = "http://127.0.0.1:\(port)/hook"

        let settings = DestinationSettings(url: url, description: "bench", purposes: ["newsletter", "offers", "support"], fields: [], eventTypes: ["*"],
                                           sharesData: false, enabled: true, maxAttempts: nil, timeoutMs: nil, retryBaseMs: nil)
        _ = try await store.createDestination(settings, secret: secret.bytes, secretText: secret.text, by: admin)
        print("seeding \(people) people …")
        _ = try await DemoWorkspace.seedSubjects(store, count: people)
        let events = Int(try await store.count("outbox"))

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = batchSize
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)

        // Ceiling: bare signed-size POSTs, `batchSize` at a time, as many as there will be deliveries.
        let sample = Array(String(repeating: "x", count: 300).utf8)
        let ceilingStart = ContinuousClock.now
        var sent = 0
        while sent < events {
            let chunk = min(batchSize, events - sent)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<chunk {
                    group.addTask {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "webhook-id", value: "ceiling")
                        request.body = .bytes(ByteBuffer(bytes: sample))
                        let response = try await client.execute(request, timeout: .seconds(10))
                        _ = try await response.body.collect(upTo: 1024)
                    }
                }
                try await group.waitForAll()
            }
            sent += chunk
        }
        let ceilingSeconds = Self.seconds(ContinuousClock.now - ceilingStart)

        // Deliveries: the worker's own rounds until the queue is empty.
        let worker = DeliveryWorker(store: store, settings: DeliverySettings(networkGuard: try NetworkGuard.parse("127.0.0.1/32"), batchSize: batchSize), logger: logger)
        let started = ContinuousClock.now
        while try await worker.runOnce(client: client) {}
        let seconds = Self.seconds(ContinuousClock.now - started)
        let jobs = try await store.database.read { connection in
            try connection.query("SELECT status, count(*) FROM delivery_jobs GROUP BY status ORDER BY status", []).map { "\($0.text(0))=\($0.int(1))" }
        }
        let (accepted, bad) = tally.counts
        try await client.shutdown()
        receiverTask.cancel()
        try await database.close()
        try? FileManager.default.removeItem(at: directory)

        let rate = Double(events) / seconds
        let ceiling = Double(events) / ceilingSeconds
        print("""
        webhooks (\(postgresURL == nil ? "SQLite" : "PostgreSQL"), \(people) people, \(events) events, batch \(batchSize)):
          deliveries: \(jobs.joined(separator: ", ")); receiver accepted \(accepted), bad signatures \(bad)
          delivered (fan-out, claim, filter, sign, POST, durable ack, audit): \(String(format: "%.0f", rate)) events/s
          ceiling (bare POSTs, same client and concurrency):                   \(String(format: "%.0f", ceiling)) requests/s
          ratio: \(String(format: "%.2f", rate / ceiling))
        """)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
