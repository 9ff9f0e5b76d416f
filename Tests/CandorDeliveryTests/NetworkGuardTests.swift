import CandorDelivery
import Testing

@Suite("SSRF network guard")
struct NetworkGuardTests {
    static let refused: [(String, String)] = [
        ("127.0.0.1", "loopback"), ("127.255.1.2", "loopback"), ("::1", "loopback"),
        ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
        ("fc00::1", "unique-local"), ("fd12:3456::1", "unique-local"),
        ("::ffff:127.0.0.1", "IPv4-mapped"), ("::ffff:8.8.8.8", "IPv4-mapped"), ("64:ff9b::a00:1", "IPv4-mapped"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("255.255.255.255", "reserved"), ("192.0.2.10", "reserved"),
    ]
    static let allowed = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "11.0.0.1", "2606:4700:4700::1111", "2001:4860:4860::8888"]

    @Test("Special addresses are refused with the reason", arguments: refused)
    func refusesSpecialAddresses(address: String, reason: String) throws {
        let ip = try #require(IPAddress(address))
        #expect(NetworkGuard().refusal(for: ip)?.rawValue == reason)
    }

    @Test("Public addresses are allowed", arguments: allowed)
    func allowsPublicAddresses(address: String) throws {
        #expect(NetworkGuard().refusal(for: try #require(IPAddress(address))) == nil)
    }

    @Test("An operator's allowed networks open exactly those networks")
    func configuredNetworks() throws {
        let guarded = try NetworkGuard.parse("127.0.0.1/32, 10.1.0.0/16")
        #expect(guarded.refusal(for: IPAddress("127.0.0.1")!) == nil)
        #expect(guarded.refusal(for: IPAddress("10.1.200.3")!) == nil)
        #expect(guarded.refusal(for: IPAddress("127.0.0.2")!) == .loopback)
        #expect(guarded.refusal(for: IPAddress("10.2.0.1")!) == .privateNetwork)
        #expect(guarded.refusal(for: IPAddress("::1")!) == .loopback)
        let everything = try NetworkGuard.parse("*")
        #expect(everything.refusal(for: IPAddress("169.254.169.254")!) == nil && everything.refusal(for: IPAddress("::1")!) == nil)
        #expect(try NetworkGuard.parse(nil).allowed.isEmpty && NetworkGuard.parse(" ").allowed.isEmpty)
        #expect(throws: (any Error).self) { try NetworkGuard.parse("10.0.0.0/33") }
        #expect(throws: (any Error).self) { try NetworkGuard.parse("localhost") }
    }

    @Test("Literal hosts are checked without a lookup, and a name is checked on every address it resolves to")
    func checkHosts() async throws {
        await #expect(throws: NetworkGuard.GuardError.self) { try await NetworkGuard().check(host: "169.254.169.254", port: 80) }
        await #expect(throws: NetworkGuard.GuardError.self) { try await NetworkGuard().check(host: "[::1]", port: 443) }
        // `localhost` resolves to loopback addresses only (from /etc/hosts): refused unless allowed.
        await #expect(throws: NetworkGuard.GuardError.self) { try await NetworkGuard().check(host: "localhost", port: 80) }
        let open = try NetworkGuard.parse("127.0.0.0/8, ::1/128")
        #expect(try await open.check(host: "localhost", port: 80).isEmpty == false)
        #expect(try await NetworkGuard().check(host: "8.8.8.8", port: 443) == [IPAddress("8.8.8.8")!])
    }
}
