"""The Fire API's stored answers by Idempotency-Key."""

from __future__ import annotations

from config.postgres.connection import PostgresConnection
from config.storage import IdempotentAnswer

__all__ = ["PostgresIdempotency"]


class PostgresIdempotency(PostgresConnection):
    """The `IdempotencyStore` role."""

    async def idempotent_get(self, container_id: str, key: str) -> IdempotentAnswer | None:
        row = await self._fetchone(
            "SELECT fingerprint, status, body, created_at FROM idempotency"
            " WHERE container_id = %s AND key = %s",
            (container_id, key),
        )
        return None if row is None else IdempotentAnswer(*row)

    async def idempotent_put(
        self, container_id: str, key: str, fingerprint: str, status: int, body: bytes, now_ms: int
    ) -> None:
        await self._execute(
            "INSERT INTO idempotency (container_id, key, fingerprint, status, body, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (container_id, key) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, status = excluded.status,"
            " body = excluded.body, created_at = excluded.created_at",
            (container_id, key, fingerprint, status, body, now_ms),
        )

    async def expire_idempotency(self, before_ms: int) -> int:
        return await self._delete_in_steps(
            "DELETE FROM idempotency WHERE (container_id, key) IN ("
            " SELECT container_id, key FROM idempotency WHERE created_at < %s LIMIT %s)",
            before_ms,
        )
