"""Workspaces, versions and environments; each change audited in its own transaction.

Where the SQLite store relies on its single writer, archiving a version and pointing an
environment at it lock the version's row (`FOR UPDATE`), so that of the two racing on
different nodes one sees the other's change: no environment ever points at an archived
version.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from config.postgres.audit import append_audit
from config.postgres.connection import PostgresConnection, Row
from config.postgres.notify import notify
from config.storage import (
    ENVIRONMENT_ACTIONS,
    Environment,
    StoredVersion,
    UnknownVersion,
    VersionArchived,
    VersionConflict,
    VersionInUse,
    Workspace,
)

__all__ = ["PostgresVersions"]

_VERSION_COLUMNS = (
    "container_id, number, parent, author, note, created_at_ms, body, signature, key_id,"
    " archived_at_ms"
)


class PostgresVersions(PostgresConnection):
    """The `VersionStore` role."""

    async def save_workspace(
        self, container_id: str, document: bytes, actor: str, now_ms: int, detail: dict[str, Any]
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO workspaces (container_id, document, updated_at_ms, updated_by)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (container_id) DO UPDATE SET"
                " document = excluded.document, updated_at_ms = excluded.updated_at_ms,"
                " updated_by = excluded.updated_by",
                (container_id, document, now_ms, actor),
            )
            await append_audit(conn, now_ms, actor, "workspace.import", container_id, detail)

    async def get_workspace(self, container_id: str) -> Workspace | None:
        row = await self._fetchone(
            "SELECT container_id, document, updated_at_ms, updated_by FROM workspaces"
            " WHERE container_id = %s",
            (container_id,),
        )
        return None if row is None else Workspace(*row)

    async def insert_version(self, version: StoredVersion, actor: str) -> None:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                f"INSERT INTO versions ({_VERSION_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (container_id, number) DO NOTHING",
                (version.container_id, version.number, version.parent, version.author,
                 version.note, version.created_at_ms, version.body, version.signature,
                 version.key_id, version.archived_at_ms),
            )  # fmt: skip
            if not cursor.rowcount:
                raise VersionConflict(
                    f"version {version.number} of container {version.container_id!r} "
                    "already exists (created meanwhile by someone else); run the create "
                    "again to take the next number"
                )
            detail = {
                "number": version.number,
                "parent": version.parent,
                "note": version.note,
                "key_id": version.key_id,
            }
            at_ms = version.created_at_ms
            await append_audit(conn, at_ms, actor, "version.create", version.container_id, detail)

    async def get_version(self, container_id: str, number: int) -> StoredVersion | None:
        async with self._transaction() as conn:
            return await _version(conn, container_id, number)

    async def latest_version(self, container_id: str) -> StoredVersion | None:
        row = await self._fetchone(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE container_id = %s"
            " ORDER BY number DESC LIMIT 1",
            (container_id,),
        )
        return None if row is None else StoredVersion(*row)

    async def list_versions(self, container_id: str, include_archived: bool) -> list[StoredVersion]:
        rows = await self._fetchall(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE container_id = %s"
            " AND (%s OR archived_at_ms IS NULL) ORDER BY number DESC",
            (container_id, include_archived),
        )
        return [StoredVersion(*row) for row in rows]

    async def archive_version(
        self, container_id: str, number: int, actor: str, now_ms: int
    ) -> None:
        async with self._transaction() as conn:
            version = await _existing_version(conn, container_id, number)
            if version.archived_at_ms is not None:
                return
            cursor = await conn.execute(
                "SELECT name FROM environments WHERE container_id = %s AND version = %s"
                " ORDER BY name",
                (container_id, number),
            )
            envs = [name for (name,) in await cursor.fetchall()]
            if envs:
                raise VersionInUse(
                    f"version {number} of container {container_id!r} is in use by "
                    f"environment {', '.join(repr(env) for env in envs)}; publish another "
                    "version there (or `tagwire unpublish` it) before archiving it"
                )
            await conn.execute(
                "UPDATE versions SET archived_at_ms = %s"
                " WHERE container_id = %s AND number = %s AND archived_at_ms IS NULL",
                (now_ms, container_id, number),
            )
            detail = {"number": number}
            await append_audit(conn, now_ms, actor, "version.archive", container_id, detail)

    async def set_environment(
        self, container_id: str, env: str, number: int, action: str, actor: str, now_ms: int
    ) -> int | None:
        if action not in ENVIRONMENT_ACTIONS:
            raise ValueError(
                f"environment action must be one of {', '.join(ENVIRONMENT_ACTIONS)}; "
                f"not {action!r}"
            )
        async with self._transaction() as conn:
            version = await _existing_version(conn, container_id, number)
            if version.archived_at_ms is not None:
                raise VersionArchived(
                    f"version {number} of container {container_id!r} is archived and "
                    f"cannot be put in environment {env!r}; pick a live version "
                    f"(`tagwire versions {container_id}` lists them)"
                )
            cursor = await conn.execute(
                "SELECT version FROM environments WHERE container_id = %s AND name = %s"
                " FOR UPDATE",
                (container_id, env),
            )
            row = await cursor.fetchone()
            previous = None if row is None else int(row[0])
            await conn.execute(
                "INSERT INTO environments (container_id, name, version, updated_at_ms,"
                " updated_by) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (container_id, name)"
                " DO UPDATE SET version = excluded.version,"
                " updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
                (container_id, env, number, now_ms, actor),
            )
            detail = {"env": env, "version": number, "previous": previous}
            await append_audit(conn, now_ms, actor, f"environment.{action}", container_id, detail)
            await notify(conn, container_id)
            return previous

    async def list_environments(self, container_id: str | None) -> list[Environment]:
        rows = await self._fetchall(
            "SELECT container_id, name, version, updated_at_ms, updated_by FROM environments"
            " WHERE %(container)s::text IS NULL OR container_id = %(container)s"
            " ORDER BY container_id, name",
            {"container": container_id},
        )
        return [Environment(*row) for row in rows]

    async def delete_environment(
        self, container_id: str, env: str, actor: str, now_ms: int
    ) -> bool:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM environments WHERE container_id = %s AND name = %s RETURNING version",
                (container_id, env),
            )
            row = await cursor.fetchone()
            if row is None:
                return False
            detail = {"env": env, "version": int(row[0])}
            await append_audit(conn, now_ms, actor, "environment.delete", container_id, detail)
            await notify(conn, container_id)
            return True

    async def list_containers(self) -> list[str]:
        rows = await self._fetchall(
            "SELECT container_id FROM workspaces UNION SELECT container_id FROM versions"
            " ORDER BY container_id",
            (),
        )
        return [container_id for (container_id,) in rows]


async def _version(
    conn: AsyncConnection[Row], container_id: str, number: int, *, lock: bool = False
) -> StoredVersion | None:
    cursor = await conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE container_id = %s AND number = %s"
        + (" FOR UPDATE" if lock else ""),
        (container_id, number),
    )
    row = await cursor.fetchone()
    return None if row is None else StoredVersion(*row)


async def _existing_version(
    conn: AsyncConnection[Row], container_id: str, number: int
) -> StoredVersion:
    """The version, locked until the transaction ends, or `UnknownVersion` saying how to
    find the ones that exist (stands in for a foreign key from environments to versions)."""
    version = await _version(conn, container_id, number, lock=True)
    if version is None:
        raise UnknownVersion(
            f"version {number} of container {container_id!r} does not exist; "
            f"`tagwire versions {container_id}` lists them"
        )
    return version
