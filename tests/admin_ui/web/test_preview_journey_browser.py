"""Preview end to end, in a real Chromium against a real `tagwire serve --demo` process
and its fake platforms: an editor starts a test-mode preview of the workspace; a second
browser context (another device, phone-sized) opens the preview link and sends a lead
from the demo site; the editor's live view shows the lead's trace (triggers, consent,
the request to each platform and each fake's answer) without a reload; the fakes got it
in their test views only; a third context without the cookie runs the live version."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect

from demo.accounts import DEMO_OWNER
from tests.browser import (
    new_visit,
    owner_password,
    post_body,
    require_chromium,
    screenshot,
    sign_in,
)

require_chromium()
pytestmark = pytest.mark.browser

CODE = "PREVIEW42"
PHONE = {"width": 390, "height": 844}


def fake_events(base: str, platform: str, view: str) -> list[dict]:
    answer = httpx.get(f"{base}/fake/_fake/events", params={"platform": platform, "view": view},
                       timeout=5)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def send_lead(page: Page, base: str, name: str) -> None:
    """Accept consent on the demo site, then send the lead form; waits for its hit."""
    page.goto(f"{base}/demo/")
    page.click("#consent-accept")
    page.click("main a[href='/demo/lead']")
    page.wait_for_url(f"{base}/demo/lead")
    page.fill("#first_name", name)
    page.fill("#email", f"{name.lower()}@example.org")
    with page.expect_request(
        lambda r: urlparse(r.url).path == "/collect" and '"lead"' in post_body(r)
    ):
        page.click("#lead-submit")
        page.wait_for_url(f"{base}/demo/thanks?lead_id=*")


def test_a_preview_on_another_device_is_traced_live_and_leaves_live_traffic_alone(node, browser):
    base, data_dir = node
    editor = new_visit(browser)
    page = editor.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.goto(f"{base}/admin/containers/demo/previews")
    page.check("input[name=mode][value=test]")
    page.fill("input[name=test_code]", CODE)
    page.click("button:has-text('Start preview')")
    link = page.locator("#preview-link").get_attribute("href")
    assert link is not None
    assert "/preview/start?t=" in link

    phone = new_visit(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.page.goto(link)
    expect(phone.page.locator("h1")).to_have_text("Preview on")
    send_lead(phone.page, base, "Ada")

    lead = page.locator("#traces li.trace", has_text="lead").first
    expect(lead).to_be_visible(timeout=15_000)  # streamed in, no reload
    lead.locator("a.trace-line").click()
    detail = lead.locator(".trace-slot")
    expect(detail).to_contain_text("leads")  # the lead trigger fired
    expect(detail).to_contain_text("granted")  # consent decisions per tag
    for platform in ("meta", "tiktok", "google_ads", "ga4"):
        expect(detail).to_contain_text(platform)
    deadline = time.monotonic() + 20
    while True:  # the fakes' test views get the lead, under the session's code
        meta = fake_events(base, "meta", "test")
        tiktok = fake_events(base, "tiktok", "test")
        if [e for e in meta if e.get("test_code") == CODE and e["event_name"] == "Lead"] and [
            e for e in tiktok if e.get("test_code") == CODE
        ]:
            break
        assert time.monotonic() < deadline, f"no test-view lead: meta {meta}, tiktok {tiktok}"
        time.sleep(0.3)
    expect(detail).to_contain_text("200", timeout=15_000)  # each fake's answer, in the trace
    screenshot(page, "admin-preview-journey")
    preview_ids = {e["event_id"] for e in meta if e.get("test_code") == CODE}
    assert not [e for e in fake_events(base, "meta", "live") if e["event_id"] in preview_ids]
    assert not [e for e in fake_events(base, "linkedin", "live") if e["event_id"] in preview_ids]

    desk = new_visit(browser)  # no preview cookie: the live version, for real
    send_lead(desk.page, base, "Bob")
    deadline = time.monotonic() + 20
    while not [e for e in fake_events(base, "meta", "live") if e["event_name"] == "Lead"]:
        assert time.monotonic() < deadline, "the live lead never reached fake Meta's live view"
        time.sleep(0.3)
    traced = page.locator("#traces li.trace", has_text="lead")
    assert traced.count() == 1, "a hit without the preview cookie was traced"
    for visit in (editor, phone, desk):
        visit.rec.assert_clean()
        visit.context.close()
