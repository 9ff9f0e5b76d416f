import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// The console's delivery pages: Destinations (delivery log, dead letters, replay), automations, the internal audit report and the record of processing.
extension ConsoleRoutes {
    func addDeliverySetup(to router: Router<CandorRequestContext>) {
    }
}

extension ConsoleStrings {
    /// The delivery pages' words.
    static let deliveryEnglish: [String: String] = [:]
    static let deliveryHebrew: [String: String] = [:]
}
