import asyncio
import time

import orjson
import pytest

from config.sqlite_store import SQLiteStore
from config.storage import OutboxItem, OutboxRow
from container.delivery.routes import PlatformRoutes
from container.delivery.sender import Sender, classify
from tests.helpers import Recorder, serve_in_thread

pytestmark = pytest.mark.anyio


def item(attempts=0):
    return OutboxItem(1, "hook", "h", "POST", "https://h/x", b"{}", b"{}", attempts)


def test_classify_success():
    assert classify(item(), 204, "", None, 8).state == "sent"


@pytest.mark.parametrize("status", [None, 408, 429, 500, 503])
def test_classify_retryable(status):
    before = int(time.time() * 1000)
    delivery = classify(item(), status, "busy", None, 8)
    assert delivery.state == "failed"
    assert before + 1000 <= delivery.next_attempt_at <= before + 2500  # 2 s base, jittered


def test_classify_backoff_grows_and_is_capped():
    now = int(time.time() * 1000)
    assert classify(item(attempts=5), 503, "", None, 99).next_attempt_at >= now + 32_000
    assert classify(item(attempts=40), 503, "", None, 99).next_attempt_at <= now + 901_000


def test_classify_honours_retry_after():
    now = int(time.time() * 1000)
    assert classify(item(), 429, "", "120", 8).next_attempt_at >= now + 119_000


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_classify_permanent_errors_are_dead(status):
    delivery = classify(item(), status, "x" * 2000, None, 8)
    assert delivery.state == "dead"
    assert len(delivery.response) == 500


def test_classify_dead_after_max_attempts():
    assert classify(item(attempts=7), 503, "", None, 8).state == "dead"


def outbox_row(url, key):
    return OutboxRow("shop", "hook", "127.0.0.1", "POST", url,
                     orjson.dumps({"content-type": "application/json", "x-token": "abc"}),
                     orjson.dumps({"event": key}), "lead", key, key)  # fmt: skip


async def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_sender_delivers_retries_and_dead_letters(tmp_path):
    recorder = Recorder()
    recorder.responses = [
        (204, {}, b""),
        (503, {"retry-after": "0"}, b"busy"),
        (400, {}, b'{"error":"invalid event"}'),
    ]
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    with serve_in_thread(recorder) as base:
        for key in ("a", "b", "c"):
            await store.enqueue([outbox_row(f"{base}/hook/{key}", key)], 0)
        sender = Sender(store, concurrency=1, timeout=5, max_attempts=3)
        sender.start()

        async def settled():
            counts = await store.outbox_counts()
            return counts.get("pending", 0) + counts.get("inflight", 0) == 0

        await wait_for(settled)
        await sender.stop(1)
    counts = await store.outbox_counts()
    assert counts == {"sent": 1, "failed": 1, "dead": 1}
    assert recorder.requests[0]["headers"]["x-token"] == "abc"
    assert orjson.loads(recorder.requests[0]["body"]) == {"event": "a"}
    await store.close()


async def test_unreachable_destination_is_retried_not_lost(tmp_path):
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    await store.enqueue([outbox_row("http://127.0.0.1:9/nothing", "a")], 0)
    sender = Sender(store, concurrency=1, timeout=1, max_attempts=5)
    sender.start()

    async def failed_once():
        return (await store.outbox_counts()).get("failed") == 1

    await wait_for(failed_once)
    await sender.stop(1)
    await store.close()


async def test_platform_urls_follow_the_node_routes_at_send_time(tmp_path):
    recorder = Recorder()
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    with serve_in_thread(recorder) as base:
        await store.enqueue([outbox_row("https://graph.facebook.com/v25.0/123/events", "m")], 0)
        routes = PlatformRoutes({"https://graph.facebook.com": f"{base}/meta"})
        sender = Sender(store, concurrency=1, timeout=5, max_attempts=3, routes=routes)
        sender.start()

        async def sent():
            return (await store.outbox_counts()).get("sent") == 1

        await wait_for(sent)
        await sender.stop(1)
    assert [r["path"] for r in recorder.requests] == ["/meta/v25.0/123/events"]
    await store.close()
