import Foundation

/// One answer a poll offers: a stable key and its label per locale.
public struct PollOption: Codable, Sendable, Hashable {
    /// Stable key, `[a-z0-9_]`, 1–40 characters.
    public var key: String
    /// Label per locale; English is required.
    public var labels: [String: String]

    public init(key: String, labels: [String: String]) {
        self.key = key
        self.labels = labels
    }
}

/// What an administrator sends to create a poll.
public struct PollInput: Codable, Sendable {
    /// The question per locale; English is required.
    public var question: [String: String]
    public var options: [PollOption]
    /// Results are shown only once at least `k` people answered (default 5).
    public var k: Int?

    public init(question: [String: String], options: [PollOption], k: Int? = nil) {
        self.question = question
        self.options = options
        self.k = k
    }
}

/// A stored poll: it never refers to a person.
public struct Poll: Codable, Sendable, Hashable {
    public var id: String
    public var question: [String: String]
    public var options: [PollOption]
    public var k: Int
    /// `open` or `closed`.
    public var status: String
    public var createdAt: String

    public init(id: String, question: [String: String], options: [PollOption], k: Int, status: String, createdAt: String) {
        self.id = id
        self.question = question
        self.options = options
        self.k = k
        self.status = status
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, question, options, k, status
        case createdAt = "created_at"
    }

    public var isOpen: Bool { status == "open" }
}

/// Poll results as they may be published: counts only when the group is large enough.
public struct PollResults: Codable, Sendable, Hashable {
    /// One option's count and share; absent while the total is below k.
    public struct Row: Codable, Sendable, Hashable {
        public var option: String
        public var count: Int
        /// Whole percent, rounded.
        public var percent: Int
    }

    public var total: Int
    public var k: Int
    /// Whether the total reached k, so that the counts may be shown.
    public var isPublished: Bool
    public var rows: [Row]

    enum CodingKeys: String, CodingKey {
        case total, k, rows
        case isPublished = "published"
    }
}

/// The rules of anonymous community polls: what a valid poll is, and the k-threshold that decides
/// whether results may be shown (DESIGN §1.7). Pure, so the API, pages and tests share them.
public enum PollRules {
    public static let defaultK = 5
    static let keyCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789_")

    /// Validates a poll; every problem at once.
    public static func validate(_ input: PollInput) -> Result<PollInput, CandorError> {
        var errors = [FieldError]()
        func checkText(_ texts: [String: String], _ path: String, max: Int) {
            if (texts["en"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(FieldError("\(path).en", "an English text is required")) }
            for (locale, text) in texts.sorted(by: { $0.key < $1.key }) {
                if !Locales.supported.contains(locale) { errors.append(FieldError("\(path).\(locale)", "unsupported locale")) }
                if text.count > max { errors.append(FieldError("\(path).\(locale)", "at most \(max) characters")) }
            }
        }
        checkText(input.question, "question", max: 300)
        if input.options.count < 2 || input.options.count > 12 { errors.append(FieldError("options", "give 2 to 12 options")) }
        var seen = Set<String>()
        for (index, option) in input.options.enumerated() {
            if option.key.isEmpty || option.key.count > 40 || !option.key.allSatisfy(keyCharacters.contains) {
                errors.append(FieldError("options[\(index)].key", "1 to 40 characters of a-z, 0-9 and _"))
            } else if !seen.insert(option.key).inserted {
                errors.append(FieldError("options[\(index)].key", "'\(option.key)' appears twice"))
            }
            checkText(option.labels, "options[\(index)].labels", max: 120)
        }
        if let k = input.k, k < 2 || k > 1000 { errors.append(FieldError("k", "must be between 2 and 1000")) }
        return errors.isEmpty ? .success(input) : .failure(.invalid(errors))
    }

    /// The publishable results: below `k` responses in total, no counts at all — not even zeros,
    /// because "2 of 3 chose yes" in a small group can point at a person.
    public static func results(counts: [String: Int], options: [PollOption], k: Int) -> PollResults {
        let total = counts.values.reduce(0, +)
        guard total >= k else { return PollResults(total: 0, k: k, isPublished: false, rows: []) }
        let rows = options.map { option in
            let count = counts[option.key] ?? 0
            return PollResults.Row(option: option.key, count: count, percent: Int((Double(count) * 100 / Double(total)).rounded()))
        }
        return PollResults(total: total, k: k, isPublished: true, rows: rows)
    }
}
