"""The outbox: group-committed rows in, claimed rows out, outcomes and their history back.

A commit is one multi-row INSERT per 500 rows, whatever the number of requests that
share it (see `insert_rows`), and one more for the fire-once keys when a row has one.
Failed tag runs committed with them go in one by one with their first history entry:
they are rare, and each needs its row id. Outcomes go the same way: one UPDATE of the
rows and one INSERT of their history entries per 500 outcomes (see `record`).

Prepared statements: each multi-row statement is written for a fixed number of rows (1,
2, 4, … 256, 500) and the rows are padded up to it with NULL rows that the statement
skips, so a handful of statement texts serve every commit and sqlite3's statement cache
(128 texts) keeps them compiled. Written for the exact count, a commit of 37 rows and one
of 38 would each compile a statement of their own, and a busy node would keep
evicting and compiling them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from config.sqlite.connection import SQLiteConnection
from config.sqlite.fire_once import first_per_key
from config.sqlite.liveness import ORPHANED, RELEASABLE
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

# Rows per statement: 16 parameters each stays far below SQLite's 32766 limit.
_INSERT_CHUNK = 500
# The row counts statements are written for; a chunk is padded up to the next one.
_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, _INSERT_CHUNK)
_FIELDS = len(OutboxRow._fields)
_OUTBOX_VALUES = "(" + ",".join("?" * _FIELDS) + ")"
_OUTBOX_COLUMNS = ",".join(f"column{i}" for i in range(1, _FIELDS))
_OUTBOX_PAD = (None,) * _FIELDS
# An outcome as `record` binds it: id, state, status, response, next_attempt_at, at,
# duration_ms, batch_size.
_OUTCOME_FIELDS = 8
_OUTCOME_PAD = (None,) * _OUTCOME_FIELDS


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
            # At most four steps per commit whatever its size (BEGIN, rows, keys, COMMIT):
            # the rows go in where their key is free, then the keys are taken; a chunk
            # whose tags have no fire-once scope (`fire_once: none`) takes none. No
            # RETURNING, which would step, and hand the GIL over, once per row.
            new = 0
            with transaction(conn):
                for chunk in chunks:
                    new += insert_rows(conn, chunk, now_ms)
                    _take_keys(conn, chunk, now_ms, now_ms + fire_once_ttl_ms)
                for failure in failures:
                    insert_failed_run(conn, failure, now_ms)
            return new

        if not rows and not failures:
            return 0
        return await self._run(insert)

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        node = self._node_key

        def claim(conn: sqlite3.Connection) -> list[OutboxItem]:
            with transaction(conn):
                rows = conn.execute(
                    "UPDATE outbox SET state = 'inflight', claimed_by = ? WHERE id IN ("
                    " SELECT id FROM outbox WHERE state IN ('pending', 'failed')"
                    " AND next_attempt_at <= ? AND method <> ?"
                    " ORDER BY next_attempt_at, id LIMIT ?)"
                    " RETURNING id, container_id, tag_id, platform, destination, method, url,"
                    " headers, body, attempts, event_time_ms, created_at",
                    (node, now_ms, RUN_METHOD, limit),
                ).fetchall()
            return [OutboxItem(*row) for row in sorted(rows)]

        return await self._run(claim)

    async def record(self, deliveries: list[Delivery]) -> None:
        """Each outcome updates its row and appends its history entry: two statements per
        500 outcomes, each one step (the GIL changes hands twice, not twice per row). An
        outcome for a row that is gone changes nothing and adds no entry."""

        def record(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                for group in _distinct_runs(deliveries):
                    for start in range(0, len(group), _INSERT_CHUNK):
                        _record_chunk(conn, group[start : start + _INSERT_CHUNK])

        if deliveries:
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
        """This process's inflight rows and those of processes that are gone; never the
        rows a live sibling worker is sending (see `config.sqlite.liveness`)."""
        return await self._release(RELEASABLE)

    async def release_orphans(self) -> int:
        return await self._release(ORPHANED)

    async def _release(self, which: str) -> int:
        node = self._node_key

        def release(conn: sqlite3.Connection) -> int:
            live = orjson.dumps(self._node.live_keys()).decode()
            with transaction(conn):
                return conn.execute(
                    f"UPDATE outbox SET state = 'pending' WHERE state = 'inflight' AND {which}",
                    (node, live),
                ).rowcount

        return await self._run(release)

    async def outbox_counts(self) -> dict[str, int]:
        def counts(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
            return dict(rows)

        return await self._run(counts)


# For each row count up to a chunk, the size of the statement that takes it.
_SIZE_OF = [next(size for size in _SIZES if size >= count) for count in range(_INSERT_CHUNK + 1)]


def _insert_sql(size: int) -> str:
    return (
        "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
        " event_name, event_id, dedup_key, platform, event_time_ms, lead_id, value, currency,"
        f" state, next_attempt_at, created_at) SELECT {_OUTBOX_COLUMNS},"
        f" CASE WHEN column{_FIELDS} THEN 'held' ELSE 'pending' END, ?1, ?1"
        " FROM (VALUES "
        + ",".join([_OUTBOX_VALUES] * size)
        + ") WHERE column1 IS NOT NULL AND (column10 IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM fire_once AS f WHERE f.container_id = column1 AND f.tag_id = column2"
        " AND f.dedup_key = column10 AND f.expires_at > ?1))"
    )


def _keys_sql(size: int) -> str:
    # Numbered parameters: ?1 the expiry, ?2 now, then three per key.
    values = ",".join(f"(?{3 * i + 3},?{3 * i + 4},?{3 * i + 5})" for i in range(size))
    return (
        "INSERT INTO fire_once (container_id, tag_id, dedup_key, expires_at)"
        f" SELECT column1, column2, column3, ?1 FROM (VALUES {values})"
        " WHERE column3 IS NOT NULL"
        " ON CONFLICT (container_id, tag_id, dedup_key) DO UPDATE"
        " SET expires_at = excluded.expires_at WHERE fire_once.expires_at <= ?2"
    )


def _outcome_values(size: int) -> str:
    return ",".join(["(" + ",".join("?" * _OUTCOME_FIELDS) + ")"] * size)


def _update_sql(size: int) -> str:
    return (
        "UPDATE outbox SET state = v.column2, attempts = attempts + 1, last_status = v.column3,"
        " last_response = v.column4, next_attempt_at = v.column5,"
        " sent_at = CASE WHEN v.column2 = 'sent' THEN v.column6 ELSE sent_at END"
        f" FROM (VALUES {_outcome_values(size)}) AS v WHERE outbox.id = v.column1"
    )


def _attempts_sql(size: int) -> str:
    # Attempt numbers count every attempt of a row, also across replays.
    return (
        "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response, duration_ms,"
        " batch_size) SELECT v.column1, (SELECT COALESCE(MAX(a.attempt), 0) + 1"
        " FROM attempts AS a WHERE a.outbox_id = v.column1), v.column6, v.column3, v.column2,"
        " v.column4, v.column7, v.column8"
        f" FROM (VALUES {_outcome_values(size)}) AS v"
        " WHERE EXISTS (SELECT 1 FROM outbox AS o WHERE o.id = v.column1)"
    )


_INSERT_SQL = {size: _insert_sql(size) for size in _SIZES}
_KEYS_SQL = {size: _keys_sql(size) for size in _SIZES}
_UPDATE_SQL = {size: _update_sql(size) for size in _SIZES}
_ATTEMPTS_SQL = {size: _attempts_sql(size) for size in _SIZES}


def insert_rows(conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int) -> int:
    """Multi-row INSERTs (one per 500 rows) of the rows whose fire-once key is free or
    expired; how many.

    One statement per chunk, so SQLite runs it in one step and this thread hands the GIL
    back and forth once per commit instead of once per row (per-row handoffs made a 5-row
    commit take over a millisecond while the event loop was busy). The rows are bound as
    they are, padded with NULL rows up to the statement's size: the last field, `held`,
    becomes the state.
    """
    new = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        size = _SIZE_OF[len(chunk)]
        params: list[object] = [now_ms]
        for row in chunk:
            params.extend(row)
        params.extend(_OUTBOX_PAD * (size - len(chunk)))
        new += conn.execute(_INSERT_SQL[size], params).rowcount
    return new


def _take_keys(
    conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int, expires_at: int
) -> None:
    """Take the rows' fire-once keys until `expires_at` (at most 500 rows), as
    `config.sqlite.fire_once.take_keys` does, with a prepared statement: a key still live
    keeps its expiry (its row was just dropped), an expired one is taken anew. Rows
    without a key take nothing, and without any key there is no statement at all."""
    params: list[object] = [expires_at, now_ms]
    count = 0
    for row in rows:
        if row.dedup_key is not None:
            params.extend((row.container_id, row.tag_id, row.dedup_key))
            count += 1
    if not count:
        return
    size = _SIZE_OF[count]
    params.extend((None, None, None) * (size - count))
    conn.execute(_KEYS_SQL[size], params)


def _distinct_runs(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """The outcomes in order, cut where a row comes again: one statement updates each row
    at most once, and the second outcome of a row must see the first."""
    runs: list[list[Delivery]] = [[]]
    seen: set[int] = set()
    for delivery in deliveries:
        if delivery.id in seen:
            runs.append([])
            seen = set()
        seen.add(delivery.id)
        runs[-1].append(delivery)
    return runs


def _record_chunk(conn: sqlite3.Connection, deliveries: list[Delivery]) -> None:
    """Up to 500 outcomes of distinct rows: the rows first, then their history entries."""
    size = _SIZE_OF[len(deliveries)]
    params: list[object] = []
    for d in deliveries:
        params.extend((d.id, d.state, d.status, d.response[:RESPONSE_LIMIT], d.next_attempt_at,
                       d.at, d.duration_ms, d.batch_size))  # fmt: skip
    params.extend(_OUTCOME_PAD * (size - len(deliveries)))
    conn.execute(_UPDATE_SQL[size], params)
    conn.execute(_ATTEMPTS_SQL[size], params)


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
