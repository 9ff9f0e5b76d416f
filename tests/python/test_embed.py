"""The embed script and in-funnel prompts, end to end.

Contract: every admin and browser endpoint answers as openapi.yaml says, on every backend, including
refusals (a foreign Origin, a forged identity signature, an answer outside the field's options); one
person's prompt history for the admin (purpose-bound, in the export) and the prompt's intro text.

Browser (headless Chromium through Selenium, on the demo shop at /demo/shop): the shoe-size prompt
appears on the product page after its delay, as an accessible dialog in English and Hebrew with its
intro above the question; the answer
is stored citing its notice versions (checked through the admin API); it does not come back within the
cooldown; it is not shown to a person whose shoe size is known; Esc dismisses it and returns focus;
identify merges an anonymous visitor's history; an onsite offer explains itself. axe-core finds no
serious or critical violation. Screenshots go to /tmp/candor-screenshots (outside git)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from test_pages import SCREENSHOTS, browser, serious_violations  # noqa: F401 - the browser fixture is shared

WORDS = {
    "en": {"question": "What is your shoe size (EU)?", "why": "Why we ask", "thanks": "Thank you", "why_offer": "Why am I seeing this?",
           "intro": "One quick question, so that we only show you shoes in your size."},
    "he": {"question": "מה מידת הנעליים שלכם", "why": "למה אנחנו שואלים", "thanks": "תודה", "why_offer": "למה אני רואה את זה?",
           "intro": "שאלה אחת קצרה, כדי שנראה לכם רק נעליים במידה שלכם."},
}


# --------------------------------------------------------------------------- helpers


def origin(server) -> str:
    return server.base_url


def browser_call(api, path: str, body: dict, *, origin_header: str | None = None, headers: dict | None = None, expect: int | None = None):
    sent = {"Origin": origin_header or api.server.base_url}
    sent.update(headers or {})
    return api.call("POST", f"/e/v1/{path}", key="publishable", json_body=body, headers=sent, expect=expect)


def new_visitor(api) -> str:
    reply = browser_call(api, "visitors", {}, expect=201)
    assert reply.headers["Access-Control-Allow-Origin"] == api.server.base_url
    return reply.json()["visitor"]


def publishable_key_id(api) -> str:
    keys = api.call("GET", "/v1/keys", expect=200).json()["data"]
    return next(k["id"] for k in keys if k["kind"] == "publishable" and k["name"] == "Demo website")


def signature(api, external_id: str) -> str:
    """What the shop's backend computes: hex HMAC-SHA256 of the user id under the identity secret."""
    secret = api.call("GET", f"/v1/keys/{publishable_key_id(api)}/identity-secret", expect=200).json()["identity_secret"]
    return hmac.new(bytes.fromhex(secret), external_id.encode(), hashlib.sha256).hexdigest()


def prompt_id(api, field: str) -> str:
    prompts = api.call("GET", "/v1/prompts", key="marketing", expect=200).json()["data"]
    return next(p["id"] for p in prompts if p["field"] == field and p["status"] == "active")


def subject_of(api, external_id: str) -> str:
    return api.call("POST", "/v1/subjects/lookup", key="marketing", json_body={"external_id": external_id}, expect=200).json()["id"]


def stored_value(api, external_id: str, field: str) -> dict | None:
    profile = api.call("GET", f"/v1/subjects/{subject_of(api, external_id)}", key="support", purpose="support", expect=200).json()["profile"]
    return profile["values"].get(field)


# --------------------------------------------------------------------------- the contract


def test_embed_assets_are_small_and_public(server, api):
    script = api.call("GET", "/embed.js", key=None, expect=200)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert len(script.content) < 20 * 1024, f"embed.js is {len(script.content)} bytes"
    assert "eval(" not in script.text and "new Function" not in script.text
    assert script.headers["Access-Control-Allow-Origin"] == "*"
    style = api.call("GET", "/embed.css", key=None, expect=200)
    assert ".candor-dialog" in style.text


