"""Issue 5 over HTTP: segment rules (with line/column errors), saved segments with live counts and
purpose-gated members, the offers catalog, explainable decisions with a non-personalized fallback,
outcomes and the lift report. Every answer is validated against the OpenAPI document by the `api`
fixture; refused input is shown to change nothing."""

from __future__ import annotations

import os
import secrets
import subprocess
import time

import pytest

from conftest import CANDOR_BIN

RULE = 'interests has "climbing" and consent("offers")'


def rid() -> str:
    return secrets.token_hex(5)


def notices(api) -> dict[str, int]:
    purposes = api.call("GET", "/v1/purposes", expect=200).json()["data"]
    return {p["key"]: p["current_notice_version"] for p in purposes if "current_notice_version" in p}


def person(api, interests: list[str], *, grant: bool) -> str:
    sid = api.call("POST", "/v1/subjects", key="marketing", json_body={"external_id": f"act-{rid()}"}, expect=201).json()["id"]
    versions = notices(api)
    api.call("POST", f"/v1/subjects/{sid}/declarations", key="marketing", expect=201, json_body={
        "values": [{"field": "interests", "value": interests}],
        "notices": {p: versions[p] for p in ("newsletter", "offers", "research")}, "source": "preference_center"})
    if grant:
        api.call("POST", f"/v1/subjects/{sid}/consents", key="marketing", expect=201, json_body={
            "consents": [{"purpose": "offers", "status": "granted", "method": "checkbox", "notice_version": versions["offers"]}]})
    return sid


def catalog(api) -> tuple[str, str, str]:
    segment = api.call("POST", "/v1/segments", json_body={"name": f"climbers-{rid()}", "rule": RULE}, expect=201).json()
    offer = api.call("POST", "/v1/offers", expect=201, json_body={
        "name": f"Chalk {rid()}", "placements": ["onsite"], "segment_id": segment["id"], "purpose": "offers", "priority": 1000,
        "content": {"en": {"title": "Climbing chalk", "body": "For your next session"}, "he": {"title": "מגנזיום לטיפוס", "body": "לאימון הבא"}},
        "cap_per_person": 50}).json()
    generic = api.call("POST", "/v1/offers", expect=201, json_body={
        "name": f"Generic {rid()}", "placements": ["onsite", "support"], "priority": 1000,
        "content": {"en": {"title": "Our newsletter", "body": "Monthly"}}, "route": {"queue": "general"}}).json()
    return segment["id"], offer["id"], generic["id"]


def test_rule_errors_name_line_and_column_and_write_nothing(api):
    before = len(api.call("GET", "/v1/segments", expect=200).json()["data"])
    for rule, start in [
        ('interests has "climbing" and', "line 1, column 29: expected a field"),
        ('colour = "red"', "line 1, column 1: unknown field 'colour'"),
        ('shoe_size > "big"', "line 1, column 13:"),
        ('set(interests) and\n interests has "golf"', "line 2, column 16:"),
    ]:
        for path, body in [("/v1/segments", {"name": f"bad-{rid()}", "rule": rule}), ("/v1/segments/count", {"rule": rule})]:
            problem = api.call("POST", path, json_body=body, expect=422).json()
            assert problem["errors"][0]["field"] == "rule"
            assert problem["errors"][0]["message"].startswith(start), problem
    assert len(api.call("GET", "/v1/segments", expect=200).json()["data"]) == before


def test_saved_segment_counts_and_members_for_a_purpose(api):
    granted, other = person(api, ["climbing"], grant=True), person(api, ["climbing"], grant=False)
    segment_id, _, _ = catalog(api)
    count = api.call("POST", "/v1/segments/count", json_body={"rule": 'interests has "climbing"'}, expect=200).json()["count"]
    segment = api.call("GET", f"/v1/segments/{segment_id}", expect=200).json()
    assert 1 <= segment["count"] < count
    assert any(s["id"] == segment_id for s in api.call("GET", "/v1/segments", expect=200).json()["data"])
    members, cursor = [], None
    while True:
        page = api.call("GET", f"/v1/segments/{segment_id}/members", key="sales", purpose="offers",
                        params={"limit": 50, **({"cursor": cursor} if cursor else {})}, expect=200).json()
        members += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    ids = {m["subject_id"] for m in members}
    assert granted in ids and other not in ids
    assert all(set(m["values"]) <= {"interests", "offer_types", "channels", "shoe_size", "birthday_month"} for m in members)
    # A purpose the team lacks shows nobody.
    problem = api.call("GET", f"/v1/segments/{segment_id}/members", key="sales", purpose="support", expect=403).json()
    assert problem["errors"][0]["field"] == "Candor-Purpose"
    api.call("GET", "/v1/segments/seg_nope", expect=404)


