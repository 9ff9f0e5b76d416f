import CandorCore
import CandorDelivery
import CandorStore
import Foundation
import Testing

/// The purpose limitation of outbound events: random registries, destinations, consents and people —
/// no value ever reaches a destination unless its field serves one of the destination's purposes, the
/// destination asked for it, and the purpose gate lets the person through for that purpose now.
@Suite("Payload filter")
struct PayloadFilterTests {
    static let at = "2026-01-01T00:00:00.000Z"
    static let purposeKeys = ["newsletter", "offers", "research", "support"]
    static let fieldKeys = ["interests", "channels", "shoe_size", "nickname", "frequency"]

    static func destination(purposes: [String], fields: [String], sharesData: Bool = false) throws -> Destination {
        let json: [String: Any] = ["id": "dst_t", "url": "https://8.8.8.8/", "purposes": purposes, "fields": fields, "event_types": ["*"],
                                   "shares_data": sharesData, "enabled": true, "secret_hint": "abcd", "created_at": at, "updated_at": at]
        return try JSONDecoder().decode(Destination.self, from: JSONSerialization.data(withJSONObject: json))
    }

    static func declaration(_ values: [String: JSONValue], subject: String = "sub_p") -> String {
        JSONValue.object([
            "id": .string("evt_1"), "type": .string("declaration.recorded"), "subject_id": .string(subject),
            "data": .object(["values": .array(values.sorted { $0.key < $1.key }.map { .object(["field": .string($0.key), "value": $0.value]) })]),
        ]).jsonText
    }

    static func claim(_ destination: Destination, type: String = "declaration.recorded", payload: String?, person: DeliverySubjectState?) -> ClaimedDelivery {
        ClaimedDelivery(destination: destination, secrets: [], eventSeq: 1, eventId: "evt_1", eventType: type, subjectId: "sub_p",
                        payload: payload, attempt: 1, leaseOwner: "w", subject: person)
    }

    static func granted(_ purpose: String, expires: Int64? = nil) -> ConsentRecord {
        ConsentRecord(purpose: purpose, status: .granted, method: .checkbox, noticeVersion: 1, updatedAt: 0, expiresAt: expires)
    }

