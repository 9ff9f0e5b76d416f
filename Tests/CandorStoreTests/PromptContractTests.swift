import CandorCore
import CandorStore
import Foundation
import Testing

/// In-funnel prompts on every backend: visitors, the page-view decision, displays and the cooldown,
/// answers as declarations, "don't ask me again", identify-and-merge, and erasure.
extension StoreContractTests {
    static let week: Int64 = 7 * 86_400_000
    static let productPage = "https://shop.example/product/ridge?colour=red"

    /// An active prompt asking for shoe size on product pages (until answered) and one asking for
    /// interests on any page at 50% scroll (once).
    static func seedPrompts(_ h: Harness) async throws -> (shoe: String, interests: String) {
        let shoe = try await h.store.createPrompt(Prompt(
            name: "Shoe size", field: "shoe_size", triggers: [PromptTrigger(type: .pageView, url: PromptURLRule(match: .prefix, value: "/product/"))],
            audience: "not set(shoe_size)", frequency: .untilAnswered, delaySeconds: 3, priority: 10, status: .active), by: h.principal)
        let interests = try await h.store.createPrompt(Prompt(
            name: "Interests", field: "interests", triggers: [PromptTrigger(type: .scroll, percent: 50)], frequency: .once, status: .active), by: h.principal)
        return (try #require(shoe.id), try #require(interests.id))
    }

    static func decide(_ h: Harness, _ visitor: String, url: String = productPage, scroll: Int? = nil) async throws -> PromptDecision {
        try await h.store.decidePrompt(visitorId: visitor, keyId: h.principal.key.id, signal: PromptSignal(url: url, scrollPercent: scroll),
                                       prompts: try await PromptCatalog(maxAgeSeconds: 0).prompts(h.store), cooldownMillis: week)
    }

    @Test("A prompt shows on its trigger, not again within the cooldown, and again after it until answered", arguments: Backend.available)
    func promptCooldown(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let visitor = try await h.store.createVisitor(keyId: h.principal.key.id)
            #expect(CandorStore.isVisitorId(visitor))
            // Not on the front page; the interests prompt waits for 50% scroll, so the page is told to watch for it.
            let front = try await Self.decide(h, visitor, url: "https://shop.example/")
            #expect(front.offer == nil)
            #expect(front.watch.scroll == [50])
            let first = try await Self.decide(h, visitor)
            #expect(first.offer?.prompt.id == ids.shoe)
            #expect(first.offer?.notices["offers"]?.version == 1)
            try await h.store.recordPromptDisplay(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.shoe, dismissal: false)
            // Within the cooldown nothing shows, not even the other prompt on its own trigger.
            h.clock.advance(byMillis: Self.week - 60_000)
            #expect(try await Self.decide(h, visitor).silence == .cooldown)
            #expect(try await Self.decide(h, visitor, url: "https://shop.example/", scroll: 80).offer == nil)
            // After it, the unanswered prompt comes back on the next page view; a scroll on the page
            // triggers the scroll prompt instead.
            h.clock.advance(byMillis: 120_000)
            #expect(try await Self.decide(h, visitor).offer?.prompt.id == ids.shoe)
            #expect(try await Self.decide(h, visitor, scroll: 80).offer?.prompt.id == ids.interests)
            let history = try await h.store.promptHistory(person: visitor)
            #expect(history[ids.shoe]?.displays == 1)
        }
    }

