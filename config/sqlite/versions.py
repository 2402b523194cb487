"""Workspaces, versions and environments; each change audited in its own transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from config.sqlite.audit import append_audit
from config.sqlite.connection import SQLiteConnection
from config.sqlite.transaction import transaction
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

__all__ = ["SQLiteVersions"]

_VERSION_COLUMNS = (
    "container_id, number, parent, author, note, created_at_ms, body, signature, key_id,"
    " archived_at_ms"
)


class SQLiteVersions(SQLiteConnection):
    """The `VersionStore` role."""

    async def save_workspace(
        self, container_id: str, document: bytes, actor: str, now_ms: int, detail: dict[str, Any]
    ) -> None:
        def save(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO workspaces (container_id, document, updated_at_ms, updated_by)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (container_id) DO UPDATE SET"
                    " document = excluded.document, updated_at_ms = excluded.updated_at_ms,"
                    " updated_by = excluded.updated_by",
                    (container_id, document, now_ms, actor),
                )
                append_audit(conn, now_ms, actor, "workspace.import", container_id, detail)

        await self._run(save)

    async def get_workspace(self, container_id: str) -> Workspace | None:
        def get(conn: sqlite3.Connection) -> Workspace | None:
            row = conn.execute(
                "SELECT container_id, document, updated_at_ms, updated_by FROM workspaces"
                " WHERE container_id = ?",
                (container_id,),
            ).fetchone()
            return None if row is None else Workspace(*row)

        return await self._run(get)

    async def insert_version(self, version: StoredVersion, actor: str) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                try:
                    conn.execute(
                        f"INSERT INTO versions ({_VERSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (version.container_id, version.number, version.parent, version.author,
                         version.note, version.created_at_ms, version.body, version.signature,
                         version.key_id, version.archived_at_ms),
                    )  # fmt: skip
                except sqlite3.IntegrityError as exc:
                    if "UNIQUE" not in str(exc):
                        raise
                    raise VersionConflict(
                        f"version {version.number} of container {version.container_id!r} "
                        "already exists (created meanwhile by someone else); run the create "
                        "again to take the next number"
                    ) from None
                detail = {
                    "number": version.number,
                    "parent": version.parent,
                    "note": version.note,
                    "key_id": version.key_id,
                }
                at_ms = version.created_at_ms
                append_audit(conn, at_ms, actor, "version.create", version.container_id, detail)

        await self._run(insert)

    async def get_version(self, container_id: str, number: int) -> StoredVersion | None:
        return await self._run(lambda c: _version(c, container_id, number))

    async def latest_version(self, container_id: str) -> StoredVersion | None:
        def latest(conn: sqlite3.Connection) -> StoredVersion | None:
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM versions WHERE container_id = ?"
                " ORDER BY number DESC LIMIT 1",
                (container_id,),
            ).fetchone()
            return None if row is None else StoredVersion(*row)

        return await self._run(latest)

    async def list_versions(self, container_id: str, include_archived: bool) -> list[StoredVersion]:
        def versions(conn: sqlite3.Connection) -> list[StoredVersion]:
            rows = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM versions WHERE container_id = ?"
                " AND (? OR archived_at_ms IS NULL) ORDER BY number DESC",
                (container_id, include_archived),
            ).fetchall()
            return [StoredVersion(*row) for row in rows]

        return await self._run(versions)

    async def archive_version(
        self, container_id: str, number: int, actor: str, now_ms: int
    ) -> None:
        def archive(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                version = _existing_version(conn, container_id, number)
                if version.archived_at_ms is not None:
                    return
                rows = conn.execute(
                    "SELECT name FROM environments WHERE container_id = ? AND version = ?"
                    " ORDER BY name",
                    (container_id, number),
                ).fetchall()
                envs = [name for (name,) in rows]
                if envs:
                    raise VersionInUse(
                        f"version {number} of container {container_id!r} is in use by "
                        f"environment {', '.join(repr(env) for env in envs)}; publish another "
                        "version there (or `tagwire unpublish` it) before archiving it"
                    )
                conn.execute(
                    "UPDATE versions SET archived_at_ms = ?"
                    " WHERE container_id = ? AND number = ? AND archived_at_ms IS NULL",
                    (now_ms, container_id, number),
                )
                detail = {"number": number}
                append_audit(conn, now_ms, actor, "version.archive", container_id, detail)

        await self._run(archive)

    async def set_environment(
        self, container_id: str, env: str, number: int, action: str, actor: str, now_ms: int
    ) -> int | None:
        if action not in ENVIRONMENT_ACTIONS:
            raise ValueError(
                f"environment action must be one of {', '.join(ENVIRONMENT_ACTIONS)}; "
                f"not {action!r}"
            )

        def point(conn: sqlite3.Connection) -> int | None:
            with transaction(conn):
                version = _existing_version(conn, container_id, number)
                if version.archived_at_ms is not None:
                    raise VersionArchived(
                        f"version {number} of container {container_id!r} is archived and "
                        f"cannot be put in environment {env!r}; pick a live version "
                        f"(`tagwire versions {container_id}` lists them)"
                    )
                row = conn.execute(
                    "SELECT version FROM environments WHERE container_id = ? AND name = ?",
                    (container_id, env),
                ).fetchone()
                previous = None if row is None else int(row[0])
                conn.execute(
                    "INSERT INTO environments (container_id, name, version, updated_at_ms,"
                    " updated_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (container_id, name)"
                    " DO UPDATE SET version = excluded.version,"
                    " updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
                    (container_id, env, number, now_ms, actor),
                )
                detail = {"env": env, "version": number, "previous": previous}
                append_audit(conn, now_ms, actor, f"environment.{action}", container_id, detail)
                return previous

        return await self._run(point)

    async def list_environments(self, container_id: str | None) -> list[Environment]:
        def environments(conn: sqlite3.Connection) -> list[Environment]:
            rows = conn.execute(
                "SELECT container_id, name, version, updated_at_ms, updated_by FROM environments"
                " WHERE ?1 IS NULL OR container_id = ?1 ORDER BY container_id, name",
                (container_id,),
            ).fetchall()
            return [Environment(*row) for row in rows]

        return await self._run(environments)

    async def delete_environment(
        self, container_id: str, env: str, actor: str, now_ms: int
    ) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                row = conn.execute(
                    "DELETE FROM environments WHERE container_id = ? AND name = ?"
                    " RETURNING version",
                    (container_id, env),
                ).fetchone()
                if row is None:
                    return False
                detail = {"env": env, "version": int(row[0])}
                append_audit(conn, now_ms, actor, "environment.delete", container_id, detail)
                return True

        return await self._run(delete)

    async def list_containers(self) -> list[str]:
        def containers(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT container_id FROM workspaces UNION SELECT container_id FROM versions"
                " ORDER BY container_id"
            ).fetchall()
            return [container_id for (container_id,) in rows]

        return await self._run(containers)


def _version(conn: sqlite3.Connection, container_id: str, number: int) -> StoredVersion | None:
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE container_id = ? AND number = ?",
        (container_id, number),
    ).fetchone()
    return None if row is None else StoredVersion(*row)


def _existing_version(conn: sqlite3.Connection, container_id: str, number: int) -> StoredVersion:
    """The version, or `UnknownVersion` saying how to find the ones that exist (stands in for
    a foreign key from environments to versions)."""
    version = _version(conn, container_id, number)
    if version is None:
        raise UnknownVersion(
            f"version {number} of container {container_id!r} does not exist; "
            f"`tagwire versions {container_id}` lists them"
        )
    return version
