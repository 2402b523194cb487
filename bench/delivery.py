"""Delivery throughput: the real sender and SQLite store against the fake Meta Conversions
API on loopback, with per-platform batching and without it, in one run.

Each run queues N Meta events (one outbox row each, the same pixel and token, so they may
share requests), starts a sender with the node's defaults (concurrency 8, batch_flush_ms
200) and waits until every row is `sent`. Figures: events per second from the sender's start
to the last `sent_at`, and the enqueue-to-sent latency of each row (`sent_at - created_at`,
so it includes the time a row waited behind the backlog). A paced run then queues events at
a steady rate while the sender runs, which shows the latency a live stream sees. The fake
validates every event as Meta would and runs in this process (a uvicorn thread).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import orjson
from timing import machine

from config.egress import EgressPolicy
from config.sqlite_store import SQLiteStore
from config.storage import OutboxRow
from container.delivery.batching import MetaPolicy, Policies
from container.delivery.routes import PlatformRoutes
from container.delivery.sender import Sender
from fake_platforms import serve

TARGET = 5000  # events/s
URL = "https://graph.facebook.com/v25.0/1234567890123456/events"
HEADERS = orjson.dumps({"content-type": "application/json"})
H = "0123456789abcdef" * 4


class OneEventPerRequest(MetaPolicy):
    max_events = 1


def rows(count: int, start: int, now_s: int) -> list[OutboxRow]:
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
    while (await store.outbox_counts()).get("sent", 0) < total:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"not all {total} rows were sent in time: {await store.outbox_counts()}"
            )
        await asyncio.sleep(0.02)


async def run(base: str, events: int, batched: bool, paced: int | None, folder: Path) -> dict:
    db = folder / f"{'batched' if batched else 'unbatched'}-{'paced' if paced else 'backlog'}.db"
    store = SQLiteStore(db)
    await store.open()
    now_s = int(time.time())
    policies = Policies([] if batched else [OneEventPerRequest()])
    sender = Sender(store, concurrency=8, timeout=10, max_attempts=17,
                    routes=PlatformRoutes({"https://graph.facebook.com": base}),
                    egress=EgressPolicy.parse("127.0.0.1"),  # the fake Meta on loopback
                    **({} if batched else {"policies": policies}))  # fmt: skip
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--unbatched-events",
        type=int,
        default=5_000,
        help="events for the run without batching (one request each, so much slower)",
    )
    parser.add_argument(
        "--paced-rate",
        type=int,
        default=TARGET,
        help="events/s queued during the paced run (0 skips it)",
    )
    args = parser.parse_args()
    unbatched_events = args.unbatched_events

    with serve() as fake, tempfile.TemporaryDirectory() as tmp:
        base = fake.base_urls["meta_base_url"]
        folder = Path(tmp)
        batched = asyncio.run(run(base, args.events, True, None, folder))
        requests = len(fake.platforms.requests("meta"))
        fake.platforms.reset()
        plain = asyncio.run(run(base, unbatched_events, False, None, folder))
        fake.platforms.reset()
        paced = None
        if args.paced_rate:
            paced = asyncio.run(run(base, args.events, True, args.paced_rate, folder))

    print(machine())
    print(f"{args.events:,} Meta events queued at once, real SQLite store and sender, fake Meta on "
          "loopback (same process), concurrency 8, batch_flush_ms 200:")  # fmt: skip
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
