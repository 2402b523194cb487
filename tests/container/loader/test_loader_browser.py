"""The loader in real Chromium, against a real `tagwire serve --demo` process.

The demo pages send the strict CSP (nonce + 'strict-dynamic', Trusted Types), load the
loader with the head snippet, and point the pixel libraries at the fake platforms'
stand-ins. A test CMP implementing `__tcfapi` is installed as an init script, which runs
before any page script, as a CMP's stub in the head would. Every request of every page is
recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from config.publishing import ControlPlane
from config.signing import generate_keypair, load_private_key
from config.sqlite_store import SQLiteStore
from container.loader import build_loader, build_pixels, snippet
from container.loader.bundle import PIXELS_PATH
from container.loader.endpoint import LOADER_PATH
from tests.browser import Visit, hits_of, launch, new_visit, post_body, require_chromium
from tests.helpers import tagwire_process
from variables.pii import normalize
from variables.tcf import TCData, encode_tc_string

require_chromium()
pytestmark = pytest.mark.browser

VECTORS = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "pii_vectors.json").read_text(encoding="utf-8")
)
API_FIELD = {
    "em": "email", "em_g": "email", "ph": "phone", "ph_d": "phone", "fn": "first_name",
    "ln": "last_name", "ct": "city", "st": "state", "zp": "zip", "country": "country",
    "external_id": "external_id",
}  # fmt: skip
EMAIL = "Jane.Roe@Example.org"
CONFIG = re.compile(r"\}\)\(window,document,(\{.*\})\);\s*$")

TEST_CMP = """
(function () {
  var listeners = [];
  var state = {eventStatus: 'cmpuishown', cmpStatus: 'loaded', gdprApplies: true,
    tcString: '', purpose: {consents: {}}, vendor: {consents: {}}};
  window.__tcfapi = function (command, version, callback, parameter) {
    if (command === 'ping') {
      callback({gdprApplies: true, cmpLoaded: true, cmpStatus: 'loaded',
        displayStatus: 'visible', apiVersion: '2.2'});
    } else if (command === 'addEventListener') {
      listeners.push(callback);
      callback(Object.assign({listenerId: listeners.length - 1}, state), true);
    } else if (command === 'removeEventListener') {
      listeners[parameter] = null;
      callback(true);
    }
  };
  window.__testCmpDecide = function (next) {
    state = next;
    listeners.forEach(function (listener, id) {
      if (listener) listener(Object.assign({listenerId: id}, state), true);
    });
  };
})();
"""
GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def tc_string(purposes: set[int]) -> str:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    data = TCData(
        created=now,
        last_updated=now,
        cmp_id=300,
        cmp_version=1,
        vendor_list_version=120,
        purpose_consents=frozenset(purposes),
        vendor_consents=frozenset({755, 804, 986}),
        disclosed_vendors=frozenset({755, 804, 986}),
    )
    return encode_tc_string(data)


def tc_data(purposes: set[int]) -> dict:
    return {
        "eventStatus": "useractioncomplete",
        "cmpStatus": "loaded",
        "gdprApplies": True,
        "tcString": tc_string(purposes),
        "purpose": {"consents": {str(p): True for p in purposes}},
        "vendor": {"consents": {"755": True, "804": True, "986": True}},
    }


# ---- server, fakes, browser ------------------------------------------------------------


# A container on the less strict policy, served beside the demo; it has no tags, so its
# hits only show what the loader sends.
BASIC = {
    "container": {"id": "basic", "name": "basic policy", "domain": "127.0.0.1",
                  "consent_policy": "basic"},
    "variables": [], "triggers": [], "tags": [],
}  # fmt: skip


async def publish_basic(data_dir: Path, signer: Any) -> None:
    store = SQLiteStore(data_dir / "tagwire.db")
    await store.open()
    try:
        control = ControlPlane(store, signer=signer)
        await control.import_document(BASIC, "test")
        await control.create_version("basic", "test", "basic policy container")
        await control.publish("basic", 1, "live", "test")
    finally:
        await store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo, and beside it the basic container, both published versions signed with
    one key pair (the demo publishes its own container at start)."""
    data_dir = tmp_path_factory.mktemp("tagwire-data")
    private_pem, public_pem = generate_keypair()
    (data_dir / "signing.key").write_bytes(private_pem)
    (data_dir / "signing.pub").write_bytes(public_pem)
    asyncio.run(publish_basic(data_dir, load_private_key(private_pem)))
    env = {
        "TAGWIRE_DATA_DIR": str(data_dir),
        "TAGWIRE_SIGNING_KEY_FILE": str(data_dir / "signing.key"),
        "TAGWIRE_SIGNING_PUBLIC_KEY_FILE": str(data_dir / "signing.pub"),
    }
    with tagwire_process("--demo", env=env) as base:
        yield base


