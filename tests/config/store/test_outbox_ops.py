import pytest

from config.storage import Delivery, OutboxFilter
from tests.config.store.support import EVERYTHING, TTL, filled, query, row

pytestmark = pytest.mark.anyio


async def test_release_held_touches_held_rows_only(store):
    await store.enqueue([row("a"), row("b")], 0, TTL)
    assert await store.release_held(EVERYTHING, 5, dry_run=False) == 0
    with pytest.raises(ValueError, match="release applies to rows in state held; not dead"):
        await store.release_held(OutboxFilter(states=("dead",)), 5, dry_run=False)


async def test_outbox_status_groups_by_container_tag_and_state(store):
    await filled(store)
    assert await store.outbox_status(EVERYTHING) == [
        ("other", "hook", "pending", 1),
        ("shop", "hook", "dead", 1),
        ("shop", "hook", "pending", 4),
        ("shop", "t2", "pending", 1),
    ]
    assert await store.outbox_status(OutboxFilter(states=("dead",))) == [
        ("shop", "hook", "dead", 1)
    ]


async def outcomes(store):
    """Rows a, b, c, d ending sent, failed, dead and dead (d of another tag); e pending."""
    await store.enqueue([row(k, tag="t2" if k == "d" else "hook") for k in "abcde"], 0, TTL)
    a, b, c, d = await store.claim(4, 0)
    await store.record([
        Delivery(a.id, "sent", 200, "ok", 0, 5),
        Delivery(b.id, "failed", 503, "busy", 10_000, 5),
        Delivery(c.id, "dead", 400, "bad", 5, 5),
        Delivery(d.id, "dead", 400, "bad", 5, 5),
    ])  # fmt: skip
    return a, b, c, d


async def test_replay_dry_run_counts_without_changing_anything(store):
    await outcomes(store)
    before = await store.outbox_counts()
    assert await store.replay(EVERYTHING, 50, dry_run=True) == 3
    assert await store.replay(OutboxFilter(tag_id="t2"), 50, dry_run=True) == 1
    assert await store.outbox_counts() == before


async def test_replay_makes_dead_and_failed_rows_due_now(store):
    _, b, c, d = await outcomes(store)
    assert await store.replay(OutboxFilter(states=("dead",), tag_id="hook"), 50, False) == 1
    assert await store.outbox_counts() == {"sent": 1, "failed": 1, "dead": 1, "pending": 2}
    assert await store.replay(EVERYTHING, 60, dry_run=False) == 2
    claimed = await store.claim(10, 60)
    assert sorted(i.id for i in claimed) == [b.id, c.id, d.id, 5]
    assert {i.attempts for i in claimed} == {0}
    await store.record([Delivery(c.id, "sent", 200, "ok", 70, 70)])
    attempts = [e.attempt for e in await store.history(EVERYTHING, 10, 0) if e.outbox_id == c.id]
    assert attempts == [2, 1]


async def test_replay_refuses_other_states(store):
    with pytest.raises(ValueError, match="replay applies to rows in state dead, failed; not sent"):
        await store.replay(OutboxFilter(states=("sent",)), 0, dry_run=True)


async def test_purge_deletes_sent_and_dead_rows_with_their_history(store):
    await outcomes(store)
    assert await store.purge(EVERYTHING, dry_run=True) == 3
    assert await store.outbox_counts() == {"sent": 1, "failed": 1, "dead": 2, "pending": 1}
    assert await store.purge(OutboxFilter(states=("dead",), tag_id="hook"), dry_run=False) == 1
    assert await store.purge(EVERYTHING, dry_run=False) == 2
    assert await store.outbox_counts() == {"failed": 1, "pending": 1}
    assert query(store, "SELECT outbox_id FROM attempts") == [(2,)]
    assert await store.enqueue([row("a"), row("c")], 10, TTL) == 0  # keys outlive their rows


async def test_purge_refuses_rows_that_are_not_final(store):
    with pytest.raises(ValueError, match="purge applies to rows in state sent, dead; not pending"):
        await store.purge(OutboxFilter(states=("pending",)), dry_run=True)


async def test_prune_sent_deletes_old_sent_rows_with_their_history_in_batches(store):
    # six rows, three queued at 0 and three at 5: three sent, one dead, one failed, one
    # still inflight
    await store.enqueue([row(f"event_id:e{i}", event_id=f"e{i}") for i in range(3)], 0, TTL)
    await store.enqueue([row(f"event_id:e{i}", event_id=f"e{i}") for i in range(3, 6)], 5, TTL)
    claimed = await store.claim(10, 10)
    outcomes = ["sent", "sent", "dead", "sent", "failed"]
    await store.record([Delivery(item.id, outcome, 200, "ok", 20, 20)
                        for item, outcome in zip(claimed, outcomes, strict=False)])  # fmt: skip
    assert await store.prune_sent(5, 1) == 1  # only rows queued before 5, one at a time
    assert await store.prune_sent(5, 10) == 1
    assert await store.prune_sent(5, 10) == 0  # the dead one stays
    left = await store.history(EVERYTHING, 100, 0)
    assert sorted({e.event_id for e in left}) == ["e2", "e3", "e4", "e5"]
    assert await store.prune_sent(100, 10) == 1  # e3, sent; failed and inflight stay
    assert await store.outbox_counts() == {"dead": 1, "failed": 1, "inflight": 1}
