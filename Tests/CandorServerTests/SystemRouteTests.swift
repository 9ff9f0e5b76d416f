import Foundation
import HTTPTypes
import Testing

/// Health, readiness, metrics, the API contract and the start page.
@Suite struct SystemRouteTests {
    @Test func healthAndReadiness() async throws {
        try await TestServer.run { server in
            let health = try await server.api.get("/healthz")
            #expect(health.status == .ok)
            #expect(health.contentType == "text/plain; charset=utf-8")
            #expect(health.text == "ok\n")
            #expect(health.header("X-Content-Type-Options") == "nosniff")
            #expect(health.header("Cache-Control") == "no-store")

            let ready = try await server.api.get("/readyz")
            #expect(ready.status == .ok)
            #expect(ready.contentType == "text/plain; charset=utf-8")
            #expect(ready.text == "ready\n")
        }
    }

    @Test func metricsArePrometheusTextAfterARequest() async throws {
        try await TestServer.run { server in
            #expect(try await server.api.get("/healthz").status == .ok)
            #expect(try await server.api.get("/v1/purposes").status == .unauthorized)
            let metrics = try await server.api.get("/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.contentType == "text/plain; version=0.0.4")
            let text = metrics.text
            #expect(text.contains("# TYPE hb_requests counter"), "\(text.prefix(2000))")
            let requestLines = text.split(separator: "\n").filter { $0.hasPrefix("hb_requests{") }
            #expect(requestLines.contains { $0.contains("/healthz") }, "\(requestLines)")
            // Every sample line is `name{labels} value` or `name value`.
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let value = line.split(separator: " ").last.map(String.init) ?? ""
                #expect(Double(value) != nil || ["+Inf", "-Inf", "NaN"].contains(value), "bad sample line: \(line)")
            }
            #expect(!text.contains("cnd_sk_"))
        }
    }

    @Test func openAPIIsServedAsYAML() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/openapi.yaml")
            #expect(reply.status == .ok)
            #expect(reply.contentType == "application/yaml")
            #expect(reply.text.hasPrefix("openapi: 3.1"))
        }
    }

    @Test func startPageInEnglish() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/")
            #expect(reply.status == .ok)
            #expect(reply.contentType == "text/html; charset=utf-8")
            let html = reply.text
            #expect(html.hasPrefix("<!doctype html>"))
            #expect(html.contains(#"<html lang="en" dir="ltr">"#))
            #expect(html.contains("Personalized offers"))
            #expect(html.contains("Purposes and their current notices"))
            #expect(html.contains(#"href="/?lang=he""#))
            #expect(!html.contains("<script"))
            try Self.expectStrictCSP(reply)
            #expect(reply.header("Referrer-Policy") == "no-referrer")
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
            #expect(!html.contains("cnd_sk_"), "the page never shows keys")
        }
    }

    @Test func startPageInHebrewIsRightToLeft() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/?lang=he")
            #expect(reply.status == .ok)
            #expect(reply.contentType == "text/html; charset=utf-8")
            let html = reply.text
            #expect(html.contains(#"<html lang="he" dir="rtl">"#))
            #expect(html.contains("הצעות מותאמות אישית"))
            #expect(html.contains("נסו בעצמכם"))
            #expect(html.contains(#"href="/?lang=en""#))
            try Self.expectStrictCSP(reply)

            // Accept-Language picks Hebrew too (including the legacy `iw`), and an unsupported ?lang falls back.
            for header in ["he-IL,he;q=0.9,en;q=0.5", "iw"] {
                let negotiated = try await server.api.get("/", headers: ["Accept-Language": header])
                #expect(negotiated.text.contains(#"<html lang="he" dir="rtl">"#), "for \(header)")
            }
            let fallback = try await server.api.get("/?lang=xx")
            #expect(fallback.text.contains(#"<html lang="en" dir="ltr">"#))
        }
    }

    @Test func stylesheetIsServed() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/static/candor.css")
            #expect(reply.status == .ok)
            #expect(reply.contentType == "text/css; charset=utf-8")
            #expect(reply.header("Cache-Control") == "public, max-age=300")
            #expect(!reply.text.isEmpty)
        }
    }

    @Test func unknownRouteIsAProblem() async throws {
        try await TestServer.run { server in
            let reply = try await server.api.get("/nope")
            try reply.expectProblem(.notFound, kind: "not-found")
        }
    }

    static func expectStrictCSP(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let csp = try #require(reply.header("Content-Security-Policy"), sourceLocation: sourceLocation)
        #expect(!csp.contains("unsafe-inline"), sourceLocation: sourceLocation)
        #expect(!csp.contains("unsafe-eval"), sourceLocation: sourceLocation)
        #expect(csp.contains("default-src 'none'"), sourceLocation: sourceLocation)
        #expect(csp.contains("frame-ancestors 'none'"), sourceLocation: sourceLocation)
    }
}
