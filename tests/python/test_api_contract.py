"""The HTTP API against its contract (DESIGN §4, §6).

Every answer a test receives goes through `Api.check`: it must match the OpenAPI document the server
serves at /openapi.yaml (status, content type, headers, body schema), carry the headers every answer
carries, and — for errors — be an RFC 9457 problem document. On top of that each test asserts
behaviour: what was recorded, what a purpose may see, and that bad input changes nothing.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Callable

import pytest
import requests
from openapi_spec_validator import validate as validate_spec
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from conftest import SPEC_PATH, SUBJECTS, Api, ContractError

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

LOYALTY_V1 = {
    "en": {"title": "Our loyalty club", "why": "We use your tier and favourite store to plan rewards.", "benefit": "Rewards that fit you."},
    "he": {"title": "מועדון הלקוחות", "why": "אנחנו משתמשים בדרגה ובחנות המועדפת כדי לתכנן הטבות.", "benefit": "הטבות שמתאימות לכם."},
}
LOYALTY_V2 = {
    "en": {"title": "Our loyalty club", "why": "We use your tier and favourite store to plan rewards and events.", "benefit": "Rewards and invitations that fit you."},
}


def rid() -> str:
    return secrets.token_hex(5)


# =========================================================================== the document itself


def test_spec_is_a_valid_openapi_31_document(spec_document):
    assert spec_document["openapi"].startswith("3.1")
    validate_spec(spec_document)  # raises on any structural error
    # Every operation answers with a documented status, and every /v1 operation documents its 401.
    for path, item in spec_document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            assert operation.get("operationId"), f"{method} {path} has no operationId"
            assert operation["responses"], f"{method} {path} has no responses"
            if path.startswith("/v1/"):
                assert "401" in operation["responses"], f"{method} {path} does not document 401"
                assert operation.get("security") is None, f"{method} {path} must use the global bearer security"
            elif path.startswith("/e/v1/") and method != "options":
                # The embed's browser endpoints: a publishable key from an allowed Origin (docs/embed.md).
                assert "401" in operation["responses"], f"{method} {path} does not document 401"
                assert operation.get("security") == [{"publishableKey": []}], f"{method} {path} must use the publishable key"
            else:
                assert operation.get("security") == [], f"{method} {path} must be public"


def test_spec_has_no_accidental_nulls(spec_document):
    """A comma in an unquoted YAML flow mapping silently splits a description into a key with no
    value; the document never needs a null, so any null is such an accident."""
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                assert value is not None, f"{path}/{key} is null"
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")
    walk(spec_document, "")


def test_spec_validator_rejects_a_broken_document(spec_document):
    """The validator is live: a path parameter that no operation defines does not pass."""
    broken = copy.deepcopy(spec_document)
    broken["paths"]["/v1/fields/{name}"] = broken["paths"].pop("/v1/fields/{key}")
    with pytest.raises(OpenAPIValidationError):
        validate_spec(broken)


def test_served_document_is_the_checked_in_one(api):
    response = api.call("GET", "/openapi.yaml", key=None, expect=200)
    assert response.headers["Content-Type"] == "application/yaml"
    assert response.text == SPEC_PATH.read_text()


def test_response_validation_is_live(api, world):
    """A tampered answer (a required property gone, an undocumented one added) is caught, so the
    contract checks in the other tests cannot pass vacuously."""
    response = api.call("GET", "/v1/purposes/loyalty", expect=200)
    for tamper in (lambda body: body.pop("created_at"), lambda body: body.update(surprise=1),
                   lambda body: body.update(created_at="yesterday"), lambda body: body.update(current_notice_version=None)):
        body = response.json()
        tamper(body)
        forged = requests.Response()
        forged.status_code = 200
        forged.headers.update(response.headers)
        forged._content = json.dumps(body).encode()
        forged.request = response.request
        with pytest.raises(ContractError):
            api.check(forged)


# =========================================================================== system routes


def test_system_routes(api):
    health = api.call("GET", "/healthz", key=None, expect=200)
    assert health.text == "ok\n"
    assert health.headers["Content-Type"] == "text/plain; charset=utf-8"
    ready = api.call("GET", "/readyz", key=None, expect=200)
    assert ready.text == "ready\n"
    metrics = api.call("GET", "/metrics", key=None, expect=200)
    assert metrics.headers["Content-Type"] == "text/plain; version=0.0.4"
    assert "# TYPE http_server_request_duration histogram" in metrics.text
    assert 'http_route="/readyz"' in metrics.text
    page = api.call("GET", "/", key=None, expect=200)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.text.lstrip().lower().startswith("<!doctype html>")
    hebrew = api.call("GET", "/", key=None, params={"lang": "he"}, expect=200)
    assert 'lang="he"' in hebrew.text and 'dir="rtl"' in hebrew.text
    css = api.call("GET", "/static/candor.css", key=None, expect=200)
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["Cache-Control"] == "public, max-age=300"


# =========================================================================== the registry


@dataclass
class World:
    """What the registry scenario created on one server."""

    purpose: dict
    notice_v2: dict
    fields: dict[str, dict]
    team: dict
    partner_key_id: str
    revoked_secret: str


@pytest.fixture(scope="session")
def world(api) -> World:
    """Registers a purpose with a notice, publishes notice v2, two fields, a team and its key, and a
    key that is revoked — every step checked against the contract."""
    purpose = api.call("POST", "/v1/purposes", json_body={
        "key": "loyalty", "names": {"en": "Loyalty club", "he": "מועדון לקוחות"}, "legal_basis": "consent",
        "retention_days": 400, "dpv_term": "PersonalisedBenefits", "notice": LOYALTY_V1,
    }, expect=201).json()
    assert purpose["key"] == "loyalty" and purpose["current_notice_version"] == 1
    assert purpose["is_marketing"] is False and purpose["legal_basis"] == "consent"

    notice_v2 = api.call("POST", "/v1/purposes/loyalty/notices", json_body={"texts": LOYALTY_V2}, expect=201).json()
    assert notice_v2["version"] == 2 and notice_v2["purpose"] == "loyalty"

    tier = api.call("POST", "/v1/fields", json_body={
        "key": "loyalty_tier", "type": "single_choice", "options": ["bronze", "silver", "gold"],
        "option_labels": {"gold": {"en": "Gold", "he": "זהב"}}, "purposes": ["loyalty"],
        "labels": {"en": "Your tier", "he": "הדרגה שלכם"},
    }, expect=201).json()
    assert tier["retention_days"] == 400, "defaults to the longest retention of its purposes"
    assert tier["sensitivity"] == "standard"
    store = api.call("POST", "/v1/fields", json_body={
        "key": "favourite_store", "type": "text", "max_length": 40, "purposes": ["loyalty"],
        "retention_days": 200, "labels": {"en": "Favourite store"},
    }, expect=201).json()
    assert "options" not in store and store["max_length"] == 40

    team = api.call("POST", "/v1/teams", json_body={
        "key": "partners", "name": "Partners", "purposes": ["offers", "loyalty", "offers"], "roles": ["read", "write", "erase"],
    }, expect=201).json()
    assert team["purposes"] == ["loyalty", "offers"], "sorted, without duplicates"

    created = api.call("POST", "/v1/keys", json_body={"name": "Partner backend", "team": "partners"}, expect=201).json()
    assert created["secret"].startswith("cnd_sk_") and created["key"]["hint"] == created["secret"][:11] + "…"
    assert created["key"]["kind"] == "secret" and created["key"]["origins"] == []
    api.keys["partner"] = created["secret"]

    doomed = api.call("POST", "/v1/keys", json_body={"name": "Soon revoked", "team": "sales"}, expect=201).json()
    api.call("GET", "/v1/purposes", key=doomed["secret"], expect=200)
    revoked = api.call("DELETE", f"/v1/keys/{doomed['key']['id']}", expect=200).json()
    assert revoked["revoked_at"] >= revoked["created_at"]
    return World(purpose, notice_v2, {"loyalty_tier": tier, "favourite_store": store}, team, created["key"]["id"], doomed["secret"])


def test_registry_reads(api, world):
    purpose = api.call("GET", "/v1/purposes/loyalty", key="marketing", expect=200).json()
    assert purpose["current_notice_version"] == 2
    assert purpose["id"] == world.purpose["id"]
    listed = api.call("GET", "/v1/purposes", key="sales", expect=200).json()
    keys = [p["key"] for p in listed["data"]]
    assert keys == sorted(keys) and {"newsletter", "offers", "support", "research", "loyalty"} <= set(keys)
    assert "next_cursor" not in listed

    notices = api.call("GET", "/v1/purposes/loyalty/notices", expect=200).json()["data"]
    assert [n["version"] for n in notices] == [1, 2]
    assert notices[0]["texts"] == LOYALTY_V1 and notices[1]["texts"] == LOYALTY_V2
    for notice in notices:
        # The content hash is SHA-256 of the canonical (sorted-key, compact) JSON of the texts.
        canonical = json.dumps(notice["texts"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert notice["content_hash"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    v1 = api.call("GET", "/v1/purposes/loyalty/notices/1", expect=200).json()
    assert v1 == notices[0], "superseded versions stay readable and unchanged"
    assert api.call("GET", "/v1/purposes/loyalty/notices/2", expect=200).json() == world.notice_v2
    api.problem(api.call("GET", "/v1/purposes/loyalty/notices/3"), 404, "not-found")
    api.problem(api.call("GET", "/v1/purposes/loyalty/notices/latest"), 404, "not-found")
    api.problem(api.call("GET", "/v1/purposes/nope"), 404, "not-found")
    api.problem(api.call("GET", "/v1/purposes/nope/notices"), 404, "not-found")
    api.problem(api.call("POST", "/v1/purposes/nope/notices", json_body={"texts": LOYALTY_V2}), 404, "not-found")

    field = api.call("GET", "/v1/fields/loyalty_tier", key="support", expect=200).json()
    assert field == world.fields["loyalty_tier"]
    fields = api.call("GET", "/v1/fields", expect=200).json()["data"]
    assert {"interests", "shoe_size", "loyalty_tier", "favourite_store"} <= {f["key"] for f in fields}
    shoe = next(f for f in fields if f["key"] == "shoe_size")
    assert shoe["minimum"] == 30 and shoe["maximum"] == 50 and "options" not in shoe
    api.problem(api.call("GET", "/v1/fields/nope"), 404, "not-found")


def test_team_management(api, world):
    teams = api.call("GET", "/v1/teams", expect=200).json()["data"]
    assert {"it", "marketing", "sales", "support", "partners"} == {t["key"] for t in teams}
    assert api.call("GET", "/v1/teams/partners", expect=200).json() == world.team
    changed = api.call("PUT", "/v1/teams/partners", json_body={
        "key": "partners", "name": "Partner companies", "purposes": ["loyalty", "offers"], "roles": ["read", "write", "erase"],
    }, expect=200).json()
    assert changed["name"] == "Partner companies"
    assert changed["id"] == world.team["id"] and changed["created_at"] == world.team["created_at"]
    api.problem(api.call("GET", "/v1/teams/nope"), 404, "not-found")
    api.problem(api.call("PUT", "/v1/teams/nope", json_body={"key": "nope", "name": "N", "purposes": [], "roles": []}), 404, "not-found")
    # Reading teams needs the admin role.
    api.problem(api.call("GET", "/v1/teams", key="marketing"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/teams/partners", key="partner"), 403, "forbidden")


def test_key_management(api, world):
    listed = api.call("GET", "/v1/keys", expect=200)
    ids = [k["id"] for k in listed.json()["data"]]
    assert ids == sorted(ids) and world.partner_key_id in ids
    for secret in api.keys.values():
        assert secret not in listed.text, "secrets are never shown after creation"
    revoked = next(k for k in listed.json()["data"] if k.get("revoked_at"))
    again = api.call("DELETE", f"/v1/keys/{revoked['id']}", expect=200).json()
    assert again["revoked_at"] == revoked["revoked_at"], "revoking twice changes nothing"
    api.problem(api.call("DELETE", "/v1/keys/key_nope"), 404, "not-found")

    browser = api.call("POST", "/v1/keys", json_body={
        "name": "Shop", "team": "marketing", "kind": "publishable", "origins": ["https://shop.example"]}, expect=201).json()
    assert browser["secret"].startswith("cnd_pk_") and browser["key"]["origins"] == ["https://shop.example"]
    body = api.problem(api.call("GET", "/v1/purposes", key=browser["secret"]), 403, "forbidden", "Authorization")
    assert "publishable" in body["detail"]
    api.problem(api.call("POST", "/v1/keys", json_body={"name": "x", "team": "marketing", "origins": ["https://a.example"]}),
                422, "validation-failed", "origins")
    api.problem(api.call("POST", "/v1/keys", json_body={"name": "x", "team": "nope"}), 422, "validation-failed", "team")
    # Keys are managed with the admin role only.
    api.problem(api.call("GET", "/v1/keys", key="partner"), 403, "forbidden")
    api.problem(api.call("POST", "/v1/keys", key="partner", json_body={"name": "x", "team": "partners"}), 403, "forbidden")


# =========================================================================== a subject's life


def chain_hash(subject_id: str, entry: dict) -> str:
    """The ledger's entry hash, computed independently (LedgerHash.entryHash)."""
    digest = hashlib.sha256()
    digest.update(bytes.fromhex(entry["prev_hash"]))
    digest.update(struct.pack(">QQ", entry["seq"], entry["created_at"]))
    for part in (subject_id.encode(), entry["kind"].encode(), base64.b64decode(entry["payload"])):
        digest.update(struct.pack(">I", len(part)))
        digest.update(part)
    return digest.hexdigest()


