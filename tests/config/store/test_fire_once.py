import asyncio

import pytest

import config.postgres.connection as postgres_connection
import config.sqlite.connection as sqlite_connection
from tests.config.store.support import EVERYTHING, HOUR, TTL, row, twin

pytestmark = pytest.mark.anyio


async def test_fire_once_key_is_enforced_per_tag(store):
    assert await store.enqueue([row(), row(), row(tag="other")], 1) == 2
    assert await store.enqueue([row()], 2) == 0
    assert await store.outbox_counts() == {"pending": 2}


async def test_rows_without_fire_once_key_never_collide(store):
    assert await store.enqueue([row(None), row(None)], 1) == 2


async def test_fire_once_key_is_dropped_within_its_ttl_and_taken_again_after(store):
    assert await store.enqueue([row(event_id="a")], 0, TTL) == 1
    assert await store.enqueue([row(event_id="b")], TTL - 1, TTL) == 0
    assert await store.enqueue([row(event_id="c")], TTL, TTL) == 1
    assert await store.enqueue([row(event_id="d")], TTL + 1, TTL) == 0
    assert await store.enqueue([row(event_id="e")], 2 * TTL, TTL) == 1
    events = [e.event_id for e in await store.history(EVERYTHING, 10, 0)]
    assert events == ["e", "c", "a"]


async def test_the_first_copy_in_one_commit_wins(store):
    rows = [row(event_id="first"), row(event_id="second"), row(event_id="other", tag="t2")]
    assert await store.enqueue(rows, 0, TTL) == 2
    assert sorted(e.event_id for e in await store.history(EVERYTHING, 10, 0)) == ["first", "other"]


async def test_keys_are_per_container_and_tag(store):
    rows = [row(), row(tag="t2"), row(container="other")]
    assert await store.enqueue(rows, 0, TTL) == 3
    assert await store.enqueue(rows, 1, TTL) == 0


async def test_a_commit_of_many_chunks_is_deduplicated_across_them(store):
    rows = [row(f"k{i}") for i in range(1200)]
    rows[900] = row("k3")
    assert await store.enqueue(rows, 0, TTL) == 1199
    assert await store.enqueue([row("k3"), row("k1199"), row("new")], 1, TTL) == 1


async def test_concurrent_enqueues_of_one_key_keep_one_row(store):
    """Two processes (two connections each on PostgreSQL) race for one key 40 times."""
    first, second = store, twin(store)
    await second.open()
    calls = [s.enqueue([row("lead_id:L-1", event_id=str(i)), row(None)], i, TTL)
             for i in range(20) for s in (first, second)]  # fmt: skip
    new = await asyncio.gather(*calls)
    assert sum(new) == 1 + 40
    assert await first.outbox_counts() == {"pending": 41}
    await second.close()


async def test_expire_fire_once_forgets_expired_keys_in_steps(store, monkeypatch):
    for connection in (sqlite_connection, postgres_connection):
        monkeypatch.setattr(connection, "_DELETE_STEP", 2)
    await store.enqueue([row(f"k{i}") for i in range(5)], 0, TTL)
    await store.enqueue([row("late")], 10, TTL)
    assert await store.expire_fire_once(TTL - 1) == 0
    assert await store.expire_fire_once(TTL) == 5
    assert await store.expire_fire_once(TTL) == 0
    assert await store.enqueue([row("k1"), row("late")], TTL, TTL) == 1


async def test_without_a_ttl_a_key_lives_the_default_72_hours(store):
    await store.enqueue([row("k")], 0)
    assert await store.enqueue([row("k")], 72 * HOUR - 1) == 0
    assert await store.enqueue([row("k")], 72 * HOUR) == 1
