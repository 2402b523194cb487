"""Sealed secrets, audited on every change, and the node's own random keys."""

from __future__ import annotations

import os
import sqlite3

from config.sqlite.audit import append_audit
from config.sqlite.connection import SQLiteConnection
from config.sqlite.transaction import transaction
from config.storage import StoredSecret

__all__ = ["SQLiteSecrets"]

_SEALED_COLUMNS = "container_id, name, nonce, ciphertext, key_id, updated_at_ms, updated_by"


class SQLiteSecrets(SQLiteConnection):
    """The `SecretStore` role."""

    async def put_secret(self, secret: StoredSecret) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    f"INSERT INTO secrets ({_SEALED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (container_id, name) DO UPDATE SET nonce = excluded.nonce,"
                    " ciphertext = excluded.ciphertext, key_id = excluded.key_id,"
                    " updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
                    (secret.container_id, secret.name, secret.nonce, secret.ciphertext,
                     secret.key_id, secret.updated_at_ms, secret.updated_by),
                )  # fmt: skip
                detail = {"name": secret.name, "key_id": secret.key_id}
                append_audit(
                    conn,
                    secret.updated_at_ms,
                    secret.updated_by,
                    "secret.set",
                    secret.container_id,
                    detail,
                )

        await self._run(put)

    async def delete_secret(self, container_id: str, name: str, actor: str, now_ms: int) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                deleted = conn.execute(
                    "DELETE FROM secrets WHERE container_id = ? AND name = ?", (container_id, name)
                ).rowcount
                if not deleted:
                    return False
                append_audit(conn, now_ms, actor, "secret.delete", container_id, {"name": name})
                return True

        return await self._run(delete)

    async def list_secrets(self, container_id: str | None) -> list[StoredSecret]:
        def secrets(conn: sqlite3.Connection) -> list[StoredSecret]:
            rows = conn.execute(
                f"SELECT {_SEALED_COLUMNS} FROM secrets WHERE ?1 IS NULL OR container_id = ?1"
                " ORDER BY container_id, name",
                (container_id,),
            ).fetchall()
            return [StoredSecret(*row) for row in rows]

        return await self._run(secrets)

    async def node_key(self, name: str) -> bytes:
        def key(conn: sqlite3.Connection) -> bytes:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO node_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (name, os.urandom(32)),
                )
                (value,) = conn.execute(
                    "SELECT value FROM node_keys WHERE name = ?", (name,)
                ).fetchone()
            return bytes(value)

        return await self._run(key)