def test_decide_explains_and_falls_back(api):
    _, offer_id, generic_id = catalog(api)
    sid = person(api, ["climbing", "yoga"], grant=True)
    decision = api.call("POST", "/v1/decide", key="sales", expect=200, json_body={
        "subject_id": sid, "placement": "onsite", "context": {"page": "/climb", "locale": "he"}, "limit": 20}).json()
    if decision["arm"] == "holdout":  # the stable holdout share: this person never gets personal offers
        assert decision["personalized"] is False and all("because" not in o for o in decision["offers"])
        return
    top = next(o for o in decision["offers"] if o["offer_id"] == offer_id)
    assert decision["personalized"] is True and top["title"] == "מגנזיום לטיפוס"
    assert top["because"]["consent"] == {"purpose": "offers", "legal_basis": "consent", "notice_version": notices(api)["offers"]}
    fact = top["because"]["facts"][0]
    assert fact["field"] == "interests" and fact["value"] == ["climbing", "yoga"] and fact["source"] == "preference_center"
    api.call("POST", f"/v1/subjects/{sid}/consents", key="marketing", expect=201,
             json_body={"consents": [{"purpose": "offers", "status": "withdrawn"}]})
    after = api.call("POST", "/v1/decide", key="sales", json_body={"subject_id": sid, "placement": "onsite", "limit": 20}, expect=200).json()
    assert after["personalized"] is False and offer_id not in [o["offer_id"] for o in after["offers"]]
    assert "climbing" not in str(after) and all("because" not in o for o in after["offers"])


def test_erased_and_restricted_people_get_the_fallback(api):
    _, offer_id, _ = catalog(api)
    restricted, erased = person(api, ["climbing"], grant=True), person(api, ["climbing"], grant=True)
    api.call("POST", f"/v1/subjects/{restricted}/restrict", expect=200)
    api.call("DELETE", f"/v1/subjects/{erased}", expect=200)
    for sid in (restricted, erased):
        decision = api.call("POST", "/v1/decide", key="sales", json_body={"subject_id": sid, "placement": "onsite"}, expect=200).json()
        assert decision["arm"] == "excluded" and decision["personalized"] is False
        assert offer_id not in [o["offer_id"] for o in decision["offers"]] and "climbing" not in str(decision)


def test_bad_decide_and_offer_input(api):
    sid = person(api, ["yoga"], grant=False)
    before = len(api.call("GET", "/v1/offers", expect=200).json()["data"])
    assert api.call("POST", "/v1/decide", key="sales", json_body={"subject_id": sid, "placement": "billboard"}, expect=422).json()["errors"][0]["field"] == "placement"
    assert api.call("POST", "/v1/decide", key="sales", json_body={"subject_id": "sub_nobody", "placement": "onsite"}, expect=404).json()["errors"][0]["field"] == "subject_id"
    bad = {"name": "x", "placements": ["billboard"], "content": {"en": {"title": "t", "body": ""}}}
    assert api.call("POST", "/v1/offers", json_body=bad, expect=422).json()["errors"][0]["field"] == "placements[0]"
    api.call("GET", "/v1/offers/ofr_nope", expect=404)
    assert len(api.call("GET", "/v1/offers", expect=200).json()["data"]) == before


def test_support_routing_outcomes_and_report(api):
    _, _, generic_id = catalog(api)
    sid = person(api, ["yoga"], grant=False)
    decision = api.call("POST", "/v1/decide", key="support", json_body={"subject_id": sid, "placement": "support", "limit": 20}, expect=200).json()
    routed = [o for o in decision["offers"] if o["offer_id"] == generic_id]
    assert routed and routed[0]["route"] == {"queue": "general"}
    did = decision["decision_id"]
    outcome = api.call("POST", f"/v1/decisions/{did}/outcomes", key="support", json_body={"type": "conversion", "offer_id": generic_id}, expect=201).json()
    assert outcome["type"] == "conversion" and outcome["offer_id"] == generic_id
    assert api.call("POST", f"/v1/decisions/{did}/outcomes", key="support", json_body={"type": "purchase"}, expect=422).json()["errors"][0]["field"] == "type"
    api.call("POST", "/v1/decisions/dec_nope/outcomes", key="support", json_body={"type": "click"}, expect=404)
    offer = api.call("GET", f"/v1/offers/{generic_id}", expect=200).json()
    assert offer["placements"] == ["onsite", "support"]
    report = api.call("GET", "/v1/offers/report", params={"offer_id": generic_id}, expect=200).json()
    assert report["confidence"] == 0.95
    assert report["personalized"]["conversions"] + report["holdout"]["conversions"] >= 1
    assert report["difference_low"] <= report["difference"] <= report["difference_high"]


