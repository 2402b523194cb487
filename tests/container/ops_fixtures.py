"""An outbox in every state, filled through the real Store API, for the operator tools' tests.

| row | container/tag | platform | event    | lead | queued   | attempts             | state   |
|-----|---------------|----------|----------|------|----------|----------------------|---------|
| F   | blog/meta     | meta     | lead     |      | 10 d ago | dead 400             | dead    |
| A   | shop/meta     | meta     | lead     | L-1  | 1 h ago  | sent 200             | sent    |
| B   | shop/meta     | meta     | purchase |      | 1 h ago  | dead 400             | dead    |
| C   | shop/hook     | webhook  | lead     | L-2  | 1 h ago  | failed 503, dead 500 | dead    |
| D   | shop/hook     | webhook  | lead     |      | 1 h ago  | none (held)          | held    |
| E   | shop/hook     | webhook  | purchase |      | 1 h ago  | none (not tried yet) | pending |
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from config.sqlite_store import SQLiteStore
from config.storage import Delivery, OutboxFilter, OutboxRow, Store

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def row(
    at: int,
    event_id: str,
    container: str = "shop",
    tag: str = "meta",
    platform: str = "meta",
    event: str = "lead",
    lead_id: str | None = None,
    value: float | None = None,
    currency: str | None = None,
    held: bool = False,
) -> OutboxRow:
    host = "graph.facebook.com" if platform == "meta" else "hooks.example.com"
    return OutboxRow(container, tag, host, "POST", f"https://{host}/events", b"{}",
                     b'{"event": "x"}', event, event_id, None, platform, at, lead_id, value,
                     currency, held)  # fmt: skip


async def _attempt(store: Store, at: int, state: str, status: int, response: str) -> None:
    [item] = await store.claim(1, at)
    await store.record([Delivery(item.id, state, status, response, next_attempt_at=at, at=at)])


async def fill_store(store: Store, now: int) -> None:
    old, recent = now - 10 * DAY_MS, now - HOUR_MS
    await store.enqueue([row(old, "evt-F-0001", container="blog")], old)
    await _attempt(store, old + 1, "dead", 400, '{"error": "bad pixel id"}')
    await store.enqueue([row(recent, "evt-A-0001", lead_id="L-1", value=50.0, currency="EUR")],
                        recent)  # fmt: skip
    await _attempt(store, recent + 1, "sent", 200, '{"events_received": 1}')
    await store.enqueue([row(recent, "evt-B-0001", event="purchase", value=99.5,
                             currency="EUR")], recent)  # fmt: skip
    await _attempt(store, recent + 2, "dead", 400, '{"error": "invalid parameter"}')
    await store.enqueue([row(recent, "evt-C-0001", tag="hook", platform="webhook",
                             lead_id="L-2")], recent)  # fmt: skip
    await _attempt(store, recent + 3, "failed", 503, "busy\nretry later")
    await _attempt(store, recent + 4, "dead", 500, "server error")
    await store.enqueue(
        [row(recent, "evt-D-0001", tag="hook", platform="webhook", held=True),
         row(recent, "evt-E-0001", tag="hook", platform="webhook", event="purchase")],
        recent,
    )  # fmt: skip


def now_ms() -> int:
    return int(time.time() * 1000)


def filled_database(path: Path) -> Path:
    """A SQLite database at `path` holding the rows above, queued relative to now."""

    async def run() -> None:
        store = SQLiteStore(path)
        await store.open()
        try:
            await fill_store(store, now_ms())
        finally:
            await store.close()

    asyncio.run(run())
    return path


def states(path: Path) -> dict[str, str]:
    """Each row's state by its event id (read through the store's history)."""

    async def run() -> dict[str, str]:
        store = SQLiteStore(path)
        await store.open()
        try:
            entries = await store.history(OutboxFilter(), 1000, 0)
        finally:
            await store.close()
        return {entry.event_id: entry.state for entry in entries}

    return asyncio.run(run())
