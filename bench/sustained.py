"""Sustained load with the sender on: the highest rate `/collect` accepts that delivery keeps
up with, and the latencies at half of it.

Each step starts a fresh `tagwire serve` node (a new data folder, the sender on with the
node's defaults) serving a container with one webhook tag on leads, which points at a
loopback receiver started once by this script (a raw asyncio server, in its own process,
that answers 200 and notes when each event id arrived). An open-loop generator offers
`/collect` a fixed rate: hit i is due at start + i / rate, whatever the answers, over a
pool of keep-alive connections; a hit due while every connection waits for an answer is
sent as soon as one is free, and its latencies still count from when it was due (so a slow
node is not hidden, as wrk2 does it). The body is `bench/hit.json` with a fresh event id
(and lead id) per hit.

A step keeps up when
  - ingest: every hit is answered 2xx, the last answer no later than 0.5 s after the last
    hit was due (otherwise `/collect` itself fell behind the offered rate), and
  - delivery: the receiver has every acknowledged hit within 5 s after the load stops (the
    last answer).
The rate doubles until a step fails, then is bisected until the highest rate that kept up
and the lowest that did not are within `--precision`. The same search runs with the
sender off (ingest only), alternated step by step with the other, for the ratio in the
same run. Then one run of twice `--seconds` at half the rate found gives the percentiles
of acknowledgement latency (answer - due) and delivery latency (received - due). The
node, the receiver and the generator share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict, deque
from pathlib import Path

import httptools
import orjson
import uvloop
from collect import free_port, wait_ready
from timing import machine

HERE = Path(__file__).parent
CAUGHT_UP_S = 5.0  # the receiver must have every acknowledged hit this long after the load
INGEST_SLACK_S = 0.5  # the last answer may come this long after the last hit was due
ANSWER_TIMEOUT_S = 30.0  # a hit not answered this long after the last one was due failed
WARMUP_RATE = 200  # hits/s (at most) of the unmeasured warm-up on each fresh node
FLOOR = 10  # hits/s: the search gives up below this
SENDER_ON = "sender on"
INGEST = "sender off"
ONE_TAG = {
    "container": {"id": "sus", "name": "sustained load", "domain": "www.example.com"},
    "variables": [],
    "triggers": [{"id": "leads", "name": "Leads", "events": ["lead"]}],
    "tags": [{"id": "hook", "name": "Webhook", "template": "webhook",
              "params": {"url": "RECEIVER"}, "firing_triggers": ["leads"]}],
}  # fmt: skip


# --- the receiver: its own process, started with --receiver PORT ---------------------------

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"


class _Receiving(asyncio.Protocol):
    """POST: note the body's event_id and when it arrived (CLOCK_MONOTONIC, which every
    process of this machine shares). GET /count/P: how many event ids of prefix P (the
    part before the first '-') arrived; GET /take/P: their arrival times, then forgets P."""

    def __init__(self, seen: dict[str, dict[str, int]], repeats: dict[str, int]) -> None:
        self._seen = seen
        self._repeats = repeats
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        now = time.monotonic_ns()
        url, body = self._url, b"".join(self._body)
        self._url, self._body = b"", []
        if self._parser.get_method() == b"POST":
            answer = self._event(body, now)
        else:
            answer = self._query(url.decode("latin-1"))
        self._transport.write(answer)
        if not self._parser.should_keep_alive():
            self._transport.close()

    def _event(self, body: bytes, now: int) -> bytes:
        try:
            event_id = orjson.loads(body)["event_id"]
            prefix = event_id.partition("-")[0]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return _BAD
        times = self._seen.setdefault(prefix, {})
        if event_id in times:
            self._repeats[prefix] += 1
        else:
            times[event_id] = now
        return _OK

    def _query(self, url: str) -> bytes:
        _, what, prefix = [*url.split("/", 2), "", ""][:3]
        if what == "count":
            found: dict = {"received": len(self._seen.get(prefix, {}))}
        elif what == "take":
            found = {"times": self._seen.pop(prefix, {}), "repeats": self._repeats.pop(prefix, 0)}
        else:
            return _BAD
        body = orjson.dumps(found)
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


def serve_receiver(port: int) -> None:
    async def main() -> None:
        seen: dict[str, dict[str, int]] = {}
        repeats: dict[str, int] = defaultdict(int)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Receiving(seen, repeats), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def ask(base: str, what: str, prefix: str) -> dict:
    with urllib.request.urlopen(f"{base}/{what}/{prefix}", timeout=30) as answer:
        return json.loads(answer.read())


# --- the open-loop generator ------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    def __init__(self, load: OpenLoad) -> None:
        self.load = load
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        self.load.answered(self, self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class OpenLoad:
    """`rate` hits/s for `seconds` to /collect, hit i due at start + i / rate."""

    def __init__(
        self, port: int, template: bytes, prefix: str, rate: float, seconds: float, conns: int,
        container: str = ONE_TAG["container"]["id"],
    ) -> None:  # fmt: skip
        self.port, self.template, self.prefix, self.conns = port, template, prefix, conns
        self.rate = rate
        self.total = max(1, round(rate * seconds))
        self.due = [0] * self.total
        self.sent = [0] * self.total
        self.done = [0] * self.total
        self.status = [0] * self.total  # 0: no answer (connection lost or timed out)
        length = len(template) + 2 * (len(self.event_id(0)) - len("EVENT_ID"))
        self.head = (f"POST /collect?id={container} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{port}\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                     f"Content-Length: {length}\r\n\r\n").encode()  # fmt: skip
        self.idle: deque[_Connection] = deque()
        self.pending: deque[int] = deque()
        self.busy: dict[_Connection, int] = {}
        self.every: set[_Connection] = set()
        self.opening: set[asyncio.Task] = set()
        self.answers = 0
        self.closing = False
        self.finished: asyncio.Event | None = None

    def event_id(self, i: int) -> str:
        return f"{self.prefix}-{i:09d}"

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(self), "127.0.0.1", self.port
            )
        except OSError:
            return  # the hits waiting for it fail on the answer timeout
        self.every.add(conn)
        self._free(conn)

    def _free(self, conn: _Connection) -> None:
        if self.pending:
            self._send(conn, self.pending.popleft())
        else:
            self.idle.append(conn)

    def _send(self, conn: _Connection, i: int) -> None:
        self.busy[conn] = i
        self.sent[i] = time.monotonic_ns()
        body = self.template.replace(b"EVENT_ID", self.event_id(i).encode())
        conn.transport.write(self.head + body)

    def answered(self, conn: _Connection, status: int) -> None:
        i = self.busy.pop(conn, None)
        if i is None:
            return
        self.done[i] = time.monotonic_ns()
        self.status[i] = status
        self._count()
        self._free(conn)

    def lost(self, conn: _Connection) -> None:
        self.every.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        i = self.busy.pop(conn, None)
        if i is not None:
            self.done[i] = time.monotonic_ns()
            self._count()
        if not self.closing:  # keep the pool full: the server may close idle connections
            task = asyncio.get_running_loop().create_task(self._open())
            self.opening.add(task)
            task.add_done_callback(self.opening.discard)

    def _count(self) -> None:
        self.answers += 1
        if self.answers == self.total and self.finished is not None:
            self.finished.set()

    async def run(self) -> None:
        self.finished = asyncio.Event()
        for _ in range(self.conns):
            await self._open()
        interval = 1e9 / self.rate
        start = time.monotonic_ns() + 20_000_000
        i = 0
        while i < self.total:
            now = time.monotonic_ns()
            while i < self.total and (due := start + int(i * interval)) <= now:
                self.due[i] = due
                if self.idle:
                    self._send(self.idle.popleft(), i)
                else:
                    self.pending.append(i)
                i += 1
            if i < self.total:
                await asyncio.sleep((start + int(i * interval) - time.monotonic_ns()) / 1e9)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished.wait(), ANSWER_TIMEOUT_S)
        self.closing = True
        for conn in list(self.every):
            conn.transport.close()

    def acked(self) -> list[int]:
        return [i for i, status in enumerate(self.status) if 200 <= status < 300]

    def failures(self) -> dict[int, int]:
        found: dict[int, int] = defaultdict(int)
        for status in self.status:
            if not 200 <= status < 300:
                found[status] += 1
        return dict(found)


# --- the node ---------------------------------------------------------------------------------


class Node:
    """`tagwire serve` on a free port with a fresh data folder, started as bench/collect.py
    starts its nodes (uvicorn inside, one process, uvloop and httptools, log level warning);
    its stderr goes to a file, so a chatty node cannot block on a full pipe."""

    def __init__(self, container: Path, data_dir: Path, sender: bool) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log = data_dir.parent / f"{data_dir.name}.stderr"
        env = {
            # the node's defaults, whatever this shell's TAGWIRE_* say
            **{k: v for k, v in os.environ.items() if not k.startswith("TAGWIRE_")},
            "PYTHONDONTWRITEBYTECODE": "1",
            "TAGWIRE_DATA_DIR": str(data_dir),
            "TAGWIRE_LOG_LEVEL": "warning",
            "TAGWIRE_SENDER": "on" if sender else "off",
            # the receiver is on loopback: let the template queue http to it, the sender reach it
            "TAGWIRE_EGRESS_ALLOW": "127.0.0.1",
            "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on",
            # a benchmark is a spike by design: nothing may be held for an operator
            "TAGWIRE_SPIKE_MIN_EVENTS": "1000000",
            "TAGWIRE_SHUTDOWN_GRACE_S": "2",
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tagwire", "serve", "--container", str(container),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{self.port}/readyz", self.process)
        except SystemExit:
            self.stop()
            raise SystemExit(f"the node did not start:\n{self.stderr_tail()}") from None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stderr_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def outbox(self) -> dict[str, int]:
        conn = sqlite3.connect(self.data_dir / "tagwire.db")
        try:
            return dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        finally:
            conn.close()


# --- steps and the search ---------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as bench/delivery.py; NaN for no values."""
    if not values:
        return math.nan
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


