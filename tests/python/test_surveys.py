"""Questionnaires, quizzes and incentives: every admin and answer operation against the OpenAPI
contract (on SQLite and PostgreSQL), the guarantees a user notices (answers saved as given, branching,
one code per person, bad input changes nothing), and the hosted questionnaire in a real browser in
English and Hebrew — axe-core clean, nothing blocked by the CSP, screenshots in /tmp/candor-screenshots."""

from __future__ import annotations

import secrets

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import page_left
from test_pages import SCREENSHOTS, browser, serious_violations  # noqa: F401 - the browser fixture is shared

NOTICES = {"newsletter": 1, "offers": 1, "research": 1, "support": 1}


def survey_body(pool_id: str | None = None, **extra) -> dict:
    body = {
        "title": {"en": "Help us fit your next pair", "he": "עזרו לנו להתאים לכם את הזוג הבא"},
        "kind": "questionnaire",
        "questions": [
            {"id": "sport", "field": "interests", "next": [{"if": {"question": "sport", "equals": "running"}, "goto": "size"}]},
            {"id": "reach", "field": "channels"},
            {"id": "size", "field": "shoe_size"},
        ],
        "ending": {"type": "thank_you", "message": {"en": "Thank you — enjoy your code!", "he": "תודה — תיהנו מהקוד!"}},
    }
    if pool_id:
        body["incentive"] = {"type": "pool", "pool_id": pool_id}
    body.update(extra)
    return body


def new_pool(api, codes: str = "RUN-0001\nRUN-0002\n") -> str:
    pool = api.call("POST", "/v1/incentive-pools", key="marketing", json_body={"name": f"Shoes {secrets.token_hex(3)}"}, expect=201).json()
    api.call("POST", f"/v1/incentive-pools/{pool['id']}/codes", key="marketing", data=codes, headers={"Content-Type": "text/csv"}, expect=201)
    return pool["id"]


def published(api, body: dict) -> str:
    survey = api.call("POST", "/v1/surveys", key="marketing", json_body=body, expect=201).json()
    assert survey["status"] == "draft"
    assert api.call("POST", f"/v1/surveys/{survey['id']}/publish", key="marketing", expect=200).json()["status"] == "published"
    return survey["id"]


def new_subject(api) -> str:
    return api.call("POST", "/v1/subjects", key="marketing", json_body={}, expect=201).json()["id"]


def answer(api, survey: str, subject: str, body: dict, expect: int):
    return api.call("POST", f"/v1/surveys/{survey}/responses/{subject}/answers", key="marketing", json_body=body, expect=expect)


def test_pools_report_size_issued_remaining(api):
    pool = api.call("POST", "/v1/incentive-pools", key="marketing", json_body={"name": "Spring", "expires_at": "2099-01-01T00:00:00.000Z"}, expect=201).json()
    assert pool["size"] == 0 and pool["expired"] is False
    api.call("POST", f"/v1/incentive-pools/{pool['id']}/codes", key="marketing", data="code\nA-1\nA-2\n", headers={"Content-Type": "text/csv"}, expect=201)
    grown = api.call("POST", f"/v1/incentive-pools/{pool['id']}/codes", key="marketing", json_body={"generate": 20, "pattern": "SHOE-####-XXXX"}, expect=201).json()
    assert grown["size"] == 22 and grown["remaining"] == 22
    seen = api.call("GET", f"/v1/incentive-pools/{pool['id']}", key="marketing", expect=200).json()
    assert seen["issued"] == 0 and seen["expires_at"].startswith("2099")
    # Bad uploads are named and add nothing.
    api.problem(api.call("POST", f"/v1/incentive-pools/{pool['id']}/codes", key="marketing", data="ok\nnot ok\n", headers={"Content-Type": "text/csv"}),
                422, "validation-failed", "body.line[2]")
    api.problem(api.call("POST", f"/v1/incentive-pools/{pool['id']}/codes", key="marketing", json_body={"generate": 5, "pattern": "##"}),
                422, "validation-failed", "pattern")
    assert api.call("GET", f"/v1/incentive-pools/{pool['id']}", key="marketing", expect=200).json()["size"] == 22
    api.problem(api.call("POST", "/v1/incentive-pools", key="marketing", json_body={"name": ""}), 422, "validation-failed", "name")
    api.problem(api.call("GET", "/v1/incentive-pools/ipl_nope", key="marketing"), 404, "not-found")
    api.problem(api.call("POST", "/v1/incentive-pools", key="sales", json_body={"name": "x"}), 403, "forbidden")


