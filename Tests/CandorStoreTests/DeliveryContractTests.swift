import CandorCore
import CandorStore
import Foundation
import PostgresNIO
import Testing

/// The delivery queue (Store+Delivery.swift) on every backend: fan-out, order per person, leases,
/// retries, dead letters and replay, 410, and the secret kept encrypted.
@Suite("Delivery contract")
struct DeliveryContractTests {
    static let settings = DestinationSettings(
        url: "https://hooks.example.com/candor", description: nil, purposes: ["newsletter", "support"], fields: [], eventTypes: ["*"],
        sharesData: false, enabled: true, maxAttempts: nil, timeoutMs: nil, retryBaseMs: nil)

    static func destination(_ h: Harness, _ settings: DestinationSettings = settings) async throws -> Destination {
        let secret = Array(repeating: UInt8(7), count: 32)
        return try #require(try await h.store.createDestination(settings, secret: secret, secretText: "whsec_" + Data(secret).base64EncodedString(), by: h.principal).freshValue)
    }

    @Test("Events fan out once to each destination that wants them; a person's next event waits for the earlier one", arguments: Backend.available)
    func orderPerPerson(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given a destination for everything and one for consent events only
            let all = try await Self.destination(h)
            var consentOnly = Self.settings
            consentOnly.eventTypes = ["consent.*"]
            let consents = try await Self.destination(h, consentOnly)
            // When a person is created, consents and declares, and another person is created
            let p = try await h.newSubject()
            try await h.grant(p, "newsletter")
            try await h.declare(p, ["interests": .array([.string("hiking")])])
            let q = try await h.newSubject()
            #expect(try await h.store.fanOutDeliveries() == 4)
            #expect(try await h.store.fanOutDeliveries() == 0, "fanned out once")
            #expect(try await h.store.pendingEvents().isEmpty)

            // Then only the head of each person's queue is due at each destination
            let first = try await h.store.claimDeliveries(owner: "a", limit: 10, leaseMillis: 60_000)
            #expect(Set(first.map { "\($0.destination.id) \($0.eventType) \($0.subjectId ?? "")" }) == [
                "\(all.id) subject.created \(p)", "\(all.id) subject.created \(q)", "\(consents.id) consent.granted \(p)",
            ])
            #expect(first.allSatisfy { $0.attempt == 1 && $0.secrets == [Array(repeating: UInt8(7), count: 32)] })
            #expect(try await h.store.claimDeliveries(owner: "b", limit: 10, leaseMillis: 60_000).isEmpty, "leased and blocked deliveries are not due")

            // When the head fails and is scheduled for later, the person's next event still waits
            let head = try #require(first.first { $0.destination.id == all.id && $0.subjectId == p })
            #expect(try await h.store.completeDelivery(head, .failed(statusCode: 500, error: "the receiver answered 500", durationMs: 3, retryAt: h.clock.nowMillis() + 10_000)))
            #expect(try await h.store.claimDeliveries(owner: "b", limit: 10, leaseMillis: 60_000).isEmpty)
            // And once the retry is due and delivered, the next one is due
            h.clock.advance(byMillis: 10_001)
            let retry = try await h.store.claimDeliveries(owner: "b", limit: 10, leaseMillis: 60_000)
            #expect(retry.map(\.eventId) == [head.eventId] && retry.first?.attempt == 2)
            #expect(try await h.store.completeDelivery(retry[0], .delivered(statusCode: 200, durationMs: 4, fields: [], withheld: [:])))
            let next = try await h.store.claimDeliveries(owner: "b", limit: 10, leaseMillis: 60_000)
            #expect(next.map(\.eventType) == ["consent.granted"] && next.first?.subjectId == p)
            #expect(next.first?.subject?.consents["newsletter"]?.status == .granted, "the person's consent now comes with the claim")

            let log = try await h.store.deliveries(destinationId: all.id, status: nil, cursor: nil, limit: 50).data
            let delivered = try #require(log.first { $0.eventId == head.eventId })
            #expect(delivered.status == "delivered" && delivered.attempts == 2 && delivered.history.map(\.outcome) == ["failed", "delivered"])
            #expect(delivered.history.first?.statusCode == 500)
        }
    }

    @Test("A lost lease is taken over, and the old holder's answer is ignored", arguments: Backend.available)
    func leases(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            _ = try await Self.destination(h)
            _ = try await h.newSubject()
            _ = try await h.store.fanOutDeliveries()
            let claimBatch = try await h.store.claimDeliveries(owner: "crashed", limit: 10, leaseMillis: 5_000)

            #expect(claimBatch.count == 1)

            let claim = try #require(claimBatch.first)
            h.clock.advance(byMillis: 5_001)
            let againBatch = try await h.store.claimDeliveries(owner: "alive", limit: 10, leaseMillis: 5_000)

            #expect(againBatch.count == 1)

            let again = try #require(againBatch.first)
            #expect(again.eventId == claim.eventId && again.attempt == 2)
            #expect(try await h.store.completeDelivery(claim, .delivered(statusCode: 200, durationMs: 1, fields: [], withheld: [:])) == false)
            #expect(try await h.store.completeDelivery(again, .delivered(statusCode: 200, durationMs: 1, fields: [], withheld: [:])))
            // SQLite's restart path frees every lease at once.
            _ = try await h.newSubject()
            _ = try await h.store.fanOutDeliveries()
            _ = try await h.store.claimDeliveries(owner: "gone", limit: 10, leaseMillis: 60_000)
            try await h.store.releaseDeliveryLeases()
            #expect(try await h.store.claimDeliveries(owner: "new", limit: 10, leaseMillis: 60_000).count == 1)
        }
    }

    @Test("Dead letters, replay, withheld and 410 are recorded; the secret is stored encrypted", arguments: Backend.available)
    func deadLettersAndGone(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let destination = try await Self.destination(h)
            let p = try await h.newSubject()
            try await h.grant(p, "newsletter")
            _ = try await h.store.fanOutDeliveries()
            let createdBatch = try await h.store.claimDeliveries(owner: "w", limit: 10, leaseMillis: 60_000)

            #expect(createdBatch.count == 1)

            let created = try #require(createdBatch.first)
            #expect(try await h.store.completeDelivery(created, .failed(statusCode: nil, error: "timed out after 10 ms", durationMs: 10, retryAt: nil)))
            // A dead letter no longer holds the person's queue up.
            let grantedBatch = try await h.store.claimDeliveries(owner: "w", limit: 10, leaseMillis: 60_000)

            #expect(grantedBatch.count == 1)

            let granted = try #require(grantedBatch.first)
            #expect(granted.eventType == "consent.granted")
            #expect(try await h.store.completeDelivery(granted, .withheld(reason: "consent_withdrawn", withheld: ["interests": "consent_withdrawn"])))
            let dead = try await h.store.deliveries(destinationId: destination.id, status: "dead", cursor: nil, limit: 10).data
            #expect(dead.map(\.eventId) == [created.eventId] && dead.first?.reason == "gave up after 1 attempts")
            let withheld = try await h.store.deliveries(destinationId: destination.id, status: "withheld", cursor: nil, limit: 10).data
            #expect(withheld.first?.withheldFields == ["interests": "consent_withdrawn"] && withheld.first?.reason == "consent_withdrawn")

            // Replay makes it due again with a fresh budget; replaying a live delivery is a conflict.
            let replayed = try #require(try await h.store.replayDeadLetter(destinationId: destination.id, eventId: created.eventId, by: h.principal).freshValue)
            #expect(replayed.status == "pending" && replayed.attempts == 0)
            await #expect(throws: CandorError.self) { try await h.store.replayDeadLetter(destinationId: destination.id, eventId: created.eventId, by: h.principal) }
            let againBatch = try await h.store.claimDeliveries(owner: "w", limit: 10, leaseMillis: 60_000)

            #expect(againBatch.count == 1)

            let again = try #require(againBatch.first)
            #expect(again.eventId == created.eventId && again.attempt == 1)

            // 410 disables the destination; the delivery waits for it to be enabled again.
            #expect(try await h.store.completeDelivery(again, .gone(durationMs: 2)))
            let disabled = try await h.store.destination(destination.id)
            #expect(disabled.enabled == false && disabled.disabledReason == "the receiver answered 410 Gone")
            #expect(try await h.store.claimDeliveries(owner: "w", limit: 10, leaseMillis: 60_000).isEmpty)
            _ = try await h.store.updateDestination(destination.id, Self.settings, by: h.principal)
            #expect(try await h.store.claimDeliveries(owner: "w", limit: 10, leaseMillis: 60_000).map(\.eventId) == [created.eventId])

            // The stored secret is ciphertext: the raw bytes appear nowhere in the row.
            let row = try #require(try await h.query("SELECT secret_cipher FROM destinations WHERE id = ?", [.text(destination.id)]).first)
            let stored = row.blob(0)
            #expect(stored.count > 32 && !Data(stored).contains(Data(Array(repeating: UInt8(7), count: 32))))
        }
    }

    @Test("Two workers claiming at the same time never get the same delivery", arguments: Backend.available)
    func concurrentClaims(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            _ = try await Self.destination(h)
            for _ in 0..<60 { _ = try await h.newSubject() }
            _ = try await h.store.fanOutDeliveries()
            let store = h.store
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for owner in ["a", "b", "c"] {
                    group.addTask {
                        var mine = [String]()
                        while true {
                            let batch = try await store.claimDeliveries(owner: owner, limit: 4, leaseMillis: 60_000)
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.eventId)
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(claimed.count == 60 && Set(claimed).count == 60)
        }
    }

    /// Two app nodes on one PostgreSQL database, each with its own connections (so its own transactions):
    /// `FOR UPDATE SKIP LOCKED` keeps them from claiming the same delivery.
    @Test("Two nodes on PostgreSQL share the deliveries without overlap")
    func twoNodes() async throws {
        try await Harness.withTwoPostgresNodes { nodeA, nodeB, principal in
            _ = try await nodeA.createDestination(Self.settings, secret: Array(repeating: 1, count: 32), secretText: "whsec_x", by: principal)
            for _ in 0..<200 { _ = try await nodeA.createSubject(SubjectInput(), by: principal) }
            // Both nodes fan out at once: the advisory lock lets one do it, the other finds nothing new.
            async let fanA = nodeA.fanOutDeliveries()
            async let fanB = nodeB.fanOutDeliveries()
            let fanned = try await fanA + fanB
            #expect(fanned <= 200)
            _ = try await nodeA.fanOutDeliveries()
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for (node, owner) in [(nodeA, "a"), (nodeB, "b"), (nodeA, "a2"), (nodeB, "b2")] {
                    group.addTask {
                        var mine = [String]()
                        while true {
                            let batch = try await node.claimDeliveries(owner: owner, limit: 5, leaseMillis: 60_000)
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.eventId)
                            for claim in batch { _ = try await node.completeDelivery(claim, .delivered(statusCode: 200, durationMs: 1, fields: [], withheld: [:])) }
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(claimed.count == 200 && Set(claimed).count == 200, "every delivery claimed exactly once across the nodes")
            #expect(try await nodeA.count("delivery_attempts") == 200)
        }
    }
}