class Bench:
    def __init__(self, args: argparse.Namespace, folder: Path, receiver: str) -> None:
        self.args = args
        self.folder = folder
        self.receiver = receiver
        self.steps = 0
        doc = json.loads(json.dumps(ONE_TAG))
        doc["tags"][0]["params"]["url"] = f"{receiver}/hook"
        self.container = folder / "sustained.json"
        self.container.write_text(json.dumps(doc))
        hit = json.loads((HERE / "hit.json").read_text())
        hit["ts"] = int(time.time() * 1000)
        self.template = json.dumps(hit, separators=(",", ":")).encode()

    async def delivered(self, load: OpenLoad, until_ns: int) -> dict[str, int]:
        """Wait until the receiver has every hit `load` got acknowledged, or until
        `until_ns`; then the arrival times of the load's hits."""
        want = len(load.acked())
        while time.monotonic_ns() < until_ns:
            if ask(self.receiver, "count", load.prefix)["received"] >= want:
                break
            await asyncio.sleep(0.05)
        return ask(self.receiver, "take", load.prefix)["times"]

    async def step(self, kind: str, rate: int, seconds: float) -> dict:
        self.steps += 1
        n = self.steps
        sender = kind == SENDER_ON
        conns = self.args.connections
        data_dir = self.folder / f"node-{n}"
        node = Node(self.container, data_dir, sender)
        try:
            port = node.port
            warm = OpenLoad(port, self.template, f"w{n}", min(rate, WARMUP_RATE),
                            self.args.warmup, conns)  # fmt: skip
            await warm.run()
            if sender:
                limit = time.monotonic_ns() + 20 * 10**9
                arrived = await self.delivered(warm, limit)
                if len(arrived) < len(warm.acked()) or not warm.acked():
                    node.stop()
                    raise SystemExit(
                        f"warm-up: {len(warm.acked())} of {warm.total} hits acknowledged, "
                        f"{len(arrived)} received (answers: {warm.failures() or 'all 2xx'}); "
                        f"outbox {node.outbox()}\n{node.stderr_tail()}"
                    )
            load = OpenLoad(port, self.template, f"s{n}", rate, seconds, conns)
            await load.run()
            answered = [d for d in load.done if d]
            stop_ns = max(answered) if answered else time.monotonic_ns()
            arrived = await self.delivered(load, stop_ns + int(CAUGHT_UP_S * 1e9)) if sender else {}
        finally:
            node.stop()
        outbox = node.outbox()
        return self._judge(kind, rate, load, stop_ns, arrived, outbox)

    def _judge(
        self, kind: str, rate: int, load: OpenLoad, stop_ns: int, arrived: dict, outbox: dict
    ) -> dict:
        acked = load.acked()
        failures = load.failures()
        behind_s = (stop_ns - load.due[-1]) / 1e9
        ingest_ok = not failures and behind_s <= INGEST_SLACK_S
        deadline = stop_ns + CAUGHT_UP_S * 1e9
        received = [arrived[load.event_id(i)] for i in acked if load.event_id(i) in arrived]
        in_time = sum(1 for at in received if at <= deadline)
        delivery_ok = kind == INGEST or in_time == len(acked)
        sent = [at for at in load.sent if at]
        seconds = (max(sent) - min(sent)) / 1e9 if len(sent) > 1 else 0
        ack_ms = [(load.done[i] - load.due[i]) / 1e6 for i in acked]
        delivery_ms = [(arrived[load.event_id(i)] - load.due[i]) / 1e6
                       for i in acked if load.event_id(i) in arrived]  # fmt: skip
        lag_ms = [(s - d) / 1e6 for s, d in zip(load.sent, load.due, strict=True) if s]
        why = []
        if failures:
            why.append(f"{sum(failures.values())} not 2xx {failures}")
        if behind_s > INGEST_SLACK_S:
            why.append(f"last answer {behind_s:.1f} s after the last hit was due")
        if not delivery_ok:
            why.append(f"{in_time} of {len(acked)} received {CAUGHT_UP_S:.0f} s after")
        return {
            "kind": kind, "rate": rate, "offered": load.total,
            "sent_rate": (len(sent) - 1) / seconds if seconds else math.nan,
            "acked": len(acked), "failures": failures, "behind_s": behind_s,
            "received": in_time,
            "caught_up_s": max(0.0, (max(received) - stop_ns) / 1e9) if received else math.nan,
            "delivered_rate": len(received) / ((max(received) - load.due[0]) / 1e9)
            if len(received) > 1 else math.nan,
            "ok": ingest_ok and delivery_ok, "why": "; ".join(why),
            "ack_ms": ack_ms, "delivery_ms": delivery_ms, "lag_ms": lag_ms, "outbox": outbox,
            "load": os.getloadavg()[0],
        }  # fmt: skip