def test_survey_admin_lifecycle_and_validation(api):
    created = api.call("POST", "/v1/surveys", key="marketing", json_body=survey_body(), expect=201).json()
    replaced = api.call("PUT", f"/v1/surveys/{created['id']}", key="marketing", json_body=survey_body(freshness_days=30), expect=200).json()
    assert replaced["freshness_days"] == 30
    assert api.call("GET", f"/v1/surveys/{created['id']}", key="marketing", expect=200).json()["questions"][0]["field"] == "interests"
    assert any(s["id"] == created["id"] for s in api.call("GET", "/v1/surveys", key="marketing", expect=200).json()["surveys"])
    api.call("POST", f"/v1/surveys/{created['id']}/publish", key="marketing", expect=200)
    api.problem(api.call("PUT", f"/v1/surveys/{created['id']}", key="marketing", json_body=survey_body()), 409, "conflict", "status")
    assert api.call("POST", f"/v1/surveys/{created['id']}/close", key="marketing", expect=200).json()["status"] == "closed"
    api.problem(api.call("POST", f"/v1/surveys/{created['id']}/publish", key="marketing"), 409, "conflict", "status")

    broken = survey_body()
    broken["questions"][2]["next"] = [{"if": {"question": "size", "equals": "40"}, "goto": "sport"}]
    api.problem(api.call("POST", "/v1/surveys", key="marketing", json_body=broken), 422, "validation-failed", "questions[2].next[0].goto")
    broken = survey_body()
    broken["questions"][0]["next"][0]["if"]["equals"] = "chess"
    api.problem(api.call("POST", "/v1/surveys", key="marketing", json_body=broken), 422, "validation-failed", "questions[0].next[0].if.equals")
    api.problem(api.call("POST", "/v1/surveys", key="marketing", json_body=survey_body(ending={"type": "redirect", "url": "http://shop.example"})),
                422, "validation-failed", "ending.url")
    api.problem(api.call("POST", "/v1/surveys", key="marketing", json_body=survey_body(pool_id="ipl_nope")), 422, "validation-failed", "incentive.pool_id")
    api.problem(api.call("GET", "/v1/surveys/srv_nope", key="marketing"), 404, "not-found")
    api.problem(api.call("POST", "/v1/surveys/srv_nope/publish", key="marketing"), 404, "not-found")
    api.problem(api.call("POST", "/v1/surveys/srv_nope/close", key="marketing"), 404, "not-found")


def test_answers_are_saved_as_given_and_issue_one_code(api):
    pool = new_pool(api)
    survey = published(api, survey_body(pool))
    subject = new_subject(api)
    first = answer(api, survey, subject, {"question": "sport", "value": ["running"], "notices": {"newsletter": 1, "offers": 1, "research": 1}}, 201).json()
    assert first["next"] == "size" and first["state"] == "in_progress"
    export = api.call("GET", f"/v1/subjects/{subject}/export", key="admin", expect=200).json()
    assert export["values"]["interests"]["collection_point"] == f"survey:{survey}"
    assert export["values"]["interests"]["notices"] == {"newsletter": 1, "offers": 1, "research": 1}
    # Skipped by branching, outside the field, not in the survey: refused, nothing written.
    api.problem(answer(api, survey, subject, {"question": "reach", "value": ["email"]}, 422), 422, "validation-failed", "question")
    api.problem(answer(api, survey, subject, {"question": "size", "value": 75}, 422), 422, "validation-failed", "value")
    api.problem(answer(api, survey, subject, {"question": "colour", "value": "red"}, 422), 422, "validation-failed", "question")
    done = answer(api, survey, subject, {"question": "size", "value": 43}, 201).json()
    assert done["state"] == "completed" and done["ending"]["incentive"]["code"] == "RUN-0001"
    api.problem(answer(api, survey, subject, {"question": "size", "value": 44}, 409), 409, "conflict", "survey")
    history = api.call("GET", f"/v1/subjects/{subject}/export", key="admin", expect=200).json()
    assert history["incentives"][0]["code"] == "RUN-0001" and history["history"][-1]["kind"] == "survey.completed"
    assert api.call("GET", f"/v1/incentive-pools/{pool}", key="marketing", expect=200).json()["remaining"] == 1