def test_an_offer_is_changed_in_place_and_the_next_decision_uses_it(api):
    _, _, generic_id = catalog(api)
    sid = person(api, ["yoga"], grant=False)
    original = api.call("GET", f"/v1/offers/{generic_id}", expect=200).json()
    changed = {"name": original["name"], "placements": ["support"], "priority": 1000,
               "content": {"en": {"title": "Talk to an advisor", "body": "We call you back"}}, "route": {"advisor": "maya"}}
    # Bad input names the field and changes nothing; only an administrator may change the catalog.
    assert api.call("PUT", f"/v1/offers/{generic_id}", json_body={**changed, "placements": ["billboard"]},
                    expect=422).json()["errors"][0]["field"] == "placements[0]"
    api.call("PUT", f"/v1/offers/{generic_id}", key="marketing", json_body=changed, expect=403)
    api.call("PUT", "/v1/offers/ofr_nope", json_body=changed, expect=404)
    assert api.call("GET", f"/v1/offers/{generic_id}", expect=200).json() == original

    updated = api.call("PUT", f"/v1/offers/{generic_id}", json_body=changed, expect=200).json()
    assert updated["id"] == generic_id and updated["created_at"] == original["created_at"] and updated["placements"] == ["support"]
    onsite = api.call("POST", "/v1/decide", key="sales", json_body={"subject_id": sid, "placement": "onsite", "limit": 20}, expect=200).json()
    assert generic_id not in [o["offer_id"] for o in onsite["offers"]]
    support = api.call("POST", "/v1/decide", key="support", json_body={"subject_id": sid, "placement": "support", "limit": 20}, expect=200).json()
    routed = next(o for o in support["offers"] if o["offer_id"] == generic_id)
    assert routed["title"] == "Talk to an advisor" and routed["route"] == {"advisor": "maya"}


def test_an_erasure_by_another_process_reaches_decisions_within_the_poll_bound(api, server):
    """Decisions answer from the node's in-memory projection; a write by another process (here the
    `candor erase` command on the same SQLite file) reaches it by the outbox poll (200 ms), not at once."""
    if server.backend != "sqlite":
        pytest.skip("another process on the same database file is the SQLite case; PostgreSQL nodes are tested in Swift")
    _, offer_id, _ = catalog(api)
    decide = {"subject_id": None, "placement": "onsite", "limit": 20}
    # Someone outside the holdout, so the decision before the erasure is personal.
    for _ in range(20):
        sid = person(api, ["climbing"], grant=True)
        before = api.call("POST", "/v1/decide", key="sales", json_body={**decide, "subject_id": sid}, expect=200).json()
        if before["arm"] == "personalized":
            break
    assert before["personalized"] is True and offer_id in [o["offer_id"] for o in before["offers"]]
    # Warm: the projection answers (the first decision may have read the database while it loaded).
    api.call("POST", "/v1/segments/count", json_body={"rule": RULE}, expect=200)
    erased = subprocess.run([CANDOR_BIN, "erase", "--data-dir", str(server.data_dir), sid], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")})
    assert erased.returncode == 0, erased.stdout + erased.stderr
    done = time.monotonic()
    while True:
        after = api.call("POST", "/v1/decide", key="sales", json_body={**decide, "subject_id": sid}, expect=200).json()
        if after["arm"] == "excluded" or time.monotonic() - done > 5:
            break
        time.sleep(0.02)
    lag = time.monotonic() - done
    assert after["arm"] == "excluded" and after["personalized"] is False, after
    assert "climbing" not in str(after) and all("because" not in o for o in after["offers"])
    assert lag < 2, f"decisions followed the erasure after {lag:.2f} s (poll interval 200 ms)"
