"""Fire-once keys: which keys a commit takes, and forgetting expired ones.

`enqueue` (in `config.sqlite.outbox`) drops a row whose key is taken and unexpired, and
takes the keys of the rows it keeps with `take_keys`; the keys outlive their rows.
"""

from __future__ import annotations

import sqlite3

from config.sqlite.connection import SQLiteConnection
from config.storage import OutboxRow

__all__ = ["SQLiteFireOnce", "first_per_key", "take_keys"]


class SQLiteFireOnce(SQLiteConnection):
    """The `FireOnceStore` role."""

    async def expire_fire_once(self, now_ms: int) -> int:
        return await self._delete_in_steps(
            "DELETE FROM fire_once WHERE (container_id, tag_id, dedup_key) IN ("
            " SELECT container_id, tag_id, dedup_key FROM fire_once WHERE expires_at <= ?"
            " LIMIT ?)",
            now_ms,
        )


def first_per_key(rows: list[OutboxRow]) -> list[OutboxRow]:
    """Drop later copies of a fire-once key within one commit: the first copy wins."""
    if len(rows) < 2:
        return rows
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for row in rows:
        key = row.dedup_key
        if key is not None:
            ident = (row.container_id, row.tag_id, key)
            if ident in seen:
                continue
            seen.add(ident)
        kept.append(row)
    return kept


def take_keys(
    conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int, expires_at: int
) -> None:
    """Take the rows' fire-once keys until `expires_at`; a key still live keeps its expiry
    (its row was just dropped), an expired one is taken anew. Runs after the outbox's INSERT,
    which must still see the keys as they were."""
    params: list[object] = []
    for row in rows:
        if row.dedup_key is not None:
            params.extend((row.container_id, row.tag_id, row.dedup_key, expires_at))
    if not params:
        return
    params.append(now_ms)
    conn.execute(
        "INSERT INTO fire_once (container_id, tag_id, dedup_key, expires_at) VALUES "
        + ",".join(["(?,?,?,?)"] * (len(params) // 4))
        + " ON CONFLICT (container_id, tag_id, dedup_key) DO UPDATE"
        " SET expires_at = excluded.expires_at WHERE fire_once.expires_at <= ?",
        params,
    )
