"""Secret references in outbox rows: filled in only as a request leaves, never stored."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from config.sqlite_store import SQLiteStore
from container.delivery.sender import Sender
from container.fake_platforms import FakePlatforms
from container.secret_refs import reference
from tests.container.delivery.support import (
    ManualClock,
    fake_routes,
    fake_transport,
    meta_request,
    row,
    settled,
    tiktok_request,
)
from tests.container.fake_platforms.payloads import NOW_MS, meta_event, tiktok_event

pytestmark = pytest.mark.anyio

VALUES = {("shop", "meta"): "meta-test-token", ("shop", "tiktok"): "tiktok-test-token"}


@pytest.fixture
async def store(tmp_path: Path):
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    yield store
    await store.close()


def sender(store, transport, secrets) -> Sender:
    return Sender(store, concurrency=4, timeout=5, max_attempts=5, routes=fake_routes(),
                  clock=ManualClock().clock, transport=transport, batch_flush_ms=0,
                  secrets=lambda container, name: secrets.get((container, name)))  # fmt: skip


async def run(sender: Sender, store) -> dict[str, int]:
    sender.start()
    try:
        return await settled(store)
    finally:
        await sender.stop(5)


def stored(path: Path) -> list[tuple[str, str, bytes, bytes, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT tag_id, url, headers, body, coalesce(last_response, '') FROM outbox"
        ).fetchall()
    finally:
        conn.close()


async def test_references_are_filled_as_requests_leave_and_stay_references_at_rest(store):
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    meta = [row(meta_request(meta_event(event_id=f"m{i}"), access_token=reference("shop", "meta")),
                tag=f"meta{i}", event_id=f"m{i}") for i in range(3)]  # fmt: skip
    url, headers, body = tiktok_request(tiktok_event(event_id="t1"))
    headers = {**headers, "Access-Token": reference("shop", "tiktok")}
    tiktok = row((url, headers, body), tag="tiktok", event_id="t1", platform="tiktok")
    await store.enqueue([*meta, tiktok], NOW_MS)
    assert await run(sender(store, fake_transport(fakes), VALUES), store) == {"sent": 4}
    assert [len(r["body"]["data"]) for r in fakes.requests("meta")] == [3]  # still one batch
    assert len(fakes.events("tiktok")) == 1
    for _, url, headers, body, _ in stored(store.path):
        for value in VALUES.values():
            assert value.encode() not in headers + body
            assert value not in url
    assert any(b"~tw-secret~shop~meta~" in body for _, _, _, body, _ in stored(store.path))


async def test_a_secret_the_node_does_not_have_makes_the_row_dead_naming_it(store):
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    request = meta_request(meta_event(event_id="m1"), access_token=reference("shop", "gone"))
    await store.enqueue([row(request, tag="meta", event_id="m1")], NOW_MS)
    assert await run(sender(store, fake_transport(fakes), VALUES), store) == {"dead": 1}
    assert fakes.requests("meta") == []
    ((_, _, _, _, response),) = stored(store.path)
    assert "secret 'gone' of container 'shop' is not configured on this node" in response


async def test_an_error_message_gets_the_reference_back_not_the_value(store):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    url = "https://hooks.example.com/in?key=" + reference("shop", "meta")
    await store.enqueue([row((url, {"content-type": "application/json"}, {"e": 1}),
                             tag="hook", platform="webhook")], NOW_MS)  # fmt: skip
    hook = sender(store, httpx.MockTransport(refuse), VALUES)
    hook.start()
    try:
        await settled_failed(store)
    finally:
        await hook.stop(5)
    ((_, _, _, _, response),) = stored(store.path)
    assert "cannot reach https://hooks.example.com/in?key=~tw-secret~shop~meta~" in response
    assert "meta-test-token" not in response


async def settled_failed(store) -> None:
    """Wait for the first attempt to be recorded (the row is then failed, waiting)."""
    for _ in range(500):
        if (await store.outbox_counts()).get("failed"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the attempt was never recorded")
