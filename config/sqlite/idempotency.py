"""The Fire API's stored answers by Idempotency-Key."""

from __future__ import annotations

import sqlite3

from config.sqlite.connection import SQLiteConnection
from config.storage import IdempotentAnswer

__all__ = ["SQLiteIdempotency"]


class SQLiteIdempotency(SQLiteConnection):
    """The `IdempotencyStore` role."""

    async def idempotent_get(self, container_id: str, key: str) -> IdempotentAnswer | None:
        def get(conn: sqlite3.Connection) -> IdempotentAnswer | None:
            row = conn.execute(
                "SELECT fingerprint, status, body, created_at FROM idempotency"
                " WHERE container_id = ? AND key = ?",
                (container_id, key),
            ).fetchone()
            return None if row is None else IdempotentAnswer(*row)

        return await self._run(get)

    async def idempotent_put(
        self, container_id: str, key: str, fingerprint: str, status: int, body: bytes, now_ms: int
    ) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO idempotency (container_id, key, fingerprint, status, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (container_id, key) DO UPDATE SET"
                " fingerprint = excluded.fingerprint, status = excluded.status,"
                " body = excluded.body, created_at = excluded.created_at",
                (container_id, key, fingerprint, status, body, now_ms),
            )
        )

    async def expire_idempotency(self, before_ms: int) -> int:
        return await self._delete_in_steps(
            "DELETE FROM idempotency WHERE (container_id, key) IN ("
            " SELECT container_id, key FROM idempotency WHERE created_at < ? LIMIT ?)",
            before_ms,
        )
