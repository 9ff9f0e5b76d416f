import CandorCore
import CandorStore
import Foundation
import Testing

/// Decisions read people from the in-memory projection (Activation/DecisionProjection.swift): it must
/// hold exactly what the database holds, follow this node's writes before they are answered, and other
/// nodes' writes by the outbox poll.
enum DecideFixture {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    /// A hikers' offer (personalized, purpose offers) and a generic newsletter offer, both onsite; no holdout.
    static func catalog(_ store: CandorStore, _ principal: Principal) async throws {
        store.configureActivation { $0.holdoutShare = 0 }
        let segment = try #require(try await store.createSegment(SegmentInput(name: "Hikers", rule: #"interests has "hiking" and shoe_size >= 40"#), by: principal).freshValue)
        _ = try await store.createOffer(try decode(Offer.self, """
            {"name": "Boots", "placements": ["onsite"], "segment_id": "\(segment.id)", "purpose": "offers", "priority": 5,
             "content": {"en": {"title": "Boots", "body": "For hikers"}}}
            """), by: principal)
        _ = try await store.createOffer(try decode(Offer.self, """
            {"name": "Newsletter", "placements": ["onsite"], "content": {"en": {"title": "Join", "body": "Monthly"}}}
            """), by: principal)
    }

    static func decide(_ store: CandorStore, _ subjectId: String, _ principal: Principal) async throws -> Decision {
        try await store.decide(try decode(DecideInput.self, #"{"subject_id": "\#(subjectId)", "placement": "onsite"}"#), by: principal)
    }
}

extension StoreContractTests {
    @Suite("Decision projection") struct DecisionProjectionContract {
        /// The segment index's random writes, plus declarations that name a source and a collection point
        /// (the provenance a decision's reasons show).
        static func randomWrite(_ h: Harness, _ ids: [String], _ rng: inout SeededRandom) async {
            guard Int.random(in: 0..<100, using: &rng) < 15 else { return await SegmentIndexContract.randomWrite(h, ids, &rng) }
            let id = ids.randomElement(using: &rng)!
            let point = ["checkout", "signup", "quiz"].randomElement(using: &rng)!
            let input = DeclarationInput(values: [DeclaredValueInput(field: "nickname", value: .string(["Bo", "Al", "Cy"].randomElement(using: &rng)!))],
                                         notices: h.currentNotices.filter { $0.key == "support" }, source: "survey", collectionPoint: point)
            do {
                _ = try await h.store.declare(subjectId: id, input, by: h.principal)
            } catch let error as CandorError where error.kind == .gone || error.kind == .conflict {
                // Writing to an erased or restricted person is refused; that is part of the mix.
            } catch {
                Issue.record("a declaration with a collection point failed: \(error)")
            }
        }

        static func compare(_ h: Harness, _ ids: [String], seed: UInt64) async throws {
            for id in ids {
                let (projected, read) = try await h.store.decisionProfiles(id)
                var stored = read
                // The projection keeps everything a decision reads; when a consent last changed is not among it.
                for key in stored?.consents.keys.map({ $0 }) ?? [] { stored?.consents[key]?.updatedAt = 0 }
                #expect(projected == stored, "seed \(seed), subject \(id)")
                if stored != nil { #expect(projected != nil, "seed \(seed): subject \(id) would be read from the database") }
            }
        }

        @Test("the projection agrees with the database read over random writes", arguments: Backend.available, [UInt64(7), 8, 9])
        func projectionMatchesDatabase(backend: Backend, seed: UInt64) async throws {
            try await Harness.with(backend) { h in
                var rng = SeededRandom(seed: seed)
                var ids = [String]()
                for _ in 0..<25 { ids.append(try await h.newSubject()) }
                // Some state before the projection first loads, some after: both paths must agree.
                for _ in 0..<40 { await Self.randomWrite(h, ids, &rng) }
                try await Self.compare(h, ids, seed: seed)
                for round in 0..<4 {
                    for _ in 0..<40 { await Self.randomWrite(h, ids, &rng) }
                    if round == 2 { for _ in 0..<5 { ids.append(try await h.newSubject()) } }
                    try await Self.compare(h, ids, seed: seed)
                }
            }
        }

        @Test("the projection stays exact under concurrent writes", arguments: Backend.available)
        func concurrentWrites(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                var ids = [String]()
                for _ in 0..<20 { ids.append(try await h.newSubject()) }
                _ = try await h.store.decisionProfiles(ids[0])
                let frozen = ids
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var rng = SeededRandom(seed: UInt64(200 + worker))
                            for _ in 0..<20 { await Self.randomWrite(h, frozen, &rng) }
                        }
                    }
                    try await group.waitForAll()
                }
                try await Self.compare(h, ids, seed: 200)
            }
        }

