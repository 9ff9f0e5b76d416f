import CandorCore
import Foundation
import Testing

/// The targeting decision of in-funnel prompts: everything that decides whether a person is
/// interrupted, tested without a store.
@Suite("Prompt targeting")
struct PromptTargetingTests {
    static let day: Int64 = 86_400_000
    static let now = Sample.now
    static let shop = "https://shop.example/shoes/trail?colour=red"

    static func prompt(
        _ id: String, field: String = "shoe_size", triggers: [PromptTrigger] = [PromptTrigger(type: .pageView)], audience: String? = nil,
        frequency: PromptFrequency = .untilAnswered, maxDisplays: Int? = nil, sample: Int? = nil, priority: Int? = nil, refreshDays: Int? = nil,
        status: PromptStatus = .active
    ) -> CompiledPrompt {
        var input = Prompt(id: id, name: id, field: field, triggers: triggers, audience: audience, frequency: frequency, maxDisplays: maxDisplays,
                           samplePercent: sample, priority: priority, refreshDays: refreshDays, status: status)
        input.id = id
        switch PromptRules.validate(input, fields: Sample.fields, purposes: Sample.purposes) {
        case .success(let compiled): return compiled
        case .failure(let error): Issue.record("\(error.errors)"); return CompiledPrompt(prompt: input, audience: nil)
        }
    }

    static func profile(_ values: [String: JSONValue] = [:], declaredAt: Int64 = now - day, consents: [String: ConsentRecord] = [:]) -> SegmentProfile {
        SegmentProfile(subjectId: "sub_1", status: .active, hasObjected: false,
                       values: values.mapValues { DeclaredFact(field: "", value: $0, declaredAt: declaredAt, source: "prompt", collectionPoint: nil) }, consents: consents)
    }

    static func choose(
        _ prompts: [CompiledPrompt], _ signal: PromptSignal = PromptSignal(url: shop), visitor: String = "vis_a",
        person: PromptPersonState = PromptPersonState(), profile: SegmentProfile = profile(), cooldown: Int64 = PromptTargeting.defaultCooldownMillis
    ) -> PromptChoice {
        PromptTargeting.choose(prompts, signal: signal, visitorId: visitor, person: person, profile: { profile }, fields: Sample.fields,
                               purposes: Sample.purposes, cooldownMillis: cooldown, now: now)
    }

    // MARK: - Cooldown and "don't ask me again"

    @Test("the global cooldown counts from the last display of any prompt, 7 days by default")
    func cooldown() {
        let prompts = [Self.prompt("prm_a")]
        let justShown = PromptPersonState(lastDisplayAt: Self.now - 6 * Self.day)
        #expect(Self.choose(prompts, person: justShown).prompt == nil)
        #expect(Self.choose(prompts, person: justShown).silence == .cooldown)
        let longAgo = PromptPersonState(lastDisplayAt: Self.now - 7 * Self.day)
        #expect(Self.choose(prompts, person: longAgo).prompt?.id == "prm_a")
        // A workspace with a one-hour cooldown.
        let anHourAgo = PromptPersonState(lastDisplayAt: Self.now - 3_600_001)
        #expect(Self.choose(prompts, person: anHourAgo, cooldown: 3_600_000).prompt?.id == "prm_a")
        #expect(Self.choose(prompts, person: PromptPersonState(lastDisplayAt: Self.now - 60_000), cooldown: 3_600_000).prompt == nil)
    }

    @Test("\"don't ask me again\" silences every prompt, whatever else would allow one")
    func dontAsk() {
        let choice = Self.choose([Self.prompt("prm_a", frequency: .always)], person: PromptPersonState(dontAsk: true))
        #expect(choice.prompt == nil)
        #expect(choice.silence == .dontAsk)
        #expect(choice.watch == .nothing)
    }

    // MARK: - Frequency

