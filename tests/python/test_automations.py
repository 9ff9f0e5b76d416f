"""Issue 6, items 3 and 5 over HTTP against the real binary: automations ("when EVENT [if RULE] then
ACTIONS") created through the API and run by the server's engine. A declaration made through the API
starts a signed `automation.triggered` webhook (verified with the `standardwebhooks` library), a
welcome e-mail and an alert that arrive at an aiosmtpd server; a second alert within the person's
declared week is deferred; two automations that would trigger each other stop; every route and its
bad input is checked against the OpenAPI document on the shared demo server."""

from __future__ import annotations

import json
import secrets
import time

import pytest
import requests
import yaml
from aiosmtpd.controller import Controller

from conftest import POSTGRES_URL, Api, build_openapi, create_database, drop_database, free_port, start_server, stop_server
from test_delivery import Receiver, verify
from test_newsletters import Sink  # the aiosmtpd handler that keeps every message


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def auto_env(request, tmp_path_factory):
    """A `candor demo` with an SMTP server (aiosmtpd) and a webhook receiver on loopback."""
    backend = request.param
    database_url = database_name = None
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CANDOR_TEST_POSTGRES_URL is not set")
        database_name, database_url = create_database(POSTGRES_URL)
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    receiver = Receiver()
    data_dir = tmp_path_factory.mktemp(f"candor-automations-{backend}")
    config = data_dir / "mail.json"
    config.write_text(json.dumps({"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": "none", "mail_from": "hello@shop.example"}))
    server = start_server(backend, data_dir, database_url, ("--config", str(config)))
    document = yaml.safe_load(requests.get(server.base_url + "/openapi.yaml", timeout=30).text)
    api = Api(server, build_openapi(document), document)
    yield api, sink, receiver
    stop_server(server)
    receiver.close()
    controller.stop()
    if database_name:
        drop_database(POSTGRES_URL, database_name)


def rid() -> str:
    return secrets.token_hex(4)


def notices(api) -> dict[str, int]:
    return {p["key"]: p["current_notice_version"] for p in api.call("GET", "/v1/purposes", expect=200).json()["data"] if "current_notice_version" in p}


def declare(api, sid: str, values: dict) -> None:
    fields = {f["key"]: f for f in api.call("GET", "/v1/fields", expect=200).json()["data"]}
    versions = notices(api)
    cited = {p: versions[p] for key in values for p in fields[key]["purposes"]}
    body = {"values": [{"field": k, "value": v} for k, v in values.items()], "notices": cited, "source": "api"}
    api.call("POST", f"/v1/subjects/{sid}/declarations", key="marketing", json_body=body, expect=201)


def grant(api, sid: str, purpose: str = "newsletter") -> None:
    entry = {"purpose": purpose, "status": "granted", "method": "checkbox", "notice_version": notices(api)[purpose]}
    api.call("POST", f"/v1/subjects/{sid}/consents", key="marketing", json_body={"consents": [entry]}, expect=201)