def verify_chain(chain: dict) -> None:
    previous = "00" * 32
    for index, entry in enumerate(chain["entries"], start=1):
        assert entry["seq"] == index
        assert entry["prev_hash"] == previous
        assert entry["hash"] == chain_hash(chain["subject_id"], entry)
        previous = entry["hash"]


def ledger_counts(api: Api) -> tuple[int, int]:
    report = api.call("GET", "/v1/ledger/verify", expect=200).json()
    assert report["ok"] is True, report
    return report["chains"], report["entries"]


def test_subject_lifecycle(api, world):
    tag = rid()
    chains_before, entries_before = ledger_counts(api)

    # Create (identified), refuse a duplicate, find again by external id and by e-mail.
    subject = api.call("POST", "/v1/subjects", key="partner", json_body={"external_id": f"ext-{tag}", "email": f"Person.{tag}@Example.org"}, expect=201).json()
    assert subject["status"] == "active" and subject["has_email"] is True and subject["external_id"] == f"ext-{tag}"
    assert "email" not in subject and "erased_at" not in subject
    sid = subject["id"]
    api.problem(api.call("POST", "/v1/subjects", key="partner", json_body={"external_id": f"ext-{tag}"}), 409, "conflict", "external_id")
    assert api.call("POST", "/v1/subjects/lookup", key="partner", json_body={"external_id": f"ext-{tag}"}, expect=200).json() == subject
    assert api.call("POST", "/v1/subjects/lookup", key="partner", json_body={"email": f"person.{tag}@example.org"}, expect=200).json()["id"] == sid
    api.problem(api.call("POST", "/v1/subjects/lookup", key="partner", json_body={"external_id": f"missing-{tag}"}), 404, "not-found")
    anonymous = api.call("POST", "/v1/subjects", key="partner", json_body={}, expect=201).json()
    assert anonymous["has_email"] is False and "external_id" not in anonymous

    # Before consent, the consent-based purpose sees nothing.
    view = api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="loyalty", expect=200).json()
    assert view["subject"] == subject
    assert view["profile"] == {"subject_id": sid, "purpose": "loyalty", "is_visible": False, "withheld_reason": "consent_missing", "values": {}}

    # Declare, citing the current notice of every purpose the fields serve.
    receipt = api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body={
        "values": [
            {"field": "loyalty_tier", "value": "gold"},
            {"field": "favourite_store", "value": "  Tel Aviv  "},
            {"field": "interests", "value": ["running", "yoga", "running"]},
        ],
        "notices": {"loyalty": 2, "newsletter": 1, "offers": 1, "research": 1},
        "source": "preference_center", "collection_point": "contract-tests",
    }, expect=201).json()
    assert receipt["subject_id"] == sid and receipt["source"] == "preference_center" and receipt["collection_point"] == "contract-tests"
    assert receipt["values"] == [
        {"field": "loyalty_tier", "value": "gold", "notices": {"loyalty": 2}},
        {"field": "favourite_store", "value": "Tel Aviv", "notices": {"loyalty": 2}},
        {"field": "interests", "value": ["running", "yoga"], "notices": {"newsletter": 1, "offers": 1, "research": 1}},
    ]
    assert receipt["ledger"]["seq"] == 2

    consent = api.call("POST", f"/v1/subjects/{sid}/consents", key="partner", json_body={"consents": [
        {"purpose": "loyalty", "status": "granted", "method": "checkbox", "notice_version": 2},
        {"purpose": "offers", "status": "granted", "notice_version": 1, "expires_at": "2099-01-01T00:00:00Z"},
    ]}, expect=201).json()
    assert consent["ledger"]["seq"] == 3
    by_purpose = {c["purpose"]: c for c in consent["consents"]}
    assert by_purpose["loyalty"]["is_effective"] and by_purpose["loyalty"]["method"] == "checkbox"
    assert by_purpose["offers"]["method"] == "api" and by_purpose["offers"]["expires_at"] == "2099-01-01T00:00:00.000Z"

    # Each purpose sees only the fields that serve it.
    loyalty = api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="loyalty", expect=200).json()["profile"]
    assert loyalty["is_visible"] is True and "withheld_reason" not in loyalty
    assert set(loyalty["values"]) == {"loyalty_tier", "favourite_store"}
    tier = loyalty["values"]["loyalty_tier"]
    assert tier["value"] == "gold" and tier["declaration_id"] == receipt["declaration_id"]
    assert tier["source"] == "preference_center" and tier["collection_point"] == "contract-tests" and tier["notices"] == {"loyalty": 2}
    offers = api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="offers", expect=200).json()["profile"]
    assert set(offers["values"]) == {"interests"} and offers["values"]["interests"]["value"] == ["running", "yoga"]

    history = api.call("GET", f"/v1/subjects/{sid}/declarations", key="partner", purpose="loyalty", expect=200).json()
    assert len(history["data"]) == 1 and "next_cursor" not in history
    item = history["data"][0]
    assert item["kind"] == "declaration" and item["seq"] == 2 and item["declaration_id"] == receipt["declaration_id"]
    assert [v["field"] for v in item["values"]] == ["loyalty_tier", "favourite_store"]

    api.call("POST", f"/v1/subjects/{sid}/consents", key="partner", json_body={"consents": [{"purpose": "offers", "status": "withdrawn"}]}, expect=201)
    withheld = api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="offers", expect=200).json()["profile"]
    assert withheld["is_visible"] is False and withheld["withheld_reason"] == "consent_withdrawn" and withheld["values"] == {}
    assert api.call("GET", f"/v1/subjects/{sid}/declarations", key="partner", purpose="offers", expect=200).json() == {"data": []}

    consents = api.call("GET", f"/v1/subjects/{sid}/consents", key="partner", purpose="loyalty", expect=200).json()
    assert consents["subject_id"] == sid
    assert {c["purpose"]: (c["status"], c["is_effective"]) for c in consents["consents"]} == {
        "loyalty": ("granted", True), "offers": ("withdrawn", False)}
    assert [h["seq"] for h in consents["history"]] == [4, 3], "newest first"
    assert consents["history"][1]["consents"][1]["expires_at"] == 4070908800000
    # Marketing holds neither loyalty nor partners' view: it sees only its own purposes' consents.
    marketing = api.call("GET", f"/v1/subjects/{sid}/consents", key="marketing", purpose="offers", expect=200).json()
    assert {c["purpose"] for c in marketing["consents"]} == {"offers"}

    # Restriction: kept, not used.
    restricted = api.call("POST", f"/v1/subjects/{sid}/restrict", key="partner", expect=200).json()
    assert restricted["status"] == "restricted"
    again = api.call("POST", f"/v1/subjects/{sid}/restrict", key="partner", expect=200).json()
    assert again["status"] == "restricted" and again["updated_at"] == restricted["updated_at"]
    profile = api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="loyalty", expect=200).json()
    assert profile["subject"]["status"] == "restricted" and profile["profile"]["withheld_reason"] == "restricted"
    listed = api.call("GET", "/v1/subjects", key="partner", purpose="loyalty", params={"limit": 500}, expect=200).json()
    assert sid not in {p["subject_id"] for p in listed["data"]}
    assert api.call("POST", f"/v1/subjects/{sid}/unrestrict", key="partner", expect=200).json()["status"] == "active"
    listed = api.call("GET", "/v1/subjects", key="partner", purpose="loyalty", params={"limit": 500}, expect=200).json()
    assert sid in {p["subject_id"] for p in listed["data"]}

    # The chain: every link recomputed here, independently of the server.
    chain = api.call("GET", f"/v1/subjects/{sid}/ledger", expect=200).json()
    assert [e["kind"] for e in chain["entries"]] == [
        "subject.created", "declaration", "consent", "consent", "subject.restricted", "subject.unrestricted"]
    verify_chain(chain)
    assert chain["entries"][1]["hash"] == receipt["ledger"]["hash"]
    assert chain["checkpoint"]["public_key"]
    assert f"ext-{tag}" not in json.dumps(chain) and "gold" not in json.dumps(chain), "payloads are sealed"

    # Erasure: a tombstone remains, the chain still verifies, nothing personal can be read back.
    erased = api.call("DELETE", f"/v1/subjects/{sid}", key="partner", expect=200).json()
    assert erased["status"] == "erased" and erased["has_email"] is False and "external_id" not in erased
    assert erased["erased_at"] == erased["updated_at"] and erased["created_at"] == subject["created_at"]
    api.problem(api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="loyalty"), 410, "subject-erased")
    api.problem(api.call("DELETE", f"/v1/subjects/{sid}", key="partner"), 410, "subject-erased")
    api.problem(api.call("POST", "/v1/subjects/lookup", key="partner", json_body={"external_id": f"ext-{tag}"}), 404, "not-found")
    api.problem(api.call("POST", "/v1/subjects/lookup", key="partner", json_body={"email": f"person.{tag}@example.org"}), 404, "not-found")
    final = api.call("GET", f"/v1/subjects/{sid}/ledger", expect=200).json()
    assert final["entries"][:-1] == chain["entries"] and final["entries"][-1]["kind"] == "subject.erased"
    verify_chain(final)
    listed = api.call("GET", "/v1/subjects", key="partner", purpose="loyalty", params={"limit": 500}, expect=200).json()
    assert sid not in {p["subject_id"] for p in listed["data"]}

    chains_after, entries_after = ledger_counts(api)
    assert chains_after == chains_before + 2  # the identified and the anonymous subject
    assert entries_after == entries_before + 7 + 1  # seven links for the one, one for the other


