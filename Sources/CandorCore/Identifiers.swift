import Foundation

/// Opaque, time-ordered identifiers with a type prefix (`sub_…`, `dcl_…`).
///
/// The body is 10 characters of millisecond time and 16 of randomness in Crockford base32, so ids sort
/// by creation time, which is what cursor pagination relies on.
public enum Identifier {
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")

    /// Makes a new identifier with the given prefix, e.g. `make("sub")` → `sub_01jd…`.
    public static func make(_ prefix: String, at date: Date = Date()) -> String {
        var body = [Character]()
        body.reserveCapacity(26)
        var millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var timePart = [Character](repeating: "0", count: 10)
        for index in stride(from: 9, through: 0, by: -1) {
            timePart[index] = alphabet[Int(millis & 31)]
            millis >>= 5
        }
        body.append(contentsOf: timePart)
        // 80 random bits from two draws (each draw is a system call), five bits per character.
        var generator = SystemRandomNumberGenerator()
        var random = generator.next() as UInt64
        for _ in 0..<12 {
            body.append(alphabet[Int(random & 31)])
            random >>= 5
        }
        random = generator.next()
        for _ in 0..<4 {
            body.append(alphabet[Int(random & 31)])
            random >>= 5
        }
        return prefix + "_" + String(body)
    }

    /// Whether a string looks like an identifier of the given prefix (guards lookups against junk).
    public static func isWellFormed(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix + "_") else { return false }
        let body = id.dropFirst(prefix.count + 1)
        return body.count == 26 && body.allSatisfy { alphabet.contains($0) }
    }
}

/// Time in Candor: milliseconds since the Unix epoch, stored as integers, shown as RFC 3339 UTC.
public enum Timestamp {
    /// Milliseconds since the epoch for a date.
    public static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }

    /// The date for milliseconds since the epoch.
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    /// RFC 3339 text in UTC with milliseconds, e.g. `2026-11-29T02:57:28.123Z`.
    public static func rfc3339(_ millis: Int64) -> String {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = millis - seconds * 1000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let year = Int(parts.tm_year) + 1900
        guard (0...9999).contains(year) else {
            return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                          Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
        }
        // Digits written straight into 24 bytes: this runs for every timestamp of every answer and
        // event, and `String(format:)` (varargs boxing, locale lookup) cost more than the rest of it.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(Int(parts.tm_mon) + 1, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(Int(parts.tm_mday), 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(Int(parts.tm_hour), 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(Int(parts.tm_min), 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(Int(parts.tm_sec), 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(Int(fraction), 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Parses RFC 3339 text (with or without fractional seconds, `Z` or an offset) into milliseconds.
    public static func parse(_ text: String) -> Int64? {
        // Rounded, not truncated: the parsed Date is binary floating point, so `.123` can come back as
        // `.12299…`, which truncation would turn into the wrong millisecond.
        func nearestMillis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return nearestMillis(date) }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return nearestMillis(date) }
        return nil
    }
}

/// The source of "now", so that tests can move time (expiry, retention, checkpoints).
public protocol CandorClock: Sendable {
    /// The current time in milliseconds since the epoch.
    func nowMillis() -> Int64
}

/// The wall clock.
public struct SystemClock: CandorClock {
    public init() {}
    public func nowMillis() -> Int64 { Timestamp.millis(Date()) }
}
