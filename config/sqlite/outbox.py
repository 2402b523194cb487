"""The outbox: group-committed rows in, claimed rows out, outcomes and their history back.

A commit is one multi-row INSERT per 500 rows, whatever the number of requests that
share it (see `insert_rows`). Failed tag runs committed with them go in one by one with
their first history entry: they are rare, and each needs its row id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from config.sqlite.connection import SQLiteConnection
from config.sqlite.fire_once import first_per_key, take_keys
from config.sqlite.transaction import transaction
from config.storage import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    RESPONSE_LIMIT,
    RUN_METHOD,
    Delivery,
    FailedRun,
    OutboxItem,
    OutboxRow,
)

__all__ = ["SQLiteOutbox", "insert_failed_run", "insert_rows"]

# Rows per INSERT statement: 16 parameters each stays far below SQLite's 32766 limit.
_INSERT_CHUNK = 500
_OUTBOX_VALUES = "(" + ",".join("?" * len(OutboxRow._fields)) + ")"
_OUTBOX_COLUMNS = ",".join(f"column{i}" for i in range(1, len(OutboxRow._fields)))


class SQLiteOutbox(SQLiteConnection):
    """The `OutboxStore` role."""

    async def enqueue(
        self,
        rows: list[OutboxRow],
        now_ms: int,
        fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS,
        failures: Sequence[FailedRun] = (),
    ) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            fresh = first_per_key(rows)
            if not fresh:
                chunks = []  # only failed runs: an INSERT with no VALUES is a syntax error
            elif len(fresh) <= _INSERT_CHUNK:
                chunks = [fresh]
            else:
                chunks = [fresh[i : i + _INSERT_CHUNK] for i in range(0, len(fresh), _INSERT_CHUNK)]
            # Four steps per commit whatever its size (BEGIN, rows, keys, COMMIT): the rows
            # go in where their key is free, then the keys are taken. No RETURNING, which
            # would step, and hand the GIL over, once per row.
            new = 0
            with transaction(conn):
                for chunk in chunks:
                    new += insert_rows(conn, chunk, now_ms)
                    take_keys(conn, chunk, now_ms, now_ms + fire_once_ttl_ms)
                for failure in failures:
                    insert_failed_run(conn, failure, now_ms)
            return new

        if not rows and not failures:
            return 0
        return await self._run(insert)

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        def claim(conn: sqlite3.Connection) -> list[OutboxItem]:
            with transaction(conn):
                rows = conn.execute(
                    "UPDATE outbox SET state = 'inflight' WHERE id IN ("
                    " SELECT id FROM outbox WHERE state IN ('pending', 'failed')"
                    " AND next_attempt_at <= ? AND method <> ?"
                    " ORDER BY next_attempt_at, id LIMIT ?)"
                    " RETURNING id, container_id, tag_id, platform, destination, method, url,"
                    " headers, body, attempts, event_time_ms, created_at",
                    (now_ms, RUN_METHOD, limit),
                ).fetchall()
            return [OutboxItem(*row) for row in sorted(rows)]

        return await self._run(claim)

    async def record(self, deliveries: list[Delivery]) -> None:
        def record(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "UPDATE outbox SET state = ?, attempts = attempts + 1, last_status = ?,"
                    " last_response = ?, next_attempt_at = ?,"
                    " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
                    [(d.state, d.status, d.response[:RESPONSE_LIMIT], d.next_attempt_at, d.state,
                      d.at, d.id) for d in deliveries],
                )  # fmt: skip
                # Attempt numbers count every attempt of a row, also across replays.
                conn.executemany(
                    "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response,"
                    " duration_ms, batch_size)"
                    " SELECT id, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts"
                    " WHERE outbox_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7 FROM outbox WHERE id = ?1",
                    [(d.id, d.at, d.status, d.state, d.response[:RESPONSE_LIMIT], d.duration_ms,
                      d.batch_size) for d in deliveries],
                )  # fmt: skip

        await self._run(record)

    async def defer(self, ids: list[int], next_attempt_at: int) -> None:
        def defer(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                for start in range(0, len(ids), _INSERT_CHUNK):
                    chunk = ids[start : start + _INSERT_CHUNK]
                    conn.execute(
                        "UPDATE outbox SET state = 'pending', next_attempt_at = ?"
                        f" WHERE state = 'inflight' AND id IN ({','.join('?' * len(chunk))})",
                        [next_attempt_at, *chunk],
                    )

        if ids:
            await self._run(defer)

    async def release_inflight(self) -> int:
        def release(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return conn.execute(
                    "UPDATE outbox SET state = 'pending' WHERE state = 'inflight'"
                ).rowcount

        return await self._run(release)

    async def outbox_counts(self) -> dict[str, int]:
        def counts(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
            return dict(rows)

        return await self._run(counts)


def insert_rows(conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int) -> int:
    """One multi-row INSERT of the rows whose fire-once key is free or expired; how many.

    A single statement, so SQLite runs it in one step and this thread hands the GIL back
    and forth once per commit instead of once per row (per-row handoffs made a 5-row
    commit take over a millisecond while the event loop was busy). The rows are bound as
    they are: the last field, `held`, becomes the state.
    """
    params: list[object] = [now_ms]
    for row in rows:
        params.extend(row)
    return conn.execute(
        "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
        " event_name, event_id, dedup_key, platform, event_time_ms, lead_id, value, currency,"
        f" state, next_attempt_at, created_at) SELECT {_OUTBOX_COLUMNS},"
        f" CASE WHEN column{len(OutboxRow._fields)} THEN 'held' ELSE 'pending' END, ?1, ?1"
        " FROM (VALUES "
        + ",".join([_OUTBOX_VALUES] * len(rows))
        + ") WHERE column10 IS NULL OR NOT EXISTS (SELECT 1 FROM fire_once AS f"
        " WHERE f.container_id = column1 AND f.tag_id = column2 AND f.dedup_key = column10"
        " AND f.expires_at > ?1)",
        params,
    ).rowcount


def insert_failed_run(conn: sqlite3.Connection, failure: FailedRun, now_ms: int) -> None:
    """A failed tag run as a `RUN` row (held, dead, or failed until `next_attempt_at`)
    with the failure as its first attempt, so the history shows it from the start."""
    row = failure.row
    response = f"{failure.kind}: {failure.error}"[:RESPONSE_LIMIT]
    retry_at = failure.next_attempt_at
    outcome = "dead" if retry_at is None else "failed"
    state = "held" if row.held else outcome
    cursor = conn.execute(
        "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
        " event_name, event_id, dedup_key, platform, event_time_ms, lead_id, value, currency,"
        " state, attempts, last_response, next_attempt_at, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?)",
        (*row[:-1], state, response, now_ms if retry_at is None else retry_at, now_ms),
    )
    conn.execute(
        "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response, duration_ms,"
        " batch_size) VALUES (?, 1, ?, NULL, ?, ?, 0, 1)",
        (cursor.lastrowid, now_ms, outcome, response),
    )
