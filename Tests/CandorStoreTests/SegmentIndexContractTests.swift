import CandorCore
import CandorStore
import Foundation
import PostgresNIO
import Testing

/// Random rules over the harness registry, as text, so the parser is part of what is compared.
enum RandomRule {
    static func make(_ rng: inout SeededRandom, depth: Int = 0) -> String {
        let pick = Int.random(in: 0..<(depth > 2 ? 9 : 12), using: &rng)
        let option = ["running", "hiking", "yoga"].randomElement(using: &rng)!
        let channel = ["email", "sms", "post"].randomElement(using: &rng)!
        let size = Int.random(in: 30...50, using: &rng)
        switch pick {
        case 0: return "interests has \"\(option)\""
        case 1: return "interests has any [\"\(option)\", \"hiking\"]"
        case 2: return "interests has all [\"\(option)\", \"yoga\"]"
        case 3: return "channels has \"\(channel)\""
        case 4: return ["shoe_size < \(size)", "shoe_size >= \(size)", "shoe_size = \(size)", "shoe_size != \(size)", "shoe_size in [\(size), 42]"].randomElement(using: &rng)!
        case 5: return "shoe_size between \(size) and \(size + Int.random(in: 0...8, using: &rng))"
        case 6: return ["set(interests)", "set(shoe_size)", "set(nickname)", "nickname = \"Bo\"", "nickname != \"Bo\""].randomElement(using: &rng)!
        case 7: return "consent(\"\(["newsletter", "offers", "support"].randomElement(using: &rng)!)\")"
        case 8: return "declared_within(\(["interests", "shoe_size"].randomElement(using: &rng)!), \(Int.random(in: 1...3, using: &rng))d)"
        case 9: return "not " + make(&rng, depth: depth + 1)
        case 10: return "(" + make(&rng, depth: depth + 1) + " and " + make(&rng, depth: depth + 1) + ")"
        default: return "(" + make(&rng, depth: depth + 1) + " or " + make(&rng, depth: depth + 1) + ")"
        }
    }
}

extension StoreContractTests {
    @Suite("Segment index") struct SegmentIndexContract {
        /// One random write against a random person (failures such as writing to an erased person are part of the mix).
        static func randomWrite(_ h: Harness, _ ids: [String], _ rng: inout SeededRandom) async {
            let id = ids.randomElement(using: &rng)!
            let options = ["running", "hiking", "yoga"].filter { _ in Bool.random(using: &rng) }
            let roll = Int.random(in: 0..<100, using: &rng)
            let size = Double(Int.random(in: 30...50, using: &rng))
            let nick = ["Bo", "Al", "Cy"].randomElement(using: &rng)!
            do {
                switch roll {
                case 0..<30: try await h.declare(id, ["interests": .array(options.map(JSONValue.string)), "shoe_size": .number(size)])
                case 30..<40: try await h.declare(id, ["channels": .array(options.isEmpty ? [] : [.string("email")]), "nickname": .string(nick)])
                case 40..<45: try await h.declare(id, ["shoe_size": .null])
                case 45..<60: try await h.grant(id, ["newsletter", "offers"].randomElement(using: &rng)!)
                case 60..<65: try await h.grant(id, "offers", expiresAt: Timestamp.rfc3339(h.clock.nowMillis() + 3_600_000))
                case 65..<75: try await h.withdraw(id, ["newsletter", "offers"].randomElement(using: &rng)!)
                case 75..<80: _ = try await h.store.setRestricted(Bool.random(using: &rng), subjectId: id, by: h.principal)
                case 80..<85: _ = try await h.store.objectToDirectMarketing(subjectId: id, by: h.principal)
                case 85..<88: _ = try await h.store.liftObjection(subjectId: id, by: h.principal)
                case 88..<90: _ = try await h.store.erase(subjectId: id, by: h.principal)
                default: h.clock.advance(byMillis: Int64.random(in: 0...(2 * 86_400_000), using: &rng))
                }
            } catch {}
        }

