import CandorCore
import CandorStore
import Foundation
import Testing

extension StoreContractTests {
    func campaignInput(segmentId: String, purpose: String = "newsletter") -> CampaignInput {
        CampaignInput(
            name: "Spring", purpose: purpose, segmentId: segmentId, interestField: "interests", defaultLocale: "en",
            content: ["en": CampaignContent(subject: "Spring picks", text: "{{#blocks}}{{title}}{{/blocks}}", html: "<p>{{#blocks}}{{title}}{{/blocks}}</p>")],
            blocks: [CampaignBlock(key: "run", interests: ["running"], content: ["en": CampaignBlockText(title: "Run", body: "Shoes")])],
            fallback: ["en": CampaignBlockText(title: "News", body: "Everything")])
    }

    @Test("At send time a campaign takes the segment's members, skips those without consent, restriction or address, and records each outcome once", arguments: Backend.available)
    func campaignSendTimeChecks(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let runner = try await h.newSubject(email: "runner@example.org")
            try await h.declare(runner, ["interests": .array([.string("running")])])
            try await h.grant(runner, "newsletter")
            let hiker = try await h.newSubject(email: "hiker@example.org")
            try await h.declare(hiker, ["interests": .array([.string("hiking")])])
            try await h.grant(hiker, "newsletter")
            let noEmail = try await h.newSubject()
            try await h.grant(noEmail, "newsletter")
            let withdrawsLater = try await h.newSubject(email: "later@example.org")
            try await h.grant(withdrawsLater, "newsletter")
            let restrictedLater = try await h.newSubject(email: "restricted@example.org")
            try await h.grant(restrictedLater, "newsletter")
            let objectsLater = try await h.newSubject(email: "objects@example.org")
            try await h.grant(objectsLater, "newsletter")
            let segment = try await h.store.createSegment(SegmentInput(name: "all", rule: #"consent("newsletter")"#), by: h.principal)
            guard case .fresh(let created) = segment else { Issue.record("segment"); return }
            try await h.store.catchUpSegmentIndex()

            let outcome = try await h.store.createCampaign(campaignInput(segmentId: created.id), by: h.principal)
            guard case .fresh(let campaign) = outcome else { Issue.record("campaign"); return }
            #expect(campaign.status == .draft)
            _ = try await h.store.scheduleCampaign(campaign.id, at: 0, by: h.principal)
            // Consent withdrawn after scheduling and before sending: no mail.
            try await h.withdraw(withdrawsLater, "newsletter")

            #expect(try await h.store.dueCampaignIds() == [campaign.id])
            let started = try await h.store.beginCampaign(campaign.id)
            #expect(started.status == .sending)
            // Restriction and objection after the audience was taken still stop the mail: checked per person.
            _ = try await h.store.setRestricted(true, subjectId: restrictedLater, by: h.principal)
            _ = try await h.store.objectToDirectMarketing(subjectId: objectsLater, by: h.principal)
            let claimed = try await h.store.claimCampaignRecipients(started, limit: 100)
            let emails = claimed.compactMap { if case .send(let email, _, _) = $0.check { email } else { nil } }.sorted()
            #expect(emails == ["hiker@example.org", "runner@example.org"])
            if let runnerClaim = claimed.first(where: { $0.subjectId == runner }), case .send(_, let interests, _) = runnerClaim.check {
                #expect(interests == ["running"])
            } else { Issue.record("runner not claimed") }
            // Claimed rows are not claimed twice.
            #expect(try await h.store.claimCampaignRecipients(started, limit: 100).isEmpty)
            try await h.store.recordCampaignOutcomes(started, [(runner, .sent), (hiker, .deferred("connection closed"))])
            var recipients = try await h.store.campaignRecipients(campaign.id)
            #expect(recipients[runner]?.status == "sent")
            #expect(recipients[hiker]?.status == "pending", "a message known not to be sent is tried again")
            #expect(recipients[noEmail]?.status == "skipped" && recipients[noEmail]?.reason == "no_email")
            #expect(recipients[withdrawsLater]?.reason == "consent_withdrawn" || recipients[withdrawsLater] == nil)
            #expect(recipients[restrictedLater]?.status == "skipped" && recipients[restrictedLater]?.reason == "restricted")
            #expect(recipients[objectsLater]?.status == "skipped" && recipients[objectsLater]?.reason == "objected")
            let retry = try await h.store.claimCampaignRecipients(started, limit: 100)
            #expect(retry.map(\.subjectId) == [hiker])
            try await h.store.recordCampaignOutcomes(started, [(hiker, .sent)])
            let done = try await h.store.completeCampaignIfDone(campaign.id)
            #expect(done.status == .completed)
            #expect(done.stats.sent == 2)
            recipients = try await h.store.campaignRecipients(campaign.id)
            #expect(recipients.values.filter { $0.status == "sent" }.count == 2)
            // A restart finds nothing due: nobody is mailed twice.
            #expect(try await h.store.dueCampaignIds().isEmpty)
            // Erasure removes what became of the person's mail.
            _ = try await h.store.erase(subjectId: runner, by: h.principal)
            #expect(try await h.query("SELECT count(*) FROM campaign_recipients WHERE subject_id = ?", [.text(runner)]).first?.int(0) == 0)
        }
    }

    @Test("A campaign to a segment nobody has consented in completes with zero sends and says so", arguments: Backend.available)
    func campaignWithNobodyConsented(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject(email: "a@example.org")
            try await h.declare(subject, ["interests": .array([.string("yoga")])])
            guard case .fresh(let segment) = try await h.store.createSegment(SegmentInput(name: "yoga", rule: #"interests has "yoga""#), by: h.principal),
                  case .fresh(let campaign) = try await h.store.createCampaign(campaignInput(segmentId: segment.id), by: h.principal)
            else { Issue.record("setup"); return }
            try await h.store.catchUpSegmentIndex()
            _ = try await h.store.scheduleCampaign(campaign.id, at: 0, by: h.principal)
            let started = try await h.store.beginCampaign(campaign.id)
            #expect(try await h.store.claimCampaignRecipients(started, limit: 10).isEmpty)
            let done = try await h.store.completeCampaignIfDone(campaign.id)
            #expect(done.status == .completed && done.stats.sent == 0)
            #expect(done.stats.skippedReasons["consent_missing"] == 1)
            #expect(done.note?.contains("no e-mail sent") == true)
        }
    }

    @Test("Bad campaigns are refused naming the field, and write nothing", arguments: Backend.available)
    func campaignValidation(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let before = try await h.counts()
            var input = campaignInput(segmentId: "seg_missing", purpose: "support")
            input.blocks[0].interests = ["golf"]
            let error = await candorError { _ = try await h.store.createCampaign(input, by: h.principal) }
            let fields = Set(error?.errors.map(\.field) ?? [])
            #expect(fields.isSuperset(of: ["segment_id", "purpose", "interest_field", "blocks[0].interests"]))
            #expect(try await h.counts() == before)
        }
    }

    @Test("Unsubscribing withdraws consent as the person, with method unsubscribe, in the ledger", arguments: Backend.available)
    func unsubscribeWithdrawsConsent(backend: Backend) async throws {
        try await Harness.with(backend) { h in
            let subject = try await h.newSubject(email: "u@example.org")
            try await h.grant(subject, "newsletter", "offers")
            let receipt = try await h.store.unsubscribe(subjectId: subject, purpose: "newsletter")
            #expect(receipt.consents.map(\.purpose) == ["newsletter"])
            #expect(receipt.consents.first?.status == .withdrawn)
            #expect(receipt.consents.first?.method == .unsubscribe)
            let rows = try await h.query("SELECT purpose, status, method FROM consents WHERE subject_id = ? ORDER BY purpose", [.text(subject)])
            #expect(rows.map { "\($0.text(0)):\($0.text(1)):\($0.text(2))" } == ["newsletter:withdrawn:unsubscribe", "offers:granted:checkbox"])
            let audit = try await h.query("SELECT actor, team FROM audit_log WHERE subject_id = ? AND action = 'consent.change' ORDER BY id DESC", [.text(subject)])
            #expect(audit.first?.text(0) == "subject" && audit.first?.text(1) == "self-service")
        }
    }
}
