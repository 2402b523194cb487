"""Builders for the delivery tests: claimed items, queued rows for each platform, a clock
the test moves, and routes that send the platforms' real URLs to in-process fakes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from starlette.testclient import TestClient

from config.storage import OutboxItem, OutboxRow, Store
from container.delivery.batching import Answer, Entry, HttpPolicy, Request
from container.delivery.clock import Clock
from container.delivery.routes import PLATFORM_ORIGINS, PlatformRoutes
from fake_platforms import BASE_PATHS, FakePlatforms
from tests.fake_platforms.payloads import (
    ADS_HEADERS,
    LINKEDIN_HEADERS,
    NOW_MS,
    ads_body,
    ga4_body,
    linkedin_event,
    meta_event,
    tiktok_body,
)

META = "https://graph.facebook.com/v25.0/1234567890123456/events"
TIKTOK = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
LINKEDIN = "https://api.linkedin.com/rest/conversionEvents"
ADS = "https://googleads.googleapis.com/v26/customers/1234567890:uploadClickConversions"
GA4 = "https://www.google-analytics.com/mp/collect?measurement_id=G-DEMO12345&api_secret=ga4-test-secret"
GA4_DEBUG = "https://www.google-analytics.com/debug/mp/collect?measurement_id=G-DEMO12345"
JSON = {"content-type": "application/json"}
FAKE = "http://fake"


def meta_request(*events: dict[str, Any], **envelope: Any) -> tuple[str, dict, dict]:
    body = {"data": list(events) or [meta_event()], "access_token": "meta-test-token", **envelope}
    return META, JSON, body


def tiktok_request(*events: dict[str, Any], **envelope: Any) -> tuple[str, dict, dict]:
    return TIKTOK, {**JSON, "Access-Token": "tiktok-test-token"}, tiktok_body(*events, **envelope)


def linkedin_request(**fields: Any) -> tuple[str, dict, dict]:
    return LINKEDIN, {**JSON, **LINKEDIN_HEADERS}, linkedin_event(**fields)


def ads_request(*conversions: dict[str, Any], **envelope: Any) -> tuple[str, dict, dict]:
    return ADS, {**JSON, **ADS_HEADERS}, ads_body(*conversions, **envelope)


def ga4_request(url: str = GA4, **fields: Any) -> tuple[str, dict, dict]:
    return url, JSON, ga4_body(**fields)


def item(
    request: tuple[str, dict, dict], *, id: int = 1, attempts: int = 0,
    event_time_ms: int = NOW_MS - 60_000, created_at: int = NOW_MS, platform: str = "meta",
) -> OutboxItem:  # fmt: skip
    url, headers, body = request
    host = httpx.URL(url).host
    return OutboxItem(id, "shop", f"tag{id}", platform, host, "POST", url,
                      orjson.dumps(headers), orjson.dumps(body), attempts, event_time_ms,
                      created_at)  # fmt: skip


def row(
    request: tuple[str, dict, dict], *, tag: str = "tag", event_id: str = "e1",
    event_time_ms: int = NOW_MS - 60_000, platform: str = "meta",
) -> OutboxRow:  # fmt: skip
    url, headers, body = request
    return OutboxRow(
        "shop", tag, httpx.URL(url).netloc.decode(), "POST", url, orjson.dumps(headers),
        orjson.dumps(body), "lead", event_id, None, platform, event_time_ms, None, None, None,
        False,
    )  # fmt: skip


class ManualClock:
    """Wall time stands still until the test moves it (backoff and breaker deadlines)."""

    def __init__(self, now_ms: int = NOW_MS) -> None:
        self.now = now_ms / 1000

    def advance(self, seconds: float) -> None:
        self.now += seconds

    @property
    def clock(self) -> Clock:
        return Clock(time=lambda: self.now)


def fake_routes(base: str = FAKE) -> PlatformRoutes:
    """Every platform origin to its path on the fakes at `base`."""
    prefixes = {}
    for setting, origins in PLATFORM_ORIGINS.items():
        prefixes.update(dict.fromkeys(origins, base + BASE_PATHS[setting]))
    return PlatformRoutes(prefixes)


def fake_transport(fakes: FakePlatforms) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=fakes.app)


async def settled(store: Store, timeout: float = 10.0) -> dict[str, int]:
    """Wait until no row is pending or inflight; the counts per state."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await store.outbox_counts()
        if not counts.get("pending") and not counts.get("inflight"):
            return counts
        assert time.monotonic() < deadline, f"rows still pending or inflight: {counts}"
        await asyncio.sleep(0.02)


def exchange(fakes: FakePlatforms, request: Request) -> Answer:
    """Send a policy's request to the in-process fakes; their answer as the sender sees it."""
    client = TestClient(fakes.app)
    response = client.request(
        request.method, fake_routes("http://testserver")(request.url),
        headers=request.headers, content=request.body,
    )  # fmt: skip
    return Answer(response.status_code, response.text, response.headers.get("retry-after"))


def merged(policy: HttpPolicy, *items: OutboxItem) -> tuple[list[Entry], Request]:
    entries = [policy.entry(i) for i in items]
    return entries, policy.merge(entries)
