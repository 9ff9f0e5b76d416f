"""The console's registry pages (issue 7) against a real `candor demo`, on every backend.

Headless Chromium signs in as the demo IT operator (the team holding `admin`), in English and Hebrew, and
sets things up through the forms: a purpose (first with a mistake shown next to its field, then right), a
new notice version previewed as a word diff and published, a field serving the new purpose, an operator
whose one-time password is shown once, and an API key whose secret is shown once and then revoked. Every
page is checked with axe-core, for its language and direction and for anything the CSP blocked, and a
screenshot is saved outside git. Over plain HTTP: a team without `admin` gets 403 on each page.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import page_left

from test_console import check_page, operator, page_csrf, signed_in, submit
from test_pages import browser  # noqa: F401 - the browser fixture is shared

REGISTRY_PAGES = ["/console/purposes", "/console/purposes/newsletter", "/console/fields", "/console/teams", "/console/teams/it", "/console/keys"]


def sign_in(server, browser, language: str) -> dict:
    browser.delete_all_cookies()
    browser.set_window_size(1024, 900)
    account = operator(server, "it")
    browser.get(f"{server.base_url}/console/login?lang={language}")
    browser.find_element(By.ID, "email").send_keys(account["email"])
    browser.find_element(By.ID, "password").send_keys(account["password"])
    submit(browser, "form[action^='/console/login']")
    return account


def check(browser, language: str, direction: str, name: str) -> None:
    """The console's page checks (axe, CSP, direction, screenshot), and no table hides columns off its side."""
    check_page(browser, language, direction, name)
    clipped = browser.execute_script(
        "return [...document.querySelectorAll('.reg-scroll')].filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.firstElementChild.id)")
    assert clipped == [], f"{name}: tables wider than the page at 1024 px: {clipped}"


def press(browser, button_id: str) -> None:
    """Clicks a submit button and waits for the answer's page."""
    button = browser.find_element(By.ID, button_id)
    button.click()
    WebDriverWait(browser, 20).until(page_left(button))


def fill(browser, values: dict[str, str]) -> None:
    for name, value in values.items():
        element = browser.find_element(By.ID, name)
        if element.tag_name == "select":
            browser.find_element(By.CSS_SELECTOR, f"#{name} option[value='{value}']").click()
        else:
            element.clear()
            element.send_keys(value)


