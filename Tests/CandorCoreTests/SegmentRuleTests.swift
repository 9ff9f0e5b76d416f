import CandorCore
import Foundation
import Testing

@Suite struct SegmentRuleTests {
    func compile(_ text: String) -> Result<SegmentExpr, SegmentError> {
        SegmentRule.compile(text, fields: Sample.fields, purposes: Sample.purposes)
    }

    func failure(_ text: String) -> SegmentError? {
        if case .failure(let error) = compile(text) { return error }
        return nil
    }

    @Test(arguments: [
        #"interests has "running" and consent("offers") and not set(shoe_size)"#,
        #"favourite_sport = "yoga""#, #"favourite_sport != "yoga""#, #"favourite_sport in ["yoga", "hiking"]"#,
        #"interests has any ["yoga", "hiking"] or interests has all ["running", "yoga"]"#,
        "shoe_size < 40", "shoe_size <= 40", "shoe_size > 40", "shoe_size >= 40.5", "shoe_size between 38 and 44", "shoe_size in [40, 41]",
        "likes_email = true", "likes_email != false", #"nickname = "Bo""#, #"birthday between "1990-01-01" and "1999-12-31""#,
        "declared_within(interests, 90d) and declared_within(shoe_size, 12h) or declared_within(birthday, 2w)",
        "not (set(interests) or set(shoe_size))", "(((set(interests))))", "not not set(interests)",
        "set(interests)\n  and # a comment\n  consent(\"newsletter\")", "shoe_size > -3",
    ])
    func validRulesCompile(_ text: String) throws {
        _ = try compile(text).get()
    }