def test_preflight_and_origin_allow_list(server, api):
    allowed = api.call("OPTIONS", "/e/v1/decide", key=None, headers={"Origin": server.base_url, "Access-Control-Request-Method": "POST"}, expect=204)
    assert allowed.headers["Access-Control-Allow-Origin"] == server.base_url
    refused = api.call("OPTIONS", "/e/v1/decide", key=None, headers={"Origin": "https://evil.example"}, expect=403)
    api.problem(refused, 403, "forbidden", "Origin")
    assert "Access-Control-Allow-Origin" not in refused.headers
    # A publishable key from an origin not on its list writes nothing and says why.
    api.problem(browser_call(api, "visitors", {}, origin_header="https://evil.example"), 403, "forbidden", "Origin")


def test_admin_prompts_and_identity_secret(server, api):
    bad = api.call("POST", "/v1/prompts", key="marketing", json_body={
        "name": "x", "field": "nope", "frequency": "up_to", "triggers": [{"type": "dwell", "seconds": 0}]})
    body = api.problem(bad, 422, "validation-failed")
    assert {"field", "max_displays", "triggers[0].seconds"} <= {e["field"] for e in body["errors"]}
    created = api.call("POST", "/v1/prompts", key="marketing", expect=201, json_body={
        "name": "Contact channels on exit", "field": "channels", "frequency": "once", "sample_percent": 50,
        "triggers": [{"type": "exit_intent", "url": {"match": "glob", "value": "/demo/*"}}],
        "texts": {"en": {"question": "How should we reach you?"}, "he": {"question": "איך לפנות אליכם?"}}}).json()
    assert created["status"] == "draft"
    api.call("GET", f"/v1/prompts/{created['id']}", key="marketing", expect=200)
    assert created["id"] in [p["id"] for p in api.call("GET", "/v1/prompts", key="marketing", expect=200).json()["data"]]
    replaced = api.call("PUT", f"/v1/prompts/{created['id']}", key="marketing", expect=200, json_body={
        "name": "Channels, on the way out", "field": "channels", "frequency": "once", "triggers": [{"type": "exit_intent"}]}).json()
    assert replaced["name"] == "Channels, on the way out" and replaced["created_at"] == created["created_at"]
    # Activate and pause again, so that the browser tests see only the shop's own prompts.
    assert api.call("POST", f"/v1/prompts/{created['id']}/activate", key="marketing", expect=200).json()["status"] == "active"
    assert api.call("POST", f"/v1/prompts/{created['id']}/pause", key="marketing", expect=200).json()["status"] == "paused"
    api.problem(api.call("GET", "/v1/prompts/prm_missing", key="marketing"), 404, "not-found")
    api.problem(api.call("GET", f"/v1/keys/{publishable_key_id(api)}/identity-secret", key="marketing"), 403, "forbidden")
    assert len(signature(api, "cus_any")) == 64


def test_browser_endpoints_follow_the_contract(server, api):
    visitor = new_visitor(api)
    shop = server.base_url + "/demo/shop"
    front = browser_call(api, "decide", {"visitor": visitor, "url": shop, "locale": "en"}, expect=200).json()
    assert "prompt" not in front and front["watch"]["scroll"] == [50]
    scrolled = browser_call(api, "decide", {"visitor": visitor, "url": shop, "scroll": 60, "locale": "he"}, expect=200).json()
    prompt = scrolled["prompt"]
    assert prompt["field"] == "interests" and prompt["dir"] == "rtl" and prompt["options"]
    browser_call(api, f"prompts/{prompt['id']}/display", {"visitor": visitor}, expect=200)
    notices = {n["purpose"]: n["version"] for n in prompt["notices"]}
    # An answer outside the field's options: refused, naming the value.
    api.problem(browser_call(api, f"prompts/{prompt['id']}/answer", {"visitor": visitor, "value": ["golf"], "notices": notices}),
                422, "validation-failed", "value[0]")
    answered = browser_call(api, f"prompts/{prompt['id']}/answer", {"visitor": visitor, "value": ["running"], "notices": notices}, expect=201).json()
    assert answered["field"] == "interests" and answered["notices"] == notices
    # An event prompt, its dismissal with "don't ask me again".
    other = new_visitor(api)
    tracked = browser_call(api, "track", {"visitor": other, "url": shop, "event": "added_to_cart"}, expect=200).json()
    assert tracked["prompt"]["field"] == "offer_types"
    browser_call(api, f"prompts/{tracked['prompt']['id']}/dismiss", {"visitor": other, "dont_ask_again": True}, expect=200)
    third = new_visitor(api)
    browser_call(api, "dont-ask", {"visitor": third}, expect=200)
    assert "prompt" not in browser_call(api, "decide", {"visitor": third, "url": server.base_url + "/demo/shop/product"}, expect=200).json()

    # Identify: a forged signature is refused naming it; a real one carries the anonymous answer over.
    user = "cus_py_" + secrets.token_hex(4)
    api.problem(browser_call(api, "identify", {"visitor": visitor, "id": user, "signature": "0" * 64}), 403, "forbidden", "signature")
    browser_call(api, "identify", {"visitor": visitor, "id": user, "signature": signature(api, user)}, headers={"Sec-GPC": "1"}, expect=200)
    subject = subject_of(api, user)
    assert api.call("GET", f"/v1/subjects/{subject}", key="marketing", purpose="research", expect=200).json()["subject"]["has_opted_out_of_sale"]
    # Onsite offers for the identified person, and their outcomes.
    offers = browser_call(api, "offers", {"visitor": visitor, "locale": "en", "url": shop}, expect=200).json()
    assert offers["offers"], offers
    assert all(o["why"] for o in offers["offers"])
    browser_call(api, f"decisions/{offers['decision_id']}/outcomes",
                 {"visitor": visitor, "type": "impression", "offer_id": offers["offers"][0]["offer_id"]}, expect=201)
    api.problem(browser_call(api, f"decisions/{offers['decision_id']}/outcomes", {"visitor": other, "type": "click"}), 404, "not-found")


