"""Runs failed tag runs again from the hit they stored.

A tag run that failed on an acknowledged hit is a `RUN` row in the outbox (see
container/tag_failures.py). This task claims the due ones, runs each tag again on its
container's lane with the version the node serves now (so a replayed dead run uses the
fixed template), and settles the row: its requests take its place in the outbox and go
out through the sender; another failure is retried on the schedule or dead-lettered.
A run whose container or environment this node does not serve is retried later: another
node, or this one after the next publish, may serve it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

from config.storage import RunItem, RunOutcome, StorageError, TagRunStore
from container.containers import ContainerSet
from container.delivery.clock import SYSTEM_CLOCK
from container.delivery.routes import PlatformRoutes
from container.lanes import LaneBusy, TagLanes
from container.metrics import TAG_RERUNS
from container.pipeline import CompiledContainer, PipelineResult, RerunError
from container.tag_failures import BUSY, UNSERVED, HitRecord, RecordError, read_record, retry_at
from container.tasks import cancel

__all__ = ["TagRetrier"]

log = logging.getLogger("tagwire.tag_retry")

_BATCH = 100


class TagRetrier:
    """Claims due `RUN` rows every `interval_s` (at once after `wake`) and runs them."""

    def __init__(
        self,
        store: TagRunStore,
        containers: ContainerSet,
        lanes: TagLanes,
        *,
        on_queued: Callable[[], None],
        routes: PlatformRoutes | None = None,
        fire_once_ttl_ms: int,
        interval_s: float = 1.0,
        clock: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ) -> None:
        self._store = store
        self._containers = containers
        self._lanes = lanes
        self._on_queued = on_queued
        self._routes = routes or None
        self._ttl_ms = fire_once_ttl_ms
        self._interval_s = interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-tag-retrier")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    def wake(self) -> None:
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            try:
                while await self.run_due() == _BATCH:
                    pass
            except StorageError as exc:
                log.warning("tag retry failed", extra={"fields": {"error": str(exc)}})
            except Exception:  # a bug must not stop every later retry: log, go on
                log.exception("tag retry failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval_s)
            self._wakeup.clear()

    async def run_due(self) -> int:
        """Claim the due runs, run them and settle them; how many were claimed."""
        items = await self._store.claim_runs(_BATCH, self._clock())
        if not items:
            return 0
        by_lane: dict[str, list[tuple[RunItem, HitRecord, CompiledContainer]]] = defaultdict(list)
        outcomes: list[RunOutcome] = []
        for item in items:
            try:
                record = read_record(item.body)
            except RecordError as exc:
                outcomes.append(self._failed(item, "runtime", str(exc)))
                continue
            container = self._containers.get(item.container_id, record.env)
            if container is None:
                outcomes.append(self._failed(
                    item, UNSERVED,
                    f"container {item.container_id!r} environment {record.env!r} is not "
                    "served by this node",
                ))  # fmt: skip
                continue
            by_lane[container.lane].append((item, record, container))
        for lane, runs in by_lane.items():
            outcomes.extend(await self._rerun(lane, runs))
        await self._store.settle_runs(outcomes, self._ttl_ms)
        if any(outcome.rows for outcome in outcomes):
            self._on_queued()
        return len(items)

    async def _rerun(
        self, lane: str, runs: list[tuple[RunItem, HitRecord, CompiledContainer]]
    ) -> list[RunOutcome]:
        def job() -> list[RunOutcome]:
            return [self._one(*run) for run in runs]

        try:
            return await self._lanes.run(lane, job)
        except LaneBusy as busy:
            return [self._failed(item, BUSY, busy.reason) for item, _, _ in runs]

    def _one(self, item: RunItem, record: HitRecord, container: CompiledContainer) -> RunOutcome:
        """Runs on the lane's worker thread."""
        result = PipelineResult()
        try:
            container.rerun(item.tag_id, record, result)
        except RerunError as exc:
            return self._failed(item, exc.kind, exc.message)
        except Exception as exc:  # tagwire's bug, not the template's: retried as `host`
            log.exception("tag rerun raised", extra={"fields": {"outbox_id": item.id}})
            return self._failed(item, "host", f"{type(exc).__name__}: {exc}")
        routes = self._routes
        rows = result.rows if routes is None else [routes.row(row) for row in result.rows]
        now = self._clock()
        TAG_RERUNS.labels(item.container_id, item.tag_id, "ran").inc()
        log.info(
            "failed tag run ran again",
            extra={"fields": {"container": item.container_id, "tag": item.tag_id,
                              "outbox_id": item.id, "requests": len(rows),
                              "version": container.version}},
        )  # fmt: skip
        response = (
            f"the template ran again (version {container.version}) and queued"
            f" {len(rows)} request{'s' if len(rows) != 1 else ''}"
        )
        return RunOutcome(item.id, rows, "ran", response, now, now)

    def _failed(self, item: RunItem, kind: str, message: str) -> RunOutcome:
        now = self._clock()
        when = retry_at(kind, item.attempts + 1, now)
        state = "dead" if when is None else "failed"
        TAG_RERUNS.labels(item.container_id, item.tag_id, state).inc()
        log.warning(
            "failed tag run failed again",
            extra={"fields": {"container": item.container_id, "tag": item.tag_id,
                              "outbox_id": item.id, "kind": kind, "reason": message,
                              "state": state}},
        )  # fmt: skip
        return RunOutcome(item.id, None, state, f"{kind}: {message}", when or now, now)
