import Foundation

// Questionnaires and quizzes (issue 3, item 2): the model, its validation, the path a person takes
// through it (branching and progressive profiling) and quiz scoring. Pure, so the store, the API, the
// hosted page and the tests share one set of rules.

/// A questionnaire asks registry fields; a quiz may also ask scored questions and ends with a result.
public enum SurveyKind: String, Codable, Sendable, CaseIterable {
    case questionnaire
    case quiz
}

/// One answer a scored quiz question offers.
public struct SurveyOption: Codable, Sendable, Hashable {
    /// Stable key, `[a-z0-9_]`, 1–40 characters.
    public var key: String
    /// Label per locale; English is required.
    public var labels: [String: String]
    /// What choosing it adds to the quiz score.
    public var score: Double

    public init(key: String, labels: [String: String], score: Double) {
        self.key = key
        self.labels = labels
        self.score = score
    }
}

/// "When question `question` was answered `equals`": a choice key, `true`/`false`, or a number as text.
/// For a multiple choice it holds when the answer includes that option.
public struct SurveyCondition: Codable, Sendable, Hashable {
    public var question: String
    public var equals: String

    public init(question: String, equals: String) {
        self.question = question
        self.equals = equals
    }
}

/// A branch taken after a question: the first rule whose condition holds decides where to go.
public struct SurveyBranch: Codable, Sendable, Hashable {
    public var condition: SurveyCondition
    /// A later question's id, or `end`.
    public var goto: String

    enum CodingKeys: String, CodingKey {
        case condition = "if"
        case goto
    }

    public init(condition: SurveyCondition, goto: String) {
        self.condition = condition
        self.goto = goto
    }

    /// The target that finishes the survey.
    public static let end = "end"
}

/// One question: either a registry field (its type, options, labels and "why we ask" come from the
/// registry) or, in a quiz, a scored question with its own prompt and options.
public struct SurveyQuestion: Codable, Sendable, Hashable {
    /// Stable id, `[a-z0-9_]`, unique in the survey.
    public var id: String
    /// The registry field this question declares.
    public var field: String?
    /// The prompt of a scored question per locale (a field question reads the field's label).
    public var prompt: [String: String]?
    /// The options of a scored question.
    public var options: [SurveyOption]?
    /// Branches evaluated after this question; without a matching one the next question follows.
    public var next: [SurveyBranch]?

    public init(id: String, field: String? = nil, prompt: [String: String]? = nil, options: [SurveyOption]? = nil, next: [SurveyBranch]? = nil) {
        self.id = id
        self.field = field
        self.prompt = prompt
        self.options = options
        self.next = next
    }

    /// Whether this is a scored quiz question rather than a field.
    public var isScored: Bool { field == nil }
}

/// A quiz result: shown when the score falls in `[min, max]`.
public struct SurveyResult: Codable, Sendable, Hashable {
    public var min: Double
    public var max: Double
    public var title: [String: String]
    public var text: [String: String]?
    /// A recommendation to follow (https only).
    public var url: String?

    public init(min: Double, max: Double, title: [String: String], text: [String: String]? = nil, url: String? = nil) {
        self.min = min
        self.max = max
        self.title = title
        self.text = text
        self.url = url
    }
}

/// How a survey ends.
public enum SurveyEndingType: String, Codable, Sendable, CaseIterable {
    /// A thank-you message (with the incentive, if any).
    case thankYou = "thank_you"
    /// Send the person on to an https URL.
    case redirect
    /// A quiz result chosen by score.
    case result
}

/// The ending of a survey.
public struct SurveyEnding: Codable, Sendable, Hashable {
    public var type: SurveyEndingType
    /// The thank-you words per locale (optional: a default is shown).
    public var message: [String: String]?
    /// Where a redirect ending sends the person.
    public var url: String?
    /// A quiz's score ranges and what each means.
    public var results: [SurveyResult]?

