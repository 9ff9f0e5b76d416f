import CandorCore
import CandorStore
import Foundation
import Testing

/// What the console's delivery and governance pages read, on every backend: the audit log in both
/// orders, capped per-state delivery counts, and the record of processing with its destinations.
@Suite("Console delivery contract")
struct ConsoleDeliveryContractTests {
    @Test("The audit log pages newest first and oldest first, each row once, in order", arguments: Backend.available)
    func auditOrder(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            for index in 0..<8 { try await h.store.auditRead(h.principal, action: "order.test\(index)") }
            for newestFirst in [true, false] {
                var actions = [String](), ids = [Int64](), cursor: String?
                repeat {
                    let page = try await h.store.auditLog(AuditQuery(), cursor: cursor, limit: 3, newestFirst: newestFirst)
                    actions += page.data.map(\.action).filter { $0.hasPrefix("order.test") }
                    ids += page.data.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                let expected = (0..<8).map { "order.test\($0)" }
                #expect(actions == (newestFirst ? expected.reversed() : expected))
                #expect(Set(ids).count == ids.count, "no row twice")
            }
            // The default stays oldest first, as `GET /v1/audit` has always answered
            let first = try await h.store.auditLog(AuditQuery(action: "order.test0"), cursor: nil, limit: 1)
            #expect(first.data.map(\.action) == ["order.test0"])
        }
    }

    @Test("Delivery counts per state stop at the cap and say so; the record lists a destination for the purposes it serves", arguments: Backend.available)
    func countsAndRecord(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let settings = DestinationSettings(url: "https://crm.example.com/hooks", description: nil, purposes: ["newsletter"], fields: [], eventTypes: ["subject.created"],
                                               sharesData: false, enabled: true, maxAttempts: 1, timeoutMs: nil, retryBaseMs: nil)
            let secret = Array(repeating: UInt8(3), count: 32)
            let destination = try #require(try await h.store.createDestination(settings, secret: secret, secretText: "whsec_x", by: h.principal).freshValue)
            for _ in 0..<4 { _ = try await h.newSubject() }
            #expect(try await h.store.fanOutDeliveries() == 4)
            let claims = try await h.store.claimDeliveries(owner: "t", limit: 10, leaseMillis: 60_000)
            try await h.store.completeDelivery(claims[0], .failed(statusCode: 500, error: "500", durationMs: 1, retryAt: nil))
            try await h.store.completeDelivery(claims[1], .failed(statusCode: 503, error: "503", durationMs: 1, retryAt: h.clock.nowMillis() + 60_000))
            try await h.store.completeDelivery(claims[2], .delivered(statusCode: 200, durationMs: 1, fields: [], withheld: [:]))

            let counts = try #require(try await h.store.deliveryCounts(destinationIds: [destination.id])[destination.id])
            #expect(counts.dead.value == 1 && counts.retrying.value == 1 && counts.delivered.value == 1 && counts.waiting.value == 1 && counts.withheld.value == 0)
            #expect(!counts.dead.atLeast)
            let capped = try #require(try await h.store.deliveryCounts(destinationIds: [destination.id], cap: 2)[destination.id])
            #expect(capped.delivered.value == 1 && !capped.delivered.atLeast)
            let pendingCapped = try #require(try await h.store.deliveryCounts(destinationIds: [destination.id], cap: 1)[destination.id])
            #expect(pendingCapped.dead.value == 1 && pendingCapped.dead.atLeast, "a count that reached the cap says it may be more")

            let record = try await h.store.recordOfProcessingWithDestinations()
            let newsletter = try #require(record.activities.first { $0.purpose == "newsletter" })
            #expect(newsletter.recipients.contains(.init(kind: "destination", key: destination.id, name: "crm.example.com")))
            #expect(record.activities.filter { $0.purpose != "newsletter" }.allSatisfy { !$0.recipients.contains { $0.kind == "destination" } })
            #expect(!record.notes.contains(RecordOfProcessing.destinationsNote))
        }
    }
}