def serve_page(page: Page, url: str, head: str) -> None:
    """Answers `url` with a blank page under the demo's strict CSP, on the server's origin."""
    nonce = "pagenonce0123456"
    csp = (
        f"script-src 'nonce-{nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'; "
        "connect-src 'self'; require-trusted-types-for 'script'; trusted-types tagwire"
    )
    html = f"<!doctype html><html><head><title>t</title>{head.replace('NONCE', nonce)}</head>"
    page.route(
        url,
        lambda route: route.fulfill(
            status=200,
            body=html + "<body></body></html>",
            headers={"content-type": "text/html", "content-security-policy": csp},
        ),
    )


def fake_events(server: str, platform: str, view: str = "live") -> list[dict]:
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        response = http.get(
            f"{server}/fake/_fake/events", params={"platform": platform, "view": view}
        )
    assert response.status_code == 200, response.text
    return response.json()["events"]


def wait_for(page: Page, what: str, find: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Polls `find` until it returns something truthy. Waits through the page, because
    Playwright's sync API records a page's requests only while it is being called."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within {timeout:.0f} s")
        page.wait_for_timeout(200)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    v = new_visit(browser, TEST_CMP)
    try:
        yield v
    finally:
        v.context.close()


@pytest.fixture
def gpc_visit(browser: Browser) -> Iterator[Visit]:
    v = new_visit(browser, TEST_CMP, GPC_ON, extra_http_headers={"Sec-GPC": "1"})
    try:
        yield v
    finally:
        v.context.close()


def submit_lead(visit: Visit, server: str) -> None:
    page = visit.page
    page.goto(f"{server}/demo/lead")
    page.fill("#first_name", "Jane")
    page.fill("#email", EMAIL)
    page.fill("#phone", "+49 30 901820")
    page.click("#lead-submit")
    page.wait_for_url(f"{server}/demo/thanks?lead_id=*")


def sent_anything(visit: Visit, server: str) -> list[str]:
    """Requests a consent gate must stop: hits, the loader's second file, any platform."""
    return [
        r.url
        for r in visit.rec.requests
        if urlparse(r.url).path in ("/collect", "/loader-consented.js", "/forget")
        or urlparse(r.url).path.startswith("/fake/")
        or not r.url.startswith(server + "/")
    ]


def assert_nothing_stored(visit: Visit) -> None:
    page = visit.page
    assert visit.context.cookies() == []
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.length") == 0


# ---- before consent ----------------------------------------------------------------------


@pytest.mark.parametrize("with_gpc", [False, True], ids=["plain", "gpc"])
def test_nothing_leaves_and_nothing_is_stored_before_consent(
    server: str, visit: Visit, gpc_visit: Visit, with_gpc: bool
) -> None:
    v = gpc_visit if with_gpc else visit
    page = v.page
    page.goto(f"{server}/demo/?gclid=gc-1&fbclid=fb-1")
    expect(page.locator("#consent-banner")).to_be_visible()
    page.evaluate("tagwire('event', 'view_content', {content_ids: ['sku-1']})")
    page.evaluate("tagwire('user', {email: 'jane@example.org'})")
    submit_lead(v, server)  # the thank-you page reports the lead: it has to wait
    page.wait_for_timeout(800)
    assert page.evaluate("typeof window.fbq + typeof window.ttq + typeof window.lintrk") == (
        "undefinedundefinedundefined"
    )
    assert sent_anything(v, server) == []
    assert_nothing_stored(v)
    v.rec.assert_clean()


