import CandorCore
import Crypto
import Foundation

/// Reads the wrapped keys of subjects about to be written, many subjects per database read.
///
/// A declaration seals its values before its transaction (see `CandorStore.declare`), so it needs the
/// subject's key first. One read per request cost two thread switches each (to a reader connection and
/// back), more than the read itself. Requests that arrive while a read is running wait for the next one,
/// which fetches all their subjects with one query, so under load the switches are shared like the
/// commits of `GroupCommitter`; an idle server still answers with a single read at once.
final class SubjectKeyReader: Sendable {
    /// What a read found for one subject: its wrapped key, or why there is none.
    enum Found: Sendable {
        case wrappedKey([UInt8])
        case notFound
        case erased
        case keyMissing
    }

    private struct State {
        var waiting: [String: [CheckedContinuation<Found, Error>]] = [:]
        var reading = false
    }

    private let state = Locked(State())
    /// SQLite's limit on bound parameters is 32,766; a read takes at most this many subjects.
    static let maxBatch = 500

    /// The subject's wrapped key as of a read that started after this call.
    func find(_ subjectId: String, in database: SQLDatabase) async throws -> Found {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.waiting[subjectId, default: []].append(continuation)
                if state.reading { return false }
                state.reading = true
                return true
            }
            if start { Task { await self.drain(database) } }
        }
    }

    private func drain(_ database: SQLDatabase) async {
        while true {
            let batch = state.withLock { state -> [String: [CheckedContinuation<Found, Error>]] in
                var taken = [String: [CheckedContinuation<Found, Error>]]()
                for id in state.waiting.keys.prefix(Self.maxBatch) { taken[id] = state.waiting.removeValue(forKey: id) }
                if taken.isEmpty { state.reading = false }
                return taken
            }
            if batch.isEmpty { return }
            let ids = Array(batch.keys)
            do {
                let rows = try await database.read { connection in
                    let marks = SQLList.placeholders(ids.count)
                    return try connection.query(
                        "SELECT s.id, s.status, k.wrapped_key FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id WHERE s.id IN (\(marks))",
                        ids.map(SQLValue.text))
                }
                var found = [String: Found]()
                for row in rows {
                    found[row.text(0)] = row.text(1) == SubjectStatus.erased.rawValue ? .erased : (row.isNull(2) ? .keyMissing : .wrappedKey(row.blob(2)))
                }
                for (id, continuations) in batch {
                    for continuation in continuations { continuation.resume(returning: found[id] ?? .notFound) }
                }
            } catch {
                for continuation in batch.values.joined() { continuation.resume(throwing: error) }
            }
        }
    }
}

extension CandorStore {
    /// The key of a subject about to be written, read and unwrapped before the write's transaction so the
    /// sealing can happen there too; not found and gone are answered here already.
    func writableSubjectKey(_ id: String) async throws -> SymmetricKey {
        switch try await subjectKeyReader.find(id, in: database) {
        case .wrappedKey(let wrapped): return try secrets.unwrapSubjectKey(wrapped, subjectId: id)
        case .notFound: throw CandorError(.notFound, "no subject '\(id)'")
        case .erased: throw CandorError(.gone, "subject '\(id)' was erased")
        case .keyMissing: throw CandorStoreError.corrupt("subject \(id) has no key")
        }
    }
}
