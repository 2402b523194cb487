"""Benchmark `/collect` against a bare Starlette endpoint, side by side in one run.

Both servers run the same way (uvicorn, 1 worker, uvloop + httptools, no access log) and
get the same ~1 KB hit (fresh event_id per request) from the same wrk script. tagwire runs
the demo container with the sender off, so each request is validated, run through the
trigger and tag, and committed to SQLite (group commit) before its 204.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent


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
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return  # it answers: a 405 for GET is fine
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready in {timeout} s")


def wrk(url: str, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "collect.lua"),
         url, "--", str(HERE / "hit.json")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run_server(name: str, cmd: list[str], env: dict, ready_url: str, url: str, args) -> list[dict]:
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(ready_url, process)
        wrk(url, 50, args.warmup)
        results = []
        for connections in args.connections:
            result = wrk(url, connections, args.seconds)
            result.update(name=name, connections=connections)
            results.append(result)
        return results
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stderr.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per server")
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    python = sys.executable
    bare_port, tw_port = free_port(), free_port()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    bare = run_server(
        "bare starlette",
        [python, "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE), "--host", "127.0.0.1",
         "--port", str(bare_port), "--loop", "uvloop", "--http", "httptools",
         "--no-access-log", "--log-level", "warning"],
        env, f"http://127.0.0.1:{bare_port}/collect", f"http://127.0.0.1:{bare_port}/collect", args,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as data_dir:
        tw_env = {**env, "TAGWIRE_DATA_DIR": data_dir, "TAGWIRE_SENDER": "off",
                  "TAGWIRE_LOG_LEVEL": "warning"}  # fmt: skip
        tagwire = run_server(
            "tagwire /collect",
            [python, "-m", "container.cli", "serve", "--demo", "--host", "127.0.0.1",
             "--port", str(tw_port)],
            tw_env, f"http://127.0.0.1:{tw_port}/readyz",
            f"http://127.0.0.1:{tw_port}/collect?id=demo", args,
        )  # fmt: skip

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; wrk on the same cores (figures are this "
          f"machine's only)")  # fmt: skip
    print(f"{'server':<18} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in bare + tagwire:
        print(f"{row['name']:<18} {row['connections']:>5} {row['rps']:>9.0f} "
              f"{row['p50_us'] / 1000:>8.2f} {row['p99_us'] / 1000:>8.2f} {row['errors']:>7}")  # fmt: skip
    for b, t in zip(bare, tagwire, strict=True):
        print(f"c={b['connections']}: tagwire/bare throughput ratio {t['rps'] / b['rps']:.2f} "
              f"(target >= 0.60)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