def test_tcf_ui_shown_is_not_consent_and_a_refusal_sends_nothing(server: str, visit: Visit) -> None:
    page = visit.page
    page.goto(f"{server}/demo/")
    page.wait_for_timeout(300)
    refusal = tc_data(set())
    page.evaluate("data => window.__testCmpDecide(data)", refusal)
    page.wait_for_timeout(500)
    assert sent_anything(visit, server) == []
    assert_nothing_stored(visit)
    visit.rec.assert_clean()


# ---- after consent -----------------------------------------------------------------------


def test_tcf_consent_sends_page_view_with_tc_string_and_runs_pixels(
    server: str, visit: Visit
) -> None:
    page = visit.page
    page.goto(f"{server}/demo/?fbclid=fb-click-1")
    page.wait_for_timeout(300)
    assert visit.rec.collect_requests() == []
    decision = tc_data(set(range(1, 11)))
    with page.expect_response(lambda r: urlparse(r.url).path == "/collect") as answer:
        page.evaluate("data => window.__testCmpDecide(data)", decision)
    assert answer.value.status == 200, "the page view's answer carries pixel commands"
    [page_view] = [h for h in visit.rec.hits() if h["event"] == "page_view"]
    assert page_view["consent"] == {
        "ad_storage": "granted",
        "analytics_storage": "granted",
        "ad_user_data": "granted",
        "ad_personalization": "granted",
        "tcf": decision["tcString"],
        "gdpr_applies": True,
        "source": "tcf",
    }
    assert page_view["click"] == {"fbclid": "fb-click-1"}

    # The Meta pixel ran the server's command: same event id at the fake's browser
    # endpoint and its Conversions API.
    meta_browser = wait_for(
        page,
        "the Meta pixel's page view",
        lambda: [
            e
            for e in fake_events(server, "meta", "browser")
            if e["event_id"] == page_view["event_id"]
        ],
    )
    assert meta_browser[0]["event_name"] == "PageView"
    wait_for(
        page,
        "the Conversions API page view",
        lambda: [e for e in fake_events(server, "meta") if e["event_id"] == page_view["event_id"]],
    )
    cookies = {c["name"]: c for c in visit.context.cookies()}
    assert cookies["tw_id"]["httpOnly"] is True
    assert cookies["_fbc"]["value"].endswith(".fb-click-1")
    visit.rec.assert_clean()


def test_lead_reaches_every_platform_with_the_pixels_event_ids_and_no_plaintext(
    server: str, visit: Visit
) -> None:
    page = visit.page
    page.goto(f"{server}/demo/?gclid=gc-lead-1&li_fat_id=li-lead-1")
    page.click("#consent-accept")
    submit_lead(visit, server)
    lead_id = page.url.split("lead_id=")[1]
    [lead] = wait_for(
        page, "the lead hit", lambda: [h for h in visit.rec.hits() if h["event"] == "lead"]
    )
    assert lead["data"] == {"value": 50, "currency": "EUR", "lead_id": lead_id}
    assert lead["page"]["url"] == page.url
    assert lead["user"]["em"] == sha256_hex(EMAIL.lower())
    assert lead["user"]["fn"] == sha256_hex("jane")
    assert lead["user"]["ph"] == sha256_hex("+4930901820")
    assert lead["user"]["ph_d"] == sha256_hex("4930901820")
    assert lead["click"] == {"gclid": "gc-lead-1", "li_fat_id": "li-lead-1"}

    # Server calls and browser pixels carry the same ids, per platform.
    event_id = lead["event_id"]
    for platform, key in (("meta", event_id), ("tiktok", event_id), ("linkedin", event_id)):
        for view in ("live", "browser"):
            wait_for(
                page,
                f"{platform} {view} lead",
                lambda p=platform, v=view, k=key: [
                    e for e in fake_events(server, p, v) if e["event_id"] == k
                ],
            )
    for view in ("live", "browser"):  # Google Ads deduplicates on the order id
        wait_for(
            page,
            f"google_ads {view} lead",
            lambda v=view: [
                e for e in fake_events(server, "google_ads", v) if e["event_id"] == lead_id
            ],
        )
    # GA4 does not deduplicate, so the demo leaves its browser copy off (the default).
    wait_for(
        page,
        "ga4 live lead",
        lambda: [e for e in fake_events(server, "ga4") if e["event_name"] == "generate_lead"],
    )
    assert fake_events(server, "ga4", "browser") == []

    # The typed email, name and phone never left the page in any form.
    for request in visit.rec.requests:
        text = (request.url + post_body(request)).lower()
        for plain in ("jane", "example.org", "901820"):
            assert plain not in text, f"{plain!r} in {request.method} {request.url}"
    visit.rec.assert_first_party_only(server)
    visit.rec.assert_clean()


