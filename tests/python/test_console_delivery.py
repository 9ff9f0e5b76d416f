"""The console's delivery and governance pages (issue 7) against a real `candor demo`, on every backend.

A browser walk (headless Chromium through Selenium) signs in as the demo IT operator in English and
Hebrew: it sees the destinations, replays a dead letter of a receiver that failed (arranged through the
API: a loopback receiver answering 500, one attempt allowed) and watches it arrive once the receiver
works, is refused an internal address inline, creates an automation, opens the internal audit report and
the record of processing and downloads both, and reads the audit log oldest first. Every page is checked
with axe-core (no serious or critical violation), for its language and direction and for anything its
Content-Security-Policy blocked, and a screenshot is saved outside git (CANDOR_SCREENSHOTS).
"""

from __future__ import annotations

import json

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from test_console import check_page, operator, page_csrf, signed_in, submit
from test_delivery import Receiver, create_destination, deliveries, new_person, rid, verify, wait_for
from test_pages import SCREENSHOTS, browser, serious_violations  # noqa: F401 - the browser fixture is shared

PAGES = ["/console/destinations", "/console/destinations/new", "/console/automations", "/console/automations/new",
         "/console/audit-report", "/console/audit-report/download", "/console/records", "/console/records/download?format=json"]


def sign_in(server, browser, language: str) -> None:
    browser.delete_all_cookies()
    browser.set_window_size(1024, 900)
    account = operator(server, "it")
    browser.get(f"{server.base_url}/console/login?lang={language}")
    browser.find_element(By.ID, "email").send_keys(account["email"])
    browser.find_element(By.ID, "password").send_keys(account["password"])
    submit(browser, "form[action^='/console/login']")


def download(server, browser, path: str) -> requests.Response:
    """Fetches a download link with the browser's session (Selenium cannot read downloaded files)."""
    session = requests.Session()
    for cookie in browser.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"], path=cookie.get("path", "/"))
    return session.get(server.base_url + path, timeout=30)


@pytest.fixture
def failing_destination(api):
    """A destination on a loopback receiver that answers 500, allowed one attempt, with one dead letter.
    Removed afterwards, so other tests' windows see no deliveries of it."""
    receiver = Receiver(lambda count: (500, {}, 0))
    destination = create_destination(api, receiver.url, max_attempts=1, retry_base_ms=10, event_types=["subject.created"],
                                     purposes=["support"], description=f"console {rid()}")
    try:
        person = new_person(api)

        def dead():
            return [d for d in deliveries(api, destination["id"], status="dead") if d.get("subject_id") == person]
        [letter] = wait_for(dead, message="a dead letter")
        yield receiver, destination, letter
    finally:
        api.call("DELETE", f"/v1/destinations/{destination['id']}")
        receiver.close()


