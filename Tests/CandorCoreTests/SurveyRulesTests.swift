import CandorCore
import Foundation
import Testing

@Suite("Survey rules")
struct SurveyRulesTests {
    static func branch(_ question: String, _ equals: String, _ goto: String) -> SurveyBranch {
        SurveyBranch(condition: SurveyCondition(question: question, equals: equals), goto: goto)
    }

    /// q1 interests (running → q3) · q2 likes_email (false → end) · q3 shoe_size.
    static let questionnaire = SurveyInput(
        title: ["en": "Tell us"], kind: .questionnaire,
        questions: [
            SurveyQuestion(id: "q1", field: "interests", next: [branch("q1", "running", "q3")]),
            SurveyQuestion(id: "q2", field: "likes_email", next: [branch("q2", "false", "end")]),
            SurveyQuestion(id: "q3", field: "shoe_size"),
        ])

    static func survey(_ input: SurveyInput = questionnaire) -> Survey {
        Survey(id: "srv_1", input: input, status: "published", createdAt: Sample.createdAt, updatedAt: Sample.createdAt)
    }

    func fields(of input: SurveyInput) -> [String] { SurveyRules.validate(input, fields: Sample.fields).fieldErrors.map(\.field) }

    @Test("A well-formed questionnaire is accepted")
    func acceptsQuestionnaire() {
        #expect(fields(of: Self.questionnaire).isEmpty)
    }

    @Test("Unknown fields, options outside a field, unknown and backward branches are refused, each named by its path")
    func refusesBadStructure() {
        var input = Self.questionnaire
        input.questions[0].field = "hat_size"
        #expect(fields(of: input).contains("questions[0].field"))

        input = Self.questionnaire
        input.questions[0].next = [Self.branch("q1", "chess", "q3")]
        #expect(fields(of: input) == ["questions[0].next[0].if.equals"])

        input = Self.questionnaire
        input.questions[1].next = [Self.branch("q2", "true", "q9")]
        #expect(fields(of: input) == ["questions[1].next[0].goto"])

        input = Self.questionnaire
        input.questions[2].next = [Self.branch("q3", "40", "q1")]
        #expect(fields(of: input) == ["questions[2].next[0].goto"], "a branch back to an earlier question would make a cycle")

        input = Self.questionnaire
        input.questions[0].next = [Self.branch("q2", "true", "q3")]
        #expect(fields(of: input) == ["questions[0].next[0].if.question"], "a branch cannot look at an answer not given yet")

        input = Self.questionnaire
        input.questions[1].field = "interests"
        #expect(fields(of: input).contains("questions[1].field"), "a field is asked once")
    }

    @Test("Endings and incentives are checked: https redirects only, quiz-only results, non-overlapping ranges, codes without spaces")
    func refusesBadEndings() {
        var input = Self.questionnaire
        input.ending = SurveyEnding(type: .redirect, url: "http://shop.example/thanks")
        #expect(fields(of: input) == ["ending.url"])
        input.ending = SurveyEnding(type: .redirect, url: "https://shop.example/thanks")
        #expect(fields(of: input).isEmpty)
        input.ending = SurveyEnding(type: .result, results: [SurveyResult(min: 0, max: 1, title: ["en": "A"])])
        #expect(fields(of: input).contains("ending.type"))
        input.ending = nil
        input.incentive = SurveyIncentive(type: .staticCode, code: "TWO WORDS")
        #expect(fields(of: input) == ["incentive.code"])
        input.incentive = SurveyIncentive(type: .pool)
        #expect(fields(of: input) == ["incentive.pool_id"])
        input.incentive = SurveyIncentive(type: .content, url: "javascript:alert(1)")
        #expect(fields(of: input) == ["incentive.url"])
        input.incentive = nil
        input.freshnessDays = 0
        #expect(fields(of: input) == ["freshness_days"])

        var quiz = SurveyInput(title: ["en": "Quiz"], kind: .quiz, questions: [
            SurveyQuestion(id: "a", prompt: ["en": "A?"], options: [SurveyOption(key: "x", labels: ["en": "X"], score: 1), SurveyOption(key: "y", labels: ["en": "Y"], score: 2)]),
        ], ending: SurveyEnding(type: .result, results: [SurveyResult(min: 0, max: 2, title: ["en": "Low"]), SurveyResult(min: 2, max: 5, title: ["en": "High"])]))
        #expect(fields(of: quiz) == ["ending.results[1].min"], "ranges overlap at 2")
        quiz.ending?.results?[1].min = 3
        #expect(fields(of: quiz).isEmpty)
    }

