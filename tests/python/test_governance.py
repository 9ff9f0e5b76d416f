"""Issue 4, parts 4, 5 and 7: consent receipts (Kantara v1.1), the record of processing activities
(GDPR Art. 30, JSON and a printable page) and one person's offline ledger proof, checked with
tools/verify_chain.py. Every answer is validated against the OpenAPI document by the `api` fixture."""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
import sys

import jsonschema
import pytest
import requests

from conftest import ROOT

RECEIPT_SCHEMA = ROOT.parent / "shared" / "specs" / "kantara-consent-receipt-v1.1.schema.json"
VERIFIER = ROOT / "tools" / "verify_chain.py"


def setup_call(api, method: str, path: str, body=None, key: str = "marketing") -> dict:
    """A set-up request outside this module's subject (its contract is checked by test_api_contract)."""
    response = api.session.request(method, api.server.base_url + path, json=body, timeout=60,
                                   headers={"Authorization": "Bearer " + api.keys[key]})
    assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def person_with_consents(api) -> str:
    """A new person who granted newsletter and offers, declared a value, then withdrew offers."""
    sid = setup_call(api, "POST", "/v1/subjects", {"external_id": f"gov-{secrets.token_hex(5)}"})["id"]
    setup_call(api, "POST", f"/v1/subjects/{sid}/consents", {"consents": [
        {"purpose": "newsletter", "status": "granted", "method": "checkbox", "notice_version": 1},
        {"purpose": "offers", "status": "granted", "method": "preference_center", "notice_version": 1}]})
    setup_call(api, "POST", f"/v1/subjects/{sid}/declarations", {
        "values": [{"field": "shoe_size", "value": 42}], "notices": {"offers": 1, "support": 1}})
    setup_call(api, "POST", f"/v1/subjects/{sid}/consents", {"consents": [{"purpose": "offers", "status": "withdrawn"}]})
    return sid


