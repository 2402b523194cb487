"""Secret references in outbox rows: filled in only as a request leaves, never stored."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import orjson
import pytest

from container.delivery.sender import TRANSPORT_FAILED, Sender
from container.node_secrets import NodeSecrets
from container.secret_refs import References
from fake_platforms import FakePlatforms
from tests.container.delivery.support import (
    ManualClock,
    fake_routes,
    fake_transport,
    meta_request,
    row,
    settled,
    tiktok_request,
)
from tests.fake_platforms.payloads import NOW_MS, meta_event, tiktok_event

pytestmark = pytest.mark.anyio

VALUES = {"meta": "meta-test-token", "tiktok": "tiktok-test-token", "victim": "VICTIM-TOKEN"}


@pytest.fixture
async def secrets(store):
    secrets = NodeSecrets(None, None, VALUES.get)
    secrets.use_key(await store.node_key("secret-references"))
    return secrets


def sender(store, transport, secrets) -> Sender:
    return Sender(store, concurrency=4, timeout=5, max_attempts=5, routes=fake_routes(),
                  clock=ManualClock().clock, transport=transport, batch_flush_ms=0,
                  secrets=secrets)  # fmt: skip


async def run(sender: Sender, store) -> dict[str, int]:
    sender.start()
    try:
        return await settled(store)
    finally:
        await sender.stop(5)


def stored(path: Path) -> list[tuple[str, str, bytes, bytes, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT tag_id, url, headers, body, state, coalesce(last_response, '') FROM outbox"
        ).fetchall()
    finally:
        conn.close()


def ref(secrets: NodeSecrets, name: str, container: str = "shop") -> str:
    return secrets.lookup_for(container)(name)


async def test_references_are_filled_as_requests_leave_and_stay_references_at_rest(store, secrets):
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    meta = [row(meta_request(meta_event(event_id=f"m{i}"), access_token=ref(secrets, "meta")),
                tag=f"meta{i}", event_id=f"m{i}") for i in range(3)]  # fmt: skip
    url, headers, body = tiktok_request(tiktok_event(event_id="t1"))
    headers = {**headers, "Access-Token": ref(secrets, "tiktok")}
    tiktok = row((url, headers, body), tag="tiktok", event_id="t1", platform="tiktok")
    await store.enqueue([*meta, tiktok], NOW_MS)
    assert await run(sender(store, fake_transport(fakes), secrets), store) == {"sent": 4}
    assert [len(r["body"]["data"]) for r in fakes.requests("meta")] == [3]  # still one batch
    assert len(fakes.events("tiktok")) == 1
    rows = stored(store.path)
    for _, url, headers, body, _, _ in rows:
        for value in VALUES.values():
            assert value.encode() not in headers + body
            assert value not in url
    assert any(b"~tw-secret~shop~meta~" in body for _, _, _, body, _, _ in rows)


async def test_a_missing_secret_makes_only_its_row_dead_naming_it(store, secrets):
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    good = [row(meta_request(meta_event(event_id=f"m{i}"), access_token=ref(secrets, "meta")),
                tag=f"meta{i}", event_id=f"m{i}") for i in range(3)]  # fmt: skip
    # An authentic reference to a secret deleted since its row was queued.
    gone = References(await store.node_key("secret-references")).reference("shop", "gone")
    assert secrets.lookup_for("shop")("gone") is None  # a template asking now fails at once
    bad = row(meta_request(meta_event(event_id="m9"), access_token=gone), tag="bad",
              event_id="m9")  # fmt: skip
    await store.enqueue([*good, bad], NOW_MS)
    counts = await run(sender(store, fake_transport(fakes), secrets), store)
    assert counts == {"sent": 3, "dead": 1}
    assert [len(r["body"]["data"]) for r in fakes.requests("meta")] == [3]
    ((_, _, _, _, state, response),) = [r for r in stored(store.path) if r[0] == "bad"]
    assert state == "dead"
    assert response.startswith("secret 'gone' of container 'shop' is not configured on this node")


async def test_visitor_text_cannot_pull_in_another_containers_token(store, secrets):
    """A page URL carrying another container's (authentic) reference goes out as text."""
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    stolen = ref(secrets, "victim", container="victim")
    event = meta_event(event_id="m1", event_source_url=f"https://www.example.com/?x={stolen}")
    request = meta_request(event, access_token=ref(secrets, "meta"))
    await store.enqueue([row(request, tag="meta", event_id="m1")], NOW_MS)
    assert await run(sender(store, fake_transport(fakes), secrets), store) == {"sent": 1}
    (sent,) = fakes.requests("meta")
    text = orjson.dumps(sent["body"]).decode()
    assert "VICTIM-TOKEN" not in text
    assert stolen in text
    assert sent["status"] == 200  # the fake took the token: it was filled in


async def test_an_error_message_keeps_no_secret(store, secrets):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    key = ref(secrets, "meta")
    url = "https://hooks.example.com/in?key=" + key
    await store.enqueue([row((url, {"content-type": "application/json"}, {"e": 1}),
                             tag="hook", platform="webhook")], NOW_MS)  # fmt: skip
    hook = sender(store, httpx.MockTransport(refuse), secrets)
    hook.start()
    try:
        await first_attempt(store)
    finally:
        await hook.stop(5)
    ((_, _, _, _, _, response),) = stored(store.path)
    # A transport error's own text (here with the URL and its secret) is not stored: one
    # text says that no answer came, and the secret's value is nowhere.
    assert response == TRANSPORT_FAILED
    assert "meta-test-token" not in response


async def test_a_platform_echoing_the_token_is_masked_in_the_stored_answer(store, secrets):
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad request: {request.content.decode()}")

    key = ref(secrets, "meta")
    request = ("https://hooks.example.com/in", {"content-type": "application/json"}, {"t": key})
    await store.enqueue([row(request, tag="hook", platform="webhook")], NOW_MS)
    assert await run(sender(store, httpx.MockTransport(echo), secrets), store) == {"dead": 1}
    ((_, _, _, _, _, response),) = stored(store.path)
    assert key in response
    assert "meta-test-token" not in response


async def first_attempt(store) -> None:
    """Wait for the first attempt to be recorded (the row is then failed, waiting)."""
    for _ in range(500):
        if (await store.outbox_counts()).get("failed"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the attempt was never recorded")
