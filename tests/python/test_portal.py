"""The self-service rights portal in a real browser (headless Chromium through Selenium), in English
and Hebrew: a person opens their link, sees what they told us, corrects a value, objects to direct
marketing, downloads their data and erases it. Every page works from the keyboard, loads nothing its
Content-Security-Policy forbids, and axe-core finds no serious or critical accessibility violation."""

from __future__ import annotations

import secrets

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import page_left

from test_pages import SCREENSHOTS, browser, serious_violations  # noqa: F401 - the browser fixture is shared

WORDS = {
    "en": {"me": "Everything we hold about you", "shoe": "Shoe size (EU)", "done": "Done", "corrected": "Your answer was corrected",
           "object": "Object to direct marketing", "erase": "ERASE", "erased": "Your data has been erased", "sent": "If we know this address",
           "check": "Check the change", "ended": "Your access has ended", "used": "This link was already used"},
    "he": {"me": "כל מה שאנחנו מחזיקים עליכם", "shoe": "מידת נעליים (אירופית)", "done": "בוצע", "corrected": "התשובה שלכם תוקנה",
           "object": "התנגדות לדיוור ישיר", "erase": "מחיקה", "erased": "המידע שלכם נמחק", "sent": "אם הכתובת מוכרת לנו",
           "check": "בדקו את השינוי", "ended": "הגישה שלכם הסתיימה", "used": "כבר השתמשו בקישור הזה"},
}


def person(api, email: str) -> str:
    """A person with an e-mail address, two values and consent to offers."""
    subject = api.call("POST", "/v1/subjects", key="marketing", json_body={"email": email}, expect=201).json()
    api.call("POST", f"/v1/subjects/{subject['id']}/declarations", key="marketing", expect=201, json_body={
        "values": [{"field": "shoe_size", "value": 42}, {"field": "interests", "value": ["running", "yoga"]}],
        "notices": {"newsletter": 1, "offers": 1, "research": 1, "support": 1}, "source": "preference_center"})
    api.call("POST", f"/v1/subjects/{subject['id']}/consents", key="marketing", expect=201, json_body={
        "consents": [{"purpose": "offers", "status": "granted", "method": "checkbox", "notice_version": 1}]})
    return subject["id"]


def check_page(browser, language: str, name: str) -> None:
    """The page is in the language and direction asked for, nothing was blocked, axe is content."""
    root = browser.find_element(By.TAG_NAME, "html")
    assert root.get_attribute("lang") == language
    assert root.get_attribute("dir") == ("rtl" if language == "he" else "ltr")
    blocked = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert blocked == []
    assert serious_violations(browser) == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"portal-{name}-{language}.png"))


