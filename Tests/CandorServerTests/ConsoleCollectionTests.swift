import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's collection pages in-process: the survey builder (questions, branching, the prompt's
/// targeting), inline errors that save nothing, the prompt preview that records nothing, polls, code
/// pools and their uploads, and the roles and CSRF token every page and form checks.
/// (The browser walk is tests/python/test_console_collection.py.)
@Suite("Console: surveys, polls and incentive pools")
struct ConsoleCollectionTests {
    typealias Browser = ConsoleTests.Browser

    /// A browser signed in as an operator of `team`.
    static func signedIn(_ server: TestServer, team: String) async throws -> Browser {
        let account = try await ConsoleTests.makeOperator(server, team: team)
        let browser = Browser(server.api)
        let reply = try await browser.signIn(account.email, ConsoleTests.password)
        #expect(reply.status == .seeOther)
        return browser
    }

    /// The builder's form for a questionnaire: `sport` (interests) branching to the end on "running",
    /// then `size` (shoe size); a prompt asking the shoe size on product pages, once.
    static func surveyForm(csrf: String, title: String) -> [String: String] {
        [
            "csrf": csrf, "action": "save", "title_en": title, "title_he": "סקר נעליים", "kind": "questionnaire", "freshness_days": "90",
            "q0_id": "sport", "q0_source": "field:interests", "q0_b0_question": "sport", "q0_b0_equals": "running", "q0_b0_goto": "end",
            "q1_id": "size", "q1_source": "field:shoe_size", "q1_b0_question": "size", "q1_b0_equals": "", "q1_b0_goto": "",
            "ending_type": "thank_you", "ending_message_en": "Thanks!", "incentive_type": "",
            "prompt_enabled": "yes", "prompt_field": "shoe_size", "prompt_name": "", "prompt_intro_en": "One quick question",
            "prompt_trigger": "page_view", "prompt_url_match": "prefix", "prompt_url_value": "/products/", "prompt_frequency": "once",
            "prompt_status": "active",
        ]
    }

    @Test("A survey with two questions and a branch is built through the form, with its prompt's targeting; adding a question saves nothing")
    func buildSurvey() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/surveys/new")
            // "Add a question" re-renders the form with one more block and what was typed; nothing is written
            var form = Self.surveyForm(csrf: csrf, title: "Fit survey")
            form["action"] = "add_question"
            let added = try await browser.send(.post, "/console/surveys/new", form: form)
            #expect(added.status == .ok)
            #expect(added.text.contains("name=\"q2_id\"") && added.text.contains("value=\"Fit survey\""))
            #expect(try await server.store.surveys().isEmpty)

            let saved = try await browser.send(.post, "/console/surveys/new", form: Self.surveyForm(csrf: csrf, title: "Fit survey"))
            #expect(saved.status == .seeOther)
            let survey = try #require(try await server.store.surveys().first)
            #expect(saved.header("Location") == "/console/surveys/\(survey.id)?done=created")
            #expect(survey.status == "draft" && survey.title == ["en": "Fit survey", "he": "סקר נעליים"] && survey.freshnessDays == 90)
            #expect(survey.questions.map(\.id) == ["sport", "size"] && survey.questions.map(\.field) == ["interests", "shoe_size"])
            #expect(survey.questions[0].next == [SurveyBranch(condition: SurveyCondition(question: "sport", equals: "running"), goto: "end")])
            #expect(survey.questions[1].next == nil)
            let prompt = try #require(try await server.store.prompts().first)
            #expect(prompt.field == "shoe_size" && prompt.frequency == .once && prompt.status == .active && prompt.name == "Fit survey")
            #expect(prompt.triggers == [PromptTrigger(type: .pageView, url: PromptURLRule(match: .prefix, value: "/products/"))])
            #expect(prompt.texts?["en"] == PromptText(question: "Shoe size (EU)", intro: "One quick question") || prompt.texts?["en"]?.intro == "One quick question")

