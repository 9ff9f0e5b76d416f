import ArgumentParser
import CandorCore
import CandorDelivery
import CandorServer
import CandorStore
import Configuration
import Foundation
import Logging
import SystemPackage

/// The `candor` executable: parses arguments and delegates. No logic of its own.
@main
struct Candor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candor",
        abstract: "Candor: a self-hosted zero-party data platform.",
        subcommands: [Serve.self, Demo.self, Migrate.self, LedgerCommand.self, Erase.self, RetentionCommand.self, Bench.self, AdminCommand.self])
}

/// Options shared by every command that opens the store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Directory for the SQLite database and generated secrets (default ./candor-data; env CANDOR_DATA_DIR).")
    var dataDir: String?

    @Option(name: .long, help: "Run on PostgreSQL: postgres://user:password@host:port/database (env CANDOR_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .long, help: "A JSON configuration file (keys: host, port, data_dir, database_url, allow_special_category, checkpoint_interval, max_body_bytes, public_base_url, write_batch, controller_name, controller_contact, controller_email, controller_phone, controller_url, controller_policy_url, controller_jurisdiction, controller_service).")
    var config: String?

    @Option(name: .long, help: "Port to listen on (default 8080; env CANDOR_PORT).")
    var port: Int?

    @Option(name: .long, help: "Address to listen on (default 127.0.0.1; env CANDOR_HOST).")
    var host: String?

    @Option(name: .long, help: "Networks webhooks may reach although private or loopback, comma-separated CIDR (e.g. 127.0.0.1/32), or * (env CANDOR_DELIVERY_ALLOW_PRIVATE_NETWORKS).")
    var deliveryAllowPrivateNetworks: String?

    /// Resolves the configuration: flags, then environment (CANDOR_…), then the file, then defaults.
    func resolve() async throws -> ServerConfig {
        var flags = [AbsoluteConfigKey: ConfigValue]()
        if let dataDir { flags["data_dir"] = ConfigValue(.string(dataDir), isSecret: false) }
        if let databaseURL { flags["database_url"] = ConfigValue(.string(databaseURL), isSecret: true) }
        if let port { flags["port"] = ConfigValue(.int(port), isSecret: false) }
        if let host { flags["host"] = ConfigValue(.string(host), isSecret: false) }
        if let deliveryAllowPrivateNetworks { flags["delivery.allow_private_networks"] = ConfigValue(.string(deliveryAllowPrivateNetworks), isSecret: false) }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: flags),
            KeyMappingProvider(upstream: EnvironmentVariablesProvider()) { key in key.prepending(["candor"]) },
        ]
        if let config { providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(config))) }
        let reader = ConfigReader(providers: providers)
        var resolved = ServerConfig()
        resolved.host = reader.string(forKey: "host", default: resolved.host)
        resolved.port = reader.int(forKey: "port", default: resolved.port)
        resolved.dataDirectory = reader.string(forKey: "data_dir", default: resolved.dataDirectory)
        resolved.databaseURL = reader.string(forKey: "database_url", isSecret: true)
        resolved.allowSpecialCategory = reader.bool(forKey: "allow_special_category", default: false)
        resolved.checkpointIntervalSeconds = reader.int(forKey: "checkpoint_interval", default: resolved.checkpointIntervalSeconds)
        resolved.maxBodyBytes = reader.int(forKey: "max_body_bytes", default: resolved.maxBodyBytes)
        resolved.publicBaseURL = reader.string(forKey: "public_base_url")
        resolved.writeBatch = max(1, reader.int(forKey: "write_batch", default: resolved.writeBatch))
        resolved.holdoutShare = min(1, max(0, reader.double(forKey: "holdout_share", default: resolved.holdoutShare)))
        // Operator passwords (docs/console.md): bcrypt cost 4–31, 12 unless lowered for tests.
        resolved.console.bcryptCost = UInt8(min(31, max(4, reader.int(forKey: "console.bcrypt_cost", default: Int(resolved.console.bcryptCost)))))
        // Webhook delivery (docs/delivery.md): keys delivery.allow_private_networks, delivery.timeout_ms,
        // delivery.retry_base_ms, delivery.max_attempts, delivery.batch_size, delivery.worker.
        do {
            resolved.delivery.networkGuard = try NetworkGuard.parse(reader.string(forKey: "delivery.allow_private_networks"))
        } catch let error as CandorError {
            throw ValidationError(error.detail)
        }
        resolved.delivery.timeout = .milliseconds(min(60_000, max(100, reader.int(forKey: "delivery.timeout_ms", default: 10_000))))
        resolved.delivery.retry = RetrySchedule(baseDelay: .milliseconds(max(10, reader.int(forKey: "delivery.retry_base_ms", default: 5_000))),
                                                maxAttempts: max(1, reader.int(forKey: "delivery.max_attempts", default: 8)))
        resolved.delivery.batchSize = max(1, reader.int(forKey: "delivery.batch_size", default: resolved.delivery.batchSize))
        resolved.runsDeliveryWorker = reader.bool(forKey: "delivery.worker", default: true)
        resolved.promptCooldownSeconds = max(0, reader.int(forKey: "prompt_cooldown_seconds", default: resolved.promptCooldownSeconds))
        resolved.embedVisitorLimit = max(1, reader.int(forKey: "embed_visitor_limit", default: resolved.embedVisitorLimit))
        resolved.embedIPLimit = max(1, reader.int(forKey: "embed_ip_limit", default: resolved.embedIPLimit))
        let ranking = reader.string(forKey: "offer_ranking", default: resolved.offerRanking.rawValue)
        guard let offerRanking = OfferRanking(rawValue: ranking) else {
            throw ValidationError("offer_ranking must be one of \(OfferRanking.allCases.map(\.rawValue).joined(separator: ", ")), not '\(ranking)'")
        }
        resolved.offerRanking = offerRanking
        try resolveMailSettings(reader, into: &resolved)  // MailSettings.swift: SMTP, sender, DKIM, send rate
        // The controller named in consent receipts and the record of processing (keys controller_name, …).
        if let name = reader.string(forKey: "controller_name") {
            resolved.controller = DataController(
                name: name, contact: reader.string(forKey: "controller_contact", default: name),
                email: reader.string(forKey: "controller_email", default: ""), phone: reader.string(forKey: "controller_phone", default: ""),
                url: reader.string(forKey: "controller_url") ?? resolved.publicBaseURL,
                policyURL: reader.string(forKey: "controller_policy_url", default: resolved.baseURL + "/privacy"),
                jurisdiction: reader.string(forKey: "controller_jurisdiction", default: "EU"),
                service: reader.string(forKey: "controller_service", default: name))
        }
        return resolved
    }
}

