import Foundation
import HTTPTypes
import Testing

/// Bad input gets a clear error and changes nothing (DESIGN §1.10): every refused declaration names the
/// offending field, and neither the ledger nor any table moves.
@Suite struct DeclarationValidationTests {
    /// Posts a declaration that must be refused, and checks that nothing at all was written.
    static func refuse(
        _ server: TestServer, _ subjectId: String, body: String, contentType: String? = "application/json",
        status: HTTPResponse.Status = .unprocessableContent, kind: String = "validation-failed", field: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Reply {
        let entries = try await server.ledgerEntries(sourceLocation: sourceLocation)
        let before = try await server.footprint()
        let reply = try await server.api.send(.post, "/v1/subjects/\(subjectId)/declarations", key: server.keys.marketing, body: body, contentType: contentType)
        try reply.expectProblem(status, kind: kind, field: field, sourceLocation: sourceLocation)
        #expect(try await server.ledgerEntries(sourceLocation: sourceLocation) == entries, "the ledger must not move", sourceLocation: sourceLocation)
        #expect(try await server.footprint() == before, "nothing may be written", sourceLocation: sourceLocation)
        return reply
    }

    static let notices = #""notices":{"newsletter":1,"offers":1,"research":1,"support":1}"#

    @Test func unknownFieldIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let reply = try await Self.refuse(server, id, body: #"{"values":[{"field":"favourite_colour","value":"red"}],\#(Self.notices)}"#, field: "values[0].field")
            #expect((try reply.object()["detail"] as? String)?.contains("unknown field 'favourite_colour'") == true)
            // A good value next to a bad one is not stored either.
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"interests","value":["yoga"]},{"field":"nope","value":1}],\#(Self.notices)}"#, field: "values[1].field")
        }
    }

    @Test func optionOutsideTheListIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"content_frequency","value":"hourly"}],\#(Self.notices)}"#, field: "values[0].value")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"interests","value":["yoga","knitting"]}],\#(Self.notices)}"#, field: "values[0].value[1]")
        }
    }

    @Test func wrongTypeIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"shoe_size","value":"big"}],\#(Self.notices)}"#, field: "values[0].value")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"interests","value":"yoga"}],\#(Self.notices)}"#, field: "values[0].value")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"shoe_size","value":99}],\#(Self.notices)}"#, field: "values[0].value")
            // Shape errors found while decoding name their path too.
            _ = try await Self.refuse(server, id, body: #"{"values":"interests",\#(Self.notices)}"#, field: "values")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"interests","value":["yoga"]}],"notices":{"offers":"one"}}"#, field: "notices.offers")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"value":["yoga"]}],\#(Self.notices)}"#, field: "values[0].field")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"interests","value":["yoga"]}]}"#, field: "notices")
        }
    }

    @Test func missingNoticeIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            // shoe_size serves offers and support; only support's notice is cited.
            let reply = try await Self.refuse(server, id, body: #"{"values":[{"field":"shoe_size","value":40}],"notices":{"support":1}}"#, field: "notices.offers")
            #expect(try reply.problemFields() == ["notices.offers"])
        }
    }

    @Test func unknownNoticeVersionIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"shoe_size","value":40}],"notices":{"offers":9,"support":1}}"#, field: "notices.offers")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"shoe_size","value":40}],"notices":{"offers":1,"support":0}}"#, field: "notices.support")
            _ = try await Self.refuse(server, id, body: #"{"values":[{"field":"shoe_size","value":40}],"notices":{"offers":1,"support":1,"profiling":1}}"#, field: "notices.profiling")
        }
    }

    @Test func supersededNoticeIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let published = try await server.api.post(
                "/v1/purposes/offers/notices", key: server.keys.admin,
                body: #"{"texts":{"en":{"title":"Offers, reworded","why":"We now also use your birthday month","benefit":"A birthday treat"}}}"#)
            #expect(published.status == .created, "\(published.text)")
            let notice = try published.object()
            #expect(notice["version"] as? Int == 2)
            #expect(notice["purpose"] as? String == "offers")
            #expect((notice["content_hash"] as? String)?.hasPrefix("sha256:") == true)
            let purpose = try await server.api.get("/v1/purposes/offers", key: server.keys.sales)
            #expect(try purpose.object()["current_notice_version"] as? Int == 2)

            let reply = try await Self.refuse(server, id, body: #"{"values":[{"field":"birthday_month","value":"may"}],"notices":{"offers":1}}"#, field: "notices.offers")
            #expect((try reply.object()["detail"] as? String)?.contains("superseded by version 2") == true)

            // Citing the current version works.
            let ok = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.marketing,
                                              body: #"{"values":[{"field":"birthday_month","value":"may"}],"notices":{"offers":2}}"#)
            #expect(ok.status == .created, "\(ok.text)")
            let values = try #require(try ok.object()["values"] as? [[String: Any]])
            #expect(values.first?["notices"] as? [String: Int] == ["offers": 2])

            // Publishing is for admins only, and validated.
            try (try await server.api.post("/v1/purposes/offers/notices", key: server.keys.marketing, body: #"{"texts":{}}"#)).expectProblem(.forbidden)
            try (try await server.api.post("/v1/purposes/offers/notices", key: server.keys.admin, body: #"{"texts":{"he":{"title":"x","why":"y","benefit":"z"}}}"#))
                .expectProblem(.unprocessableContent, kind: "validation-failed", field: "texts.en")
            try (try await server.api.post("/v1/purposes/nope/notices", key: server.keys.admin, body: #"{"texts":{}}"#)).expectProblem(.notFound)
        }
    }

    @Test func specialCategoryFieldIsRefused() async throws {
        try await TestServer.run { server in
            let before = try await server.footprint()
            let reply = try await server.api.post("/v1/fields", key: server.keys.admin, body: #"""
                {"key":"health_condition","type":"text","purposes":["support"],"sensitivity":"special","labels":{"en":"Any condition we should know about?"}}
                """#)
            try reply.expectProblem(.unprocessableContent, kind: "validation-failed", field: "sensitivity")
            #expect(try reply.problemFields() == ["sensitivity"])
            #expect(try await server.footprint() == before)
            try (try await server.api.get("/v1/fields/health_condition", key: server.keys.admin)).expectProblem(.notFound)

            // The same field at standard sensitivity is accepted.
            let ok = try await server.api.post("/v1/fields", key: server.keys.admin, body: #"""
                {"key":"nickname","type":"text","purposes":["support"],"labels":{"en":"What should we call you?"}}
                """#)
            #expect(ok.status == .created, "\(ok.text)")
            #expect(try ok.object()["sensitivity"] as? String == "standard")
        }
    }

    @Test func malformedJSONIsA400() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            for body in [#"{"values":[{"field":"interests","value":["yoga"]}"#, "not json", ""] {
                _ = try await Self.refuse(server, id, body: body, status: .badRequest, kind: "malformed-request", field: "body")
            }
        }
    }

    @Test func oversizedBodyIsA413() async throws {
        try await TestServer.run(maxBodyBytes: 256) { server in
            let id = try await server.createSubject()
            let padding = String(repeating: "x", count: 400)
            let body = #"{"values":[{"field":"interests","value":["yoga"]}],"notices":{"newsletter":1,"offers":1,"research":1},"collection_point":"\#(padding)"}"#
            let entries = try await server.ledgerEntries()
            let before = try await server.footprint()
            let reply = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.marketing, body: body)
            try reply.expectProblem(.contentTooLarge, kind: "payload-too-large")
            #expect((try reply.object()["detail"] as? String)?.contains("256") == true)
            #expect(try await server.ledgerEntries() == entries)
            #expect(try await server.footprint() == before)
            // A body under the limit goes through.
            let small = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.marketing,
                                                 body: #"{"values":[{"field":"interests","value":["yoga"]}],"notices":{"newsletter":1,"offers":1,"research":1}}"#)
            #expect(small.status == .created, "\(small.text)")
        }
    }

    @Test func nonJSONContentTypeIsA415() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let body = #"{"values":[{"field":"interests","value":["yoga"]}],"notices":{"newsletter":1,"offers":1,"research":1}}"#
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                _ = try await Self.refuse(server, id, body: body, contentType: type, status: .unsupportedMediaType, kind: "malformed-request", field: "Content-Type")
            }
            // application/json with a charset is fine.
            let ok = try await server.api.post("/v1/subjects/\(id)/declarations", key: server.keys.marketing, body: body, contentType: "application/json; charset=utf-8")
            #expect(ok.status == .created, "\(ok.text)")
        }
    }
}
