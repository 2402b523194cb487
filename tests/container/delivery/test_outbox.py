import asyncio

import pytest

from config.sqlite_store import SQLiteStore
from config.storage import OutboxRow, StorageError
from container.delivery.outbox import OutboxWriter

pytestmark = pytest.mark.anyio


def row(key):
    return OutboxRow("shop", "hook", "h", "POST", "https://h/x", b"{}", b"{}", "lead", key, key,
                     "webhook", 0, None, None, None, False)  # fmt: skip


class CountingStore:
    """Wraps the real store to count transactions."""

    def __init__(self, store):
        self.store = store
        self.commits = 0

    async def enqueue(self, rows, now_ms, fire_once_ttl_ms, failures=()):
        self.commits += 1
        return await self.store.enqueue(rows, now_ms, fire_once_ttl_ms, failures)


async def test_concurrent_enqueues_share_commits_and_get_their_own_results(tmp_path):
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    counting = CountingStore(store)
    commits_seen = []
    writer = OutboxWriter(counting, on_commit=lambda: commits_seen.append(1))
    writer.start()
    await asyncio.gather(*(writer.enqueue([row(f"k{i % 50}")]) for i in range(200)))
    await writer.stop()
    assert counting.commits < 200  # grouped, not one transaction per request
    assert len(commits_seen) == counting.commits
    assert await store.outbox_counts() == {"pending": 50}
    await store.close()


async def test_stop_commits_what_is_waiting(tmp_path):
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    writer = OutboxWriter(store, on_commit=lambda: None)
    writer.start()
    pending = [asyncio.create_task(writer.enqueue([row(f"k{i}")])) for i in range(20)]
    await asyncio.sleep(0)
    await writer.stop()
    assert all(t.done() and t.exception() is None for t in pending)
    assert await store.outbox_counts() == {"pending": 20}
    await store.close()


async def test_store_failure_reaches_every_waiting_request():
    class Broken:
        async def enqueue(self, rows, now_ms, fire_once_ttl_ms, failures=()):
            raise StorageError("disk full")

    writer = OutboxWriter(Broken(), on_commit=lambda: None)
    writer.start()
    results = await asyncio.gather(
        *(writer.enqueue([row(str(i))]) for i in range(5)), return_exceptions=True
    )
    await writer.stop()
    assert all(isinstance(r, StorageError) for r in results)


async def test_the_fire_once_ttl_reaches_the_store(tmp_path):
    seen = []

    class Recording:
        async def enqueue(self, rows, now_ms, fire_once_ttl_ms, failures=()):
            seen.append(fire_once_ttl_ms)
            return len(rows)

    writer = OutboxWriter(Recording(), on_commit=lambda: None, fire_once_ttl_ms=48 * 3_600_000)
    writer.start()
    await writer.enqueue([row("k")])
    await writer.stop()
    assert seen == [48 * 3_600_000]
