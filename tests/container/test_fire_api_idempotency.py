"""Idempotency-Key on one node: concurrent copies run once, answers expire, failures retry.

The endpoint runs in-process with a controllable clock and an outbox writer the test can
hold, so "concurrent" and "a day later" are exact, not timed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from config.sqlite_store import SQLiteStore
from config.storage import FailedRun, OutboxRow, StorageError
from config.tokens import hash_token, new_token
from container.containers import ContainerSet
from container.fire_api import FireEndpoint
from container.lanes import TagLanes
from tests.container.fire_api_helpers import compile_container, crm_event, fire_document

TTL_HOURS = 24
HOUR_MS = 3_600_000


class HeldWriter:
    """An outbox writer that records each commit, can be held open, and can fail."""

    def __init__(self) -> None:
        self.commits: list[list[OutboxRow]] = []
        self.entered = asyncio.Event()
        self.callers = 0
        self.open = asyncio.Event()
        self.open.set()
        self.error: Exception | None = None

    async def enqueue(self, rows: list[OutboxRow], failures: Sequence[FailedRun] = ()) -> None:
        self.callers += 1
        self.entered.set()
        await self.open.wait()
        if self.error is not None:
            raise self.error
        self.commits.append(rows)


class Node:
    def __init__(self, tmp_path: Path) -> None:
        self.now = int(time.time() * 1000)
        self.store = SQLiteStore(tmp_path / "tagwire.db")
        self.writer = HeldWriter()
        container = compile_container(fire_document(fire_once="none"))
        self.lanes = TagLanes(workers=1)
        self.fire = FireEndpoint(
            ContainerSet.of({container.id: container}),
            self.writer,
            self.lanes,
            self.store,
            TTL_HOURS,
            lambda: self.now,
        )
        self.token = new_token()
        transport = httpx.ASGITransport(app=Starlette(routes=self.fire.routes()))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://t.example.com")

    async def post(self, body: Any, key: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}", "content-type": "application/json",
                   "idempotency-key": key}  # fmt: skip
        return await self.client.post("/api/v1/events", content=orjson.dumps(body), headers=headers)


@pytest.fixture
async def node(tmp_path: Path):
    node = Node(tmp_path)
    await node.store.open()
    await node.store.create_token("shop", "crm", hash_token(node.token), node.now)
    node.lanes.start()
    yield node
    await node.client.aclose()
    await node.lanes.stop()
    await node.store.close()


pytestmark = pytest.mark.anyio


async def test_concurrent_requests_with_one_key_run_once(node: Node) -> None:
    node.writer.open.clear()
    first = asyncio.create_task(node.post(crm_event(), "same"))
    await node.writer.entered.wait()  # the first request is committing its rows
    second = asyncio.create_task(node.post(crm_event(), "same"))
    # the second waits for the first (a broken lock would let it reach the writer)
    while node.fire.locks.users("shop", "same") < 2 and node.writer.callers < 2:
        await asyncio.sleep(0.001)
    node.writer.open.set()
    one, two = await asyncio.gather(first, second)
    assert one.status_code == two.status_code == 200
    assert two.content == one.content
    assert two.headers["idempotent-replayed"] == "true"
    assert len(node.writer.commits) == 1
    assert node.fire.locks.users("shop", "same") == 0


async def test_other_keys_do_not_wait(node: Node) -> None:
    node.writer.open.clear()
    first = asyncio.create_task(node.post(crm_event(), "one"))
    second = asyncio.create_task(node.post(crm_event(lead_id="L-2"), "two"))
    while node.writer.callers < 2:  # both commit at once: neither waits for the other
        await asyncio.sleep(0.001)
    node.writer.open.set()
    assert [r.status_code for r in await asyncio.gather(first, second)] == [200, 200]
    assert len(node.writer.commits) == 2


async def test_an_answer_is_replayed_within_the_ttl_and_forgotten_after(node: Node) -> None:
    first = await node.post(crm_event(), "k")
    node.now += TTL_HOURS * HOUR_MS - 1
    assert (await node.post(crm_event(), "k")).headers.get("idempotent-replayed") == "true"
    node.now += 1
    later = await node.post(crm_event(lead_id="L-2"), "k")  # expired: a new request
    assert later.status_code == 200
    assert "idempotent-replayed" not in later.headers
    assert later.content != first.content
    assert len(node.writer.commits) == 2
    assert (await node.store.idempotent_get("shop", "k")).created_at == node.now


async def test_old_answers_are_swept(node: Node) -> None:
    await node.post(crm_event(), "old")
    node.now += TTL_HOURS * HOUR_MS + 1
    await node.post(crm_event(lead_id="L-2"), "new")
    assert await node.store.idempotent_get("shop", "old") is None


async def test_a_failed_commit_is_not_stored_so_the_retry_runs(node: Node) -> None:
    node.writer.error = StorageError("database is locked")
    failed = await node.post(crm_event(), "k")
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert failed.json()["errors"][0]["field"] == "store"
    node.writer.error = None
    retried = await node.post(crm_event(), "k")
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert len(node.writer.commits) == 1


async def test_a_partial_answer_is_replayed_as_it_was(node: Node) -> None:
    body = [crm_event(), crm_event(event="Bad!")]
    first = await node.post(body, "mixed")
    second = await node.post(body, "mixed")
    assert first.status_code == second.status_code == 207
    assert second.content == first.content
    assert len(node.writer.commits) == 1