def test_reloading_the_confirmation_page_sends_no_second_lead(server: str, visit: Visit) -> None:
    page = visit.page
    page.goto(f"{server}/demo/")
    page.click("#consent-accept")
    submit_lead(visit, server)
    lead_id = page.url.split("lead_id=")[1]
    wait_for(page, "the lead hit", lambda: [h for h in visit.rec.hits() if h["event"] == "lead"])
    page.reload()
    page.go_back()
    page.go_forward()
    page.reload()
    page.wait_for_timeout(800)
    leads = [h for h in visit.rec.hits() if h["event"] == "lead"]
    assert len(leads) == 1, leads
    page.wait_for_timeout(1_500)  # a second lead, if any, has had time to be delivered
    for platform in ("meta", "tiktok", "linkedin", "ga4"):
        matching = [
            e
            for e in fake_events(server, platform)
            if e["event_name"] not in ("PageView", "Pageview", "page_view")
            and lead_id in json.dumps(e["event"])
        ]
        assert len(matching) <= 1, (platform, matching)
    ads = [e for e in fake_events(server, "google_ads") if e["event_id"] == lead_id]
    assert len(ads) == 1, ads
    visit.rec.assert_clean()


def test_revocation_stops_hits_and_pixels_and_clears_storage_and_cookies(
    server: str, visit: Visit
) -> None:
    page = visit.page
    page.goto(f"{server}/demo/?gclid=gc-r&fbclid=fb-r")
    with page.expect_response(lambda r: urlparse(r.url).path == "/collect"):
        page.click("#consent-accept")
    assert page.evaluate("sessionStorage.getItem('tw_click')") == (
        '{"fbclid":"fb-r","gclid":"gc-r"}'
    )
    names = {c["name"] for c in visit.context.cookies()}
    assert {"tw_id", "_fbp", "_fbc"} <= names, names
    with page.expect_response(lambda r: urlparse(r.url).path == "/forget") as forget:
        page.click("#consent-withdraw")
    assert forget.value.request.method == "POST"
    assert forget.value.request.url == f"{server}/forget?id=demo"
    expect(page.locator("#consent-state")).to_contain_text("cookies and storage keys")
    assert visit.context.cookies() == [], "tw_id (HttpOnly) and the tags' cookies are deleted"
    sent = len(visit.rec.collect_requests())
    page.evaluate(
        "tagwire('event', 'purchase', {value: 10, currency: 'EUR', transaction_id: 'T-r'})"
    )
    page.evaluate("tagwire('user', {email: 'someone@example.org'})")
    page.wait_for_timeout(800)
    assert len(visit.rec.collect_requests()) == sent
    assert_nothing_stored(visit)
    visit.rec.assert_clean()


def test_a_withdrawal_through_the_api_reports_the_deletion_to_its_callback(
    server: str, visit: Visit
) -> None:
    page = visit.page
    page.goto(f"{server}/demo/")
    with page.expect_response(lambda r: urlparse(r.url).path == "/collect"):
        page.click("#consent-accept")
    assert "tw_id" in {c["name"] for c in visit.context.cookies()}
    call = "signals => new Promise(done => tagwire('consent', signals, {callback: done}))"
    granted = page.evaluate(call, {"analytics_storage": "granted"})
    assert granted is True, "a call that withdraws nothing calls back at once"
    assert page.evaluate(call, "revoke") is True
    assert visit.context.cookies() == []
    forgets = [r for r in visit.rec.requests if urlparse(r.url).path == "/forget"]
    assert len(forgets) == 1, "only the withdrawal asks the node to delete its cookies"
    visit.rec.assert_clean()


