"""The shipped platform templates, checked together for what users bet budgets on.

For every platform template and every canonical event: the browser command and the server
request carry the same event id in the platform's dedup field, value and currency are a
number and an ISO code, the event time is in the platform's unit, no plaintext personal
data is in any payload, and the event names match the documented taxonomy table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from demo import demo_document, demo_secrets
from tags.package import shipped_template
from tags.runtime import TagResult
from tags.testing import run_once
from variables.pii_firewall import contains_pii

DOCS = Path(__file__).parents[2] / "docs" / "platforms" / "index.md"
EVENT_TIME_MS = 1763900000123
H = {key: f"{i:02x}" * 32 for i, key in enumerate(("em", "em_g", "ph", "ph_d", "fn", "ln"), 1)}


def _taxonomy() -> dict[str, dict[str, str]]:
    """The documented taxonomy table: canonical event -> column -> cell."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index("| canonical event | Meta | TikTok | GA4 | LinkedIn rule type | "
                        "Google Ads category |")  # fmt: skip
    columns = ("meta", "tiktok", "ga4", "linkedin", "google_ads")
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = [re.search(r"`([^`]+)`", c).group(1) for c in cells]  # type: ignore[union-attr]
        table[names[0]] = dict(zip(columns, names[1:], strict=True))
    return table


TAXONOMY = _taxonomy()
CANONICAL = tuple(TAXONOMY)


def demo_params(template: str) -> dict[str, Any]:
    """The demo container's parameters for a template, with conversion maps for every
    canonical event so LinkedIn and Google Ads fire for all of them."""
    doc = demo_document("http://127.0.0.1:8000/demo/receiver")
    (tag,) = [t for t in doc["tags"] if t["template"] == template]
    params = dict(tag["params"])
    for key in ("conversions", "insight_conversions", "conversion_actions"):
        if key in params:
            params[key] = {e: str(10_000_000 + i) for i, e in enumerate(CANONICAL)}
    if "conversion_labels" in params:
        params["conversion_labels"] = {e: f"Label{i}" for i, e in enumerate(CANONICAL)}
    return params


def hit(event: str) -> dict[str, Any]:
    return {
        "v": 1, "event": event, "event_id": f"evt-{event}-0001", "ts": EVENT_TIME_MS,
        "page": {"url": "https://www.example.com/p", "referrer": "https://www.example.com/",
                 "locale": "en-US"},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                    "ad_user_data": "granted", "ad_personalization": "granted"},
        "user": dict(H),
        "click": {"fbclid": "IwAR2F4-dbP0l7Mn1Iaw", "ttclid": "E.C.P.abc", "gclid": "Cj0KCQiA-x",
                  "li_fat_id": "0a1b2c3d-li"},
        "data": {"value": 59.5, "currency": "USD", "transaction_id": "T-1001",
                 "contents": [{"id": "SKU-1", "quantity": 2, "item_price": 29.75}]},
    }  # fmt: skip


SERVER = {"event_time_ms": EVENT_TIME_MS, "client_ip": "203.0.113.9",
          "user_agent": "Mozilla/5.0 (X11)", "client_id": "1234567890.1763000000"}  # fmt: skip


def run(template: str, event: str, **params: Any) -> TagResult:
    result = run_once(
        shipped_template(template),
        hit(event),
        {**demo_params(template), **params},
        secrets=demo_secrets(),
        server=SERVER,
        cookies={"_ga": "GA1.1.1234567890.1763000000"},
        now_ms=EVENT_TIME_MS + 500,
        wall_clock=False,
    )
    assert result.error is None, result.error
    return result


def body(result: TagResult) -> Any:
    (request,) = result.requests
    return orjson.loads(request["body"])


@dataclass(frozen=True)
class Platform:
    """Where each platform keeps the fields these checks compare."""

    server_event: Callable[[Any], dict[str, Any]]
    server_id: Callable[[dict[str, Any]], str]
    browser_id: Callable[[dict[str, Any]], str | None]
    server_name: Callable[[dict[str, Any]], str | None]
    browser_name: Callable[[dict[str, Any]], str | None]
    value: Callable[[dict[str, Any]], Any]
    currency: Callable[[dict[str, Any]], Any]
    time: Callable[[dict[str, Any]], Any]
    expected_time: Any


def _last_pixel(result: TagResult) -> dict[str, Any]:
    return result.pixels[-1]