    @Test("frequency: once, until answered, up to N and always; a dismissal counts as a display")
    func frequencies() {
        let shownOnce = PromptPersonState(history: ["prm_a": PromptHistory(displays: 1, lastDisplayAt: Self.now - 30 * Self.day)])
        #expect(Self.choose([Self.prompt("prm_a", frequency: .once)], person: shownOnce).prompt == nil)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .once)]).prompt != nil)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .untilAnswered)], person: shownOnce).prompt != nil)
        let answered = PromptPersonState(history: ["prm_a": PromptHistory(displays: 1, answeredAt: Self.now - 30 * Self.day)])
        #expect(Self.choose([Self.prompt("prm_a", frequency: .untilAnswered)], person: answered).prompt == nil)
        let twice = PromptPersonState(history: ["prm_a": PromptHistory(displays: 2, lastDisplayAt: Self.now - 30 * Self.day)])
        #expect(Self.choose([Self.prompt("prm_a", frequency: .upTo, maxDisplays: 3)], person: twice).prompt != nil)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .upTo, maxDisplays: 2)], person: twice).prompt == nil)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .always)], person: twice).prompt != nil)
        // History is per prompt: another prompt's displays do not count against this one.
        #expect(Self.choose([Self.prompt("prm_b", frequency: .once)], person: shownOnce).prompt?.id == "prm_b")
    }

    @Test("merging an anonymous history with the person's adds displays and keeps the latest times")
    func mergeHistory() {
        let anonymous = PromptHistory(displays: 1, answeredAt: nil, lastDisplayAt: 100)
        let person = PromptHistory(displays: 2, answeredAt: 50, lastDisplayAt: 60)
        #expect(anonymous.merged(with: person) == PromptHistory(displays: 3, answeredAt: 50, lastDisplayAt: 100))
        // Dismissals and answers add up too.
        let closed = PromptHistory(displays: 2, lastDisplayAt: 10, dismissals: 2)
        let answered = PromptHistory(displays: 1, answeredAt: 20, lastDisplayAt: 20, answers: 1)
        #expect(closed.merged(with: answered) == PromptHistory(displays: 3, answeredAt: 20, lastDisplayAt: 20, dismissals: 2, answers: 1))
    }

    // MARK: - Sampling