func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["CANDOR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server from configuration (SQLite by default, PostgreSQL with --database-url).")
    @OptionGroup var options: StoreOptions

    func run() async throws {
        let config = try await options.resolve()
        let logger = makeLogger("candor")
        _ = CandorMetrics.registry
        let store = try await openStore(config, logger: logger)
        let app = try await buildApplication(config: config, store: store, logger: logger) { port in
            print("Candor is listening on http://\(config.host):\(port)")
        }
        try await app.runService()
        // Graceful shutdown (SIGTERM, Ctrl-C): every request was answered; what is still queued is written.
        try await store.close()
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a demo workspace with 10,000 synthetic people and serve it.")
    @OptionGroup var options: StoreOptions

    @Option(help: "How many synthetic people to create on first run.")
    var subjects = 10_000

    @Flag(help: "Seed the workspace, print what was made, and exit instead of serving.")
    var seedOnly = false

    func run() async throws {
        var configured = try await options.resolve()
        configured.mailer = DemoMailSender()  // the demo has no mail server: rights links are printed here
        configured.demoShop = true  // /demo/shop: the embed script on a sample shop
        let config = configured
        let logger = makeLogger("candor")
        _ = CandorMetrics.registry
        let store = try await openStore(config, logger: logger)
        let keysFile = URL(fileURLWithPath: config.dataDirectory).appendingPathComponent("demo-keys.json")
        let keys: DemoWorkspace.Keys
        if store.registry.purposes["newsletter"] != nil, let data = try? Data(contentsOf: keysFile),
           let saved = try? JSONDecoder().decode(DemoWorkspace.Keys.self, from: data)
        {
            keys = saved
            print("Using the demo workspace already in \(config.dataDirectory)")
        } else {
            print("Creating the demo workspace in \(config.dataDirectory) …")
            let started = Date()
            keys = try await DemoWorkspace.seedDemo(store, publishableOrigins: [config.baseURL, "http://localhost:\(config.port)"],
                                                  operatorCost: config.console.bcryptCost)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writePrivateFile(keysFile, contents: String(decoding: try encoder.encode(keys), as: UTF8.self) + "\n")
            try await DemoWorkspace.seedSubjects(store, count: subjects)
            try await store.checkpoint()
            print("Created \(subjects) people with declarations and consents in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
        let base = config.baseURL
        print("""

        Demo keys (also in \(keysFile.path), mode 0600):
          admin (team it)        \(keys.admin)
          marketing              \(keys.marketing)
          sales                  \(keys.sales)
          support                \(keys.support)
          publishable (browser)  \(keys.publishable)

        Try:
          \(base)/                 start page
          \(base)/openapi.yaml     API contract
          \(base)/rights           self-service rights portal (the e-mailed link is printed here)
          \(base)/p                preference center (the e-mailed link is printed here)
          \(base)/privacy          privacy at a glance, generated from the registry
          \(base)/demo/shop        a demo shop with the embed: prompts, sign-in and onsite offers
          curl -s \(base)/v1/subjects?limit=2 -H "Authorization: Bearer \(keys.marketing)" -H "Candor-Purpose: offers"
          curl -s \(base)/v1/ledger/verify -H "Authorization: Bearer \(keys.admin)"
        """)
        if let operators = keys.operators, !operators.isEmpty {
            // The operator console (docs/console.md): one operator per team, passwords also in demo-keys.json.
            print("\nConsole operators (sign in at \(base)/console):")
            for account in operators { print("  \(account.team.padding(toLength: 10, withPad: " ", startingAt: 0)) \(account.email)  \(account.password)") }
        }
        if seedOnly { return }
        let app = try await buildApplication(config: config, store: store, logger: logger) { port in
            print("\nCandor demo is running at http://\(config.host):\(port) — press Ctrl-C to stop.")
        }
        try await app.runService()
        // Graceful shutdown (SIGTERM, Ctrl-C): every request was answered; what is still queued is written.
        try await store.close()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations and exit.")
    @OptionGroup var options: StoreOptions

    func run() async throws {
        let store = try await openStore(try await options.resolve(), logger: makeLogger("candor"))
        try await store.database.close()
        print("migrations applied")
    }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "The tamper-evident ledger.", subcommands: [Verify.self, MakeCheckpoint.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify every chain and the newest signed checkpoint; exit 0 when intact, 1 when broken.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            let store = try await openStore(try await options.resolve(), logger: makeLogger("candor"))
            let started = Date()
            let report = try await store.verifyLedger()
            let seconds = Date().timeIntervalSince(started)
            if report.isIntact {
                print("ledger intact: \(report.chains) chains, \(report.entries) entries, checkpoint \(report.checkpoint?.id ?? "none") (\(String(format: "%.2f", seconds)) s)")
            } else if let broken = report.firstBreak {
                print("ledger BROKEN at subject \(broken.subjectId) entry \(broken.seq): \(broken.reason)")
                throw ExitCode(1)
            }
        }
    }

    struct MakeCheckpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "checkpoint", abstract: "Sign a checkpoint over every chain now.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            let store = try await openStore(try await options.resolve(), logger: makeLogger("candor"))
            if let checkpoint = try await store.checkpoint() {
                print("checkpoint \(checkpoint.id): \(checkpoint.chainCount) chains, \(checkpoint.entryCount) entries, root \(checkpoint.root)")
            } else {
                print("the ledger is empty")
            }
        }
    }
}

struct Erase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Erase a subject: delete every projection, destroy its key, keep a tombstone.")
    @OptionGroup var options: StoreOptions

    @Argument(help: "The subject id (sub_…).")
    var subjectId: String

    func run() async throws {
        let store = try await openStore(try await options.resolve(), logger: makeLogger("candor"))
        do {
            _ = try await store.erase(subjectId: subjectId, by: nil)
            print("erased \(subjectId)")
        } catch let error as CandorError {
            print("not erased: \(error.detail)")
            throw ExitCode(1)
        }
    }
}

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retention", abstract: "Data retention.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove what outlived its retention now (the server also does this hourly).")
        @OptionGroup var options: StoreOptions

        @Option(help: "Erase anonymous subjects inactive for this many days.")
        var anonymousInactiveDays: Int = 395

        func run() async throws {
            let store = try await openStore(try await options.resolve(), logger: makeLogger("candor"))
            let report = try await store.runRetention(anonymousInactiveDays: anonymousInactiveDays)
            print("retention: removed \(report.declarations) values, \(report.consents) consents, \(report.anonymousSubjects) anonymous subjects, \(report.requests) requests")
        }
    }
}
