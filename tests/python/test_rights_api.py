"""Issue 4, parts 1, 2 and 6 over HTTP: the rights a person has (export, rectification, objection,
opt-out of sale and Sec-GPC), rights requests tracked to their legal deadlines (JSON and CSV), and the
audit log and review report. Every answer is validated against the OpenAPI document by the `api`
fixture; each test also asserts what changed, and that refused input changed nothing."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from conftest import ROOT

EXPORT_SCHEMA = json.loads((ROOT / "docs" / "export-schema.json").read_text())


def rid() -> str:
    return secrets.token_hex(5)


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def notices(api) -> dict[str, int]:
    """purpose → current notice version."""
    purposes = api.call("GET", "/v1/purposes", expect=200).json()["data"]
    return {p["key"]: p["current_notice_version"] for p in purposes if "current_notice_version" in p}


def new_person(api, *, email: str | None = None) -> str:
    body = {"external_id": f"rights-{rid()}"}
    if email:
        body["email"] = email
    return api.call("POST", "/v1/subjects", key="marketing", json_body=body, expect=201).json()["id"]


def grant(api, sid: str, *purposes: str, headers=None, expect=201):
    versions = notices(api)
    body = {"consents": [{"purpose": p, "status": "granted", "method": "checkbox", "notice_version": versions[p]} for p in purposes]}
    return api.call("POST", f"/v1/subjects/{sid}/consents", key="marketing", json_body=body, headers=headers, expect=expect)


def declare(api, sid: str, values: dict, headers=None):
    versions = notices(api)
    purposes = {"interests": ["newsletter", "offers", "research"], "shoe_size": ["offers", "support"], "channels": ["newsletter", "offers", "support"]}
    cited = {p: versions[p] for field in values for p in purposes[field]}
    body = {"values": [{"field": k, "value": v} for k, v in values.items()], "notices": cited, "source": "preference_center"}
    return api.call("POST", f"/v1/subjects/{sid}/declarations", key="marketing", json_body=body, headers=headers, expect=201)


def export(api, sid: str, key: str = "support") -> dict:
    response = api.call("GET", f"/v1/subjects/{sid}/export", key=key, expect=200)
    assert response.headers["Content-Disposition"] == f'attachment; filename="{sid}-export.json"'
    body = response.json()
    jsonschema.Draft202012Validator(EXPORT_SCHEMA).validate(body)
    return body


def subject(api, sid: str) -> dict:
    return api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support", expect=200).json()["subject"]


# =========================================================================== the export schema


def test_export_schema_is_a_valid_documented_schema():
    jsonschema.Draft202012Validator.check_schema(EXPORT_SCHEMA)

    def documented(node, path):
        if isinstance(node, dict):
            for name, child in (node.get("properties") or {}).items():
                assert "description" in child, f"{path}.{name} is not documented"
            for key, child in node.items():
                documented(child, f"{path}/{key}")
        elif isinstance(node, list):
            for child in node:
                documented(child, path)
    documented(EXPORT_SCHEMA, "")
    # The live check: an export with an undocumented property does not validate.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"subject": {}, "surprise": 1}, EXPORT_SCHEMA)


# =========================================================================== export


def test_export_holds_everything_the_person_has(api):
    email = f"Export.{rid()}@Example.com"
    sid = new_person(api, email=email)
    grant(api, sid, "newsletter")
    declared = declare(api, sid, {"interests": ["yoga", "running"], "shoe_size": 42}).json()
    api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support", expect=200)
    api.call("POST", f"/v1/subjects/{sid}/opt-out-of-sale", key="support", expect=200)

    body = export(api, sid)

    assert body["subject"]["id"] == sid and body["subject"]["email"] == email.lower()
    assert body["subject"]["external_id"].startswith("rights-")
    # Every value, not purpose-gated, with its provenance.
    assert body["values"]["interests"]["value"] == ["running", "yoga"] or body["values"]["interests"]["value"] == ["yoga", "running"]
    assert body["values"]["shoe_size"]["value"] == 42
    for value in body["values"].values():
        assert value["declaration_id"] == declared["declaration_id"]
        assert value["source"] == "preference_center"
    assert body["values"]["shoe_size"]["notices"].keys() == {"offers", "support"}
    assert [(c["purpose"], c["status"]) for c in body["consents"]] == [("newsletter", "granted")]
    assert [e["kind"] for e in body["history"]] == ["subject.created", "consent", "declaration", "subject.opted_out_of_sale"]
    assert body["history"][0]["email"] == email.lower()
    assert body["history"][-1]["method"] == "api"
    assert any(d["team"] == "support" and d["purpose"] == "support" and set(d["fields"]) == {"shoe_size"}
               for d in body["shared_with"])
    assert body["flags"] == {"restricted": False, "objected_to_direct_marketing": False, "opted_out_of_sale": True}
    # The export itself is audited, and shows up as a disclosure in the next export.
    again = export(api, sid, key="admin")
    assert any(d["action"] == "subject.export" and d["team"] == "support" for d in again["shared_with"])


def test_export_bad_input(api):
    sid = new_person(api)
    api.problem(api.call("GET", f"/v1/subjects/{sid}/export", key="marketing"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/subjects/sub_0000000000zzzzzzzzzzzzzzzz/export", key="support"), 404, "not-found")
    api.problem(api.call("GET", f"/v1/subjects/{sid}/export", key="nope"), 401, "unauthorized")
    api.call("DELETE", f"/v1/subjects/{sid}", key="support", expect=200)
    api.problem(api.call("GET", f"/v1/subjects/{sid}/export", key="support"), 410, "subject-erased")


# =========================================================================== rectification


def test_rectify_valid_and_invalid(api):
    sid = new_person(api)
    declare(api, sid, {"shoe_size": 41})

    receipt = api.call("POST", f"/v1/subjects/{sid}/rectify", key="support",
                       json_body={"field": "shoe_size", "value": 43}, expect=201).json()
    assert receipt["source"] == "rectification" and receipt["values"][0]["value"] == 43
    assert set(receipt["values"][0]["notices"]) == {"offers", "support"}
    assert subject(api, sid)["id"] == sid
    profile = api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support", expect=200).json()["profile"]
    assert profile["values"]["shoe_size"]["value"] == 43 and profile["values"]["shoe_size"]["source"] == "rectification"

    before = export(api, sid)
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rectify", key="support", json_body={"field": "shoe_size", "value": 99}),
                422, "validation-failed", "value")
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rectify", key="support", json_body={"field": "shoe_size", "value": "big"}),
                422, "validation-failed", "value")
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rectify", key="support", json_body={"field": "hat_size", "value": 1}),
                422, "validation-failed", "field")
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rectify", key="support", json_body={"field": "shoe_size"}),
                422, "validation-failed", "value")
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rectify", key="marketing", json_body={"field": "shoe_size", "value": 40}), 403, "forbidden")
    after = export(api, sid)
    # Nothing changed: same value, same chain (the exports between add only disclosures).
    assert after["values"] == before["values"] and after["history"] == before["history"]

    api.call("DELETE", f"/v1/subjects/{sid}", key="support", expect=200)
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rectify", key="support", json_body={"field": "shoe_size", "value": 40}), 410, "subject-erased")


# =========================================================================== objection


def test_objection_is_absolute_until_lifted(api):
    sid = new_person(api)
    grant(api, sid, "newsletter", "offers")
    declare(api, sid, {"interests": ["yoga"], "shoe_size": 40})

    objected = api.call("POST", f"/v1/subjects/{sid}/object", key="support", expect=200).json()
    assert objected["has_objected"] is True

    # Every marketing purpose is withdrawn, by objection.
    consents = api.call("GET", f"/v1/subjects/{sid}/consents", key="marketing", purpose="newsletter", expect=200).json()["consents"]
    marketing = {c["purpose"]: c for c in consents if c["purpose"] in ("newsletter", "offers")}
    assert set(marketing) == {"newsletter", "offers"}
    assert all(c["status"] == "withdrawn" and c["method"] == "objection" for c in marketing.values())
    # Reads for marketing purposes are withheld with reason "objected"; support still works.
    for key, purpose in (("sales", "offers"), ("marketing", "newsletter")):
        profile = api.call("GET", f"/v1/subjects/{sid}", key=key, purpose=purpose, expect=200).json()["profile"]
        assert profile["is_visible"] is False and profile["withheld_reason"] == "objected" and profile["values"] == {}
    support = api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support", expect=200).json()["profile"]
    assert support["is_visible"] is True and support["values"]["shoe_size"]["value"] == 40

    # A new marketing grant is refused and writes nothing.
    before = export(api, sid)["history"]
    api.problem(grant(api, sid, "offers", expect=None), 409, "conflict", "consents[0].status")
    assert export(api, sid)["history"] == before

    lifted = api.call("DELETE", f"/v1/subjects/{sid}/object", key="support", expect=200).json()
    assert lifted["has_objected"] is False
    grant(api, sid, "offers")
    profile = api.call("GET", f"/v1/subjects/{sid}", key="sales", purpose="offers", expect=200).json()["profile"]
    assert profile["is_visible"] is True

    api.problem(api.call("POST", f"/v1/subjects/{sid}/object", key="sales"), 403, "forbidden")
    api.problem(api.call("DELETE", f"/v1/subjects/{sid}/object", key="marketing"), 403, "forbidden")
    api.problem(api.call("POST", "/v1/subjects/sub_0000000000zzzzzzzzzzzzzzzz/object", key="support"), 404, "not-found")
    api.call("DELETE", f"/v1/subjects/{sid}", key="support", expect=200)
    api.problem(api.call("POST", f"/v1/subjects/{sid}/object", key="support"), 410, "subject-erased")
    api.problem(api.call("DELETE", f"/v1/subjects/{sid}/object", key="support"), 410, "subject-erased")


# =========================================================================== opt-out of sale and GPC


def test_opt_out_of_sale(api):
    sid = new_person(api)
    assert subject(api, sid)["has_opted_out_of_sale"] is False
    first = api.call("POST", f"/v1/subjects/{sid}/opt-out-of-sale", key="support", expect=200).json()
    assert first["has_opted_out_of_sale"] is True
    # Repeating it records nothing new.
    history = export(api, sid)["history"]
    api.call("POST", f"/v1/subjects/{sid}/opt-out-of-sale", key="support", headers={"Sec-GPC": "1"}, expect=200)
    assert export(api, sid)["history"] == history
    assert [e.get("method") for e in history if e["kind"] == "subject.opted_out_of_sale"] == ["api"]

    api.problem(api.call("POST", f"/v1/subjects/{sid}/opt-out-of-sale", key="sales"), 403, "forbidden")
    api.problem(api.call("POST", "/v1/subjects/sub_0000000000zzzzzzzzzzzzzzzz/opt-out-of-sale", key="support"), 404, "not-found")
    api.call("DELETE", f"/v1/subjects/{sid}", key="support", expect=200)
    api.problem(api.call("POST", f"/v1/subjects/{sid}/opt-out-of-sale", key="support"), 410, "subject-erased")


@pytest.mark.parametrize("signal", ["0", "yes", "true", "1, 0"])
def test_sec_gpc_other_values_are_no_signal(api, signal):
    sid = new_person(api)
    grant(api, sid, "newsletter", headers={"Sec-GPC": signal})
    declare(api, sid, {"shoe_size": 40}, headers={"Sec-GPC": signal})
    assert subject(api, sid)["has_opted_out_of_sale"] is False


def test_sec_gpc_1_on_consent_and_declaration_writes_opts_out(api):
    by_consent = new_person(api)
    grant(api, by_consent, "newsletter", headers={"Sec-GPC": "1"})
    assert subject(api, by_consent)["has_opted_out_of_sale"] is True
    body = export(api, by_consent)
    assert body["flags"]["opted_out_of_sale"] is True
    assert [e["method"] for e in body["history"] if e["kind"] == "subject.opted_out_of_sale"] == ["gpc"]

    by_declaration = new_person(api)
    declare(api, by_declaration, {"shoe_size": 40}, headers={"Sec-GPC": "1"})
    assert subject(api, by_declaration)["has_opted_out_of_sale"] is True


def test_gpc_support_resource(api):
    response = api.call("GET", "/.well-known/gpc.json", key=None, expect=200)
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["gpc"] is True and set(body) == {"gpc", "lastUpdate"}
    datetime.strptime(body["lastUpdate"], "%Y-%m-%d")


# =========================================================================== rights requests


def create_request(api, **body) -> dict:
    body.setdefault("channel", "email")
    body.setdefault("jurisdiction", "gdpr")
    return api.call("POST", "/v1/requests", key="support", json_body=body, expect=201).json()


def test_request_for_unknown_person_looks_like_a_known_one(api):
    email = f"known.{rid()}@example.com"
    new_person(api, email=email)
    responses = [api.call("POST", "/v1/requests", key="support", expect=201,
                          json_body={"type": "erase", "channel": "email", "jurisdiction": "gdpr", "email": address})
                 for address in (email, f"nobody.{rid()}@example.com")]
    known, unknown = (r.json() for r in responses)
    assert responses[0].status_code == responses[1].status_code == 201
    assert known.keys() == unknown.keys() and "subject_id" not in known
    for field in ("type", "channel", "jurisdiction", "status", "extension", "overdue"):
        assert known[field] == unknown[field]
    for body in (known, unknown):
        received = datetime.fromisoformat(body["received_at"].replace("Z", "+00:00"))
        due = datetime.fromisoformat(body["due_at"].replace("Z", "+00:00"))
        assert 28 <= (due - received).days <= 31
    # Neither the single reads nor the list tell them apart either.
    one = api.call("GET", f"/v1/requests/{unknown['id']}", key="support", expect=200).json()
    assert one == unknown | {"overdue": False}
    assert "subject_id" not in api.call("GET", f"/v1/requests/{known['id']}", key="admin", expect=200).json()


def test_request_lifecycle_erase(api):
    email = f"erase.{rid()}@example.com"
    sid = new_person(api, email=email)
    declare(api, sid, {"shoe_size": 44})
    request = create_request(api, type="erase", email=email)
    rid_ = request["id"]
    assert request["status"] == "received" and request["extension"] == 0 and "confirmation_due_at" not in request

    # Bad extensions are refused, naming the field, and change nothing.
    api.problem(api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"months": 1}), 422, "validation-failed", "reason")
    api.problem(api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"months": 1, "reason": "  "}), 422, "validation-failed", "reason")
    api.problem(api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"months": 3, "reason": "complex"}), 422, "validation-failed", "months")
    api.problem(api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"days": 10, "reason": "complex"}), 422, "validation-failed", "months")
    # Completing before identity is verified is refused.
    api.problem(api.call("POST", f"/v1/requests/{rid_}/complete", key="support", json_body={}), 409, "conflict", "status")
    assert api.call("GET", f"/v1/requests/{rid_}", key="support", expect=200).json() == request

    extended = api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"months": 2, "reason": "many systems"}, expect=200).json()
    assert extended["extension"] == 2 and extended["extension_reason"] == "many systems"
    assert extended["due_at"] > request["due_at"]
    api.problem(api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"months": 1, "reason": "again"}), 422, "validation-failed", "months")

    verified = api.call("POST", f"/v1/requests/{rid_}/verify", key="support", json_body={"method": "email_link"}, expect=200).json()
    assert verified["status"] == "verified" and verified["verification_method"] == "email_link" and verified["subject_id"] == sid
    api.problem(api.call("POST", f"/v1/requests/{rid_}/verify", key="support", json_body={"method": "again"}), 409, "conflict", "status")
    assigned = api.call("POST", f"/v1/requests/{rid_}/assign", key="support", json_body={"assignee": "dpo"}, expect=200).json()
    assert assigned["assignee"] == "dpo"

    done = api.call("POST", f"/v1/requests/{rid_}/complete", key="support", json_body={}, expect=200).json()
    assert done["request"]["status"] == "completed" and done["request"]["outcome"] == "completed" and "export" not in done
    # The action ran: the person is erased, and erasing again is gone.
    api.problem(api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support"), 410, "subject-erased")
    api.problem(api.call("DELETE", f"/v1/subjects/{sid}", key="support"), 410, "subject-erased")
    api.problem(api.call("POST", f"/v1/requests/{rid_}/complete", key="support", json_body={}), 409, "conflict", "status")
    api.problem(api.call("POST", f"/v1/requests/{rid_}/extend", key="support", json_body={"months": 1, "reason": "late"}), 409, "conflict", "status")
    # The log survives the erasure.
    assert api.call("GET", f"/v1/requests/{rid_}", key="admin", expect=200).json()["subject_id"] == sid

    # A request for somebody unknown completes with nothing held.
    unknown = create_request(api, type="erase", external_id=f"ghost-{rid()}")
    api.call("POST", f"/v1/requests/{unknown['id']}/verify", key="support", json_body={"method": "id_document"}, expect=200)
    nothing = api.call("POST", f"/v1/requests/{unknown['id']}/complete", key="support", json_body={}, expect=200).json()
    assert nothing["request"]["outcome"] == "no_data_held" and "subject_id" not in nothing["request"]


def test_request_access_rectify_and_ccpa(api):
    sid = new_person(api)
    external_id = subject(api, sid)["external_id"]
    declare(api, sid, {"shoe_size": 41})

    access = create_request(api, type="access", external_id=external_id)
    api.call("POST", f"/v1/requests/{access['id']}/verify", key="support", json_body={"method": "account_login"}, expect=200)
    done = api.call("POST", f"/v1/requests/{access['id']}/complete", key="support", json_body={}, expect=200).json()
    jsonschema.Draft202012Validator(EXPORT_SCHEMA).validate(done["export"])
    assert done["export"]["subject"]["id"] == sid and done["export"]["values"]["shoe_size"]["value"] == 41

    fix = create_request(api, type="rectify", external_id=external_id)
    api.call("POST", f"/v1/requests/{fix['id']}/verify", key="support", json_body={"method": "account_login"}, expect=200)
    api.problem(api.call("POST", f"/v1/requests/{fix['id']}/complete", key="support", json_body={}), 422, "validation-failed", "field")
    api.problem(api.call("POST", f"/v1/requests/{fix['id']}/complete", key="support", json_body={"field": "shoe_size", "value": 99}),
                422, "validation-failed", "value")
    assert api.call("GET", f"/v1/requests/{fix['id']}", key="support", expect=200).json()["status"] == "verified"
    api.call("POST", f"/v1/requests/{fix['id']}/complete", key="support", json_body={"field": "shoe_size", "value": 45}, expect=200)
    assert export(api, sid)["values"]["shoe_size"]["value"] == 45

    ccpa = create_request(api, type="opt_out_of_sale", jurisdiction="ccpa", external_id=external_id)
    assert "confirmation_due_at" in ccpa
    received = datetime.fromisoformat(ccpa["received_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(ccpa["due_at"].replace("Z", "+00:00")) - received == timedelta(days=45)
    api.problem(api.call("POST", f"/v1/requests/{ccpa['id']}/extend", key="support", json_body={"days": 46, "reason": "r"}), 422, "validation-failed", "days")
    api.problem(api.call("POST", f"/v1/requests/{ccpa['id']}/extend", key="support", json_body={"months": 1, "reason": "r"}), 422, "validation-failed", "days")
    extended = api.call("POST", f"/v1/requests/{ccpa['id']}/extend", key="support", json_body={"days": 45, "reason": "volume"}, expect=200).json()
    assert datetime.fromisoformat(extended["due_at"].replace("Z", "+00:00")) - received == timedelta(days=90)
    api.problem(api.call("POST", f"/v1/requests/{ccpa['id']}/extend", key="support", json_body={"days": 1, "reason": "r"}), 422, "validation-failed", "days")
    api.call("POST", f"/v1/requests/{ccpa['id']}/verify", key="support", json_body={"method": "email_link"}, expect=200)
    api.call("POST", f"/v1/requests/{ccpa['id']}/complete", key="support", json_body={}, expect=200)
    assert subject(api, sid)["has_opted_out_of_sale"] is True


def test_request_bad_input(api):
    for body, field in (({"type": "sell", "channel": "email", "jurisdiction": "gdpr", "email": "a@example.com"}, "type"),
                        ({"type": "access", "channel": "email", "jurisdiction": "lgpd", "email": "a@example.com"}, "jurisdiction"),
                        ({"type": "access", "channel": "", "jurisdiction": "gdpr", "email": "a@example.com"}, "channel"),
                        ({"type": "access", "channel": "email", "jurisdiction": "gdpr"}, "external_id"),
                        ({"type": "access", "channel": "email", "jurisdiction": "gdpr", "email": "not-an-address"}, "email"),
                        ({"type": "access", "channel": "email", "jurisdiction": "gdpr", "email": "a@example.com", "received_at": "2999-01-01T00:00:00Z"}, "received_at"),
                        ({"channel": "email", "jurisdiction": "gdpr", "email": "a@example.com"}, "type")):
        api.problem(api.call("POST", "/v1/requests", key="support", json_body=body), 422, "validation-failed", field)
    api.problem(api.call("POST", "/v1/requests", key="sales", json_body={"type": "access", "channel": "email", "jurisdiction": "gdpr", "email": "a@example.com"}), 403, "forbidden")
    api.problem(api.call("POST", "/v1/requests", key="support", data="{", headers={"Content-Type": "application/json"}), 400, "malformed-request", "body")
    missing = "req_0000000000zzzzzzzzzzzzzzzz"
    api.problem(api.call("GET", f"/v1/requests/{missing}", key="support"), 404, "not-found")
    api.problem(api.call("POST", f"/v1/requests/{missing}/verify", key="support", json_body={"method": "x"}), 404, "not-found")
    api.problem(api.call("POST", f"/v1/requests/{missing}/assign", key="support", json_body={"assignee": "x"}), 404, "not-found")
    api.problem(api.call("POST", f"/v1/requests/{missing}/extend", key="support", json_body={"months": 1, "reason": "r"}), 404, "not-found")
    api.problem(api.call("POST", f"/v1/requests/{missing}/complete", key="support", json_body={}), 404, "not-found")
    request = create_request(api, type="access", email=f"x.{rid()}@example.com")
    api.problem(api.call("POST", f"/v1/requests/{request['id']}/verify", key="support", json_body={"method": ""}), 422, "validation-failed", "method")
    api.problem(api.call("POST", f"/v1/requests/{request['id']}/assign", key="support", json_body={"assignee": ""}), 422, "validation-failed", "assignee")
    api.problem(api.call("GET", f"/v1/requests/{request['id']}", key="sales"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/requests", key="support", params={"status": "lost"}), 400, "malformed-request", "status")
    api.problem(api.call("GET", "/v1/requests", key="support", params={"overdue": "maybe"}), 400, "malformed-request", "overdue")
    api.problem(api.call("GET", "/v1/requests.csv", key="marketing"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/requests.csv", key="support", params={"limit": 0}), 400, "malformed-request", "limit")


def all_pages(api, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = dict(params, limit=7) | ({"cursor": cursor} if cursor else {})
        page = api.call("GET", "/v1/requests", key="admin", params=query, expect=200).json()
        assert len(page["data"]) <= 7
        items += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def test_request_list_overdue_csv_and_pagination(api):
    late = create_request(api, type="access", jurisdiction="ccpa", external_id=f"late-{rid()}",
                          received_at=stamp(datetime.now(timezone.utc) - timedelta(days=50)))
    assert late["overdue"] is True
    formula = create_request(api, type="access", channel="=HYPERLINK(\"http://evil\")", external_id=f"f-{rid()}")
    plus = create_request(api, type="access", channel="+1,2", external_id=f"p-{rid()}")
    for index in range(3):
        create_request(api, type="object", external_id=f"page-{rid()}-{index}")

    everything = all_pages(api)
    ids = [item["id"] for item in everything]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    assert {late["id"], formula["id"], plus["id"]} <= set(ids)

    overdue = all_pages(api, overdue="true")
    assert late["id"] in {item["id"] for item in overdue}
    assert all(item["overdue"] and item["status"] != "completed" for item in overdue)
    assert formula["id"] not in {item["id"] for item in overdue}
    received = all_pages(api, status="received")
    assert all(item["status"] == "received" for item in received) and late["id"] in {i["id"] for i in received}

    # CSV: the same rows as JSON, one header row, formula cells guarded.
    response = api.call("GET", "/v1/requests.csv", key="admin", params={"limit": 500}, expect=200)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="requests.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["id", "type", "channel", "jurisdiction", "status"] and "due_at" in header and "overdue" in header
    json_page = api.call("GET", "/v1/requests", key="admin", params={"limit": 500}, expect=200).json()["data"]
    assert [row[0] for row in body] == [item["id"] for item in json_page]
    by_id = {row[0]: dict(zip(header, row)) for row in body}
    assert by_id[formula["id"]]["channel"] == "'=HYPERLINK(\"http://evil\")"
    assert by_id[plus["id"]]["channel"] == "'+1,2"
    assert by_id[late["id"]]["overdue"] == "true" and by_id[late["id"]]["jurisdiction"] == "ccpa"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)

    # Content negotiation on the list, and the CSV cursor in a header.
    negotiated = api.call("GET", "/v1/requests", key="support", params={"limit": 2}, headers={"Accept": "text/csv"}, expect=200)
    assert negotiated.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert len(list(csv.reader(io.StringIO(negotiated.text)))) == 3
    cursor = negotiated.headers["Candor-Next-Cursor"]
    following = api.call("GET", "/v1/requests.csv", key="support", params={"limit": 2, "cursor": cursor}, expect=200)
    first_ids = [row[0] for row in list(csv.reader(io.StringIO(negotiated.text)))[1:]]
    next_ids = [row[0] for row in list(csv.reader(io.StringIO(following.text)))[1:]]
    assert next_ids and next_ids[0] > first_ids[-1]


# =========================================================================== audit


def test_audit_query_by_subject_team_purpose_and_time(api):
    start = datetime.now(timezone.utc) - timedelta(seconds=2)
    sid = new_person(api)
    declare(api, sid, {"shoe_size": 40})
    api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support", expect=200)

    rows = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid}, expect=200).json()["data"]
    assert [r["action"] for r in rows] == ["subject.create", "declaration.create", "profile.read"]
    assert all(r["subject_id"] == sid for r in rows)
    read = rows[-1]
    assert read["team"] == "support" and read["purpose"] == "support" and read["fields"] == ["shoe_size"]

    by_team = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "team": "marketing"}, expect=200).json()["data"]
    assert [r["action"] for r in by_team] == ["subject.create", "declaration.create"]
    by_purpose = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "purpose": "support"}, expect=200).json()["data"]
    assert [r["action"] for r in by_purpose] == ["profile.read"]
    by_action = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "action": "profile.read"}, expect=200).json()["data"]
    assert by_action == by_purpose
    assert api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "until": stamp(start)}, expect=200).json()["data"] == []
    window = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "since": stamp(start),
                                                                 "until": stamp(datetime.now(timezone.utc) + timedelta(minutes=1))}, expect=200).json()["data"]
    assert window == rows

    # Pagination by cursor.
    first = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "limit": 2}, expect=200).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = api.call("GET", "/v1/audit", key="admin", params={"subject_id": sid, "limit": 2, "cursor": first["next_cursor"]}, expect=200).json()
    assert first["data"] + second["data"] == rows and "next_cursor" not in second

    api.problem(api.call("GET", "/v1/audit", key="support"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/audit", key="admin", params={"since": "yesterday"}), 400, "malformed-request", "since")
    api.problem(api.call("GET", "/v1/audit", key="admin", params={"cursor": "!!"}), 400, "malformed-request", "cursor")
    api.problem(api.call("GET", "/v1/audit", key="admin", params={"cursor": "YWJj"}), 400, "malformed-request", "cursor")


def test_audit_report(api):
    start = datetime.now(timezone.utc) - timedelta(seconds=2)
    sid = new_person(api)
    declare(api, sid, {"shoe_size": 40})
    api.call("GET", f"/v1/subjects/{sid}", key="support", purpose="support", expect=200)
    bad = "cnd_sk_" + secrets.token_hex(16)
    api.problem(api.call("GET", "/v1/purposes", key=bad), 401, "unauthorized")
    api.problem(api.call("GET", "/v1/purposes", key=bad), 401, "unauthorized")

    report = api.call("GET", "/v1/audit/report", key="admin", params={"since": stamp(start)}, expect=200).json()
    failures = [f for f in report["failed_authentications"] if f["key_prefix"] == bad[:11] + "…"]
    assert len(failures) == 1 and failures[0]["minutes"] == 1
    assert all(bad[11:] not in f["key_prefix"] for f in report["failed_authentications"])
    assert any(r["team"] == "support" and r.get("purpose") == "support" and r["action"] == "profile.read" and "shoe_size" in r["fields"]
               for r in report["reads"])
    assert report["unused_key_days"] == 90
    keys = api.call("GET", "/v1/keys", key="admin", expect=200).json()["data"]
    used = {k["id"] for k in keys if k["name"] in ("Demo admin", "Demo support")}
    assert not used & {k["key_id"] for k in report["unused_keys"]}
    teams = {t["key"]: sorted(t["purposes"]) for t in api.call("GET", "/v1/teams", key="admin", expect=200).json()["data"]}
    for unused in report["unused_purposes"]:
        assert set(unused["purposes"]) <= set(teams[unused["team"]])
    # Support read for "support" in this period, so the support team is not listed as leaving it unused.
    assert not any(u["team"] == "support" and "key_id" not in u for u in report["unused_purposes"])
    assert report["deliveries"] == []

    # A window with no activity: no reads, no failures, and every team leaves every purpose unused.
    empty = api.call("GET", "/v1/audit/report", key="admin",
                     params={"since": "2001-01-01T00:00:00Z", "until": "2001-01-02T00:00:00Z"}, expect=200).json()
    assert empty["reads"] == [] and empty["failed_authentications"] == []
    assert {u["team"]: u["purposes"] for u in empty["unused_purposes"] if "key_id" not in u} == {k: v for k, v in teams.items() if v}

    api.problem(api.call("GET", "/v1/audit/report", key="admin"), 400, "malformed-request", "since")
    api.problem(api.call("GET", "/v1/audit/report", key="admin", params={"since": stamp(start), "until": stamp(start - timedelta(days=1))}),
                400, "malformed-request", "until")
    api.problem(api.call("GET", "/v1/audit/report", key="support", params={"since": stamp(start)}), 403, "forbidden")
    api.problem(api.call("GET", "/v1/audit/report", key=bad, params={"since": stamp(start)}), 401, "unauthorized")


def test_links_for_a_person_are_signed_expiring_and_role_checked(api):
    """The links a business sends (rights portal, preference center) on every backend: the right role
    gets a URL on this server with an expiry; a team without the role gets nothing."""
    sid = new_person(api)
    rights = api.call("POST", f"/v1/subjects/{sid}/rights-link", params={"lang": "he"}, expect=201).json()
    assert rights["url"].startswith(api.server.base_url + "/rights/verify/") and rights["expires_at"].endswith("Z")
    preferences = api.call("POST", f"/v1/subjects/{sid}/preferences-link", key="marketing", expect=201).json()
    assert preferences["url"].startswith(api.server.base_url + "/p/") and preferences["expires_at"] > rights["expires_at"]
    api.problem(api.call("POST", f"/v1/subjects/{sid}/rights-link", key="sales"), 403, "forbidden")
    api.problem(api.call("POST", f"/v1/subjects/{sid}/preferences-link", key="sales"), 403, "forbidden")