def test_consent_mode_update_is_a_consent_source(server: str, visit: Visit) -> None:
    page = visit.page
    page.goto(f"{server}/demo/")
    page.evaluate(
        """() => {
      window.dataLayer = window.dataLayer || [];
      window.gtag = function () { dataLayer.push(arguments); };
      gtag('consent', 'default', {ad_storage: 'denied', analytics_storage: 'denied'});
    }"""
    )
    page.wait_for_timeout(300)
    assert visit.rec.collect_requests() == [], "a Consent Mode default is not a decision"
    page.evaluate("gtag('consent', 'update', {analytics_storage: 'granted'})")
    [page_view] = wait_for(page, "page view", lambda: visit.rec.hits())
    assert page_view["consent"]["source"] == "gcm"
    assert page_view["consent"]["analytics_storage"] == "granted"
    assert page_view["consent"]["ad_storage"] == "denied"
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.fbq") == "undefined", "no ad pixel without ad_storage"
    visit.rec.assert_clean()


def test_gpc_keeps_ad_signals_denied_after_consent(server: str, gpc_visit: Visit) -> None:
    page = gpc_visit.page
    page.goto(f"{server}/demo/")
    page.click("#consent-accept")
    [page_view] = wait_for(page, "page view", lambda: gpc_visit.rec.hits())
    consent = page_view["consent"]
    assert consent["gpc"] is True
    assert consent["analytics_storage"] == "granted"
    assert consent["ad_storage"] == consent["ad_user_data"] == "denied"
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.fbq + typeof window.ttq") == "undefinedundefined"
    # analytics cookies only: tw_id and GA4's _ga need analytics_storage, which GPC leaves
    assert {c["name"] for c in gpc_visit.context.cookies()} == {"tw_id", "_ga"}
    gpc_visit.rec.assert_clean()


# ---- hashing: the shared vectors ---------------------------------------------------------


COUNTRIES = sorted({v.get("default_country") for v in VECTORS}, key=lambda c: c or "")


def serve_loader_for(page: Page, default_country: str | None) -> None:
    """The demo's loader as the node builds it for a container with `default_country`:
    the served file's own settings, rebuilt by container.loader.bundle with the country."""

    def answer(route: Route) -> None:
        served = route.fetch()
        settings = CONFIG.search(served.text())
        assert settings, "the served loader ends with its settings"
        config = orjson.loads(settings.group(1))
        pixels = build_pixels()
        assert config["module"] == f"{PIXELS_PATH}?v={pixels.version}"
        loader = build_loader("demo", config["policy"], config["scripts"], pixels,
                              default_country=default_country)  # fmt: skip
        route.fulfill(status=200, body=loader.body, content_type="text/javascript")

    page.route(f"**{LOADER_PATH}?*", answer)


