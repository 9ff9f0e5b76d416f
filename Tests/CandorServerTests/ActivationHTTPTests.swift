@testable import CandorStore
import Foundation
import HTTPTypes
import Testing

/// Segments, offers, decisions and outcomes over HTTP (issue 5).
@Suite struct ActivationHTTPTests {
    static let runnerRule = #"interests has "running" and consent("offers")"#

    /// A saved segment and a personalized onsite offer on it, plus a generic fallback offer.
    func catalog(_ server: TestServer, capTotal: Int? = nil, capPerPerson: Int? = nil) async throws -> (segment: String, offer: String, fallback: String) {
        let segment = try await server.api.post("/v1/segments", key: server.keys.admin, body: try JSON.text(["name": "Runners", "rule": Self.runnerRule]))
        #expect(segment.status == .created, "\(segment.text)")
        let segmentId = try #require(try segment.object()["id"] as? String)
        var offer: [String: Any] = [
            "name": "Trail shoes", "placements": ["onsite", "newsletter"], "segment_id": segmentId, "purpose": "offers", "priority": 10,
            "content": ["en": ["title": "New trail shoes", "body": "For your next run"], "he": ["title": "נעלי שטח חדשות", "body": "לריצה הבאה"]],
        ]
        if let capTotal { offer["cap_total"] = capTotal }
        if let capPerPerson { offer["cap_per_person"] = capPerPerson }
        let created = try await server.api.post("/v1/offers", key: server.keys.admin, body: try JSON.text(offer))
        #expect(created.status == .created, "\(created.text)")
        let generic = try await server.api.post("/v1/offers", key: server.keys.admin, body: try JSON.text([
            "name": "Newsletter", "placements": ["onsite"], "content": ["en": ["title": "Join our newsletter", "body": "Monthly, no spam"]],
        ]))
        #expect(generic.status == .created, "\(generic.text)")
        return (segmentId, try #require(try created.object()["id"] as? String), try #require(try generic.object()["id"] as? String))
    }

    /// People who declared running and consented to offers: the catalog's segment.
    func runners(_ server: TestServer, _ count: Int) async throws -> [String] {
        var people = [String]()
        for _ in 0..<count {
            let id = try await server.createSubject()
            _ = try await server.declare(id, ["interests": ["running"]])
            try await server.consent(id, ["offers": "granted"])
            people.append(id)
        }
        return people
    }

    func decide(_ server: TestServer, _ subjectId: String, placement: String = "onsite", locale: String = "en", key: String? = nil) async throws -> [String: Any] {
        let reply = try await server.api.post("/v1/decide", key: key ?? server.keys.sales, body: try JSON.text([
            "subject_id": subjectId, "placement": placement, "context": ["page": "/shoes", "locale": locale],
        ]))
        #expect(reply.status == .ok, "\(reply.text)")
        return try reply.object()
    }

    @Test func badRulesAreRefusedWithLineAndColumnAndWriteNothing() async throws {
        try await TestServer.run { server in
            for (rule, message) in [
                ("interests has \"running\" and", "line 1, column 28: expected a field"),
                ("colour = \"red\"", "line 1, column 1: unknown field 'colour'"),
                ("shoe_size > \"big\"", "line 1, column 13: 'shoe_size' is number: expected a number"),
                ("set(interests) and\n  interests has \"golf\"", "line 2, column 17:"),
            ] {
                let reply = try await server.api.post("/v1/segments", key: server.keys.admin, body: try JSON.text(["name": "bad", "rule": rule]))
                try reply.expectProblem(.unprocessableContent, kind: "validation-failed", field: "rule")
                let errors = try #require(try reply.object()["errors"] as? [[String: Any]])
                #expect((errors.first?["message"] as? String)?.hasPrefix(message) == true, "\(reply.text)")
                let count = try await server.api.post("/v1/segments/count", key: server.keys.admin, body: try JSON.text(["rule": rule]))
                try count.expectProblem(.unprocessableContent, field: "rule")
            }
            #expect(try await server.store.count("segments") == 0)
            let forbidden = try await server.api.post("/v1/segments", key: server.keys.marketing, body: try JSON.text(["name": "x", "rule": "set(interests)"]))
            try forbidden.expectProblem(.forbidden)
        }
    }

    @Test func savedSegmentsHaveLiveCountsAndMembersOnlyForAConsentedPurpose() async throws {
        try await TestServer.run { server in
            let (a, b, c) = (try await server.createSubject(), try await server.createSubject(), try await server.createSubject())
            for id in [a, b, c] { _ = try await server.declare(id, ["interests": ["running"], "shoe_size": 42, "channels": ["email"]]) }
            try await server.consent(a, ["offers": "granted"])
            try await server.consent(b, ["offers": "granted"])
            let (segmentId, _, _) = try await catalog(server)
            let count = try await server.api.post("/v1/segments/count", key: server.keys.admin, body: try JSON.text(["rule": "interests has \"running\""]))
            #expect(try count.object()["count"] as? Int == 3)
            let got = try await server.api.get("/v1/segments/\(segmentId)", key: server.keys.admin)
            #expect(try got.object()["count"] as? Int == 2)
            // Restricting b drops it from the live count and from the members at once.
            _ = try await server.api.post("/v1/subjects/\(b)/restrict", key: server.keys.admin, body: "")
            let list = try await server.api.get("/v1/segments", key: server.keys.admin)
            #expect(((try list.object()["data"] as? [[String: Any]])?.first?["count"] as? Int) == 1)
            let members = try await server.api.get("/v1/segments/\(segmentId)/members?limit=10", key: server.keys.sales, purpose: "offers")
            #expect(members.status == .ok, "\(members.text)")
            let data = try #require(try members.object()["data"] as? [[String: Any]])
            #expect(data.map { $0["subject_id"] as? String } == [a])
            let values = try #require(data.first?["values"] as? [String: Any])
            #expect(Set(values.keys) == ["interests", "shoe_size", "channels"], "only fields serving 'offers'")
            // A purpose the team lacks, or none at all, shows nobody.
            try await server.api.get("/v1/segments/\(segmentId)/members", key: server.keys.sales, purpose: "support").expectProblem(.forbidden, field: "Candor-Purpose")
            try await server.api.get("/v1/segments/\(segmentId)/members", key: server.keys.sales).expectProblem(.badRequest, field: "Candor-Purpose")
            try await server.api.get("/v1/segments/seg_nope", key: server.keys.admin).expectProblem(.notFound)
        }
    }

    @Test func decisionsExplainThemselvesAndFollowConsentAtOnce() async throws {
        try await TestServer.run { server in
            server.store.configureActivation { $0.holdoutShare = 0 }
            let id = try await server.createSubject()
            _ = try await server.declare(id, ["interests": ["running", "yoga"], "shoe_size": 42])
            try await server.consent(id, ["offers": "granted"])
            let (_, offerId, fallbackId) = try await catalog(server)
            let decision = try await decide(server, id, locale: "he")
            #expect(decision["personalized"] as? Bool == true)
            #expect(decision["arm"] as? String == "personalized")
            let offers = try #require(decision["offers"] as? [[String: Any]])
            #expect(offers.map { $0["offer_id"] as? String } == [offerId])
            #expect(offers.first?["title"] as? String == "נעלי שטח חדשות")
            let because = try #require(offers.first?["because"] as? [String: Any])
            let facts = try #require(because["facts"] as? [[String: Any]])
            #expect(facts.map { $0["field"] as? String } == ["interests"])
            #expect(facts.first?["value"] as? [String] == ["running", "yoga"])
            #expect(facts.first?["declared_at"] is String && (facts.first?["source"] as? String)?.isEmpty == false)
            let consent = try #require(because["consent"] as? [String: Any])
            #expect(consent["purpose"] as? String == "offers" && consent["notice_version"] as? Int == 1)
            // Withdrawn now: the very next decision is the generic fallback, with nothing about the person.
            try await server.consent(id, ["offers": "withdrawn"])
            let after = try await decide(server, id)
            #expect(after["personalized"] as? Bool == false)
            let fallback = try #require(after["offers"] as? [[String: Any]])
            #expect(fallback.map { $0["offer_id"] as? String } == [fallbackId])
            #expect(fallback.first?["because"] == nil)
            let text = try JSON.text(after)
            #expect(!text.contains("running"))
        }
    }

    @Test func erasedRestrictedAndUndeclaredPeopleGetTheFallback() async throws {
        try await TestServer.run { server in
            server.store.configureActivation { $0.holdoutShare = 0 }
            let (_, _, fallbackId) = try await catalog(server)
            let blank = try await server.createSubject()
            let restricted = try await server.createSubject(), erased = try await server.createSubject()
            for id in [restricted, erased] {
                _ = try await server.declare(id, ["interests": ["running"]])
                try await server.consent(id, ["offers": "granted"])
            }
            _ = try await server.api.post("/v1/subjects/\(restricted)/restrict", key: server.keys.admin, body: "")
            _ = try await server.api.delete("/v1/subjects/\(erased)", key: server.keys.admin)
            for (id, arm) in [(blank, "personalized"), (restricted, "excluded"), (erased, "excluded")] {
                let decision = try await decide(server, id)
                #expect(decision["arm"] as? String == arm)
                #expect(decision["personalized"] as? Bool == false)
                #expect((decision["offers"] as? [[String: Any]])?.map { $0["offer_id"] as? String } == [fallbackId])
                let text = try JSON.text(decision)
                #expect(!text.contains("because") && !text.contains("running"))
            }
        }
    }

    @Test func badDecideAndOfferInputIsRefused() async throws {
        try await TestServer.run { server in
            let id = try await server.createSubject()
            let (segmentId, _, _) = try await catalog(server)
            try await server.api.post("/v1/decide", key: server.keys.sales, body: #"{"subject_id":"\#(id)","placement":"billboard"}"#)
                .expectProblem(.unprocessableContent, field: "placement")
            try await server.api.post("/v1/decide", key: server.keys.sales, body: #"{"subject_id":"sub_nobody","placement":"onsite"}"#)
                .expectProblem(.notFound, field: "subject_id")
            try await server.api.post("/v1/offers", key: server.keys.admin, body: #"{"name":"x","placements":["billboard"],"content":{"en":{"title":"t","body":""}}}"#)
                .expectProblem(.unprocessableContent, field: "placements[0]")
            try await server.api.post("/v1/offers", key: server.keys.admin, body: #"{"name":"x","placements":["onsite"],"segment_id":"\#(segmentId)","content":{"en":{"title":"t","body":""}}}"#)
                .expectProblem(.unprocessableContent, field: "purpose")
            // Purpose binding: a 'support' offer may not target people by a field that does not serve support.
            try await server.api.post("/v1/offers", key: server.keys.admin, body: #"{"name":"x","placements":["support"],"segment_id":"\#(segmentId)","purpose":"support","content":{"en":{"title":"t","body":""}}}"#)
                .expectProblem(.unprocessableContent, field: "segment_id")
            try await server.api.post("/v1/offers", key: server.keys.admin, body: #"{"name":"x","placements":["onsite"],"segment_id":"seg_nope","purpose":"offers","content":{"en":{"title":"t","body":""}}}"#)
                .expectProblem(.unprocessableContent, field: "segment_id")
            try await server.api.get("/v1/offers/ofr_nope", key: server.keys.admin).expectProblem(.notFound)
            try await server.api.get("/v1/offers/report?offer_id=ofr_nope", key: server.keys.admin).expectProblem(.notFound)
            #expect(try await server.store.count("offers") == 2)
            #expect(try await server.store.count("decisions") == 0)
        }
    }

    @Test func holdoutIsStablePerPersonAndGetsTheFallback() async throws {
        try await TestServer.run { server in
            let (_, _, fallbackId) = try await catalog(server)
            server.store.configureActivation { $0.holdoutShare = 0.5 }
            var arms = [String: String]()
            for _ in 0..<12 {
                let id = try await server.createSubject()
                _ = try await server.declare(id, ["interests": ["running"]])
                try await server.consent(id, ["offers": "granted"])
                let first = try await decide(server, id), second = try await decide(server, id)
                #expect(first["arm"] as? String == second["arm"] as? String)
                #expect((first["arm"] as? String == "holdout") == CandorStore.isHoldout(id, share: 0.5))
                if first["arm"] as? String == "holdout" {
                    #expect((first["offers"] as? [[String: Any]])?.map { $0["offer_id"] as? String } == [fallbackId])
                }
                arms[id] = first["arm"] as? String
            }
            #expect(Set(arms.values) == ["holdout", "personalized"], "12 people at 50%: both groups appear")
        }
    }

    @Test func capsHoldUnderConcurrentDecisions() async throws {
        try await TestServer.run { server in
            server.store.configureActivation { $0.holdoutShare = 0 }
            let id = try await server.createSubject()
            _ = try await server.declare(id, ["interests": ["running"]])
            try await server.consent(id, ["offers": "granted"])
            let (_, offerId, _) = try await catalog(server, capTotal: 3)
            let issued = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        let d = try await self.decide(server, id)
                        return (d["offers"] as? [[String: Any]])?.contains { $0["offer_id"] as? String == offerId } == true
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(issued == 3)
        }
    }

    @Test func aPerPersonCapHoldsUnderConcurrentDecisionsForEachPersonApart() async throws {
        try await TestServer.run { server in
            server.store.configureActivation { $0.holdoutShare = 0 }
            let people = try await runners(server, 3)
            let (_, offerId, fallbackId) = try await catalog(server, capPerPerson: 2)
            // Two people, ten concurrent decisions each, interleaved: concurrent decisions share transactions.
            let everyone = people
            let issued = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let person = everyone[i % 2]
                        let d = try await self.decide(server, person)
                        return (person, (d["offers"] as? [[String: Any]])?.contains { $0["offer_id"] as? String == offerId } == true)
                    }
                }
                return try await group.reduce(into: [String: Int]()) { $0[$1.0, default: 0] += $1.1 ? 1 : 0 }
            }
            #expect(issued[people[0]] == 2 && issued[people[1]] == 2, "\(issued)")
            // Later, the cap still counts what was issued (from the log), and a third person still gets theirs.
            let again = try await decide(server, people[0])
            #expect((again["offers"] as? [[String: Any]])?.map { $0["offer_id"] as? String } == [fallbackId])
            let third = try await decide(server, people[2])
            #expect((third["offers"] as? [[String: Any]])?.first?["offer_id"] as? String == offerId)
        }
    }

    @Test func thompsonRankingLearnsWhichOfferConvertsOverItsPriority() async throws {
        try await TestServer.run { server in
            server.store.configureActivation {
                $0.holdoutShare = 0
                $0.ranking = .thompson
            }
            let id = try await server.createSubject()
            _ = try await server.declare(id, ["interests": ["running"]])
            try await server.consent(id, ["offers": "granted"])
            let (segmentId, loud, _) = try await catalog(server)
            let quiet = try await server.api.post("/v1/offers", key: server.keys.admin, body: try JSON.text([
                "name": "Running socks", "placements": ["onsite"], "segment_id": segmentId, "purpose": "offers", "priority": 0,
                "content": ["en": ["title": "Socks that stay put", "body": "Made for long runs"]],
            ]))
            let quietId = try #require(try quiet.object()["id"] as? String)
            // People convert on the socks only; the shoes have the higher priority but never convert.
            var lastThirty = [String]()
            for round in 0..<70 {
                let reply = try await server.api.post("/v1/decide", key: server.keys.sales, body: try JSON.text([
                    "subject_id": id, "placement": "onsite", "limit": 1, "context": ["locale": "en"],
                ]))
                let decision = try reply.object()
                let shown = try #require((decision["offers"] as? [[String: Any]])?.first?["offer_id"] as? String)
                #expect([loud, quietId].contains(shown))
                if shown == quietId {
                    let outcome = try await server.api.post("/v1/decisions/\(try #require(decision["decision_id"] as? String))/outcomes", key: server.keys.sales, body: #"{"type":"conversion"}"#)
                    #expect(outcome.status == .created)
                }
                if round >= 40 { lastThirty.append(shown) }
            }
            #expect(lastThirty.filter { $0 == quietId }.count >= 26, "the converting offer wins once learned: \(lastThirty.filter { $0 == quietId }.count)/30")
            server.store.configureActivation { $0.ranking = .priority }
            let byPriority = try await decide(server, id)
            #expect((byPriority["offers"] as? [[String: Any]])?.first?["offer_id"] as? String == loud, "priority ranking ignores what was learned")
        }
    }

    @Test func theDecisionLogIsCompleteAndAnErasureRightAfterADecisionStripsThePersonFromIt() async throws {
        try await TestServer.run { server in
            server.store.configureActivation { $0.holdoutShare = 0 }
            _ = try await catalog(server)
            let people = try await runners(server, 6)
            // 60 concurrent decisions, none capped: each answers from memory and is logged by the journal.
            let everyone = people
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<60 { group.addTask { try #require(try await self.decide(server, everyone[i % everyone.count])["decision_id"] as? String) } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            let report = try await server.api.get("/v1/offers/report", key: server.keys.admin).object()
            #expect((report["personalized"] as? [String: Any])?["decisions"] as? Int == 60, "every answered decision is in the log")
            #expect(Set(ids).count == 60)
            // A decision made just before the person's erasure does not keep them in the log.
            let last = try #require(people.last)
            _ = try await decide(server, last)
            #expect(try await server.api.delete("/v1/subjects/\(last)", key: server.keys.admin).status == .ok)
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await server.store.database.read { try $0.queryOne("SELECT count(*) FROM decisions WHERE subject_id = ?", .text(last))?.int(0) } == 0)
        }
    }

    @Test func outcomesFeedTheLiftReport() async throws {
        try await TestServer.run { server in
            server.store.configureActivation { $0.holdoutShare = 0 }
            let id = try await server.createSubject()
            _ = try await server.declare(id, ["interests": ["running"]])
            try await server.consent(id, ["offers": "granted"])
            let (_, offerId, fallbackId) = try await catalog(server)
            let decision = try await decide(server, id)
            let decisionId = try #require(decision["decision_id"] as? String)
            for type in ["impression", "click", "conversion", "conversion"] {
                let reply = try await server.api.post("/v1/decisions/\(decisionId)/outcomes", key: server.keys.sales, body: #"{"type":"\#(type)"}"#)
                #expect(reply.status == .created, "\(reply.text)")
                #expect(try reply.object()["offer_id"] as? String == offerId)
            }
            try await server.api.post("/v1/decisions/\(decisionId)/outcomes", key: server.keys.sales, body: #"{"type":"purchase"}"#).expectProblem(.unprocessableContent, field: "type")
            try await server.api.post("/v1/decisions/\(decisionId)/outcomes", key: server.keys.sales, body: #"{"type":"click","offer_id":"ofr_other"}"#).expectProblem(.unprocessableContent, field: "offer_id")
            try await server.api.post("/v1/decisions/dec_nope/outcomes", key: server.keys.sales, body: #"{"type":"click"}"#).expectProblem(.notFound)
            let report = try await server.api.get("/v1/offers/report", key: server.keys.admin)
            let json = try report.object()
            let personalized = try #require(json["personalized"] as? [String: Any])
            #expect(personalized["decisions"] as? Int == 1 && personalized["conversions"] as? Int == 1)
            #expect(json["confidence"] as? Double == 0.95)
            #expect((json["difference_low"] as? Double ?? 2) <= (json["difference"] as? Double ?? -2))
            // By offer: the decision issued the personalized offer, not the fallback.
            for (offer, decisions) in [(offerId, 1), (fallbackId, 0)] {
                let byOffer = try await server.api.get("/v1/offers/report?offer_id=\(offer)", key: server.keys.admin).object()
                #expect((byOffer["personalized"] as? [String: Any])?["decisions"] as? Int == decisions, "\(offer)")
            }
        }
    }
}
