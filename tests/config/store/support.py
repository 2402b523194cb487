"""What the store tests share: a fresh store of either backend, a second one on the same
data (another process, another node), rows, versions and secrets to store, and a look at
the stored tables from outside the store."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import psycopg
from psycopg import sql

from config.postgres_store import PostgresStore
from config.sqlite_store import SQLiteStore
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


async def fresh_store(request, tmp_path):
    """A new, unopened store of the test's backend with no data in it: a new SQLite file,
    or the session's PostgreSQL schema with every table emptied and its ids restarted
    (the first test's store creates and migrates it)."""
    if request.param == "sqlite":
        return SQLiteStore(tmp_path / "tagwire.db")
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("postgres_schema")
    with psycopg.connect(url) as conn:
        # DELETE and RESTART, not TRUNCATE: on tables this small it is about three times
        # faster (TRUNCATE makes new files for every table).
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s"
            " AND tablename <> 'schema_migrations'",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, table)))
        identities = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND is_identity = 'YES'",
            (schema,),
        ).fetchall()
        for table, column in identities:
            conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} RESTART").format(
                    sql.Identifier(schema, table), sql.Identifier(column)
                )
            )
    return PostgresStore(url, schema=schema, min_size=1, max_size=4)


def twin(store):
    """Another store on the same data, as a second process or node would open it."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    return PostgresStore(store.url, schema=store.schema, min_size=1, max_size=4)


def query(store, text, params=()):
    """Rows of one statement run beside the store (`?` placeholders), on either backend;
    `store` may also be the path of a SQLite file."""
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.url, options=f"-c search_path={store.schema}") as conn:
            return conn.execute(text.replace("?", "%s"), params).fetchall()
    conn = sqlite3.connect(store.path if isinstance(store, SQLiteStore) else store)
    try:
        return conn.execute(text, params).fetchall()
    finally:
        conn.close()


def detail(stored: Any) -> dict[str, Any]:
    """An audit row's detail as the table returned it: JSON text (SQLite) or a parsed
    JSON value (PostgreSQL)."""
    return orjson.loads(stored) if isinstance(stored, str | bytes) else stored


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
