import CandorCore
import CandorStore
import Foundation

/// A demo operator: who signs in to the console for a team in `candor demo`.
public struct DemoOperator: Codable, Sendable, Hashable {
    public var team: String
    public var email: String
    public var name: String
    /// Generated for this demo, printed once and kept in demo-keys.json (mode 0600).
    public var password: String
}

extension DemoWorkspace {
    /// The demo's operators: one per team, each acting with their team's roles and purposes.
    static let demoOperators: [(team: String, name: String)] = [
        ("marketing", "Maya Marketing"), ("sales", "Sam Sales"), ("support", "Sara Support"), ("it", "Ido IT"),
    ]

    /// Creates one operator per demo team with a fresh random password, and returns their credentials.
    public static func seedOperators(_ store: CandorStore, cost: UInt8) async throws -> [DemoOperator] {
        var made = [DemoOperator]()
        for (team, name) in demoOperators {
            let password = OperatorPasswords.generate()
            let created = try await OperatorPasswords.createOperator(store, email: "\(team)@example.com", name: name, team: team, password: password, cost: cost)
            made.append(DemoOperator(team: team, email: created.email, name: created.name, password: password))
        }
        return made
    }
}