def test_list_pages_follow_the_cursor(api, world):
    everyone = api.call("GET", "/v1/subjects", key="marketing", purpose="newsletter", params={"limit": 500}, expect=200).json()
    assert "next_cursor" not in everyone
    expected = [p["subject_id"] for p in everyone["data"]]
    assert 0 < len(expected) < SUBJECTS, "only subjects who consented to the newsletter"
    assert expected == sorted(expected)

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 17} | ({"cursor": cursor} if cursor else {})
        page = api.call("GET", "/v1/subjects", key="marketing", purpose="newsletter", params=params, expect=200).json()
        pages += 1
        assert 1 <= len(page["data"]) <= 17
        for profile in page["data"]:
            assert profile["purpose"] == "newsletter" and profile["is_visible"] is True
            # Only newsletter fields: interests, channels, content_frequency.
            assert set(profile["values"]) <= {"interests", "channels", "content_frequency"}
        seen += [p["subject_id"] for p in page["data"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
        assert len(page["data"]) == 17
    assert seen == expected and pages == -(-len(expected) // 17)

    # A purpose whose basis is not consent (support: contract) sees every active subject.
    support = api.call("GET", "/v1/subjects", key="support", purpose="support", params={"limit": 500}, expect=200).json()
    assert len(support["data"]) >= SUBJECTS
    first = api.call("GET", "/v1/subjects", key="support", purpose="support", expect=200).json()
    assert len(first["data"]) == 50 and "next_cursor" in first, "default limit 50"
    for bad in ("0", "501", "ten", "-1"):
        api.problem(api.call("GET", "/v1/subjects", key="support", purpose="support", params={"limit": bad}), 400, "malformed-request", "limit")
    api.problem(api.call("GET", "/v1/subjects", key="support", purpose="support", params={"cursor": "%%%"}), 400, "malformed-request", "cursor")


def test_ledger_verify_and_checkpoints(api, world):
    report = api.call("GET", "/v1/ledger/verify", expect=200).json()
    assert report["ok"] is True and "first_break" not in report
    assert report["chains"] >= SUBJECTS and report["entries"] >= 2 * SUBJECTS
    # A fresh checkpoint covers everything so far, and becomes the latest.
    made = api.call("POST", "/v1/ledger/checkpoints", expect=201).json()
    assert made["chain_count"] == report["chains"] and made["entry_count"] == report["entries"]
    assert api.call("GET", "/v1/ledger/checkpoints/latest", expect=200).json() == made
    again = api.call("POST", "/v1/ledger/checkpoints", expect=201).json()
    assert again == made, "nothing was appended, so the same checkpoint"
    verified = api.call("GET", "/v1/ledger/verify", expect=200).json()
    assert verified["checkpoint"] == made and verified["checkpoint_signature_valid"] is True
    # The audit role is needed.
    for key in ("marketing", "support", "partner"):
        api.problem(api.call("GET", "/v1/ledger/verify", key=key), 403, "forbidden")
        api.problem(api.call("POST", "/v1/ledger/checkpoints", key=key), 403, "forbidden")
        api.problem(api.call("GET", "/v1/ledger/checkpoints/latest", key=key), 403, "forbidden")
    # A demo subject's chain verifies link by link.
    some = api.call("GET", "/v1/subjects", key="support", purpose="support", params={"limit": 1}, expect=200).json()["data"][0]
    chain = api.call("GET", f"/v1/subjects/{some['subject_id']}/ledger", expect=200).json()
    assert chain["entries"][0]["kind"] == "subject.created"
    verify_chain(chain)
    api.problem(api.call("GET", f"/v1/subjects/{some['subject_id']}/ledger", key="support"), 403, "forbidden")


# =========================================================================== idempotency


def test_idempotent_writes_replay_the_first_answer(api, world, victim):
    sid = victim
    body = {"values": [{"field": "loyalty_tier", "value": "silver"}], "notices": {"loyalty": 2}}
    key = {"Idempotency-Key": f"declare-{rid()}"}
    _, entries = ledger_counts(api)
    first = api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body=body, headers=key, expect=201)
    assert "Idempotent-Replayed" not in first.headers
    replay = api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body=body, headers=key, expect=201)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content, "the identical answer, byte for byte"
    assert ledger_counts(api)[1] == entries + 1, "the replay wrote nothing"

    other = {"values": [{"field": "loyalty_tier", "value": "bronze"}], "notices": {"loyalty": 2}}
    api.problem(api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body=other, headers=key), 422, "idempotency-key-reused")
    assert ledger_counts(api)[1] == entries + 1
    profile = api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="loyalty", expect=200).json()["profile"]
    assert profile["values"]["loyalty_tier"]["value"] == "silver"
    # Put the victim back the way the other tests expect it.
    api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body={
        "values": [{"field": "loyalty_tier", "value": "gold"}], "notices": {"loyalty": 2}}, expect=201)

    # Keys are scoped to the API key: another key may use the same Idempotency-Key freely.
    subject_key = {"Idempotency-Key": f"create-{rid()}"}
    created = api.call("POST", "/v1/subjects", key="partner", json_body={}, headers=subject_key, expect=201)
    replayed = api.call("POST", "/v1/subjects", key="partner", json_body={}, headers=subject_key, expect=201)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == created.json()
    elsewhere = api.call("POST", "/v1/subjects", key="admin", json_body={}, headers=subject_key, expect=201)
    assert elsewhere.json()["id"] != created.json()["id"] and "Idempotent-Replayed" not in elsewhere.headers

    # A bodiless write replays too.
    restrict_key = {"Idempotency-Key": f"restrict-{rid()}"}
    target = created.json()["id"]
    one = api.call("POST", f"/v1/subjects/{target}/restrict", key="partner", headers=restrict_key, expect=200)
    two = api.call("POST", f"/v1/subjects/{target}/restrict", key="partner", headers=restrict_key, expect=200)
    assert two.headers["Idempotent-Replayed"] == "true" and two.content == one.content
    # The same key on another route is another request.
    api.problem(api.call("POST", f"/v1/subjects/{target}/unrestrict", key="partner", headers=restrict_key), 422, "idempotency-key-reused")


