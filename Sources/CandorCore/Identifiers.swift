import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opaque, time-ordered identifiers with a type prefix (`sub_…`, `dcl_…`).
///
/// The body is 10 characters of millisecond time and 16 of randomness in Crockford base32, so ids sort
/// by creation time, which is what cursor pagination relies on.
public enum Identifier {
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")

    /// Makes a new identifier with the given prefix, e.g. `make("sub")` → `sub_01jd…`.
    public static func make(_ prefix: String, at date: Date = Date()) -> String {
        var millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let random = RandomBytes.next(10)
        return String(unsafeUninitializedCapacity: prefix.utf8.count + 27) { buffer in
            var at = 0
            for byte in prefix.utf8 { buffer[at] = byte; at += 1 }
            buffer[at] = UInt8(ascii: "_")
            at += 1
            for index in stride(from: at + 9, through: at, by: -1) {
                buffer[index] = alphabetBytes[Int(millis & 31)]
                millis >>= 5
            }
            at += 10
            // 80 random bits, five to a character.
            var bits: UInt64 = 0, held = 0, next = 0
            for _ in 0..<16 {
                if held < 5 { bits = bits << 8 | UInt64(random[next]); next += 1; held += 8 }
                held -= 5
                buffer[at] = alphabetBytes[Int((bits >> UInt64(held)) & 31)]
                at += 1
            }
            return at
        }
    }

    static let alphabetBytes = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

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

/// Random bytes from the kernel's CSPRNG, fetched 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` system call per 8 bytes; every write needs
/// several identifiers and nonces, and those calls showed up on the write path. The bytes are the
/// kernel's either way; they only wait in this buffer (the process never forks).
public enum RandomBytes {
    private static let pool = RandomPool()

    /// `count` random bytes (at most 4,096 at a time).
    public static func next(_ count: Int) -> [UInt8] { pool.take(count) }

    /// A random 64-bit number.
    public static func nextUInt64() -> UInt64 {
        pool.take(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

final class RandomPool: @unchecked Sendable {
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private var used = 4096
    private let lock = NSLock()
    private let urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

    func take(_ count: Int) -> [UInt8] {
        precondition(count <= buffer.count)
        lock.lock()
        defer { lock.unlock() }
        if used + count > buffer.count {
            // One read of the kernel's CSPRNG per 4 KiB; word by word from the system generator if the
            // device cannot be read.
            let filled = buffer.withUnsafeMutableBytes { bytes -> Int in
                guard urandom >= 0 else { return -1 }
                return read(urandom, bytes.baseAddress, bytes.count)
            }
            if filled != buffer.count {
                var generator = SystemRandomNumberGenerator()
                for index in stride(from: 0, to: buffer.count, by: 8) {
                    withUnsafeBytes(of: generator.next() as UInt64) { buffer.replaceSubrange(index..<index + 8, with: $0) }
                }
            }
            used = 0
        }
        defer {
            // Bytes handed out are wiped from the buffer.
            for index in used..<used + count { buffer[index] = 0 }
            used += count
        }
        return Array(buffer[used..<used + count])
    }
}
