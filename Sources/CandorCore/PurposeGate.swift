/// Whether a subject's data may be used at all.
public enum SubjectStatus: String, Codable, Sendable {
    case active
    /// Kept, but not used (GDPR Art. 18).
    case restricted
    /// Gone: only a tombstone and the (unreadable) ledger chain remain.
    case erased
}

/// The current consent of one subject for one purpose.
public struct ConsentRecord: Codable, Sendable, Hashable {
    public var purpose: String
    public var status: ConsentStatus
    public var method: ConsentMethod
    public var noticeVersion: Int?
    public var updatedAt: Int64
    public var expiresAt: Int64?

    public init(purpose: String, status: ConsentStatus, method: ConsentMethod, noticeVersion: Int?, updatedAt: Int64, expiresAt: Int64?) {
        self.purpose = purpose
        self.status = status
        self.method = method
        self.noticeVersion = noticeVersion
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
    }

    /// Whether this record permits use now: granted and not expired.
    public func permits(at now: Int64) -> Bool {
        status == .granted && (expiresAt.map { $0 > now } ?? true)
    }
}

/// The answer of the purpose gate for one subject and purpose.
public enum Visibility: Sendable, Equatable {
    case visible
    case withheld(reason: String)
}

/// Consent-gated use (DESIGN §1.3), in one place: every read, export and delivery asks here.
/// Missing consent means deny.
public enum PurposeGate {
    /// The keys of the fields that serve a purpose.
    public static func fieldKeys(serving purpose: String, in fields: some Sequence<Field>) -> Set<String> {
        Set(fields.filter { $0.purposes.contains(purpose) }.map(\.key))
    }

    /// Whether a subject's data may be used for a purpose now. `hasObjected` is the person's objection
    /// to direct marketing (GDPR Art. 21(2)–(3)): absolute, so it withholds every marketing purpose
    /// whatever the consent or legal basis says. It is a required argument so no caller can forget it.
    public static func visibility(for purpose: Purpose, status: SubjectStatus, hasObjected: Bool, consent: ConsentRecord?, now: Int64) -> Visibility {
        switch status {
        case .erased: return .withheld(reason: "erased")
        case .restricted: return .withheld(reason: "restricted")
        case .active: break
        }
        if hasObjected && purpose.isMarketing { return .withheld(reason: "objected") }
        guard purpose.legalBasis.requiresConsent else { return .visible }
        guard let consent else { return .withheld(reason: "consent_missing") }
        switch consent.status {
        case .withdrawn: return .withheld(reason: "consent_withdrawn")
        case .granted: return consent.permits(at: now) ? .visible : .withheld(reason: "consent_expired")
        }
    }

    /// Whether a team may use a purpose at all.
    public static func teamMayUse(_ team: Team, purpose: String) -> Bool { team.purposes.contains(purpose) }
}
