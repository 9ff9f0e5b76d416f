import CandorCore
import Testing

@Suite("Declaration validation")
struct DeclarationRulesTests {
    @Test("A valid declaration is accepted and records the notice version cited for every purpose the field serves")
    func acceptsValidDeclaration() throws {
        // Given a multi-choice field serving newsletter (notice v2) and offers (notice v1)
        // When a person declares two of its options, citing the current notices
        let values = try Sample.declare([("interests", .array([.string("running"), .string("yoga")]))]).get()

        // Then the value is kept as declared, with both notice versions recorded next to it
        #expect(values == [ValidatedValue(field: "interests", value: .array([.string("running"), .string("yoga")]), notices: ["newsletter": 2, "offers": 1])])
    }

    @Test("An unknown field is refused and named")
    func refusesUnknownField() {
        // When a value is declared for a field the registry does not have
        let result = Sample.declare([("likes_email", .bool(true)), ("shoe_colour", .string("red"))])

        // Then the second value's field is named as the problem
        #expect(result.errorPaths == ["values[1].field"])
        #expect(result.fieldErrors.first?.message.contains("shoe_colour") == true)
    }

    @Test("A value outside a field's options is refused", arguments: [
        ("favourite_sport", JSONValue.string("chess"), "values[0].value"),
        ("interests", JSONValue.array([.string("running"), .string("chess")]), "values[0].value[1]"),
    ])
    func refusesValueOutsideOptions(field: String, value: JSONValue, path: String) {
        let result = Sample.declare([(field, value)])
        #expect(result.errorPaths == [path])
        #expect(result.fieldErrors.first?.message.contains("'chess' is not an option") == true)
    }

    @Test("A value of the wrong type is refused", arguments: [
        ("shoe_size", JSONValue.string("42")),
        ("likes_email", JSONValue.string("yes")),
        ("interests", JSONValue.string("running")),
        ("favourite_sport", JSONValue.array([.string("running")])),
        ("nickname", JSONValue.number(7)),
        ("birthday", JSONValue.number(20240229)),
        ("interests", JSONValue.array([.number(1)])),
    ])
    func refusesWrongType(field: String, value: JSONValue) {
        let result = Sample.declare([(field, value)])
        #expect(result.value == nil)
        #expect(result.errorPaths.count == 1)
        #expect(result.errorPaths.first?.hasPrefix("values[0].value") == true)
    }

    @Test("A field that serves a purpose needs that purpose's notice cited")
    func refusesMissingNotice() {
        // Given interests serves newsletter and offers; when only the offers notice is cited
        let result = Sample.declare([("interests", .array([.string("running")]))], notices: ["offers": 1])

        // Then the missing newsletter notice is named
        #expect(result.errorPaths == ["notices.newsletter"])
    }

    @Test("A notice version that does not exist is refused", arguments: [0, 3, -1])
    func refusesUnknownNoticeVersion(version: Int) {
        let result = Sample.declare([("likes_email", .bool(true))], notices: ["newsletter": version])
        #expect(result.errorPaths == ["notices.newsletter"])
        #expect(result.fieldErrors.first?.message.contains("does not exist") == true)
    }

    @Test("A purpose without any published notice cannot be declared for")
    func refusesPurposeWithoutNotice() {
        let result = Sample.declare([("survey_topic", .string("a"))], notices: ["research": 1])
        #expect(result.errorPaths == ["notices.research"])
    }

    @Test("A superseded notice version is refused: the person must see the current wording")
    func refusesSupersededNotice() {
        // Given newsletter's current notice is v2; when the caller cites v1
        let result = Sample.declare([("likes_email", .bool(true))], notices: ["newsletter": 1])

        // Then the declaration is refused, saying which version supersedes it
        #expect(result.errorPaths == ["notices.newsletter"])
        #expect(result.fieldErrors.first?.message.contains("superseded by version 2") == true)
    }