        @Test("decisions from memory follow a withdrawal, a restriction, an objection and an erasure at once", arguments: Backend.available)
        func decisionsFollowWritesAtOnce(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                try await DecideFixture.catalog(h.store, h.principal)
                let id = try await h.newSubject()
                _ = try await h.store.declare(subjectId: id, DeclarationInput(
                    values: [DeclaredValueInput(field: "interests", value: .array([.string("hiking")])), DeclaredValueInput(field: "shoe_size", value: .number(44))],
                    notices: h.currentNotices.filter { ["newsletter", "offers"].contains($0.key) }, source: "survey", collectionPoint: "checkout"), by: h.principal)
                try await h.grant(id, "offers")
                // Loaded: from here on decisions answer from memory (checked by `projected` not being nil).
                #expect(try await h.store.decisionProfiles(id).projected != nil)

                let first = try await DecideFixture.decide(h.store, id, h.principal)
                #expect(first.personalized && first.offers.first?.title == "Boots")
                let because = try #require(first.offers.first?.because)
                #expect(Set(because.facts.map(\.field)) == ["interests", "shoe_size"])
                #expect(because.facts.allSatisfy { $0.source == "survey" && $0.collectionPoint == "checkout" })
                #expect(because.consent.purpose == "offers" && because.consent.noticeVersion == 1)

                try await h.withdraw(id, "offers")
                #expect(try await h.store.decisionProfiles(id).projected?.consents["offers"]?.status == .withdrawn)
                let withdrawn = try await DecideFixture.decide(h.store, id, h.principal)
                #expect(!withdrawn.personalized && withdrawn.offers.map(\.title) == ["Join"] && withdrawn.offers.allSatisfy { $0.because == nil })

                try await h.grant(id, "offers")
                #expect(try await DecideFixture.decide(h.store, id, h.principal).personalized)
                _ = try await h.store.objectToDirectMarketing(subjectId: id, by: h.principal)
                #expect(try await !DecideFixture.decide(h.store, id, h.principal).personalized)
                // An objection withdraws marketing consent too: lifting it needs a new grant.
                _ = try await h.store.liftObjection(subjectId: id, by: h.principal)
                try await h.grant(id, "offers")
                _ = try await h.store.setRestricted(true, subjectId: id, by: h.principal)
                let restricted = try await DecideFixture.decide(h.store, id, h.principal)
                #expect(restricted.arm == "excluded" && !restricted.personalized && restricted.offers.allSatisfy { $0.because == nil })
                _ = try await h.store.setRestricted(false, subjectId: id, by: h.principal)
                #expect(try await DecideFixture.decide(h.store, id, h.principal).personalized)

                _ = try await h.store.erase(subjectId: id, by: h.principal)
                #expect(try await h.store.decisionProfiles(id).projected == nil)
                let erased = try await DecideFixture.decide(h.store, id, h.principal)
                #expect(erased.arm == "excluded" && erased.offers.map(\.title) == ["Join"] && erased.offers.allSatisfy { $0.because == nil })
                let unknown = await candorError { _ = try await DecideFixture.decide(h.store, "sub_nobody", h.principal) }
                #expect(unknown?.kind == .notFound)
            }
        }
    }
}

