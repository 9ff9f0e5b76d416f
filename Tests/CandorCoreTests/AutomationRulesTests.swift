import CandorCore
import Foundation
import Testing

/// The pure decisions of automations: validation, event matching, loop prevention, the set-field
/// permission, alert channels and the declared-frequency windows (month ends included).
@Suite struct AutomationRulesTests {
    let message = ["en": AutomationMessage(subject: "Hi", text: "Hello")]

    func input(_ trigger: AutomationTrigger, rule: String? = nil, actions: [AutomationAction]) -> AutomationInput {
        AutomationInput(name: "Follow up", trigger: trigger, rule: rule, actions: actions)
    }

    func problems(_ input: AutomationInput) -> [String] {
        AutomationRules.validate(input, fields: Sample.fields, purposes: Sample.purposes).errors.map(\.field)
    }

    @Test func aValidAutomationHasNoProblemsAndItsRuleIsCompiled() {
        let valid = input(AutomationTrigger(event: "declaration.recorded", fields: ["interests"]), rule: #"interests has "running""#, actions: [
            AutomationAction(type: .callDestination, destinationId: "dst_1"),
            AutomationAction(type: .sendEmail, purpose: "newsletter", content: message),
            AutomationAction(type: .issueIncentive, poolId: "ipl_1"),
            AutomationAction(type: .setField, field: "favourite_sport", value: .string("yoga"), permission: AutomationPermission(field: "likes_email", value: .bool(true))),
            AutomationAction(type: .alert, purpose: "newsletter", content: message),
        ])
        let result = AutomationRules.validate(valid, fields: Sample.fields, purposes: Sample.purposes)
        #expect(result.errors.isEmpty)
        #expect(result.rule == SegmentExpr.has(field: "interests", all: true, ["running"]))
    }

    @Test func badInputNamesEachField() {
        #expect(problems(input(AutomationTrigger(event: "order.placed"), actions: [AutomationAction(type: .callDestination, destinationId: "d")])) == ["trigger.event"])
        #expect(problems(input(AutomationTrigger(event: "consent.granted", fields: ["interests"]), actions: [AutomationAction(type: .callDestination, destinationId: "d")]))
            == ["trigger.fields"])
        #expect(problems(input(AutomationTrigger(event: "declaration.recorded", fields: ["colour"]), actions: [AutomationAction(type: .callDestination, destinationId: "d")]))
            == ["trigger.fields[0]"])
        #expect(problems(input(AutomationTrigger(event: "gpc.received"), actions: [])) == ["actions"])
        #expect(problems(input(AutomationTrigger(event: "gpc.received"), actions: [AutomationAction(type: .sendEmail, purpose: "nope")]))
            == ["actions[0].purpose", "actions[0].content"])
        #expect(problems(input(AutomationTrigger(event: "gpc.received"), actions: [AutomationAction(type: .setField, field: "favourite_sport", value: .string("yoga"))]))
            == ["actions[0].permission"])
        #expect(problems(input(AutomationTrigger(event: "gpc.received"), actions: [AutomationAction(type: .setField, field: "favourite_sport", value: .string("golf"),
                                                                                                         permission: AutomationPermission(field: "likes_email", value: .bool(true)))]))
            == ["actions[0].value"])
        var unknown = AutomationAction(type: .alert)
        unknown.type = "fax"
        #expect(problems(input(AutomationTrigger(event: "gpc.received"), actions: [unknown])) == ["actions[0].type"])
    }

    @Test func aBadRuleIsRefusedWithItsPosition() throws {
        let errors = AutomationRules.validate(input(AutomationTrigger(event: "gpc.received"), rule: #"interests has "running" and"#,
                                                    actions: [AutomationAction(type: .callDestination, destinationId: "d")]),
                                              fields: Sample.fields, purposes: Sample.purposes).errors
        let error = try #require(errors.first)
        #expect(error.field == "rule")
        #expect(error.message.hasPrefix("line 1, column 28"))
    }

    @Test func eventsMatchTheirTriggerAndFilter() {
        let values: [String: JSONValue] = ["values": .array([.object(["field": .string("interests"), "value": .array([.string("yoga")])])])]
        #expect(AutomationRules.matches(AutomationTrigger(event: "declaration.recorded"), type: "declaration.recorded", data: values))
        #expect(AutomationRules.matches(AutomationTrigger(event: "declaration.recorded", fields: ["interests"]), type: "declaration.recorded", data: values))
        #expect(!AutomationRules.matches(AutomationTrigger(event: "declaration.recorded", fields: ["shoe_size"]), type: "declaration.recorded", data: values))
        #expect(!AutomationRules.matches(AutomationTrigger(event: "declaration.recorded"), type: "consent.granted", data: values))
        #expect(AutomationRules.matches(AutomationTrigger(event: "consent.withdrawn", purposes: ["offers"]), type: "consent.withdrawn", data: ["purpose": .string("offers")]))
        #expect(!AutomationRules.matches(AutomationTrigger(event: "consent.withdrawn", purposes: ["offers"]), type: "consent.withdrawn", data: ["purpose": .string("newsletter")]))
        #expect(AutomationRules.matches(AutomationTrigger(event: "survey.completed", surveys: ["srv_1"]), type: "survey.completed", data: ["survey_id": .string("srv_1")]))
        #expect(!AutomationRules.matches(AutomationTrigger(event: "incentive.issued", surveys: ["srv_1"]), type: "incentive.issued", data: ["automation_id": .string("aut_1")]))
        #expect(AutomationRules.matches(AutomationTrigger(event: "rights.completed", requestTypes: ["access"]), type: "rights.completed", data: ["request_type": .string("access")]))
        #expect(AutomationRules.matches(AutomationTrigger(event: "gpc.received"), type: "gpc.received", data: [:]))
    }

    @Test func anAutomationNeverFiresOnAnEventItCausedAndChainsAreBounded() {
        #expect(AutomationRules.loopCheck("aut_a", chain: []) == .allowed)
        #expect(AutomationRules.loopCheck("aut_b", chain: ["aut_a"]) == .allowed)
        // A caused B's event directly; A then B caused the next one: A never fires on either.
        #expect(AutomationRules.loopCheck("aut_a", chain: ["aut_a"]) == .loop)
        #expect(AutomationRules.loopCheck("aut_a", chain: ["aut_a", "aut_b"]) == .loop)
        #expect(AutomationRules.loopCheck("aut_b", chain: ["aut_a", "aut_b"]) == .loop)
        let deep = (1...AutomationRules.maxChainDepth).map { "aut_\($0)" }
        #expect(AutomationRules.loopCheck("aut_new", chain: deep) == .depthLimit)
        #expect(AutomationRules.loopCheck("aut_new", chain: Array(deep.dropLast())) == .allowed)
    }

    @Test func setFieldActsOnlyWhereThePersonsDeclarationAllowsIt() {
        let yes = AutomationPermission(field: "frequency_followups", value: .string("yes"))
        #expect(AutomationRules.permits(yes, current: .string("yes")))
        #expect(!AutomationRules.permits(yes, current: .string("no")))
        #expect(!AutomationRules.permits(yes, current: nil))
        #expect(AutomationRules.permits(AutomationPermission(field: "channels", value: .string("email")), current: .array([.string("sms"), .string("email")])))
        #expect(!AutomationRules.permits(AutomationPermission(field: "channels", value: .string("email")), current: .array([.string("sms")])))
        #expect(AutomationRules.permits(AutomationPermission(field: "likes_email", value: .bool(true)), current: .bool(true)))
        #expect(!AutomationRules.permits(AutomationPermission(field: "likes_email", value: .bool(true)), current: .bool(false)))
    }

    @Test func alertsTakeOnlyAChannelThePersonDeclared() {
        #expect(AlertRoute.choose(declared: .array([.string("email")]), hasEmail: true, canSendMail: true, hasDestination: false) == .email)
        #expect(AlertRoute.choose(declared: .array([.string("sms"), .string("email")]), hasEmail: true, canSendMail: true, hasDestination: true) == .email)
        #expect(AlertRoute.choose(declared: .array([.string("sms"), .string("email")]), hasEmail: false, canSendMail: true, hasDestination: true) == .webhook(channel: "sms"))
        #expect(AlertRoute.choose(declared: .array([.string("sms")]), hasEmail: true, canSendMail: true, hasDestination: false) == .skip(reason: "no_destination_for_channel"))
        #expect(AlertRoute.choose(declared: .array([.string("email")]), hasEmail: false, canSendMail: true, hasDestination: true) == .skip(reason: "no_email"))
        #expect(AlertRoute.choose(declared: nil, hasEmail: true, canSendMail: true, hasDestination: true) == .skip(reason: "no_channel_declared"))
    }

    @Test func theDeclaredFrequencyMapsToAWindow() {
        #expect(AlertFrequency.of(.string("daily")) == .daily)
        #expect(AlertFrequency.of(.string("weekly")) == .weekly)
        #expect(AlertFrequency.of(.string("monthly")) == .monthly)
        #expect(AlertFrequency.of(nil) == .weekly)
        #expect(AlertFrequency.of(.string("hourly")) == .weekly)
    }

    @Test func aSecondAlertWithinTheWeekIsDeferredUntilTheWeekIsOver() {
        let sent = Sample.now
        let day: Int64 = 86_400_000
        #expect(AlertFrequency.weekly.decide(lastSentAt: nil, now: sent) == .send)
        #expect(AlertFrequency.weekly.decide(lastSentAt: sent, now: sent + 6 * day) == .deferred(until: sent + 7 * day))
        #expect(AlertFrequency.weekly.decide(lastSentAt: sent, now: sent + 7 * day) == .send)
        #expect(AlertFrequency.daily.decide(lastSentAt: sent, now: sent + day - 1) == .deferred(until: sent + day))
        #expect(AlertFrequency.daily.decide(lastSentAt: sent, now: sent + day) == .send)
    }

    @Test(arguments: [
        ("2026-01-31T10:00:00.000Z", "2026-02-28T10:00:00.000Z"),
        ("2028-01-31T10:00:00.000Z", "2028-02-29T10:00:00.000Z"),
        ("2026-03-31T23:59:59.500Z", "2026-04-30T23:59:59.500Z"),
        ("2026-12-15T08:00:00.000Z", "2027-01-15T08:00:00.000Z"),
        ("2026-02-28T00:00:00.000Z", "2026-03-28T00:00:00.000Z"),
    ])
    func monthlyWindowsFollowTheCalendarAndClampAtMonthEnds(_ sent: String, _ next: String) throws {
        let at = try #require(Timestamp.parse(sent))
        #expect(Timestamp.rfc3339(AlertFrequency.monthly.nextAllowed(after: at)) == next)
        #expect(AlertFrequency.monthly.decide(lastSentAt: at, now: try #require(Timestamp.parse(next)) - 1) != .send)
        #expect(AlertFrequency.monthly.decide(lastSentAt: at, now: try #require(Timestamp.parse(next))) == .send)
    }

    @Test func messagesPickTheDeclaredLanguageThenTheDefault() {
        let both = AutomationAction(type: .sendEmail, purpose: "newsletter", content: ["en": AutomationMessage(subject: "Hi", text: "x"), "he": AutomationMessage(subject: "שלום", text: "x")])
        #expect(both.locale(for: "he") == "he")
        #expect(both.locale(for: "fr") == "en")
        var hebrewFirst = both
        hebrewFirst.defaultLocale = "he"
        #expect(hebrewFirst.locale(for: nil) == "he")
    }
}
