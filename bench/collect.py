"""Benchmark `/collect` against a bare Starlette endpoint, side by side in one run.

All servers run the same way (uvicorn, 1 worker, uvloop + httptools, no access log) and
get the same ~1 KB hit (fresh event_id per request) from the same wrk script, with the
sender off. Four tagwire nodes run:
  - "durable ack": a container with one webhook tag, so each request is validated, goes
    through the guards, one trigger and one Lua tag, and its outbox row is committed to
    SQLite (group commit) before the answer: the cost of acknowledging durably;
  - "demo pipeline": the demo container (five platform tags and a webhook, six Lua
    templates per lead), the whole pipeline a real site would run;
  - two floors for the durable ack, to show where its time goes: "no tag fires" (the same
    container, its trigger waiting for an event the hit never has: validation, guards,
    triggers, no Lua, no row) and "no-op tag" (the tag fires a template that does nothing:
    the fixed cost of running one Lua tag, without a request body or a row).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent


DURABLE = "durable ack"
DEMO = "demo pipeline"
NO_TAG = "no tag fires"
NOOP_TAG = "no-op tag"
# One webhook tag on leads: each hit queues one request, committed before the answer.
DURABLE_CONTAINER = {
    "container": {"id": "ack", "name": "durable acknowledgement", "domain": "www.example.com"},
    "variables": [],
    "triggers": [{"id": "leads", "name": "Leads", "events": ["lead"]}],
    "tags": [{"id": "hook", "name": "Webhook", "template": "webhook",
              "params": {"url": "https://hooks.example.com/tagwire"},
              "firing_triggers": ["leads"]}],
}  # fmt: skip


def _floor(name: str) -> dict:
    """The durable-ack container with its tag taken away (NO_TAG) or made free (NOOP_TAG)."""
    doc = json.loads(json.dumps(DURABLE_CONTAINER))
    if name == NO_TAG:
        doc["triggers"][0]["events"] = ["never_sent"]
        return doc
    doc["templates"] = [{
        "id": "noop", "version": "1.0.0", "description": "Does nothing: the fixed cost of a tag.",
        "params": {"url": {"type": "string", "format": "url", "required": True}},
        "permissions": {"send_http": [{"url": "param:url", "methods": ["POST"]}]},
        "lua": "return",
    }]  # fmt: skip
    doc["tags"][0]["template"] = "noop"
    return doc


def _rows(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "tagwire.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers: a 405 for GET is fine
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready in {timeout} s")


def wrk(url: str, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(HERE / "collect.lua"),
            url,
            "--",
            str(HERE / "hit.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def start(cmd: list[str], env: dict, ready_url: str) -> subprocess.Popen:
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_ready(ready_url, process)
    return process


def start_bare(python: str, env: dict) -> tuple[subprocess.Popen, str]:
    """The bare Starlette endpoint every HTTP benchmark compares with, run like the nodes
    (uvicorn, 1 worker, uvloop + httptools, no access log); (process, its /collect URL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/collect"
    process = start(
        [python, "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE), "--host",
         "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
         "--no-access-log", "--log-level", "warning"],
        env,
        url,
    )  # fmt: skip
    return process, url


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
    process.stderr.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="duration of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per setting")
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    python = sys.executable
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    node_env = {**env, "TAGWIRE_SENDER": "off", "TAGWIRE_LOG_LEVEL": "warning"}
    servers = []
    with contextlib.ExitStack() as folders:
        data = {name: Path(folders.enter_context(tempfile.TemporaryDirectory()))
                for name in (DEMO, DURABLE, NO_TAG, NOOP_TAG)}  # fmt: skip
        try:
            bare, bare_url = start_bare(python, env)
            servers.append(bare)
            targets = [("bare starlette", bare_url)]
            for name in data:
                port = free_port()
                if name == DEMO:
                    source, container_id = ["--demo"], "demo"
                else:
                    doc = DURABLE_CONTAINER if name == DURABLE else _floor(name)
                    (data[name] / "ack.json").write_text(json.dumps(doc))
                    source, container_id = ["--container", str(data[name] / "ack.json")], "ack"
                servers.append(
                    start(
                        [python, "-m", "tagwire", "serve", *source, "--host", "127.0.0.1",
                         "--port", str(port)],
                        {**node_env, "TAGWIRE_DATA_DIR": str(data[name])},
                        f"http://127.0.0.1:{port}/readyz",
                    )
                )  # fmt: skip
                targets.append((name, f"http://127.0.0.1:{port}/collect?id={container_id}"))
            for _, url in targets:
                wrk(url, 50, 3)  # warm-up
            # Alternate the servers so drift in this shared machine hits them alike.
            runs: dict[tuple[str, int], list[dict]] = {}
            for _ in range(args.rounds):
                for connections in args.connections:
                    for name, url in targets:
                        runs.setdefault((name, connections), []).append(
                            wrk(url, connections, args.seconds)
                        )
        finally:
            for process in servers:
                stop(process)
        committed = {name: _rows(data[name]) for name in (DURABLE, DEMO)}
    if min(committed.values()) == 0:
        raise SystemExit("a tagwire node committed no outbox row: the benchmark hit fired no tag")

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; wrk shares the cores; these figures are this "
        f"machine's only. {args.rounds} alternating rounds of {args.seconds} s, medians:"
    )
    print(
        f"outbox rows committed: {committed[DURABLE]} by the durable-ack node (one per hit), "
        f"{committed[DEMO]} by the demo node (six per hit); each wrk run starts its event "
        "and lead ids again, so repeats across runs are dropped by fire-once"
    )
    print(f"{'server':<18} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for (name, connections), results in sorted(runs.items(), key=lambda kv: kv[0][1]):
        rps = statistics.median(r["rps"] for r in results)
        p50 = statistics.median(r["p50_us"] for r in results) / 1000
        p99 = statistics.median(r["p99_us"] for r in results) / 1000
        errors = sum(r["errors"] for r in results)
        print(f"{name:<18} {connections:>5} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {errors:>7}")
    # the targets of issue W2.3 (the W1 stage had asked 0.50 and 0.60); the floors have none
    for name, target in ((DURABLE, 0.35), (DEMO, 0.15), (NO_TAG, None), (NOOP_TAG, None)):
        for connections in args.connections:
            ratios = [
                t["rps"] / b["rps"]
                for b, t in zip(
                    runs[("bare starlette", connections)], runs[(name, connections)], strict=True
                )
            ]
            goal = f"; target >= {target:.2f}" if target else ""
            print(
                f"{name}, c={connections}: tagwire/bare throughput ratio, median of rounds "
                f"{statistics.median(ratios):.2f} (rounds: "
                f"{', '.join(f'{r:.2f}' for r in ratios)}{goal})"
            )
    for connections in args.connections:
        per_request = {name: 1e6 / statistics.median(r["rps"] for r in runs[(name, connections)])
                       for name in (NO_TAG, NOOP_TAG, DURABLE)}  # fmt: skip
        print(
            f"c={connections}, µs per request of the node's throughput: {per_request[NO_TAG]:.0f} "
            f"with no tag, +{per_request[NOOP_TAG] - per_request[NO_TAG]:.0f} for running one "
            f"no-op Lua tag, +{per_request[DURABLE] - per_request[NOOP_TAG]:.0f} for the "
            "webhook template's work, its row and the durable commit"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
