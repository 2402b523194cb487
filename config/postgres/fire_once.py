"""Fire-once keys: taking them atomically, and forgetting expired ones.

Where the SQLite store inserts rows and then takes their keys under its single writer,
here many nodes write at once, so the keys are taken first, by one
`INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`: of two transactions racing
for one key, the second waits for the first to commit and then gets nothing back. Only
the rows whose key came back (and rows without a key) go in.
"""

from __future__ import annotations

from psycopg import AsyncConnection

from config.postgres.connection import PostgresConnection, Row
from config.sqlite.fire_once import first_per_key
from config.storage import OutboxRow

__all__ = ["PostgresFireOnce", "first_per_key", "keyed", "take_keys"]

Key = tuple[str, str, str]


class PostgresFireOnce(PostgresConnection):
    """The `FireOnceStore` role."""

    async def expire_fire_once(self, now_ms: int) -> int:
        return await self._delete_in_steps(
            "DELETE FROM fire_once WHERE (container_id, tag_id, dedup_key) IN ("
            " SELECT container_id, tag_id, dedup_key FROM fire_once WHERE expires_at <= %s"
            " LIMIT %s)",
            now_ms,
        )


async def take_keys(
    conn: AsyncConnection[Row], rows: list[OutboxRow], now_ms: int, expires_at: int
) -> set[Key]:
    """Take the rows' free or expired fire-once keys until `expires_at`; the keys taken.

    A key still live keeps its expiry and is not returned (its row must be dropped). Keys
    are taken in sorted order, so two commits sharing keys never wait on each other in a
    cycle."""
    keys = sorted({key for row in rows if (key := keyed(row)) is not None})
    if not keys:
        return set()
    containers, tags, dedup_keys = (list(column) for column in zip(*keys, strict=True))
    cursor = await conn.execute(
        "INSERT INTO fire_once (container_id, tag_id, dedup_key, expires_at)"
        " SELECT c, t, k, %s FROM unnest(%s::text[], %s::text[], %s::text[])"
        " WITH ORDINALITY AS v(c, t, k, n) ORDER BY n"
        " ON CONFLICT (container_id, tag_id, dedup_key) DO UPDATE"
        " SET expires_at = excluded.expires_at WHERE fire_once.expires_at <= %s"
        " RETURNING container_id, tag_id, dedup_key",
        (expires_at, containers, tags, dedup_keys, now_ms),
    )
    return {(c, t, k) for c, t, k in await cursor.fetchall()}


def keyed(row: OutboxRow) -> Key | None:
    """The row's fire-once key as `take_keys` returns it; None when it has none."""
    return None if row.dedup_key is None else (row.container_id, row.tag_id, row.dedup_key)