    public init(type: SurveyEndingType, message: [String: String]? = nil, url: String? = nil, results: [SurveyResult]? = nil) {
        self.type = type
        self.message = message
        self.url = url
        self.results = results
    }
}

/// What a person gets for completing a survey.
public enum SurveyIncentiveType: String, Codable, Sendable, CaseIterable {
    /// One unique code from a pool, issued once per person and survey.
    case pool
    /// The same code for everybody.
    case staticCode = "static_code"
    /// Content that unlocks: words and/or a link.
    case content
}

/// The incentive of a survey.
public struct SurveyIncentive: Codable, Sendable, Hashable {
    public var type: SurveyIncentiveType
    public var poolId: String?
    public var code: String?
    public var text: [String: String]?
    public var url: String?

    enum CodingKeys: String, CodingKey {
        case type, code, text, url
        case poolId = "pool_id"
    }

    public init(type: SurveyIncentiveType, poolId: String? = nil, code: String? = nil, text: [String: String]? = nil, url: String? = nil) {
        self.type = type
        self.poolId = poolId
        self.code = code
        self.text = text
        self.url = url
    }
}

/// What an administrator sends to create or replace a survey.
public struct SurveyInput: Codable, Sendable, Hashable {
    public var title: [String: String]
    public var kind: SurveyKind
    public var questions: [SurveyQuestion]
    public var ending: SurveyEnding?
    /// A question whose field was declared fewer than this many days ago is skipped (absent: never).
    public var freshnessDays: Int?
    public var incentive: SurveyIncentive?

    enum CodingKeys: String, CodingKey {
        case title, kind, questions, ending, incentive
        case freshnessDays = "freshness_days"
    }

    public init(title: [String: String], kind: SurveyKind, questions: [SurveyQuestion], ending: SurveyEnding? = nil, freshnessDays: Int? = nil, incentive: SurveyIncentive? = nil) {
        self.title = title
        self.kind = kind
        self.questions = questions
        self.ending = ending
        self.freshnessDays = freshnessDays
        self.incentive = incentive
    }
}

/// A stored survey.
public struct Survey: Codable, Sendable, Hashable {
    public var id: String
    public var title: [String: String]
    public var kind: SurveyKind
    public var questions: [SurveyQuestion]
    public var ending: SurveyEnding
    public var freshnessDays: Int?
    public var incentive: SurveyIncentive?
    /// `draft`, `published` or `closed`: only a published survey takes answers.
    public var status: String
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, title, kind, questions, ending, incentive, status
        case freshnessDays = "freshness_days"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, input: SurveyInput, status: String, createdAt: String, updatedAt: String) {
        self.id = id
        self.title = input.title
        self.kind = input.kind
        self.questions = input.questions
        self.ending = input.ending ?? SurveyEnding(type: .thankYou)
        self.freshnessDays = input.freshnessDays
        self.incentive = input.incentive
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The question with an id.
    public func question(_ id: String) -> SurveyQuestion? { questions.first { $0.id == id } }

    /// The collection point declarations made through this survey name.
    public var collectionPoint: String { "survey:\(id)" }
}

/// Where a person stands in a survey: the questions on their path so far, the one to ask now (nil
/// when the survey is complete), and the questions progressive profiling skipped.
public struct SurveyPosition: Sendable, Hashable {
    /// Answered questions on the path, in order (what Back steps through).
    public var answered: [String]
    /// Questions passed over because the person's value is fresh.
    public var skipped: [String]
    /// The question to ask, or nil when the survey is done.
    public var current: String?
    /// Questions still ahead after the current one if nothing else branches (for a progress indicator).
    public var remaining: Int = 0

    public init(answered: [String], skipped: [String], current: String?, remaining: Int = 0) {
        self.answered = answered
        self.skipped = skipped
        self.current = current
        self.remaining = remaining
    }

    /// Step `answered + 1` of `total`, as a person counts them.
    public var total: Int { answered.count + (current == nil ? 0 : 1) + remaining }
}

