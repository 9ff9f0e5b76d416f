import ArgumentParser
import CandorCore
import CandorServer
import CandorStore
import Foundation

/// Benchmarks. They report ratios against ceilings measured in the same run; bench/ingest.sh drives
/// the HTTP parts with wrk.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (see bench/ingest.sh for the full ingest run).", subcommands: [RawSQLite.self, Load.self, SegmentsBench.self, RightsBench.self, WebhooksBench.self, MailBench.self, ConsoleBench.self])

    struct RawSQLite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "raw-sqlite", abstract: "Measure the raw SQLite ceiling on this disk with Candor's pragmas.")
        @Option(help: "Directory on the disk to measure.") var dataDir = "./candor-bench"
        @Option(help: "Seconds of single-row transactions.") var seconds = 3.0

        func run() async throws {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            let result = try await RawSQLiteCeiling.measure(directory: dataDir, seconds: seconds)
            print(String(format: "raw_single_row_tx_per_s %.0f\nraw_batched_rows_per_s %.0f", result.singleRowPerSecond, result.batchedRowsPerSecond))
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load synthetic people through the store (group commit, ledger, audit, outbox included).")
        @OptionGroup var options: StoreOptions
        @Option(help: "People to create.") var subjects = 10_000
        @Option(help: "Declarations per person.") var declarationsPerSubject = 10
        @Option(help: "Writes in flight.") var concurrency = 256
        @Option(help: "Write the subject ids here (one per line), for load generators.") var idsFile: String?

        func run() async throws {
            let config = try await options.resolve()
            let store = try await openStore(config, logger: makeLogger("candor"))
            if store.registry.purposes["newsletter"] == nil {
                let keys = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["http://127.0.0.1:8080"])
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try writePrivateFile(URL(fileURLWithPath: config.dataDirectory).appendingPathComponent("demo-keys.json"), contents: String(decoding: try encoder.encode(keys), as: UTF8.self))
            }
            let started = Date()
            let ids = try await DemoWorkspace.seedSubjects(store, count: subjects, concurrency: concurrency)
            let seeded = Date()
            let extra = max(0, declarationsPerSubject - 1)
            if extra > 0 {
                let registry = store.registry
                let notices = Dictionary(uniqueKeysWithValues: registry.purposes.compactMap { key, purpose in purpose.currentNoticeVersion.map { (key, $0) } })
                var next = 0
                let total = ids.count * extra
                while next < total {
                    let chunk = next..<min(total, next + concurrency)
                    next = chunk.upperBound
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in chunk {
                            let id = ids[index % ids.count]
                            group.addTask {
                                let size = Double(36 + index % 11)
                                _ = try await store.declare(subjectId: id, DeclarationInput(
                                    values: [DeclaredValueInput(field: "shoe_size", value: .number(size))],
                                    notices: ["offers": notices["offers"] ?? 1, "support": notices["support"] ?? 1], source: "import"), by: nil)
                            }
                        }
                        try await group.waitForAll()
                    }
                }
            }
            let loaded = Date()
            try await store.checkpoint()
            if let idsFile { try ids.joined(separator: "\n").write(toFile: idsFile, atomically: true, encoding: .utf8) }
            let declarations = subjects * declarationsPerSubject
            print(String(format: "loaded_subjects %d\nloaded_declarations %d\nseed_seconds %.1f\nextra_declarations_seconds %.1f\nwrites_per_s %.0f",
                         subjects, declarations, seeded.timeIntervalSince(started), loaded.timeIntervalSince(seeded),
                         Double(subjects * 3 + ids.count * extra) / loaded.timeIntervalSince(started)))
        }
    }
}
