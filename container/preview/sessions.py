"""The preview sessions a node honours, read from the shared store.

A hit carrying the preview cookie runs the session's document instead of the live
version. The cookie is checked in this order, each step cheaper than the next: its
signature and expiry (no I/O), then the node's list of active sessions, which a poll
refreshes every few seconds (so a revoked session stops within that time on every
node), then, for a session the list does not know yet (started a moment ago), one read
of the store, remembered for a while when it finds nothing. A cookie that fails a step
runs the live version and is counted by reason. Each session's document is compiled
once per revision, off the event loop, with a runtime of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import Counter

from config.errors import DocumentError
from config.preview_tokens import PreviewTokens, TokenRejected
from config.storage import PreviewSession, PreviewStore, StorageError
from config.versions import VersionRecord
from container.delivery.clock import SYSTEM_CLOCK
from container.pipeline import CompiledContainer
from container.reload import Build
from container.tasks import cancel
from tags.errors import TemplateError

__all__ = ["COOKIE", "ENV", "PREVIEW_COOKIES", "ActivePreview", "PreviewSessions"]

log = logging.getLogger("tagwire.preview")

COOKIE = "tw_preview"
ENV = "preview"  # the environment a session's container is compiled for
PREVIEW_COOKIES = Counter(
    "tagwire_preview_cookies",
    "Preview cookies that ran the live version instead, by reason.",
    ["reason"],
)
MISS_MEMORY_MS = 5_000  # how long a session id the store does not know is not asked again


@dataclass(slots=True)
class ActivePreview:
    """A session as a node runs it: its document, compiled on first use; the lock keeps
    its container (not thread-safe) to one hit at a time."""

    session: PreviewSession
    document: dict[str, Any]
    compiled: CompiledContainer | None = None
    broken: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PreviewSessions:
    def __init__(
        self,
        store: PreviewStore,
        build: Build,
        *,
        interval_s: float = 2.0,
        clock: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ) -> None:
        self._store = store
        self._build = build
        self._interval_s = interval_s
        self._clock = clock
        self._tokens: PreviewTokens | None = None
        self._active: dict[str, ActivePreview] = {}
        self._misses: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self, key: bytes) -> None:
        """Honour cookies signed with `key` (`Store.node_key(PREVIEW_KEY)`), then follow
        the store's sessions."""
        self._tokens = PreviewTokens(key)
        await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tagwire-preview")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def sync(self) -> None:
        """The active sessions now; a session whose revision did not change keeps its
        compiled container."""
        sessions = await self._store.list_previews(None, self._clock())
        current: dict[str, ActivePreview] = {}
        for session in sessions:
            known = self._active.get(session.id)
            if known is not None and known.session.revision == session.revision:
                known.session = session
                current[session.id] = known
            else:
                current[session.id] = _active(session)
        self._active = current

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.sync()
            except StorageError as exc:
                log.warning("cannot read preview sessions", extra={"fields": {"reason": str(exc)}})

    async def resolve(self, token: str, container_id: str, now_ms: int) -> ActivePreview | None:
        """The session a cookie names, when it may run on this container now; None (and
        counted) otherwise."""
        try:
            active = await self.check(token, now_ms)
        except TokenRejected as rejected:
            PREVIEW_COOKIES.labels(rejected.reason).inc()
            return None
        if active.session.container_id != container_id:
            PREVIEW_COOKIES.labels("other_container").inc()
            return None
        return active

    async def check(self, token: str, now_ms: int) -> ActivePreview:
        """The active session a token names; raises TokenRejected (malformed, forged,
        expired, or ended: revoked or unknown)."""
        tokens = self._tokens
        if tokens is None:
            raise TokenRejected("ended")
        session_id, _ = tokens.read(token, now_ms)
        active = self._active.get(session_id) or await self._lookup(session_id, now_ms)
        if active is None or not active.session.active(now_ms):
            raise TokenRejected("ended")
        return active

    async def _lookup(self, session_id: str, now_ms: int) -> ActivePreview | None:
        """A session started since the last poll: read once, a miss remembered."""
        if self._misses.get(session_id, 0) > now_ms:
            return None
        try:
            session = await self._store.get_preview(session_id)
        except StorageError:
            return None
        if session is None or not session.active(now_ms):
            if len(self._misses) > 10_000:
                self._misses.clear()
            self._misses[session_id] = now_ms + MISS_MEMORY_MS
            return None
        active = self._active[session_id] = _active(session)
        return active

    async def container(self, active: ActivePreview) -> CompiledContainer | None:
        """The session's compiled container; None when its document does not compile
        (logged once; the live version runs)."""
        if active.compiled is None and active.broken is None:
            session = active.session
            record = VersionRecord(session.container_id, 0, None, session.created_by,
                                   f"preview {session.id}", session.created_at_ms,
                                   active.document)  # fmt: skip
            try:
                active.compiled = await asyncio.to_thread(self._build, record, ENV)
            except (DocumentError, TemplateError) as exc:
                active.broken = str(exc)
                log.error(
                    "a preview's document does not compile; the live version runs",
                    extra={"fields": {"session": session.id, "reason": str(exc)}},
                )
        if active.compiled is None:
            PREVIEW_COOKIES.labels("broken").inc()
        return active.compiled


def _active(session: PreviewSession) -> ActivePreview:
    try:
        document = orjson.loads(session.document)
    except orjson.JSONDecodeError as exc:
        return ActivePreview(session, {}, broken=f"document is not JSON: {exc}")
    return ActivePreview(session, document if isinstance(document, dict) else {})