/// The rules of surveys.
public enum SurveyRules {
    static let idCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789_")
    public static let maxQuestions = 50

    /// Validates a survey against the registry; every problem at once, named by its JSON path.
    /// (That a pool named by the incentive exists is the store's to check.)
    public static func validate(_ input: SurveyInput, fields: [String: Field]) -> Result<SurveyInput, CandorError> {
        var errors = [FieldError]()
        func checkText(_ texts: [String: String]?, _ path: String, max: Int, required: Bool = true) {
            guard let texts else {
                if required { errors.append(FieldError(path, "is required")) }
                return
            }
            if required && (texts["en"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(FieldError("\(path).en", "an English text is required")) }
            for (locale, text) in texts.sorted(by: { $0.key < $1.key }) {
                if !Locales.supported.contains(locale) { errors.append(FieldError("\(path).\(locale)", "unsupported locale")) }
                if text.count > max { errors.append(FieldError("\(path).\(locale)", "at most \(max) characters")) }
            }
        }
        func checkURL(_ url: String?, _ path: String) {
            guard let url else { return errors.append(FieldError(path, "is required")) }
            if !isHTTPS(url) { errors.append(FieldError(path, "must be an absolute https:// URL")) }
        }
        checkText(input.title, "title", max: 200)
        if input.questions.isEmpty || input.questions.count > maxQuestions { errors.append(FieldError("questions", "give 1 to \(maxQuestions) questions")) }
        var positions = [String: Int]()
        var usedFields = Set<String>()
        for (index, question) in input.questions.enumerated() {
            let path = "questions[\(index)]"
            if question.id.isEmpty || question.id.count > 40 || !question.id.allSatisfy(idCharacters.contains) || question.id == SurveyBranch.end {
                errors.append(FieldError("\(path).id", "1 to 40 characters of a-z, 0-9 and _ (not 'end')"))
            } else if positions[question.id] != nil {
                errors.append(FieldError("\(path).id", "'\(question.id)' appears twice"))
            } else {
                positions[question.id] = index
            }
            if let key = question.field {
                if question.options != nil { errors.append(FieldError("\(path).options", "a field question takes its options from the field '\(key)'")) }
                if question.prompt != nil { errors.append(FieldError("\(path).prompt", "a field question is asked in the field's own words")) }
                if fields[key] == nil {
                    errors.append(FieldError("\(path).field", "unknown field '\(key)'"))
                } else if !usedFields.insert(key).inserted {
                    errors.append(FieldError("\(path).field", "field '\(key)' is asked twice"))
                }
            } else {
                if input.kind != .quiz { errors.append(FieldError("\(path).field", "is required: a questionnaire question asks a registry field")); continue }
                checkText(question.prompt, "\(path).prompt", max: 300)
                let options = question.options ?? []
                if options.count < 2 || options.count > 12 { errors.append(FieldError("\(path).options", "a scored question needs 2 to 12 options")) }
                var keys = Set<String>()
                for (optionIndex, option) in options.enumerated() {
                    let optionPath = "\(path).options[\(optionIndex)]"
                    if option.key.isEmpty || option.key.count > 40 || !option.key.allSatisfy(idCharacters.contains) {
                        errors.append(FieldError("\(optionPath).key", "1 to 40 characters of a-z, 0-9 and _"))
                    } else if !keys.insert(option.key).inserted {
                        errors.append(FieldError("\(optionPath).key", "'\(option.key)' appears twice"))
                    }
                    checkText(option.labels, "\(optionPath).labels", max: 120)
                    if !option.score.isFinite || abs(option.score) > 1_000_000 { errors.append(FieldError("\(optionPath).score", "must be a finite number up to 1000000")) }
                }
            }
        }
        // Branches: conditions on this or an earlier question, with a value it can take; targets strictly
        // later (so no path can loop) or `end`.
        for (index, question) in input.questions.enumerated() {
            for (branchIndex, branch) in (question.next ?? []).enumerated() {
                let path = "questions[\(index)].next[\(branchIndex)]"
                let condition = branch.condition
                if let position = positions[condition.question] {
                    if position > index {
                        errors.append(FieldError("\(path).if.question", "'\(condition.question)' comes later: a branch can only look at answers already given"))
                    } else if let message = conditionProblem(condition.equals, input.questions[position], fields: fields) {
                        errors.append(FieldError("\(path).if.equals", message))
                    }
                } else {
                    errors.append(FieldError("\(path).if.question", "unknown question '\(condition.question)'"))
                }
                if branch.goto != SurveyBranch.end {
                    if let target = positions[branch.goto] {
                        if target <= index { errors.append(FieldError("\(path).goto", "'\(branch.goto)' is not after this question: the branch would make a cycle")) }
                    } else {
                        errors.append(FieldError("\(path).goto", "unknown question '\(branch.goto)' (or 'end')"))
                    }
                }
            }
            if (question.next ?? []).count > 20 { errors.append(FieldError("questions[\(index)].next", "at most 20 branches")) }
        }
        if let days = input.freshnessDays, days < 1 || days > 3650 { errors.append(FieldError("freshness_days", "must be 1 to 3650 days")) }
        let ending = input.ending ?? SurveyEnding(type: .thankYou)
        checkText(ending.message, "ending.message", max: 1000, required: false)
        switch ending.type {
        case .thankYou:
            if ending.url != nil { errors.append(FieldError("ending.url", "only a redirect ending has a URL")) }
        case .redirect:
            checkURL(ending.url, "ending.url")
        case .result:
            if input.kind != .quiz { errors.append(FieldError("ending.type", "only a quiz ends with a result")) }
            let results = ending.results ?? []
            if results.isEmpty || results.count > 20 { errors.append(FieldError("ending.results", "give 1 to 20 results")) }
            for (index, result) in results.enumerated() {
                let path = "ending.results[\(index)]"
                if !result.min.isFinite || !result.max.isFinite || result.min > result.max { errors.append(FieldError("\(path).max", "must be at least min")) }
                checkText(result.title, "\(path).title", max: 200)
                checkText(result.text, "\(path).text", max: 1000, required: false)
                if let url = result.url, !isHTTPS(url) { errors.append(FieldError("\(path).url", "must be an absolute https:// URL")) }
                for (other, earlier) in results.prefix(index).enumerated() where result.min <= earlier.max && earlier.min <= result.max {
                    errors.append(FieldError("\(path).min", "the range overlaps ending.results[\(other)]"))
                }
            }
            if input.questions.allSatisfy({ !$0.isScored }) { errors.append(FieldError("questions", "a quiz with a result needs at least one scored question")) }
        }
        if ending.type != .result && ending.results != nil { errors.append(FieldError("ending.results", "only a result ending has results")) }
        if let incentive = input.incentive {
            switch incentive.type {
            case .pool:
                if (incentive.poolId ?? "").isEmpty { errors.append(FieldError("incentive.pool_id", "is required for a pool incentive")) }
            case .staticCode:
                if let problem = IncentiveCodes.problem(incentive.code ?? "") { errors.append(FieldError("incentive.code", problem)) }
            case .content:
                if incentive.text == nil && incentive.url == nil { errors.append(FieldError("incentive.text", "give the text or the url of the content")) }
                checkText(incentive.text, "incentive.text", max: 1000, required: false)
                if let url = incentive.url, !isHTTPS(url) { errors.append(FieldError("incentive.url", "must be an absolute https:// URL")) }
            }
        }
        return errors.isEmpty ? .success(input) : .failure(.invalid(errors))
    }

    /// Whether `equals` is a value `question` can be answered with; nil when it is, else why not.
    static func conditionProblem(_ equals: String, _ question: SurveyQuestion, fields: [String: Field]) -> String? {
        if let options = question.options, question.isScored {
            return options.contains { $0.key == equals } ? nil : "'\(equals)' is not an option of question '\(question.id)'"
        }
        guard let key = question.field, let field = fields[key] else { return nil }
        switch field.type {
        case .singleChoice, .multiChoice:
            return (field.options ?? []).contains(equals) ? nil : "'\(equals)' is not an option of field '\(key)'"
        case .boolean:
            return ["true", "false"].contains(equals) ? nil : "field '\(key)' is a boolean: use 'true' or 'false'"
        case .number:
            return Double(equals) != nil ? nil : "field '\(key)' is a number"
        case .text, .date:
            return nil
        }
    }

    /// An absolute https URL with a host (redirects and links leave only to places that encrypt).
    public static func isHTTPS(_ text: String) -> Bool {
        guard text.count <= 2000, let url = URL(string: text), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty else { return false }
        return !text.contains(where: { $0.isWhitespace })
    }

    // MARK: - The path through a survey

    /// Whether an answer satisfies a condition.
    public static func holds(_ condition: SurveyCondition, _ answer: JSONValue?) -> Bool {
        switch answer {
        case .string(let text): text == condition.equals
        case .array(let items): items.contains { $0.stringValue == condition.equals }
        case .bool(let flag): (flag ? "true" : "false") == condition.equals
        case .number(let number): Double(condition.equals) == number
        default: false
        }
    }

    /// The question after `question`, given what is known (answers and fresh values): the first branch
    /// that holds, else the next question in order; nil at the end.
    public static func next(after question: SurveyQuestion, in survey: Survey, known: [String: JSONValue]) -> String? {
        for branch in question.next ?? [] where holds(branch.condition, known[branch.condition.question]) {
            return branch.goto == SurveyBranch.end ? nil : branch.goto
        }
        guard let index = survey.questions.firstIndex(where: { $0.id == question.id }), index + 1 < survey.questions.count else { return nil }
        return survey.questions[index + 1].id
    }

    /// Walks the survey from its first question. A question with an answer leads on by its branches; a
    /// question whose field is fresh (`fresh`: question id → the person's current value) is skipped and
    /// leads on by that value; the first other question is the one to ask now.
    public static func position(_ survey: Survey, answers: [String: JSONValue], fresh: [String: JSONValue]) -> SurveyPosition {
        var position = SurveyPosition(answered: [], skipped: [], current: nil)
        var known = fresh
        for (id, value) in answers { known[id] = value }
        var cursor = survey.questions.first?.id
        var steps = 0
        while let id = cursor, let question = survey.question(id), steps <= survey.questions.count {
            steps += 1
            if position.current != nil {
                // Beyond the question to ask: only counted, as if it were answered without branching.
                if fresh[id] == nil { position.remaining += 1 }
            } else if answers[id] != nil {
                position.answered.append(id)
            } else if fresh[id] != nil {
                position.skipped.append(id)
            } else {
                position.current = id
            }
            cursor = next(after: question, in: survey, known: known)
        }
        return position
    }

    /// Which questions an answer may be given to now: the current one, or one already answered on the
    /// path (going Back to change it). Anything else was skipped by branching or is not reached yet.
    public static func mayAnswer(_ questionId: String, at position: SurveyPosition) -> Bool {
        questionId == position.current || position.answered.contains(questionId)
    }

    /// The answer to a scored question as a value: one option key.
    public static func normalizeScored(_ value: JSONValue, for question: SurveyQuestion, path: String) -> Result<JSONValue, FieldError> {
        guard let key = value.stringValue else { return .failure(FieldError(path, "expected an option key, got \(value.typeName)")) }
        guard (question.options ?? []).contains(where: { $0.key == key }) else {
            return .failure(FieldError(path, "'\(key)' is not an option of question '\(question.id)'"))
        }
        return .success(value)
    }

    /// The quiz score: the sum of the chosen options' scores over the answered questions on the path.
    public static func score(_ survey: Survey, answers: [String: JSONValue], path: [String]) -> Double {
        path.reduce(0) { total, id in
            guard let question = survey.question(id), question.isScored, let key = answers[id]?.stringValue,
                  let option = question.options?.first(where: { $0.key == key }) else { return total }
            return total + option.score
        }
    }

    /// The result whose range holds the score, if any.
    public static func result(for score: Double, in ending: SurveyEnding) -> SurveyResult? {
        (ending.results ?? []).first { $0.min <= score && score <= $0.max }
    }
}

/// Incentive codes: what a valid code looks like, and codes generated from a pattern.
public enum IncentiveCodes {
    /// Characters of generated `X` positions: capitals and digits without the look-alikes 0/O and 1/I.
    static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    public static let maxGenerate = 100_000