@pytest.mark.parametrize("language, direction, words", [
    ("en", "ltr", {"destinations": "Destinations", "replayed": "The dead letter is queued again", "private": "internal or private network",
                   "created": "The automation was created.", "report": "Internal audit report", "records": "Record of processing"}),
    ("he", "rtl", {"destinations": "יעדים", "replayed": "ההודעה המתה הוכנסה שוב לתור", "private": "ברשת פנימית או פרטית",
                   "created": "האוטומציה נוצרה.", "report": "דוח ביקורת פנימית", "records": "רישום פעולות העיבוד"}),
])
def test_an_operator_replays_a_dead_letter_and_sets_up_delivery(server, api, browser, failing_destination, language, direction, words):
    receiver, destination, letter = failing_destination
    sign_in(server, browser, language)

    # The destinations list shows the failing receiver with its dead letter counted
    browser.find_element(By.CSS_SELECTOR, "a.nav-destinations").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == words["destinations"]
    row = browser.find_element(By.XPATH, f"//table[@id='destinations']//a[@href='/console/destinations/{destination['id']}']/ancestor::tr")
    assert "127.0.0.1" in row.text and int(row.find_elements(By.TAG_NAME, "td")[-1].text.replace(",", "")) >= 1
    check_page(browser, language, direction, "destinations")

    # Its page lists the dead letter with a replay button; the receiver is fixed and the letter replayed
    row.find_element(By.CSS_SELECTOR, "a").click()
    assert browser.find_element(By.ID, "dead-letters")
    check_page(browser, language, direction, "destination")
    receiver.behaviour = lambda count: (200, {}, 0)
    submit(browser, f"form[action='/console/destinations/{destination['id']}/dead-letters/{letter['event_id']}/replay']")
    assert words["replayed"] in browser.find_element(By.ID, "done").text

    # And the event arrives, once, with the id it had (so the receiver can tell a duplicate)
    def delivered():
        return [d for d in deliveries(api, destination["id"]) if d["event_id"] == letter["event_id"] and d["status"] == "delivered"]
    wait_for(delivered, message="the replayed event to be delivered")
    assert [r["headers"]["webhook-id"] for r in receiver.accepted()].count(letter["event_id"]) == 1
    browser.refresh()
    assert browser.find_element(By.ID, "count-dead").text == "0"

    # A new destination at an internal address is refused next to the URL, and nothing is saved
    browser.get(f"{server.base_url}/console/destinations/new")
    check_page(browser, language, direction, "destination-new")
    browser.find_element(By.ID, "url").send_keys("https://10.0.0.8/hooks")
    browser.find_element(By.ID, "purpose-support").click()
    submit(browser, "form.dl-form")
    error = browser.find_element(By.ID, "url-error")
    assert words["private"] in error.text
    assert browser.find_element(By.ID, "url").get_attribute("aria-invalid") == "true"
    assert "url-error" in browser.find_element(By.ID, "url").get_attribute("aria-describedby")
    check_page(browser, language, direction, "destination-refused")
    listed = api.call("GET", "/v1/destinations", params={"limit": 100}, expect=200).json()["data"]
    assert not any(d["url"] == "https://10.0.0.8/hooks" for d in listed)

    # A destination for a working receiver is created through the form: its secret is shown once, and
    # it is the secret the deliveries are signed with (checked by the Standard Webhooks library)
    working = Receiver()
    browser.get(f"{server.base_url}/console/destinations/new")
    browser.find_element(By.ID, "url").send_keys(working.url)
    browser.find_element(By.ID, "description").send_keys(f"console form {rid()}")
    browser.find_element(By.ID, "purpose-support").click()
    browser.find_element(By.ID, "event-all").click()
    browser.find_element(By.ID, "event-subject.created").click()
    submit(browser, "form.dl-form")
    secret = browser.find_element(By.ID, "secret").get_attribute("value")
    assert secret.startswith("whsec_")
    check_page(browser, language, direction, "destination-secret")
    browser.find_element(By.CSS_SELECTOR, "a.button.primary[href^='/console/destinations/dst_']").click()
    created_id = browser.current_url.split("/console/destinations/")[1].split("?")[0].split("#")[0]
    try:
        assert secret not in browser.page_source, "shown once only"
        person = new_person(api)
        [arrived] = wait_for(lambda: [r for r in working.accepted() if json.loads(r["body"]).get("subject_id") == person], message="a delivery")
        assert verify(secret, arrived)["type"] == "subject.created"
        browser.get(f"{server.base_url}/console/destinations/{created_id}/edit")
        assert browser.find_element(By.ID, "url").get_attribute("value") == working.url
        check_page(browser, language, direction, "destination-edit")
    finally:
        api.call("DELETE", f"/v1/destinations/{created_id}")
        working.close()

    # An automation is created through the form (switched off, so it changes nothing for other tests)
    browser.get(f"{server.base_url}/console/automations")
    check_page(browser, language, direction, "automations")
    browser.find_element(By.ID, "new-automation").click()
    name = f"Thank new subscribers {rid()}"
    browser.find_element(By.ID, "name").send_keys(name)
    Select(browser.find_element(By.ID, "event")).select_by_value("consent.granted")
    # The script shows only the chosen event's filter and the chosen action's inputs
    browser.find_element(By.CSS_SELECTOR, "#when-heading ~ details summary").click()
    assert browser.find_element(By.CSS_SELECTOR, "fieldset[data-event='consent.granted consent.withdrawn']").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "fieldset[data-event='rights.completed']").is_displayed() is False
    Select(browser.find_element(By.ID, "a0_type")).select_by_value("send_email")
    assert browser.find_element(By.ID, "a0_pool_id").is_displayed() is False
    Select(browser.find_element(By.ID, "a0_purpose")).select_by_value("newsletter")
    browser.find_element(By.ID, "a0_subject_en").send_keys("Welcome")
    browser.find_element(By.ID, "a0_text_en").send_keys("Thank you for subscribing.")
    check_page(browser, language, direction, "automation-new")
    submit(browser, "#automation-form")
    assert words["created"] in browser.find_element(By.ID, "done").text
    automation_id = browser.current_url.split("/console/automations/")[1].split("?")[0]
    try:
        stored = api.call("GET", f"/v1/automations/{automation_id}", expect=200).json()
        assert stored["name"] == name and stored["enabled"] is False and stored["trigger"]["event"] == "consent.granted"
        assert stored["actions"][0]["content"]["en"]["subject"] == "Welcome"
        check_page(browser, language, direction, "automation")
    finally:
        api.call("DELETE", f"/v1/automations/{automation_id}", expect=200)

    # The internal audit report is a page of sections, and downloads as JSON
    browser.find_element(By.CSS_SELECTOR, "a.nav-report").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == words["report"]
    assert browser.find_element(By.ID, "reads-heading") and browser.find_element(By.ID, "failures-heading")
    check_page(browser, language, direction, "audit-report")
    href = browser.find_element(By.ID, "download-json").get_attribute("href").replace(server.base_url, "")
    report = download(server, browser, href)
    assert report.status_code == 200 and report.headers["Content-Disposition"].startswith("attachment;")
    assert {"reads", "deliveries", "unused_keys", "failed_authentications"} <= set(report.json())

    # The record of processing lists every purpose with its recipients, and downloads as JSON and HTML
    browser.find_element(By.CSS_SELECTOR, "a.nav-records").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == words["records"]
    support = browser.find_element(By.ID, "purpose-support")
    assert "127.0.0.1" in support.text, "the failing destination serves support"
    check_page(browser, language, direction, "records")
    record = download(server, browser, "/console/records/download?format=json")
    assert record.status_code == 200 and record.headers["Content-Disposition"] == 'attachment; filename="record-of-processing.json"'
    activity = next(a for a in record.json()["activities"] if a["purpose"] == "support")
    assert {"kind": "destination", "key": destination["id"], "name": "127.0.0.1"} in activity["recipients"]
    printable = download(server, browser, browser.find_element(By.ID, "download-html").get_attribute("href").replace(server.base_url, ""))
    assert printable.status_code == 200 and printable.headers["Content-Type"].startswith("text/html")
    assert f'dir="{direction}"' in printable.text

    # The audit log reads oldest first on request
    browser.get(f"{server.base_url}/console/audit?order=oldest&team=it")
    assert browser.find_element(By.CSS_SELECTOR, "#audit-order a[aria-current=page]").get_attribute("href").endswith("order=oldest&team=it")
    times = [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    assert times == sorted(times)
    check_page(browser, language, direction, "audit-oldest")


def test_delivery_pages_refuse_a_team_without_admin_or_audit_and_forms_without_a_token(server, api):
    marketing = signed_in(server, "marketing")
    for path in PAGES:
        answer = marketing.get(server.base_url + path, timeout=30, allow_redirects=False)
        assert answer.status_code == 403, path
        assert "Marketing" in answer.text
    csrf = page_csrf(marketing, server.base_url + "/console/people")
    refused = marketing.post(server.base_url + "/console/destinations", timeout=30, allow_redirects=False,
                             data={"csrf": csrf, "url": "https://8.8.8.8/h", "purposes": "newsletter", "event_types": "*"})
    assert refused.status_code == 403
    it = signed_in(server, "it")
    forged = it.post(server.base_url + "/console/automations", timeout=30, allow_redirects=False,
                     data={"csrf": "forged", "name": "x", "event": "gpc.received", "a0_type": "issue_incentive", "a0_pool_id": "p"})
    assert forged.status_code == 403
    listed = api.call("GET", "/v1/destinations", params={"limit": 100}, expect=200).json()["data"]
    assert not any(d["url"] == "https://8.8.8.8/h" for d in listed)
    assert not any(a["name"] == "x" for a in api.call("GET", "/v1/automations", params={"limit": 100}, expect=200).json()["data"])