def wait_for(condition, timeout: float = 45, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def runs(api, automation_id: str, subject_id: str) -> list[dict]:
    return api.call("GET", f"/v1/automations/{automation_id}/runs", params={"subject_id": subject_id}, expect=200).json()["data"]


def create(api, body: dict) -> dict:
    return api.call("POST", "/v1/automations", json_body=body, expect=201).json()


def test_a_declaration_starts_a_signed_webhook_an_email_and_an_alert_held_to_the_declared_week(auto_env):
    api, sink, receiver = auto_env
    destination = api.call("POST", "/v1/destinations", json_body={
        "url": receiver.url, "purposes": ["newsletter"], "fields": ["interests"], "event_types": ["subject.erased"]}, expect=201).json()
    crm = create(api, {"name": f"Tell the CRM {rid()}", "trigger": {"event": "declaration.recorded", "fields": ["interests"]},
                       "actions": [{"type": "call_destination", "destination_id": destination["id"]}]})
    welcome = create(api, {"name": f"Welcome {rid()}", "trigger": {"event": "consent.granted", "purposes": ["newsletter"]},
                           "actions": [{"type": "send_email", "purpose": "newsletter",
                                        "content": {"en": {"subject": "Welcome, {{interests}} fan", "text": "We will only write about {{interests}}."},
                                                    "he": {"subject": "ברוכים הבאים", "text": "נכתוב רק על {{interests}}."}}}]})
    alert = create(api, {"name": f"Running alert {rid()}", "trigger": {"event": "declaration.recorded", "fields": ["interests"]},
                         "rule": 'interests has "running" and consent("newsletter")',
                         "actions": [{"type": "alert", "purpose": "newsletter",
                                      "content": {"en": {"subject": "New for runners", "text": "Fresh picks about {{interests}}."}}}]})

    address = f"runner-{rid()}@example.com"
    sid = api.call("POST", "/v1/subjects", key="marketing", json_body={"email": address}, expect=201).json()["id"]
    declare(api, sid, {"channels": ["email"], "content_frequency": "weekly", "shoe_size": 42})
    declare(api, sid, {"interests": ["running"]})

    # No consent to the newsletter yet: the webhook went through the delivery pipeline, which withheld
    # it (the destination serves only that purpose), and the alert's rule was not met.
    def withheld():
        log = api.call("GET", f"/v1/destinations/{destination['id']}/deliveries", expect=200).json()["data"]
        return [d for d in log if d["event_type"] == "automation.triggered" and d["subject_id"] == sid and d["status"] == "withheld"]
    assert wait_for(withheld, what="the withheld webhook")[0]["reason"] == "consent_missing"
    assert wait_for(lambda: runs(api, alert["id"], sid), what="the alert's first run")[0]["reason"] == "rule_not_met"

    # Consent: the welcome e-mail says what the person declared.
    grant(api, sid)
    welcomed = wait_for(lambda: sink.parsed_for(address), what="the welcome e-mail")
    assert welcomed[0]["Subject"] == "Welcome, Running fan"
    assert welcomed[0]["List-Unsubscribe"].startswith("<") and "/unsubscribe/" in welcomed[0]["List-Unsubscribe"]
    assert "We will only write about Running." in welcomed[0].get_body(preferencelist=("plain",)).get_content()
    assert wait_for(lambda: runs(api, welcome["id"], sid) and runs(api, welcome["id"], sid)[0]["actions"][0]["outcome"] == "sent", what="welcome sent")

    # Now the alert goes, by e-mail (the channel the person declared), and the webhook carries interests only.
    declare(api, sid, {"interests": ["running", "hiking"]})
    alerted = wait_for(lambda: [m for m in sink.parsed_for(address) if m["Subject"] == "New for runners"], what="the alert e-mail")
    assert "Fresh picks about Running, Hiking." in alerted[0].get_body(preferencelist=("plain",)).get_content()
    first = wait_for(lambda: [r for r in runs(api, alert["id"], sid) if r["actions"] and r["actions"][0]["outcome"] == "sent"], what="alert sent")
    assert first[0]["actions"][0]["channel"] == "email"
    # The webhook: signed the Standard Webhooks way, carrying only what the destination may see.
    hooks = wait_for(lambda: [r for r in receiver.accepted({sid}) if r["event"]["type"] == "automation.triggered"], what="the webhook")
    payload = verify(destination["secret"], hooks[0])
    assert payload["data"]["automation_id"] == crm["id"] and payload["data"]["trigger"]["type"] == "declaration.recorded"
    assert payload["caused_by"] == [crm["id"]]
    assert payload["data"]["values"] == [{"field": "interests", "value": ["running", "hiking"]}], "shoe size and channels are not this destination's"

    # A second alert within the week is held and recorded as deferred: not sent, not silently dropped.
    declare(api, sid, {"interests": ["running", "yoga"]})
    held = wait_for(lambda: [r for r in runs(api, alert["id"], sid) if r["actions"] and r["actions"][0]["outcome"] == "deferred"], what="the deferred alert")
    assert held[0]["actions"][0]["reason"] == "frequency:weekly" and held[0]["actions"][0]["not_before"]
    wait_for(lambda: len([r for r in receiver.accepted({sid}) if r["event"]["type"] == "automation.triggered"]) == 2, what="the next webhook")
    time.sleep(1)
    assert sorted(m["Subject"] for m in sink.parsed_for(address)) == ["New for runners", "Welcome, Running fan"], "no second alert this week"

    # A person without consent for the alert's purpose is not alerted: the rule is not met.
    quiet = api.call("POST", "/v1/subjects", key="marketing", json_body={"email": f"quiet-{rid()}@example.com"}, expect=201).json()["id"]
    declare(api, quiet, {"interests": ["running"], "channels": ["email"]})
    skipped = wait_for(lambda: runs(api, alert["id"], quiet), what="the quiet person's run")
    assert skipped[0]["status"] == "skipped" and skipped[0]["reason"] == "rule_not_met"


def test_two_automations_that_would_trigger_each_other_stop(auto_env):
    api, _sink, _receiver = auto_env
    key = f"followups_{rid()}"
    api.call("POST", "/v1/fields", json_body={"key": key, "type": "single_choice", "options": ["yes", "no"], "purposes": ["offers"],
                                               "labels": {"en": "May we keep your details up to date for you?", "he": "האם נוכל לעדכן עבורכם?"}}, expect=201)
    permission = {"field": key, "value": "yes"}
    ping = create(api, {"name": f"Ping {rid()}", "trigger": {"event": "declaration.recorded", "fields": ["shoe_size"]},
                        "actions": [{"type": "set_field", "field": "birthday_month", "value": "may", "permission": permission}]})
    pong = create(api, {"name": f"Pong {rid()}", "trigger": {"event": "declaration.recorded", "fields": ["birthday_month"]},
                        "actions": [{"type": "set_field", "field": "shoe_size", "value": 41, "permission": permission}]})
    sid = api.call("POST", "/v1/subjects", key="marketing", json_body={"external_id": f"loop-{rid()}"}, expect=201).json()["id"]
    declare(api, sid, {key: "yes", "shoe_size": 40})

    ping_runs = wait_for(lambda: len(runs(api, ping["id"], sid)) == 2 and runs(api, ping["id"], sid), what="ping's two runs")
    stopped = [r for r in ping_runs if r["status"] == "skipped"]
    assert len(stopped) == 1 and stopped[0]["reason"] == "loop" and stopped[0]["caused_by"] == [ping["id"], pong["id"]]
    assert [r["status"] for r in runs(api, pong["id"], sid)] == ["completed"]
    time.sleep(1)
    assert len(runs(api, ping["id"], sid)) == 2 and len(runs(api, pong["id"], sid)) == 1, "the loop stayed stopped"

    # What the automations wrote is visible as made on the person's behalf (read for offers, once allowed).
    grant(api, sid, "offers")
    profile = api.call("GET", f"/v1/subjects/{sid}", key="marketing", purpose="offers", expect=200).json()["profile"]["values"]
    assert profile["birthday_month"]["value"] == "may" and profile["birthday_month"]["source"] == "automation"
    assert profile["birthday_month"]["collection_point"] == f"automation:{ping['id']}"
    assert profile["shoe_size"]["value"] == 41 and profile["shoe_size"]["collection_point"] == f"automation:{pong['id']}"

    # Without the permission declared, nothing is set on the person's behalf.
    other = api.call("POST", "/v1/subjects", key="marketing", json_body={"external_id": f"noloop-{rid()}"}, expect=201).json()["id"]
    declare(api, other, {key: "no", "shoe_size": 39})
    refused = wait_for(lambda: runs(api, ping["id"], other), what="the refused run")
    assert refused[0]["actions"][0]["outcome"] == "not_allowed"
    for automation in (ping, pong):
        api.call("POST", f"/v1/automations/{automation['id']}/disable", expect=200)


def test_every_automation_route_and_its_bad_input(api):
    body = {"name": f"Support alert {rid()}", "trigger": {"event": "gpc.received"},
            "actions": [{"type": "alert", "purpose": "support", "content": {"en": {"subject": "We heard you", "text": "Noted."}}}]}
    created = api.call("POST", "/v1/automations", json_body=body, headers={"Idempotency-Key": f"auto-{rid()}"}, expect=201).json()
    aid = created["id"]
    assert created["enabled"] is True and created["trigger"] == {"event": "gpc.received"}
    assert api.call("GET", f"/v1/automations/{aid}", expect=200).json()["name"] == body["name"]
    listed = api.call("GET", "/v1/automations", params={"limit": 500}, expect=200).json()["data"]
    assert aid in [a["id"] for a in listed]
    renamed = api.call("PUT", f"/v1/automations/{aid}", json_body={**body, "name": "Renamed"}, expect=200).json()
    assert renamed["name"] == "Renamed"
    assert api.call("POST", f"/v1/automations/{aid}/disable", expect=200).json()["enabled"] is False
    assert api.call("POST", f"/v1/automations/{aid}/enable", expect=200).json()["enabled"] is True
    assert api.call("GET", f"/v1/automations/{aid}/runs", expect=200).json()["data"] == []

    # Bad input: each problem names its field, and nothing is written.
    count = len(api.call("GET", "/v1/automations", params={"limit": 500}, expect=200).json()["data"])
    email = {"type": "send_email", "purpose": "newsletter", "content": {"en": {"subject": "Hi", "text": "Hello"}}}
    api.problem(api.call("POST", "/v1/automations", json_body={**body, "trigger": {"event": "order.placed"}}), 422, "validation-failed", "trigger.event")
    bad_rule = api.problem(api.call("POST", "/v1/automations", json_body={**body, "rule": 'interests has "running" and'}), 422, "validation-failed", "rule")
    assert "line 1, column 28" in bad_rule["detail"]
    api.problem(api.call("POST", "/v1/automations", json_body={**body, "actions": [{"type": "call_destination", "destination_id": "dst_nope"}]}),
                422, "validation-failed", "actions[0].destination_id")
    api.problem(api.call("POST", "/v1/automations", json_body={**body, "actions": [{"type": "issue_incentive", "pool_id": "ipl_nope"}]}),
                422, "validation-failed", "actions[0].pool_id")
    api.problem(api.call("POST", "/v1/automations", json_body={**body, "actions": [{"type": "set_field", "field": "colour", "value": "red",
                                                                                   "permission": {"field": "channels", "value": ["email"]}}]}),
                422, "validation-failed", "actions[0].field")
    api.problem(api.call("POST", "/v1/automations", json_body={**body, "actions": [{"type": "set_field", "field": "content_frequency", "value": "weekly"}]}),
                422, "validation-failed", "actions[0].permission")
    api.problem(api.call("POST", "/v1/automations", json_body={**body, "actions": [{**email, "content": {"en": {"subject": "Hi", "text": "{{#x}}open"}}}]}),
                422, "validation-failed", "actions[0].content.en.text")
    api.problem(api.call("POST", "/v1/automations", json_body={"name": "x"}), 422, "validation-failed", "trigger")
    api.problem(api.call("POST", "/v1/automations", key="marketing", json_body=body), 403, "forbidden")
    api.problem(api.call("GET", "/v1/automations", key="sales"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/automations/aut_nope"), 404, "not-found")
    api.problem(api.call("PUT", "/v1/automations/aut_nope", json_body=body), 404, "not-found")
    api.problem(api.call("POST", "/v1/automations/aut_nope/enable"), 404, "not-found")
    api.problem(api.call("POST", "/v1/automations/aut_nope/disable"), 404, "not-found")
    api.problem(api.call("GET", "/v1/automations/aut_nope/runs"), 404, "not-found")
    api.problem(api.call("GET", f"/v1/automations/{aid}/runs", params={"limit": 0}), 400, "malformed-request", "limit")
    assert len(api.call("GET", "/v1/automations", params={"limit": 500}, expect=200).json()["data"]) == count

    assert api.call("DELETE", f"/v1/automations/{aid}", expect=200).json()["id"] == aid
    api.problem(api.call("DELETE", f"/v1/automations/{aid}"), 404, "not-found")
