"""The outbox: group-committed rows in, claimed rows out, outcomes and their history back.

A commit is one transaction of at most three statements whatever its size: the fire-once
keys (see `config.postgres.fire_once`), then every kept row in one INSERT over `unnest`
of one array per column, then nothing else unless a failed tag run came with it. The
claim locks its rows with `FOR UPDATE SKIP LOCKED`, so nodes claiming at once each get
rows no other node got, without waiting on each other. Outcomes go back as one UPDATE of
the rows and one INSERT of their history entries per group of distinct rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import AsyncConnection

from config.postgres.connection import PostgresConnection, Row
from config.postgres.fire_once import first_per_key, keyed, take_keys
from config.postgres.liveness import ORPHANED, RELEASABLE
from config.storage import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    RESPONSE_LIMIT,
    RUN_METHOD,
    Delivery,
    FailedRun,
    OutboxItem,
    OutboxRow,
)

__all__ = ["PostgresOutbox", "insert_failed_run", "insert_fresh"]

_ITEM_COLUMNS = (
    "id, container_id, tag_id, platform, destination, method, url, headers, body, attempts,"
    " event_time_ms, created_at"
)
# One array per `OutboxRow` field, in its order; `held` becomes the state.
_ARRAY_TYPES = (
    "text", "text", "text", "text", "text", "bytea", "bytea", "text", "text", "text", "text",
    "int8", "text", "float8", "text", "bool",
)  # fmt: skip
assert len(_ARRAY_TYPES) == len(OutboxRow._fields), "one array type per OutboxRow field"
_INSERT_ROWS = (
    "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
    " event_name, event_id, dedup_key, platform, event_time_ms, lead_id, value, currency,"
    " state, next_attempt_at, created_at)"
    " SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15,"
    " CASE WHEN c16 THEN 'held' ELSE 'pending' END, %s, %s FROM unnest("
    + ", ".join(f"%s::{kind}[]" for kind in _ARRAY_TYPES)
    + ") WITH ORDINALITY AS v(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14,"
    " c15, c16, n) ORDER BY n"
)


class PostgresOutbox(PostgresConnection):
    """The `OutboxStore` role."""

    async def enqueue(
        self,
        rows: list[OutboxRow],
        now_ms: int,
        fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS,
        failures: Sequence[FailedRun] = (),
    ) -> int:
        if not rows and not failures:
            return 0
        async with self._transaction() as conn:
            new = await insert_fresh(conn, rows, now_ms, now_ms + fire_once_ttl_ms)
            for failure in failures:
                await insert_failed_run(conn, failure, now_ms)
        return new

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        rows = await self._fetchall(
            "UPDATE outbox SET state = 'inflight', claimed_by = %s WHERE id IN ("
            " SELECT id FROM outbox WHERE state IN ('pending', 'failed')"
            " AND next_attempt_at <= %s AND method <> %s"
            " ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {_ITEM_COLUMNS}",
            (self._node_key, now_ms, RUN_METHOD, limit),
        )
        return [OutboxItem(*row) for row in sorted(rows)]

    async def record(self, deliveries: list[Delivery]) -> None:
        """An outcome for a row that is gone changes nothing and adds no entry."""
        if not deliveries:
            return
        async with self._transaction() as conn:
            for group in _distinct_runs(deliveries):
                await _record_group(conn, group)

    async def defer(self, ids: list[int], next_attempt_at: int) -> None:
        if ids:
            await self._execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = %s"
                " WHERE state = 'inflight' AND id = ANY(%s)",
                (next_attempt_at, ids),
            )

    async def release_inflight(self) -> int:
        """This node's inflight rows and those of nodes that are gone; never the rows that
        another live node is sending (see `config.postgres.liveness`)."""
        return await self._execute(
            f"UPDATE outbox SET state = 'pending' WHERE state = 'inflight' AND {RELEASABLE}",
            (self._node_key,),
        )

    async def release_orphans(self) -> int:
        return await self._execute(
            f"UPDATE outbox SET state = 'pending' WHERE state = 'inflight' AND {ORPHANED}",
            (self._node_key,),
        )

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._fetchall("SELECT state, COUNT(*) FROM outbox GROUP BY state", ())
        return {state: int(count) for state, count in rows}


async def insert_fresh(
    conn: AsyncConnection[Row], rows: list[OutboxRow], now_ms: int, expires_at: int
) -> int:
    """Take the rows' fire-once keys, then insert the rows whose key was taken (and those
    without one), the first copy of a key in `rows` winning; how many went in."""
    fresh = first_per_key(rows)
    taken = await take_keys(conn, fresh, now_ms, expires_at)
    kept = [row for row in fresh if (key := keyed(row)) is None or key in taken]
    if not kept:
        return 0
    columns = [list(column) for column in zip(*kept, strict=True)]
    cursor = await conn.execute(_INSERT_ROWS, (now_ms, now_ms, *columns))
    return cursor.rowcount


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


async def _record_group(conn: AsyncConnection[Row], deliveries: list[Delivery]) -> None:
    """Outcomes of distinct rows: the rows first, then their history entries, whose
    attempt numbers count every attempt of a row, also across replays."""
    values = (
        [d.id for d in deliveries],
        [d.state for d in deliveries],
        [d.status for d in deliveries],
        [d.response[:RESPONSE_LIMIT] for d in deliveries],
        [d.next_attempt_at for d in deliveries],
        [d.at for d in deliveries],
        [d.duration_ms for d in deliveries],
        [d.batch_size for d in deliveries],
    )
    source = (
        "unnest(%s::int8[], %s::text[], %s::int4[], %s::text[], %s::int8[], %s::int8[],"
        " %s::int4[], %s::int4[]) AS v(id, state, status, response, next_at, at, duration,"
        " batch)"
    )
    await conn.execute(
        "UPDATE outbox SET state = v.state, attempts = attempts + 1, last_status = v.status,"
        " last_response = v.response, next_attempt_at = v.next_at,"
        " sent_at = CASE WHEN v.state = 'sent' THEN v.at ELSE sent_at END"
        f" FROM {source} WHERE outbox.id = v.id",
        values,
    )
    await conn.execute(
        "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response, duration_ms,"
        " batch_size) SELECT v.id, (SELECT COALESCE(MAX(a.attempt), 0) + 1 FROM attempts AS a"
        " WHERE a.outbox_id = v.id), v.at, v.status, v.state, v.response, v.duration, v.batch"
        f" FROM {source} WHERE EXISTS (SELECT 1 FROM outbox AS o WHERE o.id = v.id)",
        values,
    )


async def insert_failed_run(conn: AsyncConnection[Row], failure: FailedRun, now_ms: int) -> None:
    """A failed tag run as a `RUN` row (held, dead, or failed until `next_attempt_at`)
    with the failure as its first attempt, so the history shows it from the start."""
    row = failure.row
    response = f"{failure.kind}: {failure.error}"[:RESPONSE_LIMIT]
    retry_at = failure.next_attempt_at
    outcome = "dead" if retry_at is None else "failed"
    state = "held" if row.held else outcome
    cursor = await conn.execute(
        "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
        " event_name, event_id, dedup_key, platform, event_time_ms, lead_id, value, currency,"
        " state, attempts, last_response, next_attempt_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s)"
        " RETURNING id",
        (*row[:-1], state, response, now_ms if retry_at is None else retry_at, now_ms),
    )
    returned = await cursor.fetchone()
    outbox_id = None if returned is None else returned[0]
    await conn.execute(
        "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response, duration_ms,"
        " batch_size) VALUES (%s, 1, %s, NULL, %s, %s, 0, 1)",
        (outbox_id, now_ms, outcome, response),
    )
