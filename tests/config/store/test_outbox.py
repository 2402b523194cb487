import pytest

from config.storage import Delivery, HistoryEntry, OutboxFilter
from tests.config.store.support import EVERYTHING, TTL, query, row, twin

pytestmark = pytest.mark.anyio


async def test_claim_marks_inflight_and_respects_due_time(store):
    await store.enqueue([row("a"), row("b")], 100)
    assert await store.claim(10, 99) == []
    items = await store.claim(1, 100)
    assert [i.body for i in items] == [b'{"event":"Lead"}']
    assert await store.outbox_counts() == {"pending": 1, "inflight": 1}
    assert len(await store.claim(10, 100)) == 1
    assert await store.claim(10, 100) == []


async def test_record_outcomes_and_retry_schedule(store):
    await store.enqueue([row("a"), row("b"), row("c")], 0)
    a, b, c = await store.claim(10, 0)
    await store.record([
        Delivery(a.id, "sent", 200, "ok", 0, 5),
        Delivery(b.id, "failed", 503, "busy", 1000, 5),
        Delivery(c.id, "dead", 400, "bad", 0, 5),
    ])  # fmt: skip
    assert await store.outbox_counts() == {"sent": 1, "failed": 1, "dead": 1}
    assert await store.claim(10, 999) == []
    (retry,) = await store.claim(10, 1000)
    assert retry.id == b.id
    assert retry.attempts == 1


async def test_release_inflight_after_a_crash(store):
    await store.enqueue([row("a"), row("b")], 0)
    await store.claim(10, 0)
    assert await store.release_inflight() == 2
    assert await store.outbox_counts() == {"pending": 2}


async def test_a_starting_node_leaves_live_nodes_rows_and_takes_back_a_closed_ones(store):
    """Nodes (or workers) on one store: a starting one releases only the rows of those
    that are gone, never a live one's (each backend's liveness: a flock on SQLite, an
    advisory lock on PostgreSQL)."""
    a, b, starting = twin(store), twin(store), twin(store)
    for node in (a, b, starting):
        await node.open()
    try:
        await a.enqueue([row(None, event_id=str(i)) for i in range(5)], 0)
        await a.claim(2, 0)
        await b.claim(1, 0)
        assert await starting.release_inflight() == 0
        assert await starting.outbox_counts() == {"inflight": 3, "pending": 2}
        await a.close()
        assert await starting.release_inflight() == 2
        assert await starting.outbox_counts() == {"inflight": 1, "pending": 4}
        assert await b.release_inflight() == 1  # a node's own rows are always released
    finally:
        for node in (b, starting):
            await node.close()


async def test_the_orphan_sweep_never_takes_back_the_nodes_own_rows(store):
    await store.enqueue([row("a"), row("b")], 0)
    await store.claim(10, 0)
    assert await store.release_orphans() == 0
    assert await store.outbox_counts() == {"inflight": 2}


async def test_held_rows_are_never_claimed_until_released(store):
    await store.enqueue([row("a", held=True), row("b", held=True, tag="t2"), row("c")], 0, TTL)
    assert await store.enqueue([row("a")], 1, TTL) == 0  # a held row holds its key
    assert [i.tag_id for i in await store.claim(10, 100)] == ["hook"]
    assert await store.claim(10, 100) == []
    only_hook = OutboxFilter(tag_id="hook")
    assert await store.release_held(only_hook, 200, dry_run=True) == 1
    assert await store.outbox_counts() == {"held": 2, "inflight": 1}
    assert await store.release_held(only_hook, 200, dry_run=False) == 1
    assert await store.claim(10, 199) == []
    (released,) = await store.claim(10, 200)
    assert released.tag_id == "hook"
    assert await store.outbox_counts() == {"held": 1, "inflight": 2}


async def test_claim_returns_what_the_sender_batches_on(store):
    await store.enqueue([row(platform="meta", event_time=123, container="c1")], 50, TTL)
    (item,) = await store.claim(10, 50)
    assert (item.container_id, item.platform, item.event_time_ms, item.created_at) == (
        "c1", "meta", 123, 50
    )  # fmt: skip
    assert (item.attempts, item.destination) == (0, "hooks.example.com")


async def test_record_writes_every_attempt_to_the_history(store):
    await store.enqueue([row("a", lead="L-1", value=12.5, currency="EUR"), row("b")], 0, TTL)
    a, b = await store.claim(2, 0)
    await store.record([
        Delivery(a.id, "failed", 503, "busy", 100, 10, duration_ms=40, batch_size=2),
        Delivery(b.id, "dead", 400, "x" * 2000, 10, 10, duration_ms=40, batch_size=2),
    ])  # fmt: skip
    await store.enqueue([row("c")], 1000, TTL)
    (retry,) = await store.claim(10, 100)
    await store.record([Delivery(retry.id, "sent", 200, "ok", 120, 120, 7)])
    entries = await store.history(EVERYTHING, 10, 0)
    assert [(e.outbox_id, e.attempt, e.outcome, e.state) for e in entries] == [
        (3, 0, "pending", "pending"),
        (2, 1, "dead", "dead"),
        (1, 2, "sent", "sent"),
        (1, 1, "failed", "sent"),
    ]
    assert entries[3] == HistoryEntry(
        1, "shop", "hook", "webhook", "hooks.example.com", "lead", "e1", "L-1", 12.5, "EUR",
        "sent", 1, 10, 503, "failed", "busy", 0, 40, 2,
    )  # fmt: skip
    assert (entries[2].duration_ms, entries[2].batch_size) == (7, 1)
    assert len(entries[1].response) == 500
    assert (entries[0].at_ms, entries[0].status, entries[0].response) == (1000, None, "")


async def test_defer_returns_claimed_rows_without_counting_an_attempt(store):
    await store.enqueue([row(f"k{i}") for i in range(3)], 0, TTL)
    a, b, c = await store.claim(10, 0)
    await store.record([Delivery(c.id, "sent", 200, "ok", 0, 5)])
    await store.defer([a.id, b.id, c.id], 500)
    assert await store.outbox_counts() == {"pending": 2, "sent": 1}
    assert await store.claim(10, 499) == []
    assert [(i.id, i.attempts) for i in await store.claim(10, 500)] == [(a.id, 0), (b.id, 0)]
    entries = await store.history(EVERYTHING, 10, 0)
    assert [(e.outbox_id, e.attempt) for e in entries] == [(3, 1), (2, 0), (1, 0)]


async def test_an_outcome_for_a_row_that_is_gone_adds_no_history(store):
    await store.record([Delivery(99, "sent", 200, "ok", 0, 5)])
    assert query(store, "SELECT COUNT(*) FROM attempts") == [(0,)]
