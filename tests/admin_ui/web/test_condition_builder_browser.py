"""The trigger editor's condition builder in a real Chromium against `tagwire serve --demo`:
a nested group and an exception are added with the builder's buttons alone (round trips,
no script runs under the strict CSP), the check says whether the trigger would fire on a
sample hit, and the save keeps the tree."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from demo.accounts import DEMO_OWNER
from tests.browser import new_visit, owner_password, require_chromium, screenshot, sign_in

require_chromium()
pytestmark = pytest.mark.browser


def press(page: Page, group: str, label: str) -> None:
    """Press a builder button of the group at `group` (c, c.2, x.0): a round trip."""
    page.locator(f"[id='n-{group}'] > .cond-actions").get_by_role("button", name=label).click()


def sample(lead_id: str) -> str:
    return json.dumps({
        "v": 1, "event": "lead", "event_id": "sample-0001",
        "page": {"url": "http://127.0.0.1/demo/thanks"},
        "data": {"value": 50, "currency": "EUR", "lead_id": lead_id},
    }, indent=2)  # fmt: skip


def test_a_nested_group_and_an_exception_built_with_the_buttons(node, browser):
    base, data_dir = node
    visit = new_visit(browser)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.goto(f"{base}/admin/containers/demo/triggers/leads")
    expect(page.locator("input[name='c.0.var']")).to_have_value("var.page_kind")

    page.fill("input[name=name]", "Leads in euros, not tests")  # kept through the round trips
    press(page, "c", "+ Nested group")
    page.select_option("select[name='c.2.match']", "any")
    page.fill("input[name='c.2.0.var']", "data.currency")
    page.fill("input[name='c.2.0.value']", "eur")
    page.check("input[name='c.2.0.icase']")
    press(page, "c.2", "+ Row")
    page.fill("input[name='c.2.1.var']", "data.currency")
    page.select_option("select[name='c.2.1.op']", "in")
    page.fill("input[name='c.2.1.value']", "USD, GBP")
    page.click("button:has-text('+ Exception')")
    page.fill("input[name='x.0.0.var']", "data.lead_id")
    page.select_option("select[name='x.0.0.op']", "starts_with")
    page.fill("input[name='x.0.0.value']", "TEST-")
    expect(page.locator("input[name=name]")).to_have_value("Leads in euros, not tests")
    expect(page.locator("input[name='c.2.0.value']")).to_have_value("eur")

    page.fill("textarea[name=sample]", sample("TEST-1"))
    page.click("button:has-text('Check on this hit')")
    expect(page.locator("p[role=status]")).to_have_text("It would not fire on this hit.")
    page.fill("textarea[name=sample]", sample("L-1"))
    page.click("button:has-text('Check on this hit')")
    expect(page.locator("p[role=status]")).to_have_text("It would fire on this hit.")
    screenshot(page, "admin-trigger-builder-nested")

    page.click("button:has-text('Save to the workspace')")
    expect(page.locator(".notice")).to_have_text("Workspace saved.")
    page.click("text=Leads in euros, not tests")
    expect(page.locator("select[name='c.2.match']")).to_have_value("any")
    expect(page.locator("input[name='c.2.1.value']")).to_have_value("USD, GBP")
    expect(page.locator("input[name='x.0.0.value']")).to_have_value("TEST-")
    saved = json.loads(page.locator("textarea[name=conditions]").input_value())
    assert saved["all"][2] == {"any": [
        {"var": "data.currency", "op": "equals", "value": "eur", "ignore_case": True},
        {"var": "data.currency", "op": "in", "value": ["USD", "GBP"]},
    ]}  # fmt: skip
    visit.rec.assert_clean()
    visit.context.close()


def test_the_builder_fits_a_phone(node, browser):
    base, data_dir = node
    visit = new_visit(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = visit.page
    sign_in(page, base, DEMO_OWNER, owner_password(data_dir))
    page.goto(f"{base}/admin/containers/demo/triggers/leads")
    press(page, "c", "+ Nested group")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the trigger editor is {width} px wide on a 390 px phone"
    screenshot(page, "admin-trigger-builder-phone")
    visit.rec.assert_clean()
    visit.context.close()
