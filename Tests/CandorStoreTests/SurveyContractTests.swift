import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    /// interests → (running: goto shoe) → channels → shoe (quiz-free questionnaire with a branch).
    func questionnaire(_ h: Harness, incentive: SurveyIncentive? = nil, freshnessDays: Int? = nil) async throws -> Survey {
        let input = SurveyInput(
            title: ["en": "Tell us"], kind: .questionnaire,
            questions: [
                SurveyQuestion(id: "q1", field: "interests", next: [SurveyBranch(condition: SurveyCondition(question: "q1", equals: "running"), goto: "q3")]),
                SurveyQuestion(id: "q2", field: "channels"),
                SurveyQuestion(id: "q3", field: "shoe_size"),
            ],
            freshnessDays: freshnessDays, incentive: incentive)
        let survey = try await h.store.createSurvey(input, by: h.principal)
        return try await h.store.setSurveyStatus(survey.id, published: true, by: h.principal)
    }

    func pool(_ h: Harness, codes: [String], expiresAt: String? = nil) async throws -> String {
        let pool = try await h.store.createIncentivePool(IncentivePoolInput(name: "Shoes", expiresAt: expiresAt), by: h.principal)
        if !codes.isEmpty { _ = try await h.store.addIncentiveCodes(poolId: pool.id, codes: codes, by: h.principal) }
        return pool.id
    }

    @Test("Each answer is a declaration through the write path; branching skips q2; completion issues one pool code, in the ledger and export", arguments: Backend.available)
    func surveyAnswersAndCompletion(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let poolId = try await pool(h, codes: ["SHOE-1", "SHOE-2"])
            let survey = try await questionnaire(h, incentive: SurveyIncentive(type: .pool, poolId: poolId))
            let subject = try await h.newSubject()
            let first = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q1", value: .array([.string("running")]), by: h.principal)
            #expect(first.next == "q3" && first.state == "in_progress")
            // Saved as it is given: the half-finished survey already declared interests.
            let values = try await h.store.exportSubject(subjectId: subject, by: h.principal).values
            #expect(values["interests"]?.source == "survey" && values["interests"]?.collectionPoint == "survey:\(survey.id)")
            #expect(values["interests"]?.notices == ["newsletter": 1, "offers": 1])
            // q2 was skipped by branching: refused, nothing written.
            let before = try await h.counts()
            let skipped = await candorError {
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q2", value: .array([.string("email")]), by: h.principal)
            }
            #expect(skipped?.errors.map(\.field) == ["question"])
            #expect(try await h.counts() == before)
            let done = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q3", value: .number(42), by: h.principal)
            #expect(done.isCompleted && done.answered == ["q1", "q3"])
            #expect(done.ending?.incentive?.code == "SHOE-1" && done.ending?.incentiveStatus == .issued)
            let export = try await h.store.exportSubject(subjectId: subject, by: h.principal)
            #expect(export.history.last?.kind == "survey.completed" && export.history.last?.code == "SHOE-1")
            #expect(export.surveys?.first?.state == "completed" && export.incentives?.map(\.code) == ["SHOE-1"])
            // Resubmitting a completed survey is refused and writes nothing.
            let again = try await h.counts()
            let resubmit = await candorError {
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q3", value: .number(43), by: h.principal)
            }
            #expect(resubmit?.kind == .conflict && resubmit?.errors.map(\.field) == ["survey"])
            #expect(try await h.counts() == again)
            let pool = try #require(try await h.store.incentivePool(poolId))
            #expect(pool.size == 2 && pool.issued == 1 && pool.remaining == 1)
            let audits = try await h.query("SELECT count(*) FROM audit_log WHERE action = 'incentive.issue' AND subject_id = ?", [.text(subject)])
            #expect(audits.first?.int(0) == 1)
        }
    }

    @Test("Bad answers are refused naming the field and write nothing", arguments: Backend.available)
    func surveyBadAnswers(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let survey = try await questionnaire(h)
            let subject = try await h.newSubject()
            let before = try await h.counts()
            let outside = await candorError {
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q1", value: .array([.string("chess")]), by: h.principal)
            }
            #expect(outside?.errors.map(\.field) == ["value[0]"])
            let unknown = await candorError {
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q9", value: .number(1), by: h.principal)
            }
            #expect(unknown?.errors.map(\.field) == ["question"])
            let ahead = await candorError {
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q3", value: .number(40), by: h.principal)
            }
            #expect(ahead?.errors.map(\.field) == ["question"])
            let superseded = await candorError {
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q1", value: .array([.string("yoga")]),
                                                   notices: ["newsletter": 2, "offers": 1], by: h.principal)
            }
            #expect(superseded?.errors.map(\.field) == ["notices.newsletter"])
            #expect(try await h.counts() == before)
            #expect(try await h.store.count("survey_progress") == 0)
        }
    }

    @Test("Progressive profiling skips a question whose field was declared within freshness_days", arguments: Backend.available)
    func surveyFreshnessSkips(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let survey = try await questionnaire(h, freshnessDays: 30)
            let subject = try await h.newSubject()
            try await h.declare(subject, ["interests": .array([.string("yoga")])])
            let progress = try await h.store.surveyProgress(surveyId: survey.id, subjectId: subject)
            #expect(progress.skipped == ["q1"] && progress.next == "q2" && progress.steps == 2)
            // Once the declaration is older than the window, the question is asked again.
            h.clock.advance(byMillis: 31 * 86_400_000)
            #expect(try await h.store.surveyProgress(surveyId: survey.id, subjectId: subject).next == "q1")
        }
    }

    @Test("Concurrent completions by one person issue exactly one code", arguments: Backend.available)
    func surveyConcurrentSamePerson(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let poolId = try await pool(h, codes: (1...20).map { "C-\($0)" })
            let survey = try await questionnaire(h, incentive: SurveyIncentive(type: .pool, poolId: poolId))
            let subject = try await h.newSubject()
            _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q1", value: .array([.string("running")]), by: h.principal)
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for size in 0..<16 {
                    group.addTask {
                        (try? await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q3", value: .number(Double(36 + size % 10)), by: h.principal)) != nil
                    }
                }
                var successes = 0
                for await ok in group where ok { successes += 1 }
                return successes
            }
            #expect(outcomes == 1, "one completion wins; the others find the survey completed")
            #expect(try await h.store.incentivePool(poolId)?.issued == 1)
            #expect(try await h.store.count("incentive_issues") == 1)
        }
    }

    @Test("People racing for the last codes never share one; the exhausted pool ends gracefully", arguments: Backend.available)
    func surveyConcurrentLastCodes(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let poolId = try await pool(h, codes: ["LAST-1", "LAST-2", "LAST-3"])
            let survey = try await questionnaire(h, incentive: SurveyIncentive(type: .pool, poolId: poolId))
            var subjects = [String]()
            for _ in 0..<12 {
                let subject = try await h.newSubject()
                _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q1", value: .array([.string("running")]), by: h.principal)
                subjects.append(subject)
            }
            let endings = try await withThrowingTaskGroup(of: SurveyEndingView?.self) { group in
                for subject in subjects {
                    group.addTask { try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q3", value: .number(40), by: h.principal).ending }
                }
                var out = [SurveyEndingView?]()
                for try await ending in group { out.append(ending) }
                return out
            }
            let codes = endings.compactMap { $0?.incentive?.code }
            #expect(codes.sorted() == ["LAST-1", "LAST-2", "LAST-3"], "each code exactly once")
            #expect(endings.filter { $0?.incentiveStatus == .exhausted }.count == 9)
            #expect(try await h.store.incentivePool(poolId)?.remaining == 0)
        }
    }

    @Test("An expired pool issues nothing; a quiz scores its path and picks a result", arguments: Backend.available)
    func surveyExpiryAndQuiz(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let poolId = try await pool(h, codes: ["OLD-1"], expiresAt: Timestamp.rfc3339(h.store.currentMillis + 1000))
            let quiz = try await h.store.createSurvey(SurveyInput(
                title: ["en": "Which shoe?"], kind: .quiz,
                questions: [
                    SurveyQuestion(id: "terrain", prompt: ["en": "Where do you run?"], options: [
                        SurveyOption(key: "road", labels: ["en": "Road"], score: 1), SurveyOption(key: "trail", labels: ["en": "Trail"], score: 5),
                    ]),
                    SurveyQuestion(id: "size", field: "shoe_size"),
                ],
                ending: SurveyEnding(type: .result, results: [
                    SurveyResult(min: 0, max: 2, title: ["en": "Road runner"]), SurveyResult(min: 3, max: 10, title: ["en": "Trail blazer"], url: "https://shop.example/trail"),
                ]),
                incentive: SurveyIncentive(type: .pool, poolId: poolId)), by: h.principal)
            _ = try await h.store.setSurveyStatus(quiz.id, published: true, by: h.principal)
            h.clock.advance(byMillis: 2000)
            let subject = try await h.newSubject()
            _ = try await h.store.answerSurvey(surveyId: quiz.id, subjectId: subject, questionId: "terrain", value: .string("trail"), by: h.principal)
            #expect(try await h.store.count("survey_responses") == 1)
            let done = try await h.store.answerSurvey(surveyId: quiz.id, subjectId: subject, questionId: "size", value: .number(44), by: h.principal)
            #expect(done.score == 5 && done.ending?.result?.title["en"] == "Trail blazer")
            #expect(done.ending?.incentiveStatus == .expired && done.ending?.incentive == nil)
            #expect(try await h.store.incentivePool(poolId)?.issued == 0)
        }
    }

    @Test("Erasure removes progress and quiz answers and unlinks the issued code, which stays spent", arguments: Backend.available)
    func surveyErasure(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let poolId = try await pool(h, codes: ["ERASE-1"])
            let survey = try await questionnaire(h, incentive: SurveyIncentive(type: .pool, poolId: poolId))
            let subject = try await h.newSubject()
            _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q1", value: .array([.string("running")]), by: h.principal)
            _ = try await h.store.answerSurvey(surveyId: survey.id, subjectId: subject, questionId: "q3", value: .number(40), by: h.principal)
            _ = try await h.store.erase(subjectId: subject, by: h.principal)
            for table in ["survey_progress", "survey_responses", "incentive_issues"] {
                let rows = try await h.query("SELECT count(*) FROM \(table) WHERE subject_id = ?", [.text(subject)])
                #expect(rows.first?.int(0) == 0, "\(table) keeps nothing of the person")
            }
            let pool = try #require(try await h.store.incentivePool(poolId))
            #expect(pool.issued == 1 && pool.remaining == 0, "the code stays spent")
        }
    }
}
