"""Failed tag runs waiting to run again: claimed by the tag retrier, settled in place.

A `RUN` row that runs again successfully becomes the first request it queued (same id,
so its history shows the failure, the run that worked, then the sends); the other
requests are added as new rows. Both go through the fire-once rules: a retried run can
never send what an earlier copy of the hit already sent.
"""

from __future__ import annotations

import sqlite3

from config.sqlite.connection import SQLiteConnection
from config.sqlite.fire_once import first_per_key, take_keys
from config.sqlite.outbox import insert_rows
from config.sqlite.transaction import transaction
from config.storage import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    RESPONSE_LIMIT,
    RUN_METHOD,
    OutboxRow,
    RunItem,
    RunOutcome,
)

__all__ = ["SQLiteTagRuns"]

# Through the partial index `outbox_runs_due`, named: otherwise SQLite walks `outbox_due`
# over every pending request row. The method is written into the statement, not bound,
# because a partial index serves only a WHERE that visibly implies its own.
_CLAIM_RUNS = (
    "UPDATE outbox SET state = 'inflight', claimed_by = ? WHERE id IN ("
    f" SELECT id FROM outbox INDEXED BY outbox_runs_due WHERE method = '{RUN_METHOD}'"
    " AND state IN ('pending', 'failed')"
    " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)"
    " RETURNING id, container_id, tag_id, body, attempts"
)


class SQLiteTagRuns(SQLiteConnection):
    """The `TagRunStore` role."""

    async def claim_runs(self, limit: int, now_ms: int) -> list[RunItem]:
        node = self._node_key

        def claim(conn: sqlite3.Connection) -> list[RunItem]:
            with transaction(conn):
                rows = conn.execute(_CLAIM_RUNS, (node, now_ms, limit)).fetchall()
            return [RunItem(*row) for row in sorted(rows)]

        return await self._run(claim)

    async def settle_runs(
        self, outcomes: list[RunOutcome], fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS
    ) -> None:
        def settle(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                for outcome in outcomes:
                    _settle(conn, outcome, fire_once_ttl_ms)

        if outcomes:
            await self._run(settle)


def _settle(conn: sqlite3.Connection, outcome: RunOutcome, ttl_ms: int) -> None:
    # Only a row still inflight is settled: a late or repeated outcome must not add history,
    # queue requests or take fire-once keys for a row that is no longer this run's.
    if (
        conn.execute(
            "SELECT 1 FROM outbox WHERE id = ? AND state = 'inflight'", (outcome.id,)
        ).fetchone()
        is None
    ):
        return
    at = outcome.at
    if outcome.rows is None:
        conn.execute(
            "UPDATE outbox SET state = ?, attempts = attempts + 1, last_response = ?,"
            " next_attempt_at = ? WHERE id = ? AND state = 'inflight'",
            (outcome.state, outcome.response[:RESPONSE_LIMIT], outcome.next_attempt_at,
             outcome.id),
        )  # fmt: skip
        _history(conn, outcome.id, at, outcome.state, outcome.response)
        return
    rows = first_per_key(outcome.rows)
    if not rows:
        response = "the template ran again and queued no request"
        conn.execute(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_response = ?,"
            " sent_at = ? WHERE id = ? AND state = 'inflight'",
            (response, at, outcome.id),
        )
        _history(conn, outcome.id, at, "sent", response)
        return
    first, rest = rows[0], rows[1:]
    if _key_taken(conn, first, at):
        response = f"the template ran again; fire-once key {first.dedup_key} was already used"
        conn.execute(
            "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_response = ?"
            " WHERE id = ? AND state = 'inflight'",
            (response[:RESPONSE_LIMIT], outcome.id),
        )
        _history(conn, outcome.id, at, "dead", response)
    else:
        # The row becomes its first request, due now, with the sender's attempts to come.
        conn.execute(
            "UPDATE outbox SET destination = ?, method = ?, url = ?, headers = ?, body = ?,"
            " dedup_key = ?, state = 'pending', attempts = 0, last_response = ?,"
            " next_attempt_at = ? WHERE id = ? AND state = 'inflight'",
            (first.destination, first.method, first.url, first.headers, first.body,
             first.dedup_key, outcome.response[:RESPONSE_LIMIT], at, outcome.id),
        )  # fmt: skip
        _history(conn, outcome.id, at, "ran", outcome.response)
        take_keys(conn, [first], at, at + ttl_ms)
    if rest:
        insert_rows(conn, rest, at)
        take_keys(conn, rest, at, at + ttl_ms)


def _key_taken(conn: sqlite3.Connection, row: OutboxRow, now_ms: int) -> bool:
    if row.dedup_key is None:
        return False
    return (
        conn.execute(
            "SELECT 1 FROM fire_once WHERE container_id = ? AND tag_id = ? AND dedup_key = ?"
            " AND expires_at > ?",
            (row.container_id, row.tag_id, row.dedup_key, now_ms),
        ).fetchone()
        is not None
    )


def _history(conn: sqlite3.Connection, outbox_id: int, at: int, outcome: str, text: str) -> None:
    """Attempt numbers go on from the row's earlier entries, failures and sends alike."""
    conn.execute(
        "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response, duration_ms,"
        " batch_size) SELECT ?1, COALESCE(MAX(attempt), 0) + 1, ?2, NULL, ?3, ?4, 0, 1"
        " FROM attempts WHERE outbox_id = ?1",
        (outbox_id, at, outcome, text[:RESPONSE_LIMIT]),
    )