def test_person_prompt_history_and_intro_text(server, api):
    # A signed-in customer is asked for their shoe size in Hebrew, with the prompt's intro above the question
    user = "cus_hist_" + secrets.token_hex(4)
    visitor = new_visitor(api)
    browser_call(api, "identify", {"visitor": visitor, "id": user, "signature": signature(api, user)}, expect=200)
    decided = browser_call(api, "decide", {"visitor": visitor, "url": server.base_url + "/demo/shop/product", "locale": "he"}, expect=200).json()
    prompt = decided["prompt"]
    assert prompt["field"] == "shoe_size" and prompt["intro"] == WORDS["he"]["intro"]
    browser_call(api, f"prompts/{prompt['id']}/display", {"visitor": visitor}, expect=200)
    browser_call(api, f"prompts/{prompt['id']}/dismiss", {"visitor": visitor}, expect=200)
    subject = subject_of(api, user)
    # The admin's view of the person: one display, one dismissal, no answer, asked again later
    history = api.call("GET", f"/v1/subjects/{subject}/prompts", key="support", purpose="support", expect=200).json()
    assert history["subject_id"] == subject and history["dont_ask"] is False
    [item] = history["prompts"]
    assert item["prompt_id"] == prompt["id"] and item["field"] == "shoe_size" and item["name"]
    assert (item["displays"], item["dismissals"], item["answers"]) == (1, 1, 0)
    assert "last_shown_at" in item and "last_answered_at" not in item
    # Purpose-bound: reading for the newsletter shows no prompt for a field that does not serve it
    assert api.call("GET", f"/v1/subjects/{subject}/prompts", key="marketing", purpose="newsletter", expect=200).json()["prompts"] == []
    # Refusals: no purpose, a purpose the team does not hold, an unknown person
    api.problem(api.call("GET", f"/v1/subjects/{subject}/prompts", key="support"), 400, "malformed-request", "Candor-Purpose")
    api.problem(api.call("GET", f"/v1/subjects/{subject}/prompts", key="support", purpose="offers"), 403, "forbidden", "Candor-Purpose")
    api.problem(api.call("GET", "/v1/subjects/sub_missing/prompts", key="support", purpose="support"), 404, "not-found")
    # The person's export carries the same history, and the read is listed among who used their data
    export = api.call("GET", f"/v1/subjects/{subject}/export", expect=200).json()
    assert export["prompts"]["prompts"][0]["dismissals"] == 1
    assert any(use["action"] == "prompt_history.read" for use in export["shared_with"])
    # Once erased, nothing more is read
    api.call("DELETE", f"/v1/subjects/{subject}", key="support", expect=200)
    api.problem(api.call("GET", f"/v1/subjects/{subject}/prompts", key="support", purpose="support"), 410, "subject-erased")

    # An intro that is too long, or spread over lines, is refused naming the field, and nothing is created
    before = len(api.call("GET", "/v1/prompts", key="marketing", expect=200).json()["data"])
    body = {"name": "Channels on exit", "field": "channels", "frequency": "once", "triggers": [{"type": "exit_intent"}]}
    for intro in ["x" * 201, "one\ntwo", "   "]:
        reply = api.call("POST", "/v1/prompts", key="marketing", json_body={**body, "texts": {"en": {"question": "How should we reach you?", "intro": intro}}},
                         validate_request=False)
        api.problem(reply, 422, "validation-failed", "texts.en.intro")
    assert len(api.call("GET", "/v1/prompts", key="marketing", expect=200).json()["data"]) == before


