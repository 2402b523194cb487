"""Nodes on SQLite and on PostgreSQL, with one worker and with two, side by side in one run:
`/collect` throughput with the demo pipeline as ratios to a bare Starlette endpoint, p99
at half load, and delivery throughput to a loopback receiver.

Collect: every node serves the demo container (six Lua templates, six outbox rows per
lead) from a file with the sender off, and gets the same hit from the same wrk script in
alternating rounds, with the bare endpoint in each round. PostgreSQL runs on this machine
(127.0.0.1:5432), in a schema of this run's own, dropped afterwards.

Half load: wrk has no fixed rate, so the open-loop generator of `bench/sustained.py` offers
half the node's measured rate (hit i due at start + i / rate, over 20 connections) and
times each answer from when its hit was due, so a node that falls behind is not hidden.

Delivery: `--delivery-rows` webhook rows are queued into a fresh store, then a node with
its sender on (one worker, then two) sends them to a receiver process on loopback that
answers `200 ok`; the rate is rows over the time from the first `sent_at` to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from collect import HERE, free_port, start, start_bare, stop, wrk
from delivery import HEADERS, Receiver, webhook_rows
from psycopg import sql
from sustained import OpenLoad, percentile
from timing import machine

from config.postgres_store import PostgresStore
from config.sqlite_store import SQLiteStore
from config.storage import Store
from demo import demo_document, demo_secrets

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BARE = "bare starlette"
# (name, backend, workers)
NODES = [("SQLite, 1 worker", "sqlite", 1), ("PostgreSQL, 1 worker", "postgres", 1),
         ("PostgreSQL, 2 workers", "postgres", 2), ("SQLite, 2 workers", "sqlite", 2)]  # fmt: skip
HALF_LOAD_CONNECTIONS = 20


def half_load(port: int, rate: float, seconds: int) -> dict:
    """`rate` demo leads per second, open loop; latencies in ms from each hit's due time."""
    hit = json.loads((HERE / "hit.json").read_text())
    hit["ts"] = int(time.time() * 1000)
    template = json.dumps(hit, separators=(",", ":")).encode()
    load = OpenLoad(port, template, f"h{port}", rate, seconds, HALF_LOAD_CONNECTIONS, "demo")
    asyncio.run(load.run())
    acked = load.acked()
    waits = [(load.done[i] - load.due[i]) / 1e6 for i in acked]
    reached = len(acked) / ((max(load.done) - load.due[0]) / 1e9) if acked else 0.0
    return {"target": rate, "reached": reached, "p50": percentile(waits, 0.5),
            "p99": percentile(waits, 0.99), "failed": load.total - len(acked)}  # fmt: skip


@contextlib.contextmanager
def schemas() -> Iterator[list[str]]:
    """Schemas made on demand (append a name), all dropped at the end."""
    made: list[str] = []
    try:
        yield made
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for name in made:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(name)))  # fmt: skip


def backend_env(backend: str, folder: Path, made: list[str]) -> dict[str, str]:
    env = {"TAGWIRE_DATA_DIR": str(folder)}
    if backend == "postgres":
        schema = f"tw_bench_{secrets.token_hex(4)}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        made.append(schema)
        env["TAGWIRE_DATABASE_URL"] = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    return env