def submit(browser) -> None:
    """Submits the page's main form from the keyboard, the way a person without a mouse would, and
    waits for the next page."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").send_keys(Keys.ENTER)
    WebDriverWait(browser, 20).until(page_left(page))


@pytest.mark.parametrize("language", ["en", "he"])
def test_asking_for_a_link_never_tells_who_is_known(server, api, browser, language):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    words = WORDS[language]
    email = f"known-{secrets.token_hex(4)}@example.com"
    person(api, email)
    answers = []
    for address in (email, f"unknown-{secrets.token_hex(4)}@example.com"):
        browser.get(f"{server.base_url}/rights?lang={language}")
        check_page(browser, language, "ask")
        # The first Tab reaches the skip link, with a visible focus ring.
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        focused = browser.switch_to.active_element
        assert focused.get_attribute("class") == "skip"
        assert focused.value_of_css_property("outline-style") != "none"
        field = browser.find_element(By.ID, "email")
        assert browser.find_element(By.CSS_SELECTOR, "label[for=email]").text
        field.send_keys(address)
        submit(browser)
        answers.append(browser.find_element(By.TAG_NAME, "main").text)
        assert words["sent"] in answers[-1]
        check_page(browser, language, "sent")
    assert answers[0] == answers[1]


@pytest.mark.parametrize("language", ["en", "he"])
def test_a_person_sees_corrects_objects_downloads_and_erases(server, api, browser, language):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    words = WORDS[language]
    email = f"portal-{language}-{secrets.token_hex(4)}@example.com"
    subject = person(api, email)
    link = api.call("POST", f"/v1/subjects/{subject}/rights-link", params={"lang": language}, expect=201).json()["url"]
    assert link.startswith(server.base_url + "/rights/verify/")

    # Opening the link lands on everything held, with each value's source, time and notice.
    browser.delete_all_cookies()
    browser.get(link)
    assert browser.current_url.startswith(server.base_url + "/rights/me")
    assert browser.find_element(By.TAG_NAME, "h1").text == words["me"]
    row = browser.find_element(By.ID, "value-shoe_size")
    assert words["shoe"] in row.text and "42" in row.text and "preference_center" in row.text
    assert email in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, language, "me")
    session = browser.get_cookie("candor_portal")
    assert session and session["httpOnly"] and session["sameSite"] == "Strict"

    # The link works once.
    browser.get(link)
    assert words["used"] in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, language, "used")

    # Correct the shoe size: an invalid value first (the error sits by the field), then a valid one.
    browser.get(f"{server.base_url}/rights/me/correct/shoe_size?lang={language}")
    check_page(browser, language, "correct")
    field = browser.find_element(By.ID, "value")
    field.clear()
    field.send_keys("99")
    submit(browser)
    field = browser.find_element(By.ID, "value")
    assert field.get_attribute("aria-invalid") == "true"
    assert "value-error" in field.get_attribute("aria-describedby")
    assert browser.find_element(By.ID, "value-error").is_displayed()
    check_page(browser, language, "correct-error")
    field.clear()
    field.send_keys("44")
    submit(browser)
    assert words["check"] in browser.find_element(By.TAG_NAME, "h1").text
    check_page(browser, language, "review")
    submit(browser)
    assert words["corrected"] in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, language, "corrected")
    browser.get(f"{server.base_url}/rights/me?lang={language}")
    assert "44" in browser.find_element(By.ID, "value-shoe_size").text

    # Object to direct marketing, after a confirmation step.
    browser.get(f"{server.base_url}/rights/me/object?lang={language}")
    check_page(browser, language, "object")
    submit(browser)
    assert words["done"] in browser.find_element(By.TAG_NAME, "h1").text
    check_page(browser, language, "objected")

    # Download everything as JSON, with the browser's session.
    cookie = {"candor_portal": browser.get_cookie("candor_portal")["value"]}
    export = requests.get(f"{server.base_url}/rights/me/export.json", cookies=cookie, timeout=30)
    assert export.status_code == 200
    assert "attachment" in export.headers["Content-Disposition"]
    body = export.json()
    assert body["subject"]["id"] == subject
    assert body["values"]["shoe_size"]["value"] == 44
    assert body["values"]["shoe_size"]["source"] == "rectification"
    assert body["flags"]["objected_to_direct_marketing"] is True
    assert all(c["status"] == "withdrawn" for c in body["consents"] if c["purpose"] in ("offers", "newsletter"))
    browser.get(f"{server.base_url}/rights/me/export.html?lang={language}")
    check_page(browser, language, "export")

    # Erase everything: the word confirms it, the session ends, a page says so.
    browser.get(f"{server.base_url}/rights/me/erase?lang={language}")
    check_page(browser, language, "erase")
    browser.find_element(By.ID, "word").send_keys(words["erase"])
    submit(browser)
    assert words["erased"] in browser.find_element(By.TAG_NAME, "h1").text
    check_page(browser, language, "erased")
    assert browser.get_cookie("candor_portal") is None
    browser.get(f"{server.base_url}/rights/me?lang={language}")
    assert words["ended"] in browser.find_element(By.TAG_NAME, "h1").text
    api.problem(api.call("GET", f"/v1/subjects/{subject}", key="support", purpose="support"), 410, "subject-erased")
