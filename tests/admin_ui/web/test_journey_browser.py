"""The admin UI in a real Chromium against a real `tagwire serve --demo` process: the whole
journey from sign-in to rollback, with a screenshot of every page it passes.

The demo owner invites an editor and a publisher; the editor changes the workspace and
creates a version; the publisher reviews the diff and publishes it; a hit to `/collect`
then runs the new version (the demo receiver gets the renamed event); the publisher rolls
back and the old name comes back; the audit log shows each step with its actor. Every page
runs under the strict CSP without a violation.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from demo.accounts import DEMO_OWNER
from tests.browser import new_visit, owner_password, require_chromium, screenshot, sign_in

require_chromium()
pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


def sign_out(page: Page) -> None:
    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")


def live_version(base: str) -> int | None:
    ready = httpx.get(f"{base}/readyz", timeout=5).json()
    [live] = [e for e in ready["environments"] if e["container"] == "demo" and e["env"] == "live"]
    return live["version"]


def wait_live(base: str, version: int) -> None:
    deadline = time.monotonic() + 15
    while live_version(base) != version:
        assert time.monotonic() < deadline, f"live did not switch to v{version}"
        time.sleep(0.2)


GRANTED = {"ad_storage": "granted", "analytics_storage": "granted",
           "ad_user_data": "granted", "ad_personalization": "granted"}  # fmt: skip


def send_hit(base: str, container: str, event: str, path: str, **fields: object) -> str:
    """POST one consented hit to /collect (as the loader would after consent); its event id."""
    event_id = str(uuid.uuid4())
    hit = {"v": 1, "event": event, "event_id": event_id, "ts": int(time.time() * 1000),
           "page": {"url": f"{base}{path}"}, "consent": GRANTED, **fields}  # fmt: skip
    answer = httpx.post(f"{base}/collect?id={container}", content=json.dumps(hit),
                        headers={"content-type": "application/json"}, timeout=5)  # fmt: skip
    assert answer.status_code in (200, 204), answer.text
    return event_id


def page_view_name(base: str) -> str:
    """Send a page view to /collect; the name the demo receiver got it under."""
    event_id = send_hit(base, "demo", "page_view", "/demo/")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        events = httpx.get(f"{base}/demo/receiver/events", timeout=5).json()
        for event in events:
            if event.get("event_id") == event_id:
                return str(event["event"])
        time.sleep(0.2)
    pytest.fail(f"page view {event_id} never reached the demo receiver")


def test_owner_editor_publisher_journey(node, browser):
    base, data_dir = node
    password = owner_password(data_dir)
    visit = new_visit(browser)
    page = visit.page

    page.goto(f"{base}/admin/signin")
    screenshot(page, "admin-signin")
    sign_in(page, base, DEMO_OWNER, password)
    expect(page.locator("table")).to_contain_text("Demo client")
    screenshot(page, "admin-clients")

    page.click("text=People")
    people = (("ed@agency.example", "Ed Editor"), ("pia@agency.example", "Pia Publisher"))
    for email, name in people:
        page.fill("form[action$='/people'] input[name=email]", email)
        page.fill("form[action$='/people'] input[name=name]", name)
        page.fill("form[action$='/people'] input[name=password]", PASSWORD)
        page.click("form[action$='/people'] button[type=submit]")
        expect(page.locator(".notice")).to_have_text("User created.")
    screenshot(page, "admin-people")

    page.click("text=Clients")
    page.click("text=Demo client")
    for email, role in (("ed@agency.example", "editor"), ("pia@agency.example", "publisher")):
        page.fill("form[action$='/members'] input[name=email]", email)
        page.select_option("form[action$='/members'] select[name=role]", role)
        page.click("form[action$='/members'] button[type=submit]")
        expect(page.locator(".notice")).to_have_text("Access updated.")
    expect(page.locator("section.card table")).to_contain_text("pia@agency.example")
    screenshot(page, "admin-client")
    sign_out(page)

    sign_in(page, base, "ed@agency.example", PASSWORD)
    expect(page.locator("text=New client")).to_have_count(0)  # not an agency admin
    page.click("text=Demo client")
    page.click("a[href$='/containers/demo']")
    textarea = page.locator("form[action$='/workspace'] textarea")
    doc = json.loads(textarea.input_value())
    [hook] = [t for t in doc["tags"] if t["id"] == "demo_receiver"]
    hook["params"]["event_names"]["page_view"] = "PageViewV2"
    textarea.fill(json.dumps(doc, indent=2))
    page.click("form[action$='/workspace'] button[type=submit]")
    expect(page.locator(".notice")).to_have_text("Workspace saved.")
    expect(page.locator("text=Changed since the latest version.")).to_be_visible()
    expect(page.locator("text=Review publish")).to_have_count(0)  # editors do not publish
    page.fill("form[action$='/versions'] input[name=note]", "Rename page views for the CRM")
    page.click("form[action$='/versions'] button[type=submit]")
    expect(page.locator(".notice")).to_have_text("Version created.")
    screenshot(page, "admin-container-editor")
    sign_out(page)

    sign_in(page, base, "pia@agency.example", PASSWORD)
    page.goto(f"{base}/admin/containers/demo/diff?from=1&to=2")
    expect(page.locator("ul.diff")).to_contain_text("PageViewV2")
    screenshot(page, "admin-diff")
    page.goto(f"{base}/admin/containers/demo")
    page.locator("tr", has_text="Rename page views").locator("text=Review publish").click()
    expect(page.locator("h1")).to_have_text("Publish v2 to live?")
    expect(page.locator("ul.diff")).to_contain_text("PageViewV2")
    screenshot(page, "admin-confirm-publish")
    page.click("button:has-text('Publish v2 to live')")
    expect(page.locator(".notice")).to_have_text("Published.")
    wait_live(base, 2)
    assert page_view_name(base) == "PageViewV2"

    page.click("button:has-text('Review rollback')")
    expect(page.locator("h1")).to_have_text("Roll live back to v1?")
    screenshot(page, "admin-confirm-rollback")
    page.click("button:has-text('Roll back to v1')")
    expect(page.locator(".notice")).to_have_text("Rolled back.")
    screenshot(page, "admin-container-publisher")
    wait_live(base, 1)
    assert page_view_name(base) == "PageView"

    page.click("text=Audit log")
    table = page.locator("table")
    for actor, action in (
        ("ed@agency.example", "workspace"),
        ("ed@agency.example", "version"),
        ("pia@agency.example", "publish"),
        ("pia@agency.example", "rollback"),
        (DEMO_OWNER, "membership.set"),
    ):
        expect(table.locator("tr", has_text=actor).filter(has_text=action).first).to_be_visible()
    # people without a client are the agency's business: a publisher does not see them made
    expect(table.locator("tr", has_text="user.create")).to_have_count(0)
    screenshot(page, "admin-audit")
    sign_out(page)
    sign_in(page, base, DEMO_OWNER, password)
    page.goto(f"{base}/admin/audit?actor=owner")
    expect(page.locator("table tr", has_text="user.create").first).to_be_visible()
    page.click("text=History")
    expect(page.locator("table")).to_contain_text("demo_receiver")
    screenshot(page, "admin-history")
    page.click("text=Dead letters")
    expect(page.locator("h1")).to_have_text("Dead letters and held rows")
    screenshot(page, "admin-dead-letters")
    visit.rec.assert_clean()
    visit.context.close()


def test_pages_fit_a_phone(node, browser):
    base, data_dir = node
    visit = new_visit(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the clients page is {width} px wide on a 390 px phone"
    screenshot(page, "admin-clients-phone")
    page.goto(f"{base}/admin/containers/demo")
    screenshot(page, "admin-container-phone")
    visit.rec.assert_clean()
    visit.context.close()


EDITOR_PAGES = [
    ("/admin/containers/demo/tags/new?template=meta", "admin-tag-new"),
    ("/admin/containers/demo/tags/meta", "admin-tag-edit"),
    ("/admin/containers/demo/triggers/leads", "admin-trigger-edit"),
    ("/admin/containers/demo/variables/page_kind", "admin-variable-edit"),
    ("/admin/containers/demo/templates/new", "admin-template-new"),
    ("/admin/templates", "admin-template-gallery"),
    ("/admin/templates/meta", "admin-template-meta"),
    ("/admin/history?container=demo", "admin-history-demo"),
    ("/admin/dead-letters?container=demo", "admin-dead-letters-demo"),
    ("/admin/clients/demo-client", "admin-client-owner"),
    ("/admin/clients/nobody", "admin-not-found"),
]


def test_every_editor_page_renders_under_the_csp(node, browser):
    base, data_dir = node
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    for path, name in EDITOR_PAGES:
        answer = page.goto(f"{base}{path}")
        expected = 404 if name == "admin-not-found" else 200
        assert answer is not None
        assert answer.status == expected, (path, answer.status)
        screenshot(page, name)
    page.goto(f"{base}/admin/containers/demo/triggers/leads")
    page.click("button:has-text('Check on this hit')")
    expect(page.locator("p[role=status]")).to_contain_text("would")
    screenshot(page, "admin-trigger-check")
    page.goto(f"{base}/admin/containers/demo/variables/page_kind")
    page.click("button:has-text('Show its value on this hit')")
    expect(page.locator("p[role=status]")).to_contain_text("On this hit")
    screenshot(page, "admin-variable-preview")
    visit.rec.assert_clean()
    visit.context.close()


def fake_events(base: str, platform: str) -> list[dict]:
    answer = httpx.get(f"{base}/fake/_fake/events", params={"platform": platform}, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def test_build_a_container_in_the_ui_only(node, browser):
    """A new client's container from empty: a lookup variable, a lead trigger with a
    condition and an exception, a Meta and a TikTok tag whose event name is the
    variable; version and publish; a hit through /collect reaches both fakes with the
    variable's value."""
    base, data_dir = node
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.click("text=Demo client")
    blank = page.locator("form[action$='/containers']").first
    blank.locator("input[name=id]").fill("newco")
    blank.locator("input[name=name]").fill("New Co shop")
    blank.locator("input[name=domain]").fill("127.0.0.1")
    blank.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("newco")

    page.click("text=Add a variable")
    page.fill("input[name=id]", "kind")
    page.fill("input[name=name]", "Page kind")
    page.select_option("select[name=type]", "lookup")
    page.fill(
        "textarea[name=params]",
        json.dumps({"input": "page.path", "map": {"/thanks": "SubmitForm"}, "default": "Contact"}),
    )
    page.click("button:has-text('Show its value on this hit')")
    expect(page.locator("p[role=status]")).to_contain_text("SubmitForm")  # the sample is /thanks
    page.click("button:has-text('Save to the workspace')")
    expect(page.locator(".notice")).to_have_text("Workspace saved.")

    page.click("text=Add a trigger")
    page.fill("input[name=id]", "leads")
    page.fill("input[name=name]", "Leads with a value")
    page.fill("input[name=events]", "lead")
    first = page.locator(".cond-row").first  # the condition builder's first row
    first.locator("input[name='c.0.var']").fill("data.value")
    first.locator("select[name='c.0.op']").select_option("gt")
    first.locator("input[name='c.0.value']").fill("0")
    page.click("button:has-text('+ Exception')")  # a round trip that keeps what was typed
    page.fill("input[name='x.0.0.var']", "page.path")
    page.fill("input[name='x.0.0.value']", "/internal")
    page.click("button:has-text('Save to the workspace')")
    expect(page.locator(".notice")).to_have_text("Workspace saved.")
    page.click("text=Leads with a value")
    expect(page.locator("input[name='c.0.var']").first).to_have_value("data.value")
    expect(page.locator("input[name='x.0.0.value']")).to_have_value("/internal")
    page.goto(f"{base}/admin/containers/newco")

    tags = (
        ("meta", {"pixel_id": "1234567890123456", "access_token": "demo_meta_token"}),
        ("tiktok", {"pixel_code": "CDEMO1234567890ABCDE", "access_token": "demo_tiktok_token"}),
    )
    for template, params in tags:
        page.select_option("select[name=template]", template)
        page.click("button:has-text('Add tag')")
        page.fill("input[name=id]", template)
        page.fill("input[name=name]", f"{template} on leads")
        for name, value in params.items():
            page.fill(f"input[name='param.{name}']", value)
        page.fill("textarea[name='param.event_names']", '{"lead": "{{var.kind}}"}')
        page.check("input[name=firing][value=leads]")
        page.select_option("select[name=fire_once]", "lead_id")
        page.click("button:has-text('Save to the workspace')")
        expect(page.locator(".notice")).to_have_text("Workspace saved.")
    screenshot(page, "admin-built-container")

    page.fill("form[action$='/versions'] input[name=note]", "First version, built in the UI")
    page.click("form[action$='/versions'] button[type=submit]")
    expect(page.locator(".notice")).to_have_text("Version created.")
    page.locator("tr", has_text="First version").locator("text=Review publish").click()
    page.click("button:has-text('Publish v1 to live')")
    expect(page.locator(".notice")).to_have_text("Published.")

    deadline = time.monotonic() + 15
    while True:
        ready = httpx.get(f"{base}/readyz", timeout=5).json()["environments"]
        if {"container": "newco", "env": "live", "version": 1} in ready:
            break
        assert time.monotonic() < deadline, f"newco not served: {ready}"
        time.sleep(0.2)
    lead_id = f"L-{uuid.uuid4().hex[:8]}"
    event_id = send_hit(base, "newco", "lead", "/thanks",
                        data={"value": 80, "currency": "EUR", "lead_id": lead_id})  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        meta = [e for e in fake_events(base, "meta") if e.get("event_id") == event_id]
        tiktok = [e for e in fake_events(base, "tiktok") if e.get("event_id") == event_id]
        if meta and tiktok:
            break
        assert time.monotonic() < deadline, f"not delivered: meta {meta}, tiktok {tiktok}"
        time.sleep(0.3)
    assert meta[0]["event_name"] == "SubmitForm"
    assert tiktok[0]["event"]["event"] == "SubmitForm"
    visit.rec.assert_clean()
    visit.context.close()