def test_retry_after_a_new_notice_still_replays(api, world):
    """The stored answer is found before the request is validated again against a changed registry."""
    tag = rid()
    api.call("POST", "/v1/purposes", json_body={
        "key": f"retry_{tag}", "names": {"en": "Retry check"}, "legal_basis": "contract", "retention_days": 30,
        "dpv_term": "CustomerCare", "notice": {"en": {"title": "t", "why": "w", "benefit": "b"}}}, expect=201)
    api.call("POST", "/v1/fields", json_body={
        "key": f"retry_{tag}_flag", "type": "boolean", "purposes": [f"retry_{tag}"], "labels": {"en": "Flag"}}, expect=201)
    sid = api.call("POST", "/v1/subjects", key="partner", json_body={}, expect=201).json()["id"]
    body = {"values": [{"field": f"retry_{tag}_flag", "value": True}], "notices": {f"retry_{tag}": 1}}
    key = {"Idempotency-Key": f"retry-{tag}"}
    first = api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body=body, headers=key, expect=201)
    api.call("POST", f"/v1/purposes/retry_{tag}/notices", json_body={"texts": {"en": {"title": "t2", "why": "w", "benefit": "b"}}}, expect=201)
    retry = api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body=body, headers=key)
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.content == first.content


# =========================================================================== bad input changes nothing