    @Test func precedenceIsNotThenAndThenOr() throws {
        let expr = try compile(#"set(interests) or set(shoe_size) and not set(birthday)"#).get()
        #expect(expr == .or(.isSet(field: "interests"), .and(.isSet(field: "shoe_size"), .not(.isSet(field: "birthday")))))
        #expect(try compile(#"interests has "yoga""#).get() == .has(field: "interests", all: true, ["yoga"]))
        #expect(try compile("declared_within(interests, 90d)").get() == .declaredWithin(field: "interests", millis: 90 * 86_400_000))
    }

    @Test(arguments: [
        // (rule, line, column, part of the message)
        (#"interests has "running" and"#, 1, 28, "expected a field"),
        (#"colour = "red""#, 1, 1, "unknown field 'colour'"),
        (#"set(interests"#, 1, 14, "expected ')'"),
        (#"shoe_size > "big""#, 1, 13, "expected a number"),
        (#"favourite_sport = "golf""#, 1, 19, "not an option"),
        (#"interests = "yoga""#, 1, 11, "use 'has'"),
        (#"favourite_sport has "yoga""#, 1, 17, "'has' applies to multi-choice"),
        (#"nickname < "a""#, 1, 10, "compares numbers and dates"),
        ("likes_email = 1", 1, 15, "expected true or false"),
        (#"consent("marketing")"#, 1, 9, "unknown purpose"),
        ("consent(offers)", 1, 9, "purpose name in quotes"),
        ("declared_within(interests, 90)", 1, 28, "expected a duration"),
        ("set(interests) set(shoe_size)", 1, 16, "expected 'and', 'or'"),
        ("(set(interests)", 1, 16, "')' to close"),
        ("shoe_size between 1 or 2", 1, 21, "expected 'and'"),
        ("set(interests) @", 1, 16, "unexpected character '@'"),
        ("set(interests) and\n  shoe_size ~ 3", 2, 13, "unexpected character"),
        ("set(interests) and\n  shoe_size 3", 2, 13, "expected '=', '!='"),
        (#"nickname = "open"#, 1, 12, "closing"),
        (#"birthday = "1990-02-30""#, 1, 12, "YYYY-MM-DD"),
        ("", 1, 1, "expected a field"),
        (#"interests has any ["yoga" "hiking"]"#, 1, 27, "',' or ']'"),
    ])
    func invalidRulesNameLineColumnAndExpectation(_ text: String, _ line: Int, _ column: Int, _ message: String) throws {
        let error = try #require(failure(text))
        #expect(error.line == line && error.column == column, "\(error)")
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func deepNestingIsRefusedNotCrashed() {
        #expect(failure(String(repeating: "(", count: 500) + "set(interests)" + String(repeating: ")", count: 500))?.message.contains("64 levels") == true)
        #expect(failure(String(repeating: "not ", count: 500) + "set(interests)")?.message.contains("64 levels") == true)
    }

    func profile(_ values: [String: JSONValue], consents: [String: ConsentStatus] = [:], status: SubjectStatus = .active, objected: Bool = false, declaredAt: Int64 = Sample.now) -> SegmentProfile {
        SegmentProfile(
            subjectId: "sub_1", status: status, hasObjected: objected,
            values: values.mapValues { DeclaredFact(field: "", value: $0, declaredAt: declaredAt, source: "api", collectionPoint: nil) }
                .reduce(into: [:]) { $0[$1.key] = DeclaredFact(field: $1.key, value: $1.value.value, declaredAt: declaredAt, source: "api", collectionPoint: "pc") },
            consents: consents.mapValues { ConsentRecord(purpose: "", status: $0, method: .api, noticeVersion: 1, updatedAt: 0, expiresAt: nil) })
    }

    func matches(_ rule: String, _ p: SegmentProfile) throws -> Bool {
        SegmentEvaluator.matches(try compile(rule).get(), p, purposes: Sample.purposes, now: Sample.now)
    }

    @Test func evaluatorFollowsTheDocumentedSemantics() throws {
        let runner = profile(["interests": .array([.string("running"), .string("yoga")]), "shoe_size": .number(42), "likes_email": .bool(true)], consents: ["offers": .granted])
        #expect(try matches(#"interests has "running" and consent("offers") and not set(birthday)"#, runner))
        #expect(try matches(#"interests has all ["running", "yoga"]"#, runner))
        #expect(try !matches(#"interests has all ["running", "hiking"]"#, runner))
        #expect(try matches("shoe_size between 42 and 42", runner))
        #expect(try !matches("shoe_size < 42", runner))
        // A comparison on a field that is not set is false, whichever way it points.
        #expect(try !matches(#"favourite_sport != "yoga""#, runner))
        #expect(try matches("declared_within(shoe_size, 1d)", runner))
        #expect(try !matches("declared_within(shoe_size, 1d)", profile(["shoe_size": .number(1)], declaredAt: Sample.now - 2 * 86_400_000)))
        // The purpose gate decides consent(): withdrawn, objection to marketing, or legal basis.
        #expect(try !matches(#"consent("newsletter")"#, runner))
        #expect(try !matches(#"consent("offers")"#, profile([:], consents: ["offers": .granted], objected: true)))
        #expect(try matches(#"consent("support")"#, profile([:])))
        // Restricted or erased people are in no segment, not even a negated one.
        #expect(try !matches("not set(birthday)", profile([:], status: .restricted)))
        #expect(try !matches("not set(birthday)", profile([:], status: .erased)))
    }

    @Test func reasonsNameTheFactsAndConsentThatHeld() throws {
        let p = profile(["interests": .array([.string("running")]), "shoe_size": .number(42)], consents: ["offers": .granted])
        let expr = try compile(#"(interests has "running" or favourite_sport = "yoga") and consent("offers") and not set(birthday) and shoe_size > 1"#).get()
        let (facts, consents) = SegmentEvaluator.reasons(expr, p, purposes: Sample.purposes, now: Sample.now)
        #expect(facts.map(\.field) == ["interests", "shoe_size"])
        #expect(facts[0].collectionPoint == "pc")
        #expect(consents == ["offers"])
    }
}

@Suite struct LiftTests {
    @Test func wilsonIntervalMatchesPublishedValues() {
        // Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662.
        let (low, high) = Lift.wilson(ConversionGroup(decisions: 263, conversions: 81))
        #expect(abs(low - 0.2553) < 0.0005 && abs(high - 0.3662) < 0.0005)
        let zero = Lift.wilson(ConversionGroup(decisions: 10, conversions: 0))
        #expect(zero.low == 0 && abs(zero.high - 0.2775) < 0.0005)
    }

    @Test func differenceIntervalMatchesNewcombeMethod10() {
        // Newcombe (1998), table II example (a): 56/70 − 48/80 → 0.2000, 0.0524 to 0.3339.
        let result = Lift.difference(ConversionGroup(decisions: 70, conversions: 56), ConversionGroup(decisions: 80, conversions: 48))
        #expect(abs(result.difference - 0.2) < 1e-9)
        #expect(abs(result.low - 0.0524) < 0.0005 && abs(result.high - 0.3339) < 0.0005)
    }

    @Test func emptyGroupsGiveTheWidestIntervalNotACrash() {
        let result = Lift.difference(ConversionGroup(decisions: 0, conversions: 0), ConversionGroup(decisions: 0, conversions: 0))
        #expect(result.difference == 0 && result.low == -1 && result.high == 1)
    }
}
