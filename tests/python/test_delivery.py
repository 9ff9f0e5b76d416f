"""Issue 6, items 1–2 over HTTP against the real binary: webhook destinations, purpose-limited payloads,
Standard Webhooks signatures checked by the `standardwebhooks` library (a peer nobody here wrote),
retries in order per person, timeouts, 410, dead letters and replay, secret rotation, opt-out of sale,
and a worker killed mid-batch. Receivers are http.server instances in threads on loopback, which the
test servers allow with `--delivery-allow-private-networks 127.0.0.1/32` (conftest.py)."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml
from standardwebhooks.webhooks import Webhook

from conftest import POSTGRES_URL, Api, build_openapi, create_database, drop_database, start_server, stop_server

EVENTS = ["subject.*", "declaration.recorded", "consent.*"]
TOPICS = ["running", "yoga", "cycling", "hiking"]


# --------------------------------------------------------------------------- a receiver


class Receiver:
    """A webhook receiver on loopback. `behaviour(count)` returns (status, headers, delay seconds) for the
    count-th request (1-based); every request is kept with its headers and body."""

    def __init__(self, behaviour=None):
        self.behaviour = behaviour or (lambda count: (200, {}, 0))
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    count = len(receiver.requests) + 1
                    status, headers, delay = receiver.behaviour(count)
                    receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "status": status})
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/candor"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted(self, subjects: set[str] | None = None) -> list[dict]:
        """Requests answered 2xx (for the given people), in arrival order, each with its parsed body."""
        with self.lock:
            taken = [r for r in self.requests if 200 <= r["status"] < 300]
        out = []
        for request in taken:
            event = json.loads(request["body"])
            if subjects is None or event.get("subject_id") in subjects:
                out.append({**request, "event": event})
        return out


def verify(secret: str, request: dict) -> dict:
    """Checks a request's signature with the Standard Webhooks library; returns the payload."""
    return Webhook(secret).verify(request["body"], request["headers"])


# --------------------------------------------------------------------------- helpers


def rid() -> str:
    return secrets.token_hex(4)


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def notices(api) -> dict[str, int]:
    purposes = api.call("GET", "/v1/purposes", expect=200).json()["data"]
    return {p["key"]: p["current_notice_version"] for p in purposes if "current_notice_version" in p}


def new_person(api) -> str:
    return api.call("POST", "/v1/subjects", key="marketing", json_body={"external_id": f"delivery-{rid()}"}, expect=201).json()["id"]


def consent(api, sid: str, purpose: str, status: str = "granted"):
    entry = {"purpose": purpose, "status": status}
    if status == "granted":
        entry |= {"method": "checkbox", "notice_version": notices(api)[purpose]}
    api.call("POST", f"/v1/subjects/{sid}/consents", key="marketing", json_body={"consents": [entry]}, expect=201)


FIELD_PURPOSES = {"interests": ["newsletter", "offers", "research"], "shoe_size": ["offers", "support"],
                  "channels": ["newsletter", "offers", "support"], "content_frequency": ["newsletter"]}


def declare(api, sid: str, values: dict):
    versions = notices(api)
    cited = {p: versions[p] for field in values for p in FIELD_PURPOSES[field]}
    body = {"values": [{"field": k, "value": v} for k, v in values.items()], "notices": cited, "source": "api"}
    api.call("POST", f"/v1/subjects/{sid}/declarations", key="marketing", json_body=body, expect=201)


def create_destination(api, url: str, **settings) -> dict:
    body = {"url": url, "purposes": ["newsletter"], "event_types": EVENTS} | settings
    destination = api.call("POST", "/v1/destinations", json_body=body, expect=201).json()
    assert destination["secret"].startswith("whsec_")
    return destination


