"""The firing history over a million outbox rows: how long the admin UI's pages and its CSV
export take, on SQLite and on PostgreSQL (the project machine's, 127.0.0.1:5432, in a
schema of its own that is dropped afterwards).

Rows are made through the store's own API (`enqueue`, then `claim` and `record` for the
attempts), spread over 20 containers of 5 tags; then the queries the history page makes
(`admin_ui.history.history`, 51 entries a page) are timed, each the median of a few runs.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
from psycopg import sql
from timing import machine

from admin_ui.history import HISTORY_FIELDS, history, history_record
from config.postgres_store import PostgresStore
from config.sqlite_store import SQLiteStore
from config.storage import Delivery, OutboxFilter, OutboxRow, Store

PAGE = 51  # the page's 50 rows and one to know whether there is another
PLATFORMS = ("meta", "tiktok", "ga4", "google_ads", "webhook")
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def rows(start: int, count: int, now: int) -> list[OutboxRow]:
    made = []
    for i in range(start, start + count):
        container, tag = f"client{i % 20:02d}", PLATFORMS[i % 5]
        made.append(OutboxRow(
            container, tag, "events.example.com", "POST", "https://events.example.com/in",
            b"{}", b'{"event":"lead"}', "lead" if i % 3 else "purchase", f"evt-{i:09d}", None,
            tag, now - i, f"L-{i}" if i % 7 == 0 else None, 50.0, "EUR", False,
        ))  # fmt: skip
    return made


async def fill(store: Store, total: int, now: int) -> None:
    step = 20_000
    for start in range(0, total, step):
        await store.enqueue(rows(start, min(step, total - start), now), now)
    while True:  # every row gets one attempt: most sent, some dead
        claimed = await store.claim(20_000, now + 1)
        if not claimed:
            return
        await store.record([
            Delivery(item.id, "dead" if item.id % 50 == 0 else "sent",
                     400 if item.id % 50 == 0 else 200, "{}", now, now + 1, 12, 1)
            for item in claimed
        ])  # fmt: skip


async def timed(work, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def main_async(total: int, repeats: int, backends: list[str]) -> None:
    print(f"{machine()}; load average {os.getloadavg()[0]:.2f}")
    for backend in backends:
        with tempfile.TemporaryDirectory() as folder:
            if backend == "sqlite":
                store: Store = SQLiteStore(Path(folder) / "tagwire.db")
                await measure(store, "SQLite", total, repeats)
            else:
                schema = f"tw_bench_{os.urandom(4).hex()}"
                store = PostgresStore(POSTGRES_URL, schema=schema)
                try:
                    await measure(store, f"PostgreSQL (schema {schema})", total, repeats,
                                  lambda s=schema: analyze(s))  # fmt: skip
                finally:
                    await drop(schema)
        print(f"load average {os.getloadavg()[0]:.2f}")


async def analyze(schema: str) -> None:
    """Fresh planner statistics after the bulk load, as autovacuum would gather them
    within a minute of it on a real database."""
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        for table in ("outbox", "attempts"):
            await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))


async def drop(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(schema)))  # fmt: skip


async def measure(
    store: Store,
    name: str,
    total: int,
    repeats: int,
    after_fill: Callable[[], Awaitable[None]] | None = None,
) -> None:
    await store.open()
    try:
        now = int(time.time() * 1000)
        start = time.perf_counter()
        await fill(store, total, now)
        made = time.perf_counter() - start
        if after_fill is not None:
            await after_fill()
        print(f"{name}: {total:,} rows and {total:,} attempts made through the store "
              f"API in {made:.1f} s")  # fmt: skip
        shop = OutboxFilter(container_id="client07")
        lead = OutboxFilter(lead_id=f"L-{(total // 2) // 7 * 7}")
        dead = OutboxFilter("client07", states=("dead",))
        cases = {
            "page 1, all containers": (OutboxFilter(), 0, None),
            "page 1, one container": (shop, 0, None),
            "page 1, one container and tag": (OutboxFilter("client07", "meta"), 0, None),
            "page 1, one lead id": (lead, 0, None),
            "page 1, dead rows of a container": (dead, 0, None),
            "page 1, HTTP status 400 (attempt filter)": (shop, 0, 400),
            "page 100 (offset 4,950)": (shop, 99 * 50, None),
            "last page of a container (offset ~50,000)": (shop, total // 20 - 50, None),
        }  # fmt: skip
        for name, (filter, offset, status) in cases.items():
            ms = await timed(lambda f=filter, o=offset, s=status: history(store, f, PAGE, o, s),
                             repeats)  # fmt: skip
            print(f"  {name:<45} {ms:8.1f} ms")

        async def export() -> int:
            entries = await history(store, shop, 100_000, 0)
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(history_record(e) for e in entries)
            return len(entries)

        count = await export()
        ms = await timed(export, max(1, repeats // 2))
        print(f"  CSV export of one container ({count:,} rows)       {ms:8.1f} ms")
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    asyncio.run(main_async(args.rows, args.repeats, backends))
    return 0


if __name__ == "__main__":
    sys.exit(main())
