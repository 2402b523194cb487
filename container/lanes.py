"""Tag execution off the event loop: one serial lane per container, a few worker threads.

Templates run in Lua, and lupa releases the GIL while Lua runs, so a template that spins
up to its budget (or its wall-clock safety net) on a worker thread leaves the event loop
free: `/healthz`, the loader and every other container keep answering. Each container
(and environment) has a lane: its jobs run one at a time, in order, because its template
runtime is not thread-safe, and a lane holds at most one worker, so a hostile container
can slow only its own hits. A lane's queue is bounded: past `max_queued` waiting jobs
`run` raises `LaneBusy` at once (the endpoints answer 503 with Retry-After; nothing was
acknowledged, so nothing is lost). A job still running after `stuck_after_s` marks its
lane stuck (logged, counted): its waiting and new jobs are refused with `LaneBusy` until
it returns, and a fresh worker takes its place so the other lanes keep their threads.

Results go back to the loop once per drained batch, not once per job, so a busy lane
pays one cross-thread wake-up for many hits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from container.metrics import LANE_STUCK

__all__ = ["SPILL_COOL_DOWN_S", "LaneBusy", "TagLanes"]

log = logging.getLogger("tagwire.lanes")

T = TypeVar("T")
_Job = tuple[Callable[[], Any], asyncio.Future[Any]]
_Done = tuple[asyncio.Future[Any], bool, Any]


# After work of a lane outgrew the event loop, how long its jobs go to the lane directly.
SPILL_COOL_DOWN_S = 30.0


class LaneBusy(Exception):
    """A container's lane cannot take the job now; the client should retry later."""

    status = 503
    field = "container"
    retry_after_s = 2

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"container {key}: {reason}")
        self.key = key
        self.reason = reason


class _Lane:
    __slots__ = (
        "batch", "done", "inline_after", "jobs", "key", "lock", "scheduled", "started", "stuck"
    )  # fmt: skip

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.jobs: deque[_Job] = deque()
        self.batch: deque[_Job] = deque()  # taken by the worker, not started yet
        self.done: list[_Done] = []  # finished in the batch, not handed back yet
        self.scheduled = False  # in the ready queue or being drained by a worker
        self.started = 0.0  # monotonic start of the running job, 0 when idle
        self.stuck = False
        self.inline_after = 0.0  # monotonic time before which its jobs stay off the loop


class TagLanes:
    """Runs sync jobs on worker threads, serially per lane key, results on the loop."""

    def __init__(
        self, workers: int = 4, max_queued: int = 256, stuck_after_s: float = 10.0
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        self._max_queued = max_queued
        self._stuck_after_s = stuck_after_s
        self._lanes: dict[str, _Lane] = {}
        self._ready: deque[_Lane] = deque()
        self._ready_cv = threading.Condition(threading.Lock())
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for _ in range(self._workers):
            self._spawn()
        self._watch = asyncio.create_task(self._watchdog(), name="tagwire-lanes-watchdog")

    async def stop(self) -> None:
        """Let the queued jobs finish, then stop the workers (a stuck one is abandoned)."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        with self._ready_cv:
            # Workers end once the ready queue is empty: a lane re-queued behind a stop
            # marker would have been left with its jobs unrun.
            self._stopping = True
            self._ready_cv.notify_all()
        threads, self._threads = self._threads, []
        for thread in threads:
            await asyncio.to_thread(thread.join, self._stuck_after_s)

    async def run(self, key: str, job: Callable[[], T]) -> T:
        """Run `job` on `key`'s lane and return its result (or raise its exception)."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(key)
        loop = self._loop
        if loop is None:
            raise RuntimeError("TagLanes.start() was not called")
        if self._stopping:  # no worker would ever take it
            raise LaneBusy(key, "the node is shutting down; retry later")
        future: asyncio.Future[T] = loop.create_future()
        with lane.lock:
            if lane.stuck:
                raise LaneBusy(key, "a tag run is stuck; retry later")
            if len(lane.jobs) >= self._max_queued:
                raise LaneBusy(key, f"more than {self._max_queued} requests waiting for tags")
            lane.jobs.append((job, future))
            schedule = not lane.scheduled
            lane.scheduled = True
        if schedule:
            with self._ready_cv:
                self._ready.append(lane)
                self._ready_cv.notify()
        return await future

    def inline_ok(self, key: str) -> bool:
        """Whether the caller may run `key`'s work on the event loop right now: the lane
        has no job waiting or running (so nothing else uses its container's runtime, and
        nothing can start until the caller next awaits) and did not spill recently."""
        lane = self._lanes.get(key)
        if lane is None:
            return True
        return not lane.scheduled and not lane.stuck and time.monotonic() >= lane.inline_after

    def spilled(self, key: str) -> None:
        """Work of `key` outgrew the event loop: send its jobs to the lane for a while."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(key)
        lane.inline_after = time.monotonic() + SPILL_COOL_DOWN_S

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name="tagwire-tags", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            with self._ready_cv:
                while not self._ready:
                    if self._stopping:
                        return
                    self._ready_cv.wait()
                lane = self._ready.popleft()
            with lane.lock:
                lane.batch.extend(lane.jobs)
                lane.jobs.clear()
            # The batch stays on the lane, so a watchdog that finds one of its jobs stuck
            # hands back the results before it and refuses the jobs after it.
            while True:
                with lane.lock:
                    if not lane.batch:
                        break
                    job, future = lane.batch.popleft()
                    lane.started = time.monotonic()
                done: _Done
                try:
                    done = (future, True, job())
                except BaseException as exc:  # handed to the awaiting request
                    done = (future, False, exc)
                with lane.lock:
                    lane.started = 0.0
                    lane.done.append(done)
            with lane.lock:
                settled, lane.done = lane.done, []
                was_stuck, lane.stuck = lane.stuck, False
                if lane.jobs:
                    again = True
                else:
                    again = lane.scheduled = False
            if settled:  # after the lane's state: a caller may retry as soon as it wakes
                loop.call_soon_threadsafe(_settle, settled)
            if was_stuck:
                log.warning("tag lane recovered", extra={"fields": {"container": lane.key}})
                return  # a replacement worker took this thread's place
            if again:
                with self._ready_cv:
                    self._ready.append(lane)
                    self._ready_cv.notify()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._stuck_after_s / 4))
            now = time.monotonic()
            for lane in list(self._lanes.values()):
                started = lane.started
                if started and not lane.stuck and now - started > self._stuck_after_s:
                    self._mark_stuck(lane, started)

    def _mark_stuck(self, lane: _Lane, started: float) -> None:
        with lane.lock:
            if lane.stuck or lane.started != started:
                return  # the run returned after the watchdog looked: nothing would unmark it
            lane.stuck = True
            waiting = [*lane.batch, *lane.jobs]
            lane.batch.clear()
            lane.jobs.clear()
            finished, lane.done = lane.done, []
        _settle(finished)
        for _, future in waiting:
            if not future.done():
                future.set_exception(LaneBusy(lane.key, "a tag run is stuck; retry later"))
        LANE_STUCK.labels(lane.key).inc()
        log.error(
            "tag lane stuck: a run went past the hard stop; a new worker replaces its thread",
            extra={"fields": {"container": lane.key, "after_s": self._stuck_after_s}},
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._spawn()


def _settle(done: list[_Done]) -> None:
    for future, ok, value in done:
        if future.done():  # the request went away (cancelled) while its job ran
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, StopIteration):  # a Future refuses it (TypeError, PEP 479)
            error = RuntimeError(f"tag job raised {value!r}")
            error.__cause__ = value
            future.set_exception(error)
        else:
            future.set_exception(value)
