import Foundation

/// Group commit: concurrent write commands are gathered and committed in one durable transaction,
/// then each caller gets its own answer. While one batch is being committed (and synced), the next
/// one fills up, so throughput grows with load and no timer adds latency when the server is idle.
///
/// Each command runs in its own savepoint: a command that throws rolls back only its own changes,
/// and its caller gets the error while the rest of the batch commits.
final class GroupCommitter: @unchecked Sendable {
    private struct Job {
        let run: (SQLConnection) throws -> Void
        let finish: (Error?) -> Void
    }

    private let database: SQLDatabase
    private let maxBatch: Int
    private let state = Locked<(pending: [Job], draining: Bool)>(([], false))

    init(database: SQLDatabase, maxBatch: Int = 1000) {
        self.database = database
        self.maxBatch = maxBatch
    }

    /// Runs `command` inside the next grouped transaction and returns its result once that transaction
    /// is durably committed.
    func submit<T: Sendable>(_ command: @escaping (SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let result = Locked<T?>(nil)
            let job = Job(
                run: { connection in
                    let value = try connection.savepoint { try command(connection) }
                    result.withLock { $0 = value }
                },
                finish: { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: result.withLock { $0! }) }
                })
            let startDrain = state.withLock { state -> Bool in
                state.pending.append(job)
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Job] in
                let taken = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if batch.isEmpty { return }
            let failures = Locked<[Int: Error]>([:])
            let jobs = UncheckedBox(batch)
            do {
                try await database.write { connection in
                    for (index, job) in jobs.value.enumerated() {
                        do { try job.run(connection) } catch { failures.withLock { $0[index] = error } }
                    }
                }
                let failed = failures.withLock { $0 }
                for (index, job) in batch.enumerated() { job.finish(failed[index]) }
            } catch {
                for job in batch { job.finish(error) }
            }
        }
    }
}

/// Carries a non-Sendable value into a transaction closure that runs exactly once on one thread.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
