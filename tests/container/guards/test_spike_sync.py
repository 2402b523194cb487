"""Spike counts shared through the store: nodes that each see a part of a burst judge
the whole of it, a node new to an event takes the others' history as its baseline, and a
store that fails loses no count."""

import pytest

from config.sqlite_store import SQLiteStore
from config.storage import StorageError, VolumeCount
from container.guards.spike import SpikeDetector
from container.guards.spike_sync import SpikeSync

pytestmark = pytest.mark.anyio

MINUTE = 60_000
START = 1_800_000_000_000 // MINUTE * MINUTE  # a minute boundary


class Clock:
    def __init__(self) -> None:
        self.ms = START

    def __call__(self) -> float:
        return self.ms / 1000


def send(detector, count, clock, event="purchase"):
    """`count` hits now; how many were held."""
    return sum(detector.observe("shop", event, clock.ms) for _ in range(count))


@pytest.fixture
async def store(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    yield store
    await store.close()


def node(store, clock, start=START):
    detector = SpikeDetector(10, 100, start, warmup_minutes=0)
    return detector, SpikeSync(detector, store, clock=clock)


async def test_three_nodes_each_under_the_minimum_judge_their_sum(store):
    clock = Clock()
    nodes = [node(store, clock) for _ in range(3)]
    for detector, _ in nodes:
        assert send(detector, 40, clock) == 0  # 40 each: no node alone reaches 100
    for _, sync in nodes:
        await sync.exchange()
    for _, sync in nodes:  # a second round: everyone has everyone's counts
        await sync.exchange()
    assert [send(detector, 1, clock) for detector, _ in nodes] == [1, 1, 1]  # 121 > 100


async def test_a_node_new_to_an_event_takes_the_others_history_as_its_baseline(store):
    clock = Clock()
    old, old_sync = node(store, clock)
    for _ in range(30):  # 50 a minute for half an hour on the old node
        assert send(old, 50, clock) == 0
        await old_sync.exchange()
        clock.ms += MINUTE
    await old_sync.exchange()
    new, new_sync = node(store, clock, start=clock.ms)  # a worker started just now
    assert send(new, 1, clock) == 0
    await new_sync.exchange()  # it reads the event's whole window
    # the baseline is 50 a minute: 499 more is 500, not over 10 x 50; without the
    # history the quiet-site rule (limit 0) would hold from hit 100
    assert send(new, 499, clock) == 0
    assert send(new, 1, clock) == 1


async def test_hits_of_a_minute_that_ended_before_the_exchange_are_still_added(store):
    clock = Clock()
    detector, sync = node(store, clock)
    send(detector, 30, clock)
    clock.ms += MINUTE  # the minute ends before any exchange
    send(detector, 5, clock)
    await sync.exchange()
    counts = await store.exchange_volume([], [], 0, [("shop", "purchase")], 0)
    assert sorted(counts) == [VolumeCount("shop", "purchase", START // MINUTE, 30),
                              VolumeCount("shop", "purchase", START // MINUTE + 1, 5)]  # fmt: skip


class FailingOnce:
    """The store, failing its first exchange."""

    def __init__(self, store) -> None:
        self.store = store
        self.failed = False

    async def exchange_volume(self, *args):
        if not self.failed:
            self.failed = True
            raise StorageError("database is locked")
        return await self.store.exchange_volume(*args)

    async def prune_volume(self, before_minute):
        return await self.store.prune_volume(before_minute)


async def test_a_failed_exchange_keeps_its_counts_for_the_next_one(store, caplog):
    clock = Clock()
    detector = SpikeDetector(10, 100, START, warmup_minutes=0)
    sync = SpikeSync(detector, FailingOnce(store), clock=clock)
    send(detector, 30, clock)
    await sync.exchange()
    assert "spike counts not shared" in caplog.text
    clock.ms += MINUTE
    send(detector, 5, clock)
    await sync.exchange()
    counts = await store.exchange_volume([], [], 0, [("shop", "purchase")], 0)
    assert sorted(c.hits for c in counts) == [5, 30]  # nothing lost, nothing twice
    await sync.exchange()
    assert sorted(c.hits for c in await store.exchange_volume([], [], 0, [("shop", "purchase")],
                                                               0)) == [5, 30]  # fmt: skip


async def test_stopping_hands_over_the_last_counts_and_old_minutes_are_pruned(store):
    clock = Clock()
    await store.exchange_volume([VolumeCount("shop", "purchase", START // MINUTE - 60, 9)],
                                [], 0, [], 0)  # fmt: skip
    detector, sync = node(store, clock)
    sync.start()
    send(detector, 7, clock)
    await sync.stop()
    counts = await store.exchange_volume([], [], 0, [("shop", "purchase")], 0)
    assert counts == [VolumeCount("shop", "purchase", START // MINUTE, 7)]
