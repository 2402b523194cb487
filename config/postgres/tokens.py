"""API tokens, stored by hash."""

from __future__ import annotations

import time

from psycopg import errors

from config.postgres.connection import PostgresConnection
from config.storage import StorageError, TokenNameTaken, TokenRecord

__all__ = ["PostgresTokens"]

_COLUMNS = "id, container_id, name, created_at, revoked_at, last_used_at"


class PostgresTokens(PostgresConnection):
    """The `TokenStore` role."""

    async def create_token(self, container_id: str, name: str, token_hash: str, now_ms: int) -> int:
        async with self._transaction() as conn:
            try:
                cursor = await conn.execute(
                    "INSERT INTO api_tokens (container_id, name, token_hash, created_at)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    (container_id, name, token_hash, now_ms),
                )
            except errors.UniqueViolation as exc:
                if exc.diag.constraint_name == "api_tokens_token_hash":
                    raise StorageError(
                        "a token with the same hash exists; generate a new token"
                    ) from None
                raise TokenNameTaken(
                    f"container {container_id!r} already has a token named {name!r}; "
                    "revoke it first or choose another name"
                ) from None
            row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    async def list_tokens(self, container_id: str | None) -> list[TokenRecord]:
        rows = await self._fetchall(
            f"SELECT {_COLUMNS} FROM api_tokens"
            " WHERE %(container)s::text IS NULL OR container_id = %(container)s"
            " ORDER BY container_id, name, id",
            {"container": container_id},
        )
        return [TokenRecord(*row) for row in rows]

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        row = await self._fetchone(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = %s", (token_hash,)
        )
        return None if row is None else TokenRecord(*row)

    async def revoke_token(self, container_id: str, name: str, now_ms: int | None = None) -> bool:
        at = int(time.time() * 1000) if now_ms is None else now_ms
        revoked = await self._execute(
            "UPDATE api_tokens SET revoked_at = %s"
            " WHERE container_id = %s AND name = %s AND revoked_at IS NULL",
            (at, container_id, name),
        )
        return revoked > 0

    async def touch_token(self, token_id: int, now_ms: int) -> None:
        await self._execute(
            "UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (now_ms, token_id)
        )
