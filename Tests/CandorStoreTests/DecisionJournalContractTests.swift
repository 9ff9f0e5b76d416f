@testable import CandorStore
import CandorCore
import Foundation
import Testing

/// The decision journal (Activation/DecisionJournal.swift) logs decisions in batches after they were
/// answered. What it writes must not name anyone erased meanwhile, and a load faster than it can write
/// must wait for it rather than grow its queue without bound.
extension StoreContractTests {
    @Suite("Decision journal") struct DecisionJournalTests {
        static func entry(_ subjectId: String, at: Int64 = 1_700_000_000_000) -> DecisionJournal.Entry {
            DecisionJournal.Entry(id: Identifier.make("dec"), subjectId: subjectId, placement: "onsite", arm: "personalized",
                                  offerIds: ["off_boots"], at: at, principal: nil, purpose: "offers",
                                  fields: ["interests"], outcome: "ok")
        }

        @Test("a batch names live people only: an entry for someone erased after the decision, before it was written, keeps the decision without them; so does a decision for someone erased before",
              arguments: Backend.available)
        func erasedPeopleAreNotNamed(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                let live = try await h.newSubject(), erased = try await h.newSubject(), erasedBefore = try await h.newSubject()
                _ = try await h.store.erase(subjectId: erasedBefore, by: h.principal)
                h.clock.advance(byMillis: 3_600_000)
                // Decisions are made; the erasure happens after they were answered but before their log is
                // written (as when another process erases the person): the write itself must notice.
                let now = h.clock.nowMillis()
                let journal = DecisionJournal(maxPending: 1_000, maxBatch: 2)
                let entries = [Self.entry(erased, at: now), Self.entry(live, at: now), Self.entry(live, at: now), Self.entry(erased, at: now)]
                h.clock.advance(byMillis: 1_000)
                _ = try await h.store.erase(subjectId: erased, by: h.principal)
                for entry in entries { journal.append(entry, store: h.store) }
                try await journal.flush(store: h.store)
                // A decision for a person erased an hour ago is logged without them by decide itself.
                let late = try await h.store.decide(DecideInput(subjectId: erasedBefore, placement: "onsite"), by: h.principal)
                #expect(late.arm == "excluded" && late.offers.isEmpty)
                try await h.store.flushDecisionLog()

                let named = Dictionary(uniqueKeysWithValues: try await h.query("SELECT id, subject_id FROM decisions").map { ($0.text(0), $0.text(1)) })
                #expect(named.count == entries.count + 1, "every decision is logged, for lift")
                for entry in entries { #expect(named[entry.id] == (entry.subjectId == live ? live : ""), "\(entry.subjectId)") }
                #expect(named[late.decisionId] == "")
                // Every logged decision counts its offers' issues, the erased people's too.
                let issued = try await h.query("SELECT offer_id, issued FROM offer_issue_counts").map { "\($0.text(0))=\($0.int(1))" }
                #expect(issued == ["off_boots=4"], "two batches of two")
                // Each decision is its own audit entry; the audit log by person finds the live person's two.
                let audited = try await h.store.auditLog(AuditQuery(action: "decision.make"), cursor: nil, limit: 10).data
                #expect(audited.count == entries.count + 1)
                #expect(audited.map(\.subjectId).sorted { ($0 ?? "") < ($1 ?? "") } == [nil, nil, nil, live, live])
                let livePage = try await h.store.auditLog(AuditQuery(subjectId: live, action: "decision.make"), cursor: nil, limit: 10)
                #expect(livePage.data.count == 2 && livePage.data.allSatisfy { $0.subjectId == live })
                let erasedPage = try await h.store.auditLog(AuditQuery(subjectId: erased, action: "decision.make"), cursor: nil, limit: 10)
                #expect(erasedPage.data.isEmpty)
            }
        }