def deliveries(api, destination_id: str, **params) -> list[dict]:
    out, cursor = [], None
    while True:
        query = {"limit": 500} | params | ({"cursor": cursor} if cursor else {})
        page = api.call("GET", f"/v1/destinations/{destination_id}/deliveries", params=query, expect=200).json()
        out += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def wait_for(condition, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def settled(api, destination_id: str, subjects: set[str], expected: int):
    """Waits until `expected` deliveries for these people are no longer pending; returns them oldest first."""
    def check():
        mine = [d for d in deliveries(api, destination_id) if d.get("subject_id") in subjects]
        return list(reversed(mine)) if len(mine) >= expected and all(d["status"] != "pending" for d in mine) else None
    return wait_for(check, message=f"{expected} deliveries to settle")


@pytest.fixture
def receivers():
    """Receivers and destinations made by a test, cleaned up whatever happens (the audit report test of
    test_rights_api.py expects no deliveries in its own window)."""
    made: list = []
    yield made
    for api, item in made:
        if isinstance(item, Receiver):
            item.close()
        else:
            api.call("DELETE", f"/v1/destinations/{item}")


# --------------------------------------------------------------------------- administration


def test_destination_administration_and_bad_input(api, receivers):
    receiver = Receiver()
    receivers.append((api, receiver))
    created = create_destination(api, receiver.url, description="CRM", fields=["interests"], shares_data=True)
    receivers.append((api, created["id"]))
    assert created["id"].startswith("dst_") and created["secret_hint"] == created["secret"][-4:]
    assert created["purposes"] == ["newsletter"] and created["fields"] == ["interests"] and created["shares_data"] is True

    shown = api.call("GET", f"/v1/destinations/{created['id']}", expect=200).json()
    assert "secret" not in shown and shown["secret_hint"] == created["secret_hint"]
    listed = api.call("GET", "/v1/destinations", key="admin", expect=200).json()["data"]
    assert created["id"] in {d["id"] for d in listed} and all("secret" not in d for d in listed)

    replaced = api.call("PUT", f"/v1/destinations/{created['id']}", json_body={
        "url": receiver.url, "purposes": ["newsletter", "offers"], "fields": ["interests", "shoe_size"], "enabled": False}, expect=200).json()
    assert replaced["enabled"] is False and replaced["purposes"] == ["newsletter", "offers"] and replaced["shares_data"] is False

    # An idempotent retry of a creation replays the answer without the secret, and makes nothing new.
    key = {"Idempotency-Key": "dst-" + rid()}
    body = {"url": receiver.url, "purposes": ["offers"]}
    first = api.call("POST", "/v1/destinations", json_body=body, headers=key, expect=201).json()
    receivers.append((api, first["id"]))
    again = api.call("POST", "/v1/destinations", json_body=body, headers=key, expect=201)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first["id"] and "secret" not in again.json()

    before = {d["id"] for d in api.call("GET", "/v1/destinations", expect=200).json()["data"]}
    # Private, loopback, link-local (cloud metadata), unique-local and IPv4-mapped addresses are refused, naming `url`.
    for url in ["https://10.1.2.3/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://192.168.0.7/",
                "https://[fd00::1]/", "https://[::ffff:127.0.0.1]/", "https://100.64.0.1/", "https://127.0.0.2/hook",
                "ftp://example.com/", "https://user:pw@example.com/", "not a url"]:
        api.problem(api.call("POST", "/v1/destinations", json_body={"url": url, "purposes": ["newsletter"]}), 422, "validation-failed", "url")
    body = api.problem(api.call("POST", "/v1/destinations", json_body={
        "url": receiver.url, "purposes": ["newsletter", "nope"], "fields": ["shoe_size", "no_such_field"], "event_types": ["declaration.recorded", "bogus.type"],
        "max_attempts": 0, "timeout_ms": 5}), 422, "validation-failed")
    assert {e["field"] for e in body["errors"]} == {"purposes[1]", "fields[0]", "fields[1]", "event_types[1]", "max_attempts", "timeout_ms"}
    api.problem(api.call("POST", "/v1/destinations", json_body={"url": receiver.url}), 422, "validation-failed", "purposes")
    api.problem(api.call("POST", "/v1/destinations", data="{", headers={"Content-Type": "application/json"}), 400, "malformed-request", "body")
    api.problem(api.call("POST", "/v1/destinations", key="marketing", json_body={"url": receiver.url, "purposes": ["newsletter"]}), 403, "forbidden")
    api.problem(api.call("GET", "/v1/destinations", key="marketing"), 403, "forbidden")
    api.problem(api.call("GET", "/v1/destinations", key=None), 401, "unauthorized")
    api.problem(api.call("PUT", f"/v1/destinations/{created['id']}", json_body={"url": "https://10.0.0.1/", "purposes": ["newsletter"]}),
                422, "validation-failed", "url")
    api.problem(api.call("GET", "/v1/destinations/dst_missing"), 404, "not-found")
    api.problem(api.call("GET", f"/v1/destinations/{created['id']}/deliveries", params={"status": "lost"}), 400, "malformed-request", "status")
    api.problem(api.call("POST", f"/v1/destinations/{created['id']}/rotate-secret", json_body={"overlap_seconds": -1}), 422, "validation-failed", "overlap_seconds")
    api.problem(api.call("POST", f"/v1/destinations/{created['id']}/dead-letters/evt_missing/replay"), 404, "not-found")
    assert {d["id"] for d in api.call("GET", "/v1/destinations", expect=200).json()["data"]} == before, "refused input wrote nothing"
    # Still the settings of the last good write.
    assert api.call("GET", f"/v1/destinations/{created['id']}", expect=200).json()["purposes"] == ["newsletter", "offers"]

    deleted = api.call("DELETE", f"/v1/destinations/{created['id']}", expect=200).json()
    assert deleted["id"] == created["id"]
    api.problem(api.call("GET", f"/v1/destinations/{created['id']}"), 404, "not-found")
    receivers.remove((api, created["id"]))


# --------------------------------------------------------------------------- payloads


def test_signed_payloads_hold_only_consented_fields_of_served_purposes(api, receivers):
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    receiver = Receiver()
    receivers.append((api, receiver))
    destination = create_destination(api, receiver.url, fields=["interests", "content_frequency"], event_types=["declaration.recorded", "consent.*"])
    receivers.append((api, destination["id"]))
    sid = new_person(api)
    # Consent is checked when the event is delivered, so each step settles before the next.
    consent(api, sid, "newsletter")
    settled(api, destination["id"], {sid}, 1)
    declare(api, sid, {"interests": ["running"], "shoe_size": 44, "content_frequency": "weekly"})
    settled(api, destination["id"], {sid}, 2)
    declare(api, sid, {"shoe_size": 45})  # serves no purpose of the destination: withheld, nothing sent
    settled(api, destination["id"], {sid}, 3)
    consent(api, sid, "newsletter", "withdrawn")
    settled(api, destination["id"], {sid}, 4)
    declare(api, sid, {"interests": ["yoga"]})  # newsletter consent withdrawn: withheld with the reason
    log = settled(api, destination["id"], {sid}, 5)

    by_type = [(d["event_type"], d["status"]) for d in log]
    assert by_type == [("consent.granted", "delivered"), ("declaration.recorded", "delivered"), ("declaration.recorded", "withheld"),
                       ("consent.withdrawn", "delivered"), ("declaration.recorded", "withheld")], by_type
    assert log[1]["delivered_fields"] == ["content_frequency", "interests"]
    assert log[2]["reason"] == "no_fields_for_destination"
    assert log[4]["reason"] == "consent_withdrawn" and log[4]["withheld_fields"] == {"interests": "consent_withdrawn"}
    assert all(d["history"][-1]["outcome"] == d["status"] for d in log)

    received = receiver.accepted({sid})
    assert [r["headers"]["webhook-id"] for r in received] == [log[0]["event_id"], log[1]["event_id"], log[3]["event_id"]]
    for request in received:
        payload = verify(destination["secret"], request)
        assert payload["id"] == request["headers"]["webhook-id"]
    declaration = received[1]["event"]
    assert {v["field"]: v["value"] for v in declaration["data"]["values"]} == {"interests": ["running"], "content_frequency": "weekly"}
    everything = b"".join(r["body"] for r in receiver.requests)
    assert b"shoe_size" not in everything and b"yoga" not in everything

    # A wrong secret does not verify.
    with pytest.raises(Exception):
        Webhook("whsec_" + "A" * 43 + "=").verify(received[0]["body"], received[0]["headers"])

    # The review report says what went to which destination.
    report = api.call("GET", "/v1/audit/report", key="admin", params={"since": stamp(start)}, expect=200).json()
    sent = [r for r in report["deliveries"] if r["team"] == destination["id"]]
    assert sent and sent[0]["action"] == "delivery.sent" and sent[0]["count"] == 3 and sent[0]["subjects"] >= 1
    assert set(sent[0]["fields"]) == {"content_frequency", "interests"}


def test_people_who_opted_out_of_sale_never_reach_a_destination_that_shares_data(api, receivers):
    receiver = Receiver()
    receivers.append((api, receiver))
    sharing = create_destination(api, receiver.url, shares_data=True, event_types=["declaration.recorded", "consent.granted"])
    receivers.append((api, sharing["id"]))
    kept, opted = new_person(api), new_person(api)
    api.call("POST", f"/v1/subjects/{opted}/opt-out-of-sale", key="support", expect=200)
    for sid in (kept, opted):
        consent(api, sid, "newsletter")
        declare(api, sid, {"interests": ["hiking"]})
    log = settled(api, sharing["id"], {kept, opted}, 4)
    assert {(d["status"], d["reason"]) for d in log if d["subject_id"] == opted} == {("withheld", "opted_out_of_sale")}
    assert not receiver.accepted({opted})
    assert [r["event"]["type"] for r in receiver.accepted({kept})] == ["consent.granted", "declaration.recorded"]


# --------------------------------------------------------------------------- faults


def test_a_receiver_that_fails_for_a_while_gets_every_event_once_in_order(api, receivers):
    failures = 8
    receiver = Receiver(lambda count: (500, {}, 0) if count <= failures else (200, {}, 0))
    receivers.append((api, receiver))
    destination = create_destination(api, receiver.url, retry_base_ms=50, max_attempts=20, event_types=["declaration.recorded"])
    receivers.append((api, destination["id"]))
    people = [new_person(api) for _ in range(3)]
    for sid in people:
        consent(api, sid, "newsletter")
    for topic in TOPICS:
        for sid in people:
            declare(api, sid, {"interests": [topic]})
    log = settled(api, destination["id"], set(people), 3 * 4)
    assert {d["status"] for d in log} == {"delivered"}
    assert sum(d["attempts"] - 1 for d in log) == failures, "each 500 was retried once more"
    assert any(h["status_code"] == 500 and h["outcome"] == "failed" for d in log for h in d["history"])

    accepted = receiver.accepted(set(people))
    ids = [r["headers"]["webhook-id"] for r in accepted]
    assert len(ids) == len(set(ids)) == 12, "every event exactly once"
    for sid in people:
        mine = [r["event"] for r in accepted if r["event"]["subject_id"] == sid]
        assert [e["data"]["values"][0]["value"] for e in mine] == [[t] for t in TOPICS], "in order per person"


def test_retry_after_is_honoured(api, receivers):
    receiver = Receiver(lambda count: (503, {"Retry-After": "2"}, 0) if count == 1 else (200, {}, 0))
    receivers.append((api, receiver))
    destination = create_destination(api, receiver.url, retry_base_ms=10, event_types=["subject.created"], purposes=["support"])
    receivers.append((api, destination["id"]))
    sid = new_person(api)
    [entry] = settled(api, destination["id"], {sid}, 1)
    first, second = entry["history"]
    assert first["status_code"] == 503 and second["outcome"] == "delivered"
    gap = datetime.fromisoformat(second["at"].replace("Z", "+00:00")) - datetime.fromisoformat(first["at"].replace("Z", "+00:00"))
    assert gap >= timedelta(seconds=1.9), gap


def test_timeouts_are_retried_and_410_disables_the_destination(api, receivers):
    plan = {"mode": "slow"}

    def behaviour(count):
        return {"slow": (200, {}, 2.0), "gone": (410, {}, 0), "ok": (200, {}, 0)}[plan["mode"]]

    receiver = Receiver(behaviour)
    receivers.append((api, receiver))
    destination = create_destination(api, receiver.url, timeout_ms=300, retry_base_ms=200, max_attempts=50, event_types=["subject.created"], purposes=["support"])
    receivers.append((api, destination["id"]))
    sid = new_person(api)
    entry = wait_for(lambda: next((d for d in deliveries(api, destination["id"]) if d.get("subject_id") == sid and d["attempts"] >= 2), None),
                     message="a timed-out attempt")
    assert entry["status"] == "pending" and "timed out" in entry["history"][0]["error"] and "next_attempt_at" in entry

    plan["mode"] = "gone"
    disabled = wait_for(lambda: (d := api.call("GET", f"/v1/destinations/{destination['id']}", expect=200).json())["enabled"] is False and d,
                        message="the destination to be disabled")
    assert "410" in disabled["disabled_reason"]
    [entry] = [d for d in deliveries(api, destination["id"]) if d.get("subject_id") == sid]
    assert entry["status"] == "pending" and entry["history"][-1]["outcome"] == "gone" and entry["last_status_code"] == 410

    # Enabled again, the waiting event goes out.
    plan["mode"] = "ok"
    body = {"url": receiver.url, "purposes": ["support"], "event_types": ["subject.created"], "timeout_ms": 300, "enabled": True}
    enabled = api.call("PUT", f"/v1/destinations/{destination['id']}", json_body=body, expect=200).json()
    assert enabled["enabled"] is True and "disabled_reason" not in enabled
    [entry] = settled(api, destination["id"], {sid}, 1)
    assert entry["status"] == "delivered"


def test_dead_letters_and_replay(api, receivers):
    plan = {"status": 500}
    receiver = Receiver(lambda count: (plan["status"], {}, 0))
    receivers.append((api, receiver))
    destination = create_destination(api, receiver.url, retry_base_ms=20, max_attempts=3, event_types=["subject.created"], purposes=["support"])
    receivers.append((api, destination["id"]))
    sid = new_person(api)
    [dead] = settled(api, destination["id"], {sid}, 1)
    assert dead["status"] == "dead" and dead["attempts"] == 3 and [h["outcome"] for h in dead["history"]] == ["failed", "failed", "dead"]
    letters = api.call("GET", f"/v1/destinations/{destination['id']}/dead-letters", key="admin", expect=200).json()["data"]
    assert [d["event_id"] for d in letters if d.get("subject_id") == sid] == [dead["event_id"]]

    plan["status"] = 200
    replayed = api.call("POST", f"/v1/destinations/{destination['id']}/dead-letters/{dead['event_id']}/replay", expect=202).json()
    assert replayed["status"] == "pending" and replayed["attempts"] == 0
    [entry] = settled(api, destination["id"], {sid}, 1)
    assert entry["status"] == "delivered" and entry["event_id"] == dead["event_id"]
    assert receiver.accepted({sid})[0]["headers"]["webhook-id"] == dead["event_id"]
    # Not a dead letter any more.
    api.problem(api.call("POST", f"/v1/destinations/{destination['id']}/dead-letters/{dead['event_id']}/replay"), 409, "conflict")


def test_secret_rotation_signs_with_both_secrets_during_the_overlap(api, receivers):
    receiver = Receiver()
    receivers.append((api, receiver))
    destination = create_destination(api, receiver.url, event_types=["subject.created"], purposes=["support"])
    receivers.append((api, destination["id"]))
    old = destination["secret"]
    rotated = api.call("POST", f"/v1/destinations/{destination['id']}/rotate-secret", json_body={"overlap_seconds": 3600}, expect=200).json()
    new = rotated["secret"]
    assert new != old and rotated["secret_hint"] == new[-4:] and "previous_secret_expires_at" in rotated
    sid = new_person(api)
    settled(api, destination["id"], {sid}, 1)
    [request] = receiver.accepted({sid})
    signatures = request["headers"]["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    verify(new, request)
    verify(old, request)

    # Without an overlap only the new secret signs.
    latest = api.call("POST", f"/v1/destinations/{destination['id']}/rotate-secret", json_body={"overlap_seconds": 0}, expect=200).json()
    assert "previous_secret_expires_at" not in latest
    other = new_person(api)
    settled(api, destination["id"], {other}, 1)
    [request] = receiver.accepted({other})
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    verify(latest["secret"], request)
    with pytest.raises(Exception):
        verify(new, request)


# --------------------------------------------------------------------------- a killed worker


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(server, tmp_path):
    """SIGKILL while a batch is in flight, restart on the same data: every event arrives, and any event
    sent twice is the same event with the same id (receivers deduplicate by `webhook-id`)."""
    if server.backend == "postgres":
        pytest.skip("on PostgreSQL a killed node's claims come free when their lease ends (70 s); the claim contract test covers several nodes")
    data_dir = tmp_path / "killed"
    data_dir.mkdir()
    node = start_server("sqlite", data_dir, None)
    document = yaml.safe_load(requests.get(node.base_url + "/openapi.yaml", timeout=30).text)
    api = Api(node, build_openapi(document), document)
    receiver = Receiver(lambda count: (200, {}, 0.15))
    try:
        destination = create_destination(api, receiver.url, event_types=["subject.created", "declaration.recorded"], purposes=["support"])
        people = [new_person(api) for _ in range(30)]
        wait_for(lambda: len(receiver.requests) >= 8, message="the first deliveries")
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)
        in_flight = len(receiver.requests)
        node = start_server("sqlite", data_dir, None)
        api = Api(node, build_openapi(document), document)
        log = settled(api, destination["id"], set(people), 30)
        assert {d["status"] for d in log} == {"delivered"}
        ids = [r["headers"]["webhook-id"] for r in receiver.accepted(set(people))]
        assert set(ids) == {d["event_id"] for d in log}, "nothing lost"
        duplicates = len(ids) - len(set(ids))
        assert duplicates <= 32, "only deliveries in flight at the kill can be sent again"
        for request in receiver.accepted(set(people)):
            verify(destination["secret"], request)
        assert in_flight < len(ids) + 1
    finally:
        receiver.close()
        stop_server(node)