def node_command(doc: Path, workers: int, port: int) -> list[str]:
    return [sys.executable, "-m", "tagwire", "serve", "--container", str(doc), "--workers",
            str(workers), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip


def collect_runs(args: argparse.Namespace, env: dict[str, str], folder: Path,
                 made: list[str]) -> tuple[dict[str, list[dict]], dict[str, dict]]:  # fmt: skip
    """Alternating rounds at full load, then one paced run per node at half its rate."""
    doc = folder / "demo.json"
    doc.write_text(json.dumps(demo_document("https://hooks.example.com/demo")))
    tokens = {f"TAGWIRE_SECRET_{name.upper()}": v for name, v in demo_secrets().items()}
    node_env = {**env, **tokens, "TAGWIRE_SENDER": "off", "TAGWIRE_LOG_LEVEL": "warning",
                "TAGWIRE_SPIKE_MIN_EVENTS": "1000000"}  # fmt: skip
    servers = []
    try:
        bare, bare_url = start_bare(sys.executable, env)
        servers.append(bare)
        targets = [(BARE, bare_url)]
        for name, backend, workers in NODES:
            data = folder / name.replace(",", "").replace(" ", "-")
            port = free_port()
            servers.append(start(node_command(doc, workers, port),
                                 {**node_env, **backend_env(backend, data, made)},
                                 f"http://127.0.0.1:{port}/readyz"))  # fmt: skip
            targets.append((name, f"http://127.0.0.1:{port}/collect?id=demo"))
        for _, url in targets:
            wrk(url, args.connections, 3)  # warm-up
        runs: dict[str, list[dict]] = {}
        for _ in range(args.rounds):
            for name, url in targets:
                runs.setdefault(name, []).append(wrk(url, args.connections, args.seconds))
        half: dict[str, dict] = {}
        for name, url in targets[1:]:
            rate = statistics.median(r["rps"] for r in runs[name]) / 2
            half[name] = half_load(int(url.split(":")[2].split("/")[0]), rate, args.seconds)
    finally:
        for process in servers:
            stop(process)
    return runs, half


async def queue_rows(store: Store, url: str, count: int) -> None:
    await store.open()
    try:
        rows = webhook_rows(url, HEADERS)
        now_s = int(time.time())
        for first in range(0, count, 1000):
            await store.enqueue(rows(min(1000, count - first), first, now_s),
                                int(time.time() * 1000))  # fmt: skip
    finally:
        await store.close()


def store_for(env: dict[str, str], folder: Path) -> Store:
    if "TAGWIRE_DATABASE_URL" in env:
        return PostgresStore(env["TAGWIRE_DATABASE_URL"])
    return SQLiteStore(folder / "tagwire.db")


def span_ms(env: dict[str, str], folder: Path) -> tuple[int, int]:
    """(rows sent, ms from the first sent_at to the last), read beside the store."""
    query = "SELECT COUNT(*), MAX(sent_at) - MIN(sent_at) FROM outbox WHERE state = 'sent'"
    if "TAGWIRE_DATABASE_URL" in env:
        with psycopg.connect(env["TAGWIRE_DATABASE_URL"]) as conn:
            row = conn.execute(query).fetchone()
    else:
        conn = sqlite3.connect(folder / "tagwire.db")
        try:
            row = conn.execute(query).fetchone()
        finally:
            conn.close()
    assert row is not None
    return int(row[0]), int(row[1] or 0)


def delivery_run(args: argparse.Namespace, env: dict[str, str], folder: Path, made: list[str],
                 backend: str, workers: int, receiver: Receiver) -> dict:  # fmt: skip
    data = folder / f"delivery-{backend}-{workers}"
    extra = backend_env(backend, data, made)
    asyncio.run(queue_rows(store_for(extra, data), receiver.url, args.delivery_rows))
    doc = folder / "hook.json"
    doc.write_text(json.dumps({
        "container": {"id": "bench", "name": "Bench"},
        "triggers": [{"id": "leads", "name": "Leads", "events": ["lead"]}],
        "tags": [{"id": "hook", "name": "Webhook", "template": "webhook",
                  "params": {"url": receiver.url}, "firing_triggers": ["leads"]}],
    }))  # fmt: skip
    port = free_port()
    node_env = {**env, **extra, "TAGWIRE_LOG_LEVEL": "warning", "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on",
                "TAGWIRE_EGRESS_ALLOW": "127.0.0.1"}  # fmt: skip
    node = start(node_command(doc, workers, port), node_env, f"http://127.0.0.1:{port}/readyz")
    try:
        deadline = time.monotonic() + 600
        while span_ms(extra, data)[0] < args.delivery_rows:
            if time.monotonic() > deadline:
                raise SystemExit(f"{backend} x{workers}: not all rows sent in 600 s")
            time.sleep(0.2)
    finally:
        stop(node)
    sent, ms = span_ms(extra, data)
    return {"rows": sent, "seconds": ms / 1000, "rate": sent / (ms / 1000) if ms else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--delivery-rows", type=int, default=20_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    load = [os.getloadavg()[0]]
    with schemas() as made, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs, half = collect_runs(args, env, folder, made)
        load.append(os.getloadavg()[0])
        receiver = Receiver(folder)
        try:
            delivered = {
                (backend, workers): delivery_run(
                    args, env, folder, made, backend, workers, receiver
                )
                for backend in ("sqlite", "postgres")
                for workers in (1, 2)
            }
        finally:
            receiver.stop()
    load.append(os.getloadavg()[0])
    print(f"{machine()}; wrk, the servers and PostgreSQL share the cores; load average "
          f"{load[0]:.2f} at the start, {load[1]:.2f} after /collect, {load[2]:.2f} at the end")
    print(f"/collect, demo pipeline, sender off: {args.rounds} alternating rounds of "
          f"{args.seconds} s at c={args.connections}")  # fmt: skip
    bare = runs[BARE]
    for name, results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        p99 = statistics.median(r["p99_us"] for r in results) / 1000
        line = f"  {name:<22} {rps:>8.0f} req/s  p99 {p99:7.2f} ms"
        if name != BARE:
            ratios = [t["rps"] / b["rps"] for t, b in zip(results, bare, strict=True)]
            line += (f"  ratio to bare {statistics.median(ratios):.3f} "
                     f"(rounds {', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip
        print(line)
    print(f"half load: half the node's full-load rate, open loop over {HALF_LOAD_CONNECTIONS} "
          f"connections, {args.seconds} s, latency from each hit's due time")  # fmt: skip
    for name, result in half.items():
        print(f"  {name:<22} offered {result['target']:6.0f} hits/s, answered "
              f"{result['reached']:6.0f}/s, p50 {result['p50']:7.2f} ms, p99 {result['p99']:7.2f}"
              f" ms, failed {result['failed']}")  # fmt: skip
    print(f"delivery: {args.delivery_rows} webhook rows queued, then sent by the node's sender "
          f"(concurrency 8 per worker) to a loopback receiver")  # fmt: skip
    for (backend, workers), result in delivered.items():
        print(f"  {backend:<10} {workers} worker{'s' if workers > 1 else ' '} "
              f"{result['rate']:8.0f} rows/s ({result['rows']} rows in {result['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
