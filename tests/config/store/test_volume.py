"""The spike detector's shared counts, on both backends: every node's additions summed,
read back for the pairs and minutes asked, pruned by age."""

import asyncio

import pytest

from config.storage import VolumeCount
from tests.config.store.support import twin

pytestmark = pytest.mark.anyio


def totals(rows):
    return sorted(rows)


async def test_counts_added_by_two_nodes_are_summed(store):
    other = twin(store)
    await other.open()
    try:
        assert await store.exchange_volume(
            [VolumeCount("shop", "lead", 100, 3), VolumeCount("shop", "purchase", 100, 1)],
            [("shop", "lead")], 100, [], 0,
        ) == [VolumeCount("shop", "lead", 100, 3)]  # fmt: skip
        seen = await other.exchange_volume(
            [VolumeCount("shop", "lead", 100, 4), VolumeCount("shop", "lead", 101, 2)],
            [("shop", "lead"), ("shop", "purchase")], 100, [], 0,
        )  # fmt: skip
    finally:
        await other.close()
    assert totals(seen) == [
        VolumeCount("shop", "lead", 100, 7),
        VolumeCount("shop", "lead", 101, 2),
        VolumeCount("shop", "purchase", 100, 1),
    ]


async def test_recent_pairs_read_from_their_minute_and_new_pairs_the_whole_window(store):
    await store.exchange_volume(
        [VolumeCount("shop", "lead", minute, minute) for minute in (70, 90, 99, 100)]
        + [VolumeCount("blog", "lead", minute, 1) for minute in (70, 99)]
        + [VolumeCount("shop", "view", 100, 5)],
        [], 0, [], 0,
    )  # fmt: skip
    seen = await store.exchange_volume([], [("shop", "lead")], 99, [("blog", "lead")], 71)
    assert totals(seen) == [
        VolumeCount("blog", "lead", 99, 1),
        VolumeCount("shop", "lead", 99, 99),
        VolumeCount("shop", "lead", 100, 100),
    ]
    assert await store.exchange_volume([], [], 0, [], 0) == []


async def test_names_are_matched_exactly_not_as_patterns(store):
    await store.exchange_volume([VolumeCount("s%", "le_d", 1, 1), VolumeCount("sx", "lead", 1, 1)],
                                [], 0, [], 0)  # fmt: skip
    assert await store.exchange_volume([], [("s%", "le_d")], 0, [], 0) == [
        VolumeCount("s%", "le_d", 1, 1)
    ]


async def test_old_minutes_are_pruned(store):
    await store.exchange_volume(
        [VolumeCount("shop", "lead", minute, 1) for minute in range(10)], [], 0, [], 0
    )
    assert await store.prune_volume(7) == 7
    assert totals(await store.exchange_volume([], [], 0, [("shop", "lead")], 0)) == [
        VolumeCount("shop", "lead", minute, 1) for minute in (7, 8, 9)
    ]


async def test_nodes_adding_the_same_minutes_at_once_lose_nothing(store):
    nodes = [twin(store) for _ in range(4)]
    for node in nodes:
        await node.open()
    pairs = [("shop", f"e{i}") for i in range(20)]
    try:
        async def add(node, reverse):
            for _ in range(5):
                ordered = pairs[::-1] if reverse else pairs
                await node.exchange_volume(
                    [VolumeCount(c, e, 50, 1) for c, e in ordered], pairs, 50, [], 0
                )

        await asyncio.gather(*(add(node, i % 2 == 1) for i, node in enumerate(nodes)))
    finally:
        for node in nodes:
            await node.close()
    seen = await store.exchange_volume([], pairs, 0, [], 0)
    assert sorted(seen) == sorted(VolumeCount(c, e, 50, 20) for c, e in pairs)
