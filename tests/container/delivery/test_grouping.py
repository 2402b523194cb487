"""Batches fill up to a policy's limits and flush when full or after the flush interval."""

from __future__ import annotations

from container.delivery.batching import HttpPolicy, MetaPolicy
from container.delivery.grouping import Batcher
from tests.container.delivery.support import item, meta_request
from tests.fake_platforms.payloads import NOW_MS, meta_event


class Small(MetaPolicy):
    max_events = 3
    max_bytes = 0


def entry(i: int, policy=None, created_at: int = NOW_MS, **envelope):
    policy = policy or Small()
    return policy.entry(item(meta_request(meta_event(event_id=f"e{i}"), **envelope), id=i,
                             created_at=created_at))  # fmt: skip


def ids(batch) -> list[int]:
    return [e.item.id for e in batch.entries]


def test_a_group_is_flushed_when_full() -> None:
    batcher = Batcher(flush_ms=200)
    policy = Small()
    assert batcher.add(policy, entry(1)) == []
    assert batcher.add(policy, entry(2)) == []
    (full,) = batcher.add(policy, entry(3))
    assert ids(full) == [1, 2, 3]
    assert len(batcher) == 0


def test_a_group_waits_for_the_flush_interval_from_its_oldest_row() -> None:
    batcher = Batcher(flush_ms=200)
    policy = Small()
    batcher.add(policy, entry(1, created_at=NOW_MS))
    batcher.add(policy, entry(2, created_at=NOW_MS + 150))
    assert batcher.next_due_ms() == NOW_MS + 200
    assert batcher.due(NOW_MS + 199) == []
    (batch,) = batcher.due(NOW_MS + 200)
    assert ids(batch) == [1, 2]
    assert batcher.next_due_ms() is None


def test_rows_queued_long_ago_are_due_at_once() -> None:
    batcher = Batcher(flush_ms=200)
    batcher.add(Small(), entry(1, created_at=NOW_MS - 60_000))
    assert len(batcher.due(NOW_MS)) == 1


def test_different_keys_make_different_groups() -> None:
    batcher = Batcher(flush_ms=0)
    policy = Small()
    batcher.add(policy, entry(1))
    batcher.add(policy, entry(2, test_event_code="T1"))
    batcher.add(policy, entry(3))
    assert sorted(ids(b) for b in batcher.due(NOW_MS)) == [[1, 3], [2]]


def test_a_row_that_would_pass_the_byte_limit_starts_a_new_group() -> None:
    class Bytes(MetaPolicy):
        max_bytes = 1

    policy = Bytes()
    batcher = Batcher(flush_ms=0)
    policy.max_bytes = entry(1, policy).size * 2
    assert batcher.add(policy, entry(1, policy)) == []
    assert batcher.add(policy, entry(2, policy)) == []
    (first,) = batcher.add(policy, entry(3, policy))
    assert ids(first) == [1, 2]
    assert [ids(b) for b in batcher.due(NOW_MS)] == [[3]]


def test_a_row_without_a_key_is_a_batch_of_its_own_at_once() -> None:
    batcher = Batcher(flush_ms=10_000)
    policy = HttpPolicy()
    (alone,) = batcher.add(policy, policy.entry(item(("https://h.example/x", {}, {}))))
    assert ids(alone) == [1]
    assert len(batcher) == 0
