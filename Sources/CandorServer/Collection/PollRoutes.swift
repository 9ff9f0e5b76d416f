import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Anonymous community polls: an admin API under `/v1/polls`, and public pages at `/polls/{id}`.
///
/// Nothing of the person is stored with an answer. One answer per browser is enforced with a random
/// cookie whose keyed hash (under a key derived for this poll from the master key) goes into
/// `poll_voters`, which has no time and no answer; the answer only adds one to a tally. See docs/polls.md.
struct PollRoutes {
    let store: CandorStore
    let config: ServerConfig
    let support: RouteSupport
    let portal: PortalRoutes

    static let voterCookie = "candor_poll_voter"
    /// Answers per client address per hour, counted in memory only (the address is never stored).
    static let perClientLimit = 120

    var links: SubjectLinks { store.subjectLinks }
    var secureCookies: Bool { config.baseURL.lowercased().hasPrefix("https://") }

    func add(pages router: Router<CandorRequestContext>, api: RouterGroup<CandorRequestContext>) {
        api.post("polls") { request, context in
            let principal = try support.principal(context, .write)
            let (input, _) = try await support.decode(PollInput.self, from: request)
            return try support.json(try await view(store.createPoll(input, by: principal)), status: .created)
        }
        api.get("polls") { _, context in
            _ = try support.principal(context, .write)
            var out = [PollView]()
            for poll in try await store.polls() { out.append(try await view(poll)) }
            return try support.json(["polls": out])
        }
        api.get("polls/:poll") { _, context in
            _ = try support.principal(context, .write)
            return try support.json(try await view(try await known(support.parameter(context, "poll"))))
        }
        for (verb, open) in [("open", true), ("close", false)] {
            api.post("polls/:poll/\(verb)") { _, context in
                let principal = try support.principal(context, .write)
                let id = try support.parameter(context, "poll")
                _ = try await known(id)
                guard let poll = try await store.setPollOpen(id, open: open, by: principal) else { throw CandorError(.notFound, "no poll '\(id)'") }
                return try support.json(try await view(poll))
            }
        }
        router.get("polls/:poll") { request, context in try await show(request, context) }
        router.post("polls/:poll") { request, context in try await answer(request, context) }
        router.get("polls/:poll/results") { request, context in try await results(request, context) }
    }

    /// A poll with its publishable results (the k threshold holds for administrators too).
    struct PollView: Codable, Sendable {
        var poll: Poll
        var results: PollResults
    }

    func view(_ poll: Poll) async throws -> PollView { PollView(poll: poll, results: try await store.pollResults(poll)) }

    func known(_ id: String) async throws -> Poll {
        guard let poll = try await store.poll(id) else { throw CandorError(.notFound, "no poll '\(id)'") }
        return poll
    }

    // MARK: - Pages

    func strings(_ language: PageLanguage) -> [String: String] { CollectionStrings.of(language, title: "pollTitle") }

    /// The browser's random voter token, and a fresh cookie when it had none.
    func voter(_ request: Request) -> (token: String, cookie: Cookie?) {
        let token = request.cookies[Self.voterCookie]?.value ?? ""
        if PortalRoutes.isBrowserNonce(token) { return (token, nil) }
        let fresh = PortalRoutes.randomHex()
        return (fresh, Cookie(name: Self.voterCookie, value: fresh, maxAge: 365 * 24 * 3600, path: "/polls", secure: secureCookies, httpOnly: true, sameSite: .lax))
    }

    /// The keyed hash that stands for this browser in this poll: without the server's key it cannot be
    /// computed from the cookie, and the hashes of one browser in two polls do not match.
    func voterHash(_ pollId: String, _ token: String) -> String { links.tag("poll-voter\n\(pollId)", token) }

    func missing(_ language: PageLanguage, _ path: String) -> Response {
        portal.message(language, path: path, status: .notFound, heading: "pollMissingHeading", body: "pollMissingBody", actions: [], strings: strings(language))
    }