    @Test("A dismissal counts as a display, once per showing; a prompt shown 'once' never returns", arguments: Backend.available)
    func dismissalCounts(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let visitor = try await h.store.createVisitor(keyId: h.principal.key.id)
            #expect(try await Self.decide(h, visitor, url: "https://shop.example/", scroll: 60).offer?.prompt.id == ids.interests)
            // The browser's display report was lost: the dismissal alone counts as the display.
            try await h.store.recordPromptDisplay(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.interests, dismissal: true)
            #expect(try await h.store.promptHistory(person: visitor)[ids.interests]?.displays == 1)
            h.clock.advance(byMillis: Self.week + 1)
            #expect(try await Self.decide(h, visitor, url: "https://shop.example/", scroll: 60).offer == nil)
            // A reported display followed by its dismissal is one display, not two.
            try await h.store.recordPromptDisplay(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.shoe, dismissal: false)
            try await h.store.recordPromptDisplay(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.shoe, dismissal: true)
            #expect(try await h.store.promptHistory(person: visitor)[ids.shoe]?.displays == 1)
        }
    }

    @Test("An anonymous answer is a declaration with source prompt, its collection point and notice, on a pseudonymous subject", arguments: Backend.available)
    func anonymousAnswer(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let visitor = try await h.store.createVisitor(keyId: h.principal.key.id)
            let receipt = try await h.store.answerPrompt(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.shoe, value: .number(42),
                                                         notices: ["offers": 1], by: h.principal)
            #expect(receipt.source == "prompt")
            #expect(receipt.collectionPoint == "prompt:\(ids.shoe)")
            #expect(receipt.values.first?.notices == ["offers": 1])
            let anonymous = try #require(try await h.store.visitor(visitor, keyId: h.principal.key.id).anonymousSubjectId)
            #expect(try await h.store.subject(anonymous).externalId == nil)
            #expect(try await h.store.promptHistory(person: visitor)[ids.shoe]?.answeredAt != nil)
            // Answered (and known): never asked again, even after the cooldown.
            h.clock.advance(byMillis: Self.week * 2)
            #expect(try await Self.decide(h, visitor).offer == nil)
        }
    }

    @Test("An answer outside the field's options, or under a superseded notice, is refused and writes nothing", arguments: Backend.available)
    func badAnswer(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let visitor = try await h.store.createVisitor(keyId: h.principal.key.id)
            let before = try await h.counts()
            let outside = await candorError {
                _ = try await h.store.answerPrompt(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.interests, value: .array([.string("golf")]),
                                                   notices: ["newsletter": 1, "offers": 1], by: h.principal)
            }
            #expect(outside?.errors.map(\.field) == ["value[0]"])
            let tooBig = await candorError {
                _ = try await h.store.answerPrompt(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.shoe, value: .number(99), notices: ["offers": 1], by: h.principal)
            }
            #expect(tooBig?.errors.map(\.field) == ["value"])
            let stale = await candorError {
                _ = try await h.store.answerPrompt(visitorId: visitor, keyId: h.principal.key.id, promptId: ids.shoe, value: .number(40), notices: ["offers": 7], by: h.principal)
            }
            #expect(stale?.errors.map(\.field) == ["notices.offers"])
            #expect(try await h.counts() == before)
            #expect(try await h.store.visitor(visitor, keyId: h.principal.key.id).anonymousSubjectId == nil)
            // A visitor of another key is unknown here.
            let foreign = await candorError { _ = try await h.store.visitor(visitor, keyId: "key_other") }
            #expect(foreign?.kind == .notFound)
        }
    }

    @Test("Identify carries anonymous answers over, erases the pseudonym, and merges history so nothing comes back", arguments: Backend.available)
    func identifyMerges(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let key = h.principal.key.id
            let browser = try await h.store.createVisitor(keyId: key)
            _ = try await h.store.answerPrompt(visitorId: browser, keyId: key, promptId: ids.shoe, value: .number(43), notices: ["offers": 1], by: h.principal)
            let anonymous = try #require(try await h.store.visitor(browser, keyId: key).anonymousSubjectId)
            h.clock.advance(byMillis: Self.week + 1)
            try await h.store.recordPromptDisplay(visitorId: browser, keyId: key, promptId: ids.interests, dismissal: true)

            let subjectId = try await h.store.identifyVisitor(visitorId: browser, keyId: key, externalId: "cus_77", by: h.principal)
            #expect(try await h.store.subject(subjectId).externalId == "cus_77")
            // The answer is the person's now, with its provenance; the pseudonymous subject is erased.
            let profile = try await h.store.profile(subjectId: subjectId, purpose: "support", by: h.principal)
            #expect(profile.values["shoe_size"] == nil, "shoe size serves offers only")
            let rows = try await h.query("SELECT value, source, collection_point FROM profile_values WHERE subject_id = ? AND field = 'shoe_size'", [.text(subjectId)])
            #expect(try await h.store.exportSubject(subjectId: subjectId, by: h.principal).values["shoe_size"]?.value == .number(43))
            #expect(rows.first?.text(1) == "prompt")
            #expect(rows.first?.text(2) == "prompt:\(ids.shoe)")
            let erased = await candorError { _ = try await h.store.subject(anonymous) }
            #expect(erased?.kind == .gone)
            // History moved to the person: the same person in a second browser sees neither prompt,
            // first because of the cooldown, then because one is answered and the other was shown once.
            let history = try await h.store.promptHistory(person: subjectId)
            #expect(history[ids.shoe]?.answeredAt != nil)
            #expect(history[ids.interests]?.displays == 1)
            #expect(try await h.store.promptHistory(person: browser).isEmpty)
            let second = try await h.store.createVisitor(keyId: key)
            #expect(try await h.store.identifyVisitor(visitorId: second, keyId: key, externalId: "cus_77", by: h.principal) == subjectId)
            #expect(try await Self.decide(h, second).silence == .cooldown)
            h.clock.advance(byMillis: Self.week + 1)
            #expect(try await Self.decide(h, second).offer == nil)
            #expect(try await Self.decide(h, second, url: "https://shop.example/", scroll: 90).offer == nil)
        }
    }

    @Test("One person's prompt history counts displays, dismissals and answers, keeps them through identify, and is read for a purpose only", arguments: Backend.available)
    func personPromptHistory(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let key = h.principal.key.id
            let browser = try await h.store.createVisitor(keyId: key)
            // Anonymously: the interests prompt shown and closed, the shoe-size prompt answered.
            try await h.store.recordPromptDisplay(visitorId: browser, keyId: key, promptId: ids.interests, dismissal: false)
            try await h.store.recordPromptDisplay(visitorId: browser, keyId: key, promptId: ids.interests, dismissal: true)
            _ = try await h.store.answerPrompt(visitorId: browser, keyId: key, promptId: ids.shoe, value: .number(43), notices: ["offers": 1], by: h.principal)
            // The pseudonymous subject that holds the answer shows what its browser did.
            let anonymous = try #require(try await h.store.visitor(browser, keyId: key).anonymousSubjectId)
            #expect(Set(try await h.store.personPromptHistory(subjectId: anonymous, purpose: "offers", by: h.principal).prompts.map(\.promptId)) == [ids.shoe, ids.interests])
            try await h.store.setDontAsk(visitorId: browser, keyId: key)

            let subjectId = try await h.store.identifyVisitor(visitorId: browser, keyId: key, externalId: "cus_history", by: h.principal)
            let history = try await h.store.personPromptHistory(subjectId: subjectId, purpose: "offers", by: h.principal)
            #expect(history.subjectId == subjectId && history.dontAsk)
            let byId = Dictionary(uniqueKeysWithValues: history.prompts.map { ($0.promptId, $0) })
            let interests = try #require(byId[ids.interests])
            #expect((interests.displays, interests.dismissals, interests.answers) == (1, 1, 0))
            #expect(interests.lastShownAt != nil && interests.lastAnsweredAt == nil && interests.name == "Interests")
            let shoe = try #require(byId[ids.shoe])
            #expect((shoe.displays, shoe.dismissals, shoe.answers) == (1, 0, 1), "an answer without a reported display still counts one display")
            #expect(shoe.lastAnsweredAt != nil && shoe.field == "shoe_size")
            // A purpose reads only prompts for fields serving it: shoe size serves offers, not the newsletter.
            #expect(try await h.store.personPromptHistory(subjectId: subjectId, purpose: "newsletter", by: h.principal).prompts.map(\.promptId) == [ids.interests])
            #expect(try await h.store.personPromptHistory(subjectId: subjectId, purpose: "support", by: h.principal).prompts.isEmpty)
            // Every read is audited with its purpose; the export carries the history too.
            let audited = try await h.query("SELECT purpose FROM audit_log WHERE action = 'prompt_history.read' AND subject_id = ?", [.text(subjectId)])
            #expect(audited.map { $0.text(0) }.sorted() == ["newsletter", "offers", "support"])
            let exported = try #require(try await h.store.exportSubject(subjectId: subjectId, by: h.principal).prompts)
            #expect(exported.dontAsk && exported.prompts.count == 2)
            // An unknown person is not found, and writes no audit.
            let unknown = await candorError { _ = try await h.store.personPromptHistory(subjectId: "sub_missing", purpose: "offers", by: h.principal) }
            #expect(unknown?.kind == .notFound)
        }
    }

    @Test("A person's own newer value is not overwritten by an older anonymous answer on identify", arguments: Backend.available)
    func identifyKeepsNewerValues(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let key = h.principal.key.id
            let browser = try await h.store.createVisitor(keyId: key)
            _ = try await h.store.answerPrompt(visitorId: browser, keyId: key, promptId: ids.shoe, value: .number(39), notices: ["offers": 1], by: h.principal)
            h.clock.advance(byMillis: 1000)
            let known = try await h.newSubject(externalId: "cus_88")
            try await h.declare(known, ["shoe_size": .number(45)])
            _ = try await h.store.identifyVisitor(visitorId: browser, keyId: key, externalId: "cus_88", by: h.principal)
            #expect(try await h.store.exportSubject(subjectId: known, by: h.principal).values["shoe_size"]?.value == .number(45))
        }
    }

    @Test("\"Don't ask me again\" holds on the visitor, moves to the person on identify, and reaches their other browsers", arguments: Backend.available)
    func dontAskAgain(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            _ = try await Self.seedPrompts(h)
            let key = h.principal.key.id
            let browser = try await h.store.createVisitor(keyId: key)
            try await h.store.setDontAsk(visitorId: browser, keyId: key)
            #expect(try await Self.decide(h, browser).silence == .dontAsk)
            _ = try await h.store.identifyVisitor(visitorId: browser, keyId: key, externalId: "cus_99", by: h.principal)
            #expect(try await h.store.dontAsk(visitorId: browser, keyId: key))
            let phone = try await h.store.createVisitor(keyId: key)
            #expect(try await Self.decide(h, phone).offer != nil, "an unknown browser may be asked")
            _ = try await h.store.identifyVisitor(visitorId: phone, keyId: key, externalId: "cus_99", by: h.principal)
            #expect(try await Self.decide(h, phone).silence == .dontAsk)
        }
    }

    @Test("Erasing a person removes their prompt history, settings and linked browsers", arguments: Backend.available)
    func erasureRemovesPromptData(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let key = h.principal.key.id
            let browser = try await h.store.createVisitor(keyId: key)
            let subjectId = try await h.store.identifyVisitor(visitorId: browser, keyId: key, externalId: "cus_55", by: h.principal)
            try await h.store.recordPromptDisplay(visitorId: browser, keyId: key, promptId: ids.shoe, dismissal: false)
            try await h.store.setDontAsk(visitorId: browser, keyId: key)
            _ = try await h.store.erase(subjectId: subjectId, by: h.principal)
            for (table, column) in [("prompt_history", "person"), ("prompt_people", "subject_id"), ("prompt_visitors", "subject_id")] {
                #expect(try await h.query("SELECT count(*) FROM \(table) WHERE \(column) = ?", [.text(subjectId)]).first?.int(0) == 0, "\(table)")
            }
            let gone = await candorError { _ = try await h.store.visitor(browser, keyId: key) }
            #expect(gone?.kind == .notFound)
        }
    }

    @Test("The catalog: create, update, activate and pause; a paused prompt is never chosen", arguments: Backend.available)
    func catalog(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let draft = try await h.store.createPrompt(Prompt(name: "Nick", field: "nickname", triggers: [PromptTrigger(type: .pageView)], frequency: .always), by: h.principal)
            #expect(draft.status == .draft)
            let id = try #require(draft.id)
            let visitor = try await h.store.createVisitor(keyId: h.principal.key.id)
            #expect(try await Self.decide(h, visitor).offer == nil)
            #expect(try await h.store.setPromptStatus(id, .active, by: h.principal)?.status == .active)
            #expect(try await Self.decide(h, visitor).offer?.prompt.id == id)
            var changed = draft
            changed.name = "Nickname please"
            changed.status = nil
            let updated = try #require(try await h.store.updatePrompt(id, changed, by: h.principal))
            #expect(updated.name == "Nickname please" && updated.status == .active && updated.createdAt == draft.createdAt)
            #expect(try await h.store.setPromptStatus(id, .paused, by: h.principal)?.status == .paused)
            #expect(try await Self.decide(h, visitor).offer == nil)
            #expect(try await h.store.prompts().count == 1)
            #expect(try await h.store.updatePrompt("prm_missing", changed, by: h.principal) == nil)
        }
    }

    @Test("The state cache serves a visit's signals from memory until this node writes for the visitor or it ages out", arguments: Backend.available)
    func stateCache(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let ids = try await Self.seedPrompts(h)
            let key = h.principal.key.id
            let visitor = try await h.store.createVisitor(keyId: key)
            let cache = PromptStateCache(maxAgeSeconds: 5)
            let prompts = try await PromptCatalog(maxAgeSeconds: 0).prompts(h.store)
            func decide() async throws -> PromptDecision {
                try await h.store.decidePrompt(visitorId: visitor, keyId: key, signal: PromptSignal(url: Self.productPage), prompts: prompts,
                                               cooldownMillis: Self.week, cache: cache)
            }
            #expect(try await decide().offer?.prompt.id == ids.shoe)
            try await h.store.recordPromptDisplay(visitorId: visitor, keyId: key, promptId: ids.shoe, dismissal: false)
            // A write the cache was not told about is seen once the entry ages out …
            #expect(try await decide().offer?.prompt.id == ids.shoe, "still the remembered state")
            h.clock.advance(byMillis: 5_000)
            #expect(try await decide().silence == .cooldown)
            // … and at once when the node that wrote forgets the visitor.
            h.clock.advance(byMillis: Self.week)
            #expect(try await decide().offer?.prompt.id == ids.shoe)
            try await h.store.recordPromptDisplay(visitorId: visitor, keyId: key, promptId: ids.shoe, dismissal: false)
            cache.forget(keyId: key, visitorId: visitor)
            #expect(try await decide().silence == .cooldown)
        }
    }

    @Test("Identity signatures: HMAC-SHA256 of the external id under a per-key secret, derived and never stored", arguments: Backend.available)
    func identitySignatures(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let signature = h.store.identitySignature(keyId: "key_a", externalId: "cus_1")
            #expect(h.store.verifyIdentity(keyId: "key_a", externalId: "cus_1", signature: signature))
            #expect(h.store.verifyIdentity(keyId: "key_a", externalId: "cus_1", signature: signature.uppercased()))
            #expect(!h.store.verifyIdentity(keyId: "key_b", externalId: "cus_1", signature: signature), "secrets differ per key")
            #expect(!h.store.verifyIdentity(keyId: "key_a", externalId: "cus_2", signature: signature))
            #expect(!h.store.verifyIdentity(keyId: "key_a", externalId: "cus_1", signature: String(signature.dropLast())))
            #expect(h.store.identitySecret(keyId: "key_a") == h.store.identitySecret(keyId: "key_a"))
        }
    }
}