@Suite("Decision JSON")
struct DecisionJSONTests {
    @Test("a decision written directly is byte for byte what the generic encoder writes", arguments: [
        #"{"decision_id": "dec_1", "placement": "onsite", "arm": "personalized", "personalized": true, "decided_at": "2026-11-29T10:00:00.123Z", "offers": [{"offer_id": "ofr_1", "locale": "he", "title": "נעליים \"חדשות\"", "body": "line\nbreak \\ tab\t \u0001", "priority": -3, "route": {"queue": "vip", "advisor": "Dana"}, "incentive_pool": "pool_1", "because": {"facts": [{"field": "interests", "value": ["hiking", "yoga"], "declared_at": "2026-11-28T09:00:00.000Z", "source": "survey", "collection_point": "checkout"}, {"field": "shoe_size", "value": 44.5, "declared_at": "2026-11-28T09:00:00.000Z", "source": "api"}, {"field": "prefs", "value": {"b": null, "a": [true, false, 1e21]}, "declared_at": "2026-11-28T09:00:00.000Z", "source": "import"}], "consent": {"purpose": "offers", "legal_basis": "consent", "notice_version": 3}}}, {"offer_id": "ofr_2", "locale": "en", "title": "Join", "body": "", "priority": 0, "route": {}}]}"#,
        #"{"decision_id": "dec_2", "placement": "support", "arm": "excluded", "personalized": false, "decided_at": "2026-11-29T10:00:00.000Z", "offers": []}"#,
    ])
    func directJSONMatchesTheEncoder(json: String) throws {
        let decision = try DecideFixture.decode(Decision.self, json)
        let direct = String(decoding: decision.jsonBytes, as: UTF8.self)
        #expect(direct == (try CandorJSON.string(decision)))
        #expect(try DecideFixture.decode(Decision.self, direct) == decision)
    }
}

