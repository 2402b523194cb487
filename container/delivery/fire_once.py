"""Forgets fire-once keys past their time to live.

An expired key already lets a repeat through (`enqueue` checks the expiry), but its row
stays in the table until something deletes it; without this sweep the table grows by
every key ever taken. The sweep runs at start and then once an hour, in short
transactions, so hits queued meanwhile never wait long for the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from config.storage import FireOnceStore, StorageError
from container.tasks import cancel

__all__ = ["SWEEP_EVERY_S", "FireOnceSweeper"]

log = logging.getLogger("tagwire.delivery")

SWEEP_EVERY_S = 3600.0


def _wall_ms() -> int:
    return int(time.time() * 1000)


class FireOnceSweeper:
    """Deletes expired fire-once keys now and every `every_s` seconds until stopped."""

    def __init__(
        self,
        store: FireOnceStore,
        every_s: float = SWEEP_EVERY_S,
        clock: Callable[[], int] = _wall_ms,
    ) -> None:
        self._store = store
        self._every_s = every_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-fire-once-sweeper")

    async def stop(self) -> None:
        """Stop between two steps: each step is its own transaction, so none is cut."""
        await cancel(self._task)
        self._task = None

    async def sweep(self) -> int:
        """One sweep; how many keys it deleted. A store error is logged and waits for
        the next sweep: an undeleted expired key costs space, never a wrong answer."""
        try:
            removed = await self._store.expire_fire_once(self._clock())
        except StorageError as exc:
            log.warning("fire-once sweep failed", extra={"fields": {"error": str(exc)}})
            return 0
        if removed:
            log.info("expired fire-once keys deleted", extra={"fields": {"keys": removed}})
        return removed

    async def _run(self) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(self._every_s)
