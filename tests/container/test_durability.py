"""Acknowledged hits are never lost: real tagwire processes, real signals, a real outage.

Each test runs `tagwire serve` as a child process against the fake platforms (in this
process, on a thread) and counts, by event id, what `/collect` acknowledged against what
the fake Meta Conversions API accepted:
  - SIGKILL under load, then a restart: every acknowledged hit arrives;
  - SIGTERM: the node stops within its grace period and the restart sends the rest;
  - a platform outage (503s, then timeouts) while hits keep coming: all arrive, once each.
Delivery is at least once: a batch the platform accepted just before a SIGKILL, but whose
outcome was not recorded yet, is sent again after the restart, with the same event ids,
which is what the platforms deduplicate on. The tests report such repeats and require
them to carry an acknowledged id; the outage test, which kills nothing, requires none.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from demo import demo_document, demo_secrets
from fake_platforms import serve
from tests.helpers import LOOPBACK_EGRESS, free_port

pytestmark = pytest.mark.e2e


def container_document() -> dict[str, Any]:
    """Container `shop` with the demo's Meta tag only, firing on every lead."""
    doc = demo_document("http://127.0.0.1:9/unused")
    doc["container"]["id"] = "shop"
    doc["triggers"] = [{"id": "leads", "name": "Leads", "events": ["lead"]}]
    [meta] = [t for t in doc["tags"] if t["template"] == "meta"]
    meta["firing_triggers"] = ["leads"]
    meta["fire_once"] = "event_id"
    doc["tags"] = [meta]
    return doc


def lead(event_id: str) -> dict[str, Any]:
    return {
        "v": 1, "event": "lead", "event_id": event_id,
        "page": {"url": "https://shop.example/thanks"},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                    "ad_user_data": "granted", "ad_personalization": "denied"},
        "data": {"value": 10, "currency": "EUR"},
    }  # fmt: skip


class Node:
    """One `tagwire serve` child process; start and stop it as the test needs."""

    def __init__(self, workdir: Path, fakes_base_urls: dict[str, str], **env: str) -> None:
        (workdir / "shop.json").write_text(json.dumps(container_document()))
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TAGWIRE_LOG_LEVEL": "warning",
            "TAGWIRE_DATA_DIR": str(workdir / "data"),
            **{f"TAGWIRE_{k.upper()}": v for k, v in fakes_base_urls.items()},
            **LOOPBACK_EGRESS,  # the fakes run on 127.0.0.1
            **{f"TAGWIRE_SECRET_{k.upper()}": v for k, v in demo_secrets().items()},
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "node.log"

    def start(self) -> None:
        shop = str(self.workdir / "shop.json")
        args = [sys.executable, "-m", "tagwire", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--container", shop]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"tagwire exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("tagwire did not become ready in 20 s")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def states(self) -> dict[str, int]:
        with sqlite3.connect(self.workdir / "data" / "tagwire.db") as db:
            return dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))


@contextmanager
def fakes_and_node(tmp_path: Path, **env: str) -> Iterator[tuple[Any, Node]]:
    with serve() as fakes:
        node = Node(tmp_path, fakes.base_urls, **env)
        try:
            yield fakes, node
        finally:
            node.stop()


async def _send(base: str, ids: list[str], acked: list[str], concurrency: int) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for event_id in ids:
        queue.put_nowait(event_id)
    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            while not queue.empty():
                event_id = queue.get_nowait()
                try:
                    response = await client.post(
                        f"{base}/collect?id=shop",
                        content=orjson.dumps(lead(event_id)),
                        headers={"content-type": "text/plain"},
                    )
                except httpx.TransportError:
                    continue  # the node died under this request: not acknowledged
                if response.status_code in (200, 204):
                    acked.append(event_id)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def send(base: str, ids: list[str], concurrency: int = 16) -> list[str]:
    """POST one lead per id; the ids the node acknowledged with 2xx."""
    acked: list[str] = []
    asyncio.run(_send(base, ids, acked, concurrency))
    return acked


def delivered(fakes: Any) -> Counter[str]:
    return Counter(e["event_id"] for e in fakes.platforms.events("meta", view="live"))


def wait_delivered(fakes: Any, wanted: set[str], timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        got = delivered(fakes)
        if wanted <= set(got):
            return got
        if time.monotonic() > deadline:
            missing = sorted(wanted - set(got))
            pytest.fail(f"{len(missing)} acknowledged events not delivered: {missing[:10]}")
        time.sleep(0.2)


def wait_settled(node: Node, expected: dict[str, int], timeout: float) -> None:
    """The fake records a request before the node has read its answer and marked the rows
    sent, so the outbox is compared once the node has caught up (or the wait runs out)."""
    deadline = time.monotonic() + timeout
    while (states := node.states()) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"outbox states {states}, expected {expected}")
        time.sleep(0.1)


