import CandorCore
import CandorStore
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Settings of the operator console.
public struct ConsoleSettings: Sendable {
    /// The bcrypt cost for operator passwords: 12 in production (about a quarter of a second per hash);
    /// tests may lower it (bcrypt allows 4 to 31).
    public var bcryptCost: UInt8 = 12

    public init() {}
}

/// Hashing and checking operator passwords with bcrypt, on NIO's blocking thread pool: a hash takes a
/// quarter of a second on purpose, and must not hold an event loop or a cooperative thread that long.
public enum OperatorPasswords {
    /// The shortest password accepted.
    public static let minimumLength = 12

    /// A bcrypt hash of `password` at `cost`.
    public static func hash(_ password: String, cost: UInt8) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash` (bcrypt compares in constant time).
    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A hash that matches no password, checked when the address is unknown so that an unknown address
    /// takes as long to refuse as a wrong password.
    static let decoy: LockedBox<[UInt8: String]> = LockedBox([:])

    static func decoyHash(cost: UInt8) async throws -> String {
        if let known = decoy.withLock({ $0[cost] }) { return known }
        let made = try await hash(PortalRoutes.randomHex(), cost: cost)
        decoy.withLock { $0[cost] = made }
        return made
    }

    /// A random password for a new operator: 20 characters from an alphabet without look-alikes.
    public static func generate() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Creates an operator: checks the password's length, hashes it, and stores the account, audited under
    /// `principal` (nil for `candor admin create` and the demo). The console's teams page and the CLI both call this.
    public static func createOperator(_ store: CandorStore, email: String, name: String, team: String, password: String, cost: UInt8,
                                      by principal: Principal? = nil) async throws -> Operator {
        guard password.count >= minimumLength else {
            throw CandorError(.validation, "the operator is not valid", errors: [FieldError("password", "must be at least \(minimumLength) characters")])
        }
        return try await store.createOperator(email: email, name: name, team: team, passwordHash: try await hash(password, cost: cost), by: principal)
    }
}
