import CandorCore
import CandorDelivery
import CandorStore
import Foundation

/// Everything the server needs to start, as one typed value. The executable fills it from flags,
/// environment and a configuration file; tests build it directly.
public struct ServerConfig: Sendable {
    /// Address to listen on. Loopback by default: exposing Candor is a deliberate act.
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Directory holding the SQLite database and the generated secrets.
    public var dataDirectory: String = "./candor-data"
    /// A `postgres://` URL to run on PostgreSQL instead of the embedded SQLite.
    public var databaseURL: String?
    /// Explicit enablement of special-category fields (GDPR Art. 9).
    public var allowSpecialCategory: Bool = false
    /// How often a signed ledger checkpoint is made, in seconds (0 turns the schedule off).
    public var checkpointIntervalSeconds: Int = 60
    /// How often the registry is reloaded to see changes made on other nodes, in seconds.
    public var registryRefreshSeconds: Int = 5
    /// The largest request body accepted, in bytes.
    public var maxBodyBytes: Int = 64 * 1024
    /// The share of people (0…1, stable per person) who get the non-personalized fallback, so that
    /// the lift of personalization can be measured.
    public var holdoutShare: Double = 0.1
    /// How eligible personalized offers are ordered: `priority` or `thompson` (Thompson sampling on conversions).
    public var offerRanking: OfferRanking = .priority
    /// Webhook delivery: the network guard's allowed networks, retries, timeouts (CandorDelivery).
    public var delivery = DeliverySettings()
    /// Whether this node runs a delivery worker (every node may; on PostgreSQL they share the work).
    public var runsDeliveryWorker: Bool = true
    /// The most writes committed together (group commit).
    public var writeBatch: Int = 32
    /// How often the retention job runs, in seconds (0 turns the schedule off).
    public var retentionIntervalSeconds: Int = 3600
    /// Anonymous subjects with no activity for this many days are erased by the retention job.
    public var anonymousInactiveDays: Int = 395
    /// The pause between any two prompts for one person, in seconds, counted from the last display of
    /// any prompt (default 7 days; see docs/embed.md).
    public var promptCooldownSeconds: Int = 7 * 24 * 60 * 60
    /// Embed requests allowed per visitor and per client IP address, each per minute (docs/embed.md).
    public var embedVisitorLimit: Int = 120
    public var embedIPLimit: Int = 1200
    /// Serves the demo shop at `/demo/shop` (only `candor demo` turns this on).
    public var demoShop: Bool = false
    /// The base URL people reach the server at, used in links on pages.
    public var publicBaseURL: String?
    /// The controller named in consent receipts and the record of processing; nil says "not configured" there.
    public var controller: DataController?
    /// Where rights-portal links are mailed: the console (logs that a link went out, nothing more) by
    /// default; `candor demo` prints links; tests keep them in memory.
    public var mailer: any MailSender = ConsoleMailSender()
    /// Newsletters: SMTP, sender, DKIM and send rate (NewsletterSettings.swift).
    public var newsletters = NewsletterSettings()
    /// The operator console: password hashing cost (Console/ConsoleSettings.swift).
    public var console = ConsoleSettings()

    public init() {}

    /// The URL people reach the server at.
    public var baseURL: String { publicBaseURL ?? "http://\(host):\(port)" }
}