        @Test("the audit log by person lists their decisions with their other rows, in order, and no longer names them once erased",
              arguments: Backend.available)
        func auditByPersonIncludesDecisions(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                let person = try await h.newSubject(), other = try await h.newSubject()
                _ = try await h.declare(person, ["interests": .array([.string("hiking")])])
                let journal = DecisionJournal()
                let decisions = [Self.entry(person), Self.entry(other), Self.entry(person)]
                for entry in decisions { journal.append(entry, store: h.store) }
                try await journal.flush(store: h.store)
                _ = try await h.declare(person, ["shoe_size": .number(44)])

                // Every row about the person, across pages of two, oldest first: theirs and their decisions'.
                var rows = [AuditEntry](), cursor: String?
                repeat {
                    let page = try await h.store.auditLog(AuditQuery(subjectId: person), cursor: cursor, limit: 2)
                    rows += page.data
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(rows.map(\.id) == rows.map(\.id).sorted())
                #expect(rows.allSatisfy { $0.subjectId == person })
                #expect(rows.filter { $0.action == "decision.make" }.count == 2)
                #expect(rows.contains { $0.action != "decision.make" })
                // The whole log names the person on their decisions' rows too (and the other person on theirs).
                let all = try await h.store.auditLog(AuditQuery(action: "decision.make"), cursor: nil, limit: 10).data
                #expect(all.map(\.subjectId).sorted { ($0 ?? "") < ($1 ?? "") } == [person, person, other].sorted())

                _ = try await h.store.erase(subjectId: person, by: h.principal)
                let after = try await h.store.auditLog(AuditQuery(subjectId: person, action: "decision.make"), cursor: nil, limit: 10)
                #expect(after.data.isEmpty, "an erasure strips the person from their decisions, and so from these rows")
            }
        }

        @Test("decisions are entries of the audit log: numbered in its sequence among the rows written around them, paged and filtered like them, and counted as purposes in use",
              arguments: Backend.available)
        func decisionsAreAuditEntries(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                let start = h.clock.nowMillis()
                let person = try await h.newSubject()
                _ = try await h.declare(person, ["interests": .array([.string("running")])])
                #expect(try await h.store.auditReport(since: start, until: start + 1).unusedPurposes.contains { $0.team == "ops" && $0.keyId == nil && $0.purposes.contains("offers") })
                let journal = DecisionJournal()
                for _ in 0..<2 {
                    var entry = Self.entry(person, at: h.clock.nowMillis())
                    entry.principal = h.principal
                    journal.append(entry, store: h.store)
                }
                try await journal.flush(store: h.store)
                h.clock.advance(byMillis: 10)
                _ = try await h.declare(person, ["shoe_size": .number(44)])

                // The whole log, oldest first and newest first, one entry a page: the same entries, in write order.
                func all(newestFirst: Bool) async throws -> [AuditEntry] {
                    var rows = [AuditEntry](), cursor: String?
                    repeat {
                        let page = try await h.store.auditLog(AuditQuery(), cursor: cursor, limit: 1, newestFirst: newestFirst)
                        rows += page.data
                        cursor = page.nextCursor
                    } while cursor != nil
                    return rows
                }
                let oldestFirst = try await all(newestFirst: false)
                #expect(oldestFirst.map(\.id) == oldestFirst.map(\.id).sorted() && Set(oldestFirst.map(\.id)).count == oldestFirst.count)
                #expect(try await all(newestFirst: true).map(\.id) == oldestFirst.map(\.id).reversed())
                let tail = oldestFirst.suffix(4).map(\.action)
                #expect(tail.filter { $0 == "decision.make" }.count == 2 && tail.last != "decision.make", "\(tail)")
                let decided = oldestFirst.filter { $0.action == "decision.make" }
                #expect(decided.allSatisfy { $0.team == "ops" && $0.actor == h.principal.key.id && $0.purpose == "offers" && $0.fields == ["interests"] && $0.subjectId == person })

                // Filters apply to decisions as to the log's rows.
                func count(_ query: AuditQuery) async throws -> Int {
                    try await h.store.auditLog(query, cursor: nil, limit: 50).data.filter { $0.action == "decision.make" }.count
                }
                #expect(try await count(AuditQuery(team: "ops")) == 2)
                #expect(try await count(AuditQuery(team: "system")) == 0)
                #expect(try await count(AuditQuery(purpose: "offers")) == 2)
                #expect(try await count(AuditQuery(purpose: "support")) == 0)
                #expect(try await count(AuditQuery(action: "declaration.create")) == 0)
                #expect(try await count(AuditQuery(subjectId: person, action: "decision.make")) == 2)
                #expect(try await count(AuditQuery(since: h.clock.nowMillis())) == 0)
                #expect(try await count(AuditQuery(until: start)) == 0)
                #expect(try await count(AuditQuery(since: start, until: h.clock.nowMillis())) == 2)

                // The review report counts the decisions' purpose as used.
                let report = try await h.store.auditReport(since: start, until: h.clock.nowMillis() + 1)
                #expect(!report.unusedPurposes.contains { $0.team == "ops" && $0.keyId == nil && $0.purposes.contains("offers") }, "\(report.unusedPurposes)")
            }
        }

