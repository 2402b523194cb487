"""What preview costs hits that carry no preview cookie: `/collect` on a node with preview
on (an active session in its store, the session poll and trace writer running) against
the same node with preview off by its setting, side by side in one run, with a bare
Starlette endpoint for scale.

Both nodes serve the durable-ack container of bench/collect.py (one webhook tag, its row
committed before the answer), sender off, and get the same hit from the same wrk script,
in alternating rounds so the drift of this shared machine hits them alike. The difference
is reported next to the spread between rounds of each node, which is the noise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from collect import DURABLE_CONTAINER, free_port, start, start_bare, stop, wrk
from timing import machine

from config.sqlite_store import SQLiteStore
from config.storage import PreviewSession

ON, OFF, BARE = "preview on", "preview off", "bare starlette"


async def _session(db: Path) -> None:
    """An active preview session of the container, so the node follows one."""
    store = SQLiteStore(db)
    await store.open()
    now = int(time.time() * 1000)
    try:
        await store.create_preview(PreviewSession(
            "bench-session-000000000", "ack", "workspace", json.dumps(DURABLE_CONTAINER).encode(),
            1, "dry_run", None, "bench", now, now + 3_600_000,
        ))  # fmt: skip
    finally:
        await store.close()


def _spread(values: list[float]) -> float:
    """Max minus min over the median, in percent: how much rounds of one node differ."""
    return 100 * (max(values) - min(values)) / statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="duration of each measured run")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per node")
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    python = sys.executable
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    node_env = {**env, "TAGWIRE_SENDER": "off", "TAGWIRE_LOG_LEVEL": "warning"}
    servers = []
    load = [os.getloadavg()[0]]
    with contextlib.ExitStack() as folders:
        data = {name: Path(folders.enter_context(tempfile.TemporaryDirectory()))
                for name in (ON, OFF)}  # fmt: skip
        try:
            bare, bare_url = start_bare(python, env)
            servers.append(bare)
            targets = [(BARE, bare_url)]
            for name, folder in data.items():
                (folder / "ack.json").write_text(json.dumps(DURABLE_CONTAINER))
                if name == ON:
                    asyncio.run(_session(folder / "tagwire.db"))
                port = free_port()
                servers.append(start(
                    [python, "-m", "tagwire", "serve", "--container", str(folder / "ack.json"),
                     "--host", "127.0.0.1", "--port", str(port)],
                    {**node_env, "TAGWIRE_DATA_DIR": str(folder),
                     "TAGWIRE_PREVIEW": "on" if name == ON else "off"},
                    f"http://127.0.0.1:{port}/readyz",
                ))  # fmt: skip
                targets.append((name, f"http://127.0.0.1:{port}/collect?id=ack"))
            for _, url in targets:
                wrk(url, 50, 3)  # warm-up
            runs: dict[tuple[str, int], list[float]] = {}
            for _ in range(args.rounds):
                for connections in args.connections:
                    for name, url in targets:
                        result = wrk(url, connections, args.seconds)
                        runs.setdefault((name, connections), []).append(result["rps"])
        finally:
            for process in servers:
                stop(process)
    load.append(os.getloadavg()[0])
    print(f"{machine()}; wrk shares the cores; load average {load[0]:.2f} at the start, "
          f"{load[1]:.2f} at the end. {args.rounds} alternating rounds of {args.seconds} s:")
    print(f"{'node':<15} {'conns':>5} {'req/s median':>13} {'rounds spread':>14}")
    for (name, connections), values in sorted(runs.items(), key=lambda kv: kv[0][1]):
        print(f"{name:<15} {connections:>5} {statistics.median(values):>13.0f} "
              f"{_spread(values):>13.1f}%")  # fmt: skip
    for connections in args.connections:
        on, off = runs[(ON, connections)], runs[(OFF, connections)]
        pairs = [100 * (a - b) / b for a, b in zip(on, off, strict=True)]
        rounds = ", ".join(f"{p:+.1f}%" for p in pairs)
        print(f"c={connections}: preview on vs off, per round: {rounds}; median "
              f"{statistics.median(pairs):+.1f}% (spread of the rounds: on {_spread(on):.1f}%, "
              f"off {_spread(off):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
