"""A page instrumented only with gtag.js, pointed at tagwire: its page_view and purchase,
as gtag.js sends them to a server container, reach the Meta and GA4 fakes through the
shipped tags, over real HTTP; with consent denied they reach nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo import demo_document, demo_secrets
from fake_platforms import serve
from tests.helpers import LOOPBACK_EGRESS, tagwire_process, wait_until

pytestmark = pytest.mark.e2e

TID = "G-DEMO12345"  # the GA4 stream the demo's ga4 tag sends to
CID = "1234567890.1712345678"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SHARED = (f"v=2&tid={TID}&gtm=45je4a20v9190325876za200&cid={CID}&ul=de-ch&sr=1920x1080"
          "&sid=1712345678&sct=1&seg=1&dl=https%3A%2F%2Fwww.example.com%2Fcheckout%2Fdone"
          "&dr=https%3A%2F%2Fwww.example.com%2Fcart&dt=Thank%20you")  # fmt: skip
GRANTED = "gcs=G111&gcd=13r3r3r3r5l1"
DENIED = "gcs=G100&gcd=13p3p3p3p5l1"
PURCHASE = ("en=purchase&_et=120&cu=EUR&epn.value=129.9&ep.transaction_id=T-E2E-1"
            "&pr1=idSKU_1~nmRunning%20Shoe~pr49.95~qt2&pr2=idSKU_2~nmSocks~pr30~qt1")  # fmt: skip


def container_document() -> dict[str, Any]:
    """The demo's Meta and GA4 tags, firing on page views and purchases of stream TID."""
    doc = demo_document("http://127.0.0.1:9/unused")
    doc["container"]["id"] = "shop"
    doc["container"]["gtag"] = {"measurement_ids": [TID]}
    doc["variables"] = []
    doc["triggers"] = [{"id": "shop_events", "name": "Page views and purchases",
                        "events": ["page_view", "purchase"]}]  # fmt: skip
    doc["tags"] = [t for t in doc["tags"] if t["template"] in ("meta", "ga4")]
    for tag in doc["tags"]:
        tag["firing_triggers"] = ["shop_events"]
        tag["fire_once"] = "transaction_id"
    return doc


@pytest.fixture
def node(tmp_path: Path):
    with serve() as fakes:
        (tmp_path / "shop.json").write_text(json.dumps(container_document()))
        env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data")}
        env |= {f"TAGWIRE_{name.upper()}": url for name, url in fakes.base_urls.items()}
        env |= LOOPBACK_EGRESS
        env |= {f"TAGWIRE_SECRET_{name.upper()}": value for name, value in demo_secrets().items()}
        with tagwire_process("--container", str(tmp_path / "shop.json"), env=env) as base:
            yield base, fakes.url


