"""Shares the spike detector's counts through the store, so that every node and worker
judges the whole traffic of an event, not its own share of it.

Every `every_s` seconds the node adds the hits the store does not have yet and reads
every node's totals for the pairs it tracks: this minute and the last for the pairs it
knows, the whole window for the pairs new to it. A failed exchange keeps the hits for the
next one, and the node judges on what it has meanwhile (its own hits on top of the last
totals). Old minutes are pruned now and then; any node may prune, the result is the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from config.storage import StorageError, VolumeStore
from container.guards.spike import SpikeDetector
from container.tasks import cancel

__all__ = ["SYNC_EVERY_S", "SpikeSync"]

log = logging.getLogger("tagwire.guards")

SYNC_EVERY_S = 2.0
PRUNE_EVERY_S = 300.0
# Minutes kept beyond the detector's window, for nodes whose clocks differ a little.
KEEP_EXTRA_MINUTES = 5


class SpikeSync:
    def __init__(
        self,
        detector: SpikeDetector,
        store: VolumeStore,
        *,
        every_s: float = SYNC_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._detector = detector
        self._store = store
        self._every_s = every_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-spike-sync")

    async def stop(self) -> None:
        """Stop, then hand the store the hits it does not have yet."""
        await cancel(self._task)
        self._task = None
        await self.exchange()

    async def exchange(self) -> None:
        """One exchange with the store; a store error keeps the hits for the next one."""
        now = self._clock()
        minute = int(now * 1000) // 60_000
        added, recent, new = self._detector.take_unflushed()
        window = self._detector.window_minutes
        try:
            totals = await self._store.exchange_volume(
                added, recent, minute - 1, new, minute - window
            )
        except StorageError as exc:
            self._detector.give_back(added)
            if not self._failing:
                log.warning(
                    "spike counts not shared: judging this node's own hits until the store"
                    " answers",
                    extra={"fields": {"error": str(exc)}},
                )
                self._failing = True
            return
        if self._failing:
            log.info("spike counts shared again")
            self._failing = False
        self._detector.merge(totals, new)
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            try:
                await self._store.prune_volume(minute - window - KEEP_EXTRA_MINUTES)
            except StorageError as exc:
                log.warning("old spike counts not pruned", extra={"fields": {"error": str(exc)}})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            await self.exchange()
