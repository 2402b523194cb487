"""Failed tag runs waiting to run again: claimed by the tag retrier, settled in place, with
the semantics of `config.sqlite.tag_runs`.

Claiming locks with `FOR UPDATE SKIP LOCKED` as the sender's claim does, and settling
locks the row first, so a late or repeated outcome (another node's, say) finds it no
longer inflight and changes nothing. The requests a run queues go through the fire-once
keys like any commit: a retried run never sends what an earlier copy of the hit sent.
"""

from __future__ import annotations

from psycopg import AsyncConnection

from config.postgres.connection import PostgresConnection, Row
from config.postgres.fire_once import first_per_key, keyed, take_keys
from config.postgres.outbox import insert_fresh
from config.storage import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    RESPONSE_LIMIT,
    RUN_METHOD,
    RunItem,
    RunOutcome,
)

__all__ = ["PostgresTagRuns"]


class PostgresTagRuns(PostgresConnection):
    """The `TagRunStore` role."""

    async def claim_runs(self, limit: int, now_ms: int) -> list[RunItem]:
        rows = await self._fetchall(
            "UPDATE outbox SET state = 'inflight', claimed_by = %s WHERE id IN ("
            " SELECT id FROM outbox WHERE method = %s AND state IN ('pending', 'failed')"
            " AND next_attempt_at <= %s ORDER BY next_attempt_at, id LIMIT %s"
            " FOR UPDATE SKIP LOCKED) RETURNING id, container_id, tag_id, body, attempts",
            (self._node_key, RUN_METHOD, now_ms, limit),
        )
        return [RunItem(*row) for row in sorted(rows)]

    async def settle_runs(
        self, outcomes: list[RunOutcome], fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS
    ) -> None:
        if not outcomes:
            return
        async with self._transaction() as conn:
            for outcome in outcomes:
                await _settle(conn, outcome, fire_once_ttl_ms)


async def _settle(conn: AsyncConnection[Row], outcome: RunOutcome, ttl_ms: int) -> None:
    cursor = await conn.execute(
        "SELECT 1 FROM outbox WHERE id = %s AND state = 'inflight' FOR UPDATE", (outcome.id,)
    )
    if await cursor.fetchone() is None:
        return
    at = outcome.at
    if outcome.rows is None:
        await conn.execute(
            "UPDATE outbox SET state = %s, attempts = attempts + 1, last_response = %s,"
            " next_attempt_at = %s WHERE id = %s",
            (outcome.state, outcome.response[:RESPONSE_LIMIT], outcome.next_attempt_at,
             outcome.id),
        )  # fmt: skip
        await _history(conn, outcome.id, at, outcome.state, outcome.response)
        return
    rows = first_per_key(outcome.rows)
    if not rows:
        response = "the template ran again and queued no request"
        await conn.execute(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_response = %s,"
            " sent_at = %s WHERE id = %s",
            (response, at, outcome.id),
        )
        await _history(conn, outcome.id, at, "sent", response)
        return
    first, rest = rows[0], rows[1:]
    key = keyed(first)
    if key is not None and key not in await take_keys(conn, [first], at, at + ttl_ms):
        response = f"the template ran again; fire-once key {first.dedup_key} was already used"
        await conn.execute(
            "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_response = %s"
            " WHERE id = %s",
            (response[:RESPONSE_LIMIT], outcome.id),
        )
        await _history(conn, outcome.id, at, "dead", response)
    else:
        # The row becomes its first request, due now, with the sender's attempts to come.
        await conn.execute(
            "UPDATE outbox SET destination = %s, method = %s, url = %s, headers = %s,"
            " body = %s, dedup_key = %s, state = 'pending', attempts = 0, last_response = %s,"
            " next_attempt_at = %s WHERE id = %s",
            (first.destination, first.method, first.url, first.headers, first.body,
             first.dedup_key, outcome.response[:RESPONSE_LIMIT], at, outcome.id),
        )  # fmt: skip
        await _history(conn, outcome.id, at, "ran", outcome.response)
    if rest:
        await insert_fresh(conn, rest, at, at + ttl_ms)


async def _history(
    conn: AsyncConnection[Row], outbox_id: int, at: int, outcome: str, text: str
) -> None:
    """Attempt numbers go on from the row's earlier entries, failures and sends alike."""
    await conn.execute(
        "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response, duration_ms,"
        " batch_size) SELECT %s, COALESCE(MAX(attempt), 0) + 1, %s, NULL, %s, %s, 0, 1"
        " FROM attempts WHERE outbox_id = %s",
        (outbox_id, at, outcome, text[:RESPONSE_LIMIT], outbox_id),
    )
