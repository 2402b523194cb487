"""Group commit: many concurrent `/collect` requests share one store transaction.

A request awaits `enqueue` and is acknowledged only after its rows are committed. While
one commit is running, new rows pile up and go into the next one, so the commit rate
adapts to load without a fixed delay.

With `routes`, a row whose platform a setting moves is stored with the destination it is
really sent to (`container.delivery.routes`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from config.storage import DEFAULT_FIRE_ONCE_TTL_MS, FailedRun, OutboxRow, OutboxStore
from container.delivery.routes import PlatformRoutes

__all__ = ["OutboxWriter"]


class OutboxWriter:
    def __init__(
        self,
        store: OutboxStore,
        on_commit: Callable[[], None],
        fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS,
        routes: PlatformRoutes | None = None,
    ) -> None:
        self._store = store
        self._routes = routes or None  # None also when no setting moves a platform
        self._on_commit = on_commit
        self._fire_once_ttl_ms = fire_once_ttl_ms
        self._waiting: list[tuple[list[OutboxRow], Sequence[FailedRun], asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-outbox-writer")

    async def stop(self) -> None:
        """Commit what is waiting, then stop (never cancels a commit half-way)."""
        if self._task is None:
            return
        self._stopping = True
        self._wakeup.set()
        await self._task
        self._task = None

    async def enqueue(self, rows: list[OutboxRow], failures: Sequence[FailedRun] = ()) -> None:
        """Return once the rows and failed tag runs are committed (rows whose fire-once
        key exists are dropped)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        routes = self._routes
        if routes is not None:
            rows = [routes.row(row) for row in rows]
        self._waiting.append((rows, failures, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._waiting:
                await self._commit()
            if self._stopping and not self._waiting:
                return

    async def _commit(self) -> None:
        batch, self._waiting = self._waiting, []
        rows = [row for chunk, _, _ in batch for row in chunk]
        failures = [failure for _, chunk, _ in batch for failure in chunk]
        try:
            await self._store.enqueue(
                rows, int(time.time() * 1000), self._fire_once_ttl_ms, failures
            )
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, _, future in batch:
            if not future.done():
                future.set_result(None)
        self._on_commit()