def test_consent_receipts_are_valid_kantara_documents(api):
    validator = jsonschema.Draft4Validator(json.loads(RECEIPT_SCHEMA.read_text()))
    sid = person_with_consents(api)

    # When the marketing team lists the person's receipts for a purpose it holds
    listed = api.call("GET", f"/v1/subjects/{sid}/receipts", key="marketing", purpose="newsletter", expect=200).json()

    # Then there is one per consent change, each a valid Kantara v1.1 receipt tied to its ledger entry
    receipts = listed["receipts"]
    assert [r["candorLedger"]["seq"] for r in receipts] == [2, 4]
    for receipt in receipts:
        validator.validate(receipt)
        assert receipt["piiPrincipalId"] == sid
    first = receipts[0]["services"][0]["purposes"]
    assert [p["purposeKey"] for p in first] == ["newsletter", "offers"]
    assert first[0]["purposeCategory"] == ["https://w3id.org/dpv#DirectMarketing"]
    assert "interests" in first[0]["piiCategory"] and first[0]["thirdPartyDisclosure"] is False
    assert "730 days" in first[0]["termination"]
    assert receipts[1]["services"][0]["purposes"][0]["consentStatus"] == "withdrawn"

    # And one is fetched by its ledger position, the same document
    one = api.call("GET", f"/v1/subjects/{sid}/receipts/4", key="marketing", purpose="offers", expect=200).json()
    validator.validate(one)
    assert one == receipts[1]

    # And a team sees only its own purposes: sales (offers) sees both changes, but only the offers part
    sales = api.call("GET", f"/v1/subjects/{sid}/receipts", key="sales", purpose="offers", expect=200).json()["receipts"]
    assert [[p["purposeKey"] for p in r["services"][0]["purposes"]] for r in sales] == [["offers"], ["offers"]]

    # And a tampered receipt no longer validates (the schema check is live)
    broken = copy.deepcopy(one)
    del broken["piiControllers"][0]["contact"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_receipt_bad_input(api):
    sid = person_with_consents(api)
    # A seq that is not a consent change, one that is not a number, a missing purpose, a missing role, an unknown person
    api.problem(api.call("GET", f"/v1/subjects/{sid}/receipts/3", key="marketing", purpose="newsletter"), 404, "not-found")
    api.problem(api.call("GET", f"/v1/subjects/{sid}/receipts/abc", key="marketing", purpose="newsletter"), 422, "validation-failed", "seq")
    api.problem(api.call("GET", f"/v1/subjects/{sid}/receipts", key="marketing"), 400, "malformed-request", "Candor-Purpose")
    api.problem(api.call("GET", f"/v1/subjects/{sid}/receipts", key="marketing", purpose="support"), 403, "forbidden", "Candor-Purpose")
    api.problem(api.call("GET", "/v1/subjects/sub_nobody/receipts", key="marketing", purpose="newsletter"), 404, "not-found")
    api.problem(api.call("GET", f"/v1/subjects/{sid}/receipts", key=None, purpose="newsletter"), 401, "unauthorized")
    # After erasure, the receipts are gone with the person's key
    setup_call(api, "DELETE", f"/v1/subjects/{sid}", key="admin")
    api.problem(api.call("GET", f"/v1/subjects/{sid}/receipts", key="marketing", purpose="newsletter"), 410, "subject-erased")


def test_record_of_processing_json(api):
    record = api.call("GET", "/v1/ropa", key="admin", expect=200).json()
    purposes = api.call("GET", "/v1/purposes", key="admin", expect=200).json()["data"]
    assert [a["purpose"] for a in record["activities"]] == sorted(p["key"] for p in purposes)
    newsletter = next(a for a in record["activities"] if a["purpose"] == "newsletter")
    assert newsletter["legal_basis"] == "consent" and newsletter["retention_days"] == 730
    assert newsletter["dpv_iri"] == "https://w3id.org/dpv#DirectMarketing" and newsletter["dpv_label"] == "Direct Marketing"
    assert {c["key"] for c in newsletter["data_categories"]} >= {"interests", "channels", "content_frequency"}
    assert {r["key"] for r in newsletter["recipients"]} == {"marketing"}
    assert any("destinations" in note for note in record["notes"])
    hebrew = api.call("GET", "/v1/ropa", key="admin", params={"lang": "he"}, expect=200).json()
    assert next(a for a in hebrew["activities"] if a["purpose"] == "newsletter")["name"] == "ניוזלטר"
    # Only admin or audit: marketing (read, write) may not; a bad language names the field
    api.problem(api.call("GET", "/v1/ropa", key="marketing"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/ropa", key=None), 401, "unauthorized")
    api.problem(api.call("GET", "/v1/ropa", key="admin", params={"lang": "fr"}, validate_request=False), 422, "validation-failed", "lang")


def test_record_of_processing_page(api):
    english = api.call("GET", "/records-of-processing", key=None, expect=200)
    assert "default-src 'none'" in english.headers["Content-Security-Policy"]
    assert "Record of processing activities" in english.text and "DirectMarketing" in english.text
    hebrew = api.call("GET", "/records-of-processing", key=None, headers={"Accept-Language": "he-IL,he;q=0.9"}, expect=200)
    assert 'dir="rtl"' in hebrew.text and "רשומת פעילויות עיבוד" in hebrew.text


def run_verifier(tmp_path, proof, *extra) -> subprocess.CompletedProcess:
    path = tmp_path / f"proof-{secrets.token_hex(3)}.json"
    path.write_text(json.dumps(proof))
    return subprocess.run([sys.executable, str(VERIFIER), str(path), *extra], capture_output=True, text=True, timeout=60)


def test_offline_proof_verifies_and_tampering_fails(api, tmp_path):
    sid = person_with_consents(api)
    # When an auditor downloads the person's proof
    proof = api.call("GET", f"/v1/subjects/{sid}/proof", key="admin", expect=200).json()
    assert proof["covered"]["seq"] == len(proof["entries"]) == 4
    assert proof["inclusion"]["tree_size"] == proof["checkpoint"]["chain_count"] > 1
    assert len(proof["inclusion"]["path"]) <= proof["checkpoint"]["chain_count"].bit_length()

    # Then the offline verifier accepts it, with the key obtained out of band too
    ok = run_verifier(tmp_path, proof)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout
    latest = api.call("GET", "/v1/ledger/checkpoints/latest", key="admin", expect=200).json()
    assert run_verifier(tmp_path, proof, "--public-key", latest["public_key"]).returncode == 0

    # And every kind of tampering is caught with a non-zero exit
    def tampered(change):
        copied = copy.deepcopy(proof)
        change(copied)
        return run_verifier(tmp_path, copied)

    flip = lambda text: ("0" if text[0] != "0" else "1") + text[1:]  # noqa: E731
    cases = {
        "payload": lambda p: p["entries"][1].__setitem__("payload", "AAAA" + p["entries"][1]["payload"][4:]),
        "dropped entry": lambda p: p["entries"].pop(2),
        "checkpoint root": lambda p: p["checkpoint"].__setitem__("root", flip(p["checkpoint"]["root"])),
        "inclusion path": lambda p: p["inclusion"]["path"][0].__setitem__("hash", flip(p["inclusion"]["path"][0]["hash"])),
        "covered head": lambda p: p["covered"].__setitem__("seq", 3),
    }
    for name, change in cases.items():
        result = tampered(change)
        assert result.returncode == 1, f"{name}: {result.stdout}{result.stderr}"
        assert "FAIL" in result.stdout, name
    # And a checkpoint signed by another key than the one the auditor trusts
    other = run_verifier(tmp_path, proof, "--public-key", "00" * 32)
    assert other.returncode == 1

    # And the proof needs the audit role
    api.problem(api.call("GET", f"/v1/subjects/{sid}/proof", key="marketing"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/subjects/sub_nobody/proof", key="admin"), 404, "not-found")
