"""Delivery throughput: the real sender and SQLite store against loopback receivers, with
per-platform batching and without it, in one run.

Meta runs: N Meta events (one outbox row each, the same pixel and token, so they may share
requests) against the fake Meta Conversions API, which validates every event as Meta would
and runs in this process (a uvicorn thread, so it shares the GIL with the sender).
"Unbatched" sends one event per request.

Webhook runs: N `webhook` rows (the shipped template's payload) to a loopback receiver in a
process of its own (asyncio and httptools, answers `200 ok`), one row per request, and
then the same rows with the template's opt-in array batches (`x-tagwire-batch:
array;max=100`). A sender without array batching sends those one by one too.

Each run queues its rows at once, starts a sender with the node's defaults (concurrency 8,
batch_flush_ms 200) and waits until every row is `sent`. Figures: events per second from
the sender's start to the last `sent_at`, and the enqueue-to-sent latency of each row
(`sent_at - created_at`, so it includes the time a row waited behind the backlog). A
paced run then queues Meta events at a steady rate while the sender runs, which shows the
latency a live stream sees. Last, the outbox's enqueue statements alone: µs per row for
group commits of 1 to 500 rows, with and without fire-once keys.

The sender runs on asyncio's own event loop; `--uvloop` runs it on uvloop, as `tagwire
serve` does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from timing import machine

from config.egress import EgressPolicy
from config.sqlite_store import SQLiteStore
from config.storage import OutboxRow
from container.delivery.batching import MetaPolicy, Policies
from container.delivery.routes import PlatformRoutes
from container.delivery.sender import Sender

TARGET = 5000  # events/s, batched
UNBATCHED_TARGET = 3000  # events/s, one webhook row per request
URL = "https://graph.facebook.com/v25.0/1234567890123456/events"
HEADERS = orjson.dumps({"content-type": "application/json"})
ARRAY_HEADERS = orjson.dumps(
    {"content-type": "application/json", "x-tagwire-batch": "array;max=100"}
)
H = "0123456789abcdef" * 4
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"

Rows = Callable[[int, int, int], list[OutboxRow]]


class OneEventPerRequest(MetaPolicy):
    max_events = 1


def meta_rows(count: int, start: int, now_s: int) -> list[OutboxRow]:
    out = []
    for i in range(start, start + count):
        event = {
            "event_name": "Lead", "event_time": now_s, "event_id": f"bench-{i}",
            "action_source": "website", "event_source_url": "https://www.example.com/lead",
            "user_data": {"em": [H], "client_ip_address": "203.0.113.7",
                          "client_user_agent": "Mozilla/5.0 (bench)",
                          "fbp": "fb.1.1767000000000.1098115397"},
            "custom_data": {"value": 50, "currency": "EUR"},
        }  # fmt: skip
        body = orjson.dumps({"data": [event], "access_token": "meta-test-token"})
        out.append(OutboxRow("bench", "meta", "graph.facebook.com", "POST", URL, HEADERS, body,
                             "lead", f"bench-{i}", None, "meta", now_s * 1000, None, 50.0,
                             "EUR", False))  # fmt: skip
    return out


def webhook_rows(url: str, headers: bytes) -> Rows:
    destination = url.split("/")[2]

    def rows(count: int, start: int, now_s: int) -> list[OutboxRow]:
        out = []
        for i in range(start, start + count):
            body = orjson.dumps({
                "event": "Lead", "event_id": f"bench-{i}", "event_time_ms": now_s * 1000,
                "page_url": "https://www.example.com/lead",
                "data": {"value": 50, "currency": "EUR", "lead_id": f"L-{i}"},
                "user": {"em": H}, "click": {}, "custom": {}, "client_id": f"cid-{i}",
            })  # fmt: skip
            out.append(OutboxRow("bench", "hook", destination, "POST", url, headers, body,
                                 "lead", f"bench-{i}", None, "webhook", now_s * 1000, None,
                                 50.0, "EUR", False))  # fmt: skip
        return out

    return rows


def latencies(db: Path) -> tuple[list[int], int, int]:
    """Per row sent_at - created_at (ms), the last sent_at, and rows not sent."""
    conn = sqlite3.connect(db)
    try:
        found = conn.execute("SELECT created_at, sent_at, state FROM outbox").fetchall()
    finally:
        conn.close()
    sent = [(c, s) for c, s, state in found if state == "sent"]
    return sorted(s - c for c, s in sent), max(s for _, s in sent), len(found) - len(sent)


def percentile(values: list[int], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


async def drained(store: SQLiteStore, total: int, deadline: float) -> None:
    # Every 50 ms: each look scans the outbox on the store's one thread, which the sender
    # needs too. The figures come from sent_at, not from when this notices.
    while (await store.outbox_counts()).get("sent", 0) < total:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"not all {total} rows were sent in time: {await store.outbox_counts()}"
            )
        await asyncio.sleep(0.05)


async def run(
    name: str, rows: Rows, events: int, folder: Path, *, paced: int | None = None,
    **options: object,
) -> dict:  # fmt: skip
    db = folder / f"{name}.db"
    store = SQLiteStore(db)
    await store.open()
    now_s = int(time.time())
    sender = Sender(store, concurrency=8, timeout=10, max_attempts=17,
                    egress=EgressPolicy.parse("127.0.0.1"),  # the receivers on loopback
                    **options)  # type: ignore[arg-type]  # fmt: skip
    if not paced:
        await store.enqueue(rows(events, 0, now_s), int(time.time() * 1000))
    start = time.time()
    sender.start()
    if paced:
        chunk = max(1, paced // 100)  # a commit every 10 ms, as the outbox writer does
        for first in range(0, events, chunk):
            due = start + first / paced
            await asyncio.sleep(max(0.0, due - time.time()))
            await store.enqueue(rows(min(chunk, events - first), first, now_s),
                                int(time.time() * 1000))  # fmt: skip
            sender.wake()
    await drained(store, events, time.monotonic() + 600)
    await sender.stop(10)
    await store.close()
    waits, last_ms, unsent = latencies(db)
    seconds = last_ms / 1000 - start
    return {"rate": events / seconds, "seconds": seconds, "p50": percentile(waits, 0.5),
            "p99": percentile(waits, 0.99), "unsent": unsent}  # fmt: skip


# ---- the webhook receiver, in a process of its own ----------------------------------------


def receive(port_file: str) -> None:
    """Serve `200 ok` to every request on 127.0.0.1 until stdin closes; then print how many
    requests and events (array elements, or one per object) came."""
    import httptools

    counts = [0, 0]

    class Receiver(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpRequestParser(self)
            self.body: list[bytes] = []

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            body = b"".join(self.body)
            self.body = []
            counts[0] += 1
            counts[1] += len(orjson.loads(body)) if body[:1] == b"[" else 1
            self.transport.write(ANSWER)  # type: ignore[attr-defined]

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, "127.0.0.1", 0, backlog=1024)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(serve())
    print(orjson.dumps({"requests": counts[0], "events": counts[1]}).decode(), flush=True)


class Receiver:
    """The receiver process: `url`, and `counts()` since the last call."""

    def __init__(self, folder: Path) -> None:
        port_file = folder / "receiver.port"
        self._folder = folder
        self._process = self._start(port_file)
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise SystemExit("the webhook receiver did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/in"

    @staticmethod
    def _start(port_file: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, __file__, "--receive", str(port_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip

    def stop(self) -> dict[str, int]:
        out, _ = self._process.communicate(timeout=30)
        return orjson.loads(out.strip().splitlines()[-1])


# ---- the enqueue statements ----------------------------------------------------------------


def enqueue_cost(commits: int) -> dict[str, float]:
    """µs per row of the outbox's INSERT statements alone (thread CPU time), for group
    commits of 1 to 500 rows, with fire-once keys and without (`fire_once: none`)."""
    from config.sqlite import outbox
    from config.sqlite.migrations import migrate

    keys = getattr(outbox, "_take_keys", None)
    if keys is None:  # before prepared statements: the keys went in through fire_once
        from config.sqlite.fire_once import take_keys as keys

    figures = {}
    for keyed in (True, False):
        conn = sqlite3.connect(":memory:", isolation_level=None)
        migrate(conn)
        sizes = [random.Random(3).randint(1, 500) for _ in range(commits)]
        batches, first = [], 0
        for size in sizes:
            batch = webhook_rows("https://hooks.example.com/in", HEADERS)(size, first, 1)
            if keyed:
                batch = [r._replace(dedup_key=f"event_id:{r.event_id}") for r in batch]
            batches.append(batch)
            first += size
        started = time.thread_time()
        for batch in batches:
            outbox.insert_rows(conn, batch, 1)
            keys(conn, batch, 1, 10**12)
        figures["keyed" if keyed else "plain"] = (time.thread_time() - started) / first * 1e6
        conn.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--unbatched-events",
        type=int,
        default=5_000,
        help="events for each run without batching (one request each, so much slower)",
    )
    parser.add_argument(
        "--paced-rate",
        type=int,
        default=TARGET,
        help="events/s queued during the paced run (0 skips it)",
    )
    parser.add_argument("--commits", type=int, default=400, help="commits timed for enqueue")
    parser.add_argument("--uvloop", action="store_true", help="run the sender on uvloop")
    parser.add_argument("--receive", help=argparse.SUPPRESS)  # the receiver process
    args = parser.parse_args()
    if args.receive:
        receive(args.receive)
        return 0
    unbatched_events = args.unbatched_events
    from fake_platforms import serve

    loop = asyncio.run
    if args.uvloop:
        import uvloop

        loop = uvloop.run

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        receiver = Receiver(folder)
        hook = loop(run("webhook", webhook_rows(receiver.url, HEADERS),
                               unbatched_events, folder))  # fmt: skip
        arrays = loop(run("webhook-arrays", webhook_rows(receiver.url, ARRAY_HEADERS),
                                 args.events, folder))  # fmt: skip
        received = receiver.stop()
        with serve() as fake:
            routes = PlatformRoutes({"https://graph.facebook.com": fake.base_urls["meta_base_url"]})
            batched = loop(run("batched", meta_rows, args.events, folder, routes=routes))
            requests = len(fake.platforms.requests("meta"))
            fake.platforms.reset()
            plain = loop(run("unbatched", meta_rows, unbatched_events, folder,
                                    routes=routes,
                                    policies=Policies([OneEventPerRequest()])))  # fmt: skip
            fake.platforms.reset()
            paced = None
            if args.paced_rate:
                paced = loop(run("paced", meta_rows, args.events, folder,
                                        paced=args.paced_rate, routes=routes))  # fmt: skip
    enqueue = enqueue_cost(args.commits)

    print(machine())
    print(f"event loop: {'uvloop' if args.uvloop else 'asyncio'}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (the figures move "
          "with it)")  # fmt: skip
    array_requests = received["requests"] - unbatched_events
    print("webhook rows to a loopback receiver in its own process, real SQLite store and "
          "sender, concurrency 8, batch_flush_ms 200:")  # fmt: skip
    verdict = "meets" if hook["rate"] >= UNBATCHED_TARGET else "BELOW"
    print(f"  unbatched: {hook['rate']:>8,.0f} events/s ({unbatched_events:,} events, one "
          f"request each); target >= {UNBATCHED_TARGET:,} events/s: {verdict}")  # fmt: skip
    print(f"             enqueue-to-sent p50 {hook['p50']:,.0f} ms, p99 {hook['p99']:,.0f} ms")
    print(f"  arrays:    {arrays['rate']:>8,.0f} events/s ({args.events:,} events in "
          f"{array_requests:,} requests); enqueue-to-sent p50 {arrays['p50']:,.0f} ms, "
          f"p99 {arrays['p99']:,.0f} ms")  # fmt: skip
    print(f"{args.events:,} Meta events queued at once, fake Meta on loopback (same process), "
          f"concurrency 8, batch_flush_ms 200:")  # fmt: skip
    verdict = "meets" if batched["rate"] >= TARGET else "BELOW"
    print(f"  batched:   {batched['rate']:>8,.0f} events/s in {requests} requests "
          f"({args.events / requests:,.0f} events each); target >= {TARGET:,} events/s: "
          f"{verdict}")  # fmt: skip
    print(
        f"             enqueue-to-sent p50 {batched['p50']:,.0f} ms, "
        f"p99 {batched['p99']:,.0f} ms (backlog drained in {batched['seconds']:.2f} s)"
    )
    print(
        f"  unbatched: {plain['rate']:>8,.0f} events/s ({unbatched_events:,} events, one "
        f"request each); enqueue-to-sent p50 {plain['p50']:,.0f} ms, p99 {plain['p99']:,.0f} ms"
    )
    print(f"  batching is {batched['rate'] / plain['rate']:.1f}x the unbatched throughput")
    if paced is not None:
        print(f"  paced:     {args.events:,} events queued at {args.paced_rate:,}/s while the "
              f"sender runs: {paced['rate']:,.0f} events/s, enqueue-to-sent p50 "
              f"{paced['p50']:,.0f} ms, p99 {paced['p99']:,.0f} ms")  # fmt: skip
    print(f"enqueue statements ({args.commits} group commits of 1-500 rows): "
          f"{enqueue['keyed']:.1f} µs per row with fire-once keys, {enqueue['plain']:.1f} µs "
          "without")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
