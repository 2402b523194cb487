"""`tagwire serve --workers N`: N processes on one listening socket, each a whole node.

One Python process uses one core. Each worker runs its own pipeline, writer and sender over
the shared store, and the store keeps them from stepping on each other: a worker claims
outbox rows under a node key of its own and, when it starts again after a crash, releases
only the rows of processes that are gone (`config.sqlite.liveness` on SQLite,
`config.postgres.liveness` on PostgreSQL). The volume spike detector counts through the
store, so all workers judge one rate; the per-client rate limits count per worker.

The supervisor binds the socket once and starts the workers with `spawn` (a fresh
interpreter each, no state copied from the parent). It restarts a worker that dies, and
stops all of them when one cannot start (a bad setting would fail every restart). SIGTERM
or SIGINT stops the workers gracefully: each finishes its requests and hands back its
claimed rows; one that takes longer than the grace period is killed, and its rows are
released by the next worker to start.

Prometheus counters are summed across workers: the supervisor gives every worker one
folder for `prometheus_client`'s multi-process files, and `/metrics` reads them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from prometheus_client import multiprocess

__all__ = ["STARTUP_FAILED", "Supervisor"]

log = logging.getLogger("tagwire.workers")

# The exit code of a worker whose server did not start (its lifespan failed).
STARTUP_FAILED = 3
# A worker that dies is started again after this pause, so a crash loop cannot spin.
RESTART_DELAY_S = 1.0

Target = Callable[..., None]


class Supervisor:
    """Runs `target(*args, sock, slot)` in `count` spawned processes until told to stop;
    a stopping worker that takes more than `stop_grace_s` is killed."""

    def __init__(
        self,
        count: int,
        target: Target,
        args: tuple[Any, ...],
        sock: socket.socket,
        *,
        stop_grace_s: float,
    ) -> None:
        self.count = count
        self._stop_grace_s = stop_grace_s
        self._target = target
        self._args = args
        self._sock = sock
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, BaseProcess] = {}
        self._stopping = False

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT (0), or until a worker cannot start (1)."""
        metrics_dir = tempfile.mkdtemp(prefix="tagwire-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in range(self.count):
                self._start(slot)
            return self._watch()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _start(self, slot: int) -> None:
        process = self._context.Process(
            target=self._target,
            args=(*self._args, self._sock, slot),
            name=f"tagwire-worker-{slot}",
        )
        process.start()
        self._workers[slot] = process
        log.info("worker started", extra={"fields": {"worker": slot, "pid": process.pid}})

    def _watch(self) -> int:
        while not self._stopping:
            sentinels = {process.sentinel: slot for slot, process in self._workers.items()}
            for sentinel in wait(list(sentinels), timeout=0.5):
                slot = sentinels[sentinel]  # type: ignore[index]
                process = self._workers[slot]
                process.join()
                if self._stopping:
                    break
                self._forget(process)
                if process.exitcode == STARTUP_FAILED:
                    log.error(
                        "worker could not start: stopping every worker",
                        extra={"fields": {"worker": slot, "pid": process.pid}},
                    )
                    return 1
                log.warning(
                    "worker died: starting it again",
                    extra={"fields": {"worker": slot, "pid": process.pid,
                                      "exit_code": process.exitcode}},
                )  # fmt: skip
                time.sleep(RESTART_DELAY_S)
                if not self._stopping:
                    self._start(slot)
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _shutdown(self) -> None:
        """SIGTERM to every worker still running, then wait; kill what outlives the grace."""
        running = [p for p in self._workers.values() if p.is_alive()]
        for process in running:
            assert process.pid is not None
            os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_grace_s
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning(
                    "worker outlived the stop grace: killed",
                    extra={"fields": {"pid": process.pid, "grace_s": self._stop_grace_s}},
                )
                process.kill()
                process.join()
            self._forget(process)

    def _forget(self, process: BaseProcess) -> None:
        """Drop a dead worker's live gauges from the shared metrics."""
        if process.pid is not None:
            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