WORDS = {
    "en": {"purposes": "Purposes and notices", "created": "Created.", "published": "The new notice version is published",
           "invalid": "must be 2–64 characters", "operator": "Operator added", "key": "Key created", "revoked": "was revoked"},
    "he": {"purposes": "מטרות והודעות", "created": "נוצר.", "published": "גרסת ההודעה החדשה פורסמה",
           "invalid": "must be 2–64 characters", "lead": "הערך אינו תקין:", "operator": "המפעיל נוסף", "key": "המפתח נוצר", "revoked": "בוטל"},
}


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("he", "rtl")])
def test_an_administrator_sets_up_the_registry_through_the_console(server, browser, language, direction):
    words = WORDS[language]
    suffix = secrets.token_hex(3)
    sign_in(server, browser, language)

    # The purposes page lists the demo's purposes with their current notice
    browser.get(f"{server.base_url}/console/purposes")
    assert browser.find_element(By.TAG_NAME, "h1").text == words["purposes"]
    assert browser.find_element(By.CSS_SELECTOR, "#purpose-newsletter .pill").text.startswith("v")
    check(browser, language, direction, "registry-purposes")

    # When a purpose is entered with a bad key and no retention, each mistake is shown next to its field
    key = f"club_{suffix}"
    fill(browser, {"key": "Club Members", "names_en": "Members' club", "names_he": "מועדון החברים", "dpv_term": "CustomerRelationshipManagement",
                   "notice_en_title": "Our members' club", "notice_en_why": "To keep your points and tell you about member evenings.",
                   "notice_en_benefit": "Points on every purchase and early access to sales."})
    submit(browser, "form[action^='/console/purposes']")
    assert words["invalid"] in browser.find_element(By.ID, "key-error").text
    # On a Hebrew page the store's English detail follows a Hebrew lead.
    assert words.get("lead", "") in browser.find_element(By.ID, "key-error").text
    assert browser.find_element(By.ID, "key").get_attribute("aria-invalid") == "true"
    assert "key-error" in browser.find_element(By.ID, "key").get_attribute("aria-describedby")
    assert browser.find_element(By.ID, "retention_days-error").text
    assert browser.find_element(By.ID, "names_en").get_attribute("value") == "Members' club", "what was typed stays"
    check(browser, language, direction, "registry-purposes-error")
    # and nothing was saved
    assert requests.get(f"{server.base_url}/v1/purposes/{key}", headers={"Authorization": "Bearer " + server.keys["admin"]}, timeout=30).status_code == 404

    # When it is corrected, the purpose is created with its first notice
    fill(browser, {"key": key, "retention_days": "730"})
    submit(browser, "form[action^='/console/purposes']")
    assert browser.current_url.split("?")[0].endswith(f"/console/purposes/{key}")
    assert words["created"] in browser.find_element(By.ID, "done").text
    assert browser.find_element(By.ID, "version-1")

    # An empty part of a notice is refused next to its field, and nothing is published
    fill(browser, {"texts_en_benefit": " "})
    press(browser, "publish-button")
    assert browser.find_element(By.ID, "texts_en_benefit-error").text
    assert browser.find_element(By.ID, "texts_en_benefit").get_attribute("aria-invalid") == "true"
    assert not browser.find_elements(By.ID, "version-2")
    check(browser, language, direction, "registry-notice-error")
    fill(browser, {"texts_en_benefit": "Points on every purchase and early access to sales."})

    # When the notice is edited and previewed, the diff shows what was added and removed, and nothing is published
    fill(browser, {"texts_en_why": "To keep your points and invite you to member evenings twice a year."})
    press(browser, "preview-button")
    preview = browser.find_element(By.ID, "preview")
    assert preview.find_elements(By.CSS_SELECTOR, "ins") and preview.find_elements(By.CSS_SELECTOR, "del")
    assert preview.find_element(By.CSS_SELECTOR, "ins .visually-hidden").get_attribute("textContent").strip()
    assert not browser.find_elements(By.ID, "version-2")
    check(browser, language, direction, "registry-notice-preview")

    # And publishing saves version 2, shown with its diff against version 1
    press(browser, "publish-button")
    assert words["published"] in browser.find_element(By.ID, "done").text
    version = browser.find_element(By.ID, "version-2")
    assert "twice a year." in " ".join(element.text for element in version.find_elements(By.CSS_SELECTOR, "ins"))
    removed = " ".join(element.text for element in version.find_elements(By.CSS_SELECTOR, "del"))
    assert "tell" in removed and "about" in removed
    # (colour is not the only cue: removed words are struck through, added ones underlined)
    assert "line-through" in version.find_element(By.CSS_SELECTOR, "del").value_of_css_property("text-decoration-line")
    assert "underline" in version.find_element(By.CSS_SELECTOR, "ins").value_of_css_property("text-decoration-line")
    check(browser, language, direction, "registry-purpose")

    # A field serving the new purpose
    browser.get(f"{server.base_url}/console/fields")
    check(browser, language, direction, "registry-fields")
    field = f"club_tier_{suffix}"
    fill(browser, {"key": field, "type": "single_choice", "labels_en": "Which tier are you in?", "labels_he": "באיזו דרגה אתם?",
                   "options": "silver = Silver\ngold = Gold"})
    browser.find_element(By.ID, f"purpose-{key}").click()
    submit(browser, "form[action^='/console/fields']")
    row = browser.find_element(By.ID, f"field-{field}")
    assert "Silver" in row.text and ("Members' club" in row.text or "מועדון החברים" in row.text)

    # Teams and operators: add an operator to marketing; the password is shown once
    browser.get(f"{server.base_url}/console/teams")
    assert browser.find_element(By.ID, "team-marketing")
    check(browser, language, direction, "registry-teams")
    browser.get(f"{server.base_url}/console/teams/marketing")
    fill(browser, {"op_name": "Maya Marketer", "op_email": f"maya-{suffix}@example.com"})
    submit(browser, "form[action='/console/teams/marketing/operators']")
    assert browser.find_element(By.ID, "new-operator-heading").text == words["operator"]
    password = browser.find_element(By.ID, "new-password").text
    assert len(password) == 20
    check(browser, language, direction, "registry-team")
    browser.get(f"{server.base_url}/console/teams/marketing")
    assert password not in browser.page_source and f"maya-{suffix}@example.com" in browser.page_source

    # API keys: the secret is shown once, in a code block with a warning; then revoked with a confirmation
    browser.get(f"{server.base_url}/console/keys")
    check(browser, language, direction, "registry-keys")
    fill(browser, {"name": f"Newsletter tool {suffix}", "team": "marketing"})
    submit(browser, "form[action='/console/keys']")
    assert words["key"] in browser.find_element(By.ID, "new-key-heading").text
    secret = browser.find_element(By.ID, "new-secret").text
    # (the page's script adds a copy button next to it; without the script the code block is still selectable)
    assert browser.find_element(By.CSS_SELECTOR, "#new-key-secret button.reg-copy").text
    assert secret.startswith("cnd_sk_")
    assert requests.get(f"{server.base_url}/v1/purposes", headers={"Authorization": "Bearer " + secret}, timeout=30).status_code == 200
    check(browser, language, direction, "registry-key-created")
    browser.get(f"{server.base_url}/console/keys")
    assert secret not in browser.page_source
    row = next(element for element in browser.find_elements(By.CSS_SELECTOR, "#keys tbody tr") if f"Newsletter tool {suffix}" in element.text)
    key_id = row.get_attribute("id").removeprefix("key-")
    browser.find_element(By.ID, f"confirm-{key_id}").click()
    submit(browser, f"form[action='/console/keys/{key_id}/revoke']")
    assert words["revoked"] in browser.find_element(By.ID, "done").text
    assert requests.get(f"{server.base_url}/v1/purposes", headers={"Authorization": "Bearer " + secret}, timeout=30).status_code == 401