        static func compare(_ h: Harness, _ rng: inout SeededRandom, rules: Int, seed: UInt64) async throws {
            for _ in 0..<rules {
                let rule = RandomRule.make(&rng)
                let indexed = try await h.store.segmentMemberIds(rule: rule)
                let brute = try await h.store.segmentMemberIdsByBruteForce(rule: rule)
                #expect(indexed == brute, "seed \(seed), rule: \(rule)")
                #expect(try await h.store.countSegment(rule: rule) == brute.count)
            }
        }

        @Test("index agrees with the brute-force evaluator over random writes", arguments: Backend.available, [UInt64(1), 2, 3])
        func indexMatchesBruteForce(backend: Backend, seed: UInt64) async throws {
            try await Harness.with(backend) { h in
                var rng = SeededRandom(seed: seed)
                var ids = [String]()
                for _ in 0..<25 { ids.append(try await h.newSubject()) }
                // Some state before the index first loads, some after: both paths must agree.
                for _ in 0..<40 { await Self.randomWrite(h, ids, &rng) }
                try await Self.compare(h, &rng, rules: 15, seed: seed)
                for round in 0..<4 {
                    for _ in 0..<30 { await Self.randomWrite(h, ids, &rng) }
                    if round == 2 { for _ in 0..<5 { ids.append(try await h.newSubject()) } }
                    try await Self.compare(h, &rng, rules: 15, seed: seed)
                }
            }
        }

        @Test("index stays exact under concurrent writes", arguments: Backend.available)
        func concurrentWrites(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                var ids = [String]()
                for _ in 0..<20 { ids.append(try await h.newSubject()) }
                _ = try await h.store.countSegment(rule: "set(interests)")
                let frozen = ids
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var rng = SeededRandom(seed: UInt64(100 + worker))
                            for _ in 0..<20 { await Self.randomWrite(h, frozen, &rng) }
                        }
                    }
                    try await group.waitForAll()
                }
                var rng = SeededRandom(seed: 99)
                try await Self.compare(h, &rng, rules: 30, seed: 99)
            }
        }

        @Test("a count right after a write sees it; erased and restricted people count nowhere", arguments: Backend.available)
        func countsFollowWrites(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                let a = try await h.newSubject(), b = try await h.newSubject()
                #expect(try await h.store.countSegment(rule: #"interests has "yoga""#) == 0)
                try await h.declare(a, ["interests": .array([.string("yoga")])])
                try await h.declare(b, ["interests": .array([.string("yoga")])])
                #expect(try await h.store.countSegment(rule: #"interests has "yoga""#) == 2)
                #expect(try await h.store.countSegment(rule: #"interests has "yoga" and consent("offers")"#) == 0)
                try await h.grant(a, "offers")
                #expect(try await h.store.countSegment(rule: #"interests has "yoga" and consent("offers")"#) == 1)
                _ = try await h.store.objectToDirectMarketing(subjectId: a, by: h.principal)
                #expect(try await h.store.countSegment(rule: #"consent("offers")"#) == 0)
                _ = try await h.store.setRestricted(true, subjectId: b, by: h.principal)
                #expect(try await h.store.countSegment(rule: #"interests has "yoga""#) == 1)
                _ = try await h.store.erase(subjectId: a, by: h.principal)
                #expect(try await h.store.countSegment(rule: #"interests has "yoga""#) == 0)
                #expect(try await h.store.countSegment(rule: "not set(shoe_size)") == 0)
            }
        }

        @Test("a bad rule is refused with its position and writes nothing", arguments: Backend.available)
        func badRulesAreRefused(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                let before = try await h.store.count("segments")
                let error = await candorError { _ = try await h.store.createSegment(SegmentInput(name: "x", rule: "shoe_size > \"big\""), by: h.principal) }
                #expect(error?.kind == .validation)
                #expect(error?.errors.first?.field == "rule")
                #expect(error?.errors.first?.message.hasPrefix("line 1, column 13:") == true)
                #expect(try await h.store.count("segments") == before)
            }
        }
    }
}