    @Test("Citing a purpose that does not exist is refused")
    func refusesUnknownPurposeInNotices() {
        var notices = Sample.currentNotices
        notices["telepathy"] = 1
        let result = Sample.declare([("likes_email", .bool(true))], notices: notices)
        #expect(result.errorPaths == ["notices.telepathy"])
    }

    @Test("The same field twice in one declaration is refused")
    func refusesDuplicateField() {
        let result = Sample.declare([("shoe_size", .number(42)), ("shoe_size", .number(43))])
        #expect(result.errorPaths == ["values[1].field"])
        #expect(result.fieldErrors.first?.message.contains("declared twice") == true)
    }

    @Test("Every problem is reported at once, not only the first")
    func reportsAllProblems() {
        let result = Sample.declare([("shoe_size", .number(99)), ("nope", .bool(true)), ("favourite_sport", .string("chess"))])
        #expect(Set(result.errorPaths) == ["values[0].value", "values[1].field", "values[2].value"])
    }

    @Test("An empty declaration is refused")
    func refusesEmptyDeclaration() {
        #expect(Sample.declare([]).errorPaths == ["values"])
    }

    @Test("An unknown source is refused")
    func refusesUnknownSource() {
        let input = DeclarationInput(values: [DeclaredValueInput(field: "likes_email", value: .bool(true))], notices: Sample.currentNotices, source: "scraped")
        let result = DeclarationRules.validate(input, fields: Sample.fields, purposes: Sample.purposes)
        #expect(result.errorPaths == ["source"])
    }

    @Test("Multi-choice answers are de-duplicated, keeping the person's order")
    func normalisesMultiChoice() throws {
        let values = try Sample.declare([("interests", .array([.string("yoga"), .string("running"), .string("yoga"), .string("running")]))]).get()
        #expect(values.first?.value == .array([.string("yoga"), .string("running")]))
    }

    @Test("Text is trimmed, and longer than the field's limit is refused")
    func normalisesText() throws {
        let values = try Sample.declare([("nickname", .string("  Ada \n"))]).get()
        #expect(values.first?.value == .string("Ada"))
        #expect(Sample.declare([("nickname", .string("Ada Lovelace"))]).errorPaths == ["values[0].value"])
    }

    @Test("null clears a field and is accepted for any type")
    func acceptsNullAsClear() throws {
        let values = try Sample.declare([("shoe_size", .null), ("interests", .null)]).get()
        #expect(values.map(\.value) == [.null, .null])
    }

    @Test("Numbers must lie within the field's bounds, which are inclusive", arguments: [
        (30.0, true), (50.0, true), (42.5, true), (29.99, false), (50.01, false), (-40, false),
    ])
    func checksNumberBounds(number: Double, isAccepted: Bool) {
        let result = Sample.declare([("shoe_size", .number(number))])
        #expect((result.value != nil) == isAccepted)
        if !isAccepted { #expect(result.errorPaths == ["values[0].value"]) }
    }

    @Test("Numbers that are not finite are refused", arguments: [Double.nan, .infinity, -.infinity])
    func refusesNonFiniteNumbers(number: Double) {
        #expect(Sample.declare([("shoe_size", .number(number))]).errorPaths == ["values[0].value"])
    }

    @Test("Dates must be real calendar days written as YYYY-MM-DD", arguments: [
        ("2024-02-29", true),  // divisible by 4
        ("2000-02-29", true),  // divisible by 400
        ("2023-02-29", false), // not a leap year
        ("1900-02-29", false), // divisible by 100 but not 400
        ("2023-02-28", true),
        ("2024-04-30", true),
        ("2024-04-31", false),
        ("2024-12-31", true),
        ("2024-13-01", false),
        ("2024-00-10", false),
        ("2024-01-00", false),
        ("0000-01-01", false),
        ("2024-2-01", false),
        ("24-02-01", false),
        ("2024/02/01", false),
        ("2024-02-01T00:00:00Z", false),
        ("", false),
    ])
    func checksDates(text: String, isAccepted: Bool) {
        let result = Sample.declare([("birthday", .string(text))])
        #expect((result.value != nil) == isAccepted, "\(text)")
    }
}
