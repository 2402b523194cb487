"""Writing preview traces to the shared store without holding up the hits.

A preview hit is answered as soon as its rows are committed; its trace goes into a
buffer that a background task writes every `FLUSH_S` (so the live view sees it within
a fraction of a second), keeping the newest `keep_per_session` of each session. The same
task deletes traces past their retention, and sessions that ended that long ago.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from config.storage import PreviewStore, StorageError
from container.delivery.clock import SYSTEM_CLOCK
from container.tasks import cancel

__all__ = ["FLUSH_S", "PRUNE_EVERY_MS", "TraceWriter"]

log = logging.getLogger("tagwire.preview")

FLUSH_S = 0.1
PRUNE_EVERY_MS = 600_000
MAX_BUFFERED = 10_000  # traces waiting for a store that does not answer; older ones go


class TraceWriter:
    def __init__(
        self,
        store: PreviewStore,
        keep_per_session: int,
        retention_ms: int,
        clock: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ) -> None:
        self._store = store
        self._keep = keep_per_session
        self._retention_ms = retention_ms
        self._clock = clock
        self._buffer: list[tuple[str, int, str, str, bytes]] = []
        self._next_prune_ms = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, session_id: str, trace: dict[str, Any]) -> None:
        """Queue one trace (the format of container.preview.trace) for the store."""
        body = orjson.dumps(trace, default=str)
        outcome = " ".join(sorted({t["outcome"] for t in trace.get("tags", [])})) or (
            "refused" if trace.get("errors") else "none"
        )
        self._buffer.append(
            (session_id, trace["at_ms"], str(trace.get("event", "")), outcome, body)
        )
        if len(self._buffer) > MAX_BUFFERED:
            del self._buffer[: len(self._buffer) - MAX_BUFFERED]

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tagwire-traces")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write what is buffered; on a store error keep it for the next round."""
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            await self._store.add_traces(batch, self._keep)
        except StorageError as exc:
            self._buffer[:0] = batch
            log.warning("preview traces not written yet", extra={"fields": {"reason": str(exc)}})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            await self.flush()
            now = self._clock()
            if now >= self._next_prune_ms:
                self._next_prune_ms = now + PRUNE_EVERY_MS
                cutoff = now - self._retention_ms
                try:
                    await self._store.prune_previews(cutoff, cutoff)
                except StorageError as exc:
                    log.warning("preview traces not pruned", extra={"fields": {"reason": str(exc)}})