def test_an_outage_fills_the_dead_letters_and_a_replay_delivers_once(node, browser):
    base, data_dir = node
    refused = httpx.post(
        f"{base}/fake/_fake/fail", timeout=5, json={"platform": "meta", "mode": "auth", "count": 1}
    )
    assert refused.status_code == 200, refused.text
    lead_id = f"L-{uuid.uuid4().hex[:8]}"
    event_id = send_hit(base, "demo", "lead", "/demo/thanks",
                        data={"value": 50, "currency": "EUR", "lead_id": lead_id})  # fmt: skip
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    deadline = time.monotonic() + 20
    while True:
        page.goto(f"{base}/admin/dead-letters?container=demo")
        group = page.locator("tr", has_text="Meta code")
        if group.count():
            break
        assert time.monotonic() < deadline, "the refused Meta event never reached the dead letters"
        time.sleep(0.5)
    screenshot(page, "admin-dead-letters-outage")
    assert [e for e in fake_events(base, "meta") if e.get("event_id") == event_id] == []
    group.first.locator("button:has-text('Replay meta')").click()
    expect(page.locator(".notice")).to_contain_text("row(s) queued again for delivery")
    deadline = time.monotonic() + 20
    while not [e for e in fake_events(base, "meta") if e.get("event_id") == event_id]:
        assert time.monotonic() < deadline, "the replayed event never reached fake Meta"
        time.sleep(0.3)
    time.sleep(1.5)  # anything sent twice would have arrived by now
    assert len([e for e in fake_events(base, "meta") if e.get("event_id") == event_id]) == 1
    visit.rec.assert_clean()
    visit.context.close()