    /// Why a code is not acceptable, or nil: 1–64 visible ASCII characters, no comma or quote.
    public static func problem(_ code: String) -> String? {
        if code.isEmpty || code.count > 64 { return "a code has 1 to 64 characters" }
        if !code.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue.map { $0 >= 33 && $0 <= 126 } == true && $0 != "," && $0 != "\"" }) {
            return "a code is visible ASCII without spaces, commas or quotes"
        }
        return nil
    }

    /// How many distinct codes a pattern can make (`#` a digit, `X` a letter or digit, anything else
    /// as written); saturates instead of overflowing.
    public static func space(_ pattern: String) -> Double {
        pattern.reduce(1.0) { total, character in
            character == "#" ? total * 10 : character == "X" ? total * Double(alphabet.count) : total
        }
    }

    /// Why a pattern cannot make `count` codes, or nil. At least 1000 times as many possible codes as
    /// requested, so codes cannot be guessed from one another and generation never runs dry.
    public static func patternProblem(_ pattern: String, count: Int) -> FieldError? {
        if let problem = problem(pattern.replacingOccurrences(of: "#", with: "0")) { return FieldError("pattern", problem) }
        if count < 1 || count > maxGenerate { return FieldError("generate", "must be 1 to \(maxGenerate)") }
        if space(pattern) < Double(count) * 1000 {
            return FieldError("pattern", "too few # and X positions: it must allow at least 1000 times as many codes as requested")
        }
        return nil
    }

    /// One code from a pattern.
    public static func generate<R: RandomNumberGenerator>(_ pattern: String, using random: inout R) -> String {
        String(pattern.map { character -> Character in
            switch character {
            case "#": Character(String(Int.random(in: 0...9, using: &random)))
            case "X": alphabet.randomElement(using: &random)!
            default: character
            }
        })
    }

    /// The codes of a CSV upload: one per line, the first column of each, blank lines ignored, and a
    /// first line of `code` taken as a header. Every bad or repeated line is reported (1-based).
    public static func parseCSV(_ text: String) -> Result<[String], CandorError> {
        var codes = [String]()
        var seen = Set<String>()
        var errors = [FieldError]()
        // Lines end in LF, CRLF or CR: in Swift "\r\n" is one Character, so splitting on "\n" alone would
        // leave a Windows file (and every browser textarea) as one line.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if let comma = line.firstIndex(of: ",") { line = String(line[..<comma]).trimmingCharacters(in: .whitespaces) }
            if line.hasPrefix("\"") && line.hasSuffix("\"") && line.count >= 2 { line = String(line.dropFirst().dropLast()) }
            if line.isEmpty || (index == 0 && line.lowercased() == "code") { continue }
            let path = "body.line[\(index + 1)]"
            if let problem = problem(line) {
                errors.append(FieldError(path, problem))
            } else if !seen.insert(line).inserted {
                errors.append(FieldError(path, "'\(line)' appears twice"))
            } else {
                codes.append(line)
            }
            if errors.count >= 20 { break }
        }
        if codes.isEmpty && errors.isEmpty { errors.append(FieldError("body", "no codes: send one code per line")) }
        if codes.count > maxGenerate { errors.append(FieldError("body", "at most \(maxGenerate) codes per upload")) }
        return errors.isEmpty ? .success(codes) : .failure(.invalid(errors))
    }
}
