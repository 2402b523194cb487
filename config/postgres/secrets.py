"""Sealed secrets, audited on every change, and the node's own random keys."""

from __future__ import annotations

import os

from config.postgres.audit import append_audit
from config.postgres.connection import PostgresConnection
from config.postgres.notify import notify
from config.storage import StorageError, StoredSecret

__all__ = ["PostgresSecrets"]

_SEALED_COLUMNS = "container_id, name, nonce, ciphertext, key_id, updated_at_ms, updated_by"


class PostgresSecrets(PostgresConnection):
    """The `SecretStore` role."""

    async def put_secret(self, secret: StoredSecret) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT INTO secrets ({_SEALED_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (container_id, name) DO UPDATE SET nonce = excluded.nonce,"
                " ciphertext = excluded.ciphertext, key_id = excluded.key_id,"
                " updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
                (secret.container_id, secret.name, secret.nonce, secret.ciphertext,
                 secret.key_id, secret.updated_at_ms, secret.updated_by),
            )  # fmt: skip
            detail = {"name": secret.name, "key_id": secret.key_id}
            await append_audit(
                conn, secret.updated_at_ms, secret.updated_by, "secret.set", secret.container_id,
                detail,
            )  # fmt: skip
            await notify(conn, secret.container_id)

    async def delete_secret(self, container_id: str, name: str, actor: str, now_ms: int) -> bool:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM secrets WHERE container_id = %s AND name = %s", (container_id, name)
            )
            if not cursor.rowcount:
                return False
            await append_audit(conn, now_ms, actor, "secret.delete", container_id, {"name": name})
            await notify(conn, container_id)
            return True

    async def list_secrets(self, container_id: str | None) -> list[StoredSecret]:
        rows = await self._fetchall(
            f"SELECT {_SEALED_COLUMNS} FROM secrets"
            " WHERE %(container)s::text IS NULL OR container_id = %(container)s"
            " ORDER BY container_id, name",
            {"container": container_id},
        )
        return [StoredSecret(*row) for row in rows]

    async def node_key(self, name: str) -> bytes:
        """Of two processes making the key at once, the second waits for the first's
        INSERT, does nothing, and reads the first's key."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO node_keys (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (name, os.urandom(32)),
            )
            cursor = await conn.execute("SELECT value FROM node_keys WHERE name = %s", (name,))
            row = await cursor.fetchone()
        if row is None:
            raise StorageError(f"node key {name!r} vanished while it was being made")
        return bytes(row[0])
