"""The operator console (issue 7) against a real `candor demo`, on every backend.

A browser walk (headless Chromium through Selenium) signs in as the demo IT operator in English and
Hebrew and goes through every page: the at-a-glance charts, finding a person and seeing their profile
for a purpose, handling a rights request (verify, extend with a reason, complete), the audit log that
recorded the view, and signing out. Every page is checked with axe-core (no serious or critical
violation), for its language and direction, for anything its Content-Security-Policy blocked, and a
screenshot is saved outside git (CANDOR_SCREENSHOTS, default /tmp/candor-screenshots).

The bad input of the issue is checked over plain HTTP: a wrong password, a locked account, a session
that is not (or no longer) valid, missing and wrong CSRF tokens, and an operator whose team lacks the
role or the purpose a page needs.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import CANDOR_BIN, page_left
from test_pages import SCREENSHOTS, browser, serious_violations  # noqa: F401 - the browser fixture is shared

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def operator(server, team: str) -> dict:
    """The demo operator of a team, as `candor demo` saved it in demo-keys.json."""
    return next(account for account in server.operators if account["team"] == team)


def signed_in(server, team: str) -> requests.Session:
    """A client signed in to the console as the demo operator of `team`."""
    session = requests.Session()
    page = session.get(server.base_url + "/console/login", timeout=30)
    account = operator(server, team)
    answer = session.post(server.base_url + "/console/login", allow_redirects=False, timeout=30,
                          data={"csrf": CSRF.search(page.text).group(1), "email": account["email"], "password": account["password"]})
    assert answer.status_code == 303, answer.text
    return session


def page_csrf(session: requests.Session, url: str) -> str:
    return CSRF.search(session.get(url, timeout=30).text).group(1)


def new_request(server, email: str, kind: str = "access") -> str:
    answer = requests.post(server.base_url + "/v1/requests", timeout=30, headers={"Authorization": "Bearer " + server.keys["support"]},
                           json={"type": kind, "channel": "email", "jurisdiction": "gdpr", "email": email})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


# --------------------------------------------------------------------------- the browser walk


def check_page(browser, language: str, direction: str, name: str) -> None:
    root = browser.find_element(By.TAG_NAME, "html")
    assert root.get_attribute("lang") == language and root.get_attribute("dir") == direction
    blocked = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert blocked == [], blocked
    assert serious_violations(browser) == [], name
    # Nothing runs off the side of a 1024-pixel-wide laptop screen
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), f"{name} scrolls sideways"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The whole page, not only the window: the screenshots are for people to look at
    size = browser.get_window_size()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(size["width"], max(size["height"], height + 140))
    browser.save_screenshot(str(SCREENSHOTS / f"console-{name}-{language}.png"))
    browser.set_window_size(size["width"], size["height"])


def submit(browser, form_selector: str) -> None:
    form = browser.find_element(By.CSS_SELECTOR, form_selector)
    button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    button.click()
    WebDriverWait(browser, 20).until(page_left(button))


@pytest.mark.parametrize("language, direction, words", [
    ("en", "ltr", {"glance": "At a glance", "find": "Find a person", "verified": "Identity verified.", "extended": "Deadline extended.",
                   "completed": "Request completed.", "out": "You have signed out."}),
    ("he", "rtl", {"glance": "מבט כולל", "find": "חיפוש אדם", "verified": "הזהות אומתה.", "extended": "המועד הוארך.",
                   "completed": "הבקשה הושלמה.", "out": "התנתקתם."}),
])
def test_an_operator_walks_every_console_page(server, browser, language, direction, words):
    browser.delete_all_cookies()
    browser.set_window_size(1024, 900)
    # Given a rights request received by e-mail from a demo person
    request_id = new_request(server, "person00007@example.com")
    account = operator(server, "it")

    # When the IT operator follows the start page's link to the console and signs in, in their language
    browser.get(f"{server.base_url}/?lang={language}")
    browser.find_element(By.CSS_SELECTOR, "a[href='/console']").click()
    assert "/console/login" in browser.current_url
    browser.get(f"{server.base_url}/console/login?lang={language}")
    check_page(browser, language, direction, "login")
    browser.find_element(By.ID, "email").send_keys(account["email"])
    browser.find_element(By.ID, "password").send_keys(account["password"])
    submit(browser, "form[action^='/console/login']")

    # Then the keyboard reaches "skip to content" first, visibly, and it leads into the page
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.get_attribute("href").endswith("#main") and skip.value_of_css_property("outline-style") != "none"
    skip.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"

    # And the at-a-glance page shows its charts, each an image with a title and a table of its numbers
    assert browser.find_element(By.TAG_NAME, "h1").text == words["glance"]
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart[role=img]")
    assert len(charts) == 3
    for chart in charts:
        assert chart.get_attribute("aria-labelledby")
    # and the demo's declarations are counted today (200 people declared something). The figures are a
    # snapshot refreshed in the background (on PostgreSQL entries are counted once 10 s old), so wait for it.
    deadline = time.monotonic() + 90
    while True:
        browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=activity-heading] details summary").click()
        today = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=activity-heading] details tbody tr td")
        if int(today.text) >= 200 or time.monotonic() > deadline:
            break
        time.sleep(3)
        browser.refresh()
    assert int(today.text) >= 200
    assert int(browser.find_element(By.ID, "requests-open").text.replace(",", "")) >= 1
    check_page(browser, language, direction, "glance")
    # and the period switch keeps the page and marks the chosen period
    browser.find_element(By.CSS_SELECTOR, "nav.segmented a[href='/console?days=7']").click()
    assert browser.find_element(By.CSS_SELECTOR, "nav.segmented a[aria-current=page]").get_attribute("href").endswith("days=7")
    assert len(browser.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=activity-heading] details tbody tr")) == 7

    # When they look up a person by e-mail for the support purpose (the only one IT holds)
    browser.find_element(By.CSS_SELECTOR, "a.nav-people").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == words["find"]
    check_page(browser, language, direction, "people")
    browser.find_element(By.ID, "query").send_keys("person00007@example.com")
    submit(browser, "form[action='/console/people']")
    # Then the person's page shows the support profile with its provenance, and says the view was audited
    assert browser.find_element(By.TAG_NAME, "h1").text == "cus_00007"
    assert browser.find_elements(By.CSS_SELECTOR, "#profile tbody tr") or browser.find_elements(By.ID, "withheld")
    subject_url = browser.current_url
    check_page(browser, language, direction, "person")

    # When they open the request, verify the requester, extend the deadline with a reason and complete it
    browser.get(f"{server.base_url}/console/requests")
    assert browser.find_element(By.CSS_SELECTOR, f"a[href='/console/requests/{request_id}']")
    check_page(browser, language, direction, "requests")
    browser.find_element(By.CSS_SELECTOR, f"a[href='/console/requests/{request_id}']").click()
    check_page(browser, language, direction, "request")
    submit(browser, f"form[action='/console/requests/{request_id}/verify']")
    assert browser.find_element(By.ID, "done").text == words["verified"]
    due_before = browser.find_element(By.ID, "request-due").text
    # (an extension without a reason is refused next to the field, and changes nothing)
    amount = browser.find_element(By.ID, "amount")
    amount.send_keys("1")
    browser.execute_script("document.getElementById('reason').removeAttribute('required')")
    submit(browser, f"form[action='/console/requests/{request_id}/extend']")
    assert browser.find_element(By.ID, "reason-error").text
    assert browser.find_element(By.ID, "reason").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "request-due").text == due_before
    check_page(browser, language, direction, "request-error")
    browser.find_element(By.ID, "reason").send_keys("The requester sent many related requests at once.")
    submit(browser, f"form[action='/console/requests/{request_id}/extend']")
    assert browser.find_element(By.ID, "done").text == words["extended"]
    assert browser.find_element(By.ID, "request-due").text != due_before
    submit(browser, f"form[action='/console/requests/{request_id}/complete']")
    assert browser.find_element(By.ID, "done").text == words["completed"]
    assert browser.find_element(By.ID, "request-status").get_attribute("class").endswith("completed")

    # Then the audit log shows the operator's view of the person under the purpose they chose
    browser.get(f"{server.base_url}/console/audit?action=profile.read&team=it")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    subject_id = subject_url.split("/console/people/")[1].split("?")[0]
    purpose_name = {"en": "Customer support", "he": "שירות לקוחות"}[language]
    assert any(account["name"] in row and subject_id in row and purpose_name in row for row in rows), rows
    check_page(browser, language, direction, "audit")

    # And signing out ends the session: the console sends them back to sign in
    submit(browser, "form[action='/console/logout']")
    assert words["out"] in browser.find_element(By.CSS_SELECTOR, "p.note").text
    browser.get(f"{server.base_url}/console")
    assert "/console/login" in browser.current_url


# --------------------------------------------------------------------------- bad input, over HTTP


def test_a_wrong_password_is_refused_and_audited_without_the_password(server):
    session = requests.Session()
    csrf = page_csrf(session, server.base_url + "/console/login")
    wrong = "not-the-password-" + secrets.token_hex(4)
    answer = session.post(server.base_url + "/console/login", data={"csrf": csrf, "email": operator(server, "support")["email"], "password": wrong},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 401
    assert "The e-mail address or password is not right." in answer.text
    assert "candor_console=" not in answer.headers.get("Set-Cookie", "")
    # An unknown address reads exactly the same
    unknown = session.post(server.base_url + "/console/login", data={"csrf": csrf, "email": "nobody@example.com", "password": wrong},
                           allow_redirects=False, timeout=30)
    assert unknown.status_code == 401 and "The e-mail address or password is not right." in unknown.text
    # The failure is in the audit log, and the password is nowhere in it
    log = requests.get(server.base_url + "/v1/audit", params={"action": "console.login", "limit": 500}, timeout=30,
                       headers={"Authorization": "Bearer " + server.keys["admin"]})
    assert log.status_code == 200
    outcomes = [entry["outcome"] for entry in log.json()["data"]]
    assert "wrong_password" in outcomes and "unknown_operator" in outcomes
    assert wrong not in log.text


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(server):
    account = operator(server, "sales")  # no other test signs in as sales
    session = requests.Session()
    csrf = page_csrf(session, server.base_url + "/console/login")
    statuses = []
    for _ in range(5):
        statuses.append(session.post(server.base_url + "/console/login", timeout=30, allow_redirects=False,
                                     data={"csrf": csrf, "email": account["email"], "password": "wrong-" + secrets.token_hex(4)}).status_code)
    assert statuses == [401, 401, 401, 401, 423]
    right = session.post(server.base_url + "/console/login", data={"csrf": csrf, "email": account["email"], "password": account["password"]},
                         allow_redirects=False, timeout=30)
    assert right.status_code == 423
    assert "locked for 15 minutes" in right.text


def test_pages_need_a_live_session(server):
    # No cookie: the console sends the browser to sign in
    answer = requests.get(server.base_url + "/console", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/console/login")
    # A cookie that opens no session (forged, expired or signed out): sign in again, and the cookie is cleared
    forged = requests.get(server.base_url + "/console/people", cookies={"candor_console": secrets.token_hex(32)}, allow_redirects=False, timeout=30)
    assert forged.status_code == 303 and "ended=1" in forged.headers["Location"]
    assert "candor_console=;" in forged.headers["Set-Cookie"] or "Max-Age=0" in forged.headers["Set-Cookie"]
    # A form posted without a session is refused
    posted = requests.post(server.base_url + "/console/logout", data={"csrf": "x"}, cookies={"candor_console": secrets.token_hex(32)}, timeout=30)
    assert posted.status_code == 401


def test_forms_need_the_sessions_csrf_token(server):
    session = signed_in(server, "support")
    request_id = new_request(server, "person00011@example.com")
    # Without a token, or with another session's token, nothing happens
    missing = session.post(f"{server.base_url}/console/requests/{request_id}/verify", data={"method": "document"}, timeout=30)
    assert missing.status_code == 403 and "This form has expired" in missing.text
    other = page_csrf(signed_in(server, "support"), server.base_url + "/console/people")
    wrong = session.post(f"{server.base_url}/console/requests/{request_id}/verify", data={"method": "document", "csrf": other}, timeout=30)
    assert wrong.status_code == 403
    still = requests.get(f"{server.base_url}/v1/requests/{request_id}", headers={"Authorization": "Bearer " + server.keys["support"]}, timeout=30)
    assert still.json()["status"] == "received"
    # The sign-in form has its own token, bound to a browser cookie
    login = requests.post(server.base_url + "/console/login", data={"email": "support@example.com", "password": "x"}, timeout=30)
    assert login.status_code == 403
    # With the right token the same action works
    token = page_csrf(session, f"{server.base_url}/console/requests/{request_id}")
    done = session.post(f"{server.base_url}/console/requests/{request_id}/verify", data={"method": "document", "csrf": token}, allow_redirects=False, timeout=30)
    assert done.status_code == 303
    assert requests.get(f"{server.base_url}/v1/requests/{request_id}", headers={"Authorization": "Bearer " + server.keys["support"]},
                        timeout=30).json()["status"] == "verified"


def test_an_operator_sees_only_what_their_team_may(server):
    session = signed_in(server, "marketing")  # purposes newsletter, offers, research; roles read, write
    person = requests.post(server.base_url + "/v1/subjects/lookup", json={"external_id": "cus_00003"}, timeout=30,
                           headers={"Authorization": "Bearer " + server.keys["marketing"]}).json()
    # A purpose the team lacks: refused with a page that names it, and nothing of the person shown
    refused = session.get(f"{server.base_url}/console/people/{person['id']}?purpose=support", timeout=30)
    assert refused.status_code == 403
    assert "Customer support" in refused.text and "cus_00003" not in refused.text
    # Forging the lookup form with that purpose is refused the same way
    csrf = page_csrf(session, server.base_url + "/console/people")
    forged = session.post(server.base_url + "/console/people", data={"csrf": csrf, "query": "cus_00003", "purpose": "support"}, timeout=30)
    assert forged.status_code == 403
    # Pages that need a role the team lacks are refused, and not offered in the navigation
    assert session.get(server.base_url + "/console/requests", timeout=30).status_code == 403
    assert session.get(server.base_url + "/console/audit", timeout=30).status_code == 403
    home = session.get(server.base_url + "/console", timeout=30)
    assert home.status_code == 200 and "/console/audit" not in home.text and "/console/requests\"" not in home.text
    # (the home page's counts follow the API's roles too: no request, webhook or lift figures for marketing)
    assert "requests-open" not in home.text and "lift-heading" not in home.text and "Webhook deliveries" not in home.text
    # A purpose the team holds works, and the lookup itself is recorded against the operator
    allowed = session.get(f"{server.base_url}/console/people/{person['id']}?purpose=offers", timeout=30)
    assert allowed.status_code == 200 and "cus_00003" in allowed.text
    log = requests.get(server.base_url + "/v1/audit", params={"subject_id": person["id"], "team": "marketing", "purpose": "offers", "limit": 500},
                       headers={"Authorization": "Bearer " + server.keys["admin"]}, timeout=30).json()["data"]
    assert {"profile.read", "history.read", "consent.read", "decisions.read"} <= {entry["action"] for entry in log}
    assert all(entry["actor"].startswith("op_") for entry in log)


def test_bad_periods_filters_and_lookups_get_a_clear_page(server):
    session = signed_in(server, "support")
    assert session.get(server.base_url + "/console?days=12", timeout=30).status_code == 400
    assert session.get(server.base_url + "/console/requests?show=everything", timeout=30).status_code == 400
    csrf = page_csrf(session, server.base_url + "/console/people")
    not_email = session.post(server.base_url + "/console/people", data={"csrf": csrf, "query": "someone@", "purpose": "support"}, timeout=30)
    assert not_email.status_code == 422 and 'aria-invalid="true"' in not_email.text
    nobody = session.post(server.base_url + "/console/people", data={"csrf": csrf, "query": "cus_does_not_exist", "purpose": "support"}, timeout=30)
    assert nobody.status_code == 404 and "Nobody matches" in nobody.text


def test_admin_create_makes_an_operator_who_can_sign_in(server):
    if server.backend != "sqlite":
        pytest.skip("the command opens the server's SQLite file here; on PostgreSQL it takes --database-url")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}

    def admin(*arguments: str, stdin: str | None) -> subprocess.CompletedProcess:
        return subprocess.run([CANDOR_BIN, "admin", "create", "--data-dir", str(server.data_dir), "--bcrypt-cost", "4", *arguments],
                              input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, env=environment, timeout=120)

    def can_sign_in(email: str, password: str) -> bool:
        session = requests.Session()
        csrf = page_csrf(session, server.base_url + "/console/login")
        answer = session.post(server.base_url + "/console/login", data={"csrf": csrf, "email": email, "password": password}, allow_redirects=False, timeout=30)
        return answer.status_code == 303

    # A password given on standard input is used, and never printed
    chosen = "a long chosen password " + secrets.token_hex(4)
    given = admin("--email", "Dana@Example.com", "--team", "support", "--name", "Dana", stdin=chosen + "\n")
    assert given.returncode == 0, given.stdout + given.stderr
    assert "created operator op_" in given.stdout and chosen not in given.stdout
    assert can_sign_in("dana@example.com", chosen)

    # Without one, a password is generated and printed once
    generated = admin("--email", "eli@example.com", "--team", "marketing", "--name", "Eli", stdin=None)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    password = re.search(r"password \(shown once\): (\S+)", generated.stdout).group(1)
    assert len(password) >= 20 and can_sign_in("eli@example.com", password)

    # Bad input is refused, naming the field, and creates nothing
    taken = admin("--email", "dana@example.com", "--team", "support", "--name", "Dana again", stdin=chosen + "\n")
    assert taken.returncode == 1 and "email is already an operator" in taken.stdout
    short = admin("--email", "fay@example.com", "--team", "support", "--name", "Fay", stdin="short\n")
    assert short.returncode == 1 and "password must be at least 12 characters" in short.stdout
    unknown_team = admin("--email", "gil@example.com", "--team", "nobody", "--name", "Gil", stdin=chosen + "\n")
    assert unknown_team.returncode == 1 and "team no team 'nobody'" in unknown_team.stdout
    assert not can_sign_in("fay@example.com", "short")
