"""`tagwire serve --workers 2` on SQLite and on PostgreSQL: hits to both workers, one
worker killed with SIGKILL under load. The supervisor starts it again, every acknowledged
hit reaches the receiver, and those sent twice are no more than one worker's sends in
flight. `/metrics` sums the workers' counters, the killed one's included."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import LOOPBACK_EGRESS, free_port, serve_in_thread
from tests.tagwire.test_nodes_on_postgres import (
    SENDER_CONCURRENCY,
    database_url,
    document,
    receiver,
    send_lead,
)

pytestmark = pytest.mark.e2e

__all__ = ["database_url"]  # a fixture, used by name

HITS = 240
KILL_AT = 80


def worker_pids(log: Path) -> list[int]:
    """The pids the supervisor has started, in order."""
    return [
        json.loads(line)["pid"]
        for line in log.read_text().splitlines()
        if '"msg":"worker started"' in line
    ]


def started(log: Path) -> int:
    """How many workers finished starting (their lifespans ran)."""
    return log.read_text().count('"msg":"Application startup complete."')


def hits_counted(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(r'^tagwire_hits_total\{container="shop".*\} (\S+)$',
                                             text, re.M))  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(request, tmp_path) -> dict[str, str]:
    env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data")}
    if request.param == "postgres":
        env["TAGWIRE_DATABASE_URL"] = request.getfixturevalue("database_url")
    return env


def test_a_killed_worker_is_replaced_and_loses_no_acknowledged_hit(
    tmp_path, backend_env, capsys
):
    app, received = receiver()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "node.log"
    with serve_in_thread(app) as receiver_base:
        doc = tmp_path / "shop.json"
        doc.write_text(json.dumps(document(f"{receiver_base}/in")))
        env = {**os.environ, **LOOPBACK_EGRESS, **backend_env,
               "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on", "TAGWIRE_LOG_LEVEL": "info",
               "TAGWIRE_SPIKE_MIN_EVENTS": "1000000"}  # a test burst, not a bot spike  # fmt: skip
        with log.open("ab") as out:
            node = subprocess.Popen(
                [sys.executable, "-m", "tagwire", "serve", "--workers", "2",
                 "--container", str(doc), "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=out,
            )  # fmt: skip
        acknowledged: list[str] = []
        refused = 0
        try:
            wait_ready(node, base, log)
            assert len(worker_pids(log)) == 2
            # a new connection per hit, so that both workers take hits
            limits = httpx.Limits(max_keepalive_connections=0)
            with httpx.Client(timeout=5, limits=limits) as client:
                for index in range(HITS):
                    if index == KILL_AT:
                        assert hits_counted(base) == KILL_AT  # both workers' counts, summed
                        os.kill(worker_pids(log)[0], signal.SIGKILL)
                    # a try the killed worker had taken is tried again
                    event_id, failed = send_lead(client, [base] * 20, index)
                    refused += failed
                    if event_id is not None:
                        acknowledged.append(event_id)
            deadline = time.monotonic() + 60  # the orphan sweep runs every 15 s
            # every hit delivered, and the new worker started (not only spawned: SIGTERM
            # before it sets its handlers would end it on the spot)
            while (set(acknowledged) - set(received) or started(log) < 3) and (
                time.monotonic() < deadline
            ):
                time.sleep(0.2)
            pids = worker_pids(log)
            counted = hits_counted(base)
        finally:
            node.send_signal(signal.SIGTERM)
            code = node.wait(60)
    missing = set(acknowledged) - set(received)
    twice = sum(count - 1 for count in received.values())
    with capsys.disabled():
        print(f"\n{len(acknowledged)} of {HITS} hits acknowledged ({refused} tries refused), "
              f"{len(received)} delivered, {len(missing)} missing, {twice} sent twice")  # fmt: skip
    assert code == 0, log.read_text()[-3000:]
    assert len(pids) == 3, "the killed worker was not started again"
    assert "worker died: starting it again" in log.read_text()
    assert len(acknowledged) == HITS
    assert counted >= HITS  # the killed worker's counts stay in the sum
    assert not missing, f"acknowledged but never delivered: {sorted(missing)[:5]}"
    assert twice <= SENDER_CONCURRENCY, "more sent twice than one worker can have in flight"
    nodes = tmp_path / "data" / "tagwire.db-nodes"
    assert not nodes.exists(), (sorted(os.listdir(nodes)), pids)  # every worker let go


def wait_ready(node: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert node.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "node not ready in 60 s"
        time.sleep(0.1)