        @Test("a full journal makes the next decision wait until it has written, so its queue stays bounded", arguments: Backend.available)
        func fullJournalMakesDecisionsWait(backend: Backend) async throws {
            try await Harness.with(backend) { h in
                let person = try await h.newSubject()
                let journal = DecisionJournal(maxPending: 10, maxBatch: 4)
                for _ in 0..<25 {
                    journal.append(Self.entry(person), store: h.store)
                    await journal.awaitRoom(store: h.store)
                    #expect(journal.queuedCount < 10)
                }
                try await journal.flush(store: h.store)
                #expect(journal.queuedCount == 0)
                #expect(try await h.query("SELECT count(*) FROM decisions WHERE subject_id = ?", [.text(person)]).first?.int(0) == 25)
            }
        }
    }
}

@Suite("Decision journal at close") struct DecisionJournalCloseTests {
    @Test("closing the store writes the decision log still queued, so a graceful shutdown loses none")
    func closeWritesTheQueue() async throws {
        try await withTemporarySQLitePath { path in
            let raw = ServerSecrets.generateRaw()
            let store = try await CandorStore(database: try SQLiteDatabase(path: path), secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
            for _ in 0..<3 { store.decisionJournal.append(StoreContractTests.DecisionJournalTests.entry("sub_someone"), store: store) }
            try await store.close()

            let reopened = try SQLiteDatabase(path: path)
            let logged = try await reopened.read { try $0.queryOne("SELECT count(*) FROM decisions")?.int(0) }
            try await reopened.close()
            #expect(logged == 3)
        }
    }
}

/// On SQLite a person's decisions are found through `DecisionOwners`, which reads the decision log into
/// memory: decisions another process logged — before or after this one last read — must still be found.
@Suite("Decision owners across SQLite processes")
struct DecisionOwnersSQLiteProcessesTests {
    static func log(_ store: CandorStore, _ people: [String]) async throws -> [String] {
        let entries = people.map { person in
            DecisionJournal.Entry(id: Identifier.make("dec"), subjectId: person, placement: "onsite", arm: "personalized",
                                  offerIds: ["off_boots"], at: 1_700_000_000_000, principal: nil, purpose: "offers", fields: ["interests"], outcome: "ok")
        }
        for entry in entries { store.decisionJournal.append(entry, store: store) }
        try await store.flushDecisionLog()
        return entries.map(\.id)
    }

    @Test("the console and an erasure on one process find every decision the other logged, and only the person's")
    func decisionsLoggedByAnotherProcessAreFound() async throws {
        try await withTwoStoresOnOneSQLiteFile { nodeA, nodeB, principal in
            let person = try #require(try await nodeA.createSubject(SubjectInput(externalId: nil, email: nil), by: principal).freshValue).id
            let other = try #require(try await nodeA.createSubject(SubjectInput(externalId: nil, email: nil), by: principal).freshValue).id

            // Node B reads the (empty) log into memory first; node A then logs decisions for both people.
            #expect(try await nodeB.decisions(subjectId: person, purpose: "offers", by: principal).isEmpty)
            let first = try await Self.log(nodeA, [person, other, person, other, person])
            #expect(Set(try await nodeB.decisions(subjectId: person, purpose: "offers", by: principal).map(\.id)) == [first[0], first[2], first[4]])
            // More decisions after node B's last read, then node B erases the person: all four lose their name.
            let later = try await Self.log(nodeA, [other, person])
            _ = try await nodeB.erase(subjectId: person, by: principal)
            let named = Dictionary(uniqueKeysWithValues: try await nodeA.database.read { try $0.query("SELECT id, subject_id FROM decisions", []) }.map { ($0.text(0), $0.text(1)) })
            for id in [first[0], first[2], first[4], later[1]] { #expect(named[id] == "", "\(id)") }
            for id in [first[1], first[3], later[0]] { #expect(named[id] == other, "\(id)") }
            #expect(try await nodeA.decisions(subjectId: other, purpose: "offers", by: principal).count == 3)
            #expect(try await nodeA.decisions(subjectId: person, purpose: "offers", by: principal).isEmpty)
        }
    }
}