@pytest.fixture(scope="session")
def victim(api, world) -> str:
    """A subject with declarations and consents that bad requests aim at."""
    sid = api.call("POST", "/v1/subjects", key="partner", json_body={"external_id": f"victim-{rid()}"}, expect=201).json()["id"]
    api.call("POST", f"/v1/subjects/{sid}/declarations", key="partner", json_body={
        "values": [{"field": "loyalty_tier", "value": "gold"}, {"field": "shoe_size", "value": 41}],
        "notices": {"loyalty": 2, "offers": 1, "support": 1}}, expect=201)
    api.call("POST", f"/v1/subjects/{sid}/consents", key="partner", json_body={"consents": [
        {"purpose": "loyalty", "status": "granted", "notice_version": 2}]}, expect=201)
    return sid


@pytest.fixture(scope="session")
def erased(api, world) -> str:
    sid = api.call("POST", "/v1/subjects", key="partner", json_body={"external_id": f"gone-{rid()}"}, expect=201).json()["id"]
    api.call("DELETE", f"/v1/subjects/{sid}", key="partner", expect=200)
    return sid


def snapshot(api: Api, sid: str) -> dict:
    """Everything a bad request could have changed."""
    return {
        "ledger": ledger_counts(api),
        "purposes": api.call("GET", "/v1/purposes", expect=200).json(),
        "notices": api.call("GET", "/v1/purposes/loyalty/notices", expect=200).json(),
        "fields": api.call("GET", "/v1/fields", expect=200).json(),
        "teams": api.call("GET", "/v1/teams", expect=200).json(),
        "keys": api.call("GET", "/v1/keys", expect=200).json(),
        "chain": api.call("GET", f"/v1/subjects/{sid}/ledger", expect=200).json()["entries"],
        "profile": api.call("GET", f"/v1/subjects/{sid}", key="partner", purpose="loyalty", expect=200).json(),
        "consents": api.call("GET", f"/v1/subjects/{sid}/consents", key="partner", purpose="loyalty", expect=200).json(),
    }


