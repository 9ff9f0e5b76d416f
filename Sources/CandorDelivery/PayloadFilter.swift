import CandorCore
import CandorStore
import Foundation

/// What a destination may receive of one event, decided at delivery time from the person's standing then.
public enum FilterDecision: Sendable, Equatable {
    /// Send this body; `fields` went out, `withheld` names the fields held back and why.
    case send(body: [UInt8], fields: [String], withheld: [String: String])
    /// Send nothing; the log records the reason (and the held-back fields).
    case withhold(reason: String, withheld: [String: String])
    /// The person was erased: nothing of theirs goes anywhere.
    case skip(reason: String)
}

/// Purpose limitation for outbound events. A value leaves only when its field serves a purpose the
/// destination serves, the destination asked for the field, and the purpose gate (`PurposeGate`, the
/// one consent check of Candor) lets the person's data through for that purpose now. Restricted people's
/// data goes nowhere; destinations that count as a sale never receive people who opted out of sale.
///
/// Notices that tell recipients to stop (erasure, restriction, objection, withdrawal, opt-out; GDPR
/// Art. 19, CCPA §1798.135) carry identifiers only and are always sent to the destinations they concern,
/// including sale destinations and for people since erased.
public enum PayloadFilter {
    /// Events that only tell a recipient about a rights action and carry no declared values.
    public static let notices: Set<String> = [
        "subject.erased", "subject.restricted", "subject.unrestricted", "subject.objected", "subject.objection_lifted",
        "subject.opted_out_of_sale", "consent.withdrawn",
    ]

    public static func decide(_ claim: ClaimedDelivery, purposes: [String: Purpose], fields: [String: Field], now: Int64) -> FilterDecision {
        guard let text = claim.payload, let parsed = try? JSONValue.decoding(text), case .object(var event) = parsed else {
            return .skip(reason: "erased")
        }
        let destination = claim.destination
        let person = claim.subject
        var data: [String: JSONValue] = if case .object(let object) = event["data"] { object } else { [:] }
        let eventPurpose: String? = if case .string(let purpose) = data["purpose"] { purpose } else { nil }
        if let eventPurpose, !destination.purposes.contains(eventPurpose) {
            return .withhold(reason: "purpose_not_served", withheld: [:])
        }
        // A notice tells the recipient to stop or to forget (the erasure notice outlives the person's
        // other events, whose payloads erasure destroyed): it goes out whatever the person's standing.
        if notices.contains(claim.eventType) { return .send(body: Array(JSONValue.object(event).jsonText.utf8), fields: [], withheld: [:]) }
        if claim.subjectId != nil {
            guard let person, person.status != .erased else { return .skip(reason: "erased") }
            if destination.sharesData && person.hasOptedOutOfSale { return .withhold(reason: "opted_out_of_sale", withheld: [:]) }
        }

        // From here on the event carries (or concerns) the person's data: the gate decides.
        func gate(_ purposeKey: String) -> Visibility {
            guard let purpose = purposes[purposeKey] else { return .withheld(reason: "unknown_purpose") }
            guard let person else { return .visible }
            return PurposeGate.visibility(for: purpose, status: person.status, hasObjected: person.hasObjected,
                                          consent: person.consents[purposeKey], now: now)
        }
        if let person, person.status == .restricted { return .withhold(reason: "restricted", withheld: [:]) }
        if let eventPurpose, case .withheld(let reason) = gate(eventPurpose) { return .withhold(reason: reason, withheld: [:]) }

        var sent = [String](), withheld = [String: String]()
        // Any value of a registered field, whether in a `values` list or as a key of `data`, passes the field check.
        func allows(_ field: String) -> Bool {
            if !destination.fields.isEmpty && !destination.fields.contains(field) { return false }
            let served = (fields[field]?.purposes ?? []).filter(destination.purposes.contains)
            guard !served.isEmpty else { return false }
            var firstReason: String?
            for purpose in served.sorted() {
                switch gate(purpose) {
                case .visible: return true
                case .withheld(let reason): firstReason = firstReason ?? reason
                }
            }
            withheld[field] = firstReason ?? "not_consented"
            return false
        }
        var carriedValues = false
        if case .array(let values) = data["values"] {
            carriedValues = true
            let kept = values.filter { value in
                guard case .object(let item) = value, case .string(let field) = item["field"] else { return false }
                if allows(field) { sent.append(field); return true }
                return false
            }
            data["values"] = .array(kept)
        }
        for key in data.keys.sorted() where fields[key] != nil {
            carriedValues = true
            if allows(key) { sent.append(key) } else { data[key] = nil }
        }
        if carriedValues && sent.isEmpty {
            return .withhold(reason: withheld.isEmpty ? "no_fields_for_destination" : Set(withheld.values).sorted().joined(separator: ","), withheld: withheld)
        }
        if !carriedValues && eventPurpose == nil, person != nil {
            // An event with no values (subject.created, survey.completed, …) still says something about the
            // person: it goes only where at least one of the destination's purposes may use their data.
            let reasons = destination.purposes.sorted().compactMap { purpose -> String? in
                if case .withheld(let reason) = gate(purpose) { return reason }
                return nil
            }
            if reasons.count == destination.purposes.count, let first = reasons.first { return .withhold(reason: first, withheld: [:]) }
        }
        event["data"] = .object(data)
        return .send(body: Array(JSONValue.object(event).jsonText.utf8), fields: sent.sorted(), withheld: withheld)
    }
}
