import asyncio
import logging

import pytest

from config.storage import OutboxRow, StorageError
from container.delivery.fire_once import FireOnceSweeper

pytestmark = pytest.mark.anyio

TTL = 1_000


def row(key: str) -> OutboxRow:
    return OutboxRow("shop", "hook", "h", "POST", "https://h/x", b"{}", b"{}", "lead", key, key,
                     "webhook", 0, None, None, None, False)  # fmt: skip


async def test_a_sweep_deletes_expired_keys_only(store) -> None:
    await store.enqueue([row("old-1"), row("old-2")], 0, TTL)
    await store.enqueue([row("young")], 500, TTL)
    sweeper = FireOnceSweeper(store, clock=lambda: TTL)
    assert await sweeper.sweep() == 2
    assert await sweeper.sweep() == 0
    # the young key still holds a repeat back; the expired ones let theirs through
    assert await store.enqueue([row("young"), row("old-1")], TTL, TTL) == 1


class Counting:
    """Records each sweep's time; deletes nothing."""

    def __init__(self) -> None:
        self.sweeps: list[int] = []
        self.second = asyncio.Event()

    async def expire_fire_once(self, now_ms: int) -> int:
        self.sweeps.append(now_ms)
        if len(self.sweeps) >= 2:
            self.second.set()
        return 0


async def test_the_running_sweeper_sweeps_at_start_then_every_interval() -> None:
    store = Counting()
    sweeper = FireOnceSweeper(store, every_s=0.01, clock=lambda: 42)
    sweeper.start()
    try:
        await asyncio.wait_for(store.second.wait(), timeout=10)  # a hang guard, not a measure
    finally:
        await sweeper.stop()
    assert store.sweeps[:2] == [42, 42]
    swept = len(store.sweeps)
    await asyncio.sleep(0.05)
    assert len(store.sweeps) == swept, "a stopped sweeper sweeps no more"
    await sweeper.stop()  # stopping twice is harmless


class Broken:
    async def expire_fire_once(self, now_ms: int) -> int:
        raise StorageError("disk I/O error")


async def test_a_store_error_is_logged_and_waits_for_the_next_sweep(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="tagwire.delivery")
    assert await FireOnceSweeper(Broken()).sweep() == 0
    [record] = caplog.records
    assert record.getMessage() == "fire-once sweep failed"
    assert record.fields == {"error": "disk I/O error"}