def fake_view(base: str, platform: str, view: str) -> list[dict]:
    answer = httpx.get(
        f"{base}/fake/_fake/events", params={"platform": platform, "view": view}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def test_test_fire_shows_the_test_view_answer_and_nothing_reaches_live(node, browser):
    """Test fire of the demo's Meta and Google Ads tags: the page shows each request and
    the fake's answer; the events are in the fakes' test views and not in live."""
    base, data_dir = node
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.goto(f"{base}/admin/containers/demo")
    page.locator("tr", has_text="meta").locator("text=Test fire").first.click()
    expect(page.locator("h1")).to_contain_text("Test fire")
    page.fill("input[name=test_code]", "TEST4242")
    page.click("button:has-text('Send to the test view')")
    expect(page.locator("h2", has_text="Request 1: meta")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("200")
    event_id = page.locator("li", has_text="Event id").locator("code").inner_text()
    screenshot(page, "admin-test-fire-meta")
    [seen] = [e for e in fake_view(base, "meta", "test") if e.get("event_id") == event_id]
    assert seen["test_code"] == "TEST4242"
    assert [e for e in fake_view(base, "meta", "live") if e.get("event_id") == event_id] == []

    page.goto(f"{base}/admin/containers/demo/tags/google_ads/test")
    page.fill("input[name=test_code]", "TEST4242")
    page.click("button:has-text('Send to the test view')")
    expect(page.locator("h2", has_text="Request 1: google_ads")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("200")
    assert fake_view(base, "google_ads", "test"), "validateOnly reached no test view"
    live = [e for e in fake_view(base, "google_ads", "live") if "TEST-LEAD-1" in json.dumps(e)]
    assert live == []

    page.goto(f"{base}/admin/containers/demo/tags/meta/test")
    page.fill("input[name=test_code]", "")
    page.evaluate("document.querySelector('input[name=test_code]').removeAttribute('required')")
    page.click("button:has-text('Send to the test view')")
    expect(page.locator("p[role=alert]").first).to_contain_text("test_code")
    visit.rec.assert_clean()
    visit.context.close()


def test_an_invalid_parameter_and_a_failing_template_test_are_shown_in_the_page(node, browser):
    """A tag with a bad parameter: the field's error on the form and nothing saved; a
    template whose test fails: the failing diff in the page and nothing saved."""
    base, data_dir = node
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    before = httpx.get(f"{base}/readyz", timeout=5).status_code
    page.goto(f"{base}/admin/containers/demo/tags/new?template=meta")
    page.fill("input[name=id]", "meta_bad")
    page.fill("input[name=name]", "Meta with a bad pixel id")
    page.fill("input[name='param.pixel_id']", "not-a-pixel-id")
    page.fill("input[name='param.access_token']", "demo_meta_token")
    page.check("input[name=firing][value=leads]")
    page.click("button:has-text('Save to the workspace')")
    field = page.locator(".field", has=page.locator("input[name='param.pixel_id']"))
    expect(field.locator(".field-error")).to_contain_text("must match")  # next to its field
    expect(page.locator("p[role=alert]").first).to_contain_text("Nothing was saved")
    screenshot(page, "admin-tag-invalid-parameter")
    page.goto(f"{base}/admin/containers/demo")
    expect(page.locator("#tags")).to_be_visible()
    assert page.locator("code", has_text="meta_bad").count() == 0

    page.goto(f"{base}/admin/containers/demo/templates/new")
    meta = json.loads(page.locator("textarea[name=meta]").input_value())
    meta["id"] = "crm_feed"
    meta["tests"] = [{
        "name": "posts the event name",
        "hit": {"v": 1, "event": "lead", "event_id": "evt-00000001"},
        "params": {"url": "https://crm.example.com/in"},
        "expect": {"requests": [{"method": "POST", "url": "https://crm.example.com/in",
                                 "headers": {}, "json": {"event": "lead"}}]},
    }]  # fmt: skip
    page.fill("textarea[name=meta]", json.dumps(meta))
    misspelt = 'send_http({ url = params.url, body = { evnt = event.get("event") } })\n'
    page.fill("textarea[name=lua]", misspelt)
    page.click("button:has-text('Run its tests')")
    expect(page.locator("p.error", has_text="FAIL crm_feed")).to_be_visible()
    expect(page.locator("pre.diff")).to_contain_text("evnt")
    screenshot(page, "admin-template-failing-test")
    page.goto(f"{base}/admin/containers/demo")
    assert page.locator("a", has_text="crm_feed").count() == 0
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == before
    visit.rec.assert_clean()
    visit.context.close()
