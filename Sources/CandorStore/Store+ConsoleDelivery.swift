import CandorCore
import Foundation

// What the console's delivery and governance pages read beyond the `/v1` functions: bounded
// per-destination delivery counts, and the record of processing with its external recipients.

extension Migrations {
    /// Delivery jobs by destination and status. The console counts a destination's deliveries per status
    /// and lists its dead letters; without this index both walk the destination's whole log (millions of
    /// rows at scale) to find the few dead or retrying ones.
    static let deliveryByStatusV1 = Migration(
        name: "delivery_by_status_v1",
        sqlite: ["CREATE INDEX delivery_jobs_by_status ON delivery_jobs (destination_id, status, event_seq)"],
        postgres: ["CREATE INDEX delivery_jobs_by_status ON delivery_jobs (destination_id, status, event_seq)"])
}

/// How many of a destination's deliveries are in each state, each counted up to a cap.
public struct DestinationDeliveryCounts: Sendable, Hashable {
    /// One count; `atLeast` when the cap stopped it (the page says "10,000+").
    public struct Count: Sendable, Hashable {
        public var value: Int64
        public var atLeast: Bool
    }

    public var delivered: Count
    /// Waiting for their first attempt.
    public var waiting: Count
    /// Failed at least once and due again (or waiting for a disabled destination).
    public var retrying: Count
    public var dead: Count
    public var withheld: Count
}

extension CandorStore {
    /// Counts per state of each destination's deliveries. Every count is an index range of at most `cap`
    /// entries (`delivery_by_status_v1`), so a page costs the same at a million deliveries as at ten.
    public func deliveryCounts(destinationIds: [String], cap: Int = 10_000) async throws -> [String: DestinationDeliveryCounts] {
        guard !destinationIds.isEmpty else { return [:] }
        return try await database.read { connection in
            func count(_ id: String, _ condition: String) throws -> DestinationDeliveryCounts.Count {
                let value = try connection.queryOne(
                    "SELECT count(*) FROM (SELECT 1 FROM delivery_jobs WHERE destination_id = ? AND \(condition) LIMIT ?) AS capped",
                    .text(id), .int(Int64(cap)))?.int(0) ?? 0
                return .init(value: value, atLeast: value >= Int64(cap))
            }
            var out = [String: DestinationDeliveryCounts]()
            for id in destinationIds {
                let pending = try count(id, "status = 'pending'")
                // Retrying: an attempt failed (a delivery merely claimed for its first attempt is still waiting).
                let retrying = try count(id, "status = 'pending' AND last_error IS NOT NULL")
                out[id] = DestinationDeliveryCounts(
                    delivered: try count(id, "status = 'delivered'"),
                    waiting: .init(value: max(0, pending.value - retrying.value), atLeast: pending.atLeast),
                    retrying: retrying, dead: try count(id, "status = 'dead'"), withheld: try count(id, "status = 'withheld'"))
            }
            return out
        }
    }

    /// The note of a record that lists destinations among its recipients.
    public static let recipientsNote = "Recipients are the internal teams allowed to use each purpose and the webhook destinations (external systems) that serve it; a destination receives only fields of the purposes it serves, for people whose consent allows it."

    /// The record of processing with every webhook destination listed as a recipient of the purposes it
    /// serves (`kind: destination`, named by its host), next to the teams. Registry and settings only:
    /// no personal data.
    public func recordOfProcessingWithDestinations(language: String = "en") async throws -> RecordOfProcessing {
        var record = recordOfProcessing(language: language)
        var destinations = [Destination]()
        var cursor: String?
        repeat {
            let page = try await self.destinations(cursor: cursor, limit: 200)
            destinations += page.data
            cursor = page.nextCursor
        } while cursor != nil && destinations.count < 2_000
        for index in record.activities.indices {
            let purpose = record.activities[index].purpose
            for destination in destinations where destination.purposes.contains(purpose) {
                let host = URLComponents(string: destination.url)?.host ?? destination.url
                record.activities[index].recipients.append(.init(kind: "destination", key: destination.id, name: host))
            }
        }
        record.notes = record.notes.filter { $0 != RecordOfProcessing.destinationsNote } + [Self.recipientsNote]
        return record
    }
}
