"""Takes back the rows a dead node was sending, while this node runs.

Several nodes share one PostgreSQL outbox, and the workers of `serve --workers N` share
one (SQLite or PostgreSQL). A node or worker that dies (SIGKILL, a lost host) leaves the
rows it had claimed `inflight`; one that starts releases such rows, but a fleet whose
other members keep running would leave them there. So every node with a sender asks the
store, every `every_s` seconds, to return the rows of nodes that are gone to pending
(`OutboxStore.release_orphans`; a live node's rows are never touched), and wakes its
sender when there were some.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from config.storage import OutboxStore, StorageError
from container.tasks import cancel

__all__ = ["ORPHANS_EVERY_S", "OrphanSweeper"]

log = logging.getLogger("tagwire.delivery")

ORPHANS_EVERY_S = 15.0


class OrphanSweeper:
    def __init__(
        self, store: OutboxStore, on_released: Callable[[], None], every_s: float = ORPHANS_EVERY_S
    ) -> None:
        self._store = store
        self._on_released = on_released
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-orphan-sweeper")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def sweep(self) -> int:
        """One pass; how many rows went back to pending. A store error waits for the next
        pass: the rows stay inflight a little longer, never lost."""
        try:
            released = await self._store.release_orphans()
        except StorageError as exc:
            log.warning("orphaned rows not checked", extra={"fields": {"error": str(exc)}})
            return 0
        if released:
            log.warning(
                "took back rows a node that is gone was sending",
                extra={"fields": {"rows": released}},
            )
            self._on_released()
        return released

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            await self.sweep()
