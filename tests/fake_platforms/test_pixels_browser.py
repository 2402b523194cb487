"""The fake pixel libraries in a real Chromium, under the demo's strict CSP.

A small page (same origin as the fakes, mounted at /fake) builds each vendor's stub the way
the loader does, queues one command per vendor and inserts the libraries with its nonce.
The fakes must record every browser event with the page's event id, and the page must run
without a CSP violation, a page error or a warning from the libraries.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from fake_platforms import FakeAccounts, FakePlatforms, pixel_script_urls
from tests.browser import Visit, launch, new_visit, post_body, require_chromium
from tests.helpers import serve_in_thread, wait_until

require_chromium()
pytestmark = pytest.mark.browser

CSP = (
    "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; connect-src 'self'; "
    "img-src 'self' data:; require-trusted-types-for 'script'; trusted-types tagwire"
)
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pixels</title>'
    '<script nonce="{nonce}" src="/page.js"></script></head><body><p>Pixels</p></body></html>'
)
PAGE_JS = (Path(__file__).parent / "pixel_page.js").read_text(encoding="utf-8")
EVENT_ID = "lead-0001"
SECOND_CODE = "CSECOND0000000000000"
EXPECTED = {
    "meta": [("Lead", EVENT_ID, "1234567890123456")],
    "tiktok": [("SubmitForm", EVENT_ID, "CDEMO1234567890ABCDE")],
    "linkedin": [
        ("page_view", None, "1234567"),
        ("urn:lla:llaPartnerConversion:23456789", EVENT_ID, "1234567"),
    ],
    "google_ads": [("conversion", EVENT_ID, "AW-123456789")],
    "ga4": [("generate_lead", EVENT_ID, "G-DEMO12345")],
}


def page_app(fakes: FakePlatforms) -> Starlette:
    async def page(request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        return HTMLResponse(
            PAGE.format(nonce=nonce),
            headers={
                "content-security-policy": CSP.format(nonce=nonce),
                "cache-control": "no-store",
            },
        )

    async def script(request: Request) -> Response:
        urls = pixel_script_urls(f"{request.base_url}fake")
        return Response(
            PAGE_JS.replace("__URLS__", json.dumps(urls)),
            media_type="application/javascript",
            headers={"cache-control": "no-store"},
        )

    return Starlette(
        routes=[Route("/", page), Route("/page.js", script), Mount("/fake", app=fakes.app)]
    )


@dataclass
class Site:
    url: str
    fakes: FakePlatforms
    visit: Visit

    def browser_events(self) -> dict[str, list[tuple[str, str | None, str]]]:
        return {
            platform: [
                (e["event_name"], e["event_id"], e["account"])
                for e in self.fakes.events(platform, view="browser")
            ]
            for platform in EXPECTED
        }

    def wait_for(self, count: int) -> None:
        wait_until(
            lambda: len(self.fakes.events(view="browser")) >= count,
            what=f"{count} browser events (have {self.browser_events()})",
        )

    def sent(self) -> list[tuple[str, str]]:
        return [(r.url, post_body(r)) for r in self.visit.rec.requests]

    def assert_clean(self) -> None:
        self.visit.rec.assert_clean()
        self.visit.rec.assert_first_party_only(self.url)
        warnings = [m for m in self.visit.rec.console if "[fake" in m]
        assert warnings == [], "the libraries did not understand a command"
        rejected = [r for r in self.fakes.requests() if r["status"] >= 300]
        assert rejected == [], rejected


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def site(browser: Browser) -> Iterator[Site]:
    accounts = FakeAccounts(tiktok_pixels={"CDEMO1234567890ABCDE", SECOND_CODE})
    fakes = FakePlatforms(accounts)
    with serve_in_thread(page_app(fakes)) as url:
        visit = new_visit(browser)
        try:
            yield Site(url, fakes, visit)
        finally:
            visit.context.close()


def test_each_library_reports_the_pages_event_id_without_a_csp_violation(site: Site) -> None:
    response = site.visit.page.goto(site.url + "/")
    assert response is not None
    assert response.status == 200
    site.wait_for(sum(len(events) for events in EXPECTED.values()))
    assert site.browser_events() == EXPECTED
    assert site.fakes.events(view="live") == []
    paths = {urlparse(url).path for url, _ in site.sent()}
    assert {
        "/fake/meta/fbevents.js",
        "/fake/tiktok/events.js",
        "/fake/linkedin/insight.min.js",
        "/fake/gtag/js",
        "/fake/meta/tr",
        "/fake/tiktok/pixel",
        "/fake/linkedin/collect",
        "/fake/gtag/pagead/conversion",
        "/fake/gtag/g/collect",
    } <= paths
    site.assert_clean()

    # The violation detector works: an inline style attribute is refused by this CSP.
    site.visit.page.evaluate("document.body.setAttribute('style', 'color: red')")
    wait_until(site.visit.rec.csp_violations, what="the deliberate CSP violation")


LATER = """
() => {
  fbq('consent', 'revoke');
  fbq('track', 'Lead', {}, {eventID: 'revoked'});
  fbq('consent', 'grant');
  fbq('trackSingleCustom', '1234567890123456', 'DemoCustom', {}, {eventID: 'late-meta'});

  ttq.load('CSECOND0000000000000');
  ttq.instance('CSECOND0000000000000').track('CompleteRegistration', {}, {event_id: 'late-2'});
  ttq.holdConsent();
  ttq.instance('CDEMO1234567890ABCDE').track('SubmitForm', {}, {event_id: 'held'});
  ttq.revokeConsent();
  ttq.grantConsent();
  ttq.identify({email: 'a'.repeat(64)});
  ttq.page({limited_data_use: true});

  lintrk('track', {conversion_id: '12345678', event_id: 'late-linkedin'});

  gtag('consent', 'update', {ad_storage: 'denied'});
  gtag('event', 'conversion', {send_to: 'AW-123456789/DemoLeadLabel', transaction_id: 'denied'});
  gtag('consent', 'update', {ad_storage: 'granted', ad_user_data: 'granted'});
  gtag('set', 'user_data', {sha256_email_address: 'b'.repeat(64)});
  gtag('event', 'conversion', {send_to: 'AW-123456789/DemoLeadLabel', transaction_id: 'late-ads'});
}
"""


def test_commands_after_loading_go_straight_to_the_libraries(site: Site) -> None:
    site.visit.page.goto(site.url + "/")
    first = sum(len(events) for events in EXPECTED.values())
    site.wait_for(first)
    site.visit.page.evaluate(LATER)
    site.wait_for(first + 6)
    events = site.browser_events()
    assert events["meta"][1:] == [("DemoCustom", "late-meta", "1234567890123456")]
    assert sorted(events["tiktok"][1:], key=str) == sorted(
        [
            ("CompleteRegistration", "late-2", SECOND_CODE),
            ("Pageview", None, "CDEMO1234567890ABCDE"),
            ("Pageview", None, SECOND_CODE),
        ],
        key=str,
    )
    pageviews = [
        e for e in site.fakes.events("tiktok", view="browser") if e["event_name"] == "Pageview"
    ]
    assert all(e["event"]["context"]["user"] == {"email": "a" * 64} for e in pageviews)
    # ttq.page's properties (Limited Data Use) reach the beacon
    assert all(e["event"]["properties"] == {"limited_data_use": True} for e in pageviews)
    assert events["linkedin"][2:] == [
        ("urn:lla:llaPartnerConversion:12345678", "late-linkedin", "1234567")
    ]
    [_, late_ads] = site.fakes.events("google_ads", view="browser")
    assert late_ads["event_id"] == "late-ads"
    assert late_ads["event"]["user_data"] == {"sha256_email_address": "b" * 64}
    assert late_ads["event"]["gcs"] == "G111"
    sent = " ".join(body for _, body in site.sent())
    for withheld in ("revoked", "held", "denied"):
        assert f'"{withheld}"' not in sent
    scripts = [url for url, _ in site.sent() if urlparse(url).path == "/fake/tiktok/events.js"]
    assert len(scripts) == 2  # the second code's copy only registers it
    site.assert_clean()
