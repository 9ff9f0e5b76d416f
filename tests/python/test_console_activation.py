"""The console's activation pages (issue 7) against a real `candor demo`, on every backend.

A browser walk (headless Chromium through Selenium), in English and Hebrew: the demo IT operator opens
a new segment, TYPES rules and watches the live count change (the numbers must be the API's), types a
syntax error and sees its line and column with a caret under the character, saves the segment, and
creates an offer for it (after an inline error). Then the demo marketing operator creates a campaign
(after an invalid template is shown next to its field), previews it for one demo person (their address
and the block chosen by what they declared appear), tries a test send (the shared demo has no SMTP
server, so the page says so), and schedules it. Every page is checked with axe-core, for its language
and direction and for anything its Content-Security-Policy blocked, and a screenshot is saved.

Over plain HTTP: the live-check endpoint's answers, its CSRF check and its role check.
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from test_console import check_page, operator, page_csrf, signed_in, submit
from test_pages import browser, serious_violations  # noqa: F401 - the browser fixture is shared


def api_count(server, rule: str) -> int:
    answer = requests.post(server.base_url + "/v1/segments/count", timeout=30, headers={"Authorization": "Bearer " + server.keys["admin"]},
                           json={"rule": rule})
    assert answer.status_code == 200, answer.text
    return answer.json()["count"]


def sign_in(server, browser, team: str, language: str) -> None:
    browser.delete_all_cookies()
    account = operator(server, team)
    browser.get(f"{server.base_url}/console/login?lang={language}")
    browser.find_element(By.ID, "email").send_keys(account["email"])
    browser.find_element(By.ID, "password").send_keys(account["password"])
    submit(browser, "form[action^='/console/login']")


def type_rule(browser, rule: str) -> None:
    box = browser.find_element(By.ID, "rule")
    box.clear()
    box.send_keys(rule)


def wait_status(browser, kind: str, contains: str) -> str:
    """Waits for the live status line to show a result of `kind` (act-ok / act-bad) containing `contains`."""
    def ready(driver):
        status = driver.find_element(By.ID, "rule-status")
        return status.text if kind in status.get_attribute("class") and contains in status.text else False
    return WebDriverWait(browser, 20).until(ready)


def shown_count(text: str) -> int:
    return int(re.search(r"[\d,]+", text).group(0).replace(",", ""))


def runner_with_newsletter(server) -> dict:
    """A demo person in the "Shop: runners" segment who consented to the newsletter, with their ids."""
    admin = {"Authorization": "Bearer " + server.keys["admin"]}
    segments = requests.get(server.base_url + "/v1/segments", headers=admin, timeout=30).json()["data"]
    runners = next(s for s in segments if s["name"] == "Shop: runners")
    marketing = {"Authorization": "Bearer " + server.keys["marketing"], "Candor-Purpose": "newsletter"}
    members = requests.get(f"{server.base_url}/v1/segments/{runners['id']}/members?limit=20", headers=marketing, timeout=30).json()["data"]
    assert members, "the demo has runners who consented to the newsletter"
    subject = requests.get(f"{server.base_url}/v1/subjects/{members[0]['subject_id']}", headers=marketing, timeout=30).json()
    external_id = subject["subject"]["external_id"]
    number = external_id.removeprefix("cus_")
    return {"segment": runners["id"], "subject_id": members[0]["subject_id"], "external_id": external_id,
            "email": f"person{number}@example.com"}


WORDS = {
    "en": {"line": "Line 1, column 28", "saved": "Segment saved.", "offer": "Offer created.", "offer_saved": "Offer saved", "no_smtp": "No mail server is configured",
           "scheduled": "Campaign scheduled.", "scheduled_status": "Scheduled", "invalid": "is not a valid Mustache template: line 1, column 28",
           "need_purpose": "choose the purpose it uses data for"},
    "he": {"line": "שורה 1, עמודה 28", "saved": "הפלח נשמר.", "offer": "ההצעה נוצרה.", "offer_saved": "ההצעה נשמרה", "no_smtp": "לא הוגדר שרת דואר",
           "scheduled": "הקמפיין תוזמן.", "scheduled_status": "מתוזמן", "invalid": "אינה תבנית Mustache תקינה: שורה 1, עמודה 28",
           "need_purpose": "בחרו את המטרה שלשמה היא משתמשת במידע"},
}


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("he", "rtl")])
def test_an_operator_builds_a_segment_an_offer_and_a_campaign(server, browser, language, direction):
    words = WORDS[language]
    tag = secrets.token_hex(3)
    browser.set_window_size(1024, 900)
    sign_in(server, browser, "it", language)

    # The segment list shows the demo's saved segments with live counts
    browser.get(f"{server.base_url}/console/segments")
    assert browser.find_element(By.ID, "segments").text
    check_page(browser, language, direction, "segments")

    # When the IT operator opens a new segment and types a rule
    browser.find_element(By.CSS_SELECTOR, "a[href='/console/segments/new']").click()
    check_page(browser, language, direction, "segment-new")
    first_rule, second_rule = 'interests has "running"', "set(interests)"
    type_rule(browser, first_rule)
    # Then the live count appears as they type, and it is the API's number
    first = shown_count(wait_status(browser, "act-ok", ""))
    assert first == api_count(server, first_rule)
    # And changing the rule changes the number shown
    type_rule(browser, second_rule)
    expected = api_count(server, second_rule)
    assert expected != first
    second = shown_count(wait_status(browser, "act-ok", f"{expected:,}"))
    assert second == expected

    # When they type a syntax error, the status names the line and column and a caret marks the place
    type_rule(browser, 'interests has "running" and')
    text = wait_status(browser, "act-bad", words["line"])
    assert "expected" in text
    marker = browser.find_element(By.ID, "rule-marker")
    assert marker.is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#rule-marker .act-caret").get_attribute("textContent") == " " * 27 + "^"
    assert browser.find_element(By.ID, "rule").get_attribute("aria-invalid") == "true"
    check_page(browser, language, direction, "segment-error")

    # When they fix it and save it under a new name
    type_rule(browser, 'interests has "running" and consent("offers")')
    wait_status(browser, "act-ok", "")
    name = f"Runners who want offers {tag}"
    browser.find_element(By.ID, "segment-name").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "button[value=save]").click()
    WebDriverWait(browser, 20).until(lambda d: "/console/segments/seg_" in d.current_url)
    assert browser.find_element(By.ID, "done").text == words["saved"]
    segment_id = browser.current_url.split("/console/segments/")[1].split("?")[0]
    assert shown_count(browser.find_element(By.ID, "segment-count").text) == api_count(server, 'interests has "running" and consent("offers")')
    check_page(browser, language, direction, "segment")

    # When they create an offer for it, first forgetting the purpose a personalized offer needs
    browser.get(f"{server.base_url}/console/offers")
    check_page(browser, language, direction, "offers")
    browser.find_element(By.CSS_SELECTOR, "a[href='/console/offers/new']").click()
    browser.find_element(By.ID, "f-name").send_keys(f"Trail week {tag}")
    title = f"Trail week {tag}: 20% off"
    browser.find_element(By.ID, "f-content-en-title").send_keys(title)
    browser.find_element(By.ID, "f-content-he-title").send_keys(f"שבוע שטח {tag}")
    Select(browser.find_element(By.ID, "f-segment-id")).select_by_value(segment_id)
    submit(browser, "form.act-form")
    # Then the error is next to the purpose field, and nothing was created
    assert words["need_purpose"] in browser.find_element(By.ID, "f-purpose-error").text
    assert browser.find_element(By.ID, "f-purpose").get_attribute("aria-invalid") == "true"
    check_page(browser, language, direction, "offer-error")
    Select(browser.find_element(By.ID, "f-purpose")).select_by_value("offers")
    submit(browser, "form.act-form")
    assert browser.find_element(By.ID, "done").text == words["offer"]
    # (the catalog shows each offer's title in the page's language)
    assert (title if language == "en" else f"שבוע שטח {tag}") in browser.find_element(By.ID, "offers").text
    offers = requests.get(server.base_url + "/v1/offers", headers={"Authorization": "Bearer " + server.keys["admin"]}, timeout=30).json()["data"]
    assert [o["segment_id"] for o in offers if o["name"] == f"Trail week {tag}"] == [segment_id]
    check_page(browser, language, direction, "offers-created")
    # And change it in place: the form opens with its values, and the next read of the catalog has the new words
    offer_id = next(o["id"] for o in offers if o["name"] == f"Trail week {tag}")
    browser.find_element(By.CSS_SELECTOR, f"a[href='/console/offers/{offer_id}/edit']").click()
    assert browser.find_element(By.ID, "f-content-en-title").get_attribute("value") == title
    check_page(browser, language, direction, "offer-edit")
    field = browser.find_element(By.ID, "f-content-en-title")
    field.clear()
    field.send_keys(f"Trail week {tag}: 25% off")
    submit(browser, "form.act-form")
    assert words["offer_saved"] in browser.find_element(By.ID, "done").text
    changed = requests.get(f"{server.base_url}/v1/offers/{offer_id}", headers={"Authorization": "Bearer " + server.keys["admin"]}, timeout=30).json()
    assert changed["content"]["en"]["title"] == f"Trail week {tag}: 25% off" and changed["segment_id"] == segment_id

    # When the marketing operator creates a campaign for the demo runners
    person = runner_with_newsletter(server)
    sign_in(server, browser, "marketing", language)
    browser.get(f"{server.base_url}/console/campaigns")
    check_page(browser, language, direction, "campaigns")
    browser.find_element(By.CSS_SELECTOR, "a[href='/console/campaigns/new']").click()
    campaign = f"Spring picks {tag}"
    browser.find_element(By.ID, "f-name").send_keys(campaign)
    Select(browser.find_element(By.ID, "f-segment-id")).select_by_value(person["segment"])
    browser.find_element(By.ID, "f-content-en-subject").send_keys(f"Spring picks for you {tag}")
    browser.find_element(By.ID, "f-fallback-en-title").send_keys("Our news")
    browser.find_element(By.ID, "f-fallback-en-body").send_keys("A bit of everything")
    browser.find_element(By.ID, "f-blocks-0--key").send_keys("run")
    browser.find_element(By.ID, "f-blocks-0--interests").send_keys("running")
    browser.find_element(By.ID, "f-blocks-0--content-en-title").send_keys("Trail shoes")
    browser.find_element(By.ID, "f-blocks-0--content-en-body").send_keys("Grip and comfort")
    html = browser.find_element(By.ID, "f-content-en-html")
    html.clear()
    html.send_keys("<p>{{#blocks}}{{title}}</p>")
    submit(browser, "form.act-form")
    # Then an invalid template is shown next to its field, and the rest of the form is kept
    assert words["invalid"] in browser.find_element(By.ID, "f-content-en-html-error").text
    assert browser.find_element(By.ID, "f-name").get_attribute("value") == campaign
    check_page(browser, language, direction, "campaign-error")
    html = browser.find_element(By.ID, "f-content-en-html")
    html.clear()
    html.send_keys("<html><body>{{#blocks}}<h2>{{title}}</h2><p>{{body}}</p>{{/blocks}}</body></html>")
    submit(browser, "form.act-form")
    assert "/console/campaigns/cmp_" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == campaign
    check_page(browser, language, direction, "campaign")

    # When they preview it for one demo person, found by external id
    browser.find_element(By.ID, "query").send_keys(person["external_id"])
    submit(browser, "form[action$='/preview']")
    # Then the e-mail as that person would receive it: their address, and the block their declaration chose
    preview = browser.find_element(By.ID, "preview")
    assert person["email"] in preview.text
    assert "Trail shoes" in browser.find_element(By.ID, "preview-text").text
    frame = browser.find_element(By.CSS_SELECTOR, "iframe.act-frame")
    assert frame.get_attribute("sandbox") == ""
    check_page(browser, language, direction, "campaign-preview")

    # When they try a test send: the shared demo has no SMTP server, and the page says so
    browser.find_element(By.ID, "test-to").send_keys("qa@shop.example")
    submit(browser, "form[action$='/test-send']")
    assert words["no_smtp"] in browser.find_element(By.ID, "test-to-error").text
    check_page(browser, language, direction, "campaign-test-send")

    # When they schedule it (a date-time input, UTC)
    browser.execute_script("document.getElementById('send-at').value = '2099-06-01T09:30'")
    submit(browser, "form[action$='/schedule']")
    assert browser.find_element(By.ID, "done").text == words["scheduled"]
    assert browser.find_element(By.ID, "campaign-status").text == words["scheduled_status"]
    campaign_id = browser.current_url.split("/console/campaigns/")[1].split("?")[0]
    read = requests.get(f"{server.base_url}/v1/campaigns/{campaign_id}", headers={"Authorization": "Bearer " + server.keys["marketing"]}, timeout=30).json()
    assert read["status"] == "scheduled" and read["scheduled_at"].startswith("2099-06-01T09:30")
    check_page(browser, language, direction, "campaign-scheduled")


# --------------------------------------------------------------------------- over HTTP


def test_the_live_check_answers_counts_and_positions_only_with_the_token_and_the_role(server):
    session = signed_in(server, "it")
    token = page_csrf(session, server.base_url + "/console/segments/new")
    url = server.base_url + "/console/segments/check"
    counted = session.post(url, data={"csrf": token, "rule": 'interests has "yoga"'}, timeout=30)
    assert counted.status_code == 200 and counted.headers["Content-Type"].startswith("application/json")
    assert counted.json() == {"count": api_count(server, 'interests has "yoga"')}
    broken = session.post(url, data={"csrf": token, "rule": 'interests has "yoga"\nor shoe_size >'}, timeout=30).json()
    assert broken["error"]["line"] == 2 and broken["error"]["column"] == 15 and "expected" in broken["error"]["message"]
    # Without the session's token: refused, no count
    assert session.post(url, data={"rule": "set(interests)"}, timeout=30).status_code == 403
    assert session.post(url, data={"csrf": "0" * 64, "rule": "set(interests)"}, timeout=30).status_code == 403
    # A team without admin, with its own valid token: refused
    marketing = signed_in(server, "marketing")
    own = page_csrf(marketing, server.base_url + "/console/campaigns")
    refused = marketing.post(url, data={"csrf": own, "rule": "set(interests)"}, timeout=30)
    assert refused.status_code == 403 and "count" not in refused.text
    for path in ("/console/segments", "/console/offers", "/console/offers/new"):
        assert marketing.get(server.base_url + path, timeout=30).status_code == 403