def test_a_team_without_admin_gets_403_on_every_registry_page(server):
    session = signed_in(server, "marketing")
    for path in REGISTRY_PAGES:
        answer = session.get(server.base_url + path, timeout=30, allow_redirects=False)
        assert answer.status_code == 403, path
        assert "admin" in answer.text
    # and its forms are refused too, with nothing created
    csrf = page_csrf(session, server.base_url + "/console")
    answer = session.post(server.base_url + "/console/teams", timeout=30, allow_redirects=False,
                          data={"csrf": csrf, "key": "takeover", "name": "Takeover", "roles": "admin"})
    assert answer.status_code == 403
    admin = {"Authorization": "Bearer " + server.keys["admin"]}
    assert requests.get(f"{server.base_url}/v1/teams/takeover", headers=admin, timeout=30).status_code == 404


def test_a_registry_form_without_its_csrf_token_is_refused(server):
    session = signed_in(server, "it")
    key = f"nocsrf_{secrets.token_hex(3)}"
    answer = session.post(server.base_url + "/console/purposes", timeout=30, allow_redirects=False,
                          data={"key": key, "names_en": "No", "legal_basis": "consent", "retention_days": "30", "dpv_term": "Marketing"})
    assert answer.status_code == 403
    admin = {"Authorization": "Bearer " + server.keys["admin"]}
    assert requests.get(f"{server.base_url}/v1/purposes/{key}", headers=admin, timeout=30).status_code == 404
