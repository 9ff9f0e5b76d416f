import CandorCore
import Foundation

extension Migrations {
    /// Questionnaires and quizzes (issue 3, item 2).
    ///
    /// `survey_progress` is one row per person and survey: which questions were answered, whether it
    /// is complete, the quiz score and how the incentive turned out. Answers to field questions are
    /// declarations (profile_values and the ledger); only quiz answers, which are not registry fields,
    /// live in `survey_responses`. Both lead with `subject_id` and go with the person on erasure.
    static let surveysV1 = Migration(
        name: "surveys_v1",
        sqlite: [
            "CREATE TABLE surveys (id TEXT PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
            """
            CREATE TABLE survey_progress (subject_id TEXT NOT NULL, survey_id TEXT NOT NULL, state TEXT NOT NULL, answered TEXT NOT NULL,
              score TEXT, incentive_status TEXT, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER,
              PRIMARY KEY (subject_id, survey_id))
            """,
            """
            CREATE TABLE survey_responses (subject_id TEXT NOT NULL, survey_id TEXT NOT NULL, question_id TEXT NOT NULL, answer TEXT NOT NULL,
              answered_at INTEGER NOT NULL, PRIMARY KEY (subject_id, survey_id, question_id))
            """,
        ],
        postgres: [
            "CREATE TABLE surveys (id TEXT PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            """
            CREATE TABLE survey_progress (subject_id TEXT NOT NULL, survey_id TEXT NOT NULL, state TEXT NOT NULL, answered TEXT NOT NULL,
              score TEXT, incentive_status TEXT, started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, completed_at BIGINT,
              PRIMARY KEY (subject_id, survey_id))
            """,
            """
            CREATE TABLE survey_responses (subject_id TEXT NOT NULL, survey_id TEXT NOT NULL, question_id TEXT NOT NULL, answer TEXT NOT NULL,
              answered_at BIGINT NOT NULL, PRIMARY KEY (subject_id, survey_id, question_id))
            """,
        ])
}

/// How a completed survey ended for the person.
public struct SurveyEndingView: Codable, Sendable, Hashable {
    public var type: SurveyEndingType
    public var message: [String: String]?
    public var url: String?
    /// The quiz result the score chose (nil when no range holds it).
    public var result: SurveyResult?
    public var incentiveStatus: IncentiveOutcome
    public var incentive: IssuedIncentive?

    enum CodingKeys: String, CodingKey {
        case type, message, url, result, incentive
        case incentiveStatus = "incentive_status"
    }
}

/// Where a person stands in a survey, as the API and the hosted page show it.
public struct SurveyProgress: Codable, Sendable, Hashable {
    public var surveyId: String
    public var subjectId: String
    /// `not_started`, `in_progress` or `completed`.
    public var state: String
    /// Answered questions on the person's path, in order.
    public var answered: [String]
    /// Questions skipped because the person's value is fresh.
    public var skipped: [String]
    /// The question to answer next (nil once completed).
    public var next: String?
    /// Step of the next question and the expected number of steps.
    public var step: Int
    public var steps: Int
    public var score: Double?
    public var ending: SurveyEndingView?

    enum CodingKeys: String, CodingKey {
        case state, answered, skipped, next, step, steps, score, ending
        case surveyId = "survey_id"
        case subjectId = "subject_id"
    }

    public var isCompleted: Bool { state == "completed" }
}

/// A survey a person took part in (their export and portal).
public struct SurveyParticipation: Codable, Sendable, Hashable {
    public var surveyId: String
    public var title: [String: String]
    public var state: String
    public var answered: Int
    public var score: Double?
    public var startedAt: String
    public var completedAt: String?

    enum CodingKeys: String, CodingKey {
        case title, state, answered, score
        case surveyId = "survey_id"
        case startedAt = "started_at"
        case completedAt = "completed_at"
    }
}

extension CandorStore {
    // MARK: - Administration

    /// Validates a survey against the registry and the pools; nothing is written on failure.
    func validateSurvey(_ input: SurveyInput) async throws -> SurveyInput {
        let input = try SurveyRules.validate(input, fields: registry.fields).get()
        if let poolId = input.incentive?.poolId, input.incentive?.type == .pool, try await incentivePool(poolId) == nil {
            throw CandorError.invalid("incentive.pool_id", "unknown incentive pool '\(poolId)'")
        }
        return input
    }

    /// Creates a draft survey.
    public func createSurvey(_ input: SurveyInput, by principal: Principal) async throws -> Survey {
        let input = try await validateSurvey(input)
        let id = Identifier.make("srv")
        let at = now
        let survey = Survey(id: id, input: input, status: "draft", createdAt: Timestamp.rfc3339(at), updatedAt: Timestamp.rfc3339(at))
        let body = try String(decoding: CandorJSON.encode(input), as: UTF8.self)
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("INSERT INTO surveys (id, body, status, created_at, updated_at) VALUES (?, ?, 'draft', ?, ?)", .text(id), .text(body), .int(at), .int(at))
            try self.audit(connection, principal, action: "survey.create")
        }
        return survey
    }

    /// Replaces a draft survey (a published one has answers that refer to its questions: close it and
    /// create a new one instead).
    public func replaceSurvey(_ id: String, _ input: SurveyInput, by principal: Principal) async throws -> Survey {
        guard let existing = try await survey(id) else { throw CandorError(.notFound, "no survey '\(id)'") }
        guard existing.status == "draft" else {
            throw CandorError(.conflict, "status: survey '\(id)' is \(existing.status); only a draft can be changed", errors: [FieldError("status", "only a draft can be changed")])
        }
        let input = try await validateSurvey(input)
        let body = try String(decoding: CandorJSON.encode(input), as: UTF8.self)
        let at = now
        let changed = try await committer(for: nil).submit { connection -> Bool in
            // Checked again inside the write: a publish that raced this edit wins.
            guard try connection.queryOne("SELECT 1 FROM surveys WHERE id = ? AND status = 'draft'", .text(id)) != nil else { return false }
            try connection.execute("UPDATE surveys SET body = ?, updated_at = ? WHERE id = ?", .text(body), .int(at), .text(id))
            try self.audit(connection, principal, action: "survey.update")
            return true
        }
        guard changed else { throw CandorError(.conflict, "status: survey '\(id)' is no longer a draft", errors: [FieldError("status", "only a draft can be changed")]) }
        return try await survey(id)!
    }

    /// Publishes (takes answers) or closes (takes no more) a survey.
    public func setSurveyStatus(_ id: String, published: Bool, by principal: Principal) async throws -> Survey {
        guard let existing = try await survey(id) else { throw CandorError(.notFound, "no survey '\(id)'") }
        if published && existing.status == "closed" {
            throw CandorError(.conflict, "status: survey '\(id)' is closed for good", errors: [FieldError("status", "a closed survey cannot be published again")])
        }
        let target = published ? "published" : "closed"
        let at = now
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("UPDATE surveys SET status = ?, updated_at = ? WHERE id = ?", .text(target), .int(at), .text(id))
            try self.audit(connection, principal, action: published ? "survey.publish" : "survey.close")
        }
        return try await survey(id)!
    }

    /// A survey by id, or nil.
    public func survey(_ id: String) async throws -> Survey? {
        try await database.read { connection in
            try connection.queryOne("SELECT id, body, status, created_at, updated_at FROM surveys WHERE id = ?", .text(id)).map(Self.survey)
        }
    }

    /// Every survey, newest first.
    public func surveys() async throws -> [Survey] {
        try await database.read { connection in
            try connection.query("SELECT id, body, status, created_at, updated_at FROM surveys ORDER BY created_at DESC, id").map(Self.survey)
        }
    }

    static func survey(_ row: SQLRow) throws -> Survey {
        let input = try CandorJSON.decode(SurveyInput.self, from: row.text(1))
        return Survey(id: row.text(0), input: input, status: row.text(2), createdAt: Timestamp.rfc3339(row.int(3)), updatedAt: Timestamp.rfc3339(row.int(4)))
    }

    // MARK: - Answering

    /// Where a person stands in a survey (read only).
    public func surveyProgress(surveyId: String, subjectId: String) async throws -> SurveyProgress {
        guard let survey = try await survey(surveyId) else { throw CandorError(.notFound, "no survey '\(surveyId)'") }
        let now = self.now
        return try await database.read { connection in
            guard let row = try connection.queryOne("SELECT status FROM subjects WHERE id = ?", .text(subjectId)) else { throw CandorError(.notFound, "no subject '\(subjectId)'") }
            if row.text(0) == SubjectStatus.erased.rawValue { throw CandorError(.gone, "subject '\(subjectId)' was erased") }
            return try self.progress(connection, survey: survey, subjectId: subjectId, now: now).view
        }
    }

    /// Saves one answer as it is given. A field question becomes a declaration through the common write
    /// path (projection, ledger, audit, outbox) citing the notices shown — `notices`, or the current
    /// versions when the caller showed the survey's current notices; a quiz answer becomes a response
    /// row. The answer that completes the survey also issues the incentive and records the completion,
    /// in the same transaction. Refused, writing nothing: a question not in the survey, a value outside
    /// the field's options, a question skipped by branching or not yet reached, a completed survey.
    public func answerSurvey(surveyId: String, subjectId: String, questionId: String, value: JSONValue, notices: [String: Int]? = nil,
                             by principal: Principal?, selfService: Bool = false) async throws -> SurveyProgress {
        let outcome = try await answerSurvey(surveyId: surveyId, subjectId: subjectId, questionId: questionId, value: value, notices: notices,
                                             by: principal, selfService: selfService, idempotency: nil)
        guard case .fresh(let progress) = outcome else { throw CandorStoreError.corrupt("a survey answer was replayed") }
        return progress
    }

    /// `answerSurvey` with an `Idempotency-Key`: a retried request gets the first answer and writes nothing.
    public func answerSurvey(surveyId: String, subjectId: String, questionId: String, value: JSONValue, notices: [String: Int]?,
                             by principal: Principal?, selfService: Bool = false, idempotency: IdempotencyRequest?) async throws -> WriteOutcome<SurveyProgress> {
        if let replayed: WriteOutcome<SurveyProgress> = try await replay(principal, idempotency) { return replayed }
        guard let survey = try await survey(surveyId) else { throw CandorError(.notFound, "no survey '\(surveyId)'") }
        guard survey.status == "published" else {
            throw CandorError(.conflict, "survey '\(surveyId)' is \(survey.status) and takes no answers", errors: [FieldError("survey", "is \(survey.status)")])
        }
        guard let question = survey.question(questionId) else { throw CandorError.invalid("question", "'\(questionId)' is not a question of this survey") }
        if value == .null { throw CandorError.invalid("value", "an answer is required") }
        let registry = self.registry
        // Validated before anything is written: the value against the field (or the quiz options).
        var validated: [ValidatedValue] = []
        var declaration: DeclarationInput?
        var stored = value
        if let key = question.field {
            guard let field = registry.fields[key] else { throw CandorError.invalid("question", "field '\(key)' is no longer in the registry") }
            let cited = notices ?? registry.purposes.filter { field.purposes.contains($0.key) }.compactMapValues(\.currentNoticeVersion)
            let input = DeclarationInput(values: [DeclaredValueInput(field: key, value: value)], notices: cited,
                                         source: DeclarationSource.survey.rawValue, collectionPoint: survey.collectionPoint)
            switch DeclarationRules.validate(input, fields: registry.fields, purposes: registry.purposes) {
            case .success(let values):
                validated = values
                stored = values[0].value
            case .failure(let error):
                throw CandorError.invalid(error.errors.map { FieldError($0.field.replacingOccurrences(of: "values[0].", with: ""), $0.message) })
            }
            declaration = input
        } else {
            stored = try SurveyRules.normalizeScored(value, for: question, path: "value").mapError { CandorError.invalid([$0]) }.get()
        }
        let now = self.now
        return try await write(principal, idempotency: idempotency, status: 201, subjectId: subjectId) { connection -> SurveyProgress in
            let subject = try self.liveSubject(connection, subjectId)
            var state = try self.progress(connection, survey: survey, subjectId: subjectId, now: now, locking: true)
            if state.view.isCompleted {
                throw CandorError(.conflict, "this subject already completed survey '\(surveyId)'", errors: [FieldError("survey", "already completed by this subject")])
            }
            guard SurveyRules.mayAnswer(questionId, at: state.position) else {
                throw CandorError.invalid("question", "'\(questionId)' is not on this person's path now (skipped by branching or not reached yet)")
            }
            if let declaration {
                _ = try self.recordDeclaration(connection, subjectId: subjectId, subject: subject, values: validated, input: declaration,
                                               source: DeclarationSource.survey.rawValue, by: principal, selfService: selfService)
            } else {
                try connection.execute(
                    """
                    INSERT INTO survey_responses (subject_id, survey_id, question_id, answer, answered_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (subject_id, survey_id, question_id) DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at
                    """, .text(subjectId), .text(surveyId), .text(questionId), .text(stored.jsonText), .int(now))
            }
            state.answers[questionId] = stored
            if !state.answeredIds.contains(questionId) { state.answeredIds.append(questionId) }
            let position = SurveyRules.position(survey, answers: state.answers, fresh: state.fresh)
            let completed = position.current == nil
            var score: Double?
            var outcome: IncentiveOutcome?
            var given: IssuedIncentive?
            if completed {
                if survey.kind == .quiz { score = SurveyRules.score(survey, answers: state.answers, path: position.answered) }
                let (result, issued) = try self.issueIncentive(connection, subjectId: subjectId, survey: survey, at: now)
                outcome = result
                given = issued
                let head = try self.liveSubject(connection, subjectId)
                _ = try self.appendLedger(connection, subjectId: subjectId, key: head.key, head: head.head, kind: "survey.completed", record: LedgerRecord(
                    actor: Self.ledgerActor(principal, selfService: selfService), source: DeclarationSource.survey.rawValue,
                    collectionPoint: survey.collectionPoint, code: issued?.code))
                try self.audit(connection, principal, action: "survey.complete", subjectId: subjectId, outcome: result.rawValue, selfService: selfService)
                if let issued { try self.audit(connection, principal, action: "incentive.issue", subjectId: subjectId, outcome: issued.type.rawValue, selfService: selfService) }
                var data: [String: JSONValue] = ["survey_id": .string(surveyId), "incentive_status": .string(result.rawValue)]
                if let score { data["score"] = .number(score) }
                if let code = issued?.code { data["code"] = .string(code) }
                try self.emit(connection, type: "survey.completed", subjectId: subjectId, data: data)
            }
            let answered = JSONValue.array(state.answeredIds.map(JSONValue.string)).jsonText
            try connection.execute(
                """
                INSERT INTO survey_progress (subject_id, survey_id, state, answered, score, incentive_status, started_at, updated_at, completed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (subject_id, survey_id) DO UPDATE SET state = excluded.state, answered = excluded.answered, score = excluded.score,
                  incentive_status = excluded.incentive_status, updated_at = excluded.updated_at, completed_at = excluded.completed_at
                """,
                .text(subjectId), .text(surveyId), .text(completed ? "completed" : "in_progress"), .text(answered), .text(score.map { String($0) }),
                .text(outcome?.rawValue), .int(now), .int(now), .int(completed ? now : nil))
            // Built from what this transaction knows, without reading it all back.
            return Self.progressView(survey, subjectId: subjectId, state: completed ? "completed" : "in_progress", position: position, score: score,
                                     incentiveStatus: outcome ?? .none, issued: given)
        }
    }

    /// The stored state of one person in one survey, with the values the path depends on.
    struct ProgressState {
        var answeredIds: [String]
        var answers: [String: JSONValue]
        var fresh: [String: JSONValue]
        var position: SurveyPosition
        var view: SurveyProgress
    }

    /// Reads a person's progress: answered ids, their values (current declarations for field questions,
    /// response rows for quiz questions), the fresh values progressive profiling skips, and the ending.
    func progress(_ connection: SQLConnection, survey: Survey, subjectId: String, now: Int64, locking: Bool = false) throws -> ProgressState {
        let row = try connection.queryOne(
            "SELECT state, answered, score, incentive_status FROM survey_progress WHERE subject_id = ? AND survey_id = ?\(locking ? database.dialect.forUpdate : "")",
            .text(subjectId), .text(survey.id))
        let answeredIds = try row.map { try CandorJSON.decode([String].self, from: $0.text(1)) } ?? []
        let profile = try self.profileValues(connection, subjectIds: [subjectId])[subjectId] ?? [:]
        var responses = [String: JSONValue]()
        for response in try connection.query("SELECT question_id, answer FROM survey_responses WHERE subject_id = ? AND survey_id = ?", .text(subjectId), .text(survey.id)) {
            responses[response.text(0)] = try JSONValue.decoding(response.text(1))
        }
        var answers = [String: JSONValue]()
        var fresh = [String: JSONValue]()
        let horizon = survey.freshnessDays.map { now - Int64($0) * 86_400_000 }
        for question in survey.questions {
            if answeredIds.contains(question.id) {
                answers[question.id] = question.field.map { profile[$0]?.value ?? .null } ?? responses[question.id] ?? .null
            } else if let key = question.field, let horizon, let value = profile[key],
                      let declared = Timestamp.parse(value.declaredAt), declared >= horizon {
                fresh[question.id] = value.value
            }
        }
        let position = SurveyRules.position(survey, answers: answers, fresh: fresh)
        let state = row?.text(0) ?? "not_started"
        let completed = state == "completed"
        let issued = completed ? try Self.issuedIncentives(connection, subjectId: subjectId, surveyId: survey.id, surveys: [survey.id: survey]).first : nil
        let view = Self.progressView(survey, subjectId: subjectId, state: state, position: position, score: row?.optionalText(2).flatMap(Double.init),
                                     incentiveStatus: IncentiveOutcome(rawValue: row?.text(3) ?? "") ?? .none, issued: issued)
        return ProgressState(answeredIds: answeredIds, answers: answers, fresh: fresh, position: position, view: view)
    }

    /// What the API and the page show of a person's progress (the ending once completed).
    static func progressView(_ survey: Survey, subjectId: String, state: String, position: SurveyPosition, score: Double?,
                             incentiveStatus: IncentiveOutcome, issued: IssuedIncentive?) -> SurveyProgress {
        let completed = state == "completed"
        var view = SurveyProgress(surveyId: survey.id, subjectId: subjectId, state: state, answered: position.answered, skipped: position.skipped,
                                  next: completed ? nil : position.current, step: position.answered.count + 1, steps: max(position.total, 1),
                                  score: score, ending: nil)
        if completed {
            view.step = view.steps
            view.ending = SurveyEndingView(type: survey.ending.type, message: survey.ending.message, url: survey.ending.url,
                                           result: score.flatMap { SurveyRules.result(for: $0, in: survey.ending) },
                                           incentiveStatus: incentiveStatus, incentive: issued)
        }
        return view
    }

    // MARK: - In the person's history

    /// The surveys a person took part in and what they were given, for their export.
    func surveyHistory(_ connection: SQLConnection, subjectId: String) throws -> (surveys: [SurveyParticipation], incentives: [IssuedIncentive]) {
        var byId = [String: Survey]()
        for row in try connection.query(
            "SELECT s.id, s.body, s.status, s.created_at, s.updated_at FROM surveys s WHERE s.id IN (SELECT survey_id FROM survey_progress WHERE subject_id = ?)",
            .text(subjectId)) {
            let survey = try Self.survey(row)
            byId[survey.id] = survey
        }
        let participations = try connection.query(
            "SELECT survey_id, state, answered, score, started_at, completed_at FROM survey_progress WHERE subject_id = ? ORDER BY started_at, survey_id", .text(subjectId)
        ).map { row in
            SurveyParticipation(surveyId: row.text(0), title: byId[row.text(0)]?.title ?? [:], state: row.text(1),
                                answered: ((try? CandorJSON.decode([String].self, from: row.text(2))) ?? []).count,
                                score: row.optionalText(3).flatMap(Double.init), startedAt: Timestamp.rfc3339(row.int(4)),
                                completedAt: row.optionalInt(5).map(Timestamp.rfc3339))
        }
        return (participations, try Self.issuedIncentives(connection, subjectId: subjectId, surveyId: nil, surveys: byId))
    }
}
