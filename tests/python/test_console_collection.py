"""The console's collection pages (issue 7) against a real `candor demo`, on every backend.

In English and Hebrew, the demo IT operator builds a survey in Chromium: adds a question with the add
button (no script needed: the form comes back with one more block and what was typed), makes a
mistake and sees it next to the input, sets the prompt's targeting, saves, and sees the prompt preview
show the question as a visitor would. Then they create a poll, and a code pool whose codes they upload.
Every page is checked with axe-core, for blocked scripts or styles (CSP), for its direction, and is
saved as a screenshot. Over plain HTTP: a team without `admin` gets 403 on every collection page.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import page_left
from test_console import check_page, operator, page_csrf, signed_in, submit
from test_pages import browser  # noqa: F401 - the browser fixture is shared


def click(browser, element_id: str) -> None:
    """Presses a submit button and waits for the next page."""
    button = browser.find_element(By.ID, element_id)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    WebDriverWait(browser, 20).until(page_left(button))


def into_view(browser, element):
    """Scrolls an element to the middle of the window (the builder's Save bar sticks to the bottom)."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    return element


def fill(browser, element_id: str, text: str) -> None:
    field = into_view(browser, browser.find_element(By.ID, element_id))
    field.clear()
    field.send_keys(text)


def choose(browser, element_id: str, value: str) -> None:
    Select(into_view(browser, browser.find_element(By.ID, element_id))).select_by_value(value)


WORDS = {
    "en": {"title": "Fit check", "question": "Which sports do you love?", "intro": "Two seconds, better picks.",
           "created": "Survey created as a draft.", "poll": "Road or trail?", "pool": "Spring codes", "uploaded": "Codes added."},
    "he": {"title": "בדיקת התאמה", "question": "באילו ספורטים אתם אוהבים?", "intro": "שתי שניות, המלצות טובות יותר.",
           "created": "הסקר נוצר כטיוטה.", "poll": "כביש או שטח?", "pool": "קודי אביב", "uploaded": "הקודים נוספו."},
}


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("he", "rtl")])
def test_an_operator_builds_a_survey_with_a_prompt_a_poll_and_a_pool(server, browser, language, direction):
    words = WORDS[language]
    suffix = secrets.token_hex(3)
    account = operator(server, "it")
    browser.delete_all_cookies()
    browser.set_window_size(1024, 900)
    browser.get(f"{server.base_url}/console/login?lang={language}")
    browser.find_element(By.ID, "email").send_keys(account["email"])
    browser.find_element(By.ID, "password").send_keys(account["password"])
    submit(browser, "form[action^='/console/login']")

    # The survey list shows the demo's surveys
    browser.get(f"{server.base_url}/console/surveys")
    assert browser.find_elements(By.CSS_SELECTOR, "#surveys tbody tr")
    check_page(browser, language, direction, "surveys")

    # When they start a survey and add a second question with the add button
    browser.find_element(By.ID, "new-survey").click()
    fill(browser, "title_en", f"{WORDS['en']['title']} {suffix}")
    fill(browser, "title_he", f"{WORDS['he']['title']} {suffix}")
    choose(browser, "q0_source", "field:interests")
    click(browser, "add-question")
    # Then the form comes back with two question blocks and what they typed
    assert browser.find_element(By.ID, "q1_id").get_attribute("value") == "q2"
    assert browser.find_element(By.ID, "title_en").get_attribute("value") == f"{WORDS['en']['title']} {suffix}"
    assert Select(browser.find_element(By.ID, "q0_source")).first_selected_option.get_attribute("value") == "field:interests"
    choose(browser, "q1_source", "field:shoe_size")
    # with a branch: a runner goes straight to the end
    fill(browser, "q0_b0_equals", "running")
    choose(browser, "q0_b0_goto", "end")
    # and the prompt's wording, targeting and frequency
    into_view(browser, browser.find_element(By.ID, "prompt_enabled")).click()
    choose(browser, "prompt_field", "interests")
    fill(browser, f"prompt_text_{language}", words["question"])
    fill(browser, f"prompt_intro_{language}", words["intro"])
    choose(browser, "prompt_trigger", "page_view")
    choose(browser, "prompt_url_match", "prefix")
    fill(browser, "prompt_url_value", f"/console-test-{suffix}/")
    choose(browser, "prompt_frequency", "up_to")
    fill(browser, "prompt_max_displays", "0")
    choose(browser, "prompt_status", "draft")
    # A mistake (at most 0 displays) is shown next to its input, and nothing is saved
    click(browser, "save")
    error = browser.find_element(By.ID, "prompt_max_displays-error")
    assert error.text
    assert browser.find_element(By.ID, "prompt_max_displays").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, f"prompt_text_{language}").get_attribute("value") == words["question"]
    check_page(browser, language, direction, "survey-error")
    fill(browser, "prompt_max_displays", "2")
    click(browser, "save")

    # Then the survey is saved as a draft and its page shows the prompt preview with the question
    assert words["created"] in browser.find_element(By.ID, "done").text
    survey_id = browser.current_url.split("/console/surveys/")[1].split("?")[0]
    frame = browser.find_element(By.CSS_SELECTOR, f"iframe[data-preview-frame='{language}']")
    assert frame.get_attribute("title")
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    browser.switch_to.frame(frame)
    try:
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".candor-question"))
        assert browser.find_element(By.CSS_SELECTOR, ".candor-question").text == words["question"]
        assert browser.find_element(By.CSS_SELECTOR, ".candor-intro").text == words["intro"]
        assert browser.find_element(By.CSS_SELECTOR, ".candor-dialog").get_attribute("dir") == direction
        # drawn by embed.css: the dialog is a styled card, not unstyled markup
        assert browser.find_element(By.CSS_SELECTOR, ".candor-dialog").value_of_css_property("border-radius") != "0px"
    finally:
        browser.switch_to.default_content()
    check_page(browser, language, direction, "survey")
    # and the survey is in the API as built, with its branch; the prompt keeps its targeting
    admin = {"Authorization": "Bearer " + server.keys["admin"]}
    survey = requests.get(f"{server.base_url}/v1/surveys/{survey_id}", headers=admin, timeout=30).json()
    assert [q["field"] for q in survey["questions"]] == ["interests", "shoe_size"]
    assert survey["questions"][0]["next"] == [{"if": {"question": "q1", "equals": "running"}, "goto": "end"}]
    prompts = requests.get(f"{server.base_url}/v1/prompts", headers=admin, timeout=30).json()["data"]
    prompt = next(p for p in prompts if p["triggers"][0].get("url", {}).get("value") == f"/console-test-{suffix}/")
    assert prompt["frequency"] == "up_to" and prompt["max_displays"] == 2 and prompt["status"] == "draft"
    assert prompt["texts"][language]["question"] == words["question"]

    # When they create a poll
    browser.get(f"{server.base_url}/console/polls")
    fill(browser, f"question_{language}", f"{words['poll']} {suffix}")
    if language == "he":
        fill(browser, "question_en", f"{WORDS['en']['poll']} {suffix}")
    fill(browser, "o0_key", "road")
    fill(browser, "o0_en", "Road")
    fill(browser, "o1_key", "trail")
    fill(browser, "o1_en", "Trail")
    click(browser, "create-poll")
    # Then it is listed, open, with its results withheld until k people answered
    card = browser.find_element(By.XPATH, f"//li[contains(@class,'col-card')][.//h3[contains(., '{suffix}')]]")
    assert card.find_element(By.CSS_SELECTOR, ".note").text
    assert card.find_element(By.CSS_SELECTOR, "a[href^='/polls/']")
    check_page(browser, language, direction, "polls")

    # When they create a code pool and upload three codes
    browser.get(f"{server.base_url}/console/incentives")
    fill(browser, "pool-name", f"{words['pool']} {suffix}")
    click(browser, "create-pool")
    assert browser.find_element(By.ID, "pool-remaining").text == "0"
    # (with the script, a file can fill the box; without it, the box alone works)
    assert browser.find_element(By.ID, "codes-file").is_displayed()
    codes = browser.find_element(By.ID, "codes")
    codes.send_keys(f"SPRING-{suffix}-1\nSPRING-{suffix}-2\nSPRING-{suffix}-2")
    click(browser, "upload-codes")
    # a repeated code is named and nothing is added
    assert browser.find_element(By.ID, "codes-error").text
    assert browser.find_element(By.ID, "pool-remaining").text == "0"
    check_page(browser, language, direction, "pool-error")
    codes = browser.find_element(By.ID, "codes")
    codes.clear()
    codes.send_keys(f"SPRING-{suffix}-1\nSPRING-{suffix}-2\nSPRING-{suffix}-3")
    click(browser, "upload-codes")
    # Then the remaining count goes up to 3
    assert words["uploaded"] in browser.find_element(By.ID, "done").text
    assert browser.find_element(By.ID, "pool-remaining").text == "3"
    check_page(browser, language, direction, "pool")
    browser.get(f"{server.base_url}/console/incentives")
    check_page(browser, language, direction, "pools")


def test_a_team_without_admin_gets_403_on_the_collection_pages(server):
    if server.backend != "sqlite":
        pytest.skip("roles do not depend on the backend")
    marketing = signed_in(server, "marketing")
    for path in ("/console/surveys", "/console/surveys/new", "/console/polls", "/console/incentives"):
        assert marketing.get(server.base_url + path, timeout=30, allow_redirects=False).status_code == 403, path
    csrf = page_csrf(marketing, server.base_url + "/console")
    answer = marketing.post(server.base_url + "/console/incentives", data={"csrf": csrf, "name": "Not allowed"}, timeout=30, allow_redirects=False)
    assert answer.status_code == 403
    # and the IT operator's form without its token is refused
    it = signed_in(server, "it")
    answer = it.post(server.base_url + "/console/polls", data={"question_en": "Q", "o0_key": "a", "o0_en": "A", "o1_key": "b", "o1_en": "B"},
                     timeout=30, allow_redirects=False)
    assert answer.status_code == 403
