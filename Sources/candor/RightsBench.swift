import ArgumentParser
import CandorCore
import CandorServer
import CandorStore
import Foundation
import Logging

/// A clock the rights benchmark moves forward to age values past their retention.
final class BenchClock: CandorClock, @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64
    init(start: Int64) { millis = start }
    func nowMillis() -> Int64 { lock.withLock { millis } }
    func advance(byMillis delta: Int64) { lock.withLock { millis += delta } }
}

/// `candor bench rights`: erasure, export and retention through the store against the plain SQL
/// that touches the same rows, on the same SQLite database, in one run.
struct RightsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rights", abstract: "Erase / export / retention through the store vs plain SQL on the same rows.")
    @Option(help: "Directory for the benchmark database (recreated).") var dataDir = "./candor-rights-bench"
    @Option(help: "People in the store.") var people = 1_000_000
    @Option(help: "Erasures and exports to time.") var samples = 200

    static let day: Int64 = 86_400_000

    func run() async throws {
        let directory = URL(fileURLWithPath: dataDir)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path)
        let raw = ServerSecrets.generateRaw()
        let start = Timestamp.millis(Date())
        let clock = BenchClock(start: start)
        var logger = Logger(label: "candor.bench")
        logger.logLevel = .warning
        let store = try await CandorStore(database: database, secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing), clock: clock, logger: logger)
        _ = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["http://127.0.0.1:8080"])
        _ = try await store.createField(FieldInput(key: "visit_count", type: "number", purposes: ["support"], retentionDays: 30,
                                                   labels: ["en": "Visits", "he": "ביקורים"], minimum: 0, maximum: 1_000_000), by: nil)

        // Real people (keys, ledger, audit, outbox) for the timed operations: half erased through the
        // store, half deleted with plain SQL; exports run on the second half first.
        let seedStarted = Date()
        let real = try await DemoWorkspace.seedSubjects(store, count: 2 * samples, concurrency: 64)
        let storeSet = Array(real.prefix(samples)), plainSet = Array(real.suffix(samples))
        // Filler people in bulk: subject, key, three values, two consents, one ledger entry each. For
        // 30% of them `visit_count` was declared 10 days before the start; the clock then moves 25 days on (retention 30 days): 10% of all values.
        let filler = max(0, people - real.count)
        let batch = 20_000
        var done = 0
        while done < filler {
            let range = done..<min(filler, done + batch)
            done = range.upperBound
            try await database.write { c in
                for i in range {
                    let id = String(format: "sub_bench%010d", i)
                    let at = start - Int64(i % 1000) * 1000
                    try c.x("INSERT INTO subjects (id, external_id_hash, external_id_cipher, email_hash, email_cipher, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
                                  .text(id), .text(Digest.sha256Hex(Array("x\(i)".utf8))), .blob(Array(repeating: UInt8(i & 0xff), count: 38)),
                                  .text(Digest.sha256Hex(Array("e\(i)".utf8))), .blob(Array(repeating: UInt8(i & 0xff), count: 48)), .int(at), .int(at))
                    try c.x("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?, ?)", .text(id), .blob(Array(repeating: UInt8(i & 0x7f), count: 60)))
                    let notices = "{\"support\":1}"
                    // Values as the store writes them: sealed (stand-in ciphertext of a realistic size), `value` empty.
                    let insertValue = "INSERT INTO profile_values (subject_id, field, value, sealed, declared_at, declaration_id, source, collection_point, notices) VALUES (?, ?, '', ?, ?, ?, 'import', NULL, ?)"
                    try c.x(insertValue, .text(id), .text("interests"), .blob(Array(repeating: UInt8(i & 0xff), count: 46)), .int(at), .text("dec_a\(i)"), .text(notices))
                    try c.x(insertValue, .text(id), .text("channels"), .blob(Array(repeating: UInt8(i & 0xff), count: 37)), .int(at), .text("dec_a\(i)"), .text(notices))
                    let visitAt = i % 10 < 3 ? start - 10 * Self.day : at
                    try c.x(insertValue, .text(id), .text("visit_count"), .blob(Array(repeating: UInt8(i & 0xff), count: 30)), .int(visitAt), .text("dec_b\(i)"), .text(notices))
                    try c.x("INSERT INTO consents VALUES (?, 'newsletter', 'granted', 'checkbox', 1, ?, NULL)", .text(id), .int(at))
                    try c.x("INSERT INTO consents VALUES (?, 'support', 'granted', 'checkbox', 1, ?, NULL)", .text(id), .int(at))
                    try c.x("INSERT INTO ledger_entries (subject_id, seq, kind, created_at, prev_hash, payload, hash) VALUES (?, 1, 'subject.created', ?, ?, ?, ?)",
                                  .text(id), .int(at), .blob(Array(repeating: 0, count: 32)), .blob(Array(repeating: UInt8(i & 0xff), count: 120)), .blob(Array(repeating: 1, count: 32)))
                }
            }
        }
        try await database.purgeFreedSpace()
        let seeded = Date().timeIntervalSince(seedStarted)
        print(String(format: "people %d (store-seeded %d, bulk %d)\nseed_seconds %.1f", real.count + filler, real.count, filler, seeded))

        // Export vs plain SELECTs of the same rows.
        var exportStore = [Double](), exportPlain = [Double]()
        for id in plainSet {
            exportStore.append(try await Self.time { _ = try await store.exportSubject(subjectId: id, by: nil) })
            exportPlain.append(try await Self.time {
                _ = try await database.read { c in
                    _ = try c.q("SELECT id, external_id, email_hash, email_cipher, status, created_at, updated_at FROM subjects WHERE id = ?", .text(id))
                    _ = try c.q("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?", .text(id))
                    _ = try c.q("SELECT * FROM profile_values WHERE subject_id = ?", .text(id))
                    _ = try c.q("SELECT * FROM consents WHERE subject_id = ?", .text(id))
                    _ = try c.q("SELECT * FROM ledger_entries WHERE subject_id = ? ORDER BY seq", .text(id))
                    _ = try c.q("SELECT at, team, action, purpose, fields FROM audit_log WHERE subject_id = ? ORDER BY id", .text(id))
                    return 0
                }
            })
        }
        // Erase vs plain DELETE / UPDATE in one transaction.
        var eraseStore = [Double](), erasePlain = [Double]()
        for id in storeSet { eraseStore.append(try await Self.time { _ = try await store.erase(subjectId: id, by: nil) }) }
        for id in plainSet {
            erasePlain.append(try await Self.time {
                try await database.write { c in
                    for table in ["profile_values", "consents", "subject_keys", "idempotency"] {
                        try c.x("DELETE FROM \(table) WHERE subject_id = ?", .text(id))
                    }
                    try c.x("UPDATE subjects SET external_id_hash = NULL, external_id_cipher = NULL, email_hash = NULL, email_cipher = NULL, status = 'erased', updated_at = ?, erased_at = ? WHERE id = ?",
                                  .int(start), .int(start), .text(id))
                }
            })
        }
        // Retention: move the clock 25 days on, so the values declared 10 days before the start are past
        // their 30 days. Keep a copy of exactly the rows the run removes, restore them, delete them again with plain SQL.
        clock.advance(byMillis: 25 * Self.day)
        let cutoff = clock.nowMillis() - 30 * Self.day
        try await database.write { c in
            try c.x("DROP TABLE IF EXISTS bench_expired")
            try c.x("CREATE TABLE bench_expired AS SELECT * FROM profile_values WHERE field = 'visit_count' AND declared_at < ?", .int(cutoff))
        }
        var report: RetentionReport?
        let retentionStore = try await Self.time { report = try await store.runRetention() }
        try await database.write { c in try c.x("INSERT INTO profile_values SELECT * FROM bench_expired") }
        var plainRemoved = 0
        let retentionPlain = try await Self.time {
            plainRemoved = try await database.write { c in
                let n = try c.q1("SELECT count(*) FROM profile_values WHERE field = 'visit_count' AND declared_at < ?", .int(cutoff))?.int(0) ?? 0
                try c.x("DELETE FROM profile_values WHERE field = 'visit_count' AND declared_at < ?", .int(cutoff))
                return Int(n)
            }
        }
        let totalValues = try await database.read { c in try c.q1("SELECT count(*) FROM profile_values")?.int(0) ?? 0 }

        func line(_ name: String, _ a: [Double], _ b: [Double]) {
            let (a50, a99, b50, b99) = (Self.pct(a, 0.5), Self.pct(a, 0.99), Self.pct(b, 0.5), Self.pct(b, 0.99))
            print(String(format: "%@ store_p50_ms %.3f store_p99_ms %.3f plain_p50_ms %.3f plain_p99_ms %.3f ratio_p50 %.1f ratio_p99 %.1f",
                         name, a50, a99, b50, b99, a50 / b50, a99 / b99))
        }
        line("erase", eraseStore, erasePlain)
        line("export", exportStore, exportPlain)
        print(String(format: "retention removed_store %d removed_plain %d (of %d values after) store_s %.2f plain_s %.2f ratio %.1f",
                     report?.declarations ?? -1, plainRemoved, Int(totalValues) + plainRemoved, retentionStore / 1000, retentionPlain / 1000, retentionStore / retentionPlain))
        try await database.close()
    }

    static func time(_ body: () async throws -> Void) async throws -> Double {
        let t = DispatchTime.now().uptimeNanoseconds
        try await body()
        return Double(DispatchTime.now().uptimeNanoseconds - t) / 1_000_000
    }

    static func pct(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
}

private extension SQLConnection {
    func x(_ sql: String, _ arguments: SQLValue...) throws { try execute(sql, arguments) }
    func q(_ sql: String, _ arguments: SQLValue...) throws -> [SQLRow] { try query(sql, arguments) }
    func q1(_ sql: String, _ arguments: SQLValue...) throws -> SQLRow? { try query(sql, arguments).first }
}
