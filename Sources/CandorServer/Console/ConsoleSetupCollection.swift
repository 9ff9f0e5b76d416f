import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's collection pages: Surveys and quizzes (builder and prompt preview), polls and incentive pools.
extension ConsoleRoutes {
    func addCollectionSetup(to router: Router<CandorRequestContext>) {
    }
}

extension ConsoleStrings {
    /// The collection pages' words.
    static let collectionEnglish: [String: String] = [:]
    static let collectionHebrew: [String: String] = [:]
}