def test_survey_link_is_for_one_person_and_survey(api):
    survey = published(api, survey_body())
    subject = new_subject(api)
    link = api.call("POST", f"/v1/surveys/{survey}/links/{subject}", key="marketing", params={"lang": "he"}, expect=201).json()
    assert f"/s/{survey}/" in link["url"] and link["url"].endswith("?lang=he") and link["expires_at"]
    api.problem(api.call("POST", f"/v1/surveys/{survey}/links/sub_nope", key="marketing"), 404, "not-found")
    api.problem(api.call("POST", f"/v1/surveys/srv_nope/links/{subject}", key="marketing"), 404, "not-found")


WORDS = {
    "en": {"step1": "Question 1 of 3", "why": "Why we ask", "thanks": "Thank you — enjoy your code!", "code": "Your code"},
    "he": {"step1": "שאלה 1 מתוך 3", "why": "למה אנחנו שואלים", "thanks": "תודה — תיהנו מהקוד!", "code": "הקוד שלכם"},
}


def check(driver, language: str, name: str) -> None:
    root = driver.find_element(By.TAG_NAME, "html")
    assert root.get_attribute("lang") == language
    assert root.get_attribute("dir") == ("rtl" if language == "he" else "ltr")
    assert [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]] == []
    assert serious_violations(driver) == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1280, max(900, driver.find_element(By.TAG_NAME, "body").size["height"] + 40))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}-{language}.png"))
    driver.set_window_size(1280, 1000)


def submit(driver) -> None:
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(page_left(page))


@pytest.mark.parametrize("language", ["en", "he"])
def test_hosted_questionnaire_in_the_browser(server, api, browser, language):
    if server.backend != "sqlite":
        pytest.skip("pages do not depend on the backend")
    words = WORDS[language]
    survey = published(api, survey_body(new_pool(api, f"WELCOME-{language.upper()}-1\n")))
    subject = new_subject(api)
    browser.get(api.call("POST", f"/v1/surveys/{survey}/links/{subject}", key="marketing", params={"lang": language}, expect=201).json()["url"])
    main = browser.find_element(By.TAG_NAME, "main")
    assert words["step1"] in main.text and words["why"] in main.text
    check(browser, language, "survey-question")
    # Nothing chosen: the page says so and keeps the person on the question.
    submit(browser)
    assert browser.find_elements(By.CSS_SELECTOR, ".field-error")
    check(browser, language, "survey-error")
    browser.find_element(By.CSS_SELECTOR, "input[value=yoga]").click()
    submit(browser)
    # Not running, so the channels question comes next; Back returns to the first with yoga still chosen.
    browser.find_element(By.CSS_SELECTOR, "input[value=email]").click()
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, ".survey-actions a.secondary").click()
    WebDriverWait(browser, 20).until(page_left(page))
    assert browser.find_element(By.CSS_SELECTOR, "input[value=yoga]").is_selected()
    submit(browser)
    browser.find_element(By.CSS_SELECTOR, "input[value=email]").click()
    submit(browser)
    size = browser.find_element(By.CSS_SELECTOR, "input#value")
    size.send_keys("42")
    check(browser, language, "survey-last")
    submit(browser)
    main = browser.find_element(By.TAG_NAME, "main")
    assert words["thanks"] in main.text and words["code"] in main.text
    assert browser.find_element(By.ID, "incentive-code").get_attribute("value") == f"WELCOME-{language.upper()}-1"
    check(browser, language, "survey-ending")
    export = api.call("GET", f"/v1/subjects/{subject}/export", key="admin", expect=200).json()
    assert export["values"]["shoe_size"]["value"] == 42 and export["values"]["shoe_size"]["source"] == "survey"
