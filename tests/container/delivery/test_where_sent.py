"""Where a request really went: a platform moved by a setting (the demo's fakes, a proxy) is
stored, shown in the history and logged with the URL really requested, and the platform
name stays beside it."""

from __future__ import annotations

import logging

import httpx
import pytest

from config.settings import Settings
from config.storage import OutboxFilter
from container.delivery.outbox import OutboxWriter
from container.delivery.routes import PlatformRoutes, requested
from container.delivery.sender import Sender
from tests.container.delivery.support import GA4, ManualClock, ga4_request, row, settled
from tests.fake_platforms.payloads import NOW_MS
from tests.helpers import Recorder

pytestmark = pytest.mark.anyio

META = "https://graph.facebook.com/v25.0/123/events?access_token=meta-secret"
ROUTES = PlatformRoutes(
    {
        "https://graph.facebook.com": "http://127.0.0.1:8000/fake/meta",
        "https://www.google-analytics.com": "http://127.0.0.1:8000/fake/ga4",
    }
)


def sender(store, recorder: Recorder, routes: PlatformRoutes = ROUTES) -> Sender:
    return Sender(store, concurrency=1, timeout=5, max_attempts=3, routes=routes,
                  batch_flush_ms=0, clock=ManualClock().clock,
                  transport=httpx.ASGITransport(app=recorder))  # fmt: skip


async def deliver(store, recorder: Recorder) -> None:
    running = sender(store, recorder)
    running.start()
    try:
        assert await settled(store) == {"sent": 1}
    finally:
        await running.stop(5)


def test_a_moved_row_gets_the_destination_it_is_sent_to_and_keeps_the_platform_url() -> None:
    queued = row((META, {}, {}), platform="meta")
    assert queued.destination == "graph.facebook.com"
    moved = ROUTES.row(queued)
    assert moved.destination == "127.0.0.1:8000/fake/meta"
    assert moved._replace(destination=queued.destination) == queued, "url and platform stay"


def test_a_row_no_setting_moves_is_kept_as_it_is() -> None:
    hook = row(("https://hooks.example.com/in", {}, {}), platform="webhook")
    assert ROUTES.row(hook) is hook
    assert not PlatformRoutes.from_settings(Settings()), "default settings move nothing"


def test_logs_show_a_url_without_its_query() -> None:
    assert requested(GA4) == "https://www.google-analytics.com/mp/collect"
    assert requested(META) == "https://graph.facebook.com/v25.0/123/events"


async def test_the_outbox_and_the_history_name_where_a_moved_row_goes(store) -> None:
    writer = OutboxWriter(store, on_commit=lambda: None, routes=ROUTES)
    writer.start()
    await writer.enqueue([row(ga4_request(), platform="ga4")])
    await writer.stop()
    [entry] = await store.history(OutboxFilter(), 10, 0)
    assert (entry.platform, entry.destination) == ("ga4", "127.0.0.1:8000/fake/ga4")


async def test_a_writer_without_moved_platforms_stores_rows_as_queued(store) -> None:
    writer = OutboxWriter(store, on_commit=lambda: None, routes=PlatformRoutes({}))
    writer.start()
    await writer.enqueue([row((META, {}, {}), platform="meta")])
    await writer.stop()
    [entry] = await store.history(OutboxFilter(), 10, 0)
    assert entry.destination == "graph.facebook.com"


@pytest.mark.parametrize("moved_when_queued", [True, False], ids=["by-writer", "by-sender"])
async def test_the_delivery_log_names_the_url_requested_and_the_platform(
    store, caplog: pytest.LogCaptureFixture, moved_when_queued: bool
) -> None:
    queued = row((META, {}, {"data": []}), platform="meta")
    await store.enqueue([ROUTES.row(queued) if moved_when_queued else queued], NOW_MS)
    recorder = Recorder()
    with caplog.at_level(logging.INFO, logger="tagwire.delivery"):
        await deliver(store, recorder)
    [line] = [r for r in caplog.records if r.getMessage() == "delivery"]
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["platform"] == "meta"
    assert fields["url"] == "http://127.0.0.1:8000/fake/meta/v25.0/123/events"
    assert "graph.facebook.com" not in str(fields)
    assert "meta-secret" not in caplog.text
    assert [r["path"] for r in recorder.requests] == ["/fake/meta/v25.0/123/events"]
