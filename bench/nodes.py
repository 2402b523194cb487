"""`/collect` with the demo pipeline on a node over SQLite and on a node over PostgreSQL,
side by side in one run with a bare Starlette endpoint, as ratios to it, and each node's
p99 under a lighter load (a quarter of the connections; wrk has no fixed rate, so this
is a closed loop that still runs near the node's full rate, not the issue's half load).

Both nodes run `tagwire serve --demo` (six Lua templates and six outbox rows per lead),
sender off, on the same machine as PostgreSQL (127.0.0.1:5432, a schema of this run's
own, dropped afterwards), and get the same hit from the same wrk script in alternating
rounds. Several worker processes per node (`--workers`) are not built yet, so the
issue's third node is not measured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import psycopg
from collect import free_port, start, start_bare, stop, wrk
from psycopg import sql
from timing import machine

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BARE, SQLITE, POSTGRES = "bare starlette", "demo on SQLite", "demo on PostgreSQL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    schema = f"tw_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    python = sys.executable
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    node_env = {**env, "TAGWIRE_SENDER": "off", "TAGWIRE_LOG_LEVEL": "warning",
                "TAGWIRE_SPIKE_MIN_EVENTS": "1000000"}  # fmt: skip
    load = [os.getloadavg()[0]]
    servers = []
    try:
        with contextlib.ExitStack() as folders:
            data = {name: Path(folders.enter_context(tempfile.TemporaryDirectory()))
                    for name in (SQLITE, POSTGRES)}  # fmt: skip
            bare, bare_url = start_bare(python, env)
            servers.append(bare)
            targets = [(BARE, bare_url)]
            for name, folder in data.items():
                extra = {"TAGWIRE_DATA_DIR": str(folder)}
                if name == POSTGRES:
                    extra["TAGWIRE_DATABASE_URL"] = (
                        f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
                    )
                port = free_port()
                servers.append(start(
                    [python, "-m", "tagwire", "serve", "--demo", "--host", "127.0.0.1",
                     "--port", str(port)],
                    {**node_env, **extra}, f"http://127.0.0.1:{port}/readyz",
                ))  # fmt: skip
                targets.append((name, f"http://127.0.0.1:{port}/collect?id=demo"))
            for _, url in targets:
                wrk(url, args.connections, 3)  # warm-up
            runs: dict[str, list[dict]] = {}
            for _ in range(args.rounds):
                for name, url in targets:
                    runs.setdefault(name, []).append(wrk(url, args.connections, args.seconds))
            half: dict[str, dict] = {}
            for name, url in targets[1:]:
                # a lighter load: a quarter of the connections (closed loop)
                half[name] = wrk(url, max(1, args.connections // 4), args.seconds)
    finally:
        for process in servers:
            stop(process)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    load.append(os.getloadavg()[0])
    print(f"{machine()}; wrk shares the cores with the servers and PostgreSQL; load average "
          f"{load[0]:.2f} at the start, {load[1]:.2f} at the end; {args.rounds} alternating "
          f"rounds of {args.seconds} s at c={args.connections}:")  # fmt: skip
    bare = runs[BARE]
    for name, results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        p99 = statistics.median(r["p99_us"] for r in results) / 1000
        line = f"  {name:<20} {rps:>8.0f} req/s  p99 {p99:6.2f} ms"
        if name != BARE:
            ratios = [t["rps"] / b["rps"] for t, b in zip(results, bare, strict=True)]
            line += (f"  ratio to bare {statistics.median(ratios):.3f} "
                     f"(rounds {', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip
        print(line)
    for name, result in half.items():
        print(f"  {name:<20} at c={max(1, args.connections // 4)}: {result['rps']:.0f} req/s "
              f"({100 * result['rps'] / statistics.median(r['rps'] for r in runs[name]):.0f} % "
              f"of its full-load rate), p99 {result['p99_us'] / 1000:.2f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
