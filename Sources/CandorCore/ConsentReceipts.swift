import Foundation

/// Who is responsible for the data (the GDPR "controller", Kantara's "PII controller"), as receipts and
/// the record of processing name it. Set once per installation.
public struct DataController: Codable, Sendable, Hashable {
    /// The organisation's legal name.
    public var name: String
    /// Who to contact about privacy (a person, role or team).
    public var contact: String
    public var email: String
    public var phone: String
    /// Postal address lines (street, city, country…); Kantara wants an object.
    public var address: [String: String]
    /// The organisation's web site.
    public var url: String?
    /// Where the privacy policy is published.
    public var policyURL: String
    /// The law the controller answers to, e.g. "EU" (GDPR) or "US-CA" (CCPA).
    public var jurisdiction: String
    /// The name of the service people consent to, e.g. "Newsletter and preference center".
    public var service: String

    enum CodingKeys: String, CodingKey {
        case name, contact, email, phone, address, url, jurisdiction, service
        case policyURL = "policy_url"
    }

    public init(name: String, contact: String, email: String, phone: String, address: [String: String] = [:], url: String? = nil,
                policyURL: String, jurisdiction: String = "EU", service: String) {
        self.name = name
        self.contact = contact
        self.email = email
        self.phone = phone
        self.address = address
        self.url = url
        self.policyURL = policyURL
        self.jurisdiction = jurisdiction
        self.service = service
    }

    /// A placeholder for an installation that has not named its controller yet: receipts stay valid,
    /// and say plainly that the details are missing rather than inventing them.
    public static func unconfigured(baseURL: String = "http://127.0.0.1:8080") -> DataController {
        DataController(name: "Candor installation (controller not configured)", contact: "not configured", email: "", phone: "",
                       url: baseURL, policyURL: baseURL + "/privacy", jurisdiction: "EU", service: "Candor preference center")
    }
}

/// A Kantara Consent Receipt v1.1 (https://kantarainitiative.org/…/consent-receipt-specification-v1-1-0),
/// one per consent change in a person's ledger. Key names follow the specification exactly.
/// `candorLedger` is an extension (the schema allows extra members) that ties the receipt to its ledger
/// entry, so a receipt can be checked against the signed chain.
public struct ConsentReceiptDocument: Codable, Sendable, Hashable {
    /// The Kantara controller object.
    public struct Controller: Codable, Sendable, Hashable {
        public var piiController: String
        public var onBehalf: Bool
        public var contact: String
        public var address: [String: String]
        public var email: String
        public var phone: String
        public var piiControllerUrl: String?
    }

    /// One purpose consented to (or withdrawn) in the change.
    public struct PurposeItem: Codable, Sendable, Hashable {
        /// The purpose's name in the receipt's language.
        public var purpose: String
        /// "EXPLICIT" for an affirmative act, "IMPLICIT" for a signal (Global Privacy Control, import).
        public var consentType: String
        /// The DPV purpose term as an IRI.
        public var purposeCategory: [String]
        /// The fields the purpose uses.
        public var piiCategory: [String]
        public var primaryPurpose: Bool
        /// When and how the consent ends, and how long data is kept.
        public var termination: String
        public var thirdPartyDisclosure: Bool
        public var thirdPartyName: String?
        /// Extension: the purpose key, the new state and the notice version cited.
        public var purposeKey: String
        public var consentStatus: String
        public var noticeVersion: Int?
        public var noticeHash: String?
    }

    /// The Kantara service object.
    public struct Service: Codable, Sendable, Hashable {
        public var service: String
        public var purposes: [PurposeItem]
    }

    /// Extension: where the change sits in the person's hash chain.
    public struct LedgerLink: Codable, Sendable, Hashable {
        public var subjectId: String
        public var seq: Int64
        public var entryHash: String
        public var recordedAt: String

        enum CodingKeys: String, CodingKey {
            case seq
            case subjectId = "subject_id"
            case entryHash = "entry_hash"
            case recordedAt = "recorded_at"
        }
    }

    public var version: String
    public var jurisdiction: String
    /// Seconds since the epoch (Kantara: "UNIX time").
    public var consentTimestamp: Int64
    public var collectionMethod: String
    public var consentReceiptID: String
    public var language: String
    public var piiPrincipalId: String
    public var piiControllers: [Controller]
    public var policyUrl: String
    public var services: [Service]
    public var sensitive: Bool
    public var spiCat: [String]
    public var candorLedger: LedgerLink
}

/// One consent change as read from the ledger, the input to a receipt.
public struct ConsentEvent: Sendable, Hashable {
    public var subjectId: String
    public var seq: Int64
    public var entryHash: [UInt8]
    /// Milliseconds since the epoch.
    public var recordedAt: Int64
    public var changes: [ConsentChange]

    public init(subjectId: String, seq: Int64, entryHash: [UInt8], recordedAt: Int64, changes: [ConsentChange]) {
        self.subjectId = subjectId
        self.seq = seq
        self.entryHash = entryHash
        self.recordedAt = recordedAt
        self.changes = changes
    }
}