/// Two app nodes on one PostgreSQL database: each node's index follows the other's writes by polling the outbox.
@Suite("Segment index across nodes")
struct SegmentIndexNodesTests {
    @Test("a second node sees the first node's writes within the documented staleness bound")
    func secondNodeFollows() async throws {
        try await Harness.withTwoPostgresNodes { nodeA, nodeB, principal in
            nodeB.configureActivation { $0.pollInterval = .milliseconds(100) }
            let rule = #"interests has "hiking" and consent("offers")"#
            #expect(try await nodeB.countSegment(rule: rule) == 0)
            let registry = nodeA.registry
            var ids = [String]()
            for _ in 0..<5 {
                let id = try #require(try await nodeA.createSubject(SubjectInput(externalId: nil, email: nil), by: principal).freshValue).id
                _ = try await nodeA.declare(subjectId: id, DeclarationInput(values: [DeclaredValueInput(field: "interests", value: .array([.string("hiking")]))],
                                                                             notices: registry.purposes.compactMapValues(\.currentNoticeVersion).filter { ["newsletter", "offers"].contains($0.key) }), by: principal)
                _ = try await nodeA.setConsents(subjectId: id, [ConsentInput(purpose: "offers", status: "granted", method: "checkbox", noticeVersion: 1)], by: principal)
                ids.append(id)
            }
            let written = Date()
            // Node A's own index is exact at once; node B's within poll interval + one refresh.
            #expect(try await nodeA.countSegment(rule: rule) == 5)
            var seen = try await nodeB.countSegment(rule: rule)
            while seen != 5 && Date().timeIntervalSince(written) < 3 {
                try await Task.sleep(for: .milliseconds(20))
                seen = try await nodeB.countSegment(rule: rule)
            }
            let lag = Date().timeIntervalSince(written)
            #expect(seen == 5)
            #expect(lag < 1.5, "node B lagged \(lag)s behind node A (poll interval 100 ms)")
            // A withdrawal on node B reaches node A the same way.
            _ = try await nodeB.setConsents(subjectId: ids[0], [ConsentInput(purpose: "offers", status: "withdrawn")], by: principal)
            try await nodeA.catchUpSegmentIndex()
            #expect(try await nodeA.countSegment(rule: rule) == 4)
        }
    }
}

/// Two stores on one SQLite file, as two processes would have (a server and `candor erase`, say).
@Suite("Segment index across SQLite processes")
struct SegmentIndexSQLiteProcessesTests {
    @Test("another process's change to a person this node has just written still reaches this node's index")
    func laterChangeByAnotherProcessIsApplied() async throws {
        try await withTwoStoresOnOneSQLiteFile { nodeA, nodeB, principal in

            let rule = #"interests has "hiking" and consent("offers")"#
            #expect(try await nodeA.countSegment(rule: rule) == 0)
            let notices = nodeA.registry.purposes.compactMapValues(\.currentNoticeVersion).filter { ["newsletter", "offers"].contains($0.key) }
            let id = try #require(try await nodeA.createSubject(SubjectInput(externalId: nil, email: nil), by: principal).freshValue).id
            _ = try await nodeA.declare(subjectId: id, DeclarationInput(values: [DeclaredValueInput(field: "interests", value: .array([.string("hiking")]))], notices: notices), by: principal)
            _ = try await nodeA.setConsents(subjectId: id, [ConsentInput(purpose: "offers", status: "granted", method: "checkbox", noticeVersion: 1)], by: principal)
            // Node A read the person back after its own writes (and will not read them again for its own events)…
            #expect(try await nodeA.countSegment(rule: rule) == 1)
            // …but a withdrawal written afterwards by the other process comes after them, and reaches node A.
            _ = try await nodeB.setConsents(subjectId: id, [ConsentInput(purpose: "offers", status: "withdrawn")], by: principal)
            try await nodeA.catchUpSegmentIndex()
            #expect(try await nodeA.countSegment(rule: rule) == 0)
            // And this node's own next write is in its index at once, as before.
            _ = try await nodeA.setConsents(subjectId: id, [ConsentInput(purpose: "offers", status: "granted", method: "checkbox", noticeVersion: 1)], by: principal)
            #expect(try await nodeA.countSegment(rule: rule) == 1)
        }
    }
}
