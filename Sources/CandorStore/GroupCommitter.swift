import CandorCore
import Foundation

/// Group commit: concurrent write commands are gathered and committed in one durable transaction,
/// then each caller gets its own answer. While one batch is being committed (and synced), the next
/// one fills up, so throughput grows with load and no timer adds latency when the server is idle.
///
/// A batch first runs optimistically, every command straight into the transaction. If a command
/// throws, the whole transaction is rolled back, that command's caller gets its error, and the rest
/// of the batch runs again with each command in its own savepoint — so one bad command never costs
/// the others more than one retry, and never leaves half its changes behind.
final class GroupCommitter: @unchecked Sendable {
    private struct Job {
        let run: (SQLConnection, _ isolated: Bool) throws -> Void
        let finish: (Error?) -> Void
    }

    /// Thrown inside the optimistic pass to roll it back; carries the failing command.
    private struct OptimisticFailure: Error {
        let index: Int
        let error: Error
    }

    private let database: SQLDatabase
    private let shard: Int
    private let maxBatch: Int
    private let state = Locked<(pending: [Job], draining: Bool)>(([], false))

    init(database: SQLDatabase, shard: Int = 0, maxBatch: Int = 1000) {
        self.database = database
        self.shard = shard
        self.maxBatch = maxBatch
    }

    /// Runs `command` inside the next grouped transaction and returns its result once that transaction
    /// is durably committed. The command may run more than once (it must only touch the database).
    func submit<T: Sendable>(_ command: @escaping (SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let result = Locked<T?>(nil)
            let job = Job(
                run: { connection, isolated in
                    let value = isolated ? try connection.savepoint { try command(connection) } : try command(connection)
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
            await commit(batch)
        }
    }

    private func commit(_ batch: [Job]) async {
        let jobs = UncheckedBox(batch)
        do {
            try await database.write(shard: shard) { connection in
                for (index, job) in jobs.value.enumerated() {
                    do { try job.run(connection, false) } catch { throw OptimisticFailure(index: index, error: error) }
                }
            }
            for job in batch { job.finish(nil) }
        } catch let failure as OptimisticFailure where failure.error is CandorError {
            // The command refused on its own terms: it alone gets the answer.
            batch[failure.index].finish(failure.error)
            var rest = batch
            rest.remove(at: failure.index)
            await commitIsolated(rest)
        } catch {
            // A database error may surface after the statement that caused it (PostgreSQL pipelines
            // writes), so nobody is blamed yet: every command runs again, each in its own savepoint.
            await commitIsolated(batch)
        }
    }

    /// A uniqueness violation means another writer (another node) claimed the same key first.
    private func explain(_ error: Error) -> Error {
        database.isUniqueViolation(error) ? CandorError(.conflict, "another request created the same record at the same moment; retry to see it") : error
    }

    private func commitIsolated(_ batch: [Job]) async {
        guard !batch.isEmpty else { return }
        let failures = Locked<[Int: Error]>([:])
        let jobs = UncheckedBox(batch)
        do {
            try await database.write(shard: shard) { connection in
                for (index, job) in jobs.value.enumerated() {
                    do { try job.run(connection, true) } catch { failures.withLock { $0[index] = error } }
                }
            }
            let failed = failures.withLock { $0 }
            for (index, job) in batch.enumerated() { job.finish(failed[index].map(explain)) }
        } catch {
            for job in batch { job.finish(error) }
        }
    }
}

/// Carries a non-Sendable value into a transaction closure that runs exactly once on one thread.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
