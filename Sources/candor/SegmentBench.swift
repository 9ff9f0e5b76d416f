import ArgumentParser
import CandorCore
import CandorStore
import Foundation

/// `candor bench segments`: segment counts from the in-memory index versus `SELECT count(*)` on SQLite
/// with the best indexes for each query, over the same synthetic people, in the same run.
struct SegmentsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "segments", abstract: "Segment counts: index versus SQLite count(*) over synthetic people.")
    @Option(help: "Synthetic people.") var people = 1_000_000
    @Option(help: "Index counts per rule.") var indexRuns = 200
    @Option(help: "SQL counts per rule.") var sqlRuns = 10
    @Option(help: "Directory for the SQLite file.") var dataDir = "./candor-bench-segments"

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
        let database = try SQLiteDatabase(path: path)
        try await database.write { c in
            try c.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, active INTEGER NOT NULL, objected INTEGER NOT NULL, shoe_size REAL)", [])
            try c.execute("CREATE TABLE interests (option TEXT NOT NULL, person INTEGER NOT NULL, PRIMARY KEY (option, person)) WITHOUT ROWID", [])
            try c.execute("CREATE TABLE channels (option TEXT NOT NULL, person INTEGER NOT NULL, PRIMARY KEY (option, person)) WITHOUT ROWID", [])
            try c.execute("CREATE TABLE consents (purpose TEXT NOT NULL, person INTEGER NOT NULL, PRIMARY KEY (purpose, person)) WITHOUT ROWID", [])
        }
        var index = SegmentIndex()
        var rng = SplitMix(seed: 42)
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
            let frozen = rows
            try await database.write { c in
                for (i, active, objected, size, picked, chans, granted) in frozen {
                    try c.execute("INSERT INTO people (id, active, objected, shoe_size) VALUES (?, ?, ?, ?)", [.int(Int64(i)), .int(active ? 1 : 0), .int(objected ? 1 : 0), size.map(SQLValue.double) ?? .null])
                    for option in picked { try c.execute("INSERT INTO interests (option, person) VALUES (?, ?)", [.text(option), .int(Int64(i))]) }
                    for option in chans { try c.execute("INSERT INTO channels (option, person) VALUES (?, ?)", [.text(option), .int(Int64(i))]) }
                    for purpose in granted { try c.execute("INSERT INTO consents (purpose, person) VALUES (?, ?)", [.text(purpose), .int(Int64(i))]) }
                }
            }
        }
        // The best indexes for these queries: covering where possible, built after the load as a DBA would.
        try await database.write { c in
            try c.execute("CREATE INDEX people_shoe ON people (active, shoe_size, objected)", [])
            try c.execute("CREATE INDEX interests_person ON interests (person, option)", [])
            try c.execute("CREATE INDEX channels_person ON channels (person, option)", [])
            try c.execute("ANALYZE", [])
        }
        print(String(format: "people %d\nindex_build_seconds %.2f\ntotal_load_seconds %.1f", people, indexSeconds, Date().timeIntervalSince(buildStart)))
        let memory = index.estimatedBytes
        print(String(format: "index_bytes %d\nindex_bytes_per_person %.1f", memory, Double(memory) / Double(people)))
        print("rule | count | index p50 ms | index p99 ms | sql p50 ms | sql p99 ms | speedup p50")
        for (rule, sql) in Self.rules {
            let expr = try SegmentRule.compile(rule, fields: fields, purposes: purposes).get()
            var indexTimes = [Double]()
            var count = 0
            for _ in 0..<indexRuns {
                let t = DispatchTime.now().uptimeNanoseconds
                count = index.evaluate(expr, now: now).count
                indexTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            var sqlTimes = [Double]()
            var sqlCount: Int64 = 0
            for _ in 0..<sqlRuns {
                let t = DispatchTime.now().uptimeNanoseconds
                sqlCount = try await database.read { try $0.query(sql, []).first?.int(0) ?? -1 }
                sqlTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            let (ip50, ip99) = Self.percentiles(indexTimes), (sp50, sp99) = Self.percentiles(sqlTimes)
            print(String(format: "%@ | %d%@ | %.3f | %.3f | %.2f | %.2f | %.0fx", rule, count, Int64(count) == sqlCount ? "" : " (SQL \(sqlCount)!)", ip50, ip99, sp50, sp99, sp50 / ip50))
        }
        try await database.close()
    }

    static func percentiles(_ samples: [Double]) -> (Double, Double) {
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))] }
        return (at(0.5), at(0.99))
    }
}

/// A deterministic generator, so every run benches the same people.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
