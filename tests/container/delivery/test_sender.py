"""The sender end to end with the real SQLite store: batching per platform against the
in-process fakes, bisection, max age, Retry-After, the breaker, limits and stopping."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from config.egress import EgressPolicy
from config.storage import OutboxFilter
from container.delivery.batching import LinkedInPolicy, MetaPolicy, Policies
from container.delivery.breaker import BreakerSettings
from container.delivery.clock import Clock
from container.delivery.destination import DestinationLimits
from container.delivery.ratelimit import Rate
from container.delivery.routes import PlatformRoutes
from container.delivery.sender import TRANSPORT_FAILED, Sender
from fake_platforms import FakePlatforms
from tests.container.delivery.support import (
    ManualClock,
    ads_request,
    fake_routes,
    fake_transport,
    linkedin_request,
    meta_request,
    row,
    settled,
    tiktok_request,
)
from tests.fake_platforms.payloads import (
    NOW_MS,
    NOW_S,
    ads_conversion,
    meta_event,
    tiktok_event,
)
from tests.helpers import Recorder

pytestmark = pytest.mark.anyio

HOOK = "http://hook.test/in"
DAY_MS = 86_400_000


@pytest.fixture
def fakes() -> FakePlatforms:
    return FakePlatforms(clock=lambda: NOW_MS)


def hook_row(key: str, url: str = HOOK) -> Any:
    return row((url, {"content-type": "application/json", "x-token": "abc"}, {"event": key}),
               tag=f"hook-{key}", event_id=key, platform="webhook")  # fmt: skip


def platform_sender(store, fakes, clock: ManualClock | None = None, **options) -> Sender:
    options.setdefault("batch_flush_ms", 0)
    return Sender(store, concurrency=4, timeout=5, max_attempts=5, routes=fake_routes(),
                  clock=(clock or ManualClock()).clock, transport=fake_transport(fakes),
                  **options)  # fmt: skip


async def run(sender: Sender, store) -> dict[str, int]:
    sender.start()
    try:
        return await settled(store)
    finally:
        await sender.stop(5)


async def history(store) -> dict[str, list[tuple[str, int]]]:
    """(outcome, batch_size) of each attempt, oldest first, per tag."""
    found: dict[str, list[tuple[str, int]]] = {}
    for entry in reversed(await store.history(OutboxFilter(), 1000, 0)):
        found.setdefault(entry.tag_id, []).append((entry.outcome, entry.batch_size))
    return found


def rows_in_db(tmp_path: Path) -> dict[str, tuple[str, int, int, str]]:
    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        found = conn.execute(
            "SELECT tag_id, state, attempts, next_attempt_at, last_response FROM outbox"
        ).fetchall()
    finally:
        conn.close()
    return {tag: (state, attempts, next_at, response or "") for tag, state, attempts, next_at,
            response in found}  # fmt: skip


def sizes(fakes: FakePlatforms, platform: str, key: str = "data") -> list[tuple[int, int]]:
    """(status, events) of each request the fake received."""
    out = []
    for request in fakes.requests(platform):
        body = request["body"]
        count = len(body[key]) if isinstance(body, dict) and key in body else 1
        out.append((request["status"], count))
    return out


async def test_rows_for_one_pixel_go_in_one_request(store, fakes) -> None:
    await store.enqueue([row(meta_request(meta_event(event_id=f"e{i}")), tag=f"t{i}",
                             event_id=f"e{i}") for i in range(5)], NOW_MS)  # fmt: skip
    assert await run(platform_sender(store, fakes), store) == {"sent": 5}
    assert sizes(fakes, "meta") == [(200, 5)]
    assert {tag: steps for tag, steps in (await history(store)).items()} == {
        f"t{i}": [("sent", 5)] for i in range(5)
    }
    assert REGISTRY.get_sample_value("tagwire_delivery_batch_size_count", {"platform": "meta"})


async def test_a_batch_refused_for_one_stale_event_is_bisected(store, fakes) -> None:
    rows = [row(meta_request(meta_event(event_id=f"e{i}")), tag=f"t{i}", event_id=f"e{i}")
            for i in range(8)]  # fmt: skip
    # the row says the event is fresh, its body says otherwise: only Meta can tell
    stale = meta_event(event_id="stale", event_time=NOW_S - 8 * 86400)
    rows[5] = row(meta_request(stale), tag="stale", event_id="stale")
    await store.enqueue(rows, NOW_MS)
    assert await run(platform_sender(store, fakes), store) == {"sent": 7, "dead": 1}
    assert sorted(e["event_id"] for e in fakes.events("meta")) == sorted(
        f"e{i}" for i in range(8) if i != 5
    )
    statuses = sizes(fakes, "meta")
    assert statuses[0] == (400, 8)
    assert sorted(statuses) == sorted([(400, 8), (200, 4), (400, 4), (200, 2), (400, 2),
                                       (200, 1), (400, 1)])  # fmt: skip
    state, attempts, _, response = rows_in_db(store.path.parent)["stale"]
    assert (state, attempts) == ("dead", 1)
    assert response.startswith(
        "Meta code 100/2804003: The timestamp for this event is too far in the past."
    )


async def test_tiktok_bisects_a_batch_refused_inside_http_200(store, fakes) -> None:
    bad = tiktok_event(event_id="bad", event_time=NOW_S + 86400)
    rows = [row(tiktok_request(tiktok_event(event_id=f"e{i}")), tag=f"t{i}", event_id=f"e{i}",
                platform="tiktok") for i in range(3)]  # fmt: skip
    rows.append(row(tiktok_request(bad), tag="bad", event_id="bad", platform="tiktok"))
    await store.enqueue(rows, NOW_MS)
    assert await run(platform_sender(store, fakes), store) == {"sent": 3, "dead": 1}
    assert rows_in_db(store.path.parent)["bad"][3].startswith("TikTok code 40002: ")


async def test_events_older_than_the_max_age_are_dead_before_sending(store, fakes) -> None:
    old = NOW_MS - 7 * DAY_MS - 1000
    await store.enqueue([row(meta_request(meta_event(event_id="old")), tag="old",
                             event_id="old", event_time_ms=old),
                         row(meta_request(meta_event(event_id="new")), tag="new",
                             event_id="new")], NOW_MS)  # fmt: skip
    assert await run(platform_sender(store, fakes), store) == {"sent": 1, "dead": 1}
    assert sizes(fakes, "meta") == [(200, 1)]
    state, attempts, _, response = rows_in_db(store.path.parent)["old"]
    assert (state, attempts) == ("dead", 1)
    assert response == "not sent: older than meta accepts (7 days); the event is 7 days old"
    assert (await history(store))["old"] == [("dead", 0)]


async def test_linkedin_refuses_one_element_and_the_others_are_sent(store, fakes) -> None:
    bad = {"userIds": [{"idType": "EMAIL", "idValue": "x"}]}
    rows = [row(linkedin_request(eventId=f"e{i}"), tag=f"t{i}", event_id=f"e{i}",
                platform="linkedin") for i in range(3)]  # fmt: skip
    rows[1] = row(linkedin_request(eventId="bad", user=bad), tag="bad", platform="linkedin")
    await store.enqueue(rows, NOW_MS)
    assert await run(platform_sender(store, fakes), store) == {"sent": 2, "dead": 1}
    assert sizes(fakes, "linkedin", "elements") == [(422, 3), (200, 2)]
    assert rows_in_db(store.path.parent)["bad"][3].startswith(
        'LinkedIn: ERROR :: /user/userIds/0/idType :: "EMAIL" is not an enum symbol | '
    )


async def test_google_ads_partial_failure_is_dead_for_its_row_only(store, fakes) -> None:
    unknown = "customers/1234567890/conversionActions/111"
    rows = [row(ads_request(ads_conversion(orderId=f"o{i}")), tag=f"t{i}", event_id=f"o{i}",
                platform="google_ads") for i in range(3)]  # fmt: skip
    rows[2] = row(ads_request(ads_conversion(orderId="bad", conversionAction=unknown)),
                  tag="bad", platform="google_ads")  # fmt: skip
    await store.enqueue(rows, NOW_MS)
    assert await run(platform_sender(store, fakes), store) == {"sent": 2, "dead": 1}
    assert sizes(fakes, "google_ads", "conversions") == [(200, 3)]
    assert rows_in_db(store.path.parent)["bad"][3].startswith("Google Ads partial failure: ")


async def test_webhook_rows_are_delivered_retried_and_dead_lettered(store) -> None:
    recorder = Recorder()
    recorder.responses = [(204, {}, b""), (503, {"retry-after": "0"}, b"busy"),
                          (400, {}, b'{"error":"invalid event"}')]  # fmt: skip
    for key in ("a", "b", "c"):
        await store.enqueue([hook_row(key, f"http://hook.test/{key}")], NOW_MS)
    sender = Sender(store, concurrency=1, timeout=5, max_attempts=3, batch_flush_ms=0,
                    clock=ManualClock().clock,
                    transport=httpx.ASGITransport(app=recorder))  # fmt: skip
    assert await run(sender, store) == {"sent": 1, "failed": 1, "dead": 1}
    assert [r["path"] for r in recorder.requests] == ["/a", "/b", "/c"]
    assert recorder.requests[0]["headers"]["x-token"] == "abc"
    assert orjson.loads(recorder.requests[0]["body"]) == {"event": "a"}


async def test_retry_after_is_honoured(store, tmp_path) -> None:
    recorder = Recorder()
    recorder.responses = [(429, {"retry-after": "120"}, b"slow down")]
    await store.enqueue([hook_row("a")], NOW_MS)
    sender = Sender(store, concurrency=1, timeout=5, max_attempts=3, batch_flush_ms=0,
                    clock=ManualClock().clock,
                    transport=httpx.ASGITransport(app=recorder))  # fmt: skip
    assert await run(sender, store) == {"failed": 1}
    assert rows_in_db(tmp_path)["hook-a"][:3] == ("failed", 1, NOW_MS + 120_000)


async def test_unreachable_destination_is_retried_not_lost(store, tmp_path) -> None:
    await store.enqueue([hook_row("a", "http://127.0.0.1:9/nothing")], NOW_MS)
    sender = Sender(store, concurrency=1, timeout=1, max_attempts=5, batch_flush_ms=0,
                    clock=ManualClock().clock,
                    egress=EgressPolicy.parse("127.0.0.1"))  # fmt: skip
    assert await run(sender, store) == {"failed": 1}
    # The stored text says nothing of the port being closed.
    assert rows_in_db(tmp_path)["hook-a"][3] == TRANSPORT_FAILED


async def test_an_invalid_url_is_dead_at_once(store, tmp_path) -> None:
    await store.enqueue([hook_row("a", "ftp://hook.test/in")], NOW_MS)
    sender = Sender(store, concurrency=1, timeout=1, max_attempts=5, batch_flush_ms=0,
                    clock=ManualClock().clock)  # fmt: skip
    assert await run(sender, store) == {"dead": 1}
    assert rows_in_db(tmp_path)["hook-a"][3].startswith("invalid URL: ")


async def test_platform_urls_follow_the_node_routes_at_send_time(store) -> None:
    recorder = Recorder()
    url = "https://graph.facebook.com/v25.0/123/events"
    await store.enqueue([row((url, {}, {"event": "m"}), tag="m")], NOW_MS)
    routes = PlatformRoutes({"https://graph.facebook.com": "http://proxy.test/meta"})
    sender = Sender(store, concurrency=1, timeout=5, max_attempts=3, routes=routes,
                    batch_flush_ms=0, clock=ManualClock().clock,
                    transport=httpx.ASGITransport(app=recorder))  # fmt: skip
    assert await run(sender, store) == {"sent": 1}
    assert [r["path"] for r in recorder.requests] == ["/meta/v25.0/123/events"]


async def wait_for(check, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_the_breaker_opens_defers_rows_then_probes_and_closes(store, tmp_path) -> None:
    recorder = Recorder()
    recorder.responses = [(503, {}, b"down"), (503, {}, b"down")]
    await store.enqueue([hook_row(k) for k in "abcd"], NOW_MS)
    clock = ManualClock()
    sender = Sender(store, concurrency=1, timeout=5, max_attempts=10, batch_flush_ms=0,
                    clock=clock.clock, breaker=BreakerSettings(failures=2, open_s=30.0),
                    transport=httpx.ASGITransport(app=recorder))  # fmt: skip
    gauge = {"destination": "hook.test"}

    async def opened() -> bool:
        return await store.outbox_counts() == {"failed": 2, "pending": 2}

    async def all_sent() -> bool:
        return await store.outbox_counts() == {"sent": 4}

    sender.start()
    try:
        await wait_for(opened)
        assert len(recorder.requests) == 2
        assert REGISTRY.get_sample_value("tagwire_delivery_breaker_state", gauge) == 2
        deferred = [v[:3] for v in rows_in_db(tmp_path).values() if v[0] == "pending"]
        assert deferred == [("pending", 0, NOW_MS + 30_000)] * 2  # no attempt counted
        clock.advance(31)
        sender.wake()
        await wait_for(all_sent)
    finally:
        await sender.stop(5)
    assert len(recorder.requests) == 6
    assert REGISTRY.get_sample_value("tagwire_delivery_breaker_state", gauge) == 0


async def test_linkedin_requests_are_spaced_by_the_rate_limit(store, fakes) -> None:
    class OneEach(LinkedInPolicy):
        max_events = 1

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    manual = ManualClock()
    clock = Clock(time=lambda: manual.now, monotonic=lambda: 5000.0, sleep=sleep)
    await store.enqueue([row(linkedin_request(eventId=f"e{i}"), tag=f"t{i}", event_id=f"e{i}",
                             platform="linkedin") for i in range(13)], NOW_MS)  # fmt: skip
    sender = Sender(store, concurrency=8, timeout=5, max_attempts=3, routes=fake_routes(),
                    batch_flush_ms=0, clock=clock, transport=fake_transport(fakes),
                    policies=Policies([OneEach()]),
                    limits={"api.linkedin.com": DestinationLimits(rate=Rate(6, 60.0))})  # fmt: skip
    assert await run(sender, store) == {"sent": 13}
    assert len(fakes.requests("linkedin")) == 13
    starts = sorted([0.0, *waits])  # the first request waits for nothing
    assert starts == [pytest.approx(10.0 * i) for i in range(13)]
    assert max(sum(1 for s in starts if w <= s < w + 60) for w in starts) == 6


class Held:
    """A destination that answers 204 once `release` is set; counts requests in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most = 0
        self.arrived = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.arrived += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def held_sender(store, app: Held, **options) -> Sender:
    options.setdefault("batch_flush_ms", 0)
    return Sender(store, concurrency=8, timeout=30, max_attempts=3, clock=ManualClock().clock,
                  transport=httpx.ASGITransport(app=app), **options)  # fmt: skip