PLATFORMS = {
    "meta": Platform(
        server_event=lambda b: b["data"][0],
        server_id=lambda e: e["event_id"],
        browser_id=lambda p: p["args"][3]["eventID"],
        server_name=lambda e: e["event_name"],
        browser_name=lambda p: p["args"][1],
        value=lambda e: e["custom_data"]["value"],
        currency=lambda e: e["custom_data"]["currency"],
        time=lambda e: e["event_time"],
        expected_time=EVENT_TIME_MS // 1000,
    ),
    "tiktok": Platform(
        server_event=lambda b: b["data"][0],
        server_id=lambda e: e["event_id"],
        browser_id=lambda p: p["args"][3]["event_id"] if p["command"] == "track" else None,
        server_name=lambda e: e["event"],
        browser_name=lambda p: p["args"][1] if p["command"] == "track" else None,
        value=lambda e: e["properties"]["value"],
        currency=lambda e: e["properties"]["currency"],
        time=lambda e: e["event_time"],
        expected_time=EVENT_TIME_MS // 1000,
    ),
    "linkedin": Platform(
        server_event=lambda b: b,
        server_id=lambda e: e["eventId"],
        browser_id=lambda p: p["args"][1]["event_id"],
        server_name=lambda e: None,
        browser_name=lambda p: None,
        value=lambda e: float(e["conversionValue"]["amount"]),
        currency=lambda e: e["conversionValue"]["currencyCode"],
        time=lambda e: e["conversionHappenedAt"],
        expected_time=EVENT_TIME_MS,
    ),
    "google_ads": Platform(
        server_event=lambda b: b["conversions"][0],
        server_id=lambda e: e["orderId"],
        browser_id=lambda p: p["args"][1]["transaction_id"],
        server_name=lambda e: None,
        browser_name=lambda p: None,
        value=lambda e: e["conversionValue"],
        currency=lambda e: e["currencyCode"],
        time=lambda e: e["conversionDateTime"],
        expected_time="2025-11-23 12:13:20+00:00",
    ),
    "ga4": Platform(
        server_event=lambda b: b["events"][0],
        server_id=lambda e: e["params"]["event_id"],
        browser_id=lambda p: p["args"][1]["event_id"],
        server_name=lambda e: e["name"],
        browser_name=lambda p: p["args"][0],
        value=lambda e: e["params"]["value"],
        currency=lambda e: e["params"]["currency"],
        time=lambda e: None,
        expected_time=None,
    ),
}
CASES = [(p, e) for p in PLATFORMS for e in CANONICAL]


@pytest.mark.parametrize(("platform", "event"), CASES)
def test_browser_and_server_share_the_dedup_id(platform: str, event: str) -> None:
    spec = PLATFORMS[platform]
    result = run(platform, event, send_browser=True)
    server_event = spec.server_event(body(result))
    pixel = _last_pixel(result)
    expected_id = "T-1001" if platform == "google_ads" else hit(event)["event_id"]
    assert spec.server_id(server_event) == expected_id
    browser_id = spec.browser_id(pixel)
    if platform == "tiktok" and event == "page_view":
        assert pixel["command"] == "page"  # ttq.page() carries no id; the server copy does
    else:
        assert browser_id == expected_id


@pytest.mark.parametrize(("platform", "event"), CASES)
def test_names_follow_the_documented_taxonomy(platform: str, event: str) -> None:
    spec = PLATFORMS[platform]
    result = run(platform, event, send_browser=True)
    server_name = spec.server_name(spec.server_event(body(result)))
    documented = TAXONOMY[event][platform]
    if server_name is not None:
        assert server_name == documented
    browser_name = spec.browser_name(_last_pixel(result))
    if browser_name is not None:
        assert browser_name == documented


@pytest.mark.parametrize(("platform", "event"), CASES)
def test_value_currency_and_time_units(platform: str, event: str) -> None:
    spec = PLATFORMS[platform]
    server_event = spec.server_event(body(run(platform, event)))
    value = spec.value(server_event)
    assert type(value) in (int, float)
    assert value == 59.5
    assert spec.currency(server_event) == "USD"
    assert spec.time(server_event) == spec.expected_time


@pytest.mark.parametrize(("platform", "event"), CASES)
def test_no_plaintext_personal_data_in_any_payload(platform: str, event: str) -> None:
    result = run(platform, event, send_browser=True)
    outputs = [r["url"] + (r["body"] or "") + orjson.dumps(r["headers"]).decode()
               for r in result.requests]  # fmt: skip
    outputs.append(orjson.dumps(result.pixels).decode())
    hashes_sent = set()
    for text in outputs:
        assert not contains_pii(text), text
        hashes_sent.update(re.findall(r"\b[0-9a-f]{64}\b", text))
    # Every 64-hex value that leaves is one of the hit's own hashes, never a new one.
    assert hashes_sent <= set(H.values())
    assert hashes_sent, "no hashed identifier reached the platform"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_withdrawn_currency_fails_instead_of_guessing(platform: str) -> None:
    wire = hit("purchase")
    del wire["data"]["currency"]
    result = run_once(shipped_template(platform), wire, demo_params(platform),
                      secrets=demo_secrets(), server=SERVER,
                      cookies={"_ga": "GA1.1.1234567890.1763000000"},
                      wall_clock=False)  # fmt: skip
    assert result.error is not None
    assert result.error.kind == "runtime"
    assert "currency" in result.error.message
    assert (result.requests, result.pixels) == ([], [])
