"""Group commit for send outcomes: many finished requests share one `record` transaction.

Batches finish one by one; writing each on its own would cost a transaction per request.
While one write runs, outcomes pile up and go into the next, as the outbox writer does for
hits. A failed write is logged and its rows stay inflight until the next start releases them.
"""

from __future__ import annotations

import asyncio
import logging

from config.storage import Delivery, OutboxStore

__all__ = ["OutcomeWriter"]

log = logging.getLogger("tagwire.delivery")


class OutcomeWriter:
    def __init__(self, store: OutboxStore) -> None:
        self._store = store
        self._waiting: list[Delivery] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-outcome-writer")

    def add(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            self._waiting.extend(deliveries)
            self._wakeup.set()

    async def stop(self) -> None:
        """Write what is waiting, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        elif self._waiting:
            await self._write()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._waiting:
                await self._write()
            if self._stopping and not self._waiting:
                return

    async def _write(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            await self._store.record(batch)
        except Exception:  # a store error or a bug: the sender must go on either way
            log.exception(
                "recording outcomes failed; these rows stay inflight until the next start",
                extra={"fields": {"rows": len(batch)}},
            )
