"""The start page in a real browser (headless Chromium through Selenium): it renders the registry in
English and Hebrew (right-to-left), works from the keyboard, loads nothing its Content-Security-Policy
forbids, and axe-core finds no serious or critical accessibility violation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

SCREENSHOTS = Path(os.environ.get("CANDOR_SCREENSHOTS", "/tmp/candor-screenshots"))


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def serious_violations(driver) -> list[str]:
    driver.execute_script(axe_source())
    result = driver.execute_async_script("axe.run().then(arguments[arguments.length - 1])")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("language, direction, heading", [("en", "ltr", "Try it"), ("he", "rtl", "נסו בעצמכם")])
def test_start_page_renders_the_registry_accessibly(server, browser, language, direction, heading):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    # Given the demo workspace's purposes, as the API reports them
    purposes = requests.get(server.base_url + "/v1/purposes", headers={"Authorization": "Bearer " + server.keys["admin"]}, timeout=30).json()["data"]

    # When a person opens the start page in their language
    browser.get(f"{server.base_url}/?lang={language}")

    # Then it is in that language and direction, and shows every purpose with its notice
    root = browser.find_element(By.TAG_NAME, "html")
    assert root.get_attribute("lang") == language
    assert root.get_attribute("dir") == direction
    assert heading in [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
    assert len(cards) == len(purposes)
    for purpose in purposes:
        assert any(purpose["key"] in card.text for card in cards)
    # In Hebrew the cards flow from the right: the first card sits right of the second.
    if direction == "rtl":
        assert cards[0].location["x"] > cards[1].location["x"]
    else:
        assert cards[0].location["x"] < cards[1].location["x"]

    # And the keyboard reaches the language switch first, with a visible focus ring
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.tag_name == "a" and focused.get_attribute("hreflang") in ("en", "he")
    assert focused.value_of_css_property("outline-style") != "none"

    # And nothing on the page was blocked by its Content-Security-Policy, and axe finds no serious problem
    blocked = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert blocked == []
    assert serious_violations(browser) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"start-{language}.png"))


@pytest.mark.parametrize("language, direction, heading", [("en", "ltr", "Processing activities"), ("he", "rtl", "פעילויות עיבוד")])
def test_records_of_processing_page_is_accessible(server, browser, language, direction, heading):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    # Given the purposes registered on this server (other tests may have added some)
    purposes = requests.get(server.base_url + "/v1/purposes", headers={"Authorization": "Bearer " + server.keys["admin"]}, timeout=30).json()["data"]
    # When an authority opens the record of processing in a language
    browser.get(f"{server.base_url}/records-of-processing?lang={language}")
    root = browser.find_element(By.TAG_NAME, "html")
    assert root.get_attribute("lang") == language and root.get_attribute("dir") == direction
    # Then it lists every purpose as an activity, with its DPV term, and says what it does not cover yet
    assert heading in [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    activities = browser.find_elements(By.CSS_SELECTOR, "article.activity")
    assert len(activities) == len(purposes)
    assert any("newsletter" in a.text for a in activities)
    blocked = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert blocked == []
    assert serious_violations(browser) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"records-{language}.png"))
