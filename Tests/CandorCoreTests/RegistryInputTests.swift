import CandorCore
import Testing

@Suite("Registry input validation")
struct RegistryInputTests {
    func fieldInput(sensitivity: String? = nil, purposes: [String] = ["offers"]) -> FieldInput {
        FieldInput(key: "health_goal", type: "single_choice", options: ["lose_weight", "run_faster"], purposes: purposes, sensitivity: sensitivity, labels: ["en": "Your goal"])
    }

    func validated(_ input: FieldInput, allowSpecialCategory: Bool = false) -> Result<Field, CandorError> {
        input.validated(id: "fld_x", createdAt: Sample.createdAt, purposes: Sample.purposes, allowSpecialCategory: allowSpecialCategory)
    }

    @Test("Special-category fields are refused unless the installation enables them")
    func refusesSpecialCategoryByDefault() {
        let result = validated(fieldInput(sensitivity: "special"))
        #expect(result.errorPaths == ["sensitivity"])
        #expect(result.fieldErrors.first?.message.contains("allow_special_category") == true)
    }

    @Test("Special-category fields are accepted, and marked so, when enabled")
    func acceptsSpecialCategoryWhenEnabled() throws {
        let field = try validated(fieldInput(sensitivity: "special"), allowSpecialCategory: true).get()
        #expect(field.sensitivity == .special)
    }

    @Test("A standard field is accepted, inheriting the longest retention of its purposes")
    func acceptsStandardField() throws {
        let field = try validated(fieldInput()).get()
        #expect(field.sensitivity == .standard)
        #expect(field.retentionDays == 365)
        #expect(field.options == ["lose_weight", "run_faster"])
    }

    @Test("An unknown sensitivity is refused even where special data is allowed")
    func refusesUnknownSensitivity() {
        #expect(validated(fieldInput(sensitivity: "secret"), allowSpecialCategory: true).errorPaths == ["sensitivity"])
    }

    @Test("A field must serve known purposes")
    func refusesUnknownPurpose() {
        #expect(validated(fieldInput(purposes: ["offers", "telepathy"])).errorPaths == ["purposes[1]"])
        #expect(validated(fieldInput(purposes: [])).errorPaths == ["purposes"])
    }

    @Test("Field shape rules: options only for choices, bounds only for numbers, in order")
    func checksFieldShape() {
        let textWithOptions = FieldInput(key: "nick", type: "text", options: ["a"], purposes: ["offers"], labels: ["en": "Nick"])
        #expect(validated(textWithOptions).errorPaths == ["options"])
        let choiceWithoutOptions = FieldInput(key: "pick", type: "single_choice", purposes: ["offers"], labels: ["en": "Pick"])
        #expect(validated(choiceWithoutOptions).errorPaths == ["options"])
        let repeatedOptions = FieldInput(key: "pick", type: "multi_choice", options: ["a", "a"], purposes: ["offers"], labels: ["en": "Pick"])
        #expect(validated(repeatedOptions).errorPaths == ["options"])
        let invertedBounds = FieldInput(key: "size", type: "number", purposes: ["offers"], labels: ["en": "Size"], minimum: 50, maximum: 30)
        #expect(validated(invertedBounds).errorPaths == ["maximum"])
        let unknownType = FieldInput(key: "size", type: "colour", purposes: ["offers"], labels: ["en": "Size"])
        #expect(validated(unknownType).errorPaths == ["type"])
        let noEnglishLabel = FieldInput(key: "size", type: "number", purposes: ["offers"], labels: ["he": "מידה"])
        #expect(validated(noEnglishLabel).errorPaths == ["labels.en"])
    }

    func purposeInput(dpvTerm: String) -> PurposeInput {
        PurposeInput(key: "newsletter", names: ["en": "Newsletter"], legalBasis: "consent", retentionDays: 730, dpvTerm: dpvTerm,
                     notice: ["en": NoticeText(title: "Our newsletter", why: "To write to you", benefit: "Early offers")])
    }

    @Test("A purpose must map to a DPV 2.3 purpose term", arguments: ["DirectMarketing", "CustomerCare", "Personalisation"])
    func acceptsDPVTerms(term: String) throws {
        let purpose = try purposeInput(dpvTerm: term).validated(id: "pur_x", createdAt: Sample.createdAt).get()
        #expect(purpose.dpvTerm == term)
        #expect(purpose.legalBasis == .consent)
        #expect(purpose.currentNoticeVersion == nil)
    }

    @Test("A term outside DPV, or spelled differently, is refused", arguments: ["Newsletters", "directMarketing", "dpv:DirectMarketing", ""])
    func refusesNonDPVTerms(term: String) {
        let result = purposeInput(dpvTerm: term).validated(id: "pur_x", createdAt: Sample.createdAt)
        #expect(result.errorPaths == ["dpv_term"])
    }

    @Test("Purpose keys, legal basis and retention are checked")
    func checksPurposeBasics() {
        let input = PurposeInput(key: "Bad Key", names: ["en": "X"], legalBasis: "vibes", retentionDays: 0, dpvTerm: "Marketing")
        #expect(input.validated(id: "pur_x", createdAt: Sample.createdAt).errorPaths == ["key", "legal_basis", "retention_days"])
    }

    @Test("A notice needs English wording and non-empty texts")
    func checksNotices() {
        let errors = NoticeRules.check(["he": NoticeText(title: " ", why: "למה", benefit: "מה")], path: "notice")
        #expect(errors.map(\.field) == ["notice.en", "notice.he.title"])
    }

    @Test("A notice's content hash changes with its wording and not otherwise")
    func noticeHashTracksWording() throws {
        let texts = ["en": NoticeText(title: "Our newsletter", why: "To write to you", benefit: "Early offers")]
        let first = try NoticeVersion(id: "ntc_1", purpose: "newsletter", version: 1, texts: texts, createdAt: Sample.createdAt)
        let same = try NoticeVersion(id: "ntc_2", purpose: "newsletter", version: 2, texts: texts, createdAt: "2027-01-01T00:00:00.000Z")
        var changedTexts = texts
        changedTexts["en"]?.benefit = "Early offers and gifts"
        let changed = try NoticeVersion(id: "ntc_3", purpose: "newsletter", version: 3, texts: changedTexts, createdAt: Sample.createdAt)
        #expect(first.contentHash == same.contentHash)
        #expect(first.contentHash != changed.contentHash)
        #expect(first.contentHash.hasPrefix("sha256:") && first.contentHash.count == 7 + 64)
    }
}