def cli(node: Node, *args: str) -> Any:
    """Runs a `tagwire` command against the node's database; its JSON output."""
    done = subprocess.run(
        [sys.executable, "-m", "tagwire", *args],
        env=node.env, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_sigkill_under_load_loses_no_acknowledged_hit(tmp_path: Path) -> None:
    with fakes_and_node(tmp_path) as (fakes, node):
        node.start()
        acked: list[str] = []
        ids = [f"kill-{i:05d}" for i in range(3000)]

        async def load_then_kill() -> None:
            sender = asyncio.create_task(_send(node.base, ids, acked, 16))
            while len(acked) < 300:  # kill mid-load, with requests and sends in flight
                await asyncio.sleep(0.005)
            node.signal(signal.SIGKILL)
            await sender

        asyncio.run(load_then_kill())
        assert node.wait(10) == -signal.SIGKILL
        assert 300 <= len(acked) < len(ids), len(acked)

        node.start()
        got = wait_delivered(fakes, set(acked), timeout=60)
        lost = set(acked) - set(got)
        assert lost == set()
        repeats = {event_id: n for event_id, n in got.items() if n > 1}
        unknown = set(got) - set(ids)
        assert unknown == set()
        print(f"acknowledged {len(acked)}, delivered {len(got)}, sent again after the kill "
              f"{len(repeats)}")  # fmt: skip


def test_sigterm_stops_within_grace_and_the_restart_sends_the_rest(tmp_path: Path) -> None:
    grace = 3.0
    with fakes_and_node(tmp_path, TAGWIRE_SHUTDOWN_GRACE_S=str(grace)) as (fakes, node):
        # Meta answers slowly for a while, so sends are in flight when SIGTERM comes.
        fakes.platforms.fail_next("meta", "timeout", count=5, hold_seconds=30)
        node.start()
        acked = send(node.base, [f"term-{i:04d}" for i in range(400)])
        assert len(acked) == 400
        started = time.monotonic()
        node.signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM after its clean shutdown: the exit is -15, not 0
        assert node.wait(grace + 10) in (0, -signal.SIGTERM)
        stopped_in = time.monotonic() - started
        assert sum(node.states().values()) == 400, "every acknowledged hit is in the outbox"
        fakes.platforms.release()  # the held requests end (with a server error)

        node.start()
        got = wait_delivered(fakes, set(acked), timeout=60)
        assert set(got) == set(acked)
        assert max(got.values()) == 1, "nothing reached Meta twice"
        wait_settled(node, {"sent": len(acked)}, timeout=30)
        print(f"SIGTERM to exit: {stopped_in:.1f} s (grace {grace} s)")


def test_a_platform_outage_is_caught_up_with_every_event_once(tmp_path: Path) -> None:
    with fakes_and_node(tmp_path, TAGWIRE_SEND_TIMEOUT="1") as (fakes, node):
        fakes.platforms.fail_next("meta", "server_error", count=1_000_000)
        node.start()
        acked: list[str] = []
        started = time.monotonic()
        batch = 0
        while time.monotonic() - started < 15:  # 15 s of 503s
            acked += send(node.base, [f"out-{batch:03d}-{i:02d}" for i in range(20)], 4)
            batch += 1
            time.sleep(0.5)
        fakes.platforms.reset()
        fakes.platforms.fail_next("meta", "timeout", count=1_000_000, hold_seconds=5)
        while time.monotonic() - started < 30:  # then 15 s of timeouts
            acked += send(node.base, [f"out-{batch:03d}-{i:02d}" for i in range(20)], 4)
            batch += 1
            time.sleep(0.5)
        assert delivered(fakes) == Counter(), "nothing got through the outage"
        fakes.platforms.reset()  # the platform is back
        recovered = time.monotonic()
        got = wait_delivered(fakes, set(acked), timeout=120)
        caught_up_in = time.monotonic() - recovered
        assert set(got) == set(acked)
        assert max(got.values()) == 1, "nothing reached Meta twice"
        print(f"{len(acked)} events, outage 30 s, caught up {caught_up_in:.1f} s after recovery")

        # What an operator sees: the outbox drained to zero, and each send in the history.
        [meta] = cli(node, "outbox", "status", "--json")["tags"]
        assert meta["states"]["sent"] == meta["total"] == len(acked)
        history = cli(node, "history", "--format", "json", "--limit", "100000")
        outcomes = Counter(entry["outcome"] for entry in history)
        assert outcomes["sent"] == len(acked), outcomes
        assert outcomes["failed"] > 0, outcomes
        failed = {e["status"] for e in history if e["outcome"] == "failed"}
        assert all(status is None or status >= 500 for status in failed), failed