@dataclass
class Ctx:
    api: Api
    victim: str
    erased: str
    world: World

    def declare(self, body, **kwargs):
        return self.api.call("POST", f"/v1/subjects/{self.victim}/declarations", key="partner", json_body=body, **kwargs)

    def consent(self, *consents):
        return self.api.call("POST", f"/v1/subjects/{self.victim}/consents", key="partner", json_body={"consents": list(consents)})


def one(field, value, **notices):
    return {"values": [{"field": field, "value": value}], "notices": notices or {"loyalty": 2}}


BIG = "x" * (70 * 1024)

# (id, request, status, problem kind, field the problem must name or None)
BAD_INPUT: list[tuple[str, Callable[[Ctx], requests.Response], int, str, str | None]] = [
    # declarations: the registry decides what is acceptable
    ("unknown-field", lambda c: c.declare(one("favourite_colour", "red")), 422, "validation-failed", "values[0].field"),
    ("value-outside-options", lambda c: c.declare(one("loyalty_tier", "platinum")), 422, "validation-failed", "values[0].value"),
    ("multi-value-outside-options", lambda c: c.declare(one("interests", ["running", "bowling"], newsletter=1, offers=1, research=1)),
     422, "validation-failed", "values[0].value[1]"),
    ("wrong-value-type", lambda c: c.declare(one("loyalty_tier", 3)), 422, "validation-failed", "values[0].value"),
    ("number-as-string", lambda c: c.declare(one("shoe_size", "41", offers=1, support=1)), 422, "validation-failed", "values[0].value"),
    ("number-out-of-range", lambda c: c.declare(one("shoe_size", 60, offers=1, support=1)), 422, "validation-failed", "values[0].value"),
    ("text-too-long", lambda c: c.declare(one("favourite_store", "s" * 41)), 422, "validation-failed", "values[0].value"),
    ("values-not-an-array", lambda c: c.declare({"values": "gold", "notices": {"loyalty": 2}}), 422, "validation-failed", "values"),
    ("notice-version-not-a-number", lambda c: c.declare({"values": [{"field": "loyalty_tier", "value": "gold"}], "notices": {"loyalty": "2"}}),
     422, "validation-failed", "notices.loyalty"),
    ("value-missing", lambda c: c.declare({"values": [{"field": "loyalty_tier"}], "notices": {"loyalty": 2}}), 422, "validation-failed", "values[0].value"),
    ("notices-missing", lambda c: c.declare({"values": [{"field": "loyalty_tier", "value": "gold"}]}), 422, "validation-failed", "notices"),
    ("no-values", lambda c: c.declare({"values": [], "notices": {}}), 422, "validation-failed", "values"),
    ("field-declared-twice", lambda c: c.declare({"values": [{"field": "loyalty_tier", "value": "gold"}, {"field": "loyalty_tier", "value": "silver"}],
                                                   "notices": {"loyalty": 2}}), 422, "validation-failed", "values[1].field"),
    ("notice-not-cited", lambda c: c.declare(one("loyalty_tier", "gold", offers=1)), 422, "validation-failed", "notices.loyalty"),
    ("notice-version-unknown", lambda c: c.declare(one("loyalty_tier", "gold", loyalty=3)), 422, "validation-failed", "notices.loyalty"),
    ("notice-version-zero", lambda c: c.declare(one("loyalty_tier", "gold", loyalty=0)), 422, "validation-failed", "notices.loyalty"),
    ("notice-version-superseded", lambda c: c.declare(one("loyalty_tier", "gold", loyalty=1)), 422, "validation-failed", "notices.loyalty"),
    ("notice-of-unknown-purpose", lambda c: c.declare(one("loyalty_tier", "gold", loyalty=2, nope=1)), 422, "validation-failed", "notices.nope"),
    ("unknown-source", lambda c: c.declare({**one("loyalty_tier", "gold"), "source": "scraped"}), 422, "validation-failed", "source"),
    # consents
    ("grant-without-notice", lambda c: c.consent({"purpose": "offers", "status": "granted"}), 422, "validation-failed", "consents[0].notice_version"),
    ("grant-superseded-notice", lambda c: c.consent({"purpose": "loyalty", "status": "granted", "notice_version": 1}),
     422, "validation-failed", "consents[0].notice_version"),
    ("consent-unknown-purpose", lambda c: c.consent({"purpose": "nope", "status": "granted", "notice_version": 1}), 422, "validation-failed", "consents[0].purpose"),
    ("consent-bad-status", lambda c: c.consent({"purpose": "offers", "status": "maybe"}), 422, "validation-failed", "consents[0].status"),
    ("consent-expired", lambda c: c.consent({"purpose": "offers", "status": "granted", "notice_version": 1, "expires_at": "2001-01-01T00:00:00Z"}),
     422, "validation-failed", "consents[0].expires_at"),
    ("consent-bad-time", lambda c: c.consent({"purpose": "offers", "status": "granted", "notice_version": 1, "expires_at": "next week"}),
     422, "validation-failed", "consents[0].expires_at"),
    # registry
    ("special-category-field", lambda c: c.api.call("POST", "/v1/fields", json_body={
        "key": "health_condition", "type": "text", "purposes": ["support"], "sensitivity": "special", "labels": {"en": "Health"}}),
     422, "validation-failed", "sensitivity"),
    ("field-unknown-purpose", lambda c: c.api.call("POST", "/v1/fields", json_body={
        "key": "hat_size", "type": "number", "purposes": ["hats"], "labels": {"en": "Hat size"}}), 422, "validation-failed", "purposes[0]"),
    ("field-options-on-number", lambda c: c.api.call("POST", "/v1/fields", json_body={
        "key": "hat_size", "type": "number", "options": ["s"], "purposes": ["offers"], "labels": {"en": "Hat size"}}), 422, "validation-failed", "options"),
    ("duplicate-field", lambda c: c.api.call("POST", "/v1/fields", json_body={
        "key": "loyalty_tier", "type": "boolean", "purposes": ["loyalty"], "labels": {"en": "Again"}}), 409, "conflict", "key"),
    ("duplicate-purpose", lambda c: c.api.call("POST", "/v1/purposes", json_body={
        "key": "loyalty", "names": {"en": "Again"}, "legal_basis": "consent", "retention_days": 30, "dpv_term": "Marketing"}), 409, "conflict", "key"),
    ("purpose-bad-dpv-term", lambda c: c.api.call("POST", "/v1/purposes", json_body={
        "key": "gossip", "names": {"en": "Gossip"}, "legal_basis": "consent", "retention_days": 30, "dpv_term": "Gossip"}), 422, "validation-failed", "dpv_term"),
    ("purpose-bad-key", lambda c: c.api.call("POST", "/v1/purposes", json_body={
        "key": "Bad Key", "names": {"en": "Bad"}, "legal_basis": "consent", "retention_days": 30, "dpv_term": "Marketing"}), 422, "validation-failed", "key"),
    ("notice-without-english", lambda c: c.api.call("POST", "/v1/purposes/loyalty/notices", json_body={"texts": {"he": LOYALTY_V1["he"]}}),
     422, "validation-failed", "texts.en"),
    ("notice-empty-title", lambda c: c.api.call("POST", "/v1/purposes/loyalty/notices", json_body={
        "texts": {"en": {"title": " ", "why": "w", "benefit": "b"}}}), 422, "validation-failed", "texts.en.title"),
    ("team-unknown-role", lambda c: c.api.call("POST", "/v1/teams", json_body={"key": "ops", "name": "Ops", "purposes": [], "roles": ["root"]}),
     422, "validation-failed", "roles[0]"),
    ("team-key-mismatch", lambda c: c.api.call("PUT", "/v1/teams/partners", json_body={"key": "sales", "name": "S", "purposes": [], "roles": []}),
     422, "validation-failed", "key"),
    # subjects
    ("subject-bad-email", lambda c: c.api.call("POST", "/v1/subjects", key="partner", json_body={"email": "not an address"}), 422, "validation-failed", "email"),
    ("subject-external-id-not-string", lambda c: c.api.call("POST", "/v1/subjects", key="partner", json_body={"external_id": 7}),
     422, "validation-failed", "external_id"),
    ("lookup-without-identifier", lambda c: c.api.call("POST", "/v1/subjects/lookup", key="partner", json_body={}), 422, "validation-failed", "external_id"),
    # the body itself
    ("malformed-json", lambda c: c.api.call("POST", f"/v1/subjects/{c.victim}/declarations", key="partner", data='{"values": [',
                                            headers={"Content-Type": "application/json"}), 400, "malformed-request", "body"),
    ("body-not-an-object", lambda c: c.api.call("POST", f"/v1/subjects/{c.victim}/declarations", key="partner", json_body=["gold"]),
     422, "validation-failed", "body"),
    ("body-over-limit", lambda c: c.declare({**one("loyalty_tier", "gold"), "collection_point": BIG}), 413, "payload-too-large", "body"),
    ("not-json-content-type", lambda c: c.api.call("POST", f"/v1/subjects/{c.victim}/declarations", key="partner",
                                                   data=json.dumps(one("loyalty_tier", "silver")), headers={"Content-Type": "text/plain"}),
     415, "malformed-request", "Content-Type"),
    # purposes of reads
    ("unknown-purpose-header", lambda c: c.api.call("GET", f"/v1/subjects/{c.victim}", key="partner", purpose="nope"), 400, "malformed-request", "Candor-Purpose"),
    ("missing-purpose-header", lambda c: c.api.call("GET", f"/v1/subjects/{c.victim}", key="partner"), 400, "malformed-request", "Candor-Purpose"),
    ("missing-purpose-on-list", lambda c: c.api.call("GET", "/v1/subjects", key="marketing"), 400, "malformed-request", "Candor-Purpose"),
    ("team-without-the-purpose", lambda c: c.api.call("GET", f"/v1/subjects/{c.victim}", key="sales", purpose="support"), 403, "forbidden", "Candor-Purpose"),
    ("team-without-the-purpose-list", lambda c: c.api.call("GET", "/v1/subjects", key="sales", purpose="support"), 403, "forbidden", "Candor-Purpose"),
    ("team-without-the-purpose-history", lambda c: c.api.call("GET", f"/v1/subjects/{c.victim}/declarations", key="marketing", purpose="loyalty"),
     403, "forbidden", "Candor-Purpose"),
    ("team-without-the-purpose-consents", lambda c: c.api.call("GET", f"/v1/subjects/{c.victim}/consents", key="sales", purpose="loyalty"),
     403, "forbidden", "Candor-Purpose"),
    # roles
    ("read-only-team-writes", lambda c: c.api.call("POST", f"/v1/subjects/{c.victim}/declarations", key="sales", json_body=one("loyalty_tier", "silver")),
     403, "forbidden", None),
    ("read-only-team-erases", lambda c: c.api.call("DELETE", f"/v1/subjects/{c.victim}", key="sales"), 403, "forbidden", None),
    ("marketing-restricts", lambda c: c.api.call("POST", f"/v1/subjects/{c.victim}/restrict", key="marketing"), 403, "forbidden", None),
    ("non-admin-creates-purpose", lambda c: c.api.call("POST", "/v1/purposes", key="marketing", json_body={
        "key": "sneaky", "names": {"en": "Sneaky"}, "legal_basis": "consent", "retention_days": 30, "dpv_term": "Marketing"}), 403, "forbidden", None),
    # authentication
    ("revoked-key", lambda c: c.api.call("POST", f"/v1/subjects/{c.victim}/declarations", key=c.world.revoked_secret, json_body=one("loyalty_tier", "silver")),
     401, "unauthorized", "Authorization"),
    ("malformed-key", lambda c: c.api.call("GET", f"/v1/subjects/{c.victim}", key="cnd_sk_short", purpose="loyalty"), 401, "unauthorized", "Authorization"),
    ("not-a-bearer-token", lambda c: c.api.call("GET", "/v1/purposes", key=None, headers={"Authorization": "Basic YWRtaW46YWRtaW4="}),
     401, "unauthorized", "Authorization"),
    ("bearer-without-token", lambda c: c.api.call("GET", "/v1/purposes", key=None, headers={"Authorization": "Bearer"}), 401, "unauthorized", "Authorization"),
    ("no-key", lambda c: c.api.call("POST", "/v1/subjects", key=None, json_body={}), 401, "unauthorized", "Authorization"),
    # idempotency keys
    ("idempotency-key-too-long", lambda c: c.declare(one("loyalty_tier", "silver"), headers={"Idempotency-Key": "k" * 256}),
     400, "malformed-request", "Idempotency-Key"),
    # subjects that are not there
    ("unknown-subject-read", lambda c: c.api.call("GET", "/v1/subjects/sub_nope", key="partner", purpose="loyalty"), 404, "not-found", None),
    ("unknown-subject-declare", lambda c: c.api.call("POST", "/v1/subjects/sub_nope/declarations", key="partner", json_body=one("loyalty_tier", "gold")),
     404, "not-found", None),
    ("unknown-subject-consent", lambda c: c.api.call("POST", "/v1/subjects/sub_nope/consents", key="partner", json_body={"consents": [
        {"purpose": "loyalty", "status": "withdrawn"}]}), 404, "not-found", None),
    ("unknown-subject-history", lambda c: c.api.call("GET", "/v1/subjects/sub_nope/declarations", key="partner", purpose="loyalty"), 404, "not-found", None),
    ("unknown-subject-consents", lambda c: c.api.call("GET", "/v1/subjects/sub_nope/consents", key="partner", purpose="loyalty"), 404, "not-found", None),
    ("unknown-subject-restrict", lambda c: c.api.call("POST", "/v1/subjects/sub_nope/restrict", key="partner"), 404, "not-found", None),
    ("unknown-subject-erase", lambda c: c.api.call("DELETE", "/v1/subjects/sub_nope", key="partner"), 404, "not-found", None),
    ("unknown-subject-chain", lambda c: c.api.call("GET", "/v1/subjects/sub_nope/ledger"), 404, "not-found", None),
    # erased subjects
    ("erased-subject-read", lambda c: c.api.call("GET", f"/v1/subjects/{c.erased}", key="partner", purpose="loyalty"), 410, "subject-erased", None),
    ("erased-subject-declare", lambda c: c.api.call("POST", f"/v1/subjects/{c.erased}/declarations", key="partner", json_body=one("loyalty_tier", "gold")),
     410, "subject-erased", None),
    ("erased-subject-consent", lambda c: c.api.call("POST", f"/v1/subjects/{c.erased}/consents", key="partner", json_body={"consents": [
        {"purpose": "loyalty", "status": "granted", "notice_version": 2}]}), 410, "subject-erased", None),
    ("erased-subject-history", lambda c: c.api.call("GET", f"/v1/subjects/{c.erased}/declarations", key="partner", purpose="loyalty"), 410, "subject-erased", None),
    ("erased-subject-consents", lambda c: c.api.call("GET", f"/v1/subjects/{c.erased}/consents", key="partner", purpose="loyalty"), 410, "subject-erased", None),
    ("erased-subject-restrict", lambda c: c.api.call("POST", f"/v1/subjects/{c.erased}/restrict", key="partner"), 410, "subject-erased", None),
    ("erased-subject-unrestrict", lambda c: c.api.call("POST", f"/v1/subjects/{c.erased}/unrestrict", key="partner"), 410, "subject-erased", None),
    ("erased-subject-erase", lambda c: c.api.call("DELETE", f"/v1/subjects/{c.erased}", key="partner"), 410, "subject-erased", None),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_refused_and_changes_nothing(api, world, victim, erased, case):
    _, send, status, kind, field_name = case
    ctx = Ctx(api, victim, erased, world)
    before = snapshot(api, victim)
    response = send(ctx)
    body = api.problem(response, status, kind, field_name)
    assert body["detail"], body
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="candor"'
    assert snapshot(api, victim) == before, "a refused request changed something"


def test_oversized_body_of_a_megabyte_is_refused(api, world, victim):
    """Well past the 1 MiB upload ceiling too: still a 413 problem, not a dropped connection."""
    before = ledger_counts(api)
    response = api.call("POST", f"/v1/subjects/{victim}/declarations", key="partner",
                        data=b'{"values": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"})
    api.problem(response, 413, "payload-too-large", "body")
    assert ledger_counts(api) == before


# =========================================================================== coverage of the contract


def test_a_replayed_key_creation_never_shows_the_secret_again(api, world):
    headers = {"Idempotency-Key": f"key-{rid()}"}
    body = {"name": "replayed", "team": world.team["key"]}
    first = api.call("POST", "/v1/keys", json_body=body, headers=headers, expect=201).json()
    again = api.call("POST", "/v1/keys", json_body=body, headers=headers, expect=201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first["secret"].startswith("cnd_sk_")
    assert "secret" not in again.json() and again.json()["key"] == first["key"]
    assert first["secret"] not in again.text
