import Foundation

/// When a failed delivery is tried again: exponential back-off with jitter, capped, and a last attempt
/// after which the event becomes a dead letter. A receiver's `Retry-After` wins over the schedule
/// (within `maxDelay`), since it knows when it will be back.
public struct RetrySchedule: Sendable, Hashable {
    /// The delay after the first failure.
    public var baseDelay: Duration
    /// No delay is longer than this (Retry-After included).
    public var maxDelay: Duration
    /// Attempts in all, the first included; after the last failure the event is a dead letter.
    public var maxAttempts: Int

    public init(baseDelay: Duration = .seconds(5), maxDelay: Duration = .seconds(3600), maxAttempts: Int = 8) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAttempts = max(1, maxAttempts)
    }

    /// The delay after failed attempt number `attempt` (1-based): `base × 2^(attempt−1)`, capped, then
    /// a random share of up to half of it taken off ("equal jitter"), so receivers that come back are
    /// not hit by every sender at the same instant. `random` is a number in [0, 1).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let base = Double(baseDelay.components.seconds) + Double(baseDelay.components.attoseconds) / 1e18
        let cap = Double(maxDelay.components.seconds) + Double(maxDelay.components.attoseconds) / 1e18
        let exponential = min(cap, base * pow(2, Double(max(0, min(attempt - 1, 40)))))
        let jittered = exponential * (1 - 0.5 * min(max(random, 0), 1))
        return .milliseconds(Int64((jittered * 1000).rounded()))
    }

    /// Whether another attempt follows failed attempt number `attempt`.
    public func retries(afterAttempt attempt: Int) -> Bool { attempt < maxAttempts }

    /// The delay a `Retry-After` value asks for (delay-seconds or an HTTP date, RFC 9110 §10.2.3),
    /// capped at `maxDelay`; nil when absent or unreadable.
    public func retryAfter(_ value: String?, now: Date) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        let cap = maxDelay
        if let seconds = Int64(value), seconds >= 0 { return min(.seconds(seconds), cap) }
        guard let date = Self.httpDate(value) else { return nil }
        let millis = Int64((date.timeIntervalSince(now) * 1000).rounded())
        return min(.milliseconds(max(0, millis)), cap)
    }

    /// Parses an HTTP date: IMF-fixdate, or the obsolete RFC 850 and asctime forms.
    static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