    @Test("sampling is sticky per visitor and prompt, and close to the percentage over many visitors")
    func sampling() {
        let prompt = Self.prompt("prm_s", frequency: .always, sample: 30)
        var shown = 0
        for index in 0..<4000 {
            let visitor = "vis_\(index)"
            let first = Self.choose([prompt], visitor: visitor).prompt != nil
            // The same visitor gets the same answer every time.
            for _ in 0..<2 { #expect((Self.choose([prompt], visitor: visitor).prompt != nil) == first) }
            if first { shown += 1 }
        }
        #expect((1000...1400).contains(shown), "30% of 4000 is 1200; got \(shown)")
        #expect(Self.choose([Self.prompt("prm_s", sample: 0)]).prompt == nil)
        #expect(Self.choose([Self.prompt("prm_s", sample: 100)]).prompt != nil)
        // Different prompts sample independently.
        let inA = (0..<400).filter { PromptTargeting.isSampled(visitorId: "vis_\($0)", promptId: "prm_a", percent: 50) }
        let inB = (0..<400).filter { PromptTargeting.isSampled(visitorId: "vis_\($0)", promptId: "prm_b", percent: 50) }
        #expect(inA != inB)
    }

    // MARK: - Triggers

    @Test("URL rules: equals, prefix, contains and glob over the path and query")
    func urlRules() {
        #expect(PromptURLRule(match: .equals, value: "/shoes/trail?colour=red").matches(Self.shop))
        #expect(!PromptURLRule(match: .equals, value: "/shoes/trail").matches(Self.shop))
        #expect(PromptURLRule(match: .prefix, value: "/shoes/").matches(Self.shop))
        #expect(!PromptURLRule(match: .prefix, value: "/bags/").matches(Self.shop))
        #expect(PromptURLRule(match: .contains, value: "colour=red").matches(Self.shop))
        #expect(PromptURLRule(match: .glob, value: "/shoes/*").matches(Self.shop))
        #expect(PromptURLRule(match: .glob, value: "/*/trail?colour=*").matches(Self.shop))
        #expect(PromptURLRule(match: .glob, value: "/shoes/tra?l*").matches(Self.shop))
        #expect(!PromptURLRule(match: .glob, value: "/shoes/road*").matches(Self.shop))
        #expect(PromptURLRule(match: .equals, value: "/").matches("https://shop.example"))
        #expect(PromptURLRule(match: .equals, value: "/a").matches("/a#top"))
        // Regular-expression characters are plain characters.
        #expect(!PromptURLRule(match: .glob, value: "/shoes/.*").matches(Self.shop))
        // The path and query of what browsers send, non-ASCII included.
        #expect(PromptURLRule.pathAndQuery("https://shop.example/נעליים/ריצה?מידה=42#top") == "/נעליים/ריצה?מידה=42")
        #expect(PromptURLRule.pathAndQuery("https://shop.example?q=1") == "/?q=1")
        #expect(PromptURLRule.pathAndQuery("https://shop.example:8443/a/b") == "/a/b")
        #expect(PromptURLRule.pathAndQuery("/only/path?x=https://other.example/") == "/only/path?x=https://other.example/")
        #expect(PromptURLRule.pathAndQuery("mailto:x") == "mailto:x")
        #expect(PromptURLRule.pathAndQuery("") == "")
        #expect(PromptSignal(url: "https://shop.example/a?b#c").page == "/a?b")
    }

    @Test("the intro leads into the question in the same language, never English above Hebrew; bad intros are named")
    func intro() throws {
        let field = try #require(Sample.fields["shoe_size"])
        var prompt = Prompt(name: "Shoe size", field: "shoe_size", texts: ["en": PromptText(question: "Your size?", intro: "One quick question.")],
                            triggers: [PromptTrigger(type: .pageView)], frequency: .once)
        #expect(prompt.intro(locale: "en", field: field) == "One quick question.")
        // A locale with its own wording gets its own intro (or none); one asked through the field's own
        // label gets none; one with neither falls back to English, question and intro alike.
        prompt.texts?["he"] = PromptText(question: "מה המידה?")
        #expect(prompt.intro(locale: "he", field: field) == nil)
        prompt.texts?["he"] = PromptText(question: "מה המידה?", intro: "שאלה קצרה.")
        #expect(prompt.intro(locale: "he", field: field) == "שאלה קצרה.")
        var labelled = field
        labelled.labels["fr"] = "Pointure"
        #expect(prompt.intro(locale: "fr", field: labelled) == nil && prompt.question(locale: "fr", field: labelled) == "Pointure")
        var unlabelled = field
        unlabelled.labels["fr"] = nil
        #expect(prompt.intro(locale: "fr", field: unlabelled) == "One quick question.")

        func errors(_ intro: String) -> [String] {
            var input = prompt
            input.texts = ["en": PromptText(question: "Your size?", intro: intro)]
            guard case .failure(let error) = PromptRules.validate(input, fields: Sample.fields, purposes: Sample.purposes) else { return [] }
            return error.errors.map(\.field)
        }
        #expect(errors(String(repeating: "a", count: PromptText.maxIntroLength)).isEmpty)
        #expect(errors(String(repeating: "a", count: PromptText.maxIntroLength + 1)) == ["texts.en.intro"])
        #expect(errors(" \n ") == ["texts.en.intro"])
        #expect(errors("first line\nsecond line") == ["texts.en.intro"])
        // Stored trimmed.
        var padded = prompt
        padded.texts = ["en": PromptText(question: "Your size?", intro: "  Hello.  ")]
        #expect(try PromptRules.validate(padded, fields: Sample.fields, purposes: Sample.purposes).get().prompt.texts?["en"]?.intro == "Hello.")
    }

    @Test("triggers: page view, custom event, exit intent, scroll depth and dwell time, each with its URL rule")
    func triggers() {
        let event = Self.prompt("prm_e", triggers: [PromptTrigger(type: .event, event: "added_to_cart")])
        #expect(Self.choose([event]).prompt == nil)
        #expect(Self.choose([event], PromptSignal(url: Self.shop, event: "added_to_cart")).prompt != nil)
        #expect(Self.choose([event], PromptSignal(url: Self.shop, event: "checkout")).prompt == nil)
        let exit = Self.prompt("prm_x", triggers: [PromptTrigger(type: .exitIntent)])
        #expect(Self.choose([exit]).prompt == nil)
        #expect(Self.choose([exit], PromptSignal(url: Self.shop, exitIntent: true)).prompt != nil)
        let scroll = Self.prompt("prm_sc", triggers: [PromptTrigger(type: .scroll, url: PromptURLRule(match: .prefix, value: "/shoes"), percent: 50)])
        #expect(Self.choose([scroll], PromptSignal(url: Self.shop, scrollPercent: 49)).prompt == nil)
        #expect(Self.choose([scroll], PromptSignal(url: Self.shop, scrollPercent: 50)).prompt != nil)
        #expect(Self.choose([scroll], PromptSignal(url: "/bags", scrollPercent: 90)).prompt == nil)
        let dwell = Self.prompt("prm_d", triggers: [PromptTrigger(type: .dwell, seconds: 20)])
        #expect(Self.choose([dwell], PromptSignal(url: Self.shop, dwellSeconds: 19)).prompt == nil)
        #expect(Self.choose([dwell], PromptSignal(url: Self.shop, dwellSeconds: 20)).prompt != nil)
        let page = Self.prompt("prm_p", triggers: [PromptTrigger(type: .pageView, url: PromptURLRule(match: .prefix, value: "/bags"))])
        #expect(Self.choose([page]).prompt == nil)
        #expect(Self.choose([page], PromptSignal(url: "https://shop.example/bags/day")).prompt != nil)
        // A page-view prompt is not pre-empting the later signals of the page.
        #expect(Self.choose([page], PromptSignal(url: "https://shop.example/bags/day", event: "added_to_cart")).prompt == nil)
        #expect(Self.choose([page], PromptSignal(url: "https://shop.example/bags/day", scrollPercent: 60)).prompt == nil)
    }

    @Test("the watch list names only the thresholds of prompts that could still fire on this page")
    func watchList() {
        let prompts = [
            Self.prompt("prm_1", triggers: [PromptTrigger(type: .scroll, percent: 50), PromptTrigger(type: .dwell, seconds: 10)]),
            Self.prompt("prm_2", field: "interests", triggers: [PromptTrigger(type: .scroll, url: PromptURLRule(match: .prefix, value: "/bags"), percent: 75),
                                                               PromptTrigger(type: .event, event: "added_to_cart"), PromptTrigger(type: .exitIntent)]),
            Self.prompt("prm_3", field: "birthday", triggers: [PromptTrigger(type: .dwell, seconds: 5)], frequency: .once),
        ]
        let shownP3 = PromptPersonState(history: ["prm_3": PromptHistory(displays: 1, lastDisplayAt: Self.now - 30 * Self.day)])
        let choice = Self.choose(prompts, person: shownP3)
        #expect(choice.prompt == nil)
        #expect(choice.watch == PromptWatch(scroll: [50], dwell: [10], exitIntent: true, events: ["added_to_cart"]))
    }

    // MARK: - Audience and known fields

    @Test("audience rules use the segment language, including \"field not set\" and consent")
    func audience() {
        let notSet = Self.prompt("prm_a", audience: "not set(shoe_size)")
        #expect(Self.choose([notSet]).prompt != nil)
        let runners = Self.prompt("prm_r", field: "shoe_size", audience: #"interests has "running" and consent("offers")"#)
        #expect(Self.choose([runners], profile: Self.profile(["interests": .array([.string("running")])])).prompt == nil, "no consent yet")
        let consented = Self.profile(["interests": .array([.string("running")])],
                                     consents: ["offers": ConsentRecord(purpose: "offers", status: .granted, method: .checkbox, noticeVersion: 1, updatedAt: Self.now - Self.day, expiresAt: nil)])
        #expect(Self.choose([runners], profile: consented).prompt?.id == "prm_r")
        #expect(Self.choose([runners], profile: Self.profile(["interests": .array([.string("yoga")])])).prompt == nil)
    }

    @Test("a field the person already declared is never asked again; refresh_days re-asks stale answers only")
    func knownField() {
        let declared = Self.profile(["shoe_size": .number(42)], declaredAt: Self.now - 400 * Self.day)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .always)], profile: declared).prompt == nil)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .always, refreshDays: 365)], profile: declared).prompt != nil)
        let fresh = Self.profile(["shoe_size": .number(42)], declaredAt: Self.now - 10 * Self.day)
        #expect(Self.choose([Self.prompt("prm_a", frequency: .always, refreshDays: 365)], profile: fresh).prompt == nil)
    }

    @Test("the profile is read only when a prompt survives the cheap checks")
    func lazyProfile() {
        var reads = 0
        let event = Self.prompt("prm_e", triggers: [PromptTrigger(type: .event, event: "added_to_cart")])
        _ = PromptTargeting.choose([event], signal: PromptSignal(url: Self.shop), visitorId: "vis_a", person: PromptPersonState(),
                                   profile: { reads += 1; return Self.profile() }, fields: Sample.fields, purposes: Sample.purposes, now: Self.now)
        #expect(reads == 0)
        _ = PromptTargeting.choose([event, Self.prompt("prm_b"), Self.prompt("prm_c", field: "interests")], signal: PromptSignal(url: Self.shop, event: "added_to_cart"),
                                   visitorId: "vis_a", person: PromptPersonState(), profile: { reads += 1; return Self.profile(["shoe_size": .number(40)]) },
                                   fields: Sample.fields, purposes: Sample.purposes, now: Self.now)
        #expect(reads == 1)
    }

    // MARK: - Order, status, delay

    @Test("one prompt at a time: the highest priority wins, then the id; paused and draft prompts never show")
    func priority() {
        let low = Self.prompt("prm_a", field: "interests", priority: 1)
        let high = Self.prompt("prm_b", field: "birthday", priority: 9)
        #expect(Self.choose([low, high]).prompt?.id == "prm_b")
        #expect(Self.choose([high, low]).prompt?.id == "prm_b", "the catalog's order (already sorted) gives the same answer")
        #expect(PromptTargeting.ordered([low, high]).map(\.id) == ["prm_b", "prm_a"] && PromptTargeting.ordered([high, low]).map(\.id) == ["prm_b", "prm_a"])
        #expect(Self.choose([Self.prompt("prm_z"), Self.prompt("prm_y", field: "interests")]).prompt?.id == "prm_y")
        #expect(Self.choose([Self.prompt("prm_a", status: .paused), Self.prompt("prm_b", field: "interests", status: .draft)]).prompt == nil)
    }

    @Test("the delay travels with the chosen prompt")
    func delay() {
        var input = Prompt(id: "prm_d", name: "d", field: "shoe_size", triggers: [PromptTrigger(type: .pageView)], frequency: .once, delaySeconds: 3, status: .active)
        input.id = "prm_d"
        let compiled = try! PromptRules.validate(input, fields: Sample.fields, purposes: Sample.purposes).get()
        #expect(Self.choose([compiled]).prompt?.prompt.delaySeconds == 3)
    }

    // MARK: - Validation

    @Test("bad prompts are refused with every offending field named")
    func validation() {
        let bad = Prompt(name: "", field: "no_such_field", texts: ["english": PromptText(question: "")],
                         triggers: [PromptTrigger(type: .scroll, percent: 0), PromptTrigger(type: .dwell), PromptTrigger(type: .event, event: "bad event!"),
                                    PromptTrigger(type: .pageView, url: PromptURLRule(match: .prefix, value: ""))],
                         audience: "interests has", frequency: .upTo, samplePercent: 101, delaySeconds: -1, priority: 5000, refreshDays: 0)
        guard case .failure(let error) = PromptRules.validate(bad, fields: Sample.fields, purposes: Sample.purposes) else {
            Issue.record("a bad prompt was accepted")
            return
        }
        let named = Set(error.errors.map(\.field))
        for field in ["name", "field", "texts.english", "texts.english.question", "triggers[0].percent", "triggers[1].seconds", "triggers[2].event",
                      "triggers[3].url.value", "audience", "max_displays", "sample_percent", "delay_seconds", "priority", "refresh_days"] {
            #expect(named.contains(field), "\(field) should be named; got \(named.sorted())")
        }
        let noNotice = Prompt(name: "topic", field: "survey_topic", triggers: [PromptTrigger(type: .pageView)], frequency: .once)
        #expect(PromptRules.validate(noNotice, fields: Sample.fields, purposes: Sample.purposes).fieldErrors.map(\.field) == ["field"])
        let noTriggers = Prompt(name: "x", field: "shoe_size", triggers: [], frequency: .once, maxDisplays: 2)
        #expect(Set(PromptRules.validate(noTriggers, fields: Sample.fields, purposes: Sample.purposes).fieldErrors.map(\.field)) == ["triggers", "max_displays"])
    }
}
