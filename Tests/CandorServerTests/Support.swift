import CandorCore
import CandorServer
import CandorStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// One in-process server over a fresh SQLite store in its own temporary directory, seeded with the demo
/// registry (four purposes, six fields, four teams and their keys) and optionally some demo people.
struct TestServer: Sendable {
    let store: CandorStore
    let keys: DemoWorkspace.Keys
    /// Ids of the seeded demo people.
    let seeded: [String]
    let api: API

    /// Runs `body` against a fresh server; the store is closed and its directory removed afterwards.
    static func run(
        maxBodyBytes: Int? = nil, people: Int = 0,
        _ body: @Sendable (TestServer) async throws -> Void
    ) async throws {
        // The Prometheus registry bootstraps swift-metrics: it must exist before any request is counted.
        _ = CandorMetrics.registry
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candor-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = ServerConfig()
        config.dataDirectory = directory.path
        config.checkpointIntervalSeconds = 0
        if let maxBodyBytes { config.maxBodyBytes = maxBodyBytes }
        let raw = ServerSecrets.generateRaw()
        let store = try await CandorStore(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("candor.sqlite").path),
            secrets: try ServerSecrets(masterKey: raw.master, signingKey: raw.signing))
        do {
            let keys = try await DemoWorkspace.seedRegistry(store, publishableOrigins: ["https://shop.example"])
            let seeded = people > 0 ? try await DemoWorkspace.seedSubjects(store, count: people, concurrency: 8) : []
            let resources = try await Resources.load()
            let app = Application(router: buildRouter(config: config, store: store, resources: resources))
            try await app.test(.router) { client in
                try await body(TestServer(store: store, keys: keys, seeded: seeded, api: API(client: client)))
            }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    // MARK: - Conveniences over HTTP

    /// The number of ledger entries, as `GET /v1/ledger/verify` reports them (and that the chain is intact).
    func ledgerEntries(sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
        let reply = try await api.get("/v1/ledger/verify", key: keys.admin)
        #expect(reply.status == .ok, sourceLocation: sourceLocation)
        let json = try reply.object()
        #expect(json["ok"] as? Bool == true, "the ledger must verify", sourceLocation: sourceLocation)
        return try #require(json["entries"] as? Int, sourceLocation: sourceLocation)
    }

    /// Row counts of the tables a write touches, to prove a refused request wrote nothing.
    func footprint() async throws -> [String: Int64] {
        var out = [String: Int64]()
        for table in ["ledger_entries", "profile_values", "consents", "outbox", "idempotency", "subjects", "fields", "purposes", "notices", "audit_log"] {
            out[table] = try await store.count(table)
        }
        return out
    }

    /// Creates a subject over HTTP (as marketing, which may write) and returns its id.
    func createSubject(externalId: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let body = externalId.map { #"{"external_id":"\#($0)"}"# } ?? "{}"
        let reply = try await api.post("/v1/subjects", key: keys.marketing, body: body)
        #expect(reply.status == .created, "\(reply.text)", sourceLocation: sourceLocation)
        return try #require(try reply.object()["id"] as? String, sourceLocation: sourceLocation)
    }

    /// Declares values over HTTP, citing the current notice of every purpose the fields serve.
    @discardableResult
    func declare(_ subjectId: String, _ values: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Reply {
        let registry = store.registry
        let purposes = Set(values.keys.flatMap { registry.fields[$0]?.purposes ?? [] })
        let notices = Dictionary(uniqueKeysWithValues: purposes.map { ($0, registry.purposes[$0]?.currentNoticeVersion ?? 0) })
        let body: [String: Any] = [
            "values": values.keys.sorted().map { ["field": $0, "value": values[$0]!] },
            "notices": notices,
            "source": "preference_center",
        ]
        let reply = try await api.post("/v1/subjects/\(subjectId)/declarations", key: keys.marketing, body: try JSON.text(body))
        #expect(reply.status == .created, "\(reply.text)", sourceLocation: sourceLocation)
        return reply
    }

    /// Sets consents over HTTP: purpose → "granted" or "withdrawn".
    func consent(_ subjectId: String, _ changes: [String: String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let registry = store.registry
        let consents: [[String: Any]] = changes.keys.sorted().map { purpose in
            var item: [String: Any] = ["purpose": purpose, "status": changes[purpose]!, "method": "checkbox"]
            if changes[purpose] == "granted" { item["notice_version"] = registry.purposes[purpose]?.currentNoticeVersion ?? 0 }
            return item
        }
        let reply = try await api.post("/v1/subjects/\(subjectId)/consents", key: keys.marketing, body: try JSON.text(["consents": consents]))
        #expect(reply.status == .created, "\(reply.text)", sourceLocation: sourceLocation)
    }

    /// Reads a subject's profile for a purpose and returns the `profile` object.
    func profile(_ subjectId: String, purpose: String, key: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let reply = try await api.get("/v1/subjects/\(subjectId)", key: key, purpose: purpose)
        #expect(reply.status == .ok, "\(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.contentType == "application/json", sourceLocation: sourceLocation)
        let json = try reply.object()
        let subject = try #require(json["subject"] as? [String: Any], sourceLocation: sourceLocation)
        #expect(subject["id"] as? String == subjectId, sourceLocation: sourceLocation)
        let profile = try #require(json["profile"] as? [String: Any], sourceLocation: sourceLocation)
        #expect(profile["subject_id"] as? String == subjectId, sourceLocation: sourceLocation)
        #expect(profile["purpose"] as? String == purpose, sourceLocation: sourceLocation)
        return profile
    }
}

/// A thin client over Hummingbird's test client that speaks Candor's conventions.
struct API: Sendable {
    let client: any TestClientProtocol

    func send(
        _ method: HTTPRequest.Method, _ uri: String, key: String? = nil, purpose: String? = nil,
        body: String? = nil, contentType: String? = "application/json", headers extra: [String: String] = [:]
    ) async throws -> Reply {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let purpose { headers[HTTPField.Name("Candor-Purpose")!] = purpose }
        if body != nil, let contentType { headers[.contentType] = contentType }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
    }

    func get(_ uri: String, key: String? = nil, purpose: String? = nil, headers: [String: String] = [:]) async throws -> Reply {
        try await send(.get, uri, key: key, purpose: purpose, headers: headers)
    }

    func post(_ uri: String, key: String?, body: String, contentType: String? = "application/json", headers: [String: String] = [:]) async throws -> Reply {
        try await send(.post, uri, key: key, body: body, contentType: contentType, headers: headers)
    }

    func delete(_ uri: String, key: String?) async throws -> Reply {
        try await send(.delete, uri, key: key)
    }
}

/// One answer, with its bytes.
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var contentType: String? { headers[.contentType] }

    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }

    /// The body as a JSON object.
    func object(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)", sourceLocation: sourceLocation)
    }

    /// The `field`s named in a problem's `errors`.
    func problemFields() throws -> [String] {
        ((try object()["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }
    }

    /// Checks the answer is an RFC 9457 problem document with this status, kind and (when given) field.
    func expectProblem(
        _ status: HTTPResponse.Status, kind: String? = nil, field: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(self.status == status, "expected \(status.code), got \(self.status.code): \(text)", sourceLocation: sourceLocation)
        #expect(contentType == "application/problem+json", sourceLocation: sourceLocation)
        #expect(header("X-Content-Type-Options") == "nosniff", "every answer carries the security headers", sourceLocation: sourceLocation)
        let json = try object(sourceLocation: sourceLocation)
        #expect(json["status"] as? Int == status.code, sourceLocation: sourceLocation)
        let type = try #require(json["type"] as? String, sourceLocation: sourceLocation)
        #expect(type.hasPrefix("urn:candor:problem:"), sourceLocation: sourceLocation)
        if let kind { #expect(type == "urn:candor:problem:\(kind)", sourceLocation: sourceLocation) }
        #expect((json["title"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        #expect((json["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        if let field {
            let fields = try problemFields()
            #expect(fields.contains(field), "problem should name '\(field)', named \(fields)", sourceLocation: sourceLocation)
            if fields.count == 1 {
                #expect((json["detail"] as? String)?.contains(field) == true, "detail should mention '\(field)'", sourceLocation: sourceLocation)
            }
        }
    }
}

enum JSON {
    /// Serializes a JSON value with sorted keys.
    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }
}
