import CandorCore
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import Mustache
import Prometheus

/// Health, readiness, metrics, the API contract and the start page.
struct SystemRoutes {
    let store: CandorStore
    let resources: Resources
    let config: ServerConfig

    func add(to router: Router<CandorRequestContext>) {
        router.get("healthz") { _, _ in Response.text("ok\n") }
        router.get("readyz") { _, _ in
            // Ready when the database answers a read.
            _ = try await store.database.read { try $0.query("SELECT 1", []) }
            return Response.text("ready\n")
        }
        router.get("metrics") { _, _ in
            var buffer = [UInt8]()
            CandorMetrics.registry.emit(into: &buffer)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: resources.openAPI)))
        }
        router.get("static/candor.css") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "public, max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: resources.stylesheet)))
        }
        router.get("/") { request, _ in
            let page = StartPage(store: store, config: config, language: PageLanguage.choose(request))
            return Response.html(resources.templates.render(page.context(), withTemplate: "start") ?? "")
        }
    }
}

/// The files shipped with the server: the OpenAPI document, page templates and the stylesheet.
public struct Resources: Sendable {
    public let openAPI: String
    public let stylesheet: String
    public let templates: MustacheLibrary

    /// Loads the resources from the module bundle.
    public static func load() async throws -> Resources {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw CandorStoreError.configuration("the server's resource bundle is missing")
        }
        return Resources(
            openAPI: try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8),
            stylesheet: try String(contentsOf: root.appendingPathComponent("static/candor.css"), encoding: .utf8),
            templates: try await MustacheLibrary(directory: root.appendingPathComponent("templates").path))
    }
}

/// Prometheus metrics for the process: one registry, bootstrapped once.
public enum CandorMetrics {
    /// The registry `/metrics` renders.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

extension Response {
    static func text(_ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An HTML page with a strict Content-Security-Policy: no script, no inline style, no framing.
    static func html(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
