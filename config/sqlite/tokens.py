"""API tokens, stored by hash."""

from __future__ import annotations

import sqlite3
import time

from config.sqlite.connection import SQLiteConnection
from config.storage import StorageError, TokenNameTaken, TokenRecord

__all__ = ["SQLiteTokens"]


class SQLiteTokens(SQLiteConnection):
    """The `TokenStore` role."""

    async def create_token(self, container_id: str, name: str, token_hash: str, now_ms: int) -> int:
        def create(conn: sqlite3.Connection) -> int:
            try:
                cursor = conn.execute(
                    "INSERT INTO api_tokens (container_id, name, token_hash, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (container_id, name, token_hash, now_ms),
                )
            except sqlite3.IntegrityError as exc:
                if "token_hash" in str(exc):
                    raise StorageError(
                        "a token with the same hash exists; generate a new token"
                    ) from None
                raise TokenNameTaken(
                    f"container {container_id!r} already has a token named {name!r}; "
                    "revoke it first or choose another name"
                ) from None
            return int(cursor.lastrowid or 0)

        return await self._run(create)

    async def list_tokens(self, container_id: str | None) -> list[TokenRecord]:
        def tokens(conn: sqlite3.Connection) -> list[TokenRecord]:
            rows = conn.execute(
                "SELECT id, container_id, name, created_at, revoked_at, last_used_at"
                " FROM api_tokens WHERE ?1 IS NULL OR container_id = ?1"
                " ORDER BY container_id, name, id",
                (container_id,),
            ).fetchall()
            return [TokenRecord(*row) for row in rows]

        return await self._run(tokens)

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        def find(conn: sqlite3.Connection) -> TokenRecord | None:
            row = conn.execute(
                "SELECT id, container_id, name, created_at, revoked_at, last_used_at"
                " FROM api_tokens WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            return None if row is None else TokenRecord(*row)

        return await self._run(find)

    async def revoke_token(self, container_id: str, name: str, now_ms: int | None = None) -> bool:
        at = int(time.time() * 1000) if now_ms is None else now_ms

        def revoke(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE api_tokens SET revoked_at = ?"
                    " WHERE container_id = ? AND name = ? AND revoked_at IS NULL",
                    (at, container_id, name),
                ).rowcount
                > 0
            )

        return await self._run(revoke)

    async def touch_token(self, token_id: int, now_ms: int) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now_ms, token_id)
            )
        )