async def test_concurrency_is_limited_per_destination(store) -> None:
    app = Held()
    await store.enqueue([hook_row(k) for k in "abcdef"], NOW_MS)
    sender = held_sender(store, app, limits={"hook.test": DestinationLimits(concurrency=2)})
    sender.start()

    async def two_waiting() -> bool:
        return app.arrived == 2

    await wait_for(two_waiting)
    await asyncio.sleep(0.05)  # let the others try: none may get in
    assert app.in_flight == 2
    app.release.set()
    assert await settled(store) == {"sent": 6}
    await sender.stop(5)
    assert app.most == 2


async def test_stop_lets_sends_in_flight_finish_within_the_grace(store) -> None:
    app = Held()
    await store.enqueue([hook_row("a")], NOW_MS)
    sender = held_sender(store, app)
    sender.start()

    async def in_flight() -> bool:
        return app.in_flight == 1

    await wait_for(in_flight)
    stopping = asyncio.ensure_future(sender.stop(10))
    await asyncio.sleep(0.05)
    assert not stopping.done()
    app.release.set()
    await stopping
    assert await store.outbox_counts() == {"sent": 1}


async def test_stop_cancels_sends_past_the_grace_and_they_go_after_a_restart(store) -> None:
    app = Held()
    await store.enqueue([hook_row("a")], NOW_MS)
    sender = held_sender(store, app)
    sender.start()

    async def in_flight() -> bool:
        return app.in_flight == 1

    await wait_for(in_flight)
    await sender.stop(0.05)
    assert await store.outbox_counts() == {"inflight": 1}
    assert await store.release_inflight() == 1


async def test_stop_does_not_send_rows_still_waiting_for_their_batch(store, fakes) -> None:
    await store.enqueue([row(meta_request(meta_event()), tag="m")], NOW_MS)
    sender = platform_sender(store, fakes, batch_flush_ms=60_000)
    sender.start()

    async def claimed() -> bool:
        return await store.outbox_counts() == {"inflight": 1}

    await wait_for(claimed)
    await sender.stop(5)
    assert fakes.requests("meta") == []
    assert await store.outbox_counts() == {"inflight": 1}


async def test_a_policy_that_cannot_read_an_answer_retries_instead_of_stranding_rows(
    store, fakes
) -> None:
    class Broken(MetaPolicy):
        def read(self, answer, entries):
            raise KeyError("surprise")

    await store.enqueue([row(meta_request(meta_event()), tag="m")], NOW_MS)
    sender = platform_sender(store, fakes, policies=Policies([Broken()]))
    assert await run(sender, store) == {"failed": 1}
    assert rows_in_db(store.path.parent)["m"][3].startswith("tagwire could not read the answer")