def test_oversized_payloads_are_refused(server, api):
    visitor = new_visitor(api)
    reply = browser_call(api, "decide", {"visitor": visitor, "url": "/" + "x" * 10_000})
    api.problem(reply, 413, "payload-too-large", "body")


def test_demo_shop_page(server, api):
    page = api.call("GET", "/demo/shop", key=None, params={"lang": "he"}, expect=200)
    assert 'dir="rtl"' in page.text and "/embed.js" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- in the browser


def browser_only(server):
    if server.backend != "sqlite":
        pytest.skip("the browser scenarios do not depend on the backend")


def fresh_browser(driver, server) -> None:
    """A new visitor: the shop's origin forgets its stored visitor id."""
    driver.get(server.base_url + "/demo/shop?lang=en")
    driver.execute_script("window.localStorage.clear()")


def dialog(driver, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, "[role=dialog]")), None))


def no_dialog_within(driver, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if driver.find_elements(By.CSS_SELECTOR, "[role=dialog]"):
            return False
        time.sleep(0.25)
    return True


def shot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def no_csp_errors(driver) -> None:
    blocked = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
    assert blocked == []


@pytest.mark.parametrize("language", ["en", "he"])
def test_prompt_on_its_trigger_is_stored_with_its_notice_and_respects_the_cooldown(server, api, browser, language):
    browser_only(server)
    fresh_browser(browser, server)
    user = f"cus_{language}_{secrets.token_hex(3)}"
    # Given a signed-in customer on the product page
    started = time.monotonic()
    browser.get(f"{server.base_url}/demo/shop/product?lang={language}&user={user}")
    # Then the shoe-size prompt appears after its three-second delay, as a labelled dialog with focus inside
    box = dialog(browser)
    assert time.monotonic() - started >= 2.5
    assert box.get_attribute("aria-modal") == "true" and box.get_attribute("dir") == ("rtl" if language == "he" else "ltr")
    heading = browser.find_element(By.ID, box.get_attribute("aria-labelledby"))
    assert WORDS[language]["question"] in heading.text
    # The intro leads into the question, above it, as plain text that describes the dialog
    intro = browser.find_element(By.ID, box.get_attribute("aria-describedby"))
    assert intro.text == WORDS[language]["intro"] and intro.tag_name == "p"
    assert intro.location["y"] < heading.location["y"]
    assert box.find_element(By.TAG_NAME, "input") == browser.switch_to.active_element
    box.find_element(By.TAG_NAME, "summary").click()
    assert WORDS[language]["why"] in box.text
    no_csp_errors(browser)
    assert serious_violations(browser) == []
    shot(browser, f"prompt-{language}")
    # When they answer
    box.find_element(By.TAG_NAME, "input").send_keys("42")
    box.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: WORDS[language]["thanks"] in box.text)
    WebDriverWait(browser, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[role=dialog]"))
    # Then the answer is stored as a declaration from the prompt, citing the notice versions shown
    stored = stored_value(api, user, "shoe_size")
    assert stored["value"] == 42 and stored["source"] == "prompt"
    assert stored["collection_point"] == "prompt:" + prompt_id(api, "shoe_size")
    assert stored["notices"] == {"offers": 1, "support": 1}
    # And nothing comes back within the cooldown
    browser.get(f"{server.base_url}/demo/shop/product?lang={language}&user={user}")
    assert no_dialog_within(browser, 5)


def test_no_prompt_for_a_field_already_declared(server, api, browser):
    browser_only(server)
    fresh_browser(browser, server)
    user = "cus_known_" + secrets.token_hex(3)
    subject = api.call("POST", "/v1/subjects", key="marketing", json_body={"external_id": user}, expect=201).json()["id"]
    api.call("POST", f"/v1/subjects/{subject}/declarations", key="marketing", expect=201, json_body={
        "values": [{"field": "shoe_size", "value": 44}], "notices": {"offers": 1, "support": 1}, "source": "preference_center"})
    browser.get(f"{server.base_url}/demo/shop/product?lang=en&user={user}")
    assert no_dialog_within(browser, 5)


def test_escape_dismisses_returns_focus_and_identify_merges_history(server, api, browser):
    browser_only(server)
    fresh_browser(browser, server)
    # An anonymous visitor on the product page, with focus on the "add to cart" button
    browser.get(f"{server.base_url}/demo/shop/product?lang=en")
    button = browser.find_element(By.ID, "add-to-cart")
    browser.execute_script("arguments[0].focus()", button)
    box = dialog(browser)
    # Tab stays inside the dialog
    for _ in range(8):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        assert browser.execute_script("return arguments[0].contains(document.activeElement)", box)
    # Esc closes it (a dismissal) and gives focus back
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    WebDriverWait(browser, 5).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[role=dialog]"))
    assert browser.switch_to.active_element == button
    # The dismissal is respected on the next page view
    browser.get(f"{server.base_url}/demo/shop/product?lang=en")
    assert no_dialog_within(browser, 4.5)
    # The same browser signs in: its history becomes the person's, so nothing comes back …
    user = "cus_merge_" + secrets.token_hex(3)
    browser.get(f"{server.base_url}/demo/shop/product?lang=en&user={user}")
    assert no_dialog_within(browser, 4.5)
    # … not even in another browser of the same person (a new visitor, identified as them)
    browser.execute_script("window.localStorage.clear()")
    browser.get(f"{server.base_url}/demo/shop/product?lang=en&user={user}")
    assert no_dialog_within(browser, 4.5)
    # whereas a new person in a new browser is asked
    browser.execute_script("window.localStorage.clear()")
    browser.get(f"{server.base_url}/demo/shop/product?lang=en&user=cus_new_{secrets.token_hex(3)}")
    dialog(browser)


@pytest.mark.parametrize("language", ["en", "he"])
def test_onsite_offer_explains_itself(server, api, browser, language):
    browser_only(server)
    offer = None
    for _ in range(6):  # the holdout (10% by default) gets the generic offer; a runner outside it gets the personal one
        fresh_browser(browser, server)
        user = "cus_runner_" + secrets.token_hex(3)
        subject = api.call("POST", "/v1/subjects", key="marketing", json_body={"external_id": user}, expect=201).json()["id"]
        api.call("POST", f"/v1/subjects/{subject}/declarations", key="marketing", expect=201, json_body={
            "values": [{"field": "interests", "value": ["running"]}, {"field": "shoe_size", "value": 41}],
            "notices": {"newsletter": 1, "offers": 1, "research": 1, "support": 1}, "source": "preference_center"})
        api.call("POST", f"/v1/subjects/{subject}/consents", key="marketing", expect=201, json_body={
            "consents": [{"purpose": "offers", "status": "granted", "method": "checkbox", "notice_version": 1}]})
        browser.get(f"{server.base_url}/demo/shop?lang={language}&user={user}")
        offers = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".candor-offer"))
        if "20%" in offers[0].text:
            offer = offers[0]
            break
    assert offer is not None, "no personalized offer in six tries"
    toggle = offer.find_element(By.CSS_SELECTOR, ".candor-why-button")
    assert toggle.text == WORDS[language]["why_offer"] and toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    why = offer.find_element(By.CSS_SELECTOR, ".candor-why-offer")
    assert why.is_displayed() and toggle.get_attribute("aria-expanded") == "true"
    assert {"en": "Running", "he": "ריצה"}[language] in why.text, "the declared option reads as its label"
    link = why.find_element(By.TAG_NAME, "a").get_attribute("href")
    assert "/p/" in link
    no_csp_errors(browser)
    assert serious_violations(browser) == []
    browser.set_window_size(1280, 1100)
    shot(browser, f"shop-{language}")
    browser.set_window_size(1280, 1000)
    # The preference link opens the person's preference center
    assert requests.get(link, timeout=30).status_code == 200
