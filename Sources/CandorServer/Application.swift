import CandorCore
import CandorDelivery
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// Opens the store the configuration names: SQLite in the data directory by default, PostgreSQL when a
/// database URL is given. Secrets come from the environment (`CANDOR_MASTER_KEY`, `CANDOR_SIGNING_KEY`, hex;
/// required to share them between nodes) or are generated once into the data directory with mode 0600.
public func openStore(_ config: ServerConfig, logger: Logger) async throws -> CandorStore {
    let directory = URL(fileURLWithPath: config.dataDirectory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let secrets = try loadSecrets(directory: directory)
    let database: SQLDatabase
    if let url = config.databaseURL {
        database = try await PostgresDatabase.connect(url: url, logger: logger)
    } else {
        database = try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path)
    }
    let store = try await CandorStore(database: database, secrets: secrets, allowSpecialCategory: config.allowSpecialCategory, maxBatch: config.writeBatch, logger: logger)
    store.setDataController(config.controller ?? .unconfigured(baseURL: config.baseURL))
    return store
}

func loadSecrets(directory: URL) throws -> ServerSecrets {
    let environment = ProcessInfo.processInfo.environment
    func secret(_ name: String, env: String, generate: () -> [UInt8]) throws -> [UInt8] {
        if let hex = environment[env] {
            guard let bytes = Digest.bytes(hex: hex) else { throw CandorStoreError.configuration("\(env) must be hex") }
            return bytes
        }
        let file = directory.appendingPathComponent(name)
        if let text = try? String(contentsOf: file, encoding: .utf8), let bytes = Digest.bytes(hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return bytes
        }
        let bytes = generate()
        try writePrivateFile(file, contents: Digest.hex(bytes) + "\n")
        return bytes
    }
    let generated = ServerSecrets.generateRaw()
    return try ServerSecrets(
        masterKey: try secret("master.key", env: "CANDOR_MASTER_KEY") { generated.master },
        signingKey: try secret("signing.key", env: "CANDOR_SIGNING_KEY") { generated.signing })
}

/// Writes a file readable only by its owner (mode 0600), replacing any earlier one.
public func writePrivateFile(_ url: URL, contents: String) throws {
    try? FileManager.default.removeItem(at: url)
    guard FileManager.default.createFile(atPath: url.path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw CandorStoreError.configuration("cannot write \(url.path)")
    }
}

/// Builds the router over a store: the same routes in production and in tests.
public func buildRouter(config: ServerConfig, store: CandorStore, resources: Resources) -> Router<CandorRequestContext> {
    let router = Router(context: CandorRequestContext.self)
    // Outermost, so that problem documents (errors thrown below and turned into answers by ProblemMiddleware) carry them too.
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: MetricsMiddleware())
    SystemRoutes(store: store, resources: resources, config: config).add(to: router)
    let support = RouteSupport(store: store, maxBodyBytes: config.maxBodyBytes)
    let api = router.group("v1").add(middleware: AuthMiddleware(store: store))
    RegistryRoutes(support: support).add(to: api)
    SubjectRoutes(support: support).add(to: api)
    LedgerRoutes(support: support).add(to: api)
    RightsRoutes(support: support).add(to: api)
    RightsRoutes(support: support).addPublic(to: router)
    RequestRoutes(support: support).add(to: api)
    AuditRoutes(support: support).add(to: api)
    DeliveryRoutes(support: support, validator: DestinationValidator(networkGuard: config.delivery.networkGuard)).add(to: api)
    AutomationRoutes(support: support).add(to: api)
    store.configureActivation {
        $0.holdoutShare = config.holdoutShare
        $0.ranking = config.offerRanking
    }
    ActivationRoutes(support: support).add(to: api)
    GovernanceRoutes(support: support, resources: resources).add(api: api, router: router)
    PortalRoutes(store: store, resources: resources, config: config, support: support).add(pages: router, api: api)
    CollectionRoutes(store: store, resources: resources, config: config, support: support).add(pages: router, api: api)
    CampaignRoutes.register(api: api, router: router, support: support, config: config, resources: resources)
    ConsoleRoutes(store: store, resources: resources, config: config, support: support).add(to: router)
    return router
}

/// Builds the whole application: routes, and the maintenance service (checkpoints, registry refresh).
public func buildApplication(config: ServerConfig, store: CandorStore, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> some ApplicationProtocol {
    let resources = try await Resources.load()
    let router = buildRouter(config: config, store: store, resources: resources)
    return Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "candor"),
        services: ([MaintenanceService(store: store, config: config, logger: logger)] as [any Service])
            + (config.runsDeliveryWorker ? [DeliveryWorker(store: store, settings: config.delivery, logger: logger)] : [])
            + (config.runsDeliveryWorker ? [AutomationEngine(store: store, config: config, transport: config.newsletters.makeTransport(), logger: logger)] : [])
            + (config.newsletters.runsSendJob ? [CampaignSendJob(store: store, config: config, transport: config.newsletters.makeTransport(), logger: logger)] : []),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? config.port) },
        logger: logger)
}

/// Adds headers every answer should carry.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = CandorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// Periodic work of a node: signed ledger checkpoints, and reloading the registry so that changes made
/// on another node (a revoked key, a new notice) take effect here within `registryRefreshSeconds`;
/// and the retention job every `retentionIntervalSeconds` (hourly by default). At start, it seals what an
/// older version stored in clear (`CandorStore.sealClearRows`).
struct MaintenanceService: Service {
    let store: CandorStore
    let config: ServerConfig
    let logger: Logger

    func run() async throws {
        // An installation upgraded from a version that stored declared values in clear seals them now, in
        // the background (reads understand both forms meanwhile); a no-op once done.
        do { try await store.sealClearRows() } catch {
            logger.error("sealing stored values failed; retried at the next start", metadata: ["error.type": "\(type(of: error))"])
        }
        var sinceCheckpoint = 0
        var sinceRetention = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: .seconds(max(1, config.registryRefreshSeconds)))
            } catch { return }
            sinceCheckpoint += max(1, config.registryRefreshSeconds)
            sinceRetention += max(1, config.registryRefreshSeconds)
            do {
                try await store.reloadRegistry()
                if config.checkpointIntervalSeconds > 0 && sinceCheckpoint >= config.checkpointIntervalSeconds {
                    sinceCheckpoint = 0
                    if let checkpoint = try await store.checkpoint() {
                        logger.info("ledger checkpoint", metadata: ["checkpoint": "\(checkpoint.id)", "entries": "\(checkpoint.entryCount)"])
                    }
                }
                if config.retentionIntervalSeconds > 0 && sinceRetention >= config.retentionIntervalSeconds {
                    sinceRetention = 0
                    // Counts only: what was removed is in the audit log, never in the logs.
                    let report = try await store.runRetention(anonymousInactiveDays: config.anonymousInactiveDays)
                    logger.info("retention run", metadata: ["values": "\(report.declarations)", "consents": "\(report.consents)",
                                                           "anonymous_subjects": "\(report.anonymousSubjects)", "requests": "\(report.requests)"])
                }
            } catch {
                logger.error("maintenance failed", metadata: ["error.type": "\(type(of: error))"])
            }
        }
    }
}