class Search:
    """Double from `start` until a step fails, then bisect to `precision`."""

    def __init__(self, kind: str, start: int, ceiling: int, precision: float) -> None:
        self.kind, self.start, self.ceiling, self.precision = kind, start, ceiling, precision
        self.lo: int | None = None  # highest rate that kept up
        self.hi: int | None = None  # lowest rate that did not

    def next_rate(self) -> int | None:
        lo, hi = self.lo, self.hi
        if lo is None and hi is None:
            return self.start
        if hi is None:
            return None if lo >= self.ceiling else min(self.ceiling, lo * 2)
        if lo is None:
            return None if hi <= FLOOR else max(FLOOR, hi // 2)
        if hi <= lo * (1 + self.precision) or hi - lo <= 1:
            return None
        return (lo + hi) // 2

    def record(self, rate: int, ok: bool) -> None:
        if ok:
            self.lo = rate
        else:
            self.hi = rate


def row(result: dict) -> str:
    fail = sum(result["failures"].values())
    received = f"{result['received']:>9,}" if result["kind"] == SENDER_ON else f"{'-':>9}"
    caught, delivered = result["caught_up_s"], result["delivered_rate"]
    caught_text = f"{caught:>7.2f} s" if not math.isnan(caught) else f"{'-':>9}"
    delivered_text = f"{delivered:>11,.0f}" if not math.isnan(delivered) else f"{'-':>11}"
    verdict = "keeps up" if result["ok"] else f"behind: {result['why']}"
    return (f"{result['kind']:<10} {result['rate']:>7,} {result['sent_rate']:>7,.0f} "
            f"{result['acked']:>8,} {fail:>6} {percentile(result['ack_ms'], 0.99):>9.1f} "
            f"{received} {caught_text} {delivered_text} {result['load']:>5.2f}  "
            f"{verdict}")  # fmt: skip


def header() -> str:
    return (f"{'node':<10} {'rate/s':>7} {'sent/s':>7} {'acked':>8} {'failed':>6} "
            f"{'ack p99ms':>9} {'received':>9} {'caught up':>9} {'delivered/s':>11} "
            f"{'load1':>5}  verdict")  # fmt: skip


def loads() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def measure(args: argparse.Namespace, bench: Bench) -> tuple[list, dict, dict | None]:
    searches = [Search(SENDER_ON, args.start_rate, args.max_rate, args.precision)]
    if args.ingest_only:
        searches.append(Search(INGEST, args.start_rate, args.max_rate, args.precision))
    results = []
    print(header(), flush=True)
    while True:  # one step of each search in turn, so drift on the machine hits both alike
        ran = False
        for search in searches:
            rate = search.next_rate()
            if rate is None:
                continue
            result = await bench.step(search.kind, rate, args.seconds)
            search.record(rate, result["ok"])
            results.append(result)
            print(row(result), flush=True)
            ran = True
        if not ran:
            break
    found = {search.kind: search for search in searches}
    half = None
    if found[SENDER_ON].lo:
        rate = max(1, found[SENDER_ON].lo // 2)
        half = await bench.step(SENDER_ON, rate, 2 * args.seconds)
        print(row(half), flush=True)
    return results, found, half


def report(
    args: argparse.Namespace, results: list[dict], found: dict, half: dict | None, before: str
) -> None:
    print()
    print(f"{machine()}; load average {before} before, {loads()} after (1, 5, 15 min); "
          "the node, the receiver and the generator share the cores")  # fmt: skip
    print(f"one webhook tag per lead to a loopback receiver; sender defaults (concurrency 8, "
          f"batch_flush_ms 200); a fresh node per step; {args.connections} connections; "
          f"steps of {args.seconds:g} s after {args.warmup:g} s of warm-up")  # fmt: skip
    on = found[SENDER_ON]
    rates = {}
    for kind, search in found.items():
        bound = f"the next rate tried, {search.hi:,}/s, did not" if search.hi else (
            f"the ceiling --max-rate {args.max_rate:,}/s was reached"
        )  # fmt: skip
        what = ("delivery keeps up (every acknowledged hit received within "
                f"{CAUGHT_UP_S:.0f} s after the load stops)" if kind == SENDER_ON else
                "/collect keeps up with the sender off (ingest alone)")  # fmt: skip
        rate = f"{search.lo:,} hits/s" if search.lo else f"none from {FLOOR}/s up"
        print(f"{kind}: highest rate at which {what}: {rate}; {bound}")
        rates[kind] = search.lo
    if rates.get(INGEST) and on.lo:
        print(f"sender on / sender off, same run: {on.lo / rates[INGEST]:.2f}")
    behind = [r["delivered_rate"] for r in results if r["kind"] == SENDER_ON and not r["ok"]]
    behind = [rate for rate in behind if not math.isnan(rate)]
    if behind:
        print(f"delivery at capacity: the receiver got {percentile(behind, 0.5):,.0f} hits/s "
              f"(median of the {len(behind)} sender-on steps that fell behind)")  # fmt: skip
    if half is None:
        return
    ack, dlv, lag = half["ack_ms"], half["delivery_ms"], half["lag_ms"]
    state = "kept up" if half["ok"] else f"did NOT keep up ({half['why']})"
    print(f"at half of it, {half['rate']:,} hits/s for {2 * args.seconds:g} s "
          f"({half['offered']:,} hits, {half['acked']:,} acknowledged, {half['received']:,} "
          f"received; {state}):")  # fmt: skip
    missing = half["acked"] - len(dlv)
    for name, values, note in (
        ("acknowledgement (answer - due)", ack, ""),
        (
            "delivery (received - due)",
            dlv,
            f"  ({missing:,} missing 5 s after the load: not counted)",
        ),
    ):
        print(
            f"  {name:<31} p50 {percentile(values, 0.5):8.1f} ms  p99 "
            f"{percentile(values, 0.99):8.1f} ms  max {max(values, default=math.nan):8.1f} ms"
            f"{note if missing else ''}"
        )
    print(f"  generator lag (sent - due)      p99 {percentile(lag, 0.99):8.1f} ms (over a few "
          "ms: every connection was waiting for the node)")  # fmt: skip
    print(f"  outbox afterwards: {half['outbox']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each step")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds per node")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--start-rate", type=int, default=250, help="first rate tried, hits/s")
    parser.add_argument("--max-rate", type=int, default=20_000, help="highest rate tried")
    parser.add_argument(
        "--precision",
        type=float,
        default=0.1,
        help="stop when the lowest failing rate is within this fraction of the highest passing",
    )
    parser.add_argument("--ingest-only", action=argparse.BooleanOptionalAction, default=True,
                        help="also search with the sender off, for the ratio")  # fmt: skip
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return 0

    before = loads()
    port = free_port()
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/count/none", receiver)
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench(args, Path(tmp), base)
            results, found, half = uvloop.run(measure(args, bench))
    finally:
        receiver.terminate()
        receiver.wait(15)
    report(args, results, found, half, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