/// Builds Kantara receipts from pure values, so the same change always gives the same receipt.
public enum ConsentReceiptBuilder {
    /// The Kantara version written.
    public static let version = "KI-CR-v1.1.0"

    /// Builds the receipt of one consent change. `destinations` names, per purpose key, the third parties
    /// the purpose discloses to; a purpose without any is `thirdPartyDisclosure: false`.
    public static func receipt(
        for event: ConsentEvent, purposes: [String: Purpose], fields: [Field], notices: [String: [NoticeVersion]] = [:],
        controller: DataController, destinations: [String: [String]] = [:], language: String = "en"
    ) -> ConsentReceiptDocument {
        var sensitiveFields = Set<String>()
        let items = event.changes.map { change -> ConsentReceiptDocument.PurposeItem in
            let purpose = purposes[change.purpose]
            let used = fields.filter { $0.purposes.contains(change.purpose) }.sorted { $0.key < $1.key }
            for field in used where field.sensitivity == .special { sensitiveFields.insert(field.key) }
            let thirdParties = destinations[change.purpose] ?? []
            let notice = change.noticeVersion.flatMap { version in notices[change.purpose]?.first { $0.version == version } }
            return ConsentReceiptDocument.PurposeItem(
                purpose: purpose.map { $0.names[language] ?? $0.names["en"] ?? $0.key } ?? change.purpose,
                consentType: consentType(change.method),
                purposeCategory: purpose.map { [DPVPurposes.iri($0.dpvTerm)] } ?? [],
                piiCategory: used.map(\.key),
                primaryPurpose: purpose?.legalBasis == .contract,
                termination: termination(change, purpose: purpose),
                thirdPartyDisclosure: !thirdParties.isEmpty,
                thirdPartyName: thirdParties.isEmpty ? nil : thirdParties.joined(separator: ", "),
                purposeKey: change.purpose,
                consentStatus: change.status.rawValue,
                noticeVersion: change.noticeVersion,
                noticeHash: notice?.contentHash)
        }
        let hashHex = Digest.hex(event.entryHash)
        let methods = Set(event.changes.map(\.method))
        return ConsentReceiptDocument(
            version: version,
            jurisdiction: controller.jurisdiction,
            consentTimestamp: event.recordedAt >= 0 ? event.recordedAt / 1000 : 0,
            collectionMethod: methods.map(collectionMethod).sorted().joined(separator: "; "),
            consentReceiptID: receiptID(entryHash: event.entryHash),
            language: language,
            piiPrincipalId: event.subjectId,
            piiControllers: [ConsentReceiptDocument.Controller(
                piiController: controller.name, onBehalf: false, contact: controller.contact, address: controller.address,
                email: controller.email, phone: controller.phone, piiControllerUrl: controller.url)],
            policyUrl: controller.policyURL,
            services: [ConsentReceiptDocument.Service(service: controller.service, purposes: items)],
            sensitive: !sensitiveFields.isEmpty,
            spiCat: sensitiveFields.sorted(),
            candorLedger: .init(subjectId: event.subjectId, seq: event.seq, entryHash: hashHex, recordedAt: Timestamp.rfc3339(event.recordedAt)))
    }

    /// A stable receipt id: the first 128 bits of the ledger entry hash, as a UUID. The same change
    /// always has the same id, and the id cannot be reused for another change.
    public static func receiptID(entryHash: [UInt8]) -> String {
        let hex = Digest.hex(Array(entryHash.prefix(16)))
        guard hex.count == 32 else { return hex }
        let c = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(c[$0]) }.joined(separator: "-")
    }

    /// Kantara distinguishes an affirmative act from consent inferred from a signal.
    static func consentType(_ method: ConsentMethod) -> String {
        switch method {
        case .gpc, .import, .objection: "IMPLICIT"
        case .checkbox, .api, .preferenceCenter, .form, .unsubscribe: "EXPLICIT"
        }
    }

    /// How the change was collected, in words.
    static func collectionMethod(_ method: ConsentMethod) -> String {
        switch method {
        case .checkbox: "web form checkbox"
        case .api: "recorded through the API by the controller's system"
        case .gpc: "Global Privacy Control browser signal"
        case .import: "imported from an earlier system"
        case .preferenceCenter: "preference center"
        case .objection: "objection to direct marketing (GDPR Art. 21)"
        case .form: "web form"
        case .unsubscribe: "unsubscribe link in a newsletter"
        }
    }

    /// When consent ends and how long data is kept, from the change and the purpose's retention.
    static func termination(_ change: ConsentChange, purpose: Purpose?) -> String {
        var parts = [String]()
        if change.status == .withdrawn {
            parts.append("Consent was withdrawn at this time; no further use for this purpose.")
        } else if let expires = change.expiresAt {
            parts.append("Consent lasts until it is withdrawn or until \(Timestamp.rfc3339(expires)), whichever comes first.")
        } else {
            parts.append("Consent lasts until it is withdrawn; it can be withdrawn at any time, as easily as it was given.")
        }
        if let purpose {
            parts.append("Data used for this purpose is kept for at most \(purpose.retentionDays) days.")
        }
        return parts.joined(separator: " ")
    }
}