    @Test("The path follows branches, skips fresh fields, and lets only the current or an answered question be answered")
    func walksThePath() {
        let survey = Self.survey()
        let start = SurveyRules.position(survey, answers: [:], fresh: [:])
        #expect(start.current == "q1" && start.total == 3)
        let running = SurveyRules.position(survey, answers: ["q1": .array([.string("running")])], fresh: [:])
        #expect(running.current == "q3" && running.answered == ["q1"])
        #expect(!SurveyRules.mayAnswer("q2", at: running), "q2 was skipped by branching")
        #expect(SurveyRules.mayAnswer("q1", at: running), "going Back to change an answer is allowed")
        let done = SurveyRules.position(survey, answers: ["q1": .array([.string("yoga")]), "q2": .bool(false)], fresh: [:])
        #expect(done.current == nil && done.answered == ["q1", "q2"], "false on q2 ends the survey")
        let fresh = SurveyRules.position(survey, answers: [:], fresh: ["q1": .array([.string("running")])])
        #expect(fresh.skipped == ["q1"] && fresh.current == "q3", "a fresh value is skipped but still drives branching")
    }

    @Test("A quiz scores the chosen options on the path and picks the result whose range holds the score")
    func scoresQuiz() {
        let input = SurveyInput(title: ["en": "Quiz"], kind: .quiz, questions: [
            SurveyQuestion(id: "a", prompt: ["en": "A?"], options: [SurveyOption(key: "x", labels: ["en": "X"], score: 1), SurveyOption(key: "y", labels: ["en": "Y"], score: 4)]),
            SurveyQuestion(id: "b", prompt: ["en": "B?"], options: [SurveyOption(key: "x", labels: ["en": "X"], score: 2), SurveyOption(key: "y", labels: ["en": "Y"], score: 3)]),
        ], ending: SurveyEnding(type: .result, results: [SurveyResult(min: 0, max: 4, title: ["en": "Low"]), SurveyResult(min: 5, max: 10, title: ["en": "High"])]))
        let survey = Self.survey(input)
        let answers: [String: JSONValue] = ["a": .string("y"), "b": .string("x")]
        let score = SurveyRules.score(survey, answers: answers, path: ["a", "b"])
        #expect(score == 6)
        #expect(SurveyRules.result(for: score, in: survey.ending)?.title["en"] == "High")
        #expect(SurveyRules.normalizeScored(.string("z"), for: input.questions[0], path: "value").isFailure)
    }

    @Test("Codes: CSV lines are checked and de-duplicated; patterns must leave room; generated codes follow the pattern")
    func codes() throws {
        #expect(try IncentiveCodes.parseCSV("code\nA-1\n\nB-2,extra\n").get() == ["A-1", "B-2"])
        #expect(IncentiveCodes.parseCSV("A-1\nA-1\n").fieldErrors.map(\.field) == ["body.line[2]"])
        // A file saved on Windows, or a browser's textarea, ends lines in CRLF; old Macs in CR.
        #expect(try IncentiveCodes.parseCSV("code\r\nA-1\r\nB-2\r\n").get() == ["A-1", "B-2"])
        #expect(try IncentiveCodes.parseCSV("A-1\rB-2").get() == ["A-1", "B-2"])
        #expect(IncentiveCodes.parseCSV("A-1\r\nA-1\r\n").fieldErrors.map(\.field) == ["body.line[2]"])
        #expect(IncentiveCodes.parseCSV("ok\nnot ok\n").fieldErrors.map(\.field) == ["body.line[2]"])
        #expect(IncentiveCodes.patternProblem("SHOE-##", count: 10)?.field == "pattern")
        #expect(IncentiveCodes.patternProblem("SHOE-####-XXXX", count: 1000) == nil)
        var random = SystemRandomNumberGenerator()
        let code = IncentiveCodes.generate("SHOE-####-XXXX", using: &random)
        #expect(code.count == 14 && code.hasPrefix("SHOE-") && code.dropFirst(5).prefix(4).allSatisfy(\.isNumber))
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { true } else { false } }
}