@pytest.mark.parametrize("default_country", COUNTRIES, ids=[c or "none" for c in COUNTRIES])
def test_browser_hashes_match_the_shared_vectors(
    server: str, visit: Visit, default_country: str | None
) -> None:
    """Each vector in a container with its default country: national phone numbers hash
    in the browser to what the server makes of them (`expected` equals `browser`)."""
    vectors = [v for v in VECTORS if v.get("default_country") == default_country]
    page = visit.page
    serve_loader_for(page, default_country)
    page.goto(f"{server}/demo/")
    page.click("#consent-accept")
    wait_for(page, "page view", lambda: visit.rec.collect_requests())
    page.evaluate(
        """vectors => vectors.forEach((v, i) => {
      const user = {};
      user[v.field] = v.input;
      tagwire('event', 'pii_vector', {vector: i}, {user: user});
    })""",
        [{"field": API_FIELD[v["key"]], "input": v["input"]} for v in vectors],
    )
    hits = wait_for(
        page,
        "every vector's hit",
        lambda: (lambda h: h if len(h) == len(vectors) else None)(
            [
                h
                for r in visit.rec.collect_requests()
                for h in hits_of(r)
                if h["event"] == "pii_vector"
            ]
        ),
    )
    by_index = {h["custom"]["vector"]: h.get("user", {}) for h in hits}
    problems = []
    for i, vector in enumerate(vectors):
        got = by_index[i].get(vector["key"])
        want = vector["browser"]
        if vector["key"] == "em_g" and want == normalize("meta", "email", vector["input"]):
            want = None  # the loader sends em_g only when it differs from em
        expected = (
            None
            if want is None
            else (
                want
                if len(want) == 64 and want == vector["input"].strip().lower()
                else sha256_hex(want)
            )
        )
        if got != expected:
            problems.append((i, vector["key"], vector["input"], vector["browser"], got))
    assert problems == [], "\n".join(map(repr, problems))
    visit.rec.assert_clean()


# ---- the queue, config, and the basic policy ---------------------------------------------


def test_calls_queued_before_the_loader_run_in_order_with_config_first(
    server: str, visit: Visit
) -> None:
    page = visit.page
    head = (
        '<script nonce="NONCE">window.tagwire=window.tagwire||function(){'
        "(tagwire.q=tagwire.q||[]).push(arguments)};"
        "tagwire('consent', {analytics_storage: 'granted'});"
        "tagwire('event', 'search', {search_string: 'solar'});"
        f"tagwire('config', {{page_view: false, endpoint: '{server}/collect?id=demo&via=config'}});"
        "</script>\n" + snippet(f"{server}/loader.js?id=demo").split("\n")[1]
    )
    serve_page(page, f"{server}/queued", head)
    page.goto(f"{server}/queued")
    [request] = wait_for(page, "the queued event", lambda: visit.rec.collect_requests())
    assert request.url == f"{server}/collect?id=demo&via=config"
    [hit] = hits_of(request)
    assert hit["event"] == "search", "page_view: false was applied before the page view"
    assert hit["data"] == {"search_string": "solar"}
    assert hit["consent"]["analytics_storage"] == "granted"
    assert request.response().status == 204
    visit.rec.assert_clean()


def test_basic_policy_sends_without_a_signal_after_the_wait_but_not_after_a_denial(
    server: str, browser: Browser
) -> None:
    for denial, expected in ((False, ["page_view"]), (True, [])):
        v = new_visit(browser)
        try:
            head = snippet(f"{server}/loader.js?id=basic")
            if denial:
                head = head.replace(
                    "push(arguments)}",
                    "push(arguments)};tagwire('consent', 'revoke')",
                )
            serve_page(v.page, f"{server}/basic-page", head)
            v.page.goto(f"{server}/basic-page")
            v.page.wait_for_timeout(1_200)  # the loader waits 500 ms for a signal
            hits = v.rec.hits()
            assert [h["event"] for h in hits] == expected
            if hits:
                assert "consent" not in hits[0], "no signal was given, none is claimed"
                assert v.rec.collect_requests()[0].response().status == 204
            assert v.context.cookies() == []
            v.rec.assert_clean()
        finally:
            v.context.close()


def test_a_second_copy_of_the_loader_does_nothing(server: str, visit: Visit) -> None:
    page = visit.page
    head = snippet(f"{server}/loader.js?id=demo")
    head = head.replace(
        "push(arguments)}", "push(arguments)};tagwire('consent', {analytics_storage: 'granted'})"
    )
    twice = head + "\n" + head.split("\n")[1].replace("?id=demo", "?id=demo&copy=2")
    serve_page(page, f"{server}/twice", twice)
    page.goto(f"{server}/twice")
    wait_for(page, "the page view", lambda: visit.rec.hits())
    page.wait_for_timeout(300)
    assert [h["event"] for h in visit.rec.hits()] == ["page_view"]
    assert [m for m in visit.rec.console if "tagwire" in m] == []
    visit.rec.assert_clean()
