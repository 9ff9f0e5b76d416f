"""The preference center, the privacy page and community polls in a real browser (headless Chromium
through Selenium), in English and Hebrew: a person opens their link, changes answers and a consent
and saves — with JavaScript and without it — and the values are stored citing the notices shown; a
poll keeps its results hidden below k and shows them at k. Pages load nothing their CSP forbids and
axe-core finds no serious or critical violation. Screenshots go to /tmp/candor-screenshots."""

from __future__ import annotations

import secrets

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import page_left

from test_pages import SCREENSHOTS, browser, serious_violations  # noqa: F401 - the browser fixture is shared
from test_portal import person

WORDS = {
    "en": {"heading": "Your preferences", "why": "Why we ask", "saved": "Your choices are saved.", "not_enough": "Not enough responses yet",
           "results": "Results", "privacy": "Privacy at a glance"},
    "he": {"heading": "ההעדפות שלכם", "why": "למה אנחנו שואלים", "saved": "הבחירות שלכם נשמרו.", "not_enough": "עדיין אין מספיק תשובות",
           "results": "תוצאות", "privacy": "פרטיות במבט אחד"},
}


@pytest.fixture(scope="module")
def nojs_browser():
    """Chromium with JavaScript switched off by content setting: the no-JS path must work on its own."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def check_page(driver, language: str, name: str, axe: bool = True) -> None:
    root = driver.find_element(By.TAG_NAME, "html")
    assert root.get_attribute("lang") == language
    assert root.get_attribute("dir") == ("rtl" if language == "he" else "ltr")
    if axe:
        blocked = [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
        assert blocked == []
        assert serious_violations(driver) == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1280, max(1000, driver.find_element(By.TAG_NAME, "body").size["height"] + 40))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}-{language}.png"))
    driver.set_window_size(1280, 1000)


def submit(driver) -> None:
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(page_left(page))


def preferences_link(api, subject_id: str, language: str) -> str:
    reply = api.call("POST", f"/v1/subjects/{subject_id}/preferences-link", key="marketing", params={"lang": language}, expect=201).json()
    assert "/p/" in reply["url"] and reply["expires_at"]
    return reply["url"]


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
@pytest.mark.parametrize("language", ["en", "he"])
def test_preference_center_round_trip(server, api, browser, nojs_browser, language, javascript):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    driver = browser if javascript else nojs_browser
    words = WORDS[language]
    subject_id = person(api, f"prefs-{secrets.token_hex(4)}@example.com")
    driver.get(preferences_link(api, subject_id, language))
    assert driver.find_element(By.TAG_NAME, "h1").text == words["heading"]
    assert words["why"] in driver.find_element(By.TAG_NAME, "main").text
    if javascript:
        assert driver.execute_script("return 1 + 1") == 2
    check_page(driver, language, "preferences" if javascript else "preferences-nojs", axe=javascript)

    # Add an interest, change the shoe size, switch the newsletter on.
    driver.find_element(By.CSS_SELECTOR, "input[name='v.interests'][value='hiking']").click()
    size = driver.find_element(By.ID, "field-shoe_size")
    size.clear()
    size.send_keys("44")
    driver.find_element(By.ID, "consent-newsletter").click()
    submit(driver)
    assert words["saved"] in driver.find_element(By.TAG_NAME, "main").text
    assert driver.find_element(By.ID, "consent-newsletter").is_selected()
    check_page(driver, language, "preferences-saved" if javascript else "preferences-saved-nojs", axe=javascript)

    profile = api.call("GET", f"/v1/subjects/{subject_id}", key="sales", purpose="offers", expect=200).json()["profile"]
    assert sorted(profile["values"]["interests"]["value"]) == ["hiking", "running", "yoga"]
    assert profile["values"]["shoe_size"]["value"] == 44
    assert profile["values"]["shoe_size"]["source"] == "preference_center"
    assert profile["values"]["shoe_size"]["notices"] == {"offers": 1, "support": 1}
    newsletter = api.call("GET", f"/v1/subjects/{subject_id}", key="marketing", purpose="newsletter", expect=200).json()["profile"]
    assert newsletter["is_visible"] is True


@pytest.mark.parametrize("language", ["en", "he"])
def test_privacy_page(server, browser, language):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    browser.get(f"{server.base_url}/privacy?lang={language}")
    assert browser.find_element(By.TAG_NAME, "h1").text == WORDS[language]["privacy"]
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "main a")]
    assert any(h.endswith("/.well-known/gpc.json") for h in hrefs) and any("/records-of-processing" in h for h in hrefs)
    check_page(browser, language, "privacy")


@pytest.mark.parametrize("language", ["en", "he"])
def test_poll_results_hidden_below_k_and_shown_at_k(server, api, browser, language):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    words = WORDS[language]
    poll = api.call("POST", "/v1/polls", key="marketing", expect=201, json_body={
        "question": {"en": "Which distance do you like to run?", "he": "איזה מרחק אתם אוהבים לרוץ?"},
        "options": [{"key": "k5", "labels": {"en": "5 km", "he": "5 ק״מ"}}, {"key": "k10", "labels": {"en": "10 km", "he": "10 ק״מ"}},
                    {"key": "half", "labels": {"en": "Half marathon", "he": "חצי מרתון"}}],
        "k": 3}).json()["poll"]
    for index, option in enumerate(["k5", "k10", "k5"]):
        browser.delete_all_cookies()  # each answer from another person's browser
        browser.get(f"{server.base_url}/polls/{poll['id']}?lang={language}")
        if index == 0:
            check_page(browser, language, "poll")
        browser.find_element(By.CSS_SELECTOR, f"input[name=option][value={option}]").click()
        submit(browser)
        text = browser.find_element(By.TAG_NAME, "main").text
        if index < 2:
            assert words["not_enough"] in text
            assert browser.find_elements(By.TAG_NAME, "progress") == []
            if index == 0:
                check_page(browser, language, "poll-not-enough")
        else:
            assert "67%" in text and "33%" in text
            assert len(browser.find_elements(By.TAG_NAME, "progress")) == 3
            check_page(browser, language, "poll-results")
    # A second answer from the same browser is refused with a page that says so.
    browser.back()
    browser.back()
    browser.get(f"{server.base_url}/polls/{poll['id']}?lang={language}")
    assert words["results"] in browser.find_element(By.TAG_NAME, "main").text


def test_poll_admin_api_follows_the_contract(server, api):
    """Every poll operation answers as openapi.yaml says, with problem documents for bad input."""
    created = api.call("POST", "/v1/polls", key="marketing", expect=201, json_body={
        "question": {"en": "Tea or coffee?"}, "options": [{"key": "tea", "labels": {"en": "Tea"}}, {"key": "coffee", "labels": {"en": "Coffee"}}]}).json()
    poll_id = created["poll"]["id"]
    assert created["poll"]["k"] == 5 and created["results"] == {"total": 0, "k": 5, "published": False, "rows": []}
    assert any(p["poll"]["id"] == poll_id for p in api.call("GET", "/v1/polls", key="marketing", expect=200).json()["polls"])
    assert api.call("GET", f"/v1/polls/{poll_id}", key="marketing", expect=200).json()["poll"]["status"] == "open"
    assert api.call("POST", f"/v1/polls/{poll_id}/close", key="marketing", expect=200).json()["poll"]["status"] == "closed"
    assert api.call("POST", f"/v1/polls/{poll_id}/open", key="marketing", expect=200).json()["poll"]["status"] == "open"
    api.call("GET", "/v1/polls/pol_unknown", key="marketing", expect=404)
    problem = api.call("POST", "/v1/polls", key="marketing", expect=422, validate_request=False,
                       json_body={"question": {"en": ""}, "options": [{"key": "Bad Key", "labels": {"en": "x"}}]}).json()
    assert {e["field"] for e in problem["errors"]} >= {"question.en", "options"}
    api.call("POST", "/v1/polls", key="sales", expect=403, json_body={"question": {"en": "x?"}, "options": [
        {"key": "a", "labels": {"en": "A"}}, {"key": "b", "labels": {"en": "B"}}]})
