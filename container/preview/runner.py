"""Running a preview hit: the session's container, traced, delivered as the session says.

- dry run: every request is built and shown in the trace, nothing is queued, and the
  browser gets no pixel command or ad cookie (the trace lists them);
- test: the hit carries the session's test code, so the shipped templates use each
  platform's test mode; rows take no fire-once key; no browser pixels either (a browser
  pixel has no test mode);
- live: sent for real like a live hit (fire-once keys, pixels, cookies), and the rows
  are marked with the session in the history.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from config.storage import PreviewStore, StorageError
from container.pipeline import CompiledContainer, PipelineResult
from container.preview.sessions import ActivePreview, PreviewSessions
from container.preview.trace import TRACE_VERSION, refused_trace, tag_trace
from container.preview.writer import TraceWriter
from variables.hit import Hit

__all__ = ["DELIVERY", "PreviewRunner"]

log = logging.getLogger("tagwire.preview")

DELIVERY = {
    "dry_run": "dry run: built, not sent; no browser pixels",
    "test": "test mode: sent with the platforms' test modes; no browser pixels",
    "live": "live: sent for real, marked in the history",
}


class PreviewRunner:
    """What `/collect` needs for preview hits; one per node."""

    def __init__(self, sessions: PreviewSessions, traces: TraceWriter, store: PreviewStore) -> None:
        self.sessions = sessions
        self.traces = traces
        self._store = store

    def base(self, active: ActivePreview, trace_id: str, at_ms: int,
             request: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        """What every trace of one request shares."""
        session = active.session
        return {"v": TRACE_VERSION, "trace_id": trace_id, "session": session.id,
                "revision": session.revision, "mode": session.mode, "source": session.source,
                "container": session.container_id, "at_ms": at_ms, "request": request,
                "delivery": DELIVERY[session.mode]}  # fmt: skip

    def refused(self, active: ActivePreview, base: dict[str, Any],
                errors: list[dict[str, Any]]) -> None:  # fmt: skip
        self.traces.add(active.session.id, refused_trace(base, errors))

    def stopped(self, active: ActivePreview, base: dict[str, Any], hit: dict[str, Any],
                guards: list[dict[str, str]]) -> None:  # fmt: skip
        """A hit a guard stopped before its tags: traced with the guard's verdict."""
        self.traces.add(active.session.id, {**base, "event": hit.get("event"),
                                            "event_id": hit.get("event_id"), "hit": hit,
                                            "guards": guards, "tags": [],
                                            "summary": "stopped by a guard"})  # fmt: skip

    async def run(
        self,
        active: ActivePreview,
        container: CompiledContainer,
        hit: Hit,
        base: dict[str, Any],
        guards: list[dict[str, str]],
    ) -> PipelineResult:
        """The hit's tags, traced; the rows to commit in this session's mode."""
        session = active.session
        if session.mode == "test":
            hit = dataclasses.replace(hit, test_event_code=session.test_code)
        result = PipelineResult()
        async with active.lock:
            tags = await asyncio.to_thread(container.traced, hit, result, session.mode == "live")
        trace = tag_trace(container, active.document, hit, tags, {**base, "guards": guards})
        self.traces.add(session.id, trace)
        log.info("preview hit", extra={"fields": {
            "trace_id": hit.trace_id, "session": session.id, "container": session.container_id,
            "event_id": hit.event_id, "mode": session.mode, "summary": trace["summary"],
        }})  # fmt: skip
        if session.mode != "live":
            result.pixels = []
            result.cookies = []
        if session.mode == "dry_run":
            result.rows = []
        return result

    async def mark(self, active: ActivePreview, event_ids: list[str], since_ms: int) -> None:
        """Mark a live session's committed rows in the history."""
        session = active.session
        if session.mode != "live" or not event_ids:
            return
        try:
            await self._store.mark_preview_rows(session.container_id, event_ids, session.id,
                                                since_ms)  # fmt: skip
        except StorageError as exc:  # the rows are committed and go out; only the mark is lost
            log.warning("preview rows not marked in the history",
                        extra={"fields": {"session": session.id, "reason": str(exc)}})  # fmt: skip
