"""Deletes sent rows and their history once they are older than the retention setting.

The outbox keeps every row after it is sent, for the firing history; without this the
table grows by every request ever made. A pass runs at start and then every
`every_s` seconds, deleting at most `BATCH` rows per transaction until none is left, so
hits queued meanwhile never wait long for the store. Dead and held rows are never
deleted here: they wait for an operator (replay, release or `tagwire outbox purge`).
Fire-once keys live in their own table and expire on their own schedule.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from config.storage import OutboxOpsStore, StorageError
from container.tasks import cancel

__all__ = ["BATCH", "RETENTION_EVERY_S", "RetentionPruner"]

log = logging.getLogger("tagwire.delivery")

BATCH = 1000
RETENTION_EVERY_S = 600.0


def _wall_ms() -> int:
    return int(time.time() * 1000)


class RetentionPruner:
    def __init__(
        self,
        store: OutboxOpsStore,
        keep_ms: int,
        every_s: float = RETENTION_EVERY_S,
        clock: Callable[[], int] = _wall_ms,
    ) -> None:
        self._store = store
        self._keep_ms = keep_ms
        self._every_s = every_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-retention")

    async def stop(self) -> None:
        """Stop between two batches: each is its own transaction, so none is cut."""
        await cancel(self._task)
        self._task = None

    async def prune(self) -> int:
        """One pass; how many rows it deleted. A store error ends the pass and waits for
        the next one: rows kept longer cost space, never a wrong answer."""
        cutoff = self._clock() - self._keep_ms
        deleted = 0
        while True:
            try:
                step = await self._store.prune_sent(cutoff, BATCH)
            except StorageError as exc:
                log.warning("retention pass failed", extra={"fields": {"error": str(exc)}})
                break
            deleted += step
            if step < BATCH:
                break
        if deleted:
            log.info("sent rows past their retention deleted", extra={"fields": {"rows": deleted}})
        return deleted

    async def _run(self) -> None:
        while True:
            await self.prune()
            await asyncio.sleep(self._every_s)
