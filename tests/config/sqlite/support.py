"""What the SQLite store's tests share: rows, versions and secrets to store, and a look
at the database file from outside the store."""

from __future__ import annotations

import sqlite3

from config.storage import Delivery, OutboxFilter, OutboxRow, StoredSecret, StoredVersion

HOUR = 3_600_000
TTL = 48 * HOUR
EVERYTHING = OutboxFilter()


def row(key="event_id:e1", *, tag="hook", container="shop", platform="webhook", event="lead",
        event_id="e1", lead=None, value=None, currency=None, held=False, event_time=1,
        destination="hooks.example.com"):  # fmt: skip
    return OutboxRow(container, tag, destination, "POST", f"https://{destination}/x", b"{}",
                     b'{"event":"Lead"}', event, event_id, key, platform, event_time, lead, value,
                     currency, held)  # fmt: skip


def version(number, *, container="demo", parent=None, created=1000, note="", archived=None):
    return StoredVersion(
        container_id=container,
        number=number,
        parent=parent,
        author="ana",
        note=note or f"v{number}",
        created_at_ms=created + number,
        body=b'{"kind":"tagwire-container-version/1","number":%d}' % number,
        signature=f"sig-{number}",
        key_id="k1",
        archived_at_ms=archived,
    )


def secret(name="api_key", *, container="demo", ciphertext=b"\x01" * 32, at=5000, by="ana"):
    return StoredSecret(container, name, b"\x00" * 12, ciphertext, "sk1", at, by)


def query(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def actions(entries):
    return [(entry.action, entry.container_id, entry.detail) for entry in entries]


async def filled(store):
    """Rows that each differ from the first in one filtered field."""
    await store.enqueue([
        row("1", lead="L-1"),
        row("2", container="other", lead="L-1"),
        row("3", tag="t2"),
        row("4", platform="meta"),
        row("5", event="purchase"),
        row("6", lead="L-2"),
    ], 100, TTL)  # fmt: skip
    await store.enqueue([row("7")], 200, TTL)
    (item,) = await store.claim(1, 100)
    await store.record([Delivery(item.id, "dead", 400, "bad", 100, 150)])
