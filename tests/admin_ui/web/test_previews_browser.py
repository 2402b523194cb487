"""The preview pages in a real Chromium against a real `tagwire serve --demo` process: the
demo owner starts a test-mode preview, the page shows the link and its QR code, traces
written to the node's store appear in the live view without a reload, one expands in
place and the outcome filter hides the others, all under the strict CSP.

The traces are written by this test into the node's SQLite file, as the node's trace
writer would, so the live view is checked apart from the data plane that makes them.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import expect

from config.sqlite_store import SQLiteStore
from demo.accounts import DEMO_OWNER
from tests.browser import new_visit, owner_password, require_chromium, screenshot, sign_in

require_chromium()
pytestmark = pytest.mark.browser


def trace(event: str, tags: list[dict[str, Any]], triggers: list[dict[str, Any]]) -> bytes:
    """A trace in the data plane's format (container/preview/trace.py)."""
    body = {
        "v": 1, "trace_id": f"tr-{event}", "mode": "test", "source": "workspace",
        "container": "demo", "at_ms": int(time.time() * 1000), "event": event,
        "event_id": f"ev-{event}", "request": {"origin": "http://127.0.0.1", "headers": {}},
        "hit": {"event": event}, "guards": [], "variables": [], "triggers": triggers,
        "tags": tags, "delivery": "test mode: sent with the platforms' test modes",
        "summary": ", ".join(f"1 {t['outcome'].replace('_', ' ')}" for t in tags),
    }  # fmt: skip
    return orjson.dumps(body)


LEAD_TRIGGERS = [
    {"id": "leads", "name": "Leads", "fired": True, "reason": "fired", "path": None,
     "var": None, "op": None, "expected": None, "actual": None},
    {"id": "big_leads", "name": "Big leads", "fired": False, "reason": "a condition does not hold",
     "path": "conditions.all[0]", "var": "data.value", "op": "gte", "expected": 100,
     "actual": 50},
]  # fmt: skip
LEAD_TAGS = [{"id": "meta", "template": "meta", "outcome": "fired", "consent": "granted",
              "error": None, "logs": [], "pixels": [],
              "requests": [{"method": "POST", "url": "https://graph.facebook.com/v19.0/1/events",
                            "headers": {}, "body": {"test_event_code": "TEST42"}}]}]  # fmt: skip
VIEW_TAGS = [{"id": "ga4", "template": "ga4", "outcome": "blocked_by_consent",
              "consent": "denied: analytics_storage", "error": None, "logs": [], "pixels": [],
              "requests": []}]  # fmt: skip


def add_traces(data_dir: Path, session_id: str) -> None:
    """Write a page view and a lead, as the node's trace writer would."""

    async def work() -> None:
        store = SQLiteStore(data_dir / "tagwire.db")
        await store.open()
        try:
            now = int(time.time() * 1000)
            await store.add_traces([
                (session_id, now, "page_view", "blocked_by_consent",
                 trace("page_view", VIEW_TAGS, [])),
                (session_id, now, "lead", "fired", trace("lead", LEAD_TAGS, LEAD_TRIGGERS)),
            ], 100)  # fmt: skip
        finally:
            await store.close()

    # Playwright's sync API runs a loop on this thread: the store's calls get one of their own
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, work()).result()


def test_start_a_preview_and_watch_its_hits_live(node, browser):
    base, data_dir = node
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.goto(f"{base}/admin/containers/demo")
    page.click("text=Preview and debug")
    expect(page.locator("h1")).to_contain_text("Preview and debug")

    page.check("input[name=mode][value=test]")
    page.fill("input[name=test_code]", "TEST42")
    page.click("button:has-text('Start preview')")
    expect(page.locator(".notice")).to_contain_text("Preview started")
    expect(page.locator("#preview-link")).to_contain_text(f"{base}/preview/start?t=")
    qr = page.locator("img#preview-qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    assert page.evaluate("document.getElementById('preview-qr').naturalWidth") > 0
    expect(page.locator("#stream-state")).to_contain_text("Live")
    session_id = page.url.split("/previews/")[1].split("?")[0]

    add_traces(data_dir, session_id)
    lines = page.locator("#traces li.trace")
    expect(lines).to_have_count(2)  # streamed in, no reload
    expect(lines.first).to_contain_text("lead")  # newest on top
    expect(page.locator("#no-traces")).to_be_hidden()
    screenshot(page, "admin-preview-live")

    lines.first.locator("a.trace-line").click()
    detail = page.locator(".trace-detail")
    expect(detail).to_have_count(1)
    expect(detail).to_contain_text("conditions.all[0]")
    expect(detail).to_contain_text("Big leads")
    expect(detail).to_contain_text("waiting for the sender")
    screenshot(page, "admin-preview-trace")
    lines.last.locator("a.trace-line").click()  # one hit open at a time
    expect(detail).to_have_count(1)
    expect(detail).to_contain_text("denied: analytics_storage")

    page.select_option("#filter-outcome", "blocked")
    expect(page.locator("#traces li.trace:visible")).to_have_count(1)
    expect(page.locator("#traces li.trace:visible")).to_contain_text("page_view")
    page.select_option("#filter-outcome", "")
    page.fill("#filter-event", "lea")
    expect(page.locator("#traces li.trace:visible")).to_have_count(1)
    expect(page.locator("#traces li.trace:visible")).to_contain_text("lead")

    page.goto(f"{base}/admin/containers/demo/previews")
    expect(page.locator("table")).to_contain_text("TEST42")
    screenshot(page, "admin-previews")
    visit.rec.assert_clean()
    visit.context.close()


def test_the_live_view_fits_a_phone(node, browser):
    base, data_dir = node
    visit = new_visit(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.goto(f"{base}/admin/containers/demo/previews")
    page.click("button:has-text('Start preview')")
    expect(page.locator("img#preview-qr")).to_be_visible()
    add_traces(data_dir, page.url.split("/previews/")[1].split("?")[0])
    expect(page.locator("#traces li.trace")).to_have_count(2)
    page.locator("#traces li.trace a.trace-line").first.click()
    expect(page.locator(".trace-detail")).to_contain_text("conditions.all[0]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the live view is {width} px wide on a 390 px phone"
    screenshot(page, "admin-preview-phone")
    visit.rec.assert_clean()
    visit.context.close()
