"""The demo site in a real Chromium, against the real `tagwire serve --demo` process.

What is checked:
  a) before consent nothing reaches /collect and nothing is stored in the browser;
  b) after consent a lead, reported by the thank-you page, travels browser -> loader ->
     /collect -> tags -> the demo receiver and the five fake platforms, with hashed
     contact details only, and shows up on the events page;
  c) every demo page runs under its strict CSP (nonces, Trusted Types) without a violation
     or a page error.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    Visit,
    hits_of,
    launch,
    new_visit,
    post_body,
    require_chromium,
    screenshot,
)
from tests.helpers import tagwire_process

require_chromium()
pytestmark = pytest.mark.browser


PAGES = ["/demo/", "/demo/lead", "/demo/thanks", "/demo/events"]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- the server process ------------------------------------------------------------------


def _http() -> httpx.Client:
    # trust_env=False: a proxy configured in the environment must not see loopback traffic.
    return httpx.Client(trust_env=False, timeout=5.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("tagwire-data")
    with tagwire_process("--demo", env={"TAGWIRE_DATA_DIR": str(data_dir)}) as base:
        yield base


def receiver_events(base: str) -> list[dict]:
    with _http() as http:
        response = http.get(f"{base}/demo/receiver/events")
    assert response.status_code == 200, response.text
    events = response.json()
    assert isinstance(events, list), events
    return events


def wait_for_receiver_event(base: str, event_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        events = receiver_events(base)
        for event in events:
            if event.get("event_id") == event_id:
                return event
        if time.monotonic() > deadline:
            pytest.fail(
                f"event {event_id} not delivered within {timeout:.0f} s; "
                f"receiver has: {json.dumps(events)[:2000]}"
            )
        time.sleep(0.2)


# ---- the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    """A fresh context per test, so consent and cookies never leak between tests."""
    v = new_visit(browser)
    try:
        yield v
    finally:
        v.context.close()


def fill_lead_form(page: Page, first_name: str, email: str, phone: str = "") -> None:
    page.fill("#first_name", first_name)
    page.fill("#email", email)
    if phone:
        page.fill("#phone", phone)


# ---- a) nothing before consent -----------------------------------------------------------


def test_nothing_is_sent_or_stored_before_consent(server: str, visit: Visit) -> None:
    page, rec = visit.page, visit.rec
    baseline = receiver_events(server)
    banner = page.locator("#consent-banner")

    page.goto(f"{server}/demo/")
    expect(banner).to_be_visible()
    screenshot(page, "demo-home-consent-banner")

    page.goto(f"{server}/demo/lead")
    expect(banner).to_be_visible()
    screenshot(page, "demo-lead-consent-banner")
    page.click("#consent-decline")
    expect(banner).to_be_hidden()

    fill_lead_form(page, "Jane", "jane.doe@example.com", "+49 30 1234567")
    page.click("#lead-submit")
    page.wait_for_url(f"{server}/demo/thanks?lead_id=*")
    assert re.fullmatch(rf"{re.escape(server)}/demo/thanks\?lead_id=lead-[0-9a-f]{{24}}", page.url)
    # Declining is not remembered either: the banner asks again on the next page.
    expect(banner).to_be_visible()
    # The thank-you page does not claim a request that was never sent.
    expect(page.locator("#thanks-sent")).to_be_hidden()
    expect(page.locator("#thanks-not-sent")).to_be_visible()
    expect(page.locator("h1:visible")).to_have_text("Your request was not sent")
    expect(page.locator("#consent-state")).to_have_text(
        "Consent: not given. Nothing is sent or stored."
    )
    screenshot(page, "demo-thanks-declined")
    page.wait_for_timeout(500)

    assert rec.collect_requests() == [], [r.url for r in rec.collect_requests()]
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("window.localStorage.length") == 0
    assert page.evaluate("window.sessionStorage.length") == 0
    assert visit.context.cookies() == []
    for request in rec.requests:
        text = (request.url + post_body(request)).lower()
        assert "jane" not in text, request.url
        assert "1234567" not in text, request.url
        assert "/fake/" not in request.url, request.url
        assert "consented" not in request.url, request.url
    rec.assert_first_party_only(server)

    page.wait_for_timeout(1_000)  # give a (wrongly) sent hit time to be delivered
    assert receiver_events(server) == baseline
    rec.assert_clean()


# ---- b) the lead, end to end -------------------------------------------------------------


def test_lead_is_hashed_delivered_and_listed(server: str, visit: Visit) -> None:
    page, rec = visit.page, visit.rec
    raw_email = "  Jane.Doe@Example.com "
    expected_em = sha256_hex("jane.doe@example.com")
    expected_fn = sha256_hex("jane")

    page.goto(f"{server}/demo/?gclid=test-gclid-123")
    with page.expect_request(
        lambda r: urlparse(r.url).path == "/collect" and '"page_view"' in post_body(r)
    ) as page_view_info:
        page.click("#consent-accept")
    expect(page.locator("#consent-banner")).to_be_hidden()
    page_view_response = page_view_info.value.response()
    assert page_view_response is not None
    # 200: the answer carries the page view's browser commands (Meta, TikTok)
    assert page_view_response.status == 200, f"/collect answered {page_view_response.status}"
    [page_view] = hits_of(page_view_info.value)
    assert page_view["event"] == "page_view"
    assert page_view["click"] == {"gclid": "test-gclid-123"}
    assert page.evaluate("localStorage.getItem('demo_consent_choice')") == "granted"

    page.click("main a[href='/demo/lead']")
    page.wait_for_url(f"{server}/demo/lead")
    expect(page.locator("#consent-banner")).to_have_count(0)

    fill_lead_form(page, " Jane ", raw_email, "+1 (650) 555-1234")
    with page.expect_request(
        lambda r: urlparse(r.url).path == "/collect" and '"lead"' in post_body(r)
    ) as lead_info:
        page.click("#lead-submit")
        page.wait_for_url(f"{server}/demo/thanks?lead_id=*")

    expect(page.locator("#thanks-sent")).to_be_visible()
    expect(page.locator("#thanks-not-sent")).to_be_hidden()
    lead_request = lead_info.value
    assert lead_request.method == "POST"
    assert lead_request.url == f"{server}/collect?id=demo"
    assert lead_request.headers.get("content-type", "").startswith("text/plain")
    response = lead_request.response()
    assert response is not None
    assert response.status == 200, f"/collect answered {response.status}"

    [lead] = [h for h in hits_of(lead_request) if h["event"] == "lead"]
    assert set(lead) <= {"v", "event", "event_id", "ts", "page", "consent", "user", "data", "click"}
    assert lead["v"] == 1
    assert UUID4.match(lead["event_id"]), lead["event_id"]
    assert abs(lead["ts"] - time.time() * 1000) < 60_000
    assert lead["page"]["url"] == page.url
    assert lead["consent"] == {
        "ad_storage": "granted",
        "analytics_storage": "granted",
        "ad_user_data": "granted",
        "ad_personalization": "granted",
        "source": "api",
    }
    # TikTok and Google hash the phone in E.164 form with "+", Meta as digits only
    assert lead["user"] == {
        "em": expected_em,
        "fn": expected_fn,
        "ph": sha256_hex("+16505551234"),
        "ph_d": sha256_hex("16505551234"),
    }
    lead_id = page.url.split("lead_id=")[1]
    assert lead["data"] == {"value": 50, "currency": "EUR", "lead_id": lead_id}
    assert lead["click"] == {"gclid": "test-gclid-123"}

    # No request the browser made carries the plaintext.
    for request in rec.requests:
        text = (request.url + post_body(request)).lower()
        assert "jane" not in text, f"plaintext in {request.method} {request.url}"
        assert "example.com" not in text, f"plaintext in {request.method} {request.url}"
        assert "6505551234" not in text, f"plaintext in {request.method} {request.url}"
        assert "555-1234" not in text, f"plaintext in {request.method} {request.url}"
    rec.assert_first_party_only(server)

    # The HttpOnly visitor cookie exists but is invisible to scripts.
    assert "tw_id" not in page.evaluate("document.cookie")
    cookies = {c["name"]: c for c in visit.context.cookies()}
    assert "tw_id" in cookies, cookies
    assert cookies["tw_id"]["httpOnly"] is True

    delivered = wait_for_receiver_event(server, lead["event_id"])
    assert delivered["event"] == "Lead"
    assert delivered["event_id"] == lead["event_id"]
    assert delivered["user"]["em"] == expected_em
    assert all(SHA256_HEX.match(v) for v in delivered["user"].values()), delivered["user"]
    assert delivered["data"]["lead_id"] == lead["data"]["lead_id"]
    assert delivered["click"].get("gclid") == "test-gclid-123"
    assert "jane" not in json.dumps(delivered).lower()

    page.goto(f"{server}/demo/events")
    row = page.locator(f'#events tbody tr[data-event-id="{lead["event_id"]}"]')
    expect(row).to_have_count(1, timeout=5_000)
    expect(row).to_contain_text("Lead")
    expect(row).to_contain_text(lead["data"]["lead_id"])
    expect(row).to_contain_text(expected_em[:12])
    expect(row).to_contain_text("50")
    expect(page.locator("#events tbody tr.empty-row")).to_have_count(0)

    # ... and it was accepted by all five fake platforms, under each platform's name.
    at_platforms = page.locator(f'#platforms tbody tr[data-event-id="{lead["event_id"]}"]')
    expect(at_platforms).to_have_count(1, timeout=15_000)
    for platform, name in (
        ("meta", "Lead"),
        ("tiktok", "SubmitForm"),
        ("ga4", "generate_lead"),
        ("linkedin", "conversion 12345678"),  # the conversion rule
        ("google_ads", "conversion 987654321"),  # the conversion action, keyed by lead id
    ):
        cell = at_platforms.locator(f'td[data-platform="{platform}"]')
        expect(cell).to_have_text(name, timeout=15_000)
        expect(cell).to_have_class("at-platform")
    screenshot(page, "demo-events")
    rec.assert_clean()


# ---- withdrawal ---------------------------------------------------------------------------


def test_withdrawing_consent_deletes_the_cookies_before_the_footer_says_so(
    server: str, visit: Visit
) -> None:
    page = visit.page
    page.goto(f"{server}/demo/lead?fbclid=fb-w")
    with page.expect_response(lambda r: urlparse(r.url).path == "/collect"):
        page.click("#consent-accept")
    fill_lead_form(page, "Jane", "jane.doe@example.com")
    page.click("#lead-submit")
    page.wait_for_url(f"{server}/demo/thanks?lead_id=*")
    expect(page.locator("#thanks-sent")).to_be_visible()
    expect(page.locator("#thanks-not-sent")).to_be_hidden()
    screenshot(page, "demo-thanks-sent")
    names = {c["name"] for c in visit.context.cookies()}
    assert {"tw_id", "_fbp", "_fbc"} <= names, names

    page.click("#consent-withdraw")
    withdrawn = "Consent: withdrawn. Nothing is sent; the cookies and storage keys tagwire set"
    expect(page.locator("#consent-state")).to_have_text(withdrawn + " are deleted.")
    screenshot(page, "demo-thanks-after-withdrawal")
    assert visit.context.cookies() == []
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.locator("#consent-banner")).to_be_visible()
    # The lead was reported before the withdrawal: the page still says so.
    expect(page.locator("#thanks-sent")).to_be_visible()

    page.goto(f"{server}/demo/")
    expect(page.locator("#consent-state")).to_have_text(
        "Consent: not given. Nothing is sent or stored."
    )
    assert visit.context.cookies() == []
    visit.rec.assert_clean()


# ---- c) CSP ------------------------------------------------------------------------------


def _tour(server: str, visit: Visit) -> None:
    page = visit.page
    for path in PAGES:
        response = page.goto(f"{server}{path}")
        assert response is not None
        assert response.status == 200, path
        csp = response.headers.get("content-security-policy", "")
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce, f"{path}: no script nonce in CSP {csp!r}"
        assert "require-trusted-types-for 'script'" in csp, csp
        assert "{{nonce}}" not in response.text(), f"{path}: nonce placeholder not replaced"
        scripts = page.eval_on_selector_all("script", "els => els.map(e => e.nonce)")
        assert scripts, path
        assert set(scripts) == {nonce.group(1)}, path
        # demo.js ran (it adds the consent line to the footer) ...
        expect(page.locator("#consent-state")).to_have_count(1)
        if path == "/demo/events":
            # ... and so did events.js.
            expect(page.locator("#events-status")).not_to_have_text("Loading…")


def test_pages_run_under_strict_csp(server: str, visit: Visit) -> None:
    page, rec = visit.page, visit.rec
    _tour(server, visit)  # no consent
    page.goto(f"{server}/demo/")
    page.click("#consent-accept")
    _tour(server, visit)  # consent stored
    page.wait_for_timeout(1_500)  # let the events page poll a couple of times
    rec.assert_clean()
    rec.assert_first_party_only(server)

    # The detector itself works: an inline style attribute is refused by this CSP.
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_timeout(200)
    assert rec.csp_violations(), "a deliberate CSP violation went unnoticed:\n" + "\n".join(
        rec.console
    )
