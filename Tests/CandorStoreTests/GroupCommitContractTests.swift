import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    @Test("200 concurrent declarations all commit, in one unbroken chain", arguments: Backend.available)
    func concurrentDeclarations(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given one subject
            let subject = try await h.newSubject()
            try await h.grant(subject, "offers")
            let before = try await h.store.count("ledger_entries")

            // When 200 declarations arrive at once
            let receipts = try await withThrowingTaskGroup(of: DeclarationReceipt?.self) { group in
                for index in 0..<200 {
                    group.addTask { try await h.declare(subject, ["shoe_size": .number(Double(30 + index % 21))]).freshValue }
                }
                var receipts = [DeclarationReceipt]()
                for try await receipt in group { if let receipt { receipts.append(receipt) } }
                return receipts
            }

            // Then every one succeeded, each with its own place in the chain
            #expect(receipts.count == 200)
            #expect(Set(receipts.map(\.ledger.seq)) == Set(3...202))
            #expect(Set(receipts.map(\.declarationId)).count == 200)
            #expect(try await h.store.count("ledger_entries") == before + 200)

            // And the chain is in order, linked, and verifies
            let chain = try await h.store.chain(subjectId: subject).entries
            #expect(chain.count == 202)
            #expect(chain.map(\.seq) == Array(1...202))
            #expect(chain.map(\.id) == chain.map(\.id).sorted())
            let report = try await h.store.verifyLedger()
            #expect(report.isIntact)
            #expect(report.entries == 202)

            // And the profile holds the value of the last declaration in the chain
            let last = try #require(receipts.max { $0.ledger.seq < $1.ledger.seq })
            let profile = try await h.store.profile(subjectId: subject, purpose: "offers", by: h.principal)
            #expect(profile.values["shoe_size"]?.declarationId == last.declarationId)
        }
    }

    @Test("Concurrent declarations for many people, some erased or unknown: each gets its own answer", arguments: Backend.available)
    func concurrentMixedSubjects(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // Given 20 people, one of them erased, and an id nobody has
            var people = [String]()
            for _ in 0..<20 { people.append(try await h.newSubject()) }
            let erased = people.removeLast()
            _ = try await h.store.erase(subjectId: erased, by: h.principal)
            let unknown = Identifier.make("sub")

            // When 150 declarations arrive at once, so the subjects' keys are read together
            enum Answer: Equatable { case recorded(String), gone, notFound }
            let targets = (0..<150).map { index in index % 10 == 3 ? erased : index % 10 == 7 ? unknown : people[index % people.count] }
            let answers = try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
                for (index, target) in targets.enumerated() {
                    group.addTask {
                        do {
                            let receipt = try await h.declare(target, ["shoe_size": .number(Double(30 + index % 20))]).freshValue
                            return (index, .recorded(receipt?.subjectId ?? ""))
                        } catch let error as CandorError where error.kind == .gone { return (index, .gone) }
                        catch let error as CandorError where error.kind == .notFound { return (index, .notFound) }
                    }
                }
                var answers = [Int: Answer]()
                for try await (index, answer) in group { answers[index] = answer }
                return answers
            }

            // Then each request got the answer for its own subject
            for (index, target) in targets.enumerated() {
                let expected: Answer = target == erased ? .gone : target == unknown ? .notFound : .recorded(target)
                #expect(answers[index] == expected, "request \(index)")
            }
            // And every recorded one is in its person's chain, which verifies
            let recorded = targets.filter { $0 != erased && $0 != unknown }.count
            let entries = try await h.store.count("ledger_entries")
            let report = try await h.store.verifyLedger()
            #expect(report.isIntact)
            #expect(report.entries == entries)
            var declared = 0
            for person in people { declared += try await h.store.chain(subjectId: person).entries.filter { $0.kind == "declaration" }.count }
            #expect(declared == recorded)
        }
    }

    @Test("Concurrent creations with the same external id: exactly one wins", arguments: Backend.available)
    func concurrentConflicts(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            // When 20 requests race to create the same customer
            let outcomes = await withTaskGroup(of: Result<String, CandorError>.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        do { return .success(try await h.newSubject(externalId: "cust-race")) } catch let error as CandorError { return .failure(error) } catch {
                            return .failure(CandorError(.malformed, "\(error)"))
                        }
                    }
                }
                var outcomes = [Result<String, CandorError>]()
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }

            // Then one subject is created and every other request is told of the conflict
            let created = outcomes.compactMap { try? $0.get() }
            #expect(created.count == 1)
            let kinds = outcomes.compactMap { if case .failure(let error) = $0 { error.kind } else { nil } }
            #expect(kinds == Array(repeating: .conflict, count: 19))
            let subjects = try await h.store.count("subjects")
            #expect(subjects == 1)
            let report = try await h.store.verifyLedger()
            #expect(report.isIntact)
        }
    }
}
