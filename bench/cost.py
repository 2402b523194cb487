"""CPU instructions per `/collect` hit, counted by callgrind: the cost check CI runs.

Wall-clock time is not repeatable on a shared machine; the number of instructions a hit
executes nearly is. This program drives the data plane's ASGI app in-process (no sockets,
no server) from request bytes to committed SQLite outbox rows, for two pipelines:

  - "durable": a container with one webhook tag (bench/collect.py's DURABLE_CONTAINER):
    validation, the guards, one trigger, one Lua tag, one outbox row committed before the
    answer;
  - "demo": the demo container (demo/container.json): five platform tags and a webhook,
    six Lua templates and six outbox rows per lead.

Every hit is bench/hit.json (the lead the wrk benchmark sends) with its own event id,
visitor cookie and client address, consent granted, sent alone as a `text/plain` beacon,
with the sender off. A run starts the app, sends WARMUP hits, then the measured ones, and
checks that each hit committed its rows. Callgrind counts every instruction of every
thread from the end of the warm-up to the exit of the process; the cost per hit is the
difference between a run with HITS measured hits and one with none, divided by HITS, so
start-up, imports, compiling the templates, the warm-up and shutdown cancel out.

    python bench/cost.py                 # both pipelines: instructions per hit vs budget
    python bench/cost.py --repeat 3      # ... three times, to see the run-to-run spread
    python bench/cost.py --record "why"  # measure and rewrite bench/cost_budget.json

Needs valgrind (`apt-get install valgrind`). See docs/cost-check.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUDGET_FILE = HERE / "cost_budget.json"
PIPELINES = ("durable", "demo")
ROWS_PER_HIT = {"durable": 1, "demo": 6}
WARMUP = 40  # hits before the measured ones: caches, memos and the allocator settle
HITS = 30  # measured hits per pipeline
# A cost more than this share over its budget fails the check. Repeated counts of the same
# code differ by up to 0.4% (see docs/cost-check.md); 2% is five times that, and a 2%
# regression is the smallest this check promises to catch.
MARGIN = 0.02
FLOOR = 0.2  # a cost under this share of its budget fails too: the hits went unmeasured

Scope = dict[str, Any]
Message = dict[str, Any]


# ---------------------------------------------------------------- the measured program


def _document(pipeline: str) -> dict[str, Any]:
    if pipeline == "durable":
        sys.path.insert(0, str(HERE))
        from collect import DURABLE_CONTAINER  # bench/collect.py

        doc: dict[str, Any] = json.loads(json.dumps(DURABLE_CONTAINER))
        return doc
    from demo import demo_document

    return demo_document("http://127.0.0.1:8000/demo/receiver")


def _secrets(pipeline: str) -> Callable[[str], str | None]:
    if pipeline == "durable":
        return lambda name: None
    from demo import demo_secrets

    return demo_secrets().get  # the fake platforms' credentials, as `serve --demo` has


def _bodies(count: int, first: int) -> Iterator[tuple[int, bytes]]:
    """bench/hit.json with a fresh event id (and lead id) per hit."""
    template = (HERE / "hit.json").read_text(encoding="utf-8").strip()
    for number in range(first, first + count):
        yield number, template.replace("EVENT_ID", f"cost-{number:012d}").encode()


def _scope(container_id: str, number: int, body: bytes) -> Scope:
    """What uvicorn passes for a browser's sendBeacon: one visitor and address per hit."""
    headers = [
        (b"host", b"t.example.com"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                        b"Gecko) Chrome/131.0.0.0 Safari/537.36"),
        (b"content-type", b"text/plain;charset=UTF-8"),
        (b"content-length", str(len(body)).encode()),
        (b"accept", b"*/*"),
        (b"accept-language", b"en-GB,en;q=0.9"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"cookie", f"tw_id=costvisitor{number:012d}; _fbp=fb.1.1763899000000.1".encode()),
        (b"sec-fetch-site", b"same-site"),
    ]  # fmt: skip
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": (f"203.0.113.{1 + number % 250}", 50_000 + number % 10_000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": "/collect",
        "raw_path": b"/collect",
        "query_string": f"id={container_id}".encode(),
        "headers": headers,
        "state": {},
    }


async def _post(app: Any, scope: Scope, body: bytes) -> int:
    """One request through the ASGI app; its status."""
    sent: list[Message] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


