import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird

/// Collection points (issue 3): the preference center, the public privacy page and anonymous polls.
/// They share the portal's rendering, link desk, CSRF scheme and rate limiter.
struct CollectionRoutes {
    let store: CandorStore
    let resources: Resources
    let config: ServerConfig
    let support: RouteSupport

    func add(pages router: Router<CandorRequestContext>, api: RouterGroup<CandorRequestContext>) {
        let portal = PortalRoutes(store: store, resources: resources, config: config, support: support)
        PreferenceCenter(store: store, config: config, support: support, portal: portal).add(pages: router, api: api)
        PollRoutes(store: store, config: config, support: support, portal: portal).add(pages: router, api: api)
        SurveyRoutes(store: store, config: config, support: support, portal: portal).add(pages: router, api: api)
        router.get("privacy") { request, _ in privacyPage(request, portal: portal) }
        EmbedRoutes(store: store, resources: resources, config: config).add(pages: router, api: api)
    }

    /// `/privacy`: purposes with their current notices, legal basis, retention and the teams that use
    /// each, generated from the registry (the same record `/records-of-processing` prints in full).
    func privacyPage(_ request: Request, portal: PortalRoutes) -> Response {
        let language = PageLanguage.choose(request)
        let t = CollectionStrings.of(language, title: "privacyTitle")
        let registry = store.registry
        let record = store.recordOfProcessing(language: language.code)
        let purposes: [[String: Any]] = record.activities.map { activity in
            let notice = registry.currentNotice(of: activity.purpose)
            let text = notice?.texts[language.code] ?? notice?.texts["en"]
            return PortalView.compact([
                "key": activity.purpose, "name": activity.name, "why": text?.why, "benefit": text?.benefit,
                "version": activity.noticeVersion.map { "v\($0)" } ?? "—", "basis": t[activity.legalBasis.rawValue] ?? activity.legalBasis.rawValue,
                "retention": activity.retentionDays,
                "asks": activity.dataCategories.map(\.label).joined(separator: ", "), "hasAsks": !activity.dataCategories.isEmpty,
                "teams": activity.recipients.map(\.name).joined(separator: ", "), "hasTeams": !activity.recipients.isEmpty,
            ])
        }
        return portal.render("privacy", language, path: "/privacy", ["t": t, "heading": t["privacyTitle"]!, "purposes": purposes])
    }
}
