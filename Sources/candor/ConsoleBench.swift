import ArgumentParser
import AsyncHTTPClient
import CandorCore
import CandorServer
import CandorStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `candor bench console`: server render time of each console page (p50, p99) as a ratio to `/healthz`
/// of the same server in the same run, over an existing data directory (docs/console.md). It adds an
/// operator and audit rows to that directory: run it on a copy, never on a shared original.
struct ConsoleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console", abstract: "Console page render time (p50, p99) vs /healthz of the same server, over a data directory (a copy: it writes).")
    @OptionGroup var options: StoreOptions

    @Option(help: "Timed requests per page, after 10 warm-up requests.")
    var samples = 300

    func run() async throws {
        var config = try await options.resolve()
        config.port = 0
        config.runsDeliveryWorker = false
        config.checkpointIntervalSeconds = 0
        config.retentionIntervalSeconds = 0
        var logger = Logger(label: "candor.bench")
        logger.logLevel = .warning
        let opened = Date()
        let store = try await openStore(config, logger: logger)
        print("store opened in \(String(format: "%.1f", Date().timeIntervalSince(opened))) s (\(try await store.count("subjects")) subjects)")
        let password = OperatorPasswords.generate()
        let account = try await OperatorPasswords.createOperator(store, email: "bench-\(PortalHex.random())@example.com", name: "Bench", team: "it",
                                                                 password: password, cost: 4)
        let someone = try await store.database.read { try $0.query("SELECT id FROM subjects WHERE status = 'active' LIMIT 1", []).first?.text(0) }
        let purpose = store.registry.teams["it"]?.purposes.first ?? "support"

        let ports = AsyncStream<Int>.makeStream()
        let app = try await buildApplication(config: config, store: store, logger: logger) { ports.continuation.yield($0) }
        let server = Task { try await app.runService() }
        var iterator = ports.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ValidationError("the server did not start") }
        let base = "http://127.0.0.1:\(port)"
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow  // the session cookie comes with the sign-in's redirect
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await measure(client: client, base: base, account: account, password: password, someone: someone, purpose: purpose)
        } catch {
            try? await client.shutdown()
            server.cancel()
            throw error
        }
        try await client.shutdown()
        server.cancel()
        try? await store.database.close()
    }

    func measure(client: HTTPClient, base: String, account: Operator, password: String, someone: String?, purpose: String) async throws {

        // Sign in like a browser: the sign-in page's CSRF token and browser cookie, then the session cookie.
        var cookies = [String: String]()
        func fetch(_ path: String, form: String? = nil) async throws -> (status: Int, body: String) {
            var request = HTTPClientRequest(url: base + path)
            if let form {
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: form))
            }
            if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
            let response = try await client.execute(request, timeout: .seconds(600))
            for line in response.headers["Set-Cookie"] {
                let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                if pair.count == 2 { cookies[String(pair[0])] = String(pair[1]) }
            }
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 8 << 20)))
        }
        let login = try await fetch("/console/login").body
        guard let csrf = login.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1 else { throw ValidationError("no CSRF token on the sign-in page") }
        let encoded = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }
        let signIn = try await fetch("/console/login", form: "csrf=\(encoded(String(csrf)))&email=\(encoded(account.email))&password=\(encoded(password))")
        guard signIn.status == 303, cookies["candor_console"] != nil else { throw ValidationError("sign-in failed (\(signIn.status))") }

        // The first view of the home page computes its snapshot; later views read it.
        let coldStart = ContinuousClock.now
        var cold = try await fetch("/console?days=30")
        let coldMillis = Self.millis(ContinuousClock.now - coldStart)
        guard cold.status == 200 else { throw ValidationError("/console answered \(cold.status)") }
        // On a large installation the first count goes on in the background: time the pages once it is there.
        while !cold.body.contains("activity-heading") {
            try await Task.sleep(for: .seconds(2))
            cold = try await fetch("/console?days=30")
        }
        let snapshotMillis = Self.millis(ContinuousClock.now - coldStart)

        var pages: [(String, String)] = [("/healthz", "/healthz"), ("at a glance", "/console?days=30"), ("people", "/console/people"),
                                         ("requests", "/console/requests"), ("audit log", "/console/audit")]
        if let someone { pages.insert(("person (\(purpose))", "/console/people/\(someone)?purpose=\(purpose)"), at: 3) }
        // The delivery and governance pages (ConsoleSetupDelivery*.swift).
        pages += [("audit log, oldest first", "/console/audit?order=oldest"), ("destinations", "/console/destinations"),
                  ("automations", "/console/automations"), ("audit report (30 days)", "/console/audit-report?days=30"),
                  ("record of processing", "/console/records")]
        // The registry pages (ConsoleSetupRegistry.swift).
        pages += [("purposes", "/console/purposes"), ("purpose (notice diffs)", "/console/purposes/newsletter"), ("fields", "/console/fields"),
                  ("teams", "/console/teams"), ("team (operators)", "/console/teams/it"), ("API keys", "/console/keys")]
        // The collection and activation pages (ConsoleSetupCollection.swift, ConsoleSetupActivation.swift);
        // the segment list counts every saved segment over the index, the campaign list reads campaigns.
        pages += [("surveys", "/console/surveys"), ("survey builder (new)", "/console/surveys/new"), ("polls", "/console/polls"),
                  ("incentive pools", "/console/incentives"), ("segments (live counts)", "/console/segments"),
                  ("segment editor (new)", "/console/segments/new"), ("offers", "/console/offers"), ("new offer", "/console/offers/new"),
                  ("campaigns", "/console/campaigns"), ("new campaign", "/console/campaigns/new")]
        var results = [(String, Double, Double)]()
        for (name, path) in pages {
            for _ in 0..<10 { _ = try await fetch(path) }
            var times = [Double]()
            for _ in 0..<samples {
                let started = ContinuousClock.now
                let answer = try await fetch(path)
                times.append(Self.millis(ContinuousClock.now - started))
                guard answer.status == 200 else { throw ValidationError("\(path) answered \(answer.status)") }
            }
            times.sort()
            results.append((name, times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))]))
        }
        let health = results[0]
        print("console pages (\(samples) sequential requests each; first view of the home page \(String(format: "%.0f", coldMillis)) ms, first snapshot ready after \(String(format: "%.0f", snapshotMillis)) ms)")
        print("  page                        p50 ms   p99 ms   p50 / healthz   p99 / healthz   p99 < 50 ms")
        for (name, p50, p99) in results {
            print("  " + name.padding(toLength: 26, withPad: " ", startingAt: 0)
                  + String(format: "%7.2f  %7.2f  %14.1f  %14.1f   ", p50, p99, p50 / health.1, p99 / health.2) + (p99 < 50 ? "yes" : "NO"))
        }
    }

    static func millis(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}

/// Random hex for names the bench makes.
enum PortalHex {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
