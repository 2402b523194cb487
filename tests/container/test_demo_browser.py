"""The demo site in a real Chromium, against the real `tagwire serve --demo` process.

What is checked:
  a) before consent nothing reaches /collect and nothing is stored in the browser;
  b) after consent a lead travels browser -> /collect -> webhook tag -> demo receiver with
     hashed contact details only, and shows up on the events page;
  c) every demo page runs under its strict CSP (nonces, Trusted Types) without a violation
     or a page error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect, sync_playwright

from tests.helpers import tagwire_process

pytestmark = pytest.mark.browser


def _find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = _find_chromium()
IN_CI = bool(os.environ.get("CI"))

if CHROMIUM is None and not IN_CI:
    pytest.skip(
        "Chromium not installed (/usr/bin/chromium or `chromium` on PATH); "
        "these tests never download a browser. Install Debian's chromium to run them.",
        allow_module_level=True,
    )

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PAGES = ["/demo/", "/demo/lead", "/demo/thanks", "/demo/events"]
CLICK_IDS = ("fbclid", "gclid", "ttclid", "li_fat_id")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CSP_MARKERS = ("Content Security Policy", "Refused to")

# Chrome logs CSP violations to the console itself; this listener reports them as well (with
# the directive), so a violation can't slip by as a differently worded message.
VIOLATION_REPORTER = """
document.addEventListener('securitypolicyviolation', function (e) {
  console.error('Content Security Policy violation: ' + e.violatedDirective +
    ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


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
    if CHROMIUM is None:
        pytest.fail("CI is set but Chromium is missing (/usr/bin/chromium or `chromium` on PATH)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Recorder:
    """Everything the pages of one browser context did: requests, console, page errors."""

    requests: list[Request] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", lambda request: self.requests.append(request))
        page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def collect_requests(self) -> list[Request]:
        return [r for r in self.requests if urlparse(r.url).path == "/collect"]

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if any(marker in m for marker in CSP_MARKERS)]

    def assert_clean(self) -> None:
        assert self.csp_violations() == [], "CSP violations:\n" + "\n".join(self.console)
        assert self.page_errors == [], "page errors:\n" + "\n".join(self.page_errors)

    def assert_first_party_only(self, base: str) -> None:
        foreign = [
            r.url
            for r in self.requests
            if not r.url.startswith(base + "/") and not r.url.startswith("data:")
        ]
        assert foreign == [], f"requests left the demo origin: {foreign}"


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    rec: Recorder


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    """A fresh context per test, so consent and cookies never leak between tests."""
    context = browser.new_context()
    context.add_init_script(VIOLATION_REPORTER)
    context.set_default_timeout(10_000)
    rec = Recorder()
    context.on("page", rec.attach)
    page = context.new_page()
    try:
        yield Visit(context, page, rec)
    finally:
        context.close()


def post_body(request: Request) -> str:
    return request.post_data or ""


def hits_of(request: Request) -> list[dict]:
    body = json.loads(post_body(request))
    return body if isinstance(body, list) else [body]


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

    page.goto(f"{server}/demo/lead")
    expect(banner).to_be_visible()
    page.click("#consent-decline")
    expect(banner).to_be_hidden()

    fill_lead_form(page, "Jane", "jane.doe@example.com", "+49 30 1234567")
    page.click("#lead-submit")
    page.wait_for_url(f"{server}/demo/thanks")
    assert page.url == f"{server}/demo/thanks", "the form leaked something into the URL"
    # Declining is not remembered either: the banner asks again on the next page.
    expect(banner).to_be_visible()

    assert rec.collect_requests() == [], [r.url for r in rec.collect_requests()]
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("window.localStorage.length") == 0
    assert page.evaluate("window.sessionStorage.length") == 0
    assert visit.context.cookies() == []
    for request in rec.requests:
        text = (request.url + post_body(request)).lower()
        assert "jane" not in text, request.url
        assert "1234567" not in text, request.url
    rec.assert_first_party_only(server)

    time.sleep(1.0)  # give a (wrongly) sent hit time to be delivered
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
    assert page.evaluate("localStorage.getItem('tw_demo_consent')") == "granted"

    page.click("main a[href='/demo/lead']")
    page.wait_for_url(f"{server}/demo/lead")
    expect(page.locator("#consent-banner")).to_have_count(0)

    fill_lead_form(page, " Jane ", raw_email, "+1 (650) 555-1234")
    with page.expect_request(
        lambda r: urlparse(r.url).path == "/collect" and '"lead"' in post_body(r)
    ) as lead_info:
        page.click("#lead-submit")
    page.wait_for_url(f"{server}/demo/thanks")
    assert page.url == f"{server}/demo/thanks"

    lead_request = lead_info.value
    assert lead_request.method == "POST"
    assert lead_request.url == f"{server}/collect?id=demo"
    assert lead_request.headers.get("content-type", "").startswith("text/plain")
    response = lead_request.response()
    assert response is not None
    assert response.status == 200, f"/collect answered {response.status}"

    [lead] = hits_of(lead_request)
    assert set(lead) <= {"v", "event", "event_id", "ts", "page", "consent", "user", "data", "click"}
    assert lead["v"] == 1
    assert lead["event"] == "lead"
    assert UUID4.match(lead["event_id"]), lead["event_id"]
    assert abs(lead["ts"] - time.time() * 1000) < 60_000
    assert lead["page"]["url"] == f"{server}/demo/lead"
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
    assert lead["data"]["value"] == 50
    assert lead["data"]["currency"] == "EUR"
    assert UUID4.match(lead["data"]["lead_id"]), lead["data"]
    assert lead["click"] == {"gclid": "test-gclid-123"}

    # No request the browser made carries the plaintext.
    for request in rec.requests:
        text = (request.url + post_body(request)).lower()
        assert "jane" not in text, f"plaintext in {request.method} {request.url}"
        assert "example.com" not in text, f"plaintext in {request.method} {request.url}"
        assert "555" not in text, f"plaintext in {request.method} {request.url}"
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
    rec.assert_clean()


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
