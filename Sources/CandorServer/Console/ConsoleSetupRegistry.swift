import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's registry pages: Purposes and notices (with the diff of a new version), fields, teams, operators and API keys.
extension ConsoleRoutes {
    func addRegistrySetup(to router: Router<CandorRequestContext>) {
    }
}

extension ConsoleStrings {
    /// The registry pages' words.
    static let registryEnglish: [String: String] = [:]
    static let registryHebrew: [String: String] = [:]
}