    func show(_ request: Request, _ context: CandorRequestContext, error: Bool = false, status: HTTPResponse.Status = .ok) async throws -> Response {
        let language = PageLanguage.choose(request)
        let id = context.parameters.get("poll") ?? ""
        let path = "/polls/\(id)"
        guard let poll = try await store.poll(id) else { return missing(language, path) }
        let (token, cookie) = voter(request)
        if cookie == nil, try await store.hasVoted(pollId: id, voterHash: voterHash(id, token)) || !poll.isOpen {
            return try await resultsPage(poll, language, answered: poll.isOpen)
        }
        if !poll.isOpen { return try await resultsPage(poll, language, answered: false) }
        let t = strings(language)
        var response = portal.render("poll", language, path: path, status: status, [
            "t": t, "heading": text(poll.question, language), "question": text(poll.question, language), "pollId": poll.id,
            "csrf": links.tag("csrf-poll\n\(id)", token), "error": error,
            "options": poll.options.enumerated().map { index, option in ["id": "o-\(index)", "key": option.key, "label": text(option.labels, language)] },
        ])
        if let cookie { response.setCookie(cookie) }
        return response
    }

    func answer(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let language = PageLanguage.choose(request)
        let t = strings(language)
        let id = context.parameters.get("poll") ?? ""
        let path = "/polls/\(id)"
        guard let poll = try await store.poll(id) else { return missing(language, path) }
        let form = try await PortalRoutes.form(request, limit: support.maxBodyBytes)
        let token = request.cookies[Self.voterCookie]?.value ?? ""
        guard PortalRoutes.isBrowserNonce(token), links.checkTag("csrf-poll\n\(id)", token, presented: form.first("csrf")) else {
            return portal.message(language, path: path, status: .forbidden, heading: "csrfHeading", body: "pollCsrfBody", actions: [(path, "toPoll")], strings: t)
        }
        let chosen = form.all("option")
        guard chosen.count == 1, poll.options.contains(where: { $0.key == chosen[0] }) else {
            return try await show(request, context, error: true, status: .unprocessableContent)
        }
        guard portal.limiter.allow("poll:" + (context.remoteIP ?? "unknown"), limit: Self.perClientLimit, now: store.currentMillis) else {
            return portal.message(language, path: path, status: .tooManyRequests, heading: "rateHeading", body: "rateBody", actions: [], strings: t)
        }
        switch try await store.vote(pollId: id, option: chosen[0], voterHash: voterHash(id, token)) {
        case .recorded:
            return Response(status: .seeOther, headers: [.location: "\(path)/results?lang=\(language.code)&thanks=1"])
        case .alreadyAnswered:
            return portal.message(language, path: path, status: .conflict, heading: "alreadyHeading", body: "alreadyBody", actions: [("\(path)/results", "seeResults")], strings: t)
        case .closed:
            return portal.message(language, path: path, status: .conflict, heading: "closedHeading", body: "closedBody", actions: [("\(path)/results", "seeResults")], strings: t)
        }
    }

    /// Results are for those who answered (and for everyone once the poll is closed).
    func results(_ request: Request, _ context: CandorRequestContext) async throws -> Response {
        let language = PageLanguage.choose(request)
        let id = context.parameters.get("poll") ?? ""
        guard let poll = try await store.poll(id) else { return missing(language, "/polls/\(id)/results") }
        let token = request.cookies[Self.voterCookie]?.value ?? ""
        let answered = PortalRoutes.isBrowserNonce(token) ? try await store.hasVoted(pollId: id, voterHash: voterHash(id, token)) : false
        guard answered || !poll.isOpen else {
            return portal.message(language, path: "/polls/\(id)/results", status: .forbidden, heading: "answerFirstHeading", body: "answerFirstBody",
                                  actions: [("/polls/\(id)", "toPoll")], strings: strings(language))
        }
        return try await resultsPage(poll, language, answered: answered, thanks: request.uri.queryParameters.get("thanks") == "1")
    }

    func resultsPage(_ poll: Poll, _ language: PageLanguage, answered: Bool, thanks: Bool = false) async throws -> Response {
        let t = strings(language)
        let results = try await store.pollResults(poll)
        let rows: [[String: Any]] = results.rows.map { row in
            ["label": text(poll.options.first { $0.key == row.option }?.labels ?? [:], language), "count": row.count, "percent": row.percent]
        }
        return portal.render("poll_results", language, path: "/polls/\(poll.id)/results", [
            "t": t, "heading": text(poll.question, language), "question": text(poll.question, language), "published": results.isPublished,
            "rows": rows, "total": results.total, "notEnough": t["notEnough"]!.replacingOccurrences(of: "%1", with: String(poll.k)),
            "thanks": thanks, "closed": !poll.isOpen,
        ])
    }

    func text(_ texts: [String: String], _ language: PageLanguage) -> String { texts[language.code] ?? texts["en"] ?? "" }
}