def events(fakes: str, platform: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{fakes}/_fake/events", params={"platform": platform, "view": "live"})
    assert response.status_code == 200, response.text
    return response.json()["events"]


def gtag(base: str, query: str, body: str = "") -> httpx.Response:
    """What gtag.js sends: a POST with text/plain lines (or the event in the query)."""
    return httpx.post(f"{base}/g/collect?{query}", content=body,
                      headers={"content-type": "text/plain;charset=UTF-8", "user-agent": CHROME,
                               "cookie": "_fbp=fb.1.1712345678000.987654321"})  # fmt: skip


def test_a_gtag_page_view_and_purchase_reach_meta_and_ga4(node) -> None:
    base, fakes = node
    page_view = gtag(base, f"{SHARED}&{GRANTED}&_p=1712345678901&_s=1&en=page_view&_ss=1")
    assert page_view.status_code == 204, page_view.text
    purchase = gtag(base, f"{SHARED}&{GRANTED}&_p=1712345678901&_s=2", PURCHASE)
    assert purchase.status_code == 204, purchase.text

    def both_everywhere() -> bool:
        return all(len(events(fakes, p)) == 2 for p in ("meta", "ga4"))

    wait_until(both_everywhere, timeout=20, what="page_view and purchase at Meta and GA4")
    meta = {e["event_name"]: e for e in events(fakes, "meta")}
    assert set(meta) == {"PageView", "Purchase"}
    ga4 = {e["event_name"]: e for e in events(fakes, "ga4")}
    assert set(ga4) == {"page_view", "purchase"}
    requests = httpx.get(f"{fakes}/_fake/requests").json()["requests"]
    assert [r for r in requests if r["status"] >= 300] == []
    ga4_bodies = [r["body"] for r in requests if r["platform"] == "ga4"]
    assert {b["client_id"] for b in ga4_bodies} == {CID}  # gtag's own client id
    [ga4_purchase] = [b for b in ga4_bodies if b["events"][0]["name"] == "purchase"]
    params = ga4_purchase["events"][0]["params"]
    assert (params["transaction_id"], params["value"], params["currency"]) == (
        "T-E2E-1", 129.9, "EUR")  # fmt: skip
    assert [i["item_id"] for i in params["items"]] == ["SKU_1", "SKU_2"]
    custom = meta["Purchase"]["event"]["custom_data"]
    assert (custom["value"], custom["currency"], custom["order_id"]) == (129.9, "EUR", "T-E2E-1")


def test_with_consent_denied_nothing_reaches_any_platform(node) -> None:
    base, fakes = node
    assert gtag(base, f"{SHARED}&{DENIED}&_p=5&_s=1&en=page_view").status_code == 204
    assert gtag(base, f"{SHARED}&{DENIED}&_p=5&_s=2", PURCHASE).status_code == 204
    granted = gtag(base, f"{SHARED}&{GRANTED}&_p=6&_s=1&en=page_view")
    assert granted.status_code == 204
    # the granted page view after them arrives; the denied events, sent first, never do
    wait_until(lambda: events(fakes, "meta") and events(fakes, "ga4"), timeout=20,
               what="the granted page view at Meta and GA4")  # fmt: skip
    for platform in ("meta", "ga4"):
        assert [e["event_name"] for e in events(fakes, platform)] in (["PageView"], ["page_view"])


@pytest.fixture
def every_platform(tmp_path: Path):
    """A node with every tag of the demo container (webhook aside) on stream TID."""
    doc = demo_document("http://127.0.0.1:9/unused")
    doc["container"]["id"] = "shop"
    doc["container"]["gtag"] = {"measurement_ids": [TID]}
    doc["tags"] = [t for t in doc["tags"] if t["template"] != "webhook"]
    with serve() as fakes:
        (tmp_path / "shop.json").write_text(json.dumps(doc))
        env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data")}
        env |= {f"TAGWIRE_{name.upper()}": url for name, url in fakes.base_urls.items()}
        env |= LOOPBACK_EGRESS
        env |= {f"TAGWIRE_SECRET_{name.upper()}": value for name, value in demo_secrets().items()}
        with tagwire_process("--container", str(tmp_path / "shop.json"), env=env) as base:
            yield base, fakes.url


PLATFORMS = ("meta", "tiktok", "linkedin", "google_ads", "ga4")


def test_a_gtag_lead_reaches_every_platform_and_a_denied_one_none(every_platform) -> None:
    """gtag's generate_lead from a landing page that carries each platform's click id: the
    demo container's five platform tags each deliver it; the same lead with consent
    denied, sent first, reaches none of them."""
    base, fakes = every_platform
    # the demo's lead trigger wants its thank-you page; the click ids came with the visit
    landing = ("https%3A%2F%2Fwww.example.com%2Fdemo%2Fthanks%3Fgclid%3DCj0KCQjw-e2e"
               "%26fbclid%3DIwAR-e2e"
               "%26ttclid%3DE2E.ttclid%26li_fat_id%3D11111111-2222-3333-4444-555555555555")
    shared = SHARED.replace("dl=https%3A%2F%2Fwww.example.com%2Fcheckout%2Fdone", f"dl={landing}")
    lead = "en=generate_lead&ep.lead_id=L-E2E-1&epn.value=50&cu=EUR"
    denied = gtag(base, f"{shared}&{DENIED}&_p=7&_s=1&{lead.replace('L-E2E-1', 'L-DENIED')}")
    assert denied.status_code == 204, denied.text
    granted = gtag(base, f"{shared}&{GRANTED}&_p=8&_s=1&{lead}")
    assert granted.status_code == 204, granted.text

    wait_until(lambda: all(events(fakes, p) for p in PLATFORMS), timeout=30,
               what="the granted lead at all five platforms")  # fmt: skip
    requests = httpx.get(f"{fakes}/_fake/requests").json()["requests"]
    assert [r for r in requests if r["status"] >= 300] == []
    for platform in PLATFORMS:
        delivered = events(fakes, platform)
        assert len(delivered) == 1, (platform, delivered)
        assert "L-DENIED" not in json.dumps(delivered)
