import Foundation

/// The law a rights request is answered under; it decides the deadlines.
public enum Jurisdiction: String, Codable, Sendable, CaseIterable {
    /// GDPR Art. 12(3): one month from receipt, extendable by two further months with reasons.
    case gdpr
    /// CCPA §1798.130 and Regs. §7021: 45 calendar days, extendable once by 45; receipt confirmed
    /// within 10 business days.
    case ccpa
}

/// Statutory deadlines for rights requests, as pure date arithmetic on UTC calendar days.
///
/// Times are milliseconds since the epoch. Calendar months follow the GDPR reading (Regulation
/// 1182/71 Art. 3(2)(c)): the same day of the month, or the month's last day when it has no such day
/// (31 January → 28 or 29 February). Business days are Monday to Friday; public holidays are not
/// known here, so a deadline on a holiday is early rather than late.
public enum Deadlines {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The most a deadline may be extended: months under GDPR, days under CCPA.
    public static func maximumExtension(_ jurisdiction: Jurisdiction) -> Int {
        switch jurisdiction {
        case .gdpr: 2
        case .ccpa: 45
        }
    }

    /// The unit of an extension, as the request body names it.
    public static func extensionUnit(_ jurisdiction: Jurisdiction) -> String {
        jurisdiction == .gdpr ? "months" : "days"
    }

    /// `millis` moved by whole calendar months, clamped to the end of shorter months.
    public static func addingMonths(_ months: Int, to millis: Int64) -> Int64 {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        // Calendar clamps the day to the target month's length (Jan 31 + 1 month = Feb 28/29).
        let moved = calendar.date(byAdding: .month, value: months, to: date)!
        return Int64((moved.timeIntervalSince1970 * 1000).rounded())
    }

    /// `millis` moved by whole days.
    public static func addingDays(_ days: Int, to millis: Int64) -> Int64 {
        millis + Int64(days) * 86_400_000
    }

    /// The time `days` business days (Monday–Friday) after `millis`: the receipt day does not count.
    public static func addingBusinessDays(_ days: Int, to millis: Int64) -> Int64 {
        var at = millis
        var left = days
        while left > 0 {
            at = addingDays(1, to: at)
            let weekday = calendar.component(.weekday, from: Date(timeIntervalSince1970: Double(at) / 1000))
            // Gregorian weekdays: 1 is Sunday, 7 is Saturday.
            if weekday != 1 && weekday != 7 { left -= 1 }
        }
        return at
    }

    /// When the answer is due, given the extension granted so far (months under GDPR, days under CCPA).
    /// GDPR counts the whole period from receipt, so 31 January + 3 months is 30 April, not 28 April.
    public static func due(_ jurisdiction: Jurisdiction, receivedAt: Int64, extendedBy: Int = 0) -> Int64 {
        switch jurisdiction {
        case .gdpr: addingMonths(1 + extendedBy, to: receivedAt)
        case .ccpa: addingDays(45 + extendedBy, to: receivedAt)
        }
    }

    /// When receipt of the request must be confirmed, if the law sets a time (CCPA: 10 business days).
    public static func confirmationDue(_ jurisdiction: Jurisdiction, receivedAt: Int64) -> Int64? {
        switch jurisdiction {
        case .gdpr: nil
        case .ccpa: addingBusinessDays(10, to: receivedAt)
        }
    }

    /// Checks an extension request against what was granted before. GDPR allows up to two further months
    /// in total; CCPA allows one extension of up to 45 days. A reason is always required (GDPR Art. 12(3)
    /// and CCPA both require telling the person why). Errors name `months`/`days` and `reason`.
    public static func validateExtension(_ jurisdiction: Jurisdiction, alreadyExtended: Int, by amount: Int?, reason: String?) -> [FieldError] {
        var errors = [FieldError]()
        let unit = extensionUnit(jurisdiction)
        let maximum = maximumExtension(jurisdiction)
        if let reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if reason.count > 1000 { errors.append(FieldError("reason", "must be at most 1000 characters")) }
        } else {
            errors.append(FieldError("reason", "an extension must record why it is needed"))
        }
        guard let amount else {
            errors.append(FieldError(unit, "give the extension in \(unit) for a \(jurisdiction.rawValue.uppercased()) request"))
            return errors
        }
        if amount < 1 {
            errors.append(FieldError(unit, "must be at least 1"))
        } else if jurisdiction == .ccpa && alreadyExtended > 0 {
            errors.append(FieldError(unit, "a CCPA request can be extended only once"))
        } else if alreadyExtended + amount > maximum {
            errors.append(FieldError(unit, "the legal maximum is \(maximum) \(unit) beyond the first period; \(alreadyExtended) already granted"))
        }
        return errors
    }
}