    @Test("No field ever leaks to a destination that may not have it (random registries, destinations and people)")
    func propertyNoLeak() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var purposes = [String: Purpose]()
            for key in Self.purposeKeys {
                let basis: LegalBasis = Bool.random(using: &random) ? .consent : [.contract, .legitimateInterest].randomElement(using: &random)!
                purposes[key] = Purpose(id: "pur_\(key)", key: key, names: [:], legalBasis: basis, retentionDays: 30, dpvTerm: "x",
                                        isMarketing: Bool.random(using: &random), currentNoticeVersion: 1, createdAt: Self.at)
            }
            var fields = [String: Field]()
            for key in Self.fieldKeys {
                let served = Self.purposeKeys.filter { _ in Bool.random(using: &random) }
                fields[key] = Field(id: "fld_\(key)", key: key, type: .text, purposes: served.isEmpty ? ["support"] : served, retentionDays: 0, labels: [:], createdAt: Self.at)
            }
            let destinationPurposes = Self.purposeKeys.filter { _ in Bool.random(using: &random) }
            let wanted = Self.fieldKeys.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }
            let destination = try Self.destination(purposes: destinationPurposes.isEmpty ? ["offers"] : destinationPurposes, fields: wanted,
                                                   sharesData: Bool.random(using: &random))
            var consents = [String: ConsentRecord]()
            for key in Self.purposeKeys where Bool.random(using: &random) {
                consents[key] = Bool.random(using: &random) ? Self.granted(key, expires: Bool.random(using: &random) ? 1 : nil)
                    : ConsentRecord(purpose: key, status: .withdrawn, method: .api, noticeVersion: nil, updatedAt: 0, expiresAt: nil)
            }
            let person = DeliverySubjectState(status: [.active, .active, .restricted].randomElement(using: &random)!, hasObjected: Bool.random(using: &random),
                                              hasOptedOutOfSale: Bool.random(using: &random), consents: consents)
            let values = Dictionary(uniqueKeysWithValues: Self.fieldKeys.filter { _ in Bool.random(using: &random) }.map { ($0, JSONValue.string("secret-\($0)")) })
            let now: Int64 = 1_000
            let decision = PayloadFilter.decide(Self.claim(destination, payload: Self.declaration(values), person: person), purposes: purposes, fields: fields, now: now)

            // What the rules allow, computed independently from PurposeGate.
            func allowed(_ field: String) -> Bool {
                guard destination.fields.isEmpty || destination.fields.contains(field) else { return false }
                return fields[field]!.purposes.filter(destination.purposes.contains).contains { purpose in
                    PurposeGate.visibility(for: purposes[purpose]!, status: person.status, hasObjected: person.hasObjected, consent: consents[purpose], now: now) == .visible
                }
            }
            switch decision {
            case .send(let body, let sent, _):
                let text = String(decoding: body, as: UTF8.self)
                #expect(!(destination.sharesData && person.hasOptedOutOfSale))
                #expect(person.status == .active)
                for field in Self.fieldKeys {
                    #expect(text.contains("secret-\(field)") == (values[field] != nil && allowed(field)), "field \(field): \(text)")
                }
                #expect(Set(sent) == Set(values.keys.filter(allowed)))
            case .withhold:
                #expect(values.keys.filter(allowed).isEmpty || person.status != .active || (destination.sharesData && person.hasOptedOutOfSale))
            case .skip:
                Issue.record("a live person's event is never skipped")
            }
        }
    }

    @Test("Erased people's events are skipped; notices of rights actions (erasure included) go out with identifiers only")
    func erasedAndNotices() throws {
        let purposes = ["newsletter": Purpose(id: "p", key: "newsletter", names: [:], legalBasis: .consent, retentionDays: 1, dpvTerm: "x", isMarketing: true, createdAt: Self.at)]
        let destination = try Self.destination(purposes: ["newsletter"], fields: [])
        let restricted = DeliverySubjectState(status: .restricted, hasObjected: false, hasOptedOutOfSale: false, consents: [:])
        #expect(PayloadFilter.decide(Self.claim(destination, payload: nil, person: restricted), purposes: purposes, fields: [:], now: 0) == .skip(reason: "erased"))
        let erased = DeliverySubjectState(status: .erased, hasObjected: false, hasOptedOutOfSale: false, consents: [:])
        let notice = #"{"id":"evt_1","type":"subject.erased","subject_id":"sub_p","data":{}}"#
        guard case .send(let body, _, _) = PayloadFilter.decide(Self.claim(destination, type: "subject.erased", payload: notice, person: erased), purposes: purposes, fields: [:], now: 0) else {
            Issue.record("the erasure notice must reach the destination (GDPR Art. 19)")
            return
        }
        #expect(String(decoding: body, as: UTF8.self).contains("sub_p"))
        let created = #"{"id":"evt_1","type":"subject.created","subject_id":"sub_p","data":{}}"#
        #expect(PayloadFilter.decide(Self.claim(destination, type: "subject.created", payload: created, person: erased), purposes: purposes, fields: [:], now: 0) == .skip(reason: "erased"))
        let restriction = #"{"id":"evt_1","type":"subject.restricted","subject_id":"sub_p","data":{}}"#
        guard case .send = PayloadFilter.decide(Self.claim(destination, type: "subject.restricted", payload: restriction, person: restricted), purposes: purposes, fields: [:], now: 0) else {
            Issue.record("a restriction notice must reach the destination")
            return
        }
        let withdrawal = #"{"id":"evt_1","type":"consent.withdrawn","subject_id":"sub_p","data":{"purpose":"offers","method":"api"}}"#
        let active = DeliverySubjectState(status: .active, hasObjected: false, hasOptedOutOfSale: false, consents: [:])
        #expect(PayloadFilter.decide(Self.claim(destination, type: "consent.withdrawn", payload: withdrawal, person: active), purposes: purposes, fields: [:], now: 0)
                == .withhold(reason: "purpose_not_served", withheld: [:]))
    }
}