extension DecisionJSONTests {
    @Test("a decide request of the documented shape reads the same without the decoder; anything else is left to it", arguments: [
        (#"{"subject_id": "sub_1", "placement": "onsite"}"#, true),
        (#"{"subject_id": "sub_1", "placement": "support", "context": {"page": "/shoes", "locale": "he"}, "limit": 20}"#, true),
        (#"{"subject_id": "sub_1", "placement": "onsite", "context": null, "limit": null}"#, true),
        (#"{"subject_id": "sub_1", "placement": "onsite", "context": {"locale": null}}"#, true),
        (#"{"subject_id": "sub_1", "placement": "onsite", "extra": 1}"#, false),
        (#"{"subject_id": 7, "placement": "onsite"}"#, false),
        (#"{"placement": "onsite"}"#, false),
        (#"{"subject_id": "sub_1", "placement": "onsite", "limit": "3"}"#, false),
        (#"{"subject_id": "sub_1", "placement": "onsite", "limit": 2.5}"#, false),
        (#"{"subject_id": "sub_1", "placement": "onsite", "context": {"page": 1}}"#, false),
        (#"[1]"#, false),
    ])
    func fastDecideInput(json: String, fast: Bool) throws {
        let parsed = try #require(JSONValue.parse(json)).flatMap { DecideInput(parsed: $0) }
        #expect((parsed != nil) == fast)
        guard let parsed else { return }
        let decoded = try DecideFixture.decode(DecideInput.self, json)
        #expect(parsed.subjectId == decoded.subjectId && parsed.placement == decoded.placement && parsed.limit == decoded.limit)
        #expect(parsed.context?.page == decoded.context?.page && parsed.context?.locale == decoded.context?.locale && (parsed.context == nil) == (decoded.context == nil))
    }
}

/// Two app nodes on one PostgreSQL database: node B's decisions follow node A's writes by the outbox poll.
@Suite("Decisions across nodes")
struct DecisionProjectionNodesTests {
    @Test("a second node's decisions follow the first node's writes within the documented staleness bound")
    func secondNodeDecisionsFollow() async throws {
        try await Harness.withTwoPostgresNodes { nodeA, nodeB, principal in
            nodeB.configureActivation { $0.pollInterval = .milliseconds(100) }
            try await DecideFixture.catalog(nodeA, principal)
            nodeB.configureActivation { $0.holdoutShare = 0 }
            let registry = nodeA.registry
            let known = try #require(try await nodeA.createSubject(SubjectInput(externalId: nil, email: nil), by: principal).freshValue).id
            // Node B loads its index (and projection) before the new person exists.
            #expect(try await nodeB.decisionProfiles(known).projected != nil)
            let id = try #require(try await nodeA.createSubject(SubjectInput(externalId: nil, email: nil), by: principal).freshValue).id
            _ = try await nodeA.declare(subjectId: id, DeclarationInput(
                values: [DeclaredValueInput(field: "interests", value: .array([.string("hiking")])), DeclaredValueInput(field: "shoe_size", value: .number(44))],
                notices: registry.purposes.compactMapValues(\.currentNoticeVersion).filter { ["newsletter", "offers"].contains($0.key) }), by: principal)
            _ = try await nodeA.setConsents(subjectId: id, [ConsentInput(purpose: "offers", status: "granted", method: "checkbox", noticeVersion: 1)], by: principal)
            // Node B answers at once (never a 404: a person it has not polled yet is read from the database)
            // and personalized within the poll interval (it may have polled the person before the grant).
            let granted = Date()
            var personalized = try await DecideFixture.decide(nodeB, id, principal).personalized
            while !personalized && Date().timeIntervalSince(granted) < 3 {
                try await Task.sleep(for: .milliseconds(20))
                personalized = try await DecideFixture.decide(nodeB, id, principal).personalized
            }
            #expect(personalized)
            #expect(Date().timeIntervalSince(granted) < 1.5)

            try await nodeB.catchUpSegmentIndex()
            #expect(try await nodeB.decisionProfiles(id).projected?.consents["offers"]?.status == .granted)
            _ = try await nodeA.setConsents(subjectId: id, [ConsentInput(purpose: "offers", status: "withdrawn")], by: principal)
            let written = Date()
            personalized = try await DecideFixture.decide(nodeB, id, principal).personalized
            while personalized && Date().timeIntervalSince(written) < 3 {
                try await Task.sleep(for: .milliseconds(20))
                personalized = try await DecideFixture.decide(nodeB, id, principal).personalized
            }
            let lag = Date().timeIntervalSince(written)
            #expect(!personalized)
            #expect(lag < 1.5, "node B's decisions lagged \(lag)s behind node A's withdrawal (poll interval 100 ms)")

            // An erasure on node A: node B stops answering from memory and gives the fallback, nothing personal.
            _ = try await nodeA.erase(subjectId: id, by: principal)
            try await nodeB.catchUpSegmentIndex()
            #expect(try await nodeB.decisionProfiles(id).projected == nil)
            let erased = try await DecideFixture.decide(nodeB, id, principal)
            #expect(erased.arm == "excluded" && erased.offers.allSatisfy { $0.because == nil })
        }
    }
}

/// Who is in the holdout must not change between versions: lift compares the same people over time.
@Suite("Holdout assignment")
struct HoldoutAssignmentTests {
    @Test("a person's holdout group is the first 48 bits of SHA-256(\"candor-holdout:\" + id) as a fraction, as it always was")
    func holdoutGroupIsStable() {
        for n in 0..<500 {
            let id = "sub_person_\(n)"
            let hex = Digest.sha256Hex(Data("candor-holdout:\(id)".utf8))
            let fraction = Double(UInt64(hex.prefix(12), radix: 16)!) / Double(1 << 48)
            for share in [0.1, 0.5, 0.9] { #expect(CandorStore.isHoldout(id, share: share) == (fraction < share), "\(id) at \(share)") }
        }
        #expect(!CandorStore.isHoldout("sub_anyone", share: 0))
    }
}
