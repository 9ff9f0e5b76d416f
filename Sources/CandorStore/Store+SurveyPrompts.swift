import CandorCore
import Foundation

extension Migrations {
    /// Which prompt the console's survey builder made for a survey (issue 7). A prompt asks one field,
    /// not a survey; this remembers which prompt the builder edits together with which survey, so two
    /// surveys asking the same field keep their own prompts. Nothing personal.
    static let surveyPromptsV1 = Migration(
        name: "survey_prompts_v1",
        sqlite: ["CREATE TABLE survey_prompts (survey_id TEXT PRIMARY KEY, prompt_id TEXT NOT NULL)"],
        postgres: ["CREATE TABLE survey_prompts (survey_id TEXT PRIMARY KEY, prompt_id TEXT NOT NULL)"])
}

extension CandorStore {
    /// Remembers `promptId` as the prompt of `surveyId` (replacing an earlier one), audited.
    public func linkSurveyPrompt(surveyId: String, promptId: String, by principal: Principal) async throws {
        _ = try await committer(for: nil).submit { connection in
            try connection.execute("DELETE FROM survey_prompts WHERE survey_id = ?", .text(surveyId))
            try connection.execute("INSERT INTO survey_prompts (survey_id, prompt_id) VALUES (?, ?)", .text(surveyId), .text(promptId))
            try self.audit(connection, principal, action: "survey.prompt_linked")
        }
    }

    /// survey id → the id of its prompt, for every survey that has one.
    public func surveyPromptLinks() async throws -> [String: String] {
        try await database.read { connection in
            try connection.query("SELECT survey_id, prompt_id FROM survey_prompts", []).reduce(into: [String: String]()) { $0[$1.text(0)] = $1.text(1) }
        }
    }
}