async def _send(app: Any, container_id: str, bodies: Iterator[tuple[int, bytes]]) -> None:
    for number, body in bodies:
        status = await _post(app, _scope(container_id, number, body), body)
        if status not in (200, 204):
            raise SystemExit(f"hit {number} answered {status}")


class _Lifespan:
    """Starts and stops the app as a server does (store, lanes, outbox writer)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _call(self, kind: str) -> None:
        await self._inbox.put({"type": f"lifespan.{kind}"})
        answer = await self._outbox.get()
        if answer["type"] != f"lifespan.{kind}.complete":
            raise SystemExit(f"lifespan {kind} failed: {answer}")

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self._app(scope, self._inbox.get, self._outbox.put))
        await self._call("startup")

    async def stop(self) -> None:
        await self._call("shutdown")
        assert self._task is not None
        await self._task


async def _serve(pipeline: str, data_dir: Path, warmup: int, hits: int, preview: str) -> None:
    from config.schema import apply_defaults, validate_document
    from config.settings import load_settings
    from config.sqlite_store import SQLiteStore
    from container.app import create_app
    from container.containers import ContainerSet
    from container.node_secrets import NodeSecrets
    from container.pipeline import CompiledContainer
    from tags.runtime import TemplateRuntime

    doc = _document(pipeline)
    issues = validate_document(doc)
    if issues:
        raise SystemExit(f"{pipeline}: invalid container: {issues}")
    settings = load_settings({"TAGWIRE_SENDER": "off", "TAGWIRE_DATA_DIR": str(data_dir),
                              "TAGWIRE_PREVIEW": preview})
    secrets = NodeSecrets(None, None, _secrets(pipeline))  # wired as `tagwire serve` does
    runtime = TemplateRuntime(
        secrets.lookup_for(doc["container"]["id"]),
        allow_http_loopback=pipeline == "demo",
        deadline_ms=settings.tag_deadline_ms,
    )
    container = CompiledContainer.compile(apply_defaults(doc), runtime)
    containers = ContainerSet.of({container.id: container})
    app = create_app(settings, SQLiteStore(settings.sqlite_path), containers, secrets=secrets)
    lifespan = _Lifespan(app)
    await lifespan.start()
    try:
        # Start-up's objects leave the collector's sight, as a long-running node's do
        # after its first full collection; the measured hits then start from empty
        # generations on every run, so collections fall at the same places.
        gc.collect()
        gc.freeze()
        await _send(app, container.id, _bodies(warmup, 0))
        gc.collect()
        start_instrumentation()
        await _send(app, container.id, _bodies(hits, warmup))
    finally:
        await lifespan.stop()


def worker(pipeline: str, warmup: int, hits: int, preview: str = "on") -> None:
    """Run one pipeline in this process and check every hit committed its rows, and
    nothing else; then exit at once (finalising the interpreter is not counted)."""
    import uvloop

    with tempfile.TemporaryDirectory(prefix="tagwire-cost-") as tmp:
        data_dir = Path(tmp)
        uvloop.run(_serve(pipeline, data_dir, warmup, hits, preview))
        conn = sqlite3.connect(data_dir / "tagwire.db")
        try:
            rows, other = conn.execute(
                "SELECT COUNT(*) FILTER (WHERE state = 'pending' AND method != 'RUN'),"
                " COUNT(*) FILTER (WHERE state != 'pending' OR method = 'RUN') FROM outbox"
            ).fetchone()
        finally:
            conn.close()
    expected = (warmup + hits) * ROWS_PER_HIT[pipeline]
    if rows != expected or other:
        raise SystemExit(
            f"{pipeline}: {rows} pending outbox rows and {other} others (failed tag runs, "
            f"held rows) committed; expected {expected} pending rows and nothing else"
        )
    print(f"{pipeline}: {warmup + hits} hits, {rows} outbox rows committed", flush=True)
    os._exit(0)


# CALLGRIND_START_INSTRUMENTATION (valgrind/callgrind.h) as x86-64 machine code: the
# client-request sequence of valgrind.h (rotations of %rdi that add up to none, then
# `xchg %rbx,%rbx`; %rax points at the request and its arguments, %rdx returns the
# result). Outside valgrind it does nothing. Callgrind runs with --instr-atstart=no, so
# start-up, imports and the warm-up run uninstrumented, several times faster; elsewhere
# callgrind instruments from the start, which gives the same difference, more slowly.
_CLIENT_REQUEST_X86_64 = bytes.fromhex(
    "4889f8"  # mov %rdi,%rax
    "31d2"  # xor %edx,%edx
    "48c1c703" "48c1c70d" "48c1c73d" "48c1c733"  # rol $3, $13, $61, $51, %rdi
    "4887db"  # xchg %rbx,%rbx
    "4889d0"  # mov %rdx,%rax
    "c3"  # ret
)  # fmt: skip
_START_INSTRUMENTATION = (ord("C") << 24 | ord("T") << 16) + 4


def client_request_supported() -> bool:
    return sys.platform == "linux" and platform.machine() == "x86_64"


def start_instrumentation() -> None:
    """Ask callgrind to start instrumenting (nothing happens when it already does)."""
    if not client_request_supported():
        return
    import ctypes
    import mmap

    code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(_CLIENT_REQUEST_X86_64)
    request = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)(
        ctypes.addressof(ctypes.c_char.from_buffer(code))
    )
    arguments = (ctypes.c_uint64 * 6)(_START_INSTRUMENTATION)
    request(ctypes.addressof(arguments))


# ---------------------------------------------------------------- counting with callgrind


class CostError(Exception):
    """The count could not be made: no valgrind, or the measured program failed."""


def valgrind() -> str | None:
    return shutil.which("valgrind")


def instructions(pipeline: str, hits: int, warmup: int = WARMUP, preview: str = "on") -> int:
    """Every instruction a run of `pipeline` executed after its warm-up, under callgrind,
    on a node with preview on or off (TAGWIRE_PREVIEW; its hits carry no preview cookie)."""
    binary = valgrind()
    if binary is None:
        raise CostError("valgrind is missing: apt-get install valgrind")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TAGWIRE_"))}
    # The code of this checkout, whatever an installed tagwire points at; fixed hashing.
    env.update(PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory(prefix="tagwire-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            binary, "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}",
            f"--instr-atstart={'no' if client_request_supported() else 'yes'}",
            sys.executable, str(Path(__file__).resolve()),
            "--worker", pipeline, "--warmup", str(warmup), "--hits", str(hits),
            "--preview", preview,
        ]  # fmt: skip
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                              check=False)  # fmt: skip
        if done.returncode != 0 or "outbox rows committed" not in done.stdout:
            raise CostError(
                f"{pipeline} with {hits} hits: exit {done.returncode}\n{done.stdout}{done.stderr}"
            )
        text = out.read_text(encoding="utf-8", errors="replace")
    # `summary` counts every instruction since instrumentation started (the `totals` line
    # leaves out the share of functions still running at exit).
    match = re.search(r"^summary:\s*(\d+)$", text, re.M)
    if match is None:
        raise CostError(f"{pipeline}: callgrind wrote no instruction summary")
    return int(match.group(1))


def count_all(
    pipelines: Sequence[str] = PIPELINES, hits: int = HITS, repeat: int = 1, preview: str = "on"
) -> dict[str, list[float]]:
    """Instructions per hit of each pipeline, `repeat` times: for each, a run with `hits`
    measured hits minus one with none, divided by `hits`. The runs go side by side, as
    many at a time as there are cores."""
    runs = [(name, n, i) for i in range(repeat) for name in pipelines for n in (hits, 0)]
    # The dear runs first, so that the cheap ones fill the gaps at the end.
    runs.sort(key=lambda run: (run[1] == 0, run[0] != "demo"))
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        counted = dict(zip(runs, pool.map(lambda run: instructions(run[0], run[1],
                                                                   preview=preview), runs),
                           strict=True))  # fmt: skip
    return {
        name: [(counted[(name, hits, i)] - counted[(name, 0, i)]) / hits for i in range(repeat)]
        for name in pipelines
    }


def environment() -> dict[str, str]:
    """What the counts depend on besides tagwire's code: a budget holds for these."""
    from importlib.metadata import PackageNotFoundError, version

    found = {
        "python": f"{platform.python_version()} {' '.join(platform.python_build())} "
        f"{platform.python_compiler()}",
        "machine": platform.machine(),
        "sqlite": sqlite3.sqlite_version,
    }
    binary = valgrind()
    if binary is not None:
        found["valgrind"] = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    for package in ("lupa", "orjson", "starlette", "uvloop", "google-re2"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "missing"
    return found


def load_budget(path: Path = BUDGET_FILE) -> dict[str, Any]:
    budget: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return budget


def over_budget(measured: dict[str, float], budget: dict[str, Any]) -> list[str]:
    """The pipelines whose cost exceeds their budget by more than the margin, or is so far
    below it that the measurement must have lost the hits (or the budget is stale)."""
    margin = budget["margin"]
    problems = []
    for pipeline, cost in measured.items():
        allowed = budget["pipelines"][pipeline]["instructions_per_hit"]
        if cost > allowed * (1 + margin):
            problems.append(
                f"{pipeline}: {cost:,.0f} instructions per hit, {cost / allowed - 1:+.1%} "
                f"over its budget of {allowed:,} (allowed: +{margin:.0%})"
            )
        elif cost < allowed * FLOOR:
            problems.append(
                f"{pipeline}: {cost:,.0f} instructions per hit, under {FLOOR:.0%} of its "
                f"budget of {allowed:,}: a broken measurement, or record the new budget"
            )
    return problems


def changed_environment(budget: dict[str, Any]) -> list[str]:
    """How this machine differs from the one the budget was recorded on."""
    recorded = budget.get("environment", {})
    current = environment()
    return [
        f"{key}: {recorded.get(key, '?')} when recorded, {current.get(key, '?')} here"
        for key in sorted(set(recorded) | set(current))
        if recorded.get(key) != current.get(key)
    ]


def record(
    measured: dict[str, float], why: str, hits: int = HITS, path: Path = BUDGET_FILE
) -> None:
    budget = {
        "why": why,
        "margin": MARGIN,
        "measured_with": (
            f"python bench/cost.py --record: callgrind (valgrind), {hits} hits after "
            f"{WARMUP} warm-up per pipeline, PYTHONHASHSEED=0, Python "
            f"{platform.python_version()} on {platform.machine()}"
        ),
        "environment": environment(),
        "pipelines": {
            name: {"instructions_per_hit": round(cost)} for name, cost in measured.items()
        },
    }
    path.write_text(json.dumps(budget, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=WARMUP, help=argparse.SUPPRESS)
    parser.add_argument("--hits", type=int, default=HITS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--preview", choices=("on", "off"), default="on",
        help="the node's TAGWIRE_PREVIEW (the budgets are recorded with it on)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times")
    parser.add_argument(
        "--record",
        metavar="WHY",
        help="write the measured costs (the median of --repeat) to bench/cost_budget.json "
        "as the new budgets, WHY as the reason",
    )
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.warmup, args.hits, args.preview)
        return 0
    if args.record is not None and not args.record.strip():
        parser.error("--record needs the reason the budgets change")
    if args.record is not None and args.preview == "off":
        parser.error("the budgets are recorded on a node with preview on: drop --preview off")
    try:
        runs = count_all(PIPELINES, args.hits, args.repeat, args.preview)
    except CostError as exc:
        print(f"cost check: {exc}", file=sys.stderr)
        return 2
    measured = {name: statistics.median(costs) for name, costs in runs.items()}
    budget = load_budget() if BUDGET_FILE.exists() else None
    print(
        f"instructions per /collect hit: callgrind, {args.hits} hits after {WARMUP} warm-up, "
        f"Python {platform.python_version()} on {platform.machine()}"
    )
    for name, costs in runs.items():
        line = f"{name:<8} {measured[name]:>12,.0f}"
        if len(costs) > 1:
            spread = (max(costs) - min(costs)) / measured[name]
            line += f"  (runs: {', '.join(f'{c:,.0f}' for c in costs)}; spread {spread:.2%})"
        if budget is not None:
            allowed = budget["pipelines"][name]["instructions_per_hit"]
            line += f"  budget {allowed:,}: {measured[name] / allowed - 1:+.2%}"
        print(line)
    if args.record is not None:
        record(measured, args.record.strip(), args.hits)
        print(f"recorded in {BUDGET_FILE.relative_to(ROOT)}")
        return 0
    if budget is None:
        print("no budget recorded: run with --record", file=sys.stderr)
        return 1
    problems = over_budget(measured, budget)
    for problem in problems:
        print(f"cost check failed: {problem}", file=sys.stderr)
    if problems:
        for difference in changed_environment(budget):
            print(f"  not the recorded environment: {difference}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
