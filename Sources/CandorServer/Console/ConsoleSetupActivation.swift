import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's activation pages: Segments (rule editor with live count), offers and placements, campaigns (preview, test send, schedule).
extension ConsoleRoutes {
    func addActivationSetup(to router: Router<CandorRequestContext>) {
    }
}

extension ConsoleStrings {
    /// The activation pages' words.
    static let activationEnglish: [String: String] = [:]
    static let activationHebrew: [String: String] = [:]
}