            // The survey's page shows it back, with the prompt and a preview in both languages
            let page = try await browser.send(.get, "/console/surveys/\(survey.id)?done=created")
            #expect(page.status == .ok && page.text.contains("id=\"done\""))
            #expect(page.text.contains("/console/surveys/\(survey.id)/preview?locale=en") && page.text.contains("/console/surveys/\(survey.id)/preview?locale=he"))
            #expect(page.text.contains("value=\"/products/\""))
            // Publishing fixes the questions; the list shows the new status
            let published = try await browser.send(.post, "/console/surveys/\(survey.id)/publish", form: ["csrf": csrf])
            #expect(published.status == .seeOther)
            #expect(try await server.store.survey(survey.id)?.status == "published")
            let list = try await browser.send(.get, "/console/surveys")
            #expect(list.text.contains("Fit survey") && list.text.contains("badge-published"))
        }
    }

    @Test("Two surveys asking the same field keep their own prompts; a published survey's questions are fixed while its prompt still changes")
    func promptsPerSurvey() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/surveys/new")
            var first = Self.surveyForm(csrf: csrf, title: "First")
            first["prompt_name"] = "First prompt"
            var second = Self.surveyForm(csrf: csrf, title: "Second")
            second["prompt_name"] = "Second prompt"
            #expect(try await browser.send(.post, "/console/surveys/new", form: first).status == .seeOther)
            #expect(try await browser.send(.post, "/console/surveys/new", form: second).status == .seeOther)
            let surveys = try await server.store.surveys()
            let one = try #require(surveys.first { $0.title["en"] == "First" })
            let two = try #require(surveys.first { $0.title["en"] == "Second" })
            #expect(Set(try await server.store.prompts().map(\.name)) == ["First prompt", "Second prompt"])
            #expect(try await browser.send(.get, "/console/surveys/\(one.id)").text.contains("value=\"First prompt\""))
            #expect(try await browser.send(.get, "/console/surveys/\(two.id)").text.contains("value=\"Second prompt\""))

            // Published: the form's questions are disabled, and a post changes only the prompt
            #expect(try await browser.send(.post, "/console/surveys/\(one.id)/publish", form: ["csrf": csrf]).status == .seeOther)
            let page = try await browser.send(.get, "/console/surveys/\(one.id)")
            #expect(page.text.contains("id=\"locked-note\"") && page.text.contains("fieldset class=\"panel col-set\" disabled"))
            var edit = first
            edit["title_en"] = "Renamed"
            edit["prompt_name"] = "First prompt, renamed"
            edit["prompt_id"] = try #require(try await server.store.prompts().first { $0.name == "First prompt" }?.id)
            let saved = try await browser.send(.post, "/console/surveys/\(one.id)", form: edit)
            #expect(saved.status == .seeOther)
            #expect(try await server.store.survey(one.id)?.title["en"] == "First")
            #expect(Set(try await server.store.prompts().map(\.name)) == ["First prompt, renamed", "Second prompt"])
        }
    }

    @Test("An invalid survey comes back with each error next to its input, status 422, and nothing is saved")
    func invalidSurvey() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/surveys/new")
            var form = Self.surveyForm(csrf: csrf, title: "")
            form["q1_id"] = "Bad Id"
            form["q0_b0_goto"] = "nowhere"
            form["ending_type"] = "redirect"
            form["ending_url"] = "ftp://shop.example/thanks"
            form["prompt_audience"] = "interests has"
            let reply = try await browser.send(.post, "/console/surveys/new", form: form)
            #expect(reply.status == .unprocessableContent)
            let html = reply.text
            for input in ["title_en", "q1_id", "q0_b0_goto", "ending_url", "prompt_audience"] {
                #expect(html.contains("id=\"\(input)-error\""), "no error next to \(input)")
                #expect(html.contains("aria-describedby=\"\(input)-error\"") || html.contains("\(input)-error\" aria-invalid") || html.contains(" \(input)-error\""),
                        "\(input) is not described by its error")
            }
            #expect(html.contains("must be an absolute https:// URL"))
            // What was typed is kept
            #expect(html.contains("value=\"Bad Id\""))
            #expect(try await server.store.surveys().isEmpty)
            #expect(try await server.store.prompts().isEmpty)

            // On a Hebrew page a store message gets a Hebrew lead
            let hebrew = try await browser.send(.post, "/console/surveys/new?lang=he", form: form)
            #expect(hebrew.status == .unprocessableContent && hebrew.text.contains("הערך אינו תקין:"))
        }
    }

    @Test("A quiz's scored options and result ranges are checked row by row, and a valid quiz is saved with its scores")
    func quiz() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/surveys/new")
            var form: [String: String] = [
                "csrf": csrf, "action": "save", "title_en": "Which runner?", "kind": "quiz",
                "q0_id": "ground", "q0_source": "scored", "q0_prompt_en": "Where do you run?",
                "q0_o0_key": "road", "q0_o0_en": "Roads", "q0_o0_score": "abc", "q0_o1_key": "", "q0_o1_en": "", "q0_o1_score": "",
                "q0_b0_question": "ground", "q0_b0_equals": "", "q0_b0_goto": "",
                "ending_type": "result",
                "r0_min": "0", "r0_max": "5", "r0_title_en": "City", "r1_min": "3", "r1_max": "9", "r1_title_en": "Trail",
            ]
            let refused = try await browser.send(.post, "/console/surveys/new", form: form)
            #expect(refused.status == .unprocessableContent)
            for slot in ["q0_o0_score", "q0_options", "r1_min"] { #expect(refused.text.contains("id=\"\(slot)-error\""), "\(slot)") }
            #expect(try await server.store.surveys().isEmpty)

            form["q0_o0_score"] = "1.5"
            form["q0_o1_key"] = "trail"
            form["q0_o1_en"] = "Trails"
            form["q0_o1_score"] = "4"
            form["r1_min"] = "6"
            let saved = try await browser.send(.post, "/console/surveys/new", form: form)
            #expect(saved.status == .seeOther)
            let quiz = try #require(try await server.store.surveys().first)
            #expect(quiz.kind == .quiz && quiz.questions[0].options?.map(\.score) == [1.5, 4])
            #expect(quiz.ending.results?.map(\.min) == [0, 6])
            // Shown back as typed: 1.5 stays 1.5 and 4 is not 4.0
            let page = try await browser.send(.get, "/console/surveys/\(quiz.id)")
            #expect(page.text.contains("value=\"1.5\"") && page.text.contains("value=\"4\""))
        }
    }

    @Test("The prompt preview draws the question as the embed does, frameable by the console only, and records nothing")
    func preview() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/surveys/new")
            _ = try await browser.send(.post, "/console/surveys/new", form: Self.surveyForm(csrf: csrf, title: "Preview survey"))
            let survey = try #require(try await server.store.surveys().first)
            let before = try await server.store.auditLog(AuditQuery(), cursor: nil, limit: 200).data.count
            let english = try await browser.send(.get, "/console/surveys/\(survey.id)/preview?locale=en")
            #expect(english.status == .ok)
            #expect(english.text.contains("class=\"candor-dialog\"") && english.text.contains("One quick question"))
            #expect(english.text.contains("href=\"/embed.css\""))
            let policy = try #require(english.header("Content-Security-Policy"))
            #expect(policy.contains("frame-ancestors 'self'") && !policy.contains("script-src"))
            let hebrew = try await browser.send(.get, "/console/surveys/\(survey.id)/preview?locale=he&q=%D7%9E%D7%99%D7%93%D7%94")
            #expect(hebrew.text.contains("dir=\"rtl\"") && hebrew.text.contains("מידה") && hebrew.text.contains("שמירת התשובה"))
            // (a Hebrew preview leaves the operator's own console language alone)
            #expect(!hebrew.headers[values: .setCookie].contains { $0.hasPrefix("candor_console_lang=") })
            // Nothing written: no display, no audit entry
            #expect(try await server.store.auditLog(AuditQuery(), cursor: nil, limit: 200).data.count == before)
            let displays = try await server.store.database.read { try $0.query("SELECT count(*) FROM prompt_history", []).first?.int(0) ?? -1 }
            #expect(displays == 0)
        }
    }

    @Test("Codes uploaded to a pool raise the remaining count; empty, repeated, too long or present codes are named and nothing is added")
    func poolCodes() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/incentives")
            let invalid = try await browser.send(.post, "/console/incentives", form: ["csrf": csrf, "name": " ", "expires": "tomorrow"])
            #expect(invalid.status == .unprocessableContent && invalid.text.contains("id=\"pool-expires-error\""))
            let created = try await browser.send(.post, "/console/incentives", form: ["csrf": csrf, "name": "Spring codes", "expires": ""])
            #expect(created.status == .seeOther)
            let location = try #require(created.header("Location"))
            let id = String(location.dropFirst("/console/incentives/".count).prefix { $0 != "?" })

            let uploaded = try await browser.send(.post, "/console/incentives/\(id)/codes", form: ["csrf": csrf, "codes": "code\nSPRING-1\nSPRING-2\r\nSPRING-3\n"])
            #expect(uploaded.status == .seeOther)
            let page = try await browser.send(.get, "/console/incentives/\(id)?done=uploaded")
            #expect(page.text.contains("id=\"pool-remaining\">3<"))
            let afterUpload = try await server.store.incentivePool(id)
            #expect(afterUpload?.remaining == 3, "\(String(describing: afterUpload)) \(uploaded.header("Location") ?? "")")

            let long = String(repeating: "X", count: 65)
            for (codes, message) in [("\n\n", "no codes"), ("A-1\nA-1", "appears twice"), (long, "1 to 64 characters"), ("SPRING-3\nSPRING-4", "already in the pool")] {
                let refused = try await browser.send(.post, "/console/incentives/\(id)/codes", form: ["csrf": csrf, "codes": codes])
                #expect(refused.status == .unprocessableContent, "\(codes)")
                #expect(refused.text.contains("id=\"codes-error\"") && refused.text.contains(message), "\(message)")
                #expect(refused.text.contains("aria-invalid=\"true\""))
            }
            // (the upload reads its own, larger body: its CSRF token is checked all the same)
            let forged = try await browser.send(.post, "/console/incentives/\(id)/codes", form: ["csrf": "forged", "codes": "SPRING-9"])
            #expect(forged.status == .forbidden)
            let huge = try await browser.send(.post, "/console/incentives/\(id)/codes",
                                              form: ["csrf": csrf, "codes": String(repeating: "ABCDEFGH\n", count: 120_000)])
            #expect(huge.status == .contentTooLarge && huge.text.contains("larger than 1 MiB"))
            #expect(try await server.store.incentivePool(id)?.size == 3)
            // The list shows the pool with its counts
            let list = try await browser.send(.get, "/console/incentives")
            #expect(list.text.contains("Spring codes") && list.text.contains("/console/incentives/\(id)"))
        }
    }

    @Test("A poll is created through the form and listed with its results withheld below k; a poll with one option is refused inline")
    func polls() async throws {
        try await TestServer.run { server in
            let browser = try await Self.signedIn(server, team: "it")
            let csrf = try await browser.csrf("/console/polls")
            let refused = try await browser.send(.post, "/console/polls", form: [
                "csrf": csrf, "question_en": "Which colour?", "o0_key": "red", "o0_en": "Red", "o1_key": "", "o1_en": "", "k": "1",
            ])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains("id=\"options-error\"") && refused.text.contains("id=\"k-error\""))
            #expect(try await server.store.polls().isEmpty)
            let created = try await browser.send(.post, "/console/polls", form: [
                "csrf": csrf, "question_en": "Which colour?", "question_he": "איזה צבע?", "o0_key": "red", "o0_en": "Red", "o1_key": "", "o1_en": "",
                "o2_key": "blue", "o2_en": "Blue", "o2_he": "כחול", "k": "5",
            ])
            #expect(created.status == .seeOther)
            let poll = try #require(try await server.store.polls().first)
            #expect(poll.options.map(\.key) == ["red", "blue"] && poll.k == 5 && poll.isOpen)
            let list = try await browser.send(.get, "/console/polls")
            #expect(list.text.contains("Which colour?") && list.text.contains("Fewer than 5 answers") && list.text.contains("/polls/\(poll.id)"))
            let closed = try await browser.send(.post, "/console/polls/\(poll.id)/close", form: ["csrf": csrf])
            #expect(closed.status == .seeOther)
            #expect(try await server.store.poll(poll.id)?.isOpen == false)
        }
    }

    @Test("A team without admin gets the 403 page on every collection page; a form without the CSRF token changes nothing")
    func rolesAndCSRF() async throws {
        try await TestServer.run { server in
            let marketing = try await Self.signedIn(server, team: "marketing")
            for path in ["/console/surveys", "/console/surveys/new", "/console/polls", "/console/incentives"] {
                let page = try await marketing.send(.get, path)
                #expect(page.status == .forbidden, "\(path)")
            }
            let markCSRF = try await marketing.csrf("/console")
            let posted = try await marketing.send(.post, "/console/polls", form: ["csrf": markCSRF, "question_en": "Q", "o0_key": "a", "o0_en": "A", "o1_key": "b", "o1_en": "B"])
            #expect(posted.status == .forbidden)

            let it = try await Self.signedIn(server, team: "it")
            let noToken = try await it.send(.post, "/console/polls", form: ["question_en": "Q", "o0_key": "a", "o0_en": "A", "o1_key": "b", "o1_en": "B"])
            #expect(noToken.status == .forbidden)
            let poolReply = try await it.send(.post, "/console/incentives", form: ["csrf": "wrong", "name": "P"])
            #expect(poolReply.status == .forbidden)
            #expect(try await server.store.polls().isEmpty)
            #expect(try await server.store.incentivePools(limit: 10).isEmpty)
        }
    }
}
