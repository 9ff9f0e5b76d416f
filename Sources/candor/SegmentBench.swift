import ArgumentParser
import CandorCore
import CandorStore
import Foundation

/// `candor bench segments`: segment counts from the in-memory index versus `SELECT count(*)` on SQLite
/// (and PostgreSQL, when given) with the best indexes for each query, over the same synthetic people,
/// in the same run.
struct SegmentsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "segments", abstract: "Segment counts: index versus SQLite count(*) over synthetic people.")
    @Option(help: "Synthetic people.") var people = 1_000_000
    @Option(help: "Index counts per rule.") var indexRuns = 200
    @Option(help: "SQL counts per rule.") var sqlRuns = 10
    @Option(help: "Directory for the SQLite file.") var dataDir = "./candor-bench-segments"
    @Option(help: "Also count on PostgreSQL: postgres://user@host:port/db (the tables are created in schema candor_bench and dropped after).")
    var postgresURL: String?

    static let interests = ["running", "yoga", "cycling", "hiking", "swimming", "tennis", "climbing"]
    static let channels = ["email", "sms", "push", "post"]

    /// The five representative rules and the SQL that counts the same people.
    static let rules: [(String, String)] = [
        (#"interests has "running""#,
         "SELECT count(*) FROM interests i JOIN people p ON p.id = i.person WHERE i.option = 'running' AND p.active = 1"),
        (#"interests has "running" and consent("offers")"#,
         """
         SELECT count(*) FROM interests i JOIN people p ON p.id = i.person WHERE i.option = 'running' AND p.active = 1 AND p.objected = 0
           AND EXISTS (SELECT 1 FROM consents c WHERE c.purpose = 'offers' AND c.person = i.person)
         """),
        ("shoe_size between 40 and 44", "SELECT count(*) FROM people WHERE shoe_size BETWEEN 40 AND 44 AND active = 1"),
        (#"interests has any ["yoga", "hiking"] and not set(shoe_size)"#,
         """
         SELECT count(*) FROM people p WHERE p.active = 1 AND p.shoe_size IS NULL
           AND EXISTS (SELECT 1 FROM interests i WHERE i.person = p.id AND i.option IN ('yoga', 'hiking'))
         """),
        (#"(interests has "running" or channels has "email") and consent("newsletter") and shoe_size >= 42"#,
         """
         SELECT count(*) FROM people p WHERE p.active = 1 AND p.objected = 0 AND p.shoe_size >= 42
           AND EXISTS (SELECT 1 FROM consents c WHERE c.purpose = 'newsletter' AND c.person = p.id)
           AND (EXISTS (SELECT 1 FROM interests i WHERE i.person = p.id AND i.option = 'running')
                OR EXISTS (SELECT 1 FROM channels h WHERE h.person = p.id AND h.option = 'email'))
         """),
    ]

    func run() async throws {
        let at = "2026-01-01T00:00:00.000Z"
        let purposes: [String: Purpose] = [
            "offers": Purpose(id: "pur_o", key: "offers", names: [:], legalBasis: .consent, retentionDays: 365, dpvTerm: "Marketing", isMarketing: true, currentNoticeVersion: 1, createdAt: at),
            "newsletter": Purpose(id: "pur_n", key: "newsletter", names: [:], legalBasis: .consent, retentionDays: 365, dpvTerm: "DirectMarketing", isMarketing: true, currentNoticeVersion: 1, createdAt: at),
        ]
        let fields: [String: Field] = [
            "interests": Field(id: "f1", key: "interests", type: .multiChoice, options: Self.interests, purposes: ["offers"], retentionDays: 0, labels: [:], createdAt: at),
            "channels": Field(id: "f2", key: "channels", type: .multiChoice, options: Self.channels, purposes: ["newsletter"], retentionDays: 0, labels: [:], createdAt: at),
            "shoe_size": Field(id: "f3", key: "shoe_size", type: .number, purposes: ["offers"], retentionDays: 0, labels: [:], createdAt: at),
        ]
        let now = Timestamp.millis(Date())
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let path = (dataDir as NSString).appendingPathComponent("segments-\(UUID().uuidString).sqlite")
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let sqlite = try SQLiteDatabase(path: path)
        var backends: [(name: String, database: SQLDatabase)] = [("sqlite", sqlite)]
        var postgres: PostgresDatabase?
        if let postgresURL {
            let database = try await PostgresDatabase.connect(url: postgresURL, readerCount: 1, writerCount: 1, logger: makeLogger("candor.bench"))
            try await database.maintain("DROP SCHEMA IF EXISTS candor_bench CASCADE")
            try await database.maintain("CREATE SCHEMA candor_bench")
            // Session settings: the writer's through maintenance, the one reader's in its first transaction.
            try await database.maintain("SET search_path TO candor_bench")
            try await database.read { try $0.execute("SET search_path TO candor_bench", []) }
            postgres = database
            backends.append(("postgres", database))
        }
        for (name, database) in backends {
            let rowid = name == "sqlite" ? " WITHOUT ROWID" : ""
            try await database.write { c in
                try c.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, active INTEGER NOT NULL, objected INTEGER NOT NULL, shoe_size REAL)", [])
                for table in ["interests", "channels"] {
                    try c.execute("CREATE TABLE \(table) (option TEXT NOT NULL, person INTEGER NOT NULL, PRIMARY KEY (option, person))\(rowid)", [])
                }
                try c.execute("CREATE TABLE consents (purpose TEXT NOT NULL, person INTEGER NOT NULL, PRIMARY KEY (purpose, person))\(rowid)", [])
            }
        }
        var index = SegmentIndex()
        var rng = SeededRandom(seed: 42)
        let buildStart = Date()
        var indexSeconds = 0.0
        let batch = 20_000
        for start in stride(from: 0, to: people, by: batch) {
            var rows = [(Int, Bool, Bool, Double?, [String], [String], [String])]()
            for i in start..<min(people, start + batch) {
                let active = rng.next() % 100 >= 2
                let objected = rng.next() % 100 < 3
                let picked = Self.interests.filter { _ in rng.next() % 100 < 30 }
                let chans = Self.channels.filter { _ in rng.next() % 100 < 40 }
                let size: Double? = rng.next() % 100 < 60 ? Double(36 + Int(rng.next() % 11)) : nil
                var granted = [String]()
                if rng.next() % 100 < 50 { granted.append("offers") }
                if rng.next() % 100 < 40 { granted.append("newsletter") }
                rows.append((i, active, objected, size, picked, chans, granted))
            }
            let t0 = Date()
            for (i, active, objected, size, picked, chans, granted) in rows {
                var values = [String: DeclaredFact]()
                if !picked.isEmpty { values["interests"] = DeclaredFact(field: "interests", value: .array(picked.map(JSONValue.string)), declaredAt: now, source: "import", collectionPoint: nil) }
                if !chans.isEmpty { values["channels"] = DeclaredFact(field: "channels", value: .array(chans.map(JSONValue.string)), declaredAt: now, source: "import", collectionPoint: nil) }
                if let size { values["shoe_size"] = DeclaredFact(field: "shoe_size", value: .number(size), declaredAt: now, source: "import", collectionPoint: nil) }
                let consents = Dictionary(uniqueKeysWithValues: granted.map { ($0, ConsentRecord(purpose: $0, status: .granted, method: .checkbox, noticeVersion: 1, updatedAt: now, expiresAt: nil)) })
                index.apply("p\(i)", SegmentProfile(subjectId: "p\(i)", status: active ? .active : .restricted, hasObjected: objected, values: values, consents: consents), purposes: purposes, now: now)
            }
            indexSeconds += Date().timeIntervalSince(t0)
            let people = rows.map { [SQLValue.int(Int64($0.0)), .int($0.1 ? 1 : 0), .int($0.2 ? 1 : 0), $0.3.map(SQLValue.double) ?? .null] }
            let interests = rows.flatMap { row in row.4.map { [SQLValue.text($0), .int(Int64(row.0))] } }
            let channels = rows.flatMap { row in row.5.map { [SQLValue.text($0), .int(Int64(row.0))] } }
            let consents = rows.flatMap { row in row.6.map { [SQLValue.text($0), .int(Int64(row.0))] } }
            for (_, database) in backends {
                try await database.write { c in
                    try Self.insert(c, "people (id, active, objected, shoe_size)", people)
                    try Self.insert(c, "interests (option, person)", interests)
                    try Self.insert(c, "channels (option, person)", channels)
                    try Self.insert(c, "consents (purpose, person)", consents)
                }
            }
        }
        // The best indexes for these queries: covering where possible, built after the load as a DBA would
        // (PostgreSQL also gets VACUUM, so its index-only scans need not visit the table).
        for (_, database) in backends {
            try await database.write { c in
                try c.execute("CREATE INDEX people_shoe ON people (active, shoe_size, objected)", [])
                try c.execute("CREATE INDEX interests_person ON interests (person, option)", [])
                try c.execute("CREATE INDEX channels_person ON channels (person, option)", [])
            }
        }
        try await sqlite.write { try $0.execute("ANALYZE", []) }
        try await postgres?.maintain("VACUUM ANALYZE")
        print(String(format: "people %d\nindex_build_seconds %.2f\ntotal_load_seconds %.1f", people, indexSeconds, Date().timeIntervalSince(buildStart)))
        let memory = index.estimatedBytes
        print(String(format: "index_bytes %d\nindex_bytes_per_person %.1f", memory, Double(memory) / Double(people)))
        print("rule | count | index p50 ms | index p99 ms | " + backends.map { "\($0.name) p50 ms | \($0.name) p99 ms | speedup p50 (p99)" }.joined(separator: " | "))
        for (rule, sql) in Self.rules {
            let expr = try SegmentRule.compile(rule, fields: fields, purposes: purposes).get()
            var indexTimes = [Double]()
            var count = 0
            for _ in 0..<indexRuns {
                let t = DispatchTime.now().uptimeNanoseconds
                count = index.evaluate(expr, now: now).count
                indexTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            let (ip50, ip99) = Self.percentiles(indexTimes)
            var line = String(format: "%@ | %d | %.3f | %.3f", rule, count, ip50, ip99)
            for (name, database) in backends {
                var sqlTimes = [Double]()
                var sqlCount: Int64 = 0
                for _ in 0..<sqlRuns {
                    let t = DispatchTime.now().uptimeNanoseconds
                    sqlCount = try await database.read { try $0.query(sql, []).first?.int(0) ?? -1 }
                    sqlTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                }
                let (sp50, sp99) = Self.percentiles(sqlTimes)
                line += String(format: " | %.2f | %.2f | %.0fx (%.0fx)%@", sp50, sp99, sp50 / ip50, sp99 / ip99, Int64(count) == sqlCount ? "" : " (\(name) counted \(sqlCount)!)")
            }
            print(line)
        }
        try await sqlite.close()
        if let postgres {
            try await postgres.maintain("DROP SCHEMA candor_bench CASCADE")
            try await postgres.close()
        }
    }

    /// Inserts rows with multi-row statements (500 rows each), the fastest plain SQL load on both databases.
    static func insert(_ connection: SQLConnection, _ table: String, _ rows: [[SQLValue]]) throws {
        guard let width = rows.first?.count else { return }
        for start in stride(from: 0, to: rows.count, by: 500) {
            let chunk = rows[start..<min(rows.count, start + 500)]
            let tuple = "(" + Array(repeating: "?", count: width).joined(separator: ", ") + ")"
            try connection.execute("INSERT INTO \(table) VALUES " + Array(repeating: tuple, count: chunk.count).joined(separator: ", "), chunk.flatMap { $0 })
        }
    }

    static func percentiles(_ samples: [Double]) -> (Double, Double) {
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))] }
        return (at(0.5), at(0.99))
    }
}
