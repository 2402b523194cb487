"""Hot reload: a node follows the environments it serves and swaps versions in place.

Every `reload_interval_s` the watcher reads the environment pointers from the store (a
few small rows: the cheap "has anything changed" check). For a pointer that moved, it
reads the version, verifies its signature against the node's public key, and compiles it
on a worker thread with a fresh template runtime, so the event loop keeps answering hits.
Only then is the compiled container put into the `ContainerSet`: a hit looks its
container up once, so hits in flight finish on the old version and new hits get the new.

A version that is unsigned, signed by another key, altered after signing, or that does
not compile is refused: logged with the reason, counted in
`tagwire_config_refused_total`, and the node keeps serving what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from prometheus_client import Counter, Gauge

from config.errors import DocumentError
from config.publishing import LIVE
from config.schema import apply_defaults, validate_document
from config.storage import Environment, StorageError, StoredVersion
from config.versions import VersionRecord, VersionRefused, open_signed
from container.containers import ContainerSet
from container.node_secrets import NodeSecrets
from container.pipeline import CompiledContainer
from container.tasks import cancel
from tags.errors import TemplateError
from tags.limits import DEADLINE_MS
from tags.runtime import TemplateRuntime

__all__ = [
    "CONFIG_REFUSED",
    "CONFIG_SWAPS",
    "CONFIG_VERSION",
    "ConfigSource",
    "ConfigWatcher",
    "builder",
]

log = logging.getLogger("tagwire.reload")

CONFIG_REFUSED = Counter(
    "tagwire_config_refused",
    "Published versions this node refused to serve, by reason (unsigned, bad_signature, "
    "unknown_key, malformed, mismatch, missing, invalid, compile).",
    ["container", "env", "reason"],
)
CONFIG_SWAPS = Counter(
    "tagwire_config_swaps", "Versions this node started serving.", ["container", "env"]
)
CONFIG_VERSION = Gauge(
    "tagwire_config_version",
    "The version each environment runs on this node.",
    ["container", "env"],
    multiprocess_mode="liveall",  # one series per worker (pid): a reload shows as it spreads
)

Build = Callable[[VersionRecord, str], CompiledContainer]


class ConfigSource(Protocol):
    """Where a node reads published versions: the store itself, or a control plane over
    HTTP. Either way the node trusts nothing it reads until the signature checks out.
    Failures raise `StorageError`; the watcher logs them and tries again."""

    async def list_environments(self, container_id: str | None) -> list[Environment]: ...

    async def get_version(self, container_id: str, number: int) -> StoredVersion | None: ...


def builder(
    secrets: NodeSecrets, allow_http_loopback: bool, deadline_ms: int = DEADLINE_MS
) -> Build:
    """Compile a verified version with its own runtime (thread-safe: nothing shared with
    the runtime serving hits), its container's secrets and the node's tag deadline."""

    def build(record: VersionRecord, env: str) -> CompiledContainer:
        source = f"container {record.container_id!r} version {record.number}"
        issues = validate_document(record.document)
        if issues:
            raise DocumentError(issues, source)
        runtime = TemplateRuntime(
            secrets.lookup_for(record.container_id),
            allow_http_loopback=allow_http_loopback,
            deadline_ms=deadline_ms,
        )
        return CompiledContainer.compile(
            apply_defaults(record.document), runtime, version=record.number, env=env
        )

    return build


class _Refused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


Changes = Callable[[], AsyncIterator[str]]
CHANGES_RETRY_S = 5.0  # before listening again after the listening connection failed


class ConfigWatcher:
    """`environments`: the names this node serves; empty means every environment.
    `changes`, when the source can announce changes (PostgreSQL notifications), makes the
    watcher sync as soon as one arrives; it still polls every `interval_s`, which also
    covers a change announced while the listener was reconnecting."""

    def __init__(
        self,
        source: ConfigSource,
        containers: ContainerSet,
        public_key: Ed25519PublicKey,
        build: Build,
        *,
        interval_s: float,
        environments: tuple[str, ...] = (),
        secrets: NodeSecrets | None = None,
        changes: Changes | None = None,
    ) -> None:
        self.source = source
        self.containers = containers
        self.public_key = public_key
        self.build = build
        self.interval_s = interval_s
        self.environments = frozenset(environments)
        self.secrets = secrets
        self._serving: dict[tuple[str, str], int] = {}
        self._refused: dict[tuple[str, str], tuple[int, int]] = {}
        self._vanished: set[tuple[str, str]] = set()  # live environments the source lost
        self._task: asyncio.Task[None] | None = None
        self._changes = changes
        self._listener: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def sync(self) -> None:
        """One pass: secrets first (a new version may need a new secret), then pointers."""
        if self.secrets is not None:
            await self.secrets.refresh()
        pointers = {
            (e.container_id, e.name): e
            for e in await self.source.list_environments(None)
            if not self.environments or e.name in self.environments
        }
        for key in set(self._refused) - set(pointers):
            del self._refused[key]
        for key in set(self._serving) - set(pointers):
            if key[1] == LIVE:
                # `live` is never unpublished, only moved: if it vanished, the source is
                # wrong (a bad proxy, the wrong database), and the site keeps running.
                if key not in self._vanished:
                    self._vanished.add(key)
                    log.error(
                        "the source no longer lists a live environment, which cannot be "
                        "unpublished; still serving it",
                        extra={"fields": {"container": key[0], "serving": self._serving[key]}},
                    )
                continue
            self.containers.remove(*key)
            del self._serving[key]
            CONFIG_VERSION.remove(*key)
            log.warning(
                "environment deleted; no longer serving it",
                extra={"fields": {"container": key[0], "env": key[1]}},
            )
        self._vanished &= set(self._serving) - set(pointers)
        for key, pointer in sorted(pointers.items()):
            if self._serving.get(key) == pointer.version:
                continue
            if self._refused.get(key) == (pointer.version, pointer.updated_at_ms):
                continue  # already refused and logged; a new publish retries
            await self._switch(key, pointer)

    async def _switch(self, key: tuple[str, str], pointer: Environment) -> None:
        container_id, env = key
        try:
            compiled = await self._prepare(pointer)
        except _Refused as exc:
            self._refused[key] = (pointer.version, pointer.updated_at_ms)
            CONFIG_REFUSED.labels(container_id, env, exc.reason).inc()
            log.error(
                "refused a published version; still serving the previous one",
                extra={
                    "fields": {
                        "container": container_id,
                        "env": env,
                        "version": pointer.version,
                        "serving": self._serving.get(key),
                        "reason": exc.reason,
                        "detail": str(exc),
                    }
                },
            )
            return
        previous = self._serving.get(key)
        self.containers.put(container_id, env, compiled)
        self._serving[key] = pointer.version
        self._refused.pop(key, None)
        CONFIG_SWAPS.labels(container_id, env).inc()
        CONFIG_VERSION.labels(container_id, env).set(pointer.version)
        log.info(
            "now serving a published version",
            extra={
                "fields": {
                    "container": container_id,
                    "env": env,
                    "version": pointer.version,
                    "previous": previous,
                }
            },
        )

    async def _prepare(self, pointer: Environment) -> CompiledContainer:
        version = await self.source.get_version(pointer.container_id, pointer.version)
        if version is None:
            raise _Refused("missing", f"version {pointer.version} is not in the store")
        try:
            record = open_signed(
                version.body,
                version.signature,
                version.key_id,
                self.public_key,
                container_id=pointer.container_id,
                number=pointer.version,
            )
        except VersionRefused as exc:
            raise _Refused(exc.reason, str(exc)) from None
        document_id = record.document.get("container", {})
        document_id = document_id.get("id") if isinstance(document_id, dict) else None
        if document_id != pointer.container_id:
            raise _Refused(
                "mismatch",
                f"the signed version's document is container {document_id!r}, not "
                f"{pointer.container_id!r}",
            )
        try:
            return await asyncio.to_thread(self.build, record, pointer.name)
        except DocumentError as exc:
            raise _Refused("invalid", "; ".join(map(str, exc.issues))) from None
        except TemplateError as exc:
            raise _Refused("compile", str(exc)) from None
        except Exception as exc:  # a bug must not stop the watcher: refuse and keep serving
            log.exception("compiling a published version failed unexpectedly")
            raise _Refused("compile", f"{type(exc).__name__}: {exc}") from None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="tagwire-reload")
        if self._changes is not None:
            self._listener = loop.create_task(self._listen(self._changes), name="tagwire-notify")

    async def stop(self) -> None:
        await cancel(self._listener)
        await cancel(self._task)
        self._task = self._listener = None

    async def _listen(self, changes: Changes) -> None:
        """Wake the sync loop on each announced change; listen again after a failure."""
        while True:
            try:
                async for _ in changes():
                    self._wake.set()
            except Exception as exc:  # a lost connection: the poll covers the gap
                log.warning(
                    "not listening for published changes; polling meanwhile",
                    extra={"fields": {"reason": str(exc)}},
                )
            await asyncio.sleep(CHANGES_RETRY_S)

    async def _next(self) -> None:
        """Until the next poll is due, or a change is announced."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.interval_s)
        self._wake.clear()

    async def _run(self) -> None:
        while True:
            await self._next()
            try:
                await self.sync()
            except StorageError as exc:
                log.warning(
                    "cannot check for published versions; will try again",
                    extra={"fields": {"reason": str(exc)}},
                )
            except Exception:  # a bug must not silently end hot reload for the node
                log.exception("checking for published versions failed; will try again")
