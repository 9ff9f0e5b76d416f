import CandorCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as its bytes (4 or 16).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses a textual address (`10.0.0.1`, `::1`, `[::1]`); nil when it is not one.
    public init?(_ text: String) {
        var text = text
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    public var isIPv4: Bool { bytes.count == 4 }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        let family = isIPv4 ? AF_INET : AF_INET6
        _ = copy.withUnsafeMutableBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }

    /// The address as it goes into a URL's authority (IPv6 in brackets).
    public var urlHost: String { isIPv4 ? description : "[\(description)]" }
}

/// A network in CIDR notation, e.g. `10.0.0.0/8` or `fc00::/7`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let base: IPAddress
    public let prefixLength: Int

    /// Parses `address/length` (a bare address is a single host).
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let base = IPAddress(first) else { return nil }
        let maximum = base.bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maximum).contains(length) else { return nil }
            self.prefixLength = length
        } else {
            self.prefixLength = maximum
        }
        self.base = base
    }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == base.bytes.count else { return false }
        var remaining = prefixLength
        for index in 0..<base.bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if address.bytes[index] & mask != base.bytes[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { "\(base)/\(prefixLength)" }
}

/// Why an address may not receive webhooks.
public enum AddressRefusal: String, Sendable {
    case loopback, privateNetwork = "private", linkLocal = "link-local", sharedAddressSpace = "carrier-grade NAT"
    case multicast, uniqueLocal = "unique-local", ipv4Mapped = "IPv4-mapped", unspecified, reserved
}

/// The guard against server-side request forgery: webhooks may not reach the installation's own
/// network (loopback, private, link-local such as cloud metadata at 169.254.169.254, carrier-grade NAT,
/// multicast, unique-local IPv6, IPv4-mapped IPv6 and other special ranges) unless the operator allowed
/// a network explicitly (`delivery.allow_private_networks`). Checked when a destination is saved and
/// again for every connection, so a name that later resolves elsewhere (DNS rebinding) is still refused.
public struct NetworkGuard: Sendable {
    /// Networks an operator allowed although they are special (e.g. `127.0.0.1/32` for a local receiver).
    public var allowed: [IPNetwork]

    public init(allowed: [IPNetwork] = []) { self.allowed = allowed }

    /// Parses the setting: a comma-separated list of CIDR networks, or `*` for every address.
    /// Throws naming the setting when an entry is not a network.
    public static func parse(_ setting: String?) throws -> NetworkGuard {
        guard let setting, !setting.trimmingCharacters(in: .whitespaces).isEmpty else { return NetworkGuard() }
        var networks = [IPNetwork]()
        for entry in setting.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            if entry == "*" {
                networks += [IPNetwork("0.0.0.0/0")!, IPNetwork("::/0")!]
            } else if let network = IPNetwork(entry) {
                networks.append(network)
            } else {
                throw CandorError.invalid("delivery.allow_private_networks", "'\(entry)' is not a network in CIDR notation")
            }
        }
        return NetworkGuard(allowed: networks)
    }

    static let refusedV4 = table([
        ("0.0.0.0/8", .unspecified), ("10.0.0.0/8", .privateNetwork), ("100.64.0.0/10", .sharedAddressSpace),
        ("127.0.0.0/8", .loopback), ("169.254.0.0/16", .linkLocal), ("172.16.0.0/12", .privateNetwork),
        ("192.0.0.0/24", .reserved), ("192.0.2.0/24", .reserved), ("192.88.99.0/24", .reserved), ("192.168.0.0/16", .privateNetwork),
        ("198.18.0.0/15", .reserved), ("198.51.100.0/24", .reserved), ("203.0.113.0/24", .reserved),
        ("224.0.0.0/4", .multicast), ("240.0.0.0/4", .reserved),
    ])

    static let refusedV6 = table([
        ("::/128", .unspecified), ("::1/128", .loopback), ("::ffff:0:0/96", .ipv4Mapped), ("::/96", .ipv4Mapped),
        ("64:ff9b::/96", .ipv4Mapped), ("64:ff9b:1::/48", .reserved), ("100::/64", .reserved), ("2001:db8::/32", .reserved),
        ("2002::/16", .reserved), ("fc00::/7", .uniqueLocal), ("fe80::/10", .linkLocal), ("fec0::/10", .privateNetwork),
        ("ff00::/8", .multicast),
    ])

    private static func table(_ entries: [(String, AddressRefusal)]) -> [(IPNetwork, AddressRefusal)] {
        entries.map { (IPNetwork($0.0)!, $0.1) }
    }

    /// Why an address is refused, or nil when webhooks may go there.
    public func refusal(for address: IPAddress) -> AddressRefusal? {
        if allowed.contains(where: { $0.contains(address) }) { return nil }
        let table = address.isIPv4 ? Self.refusedV4 : Self.refusedV6
        return table.first { $0.0.contains(address) }?.1
    }

    /// Resolves a host name (or takes a literal address) and returns its addresses if every one is
    /// allowed. One refused address refuses the host: a name with a public and a private address must
    /// not be a way in.
    public func check(host: String, port: Int) async throws -> [IPAddress] {
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = try await Self.resolve(host: host, port: port)
        }
        guard !addresses.isEmpty else { throw GuardError.unresolvable(host) }
        for address in addresses {
            if let refusal = refusal(for: address) { throw GuardError.refused(host: host, address: address, refusal) }
        }
        return addresses
    }

    /// Why a host cannot receive webhooks.
    public enum GuardError: Error, Sendable, CustomStringConvertible {
        case unresolvable(String)
        case refused(host: String, address: IPAddress, AddressRefusal)

        public var description: String {
            switch self {
            case .unresolvable(let host): "the host '\(host)' does not resolve"
            case .refused(let host, let address, let refusal):
                "the host '\(host)' resolves to \(address), a \(refusal.rawValue) address; webhooks may not go there unless delivery.allow_private_networks allows it"
            }
        }
    }

    /// getaddrinfo on a thread of its own (it blocks).
    static func resolve(host: String, port: Int) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                #else
                hints.ai_socktype = SOCK_STREAM
                #endif
                var result: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, String(port), &hints, &result)
                guard status == 0 else {
                    continuation.resume(throwing: GuardError.unresolvable(host))
                    return
                }
                defer { freeaddrinfo(result) }
                var addresses = [IPAddress]()
                var cursor = result
                while let info = cursor {
                    if let socketAddress = info.pointee.ai_addr {
                        if info.pointee.ai_family == AF_INET {
                            socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                                var address = pointer.pointee.sin_addr
                                if let ip = IPAddress(bytes: withUnsafeBytes(of: &address) { Array($0) }) { addresses.append(ip) }
                            }
                        } else if info.pointee.ai_family == AF_INET6 {
                            socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                                var address = pointer.pointee.sin6_addr
                                if let ip = IPAddress(bytes: withUnsafeBytes(of: &address) { Array($0) }) { addresses.append(ip) }
                            }
                        }
                    }
                    cursor = info.pointee.ai_next
                }
                var seen = Set<IPAddress>()
                continuation.resume(returning: addresses.filter { seen.insert($0).inserted })
            }
        }
    }
}
