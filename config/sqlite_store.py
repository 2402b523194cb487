"""The embedded SQLite store: one WAL-mode file, one connection on one dedicated thread.

All statements run on the store's own thread so the event loop never blocks on disk, and
SQLite's single writer is never contended inside one process. `synchronous=NORMAL` in WAL
mode keeps every committed transaction across a process crash (kill -9); only an OS crash
or power loss can drop the last commits.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import orjson

from config.storage import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    ENVIRONMENT_ACTIONS,
    RESPONSE_LIMIT,
    STATES,
    AuditEntry,
    Delivery,
    Environment,
    HistoryEntry,
    IdempotentAnswer,
    OutboxFilter,
    OutboxItem,
    OutboxRow,
    StorageError,
    StoredSecret,
    StoredVersion,
    TokenNameTaken,
    TokenRecord,
    UnknownVersion,
    VersionArchived,
    VersionConflict,
    VersionInUse,
    Workspace,
)

__all__ = ["SQLiteStore", "migrations"]

T = TypeVar("T")


def migrations() -> list[tuple[int, str]]:
    """The versioned migrations shipped with tagwire, oldest first."""
    folder = resources.files("config.migrations").joinpath("sqlite")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagwire-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise StorageError(f"store {self.path} is not open")
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            _migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._conn = conn

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def schema_version(self) -> int:
        return await self._run(_schema_version)

    async def enqueue(
        self, rows: list[OutboxRow], now_ms: int, fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS
    ) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            fresh = _first_per_key(rows)
            if len(fresh) <= _INSERT_CHUNK:
                chunks = [fresh]
            else:
                chunks = [fresh[i : i + _INSERT_CHUNK] for i in range(0, len(fresh), _INSERT_CHUNK)]
            # Four steps per commit whatever its size (BEGIN, rows, keys, COMMIT): the rows
            # go in where their key is free, then the keys are taken. No RETURNING, which
            # would step, and hand the GIL over, once per row.
            new = 0
            with _transaction(conn):
                for chunk in chunks:
                    new += _insert_rows(conn, chunk, now_ms)
                    _take_keys(conn, chunk, now_ms, now_ms + fire_once_ttl_ms)
            return new

        if not rows:
            return 0
        return await self._run(insert)

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        def claim(conn: sqlite3.Connection) -> list[OutboxItem]:
            with _transaction(conn):
                rows = conn.execute(
                    "UPDATE outbox SET state = 'inflight' WHERE id IN ("
                    " SELECT id FROM outbox WHERE state IN ('pending', 'failed')"
                    " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)"
                    " RETURNING id, container_id, tag_id, platform, destination, method, url,"
                    " headers, body, attempts, event_time_ms, created_at",
                    (now_ms, limit),
                ).fetchall()
            return [OutboxItem(*row) for row in sorted(rows)]

        return await self._run(claim)

    async def record(self, deliveries: list[Delivery]) -> None:
        def record(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.executemany(
                    "UPDATE outbox SET state = ?, attempts = attempts + 1, last_status = ?,"
                    " last_response = ?, next_attempt_at = ?,"
                    " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
                    [(d.state, d.status, d.response[:RESPONSE_LIMIT], d.next_attempt_at, d.state,
                      d.at, d.id) for d in deliveries],
                )  # fmt: skip
                # Attempt numbers count every attempt of a row, also across replays.
                conn.executemany(
                    "INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response,"
                    " duration_ms, batch_size)"
                    " SELECT id, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts"
                    " WHERE outbox_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7 FROM outbox WHERE id = ?1",
                    [(d.id, d.at, d.status, d.state, d.response[:RESPONSE_LIMIT], d.duration_ms,
                      d.batch_size) for d in deliveries],
                )  # fmt: skip

        await self._run(record)

    async def defer(self, ids: list[int], next_attempt_at: int) -> None:
        def defer(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                for start in range(0, len(ids), _INSERT_CHUNK):
                    chunk = ids[start : start + _INSERT_CHUNK]
                    conn.execute(
                        "UPDATE outbox SET state = 'pending', next_attempt_at = ?"
                        f" WHERE state = 'inflight' AND id IN ({','.join('?' * len(chunk))})",
                        [next_attempt_at, *chunk],
                    )

        if ids:
            await self._run(defer)

    async def release_inflight(self) -> int:
        def release(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return conn.execute(
                    "UPDATE outbox SET state = 'pending' WHERE state = 'inflight'"
                ).rowcount

        return await self._run(release)

    async def outbox_counts(self) -> dict[str, int]:
        def counts(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
            return dict(rows)

        return await self._run(counts)

    async def outbox_status(self, filter: OutboxFilter) -> list[tuple[str, str, str, int]]:
        where, params = _where(filter, _narrowing(filter.states, "status"))

        def status(conn: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
            return conn.execute(
                f"SELECT container_id, tag_id, state, COUNT(*) FROM outbox WHERE {where}"
                " GROUP BY container_id, tag_id, state ORDER BY container_id, tag_id, state",
                params,
            ).fetchall()

        return await self._run(status)

    async def replay(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        where, params = _where(filter, _states(filter.states, ("dead", "failed"), "replay"))
        return await self._change(
            f"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE {where}",
            [now_ms, *params],
            where,
            params,
            dry_run,
        )

    async def release_held(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        where, params = _where(filter, _states(filter.states, ("held",), "release"))
        return await self._change(
            f"UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE {where}",
            [now_ms, *params],
            where,
            params,
            dry_run,
        )

    async def purge(self, filter: OutboxFilter, dry_run: bool) -> int:
        where, params = _where(filter, _states(filter.states, ("sent", "dead"), "purge"))

        def purge(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                conn.execute(
                    "DELETE FROM attempts WHERE outbox_id IN"
                    f" (SELECT id FROM outbox WHERE {where})",
                    params,
                )
                return conn.execute(f"DELETE FROM outbox WHERE {where}", params).rowcount

        if dry_run:
            return await self._count(where, params)
        return await self._run(purge)

    async def history(self, filter: OutboxFilter, limit: int, offset: int) -> list[HistoryEntry]:
        where, params = _where(filter, _narrowing(filter.states, "history"), "o.")

        def history(conn: sqlite3.Connection) -> list[HistoryEntry]:
            rows = conn.execute(
                "SELECT o.id, o.container_id, o.tag_id, o.platform, o.destination, o.event_name,"
                " o.event_id, o.lead_id, o.value, o.currency, o.state, COALESCE(a.attempt, 0),"
                " COALESCE(a.at, o.created_at), a.status, COALESCE(a.outcome, o.state),"
                " COALESCE(a.response, ''), o.created_at, COALESCE(a.duration_ms, 0),"
                " COALESCE(a.batch_size, 1)"
                " FROM outbox AS o LEFT JOIN attempts AS a ON a.outbox_id = o.id"
                f" WHERE {where} ORDER BY o.id DESC, a.attempt DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
            return [HistoryEntry(*row) for row in rows]

        return await self._run(history)

    async def expire_fire_once(self, now_ms: int) -> int:
        return await self._delete_in_steps(
            "DELETE FROM fire_once WHERE (container_id, tag_id, dedup_key) IN ("
            " SELECT container_id, tag_id, dedup_key FROM fire_once WHERE expires_at <= ?"
            " LIMIT ?)",
            now_ms,
        )

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

    async def save_workspace(
        self, container_id: str, document: bytes, actor: str, now_ms: int, detail: dict[str, Any]
    ) -> None:
        def save(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(
                    "INSERT INTO workspaces (container_id, document, updated_at_ms, updated_by)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (container_id) DO UPDATE SET"
                    " document = excluded.document, updated_at_ms = excluded.updated_at_ms,"
                    " updated_by = excluded.updated_by",
                    (container_id, document, now_ms, actor),
                )
                _audit(conn, now_ms, actor, "workspace.import", container_id, detail)

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
            with _transaction(conn):
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
                _audit(conn, at_ms, actor, "version.create", version.container_id, detail)

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
            with _transaction(conn):
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
                _audit(conn, now_ms, actor, "version.archive", container_id, {"number": number})

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
            with _transaction(conn):
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
                _audit(conn, now_ms, actor, f"environment.{action}", container_id, detail)
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
            with _transaction(conn):
                row = conn.execute(
                    "DELETE FROM environments WHERE container_id = ? AND name = ?"
                    " RETURNING version",
                    (container_id, env),
                ).fetchone()
                if row is None:
                    return False
                detail = {"env": env, "version": int(row[0])}
                _audit(conn, now_ms, actor, "environment.delete", container_id, detail)
                return True

        return await self._run(delete)

    async def add_audit(
        self, actor: str, action: str, container_id: str | None, detail: dict[str, Any], now_ms: int
    ) -> None:
        await self._run(lambda c: _audit(c, now_ms, actor, action, container_id, detail))

    async def audit_log(self, container_id: str | None, limit: int) -> list[AuditEntry]:
        def log(conn: sqlite3.Connection) -> list[AuditEntry]:
            rows = conn.execute(
                "SELECT id, at_ms, actor, action, container_id, detail FROM audit"
                " WHERE ?1 IS NULL OR container_id = ?1 ORDER BY id DESC LIMIT ?2",
                (container_id, limit),
            ).fetchall()
            return [AuditEntry(*row[:5], orjson.loads(row[5])) for row in rows]

        return await self._run(log)

    async def put_secret(self, secret: StoredSecret) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(
                    f"INSERT INTO secrets ({_SEALED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (container_id, name) DO UPDATE SET nonce = excluded.nonce,"
                    " ciphertext = excluded.ciphertext, key_id = excluded.key_id,"
                    " updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
                    (secret.container_id, secret.name, secret.nonce, secret.ciphertext,
                     secret.key_id, secret.updated_at_ms, secret.updated_by),
                )  # fmt: skip
                detail = {"name": secret.name, "key_id": secret.key_id}
                _audit(
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
            with _transaction(conn):
                deleted = conn.execute(
                    "DELETE FROM secrets WHERE container_id = ? AND name = ?", (container_id, name)
                ).rowcount
                if not deleted:
                    return False
                _audit(conn, now_ms, actor, "secret.delete", container_id, {"name": name})
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
            with _transaction(conn):
                conn.execute(
                    "INSERT INTO node_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (name, os.urandom(32)),
                )
                (value,) = conn.execute(
                    "SELECT value FROM node_keys WHERE name = ?", (name,)
                ).fetchone()
            return bytes(value)

        return await self._run(key)

    async def list_containers(self) -> list[str]:
        def containers(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT container_id FROM workspaces UNION SELECT container_id FROM versions"
                " ORDER BY container_id"
            ).fetchall()
            return [container_id for (container_id,) in rows]

        return await self._run(containers)

    async def _change(
        self, sql: str, params: list[object], where: str, where_params: list[object], dry_run: bool
    ) -> int:
        """Run an operator's UPDATE, or with `dry_run` only count the rows it would touch."""
        if dry_run:
            return await self._count(where, where_params)

        def change(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return conn.execute(sql, params).rowcount

        return await self._run(change)

    async def _count(self, where: str, params: list[object]) -> int:
        def count(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(f"SELECT COUNT(*) FROM outbox WHERE {where}", params).fetchone()[0]
            )

        return await self._run(count)

    async def _delete_in_steps(self, sql: str, bound: int) -> int:
        """Delete in short transactions so that hits queued meanwhile never wait long for
        the store's one thread and SQLite's one writer."""
        total = 0
        while True:
            deleted = await self._run(lambda c: c.execute(sql, (bound, _DELETE_STEP)).rowcount)
            total += deleted
            if deleted < _DELETE_STEP:
                return total


# Rows per INSERT statement: 16 parameters each stays far below SQLite's 32766 limit.
_INSERT_CHUNK = 500
_OUTBOX_VALUES = "(" + ",".join("?" * len(OutboxRow._fields)) + ")"
_OUTBOX_COLUMNS = ",".join(f"column{i}" for i in range(1, len(OutboxRow._fields)))
# Rows an expiry deletes per transaction.
_DELETE_STEP = 5000


_VERSION_COLUMNS = (
    "container_id, number, parent, author, note, created_at_ms, body, signature, key_id,"
    " archived_at_ms"
)
_SEALED_COLUMNS = "container_id, name, nonce, ciphertext, key_id, updated_at_ms, updated_by"


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


def _audit(
    conn: sqlite3.Connection,
    at_ms: int,
    actor: str,
    action: str,
    container_id: str | None,
    detail: dict[str, Any],
) -> None:
    """Append an audit row; callers run it inside the transaction of the change it records."""
    conn.execute(
        "INSERT INTO audit (at_ms, actor, action, container_id, detail) VALUES (?, ?, ?, ?, ?)",
        (at_ms, actor, action, container_id, orjson.dumps(detail).decode()),
    )


def _first_per_key(rows: list[OutboxRow]) -> list[OutboxRow]:
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


def _insert_rows(conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int) -> int:
    """One multi-row INSERT of the rows whose fire-once key is free or expired; how many.

    A single statement, so SQLite runs it in one step and this thread hands the GIL back
    and forth once per commit instead of once per row (per-row handoffs made a 5-row
    commit take over a millisecond while the event loop was busy). The rows are bound as
    they are: the last field, `held`, becomes the state.
    """
    params: list[object] = [now_ms]
    for row in rows:
        params.extend(row)
    return conn.execute(
        "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
        " event_name, event_id, dedup_key, platform, event_time_ms, lead_id, value, currency,"
        f" state, next_attempt_at, created_at) SELECT {_OUTBOX_COLUMNS},"
        f" CASE WHEN column{len(OutboxRow._fields)} THEN 'held' ELSE 'pending' END, ?1, ?1"
        " FROM (VALUES "
        + ",".join([_OUTBOX_VALUES] * len(rows))
        + ") WHERE column10 IS NULL OR NOT EXISTS (SELECT 1 FROM fire_once AS f"
        " WHERE f.container_id = column1 AND f.tag_id = column2 AND f.dedup_key = column10"
        " AND f.expires_at > ?1)",
        params,
    ).rowcount


def _take_keys(
    conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int, expires_at: int
) -> None:
    """Take the rows' fire-once keys until `expires_at`; a key still live keeps its expiry
    (its row was just dropped), an expired one is taken anew. Runs after `_insert_rows`,
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


def _states(requested: tuple[str, ...], allowed: tuple[str, ...], action: str) -> tuple[str, ...]:
    """The states an operation applies to: `allowed`, narrowed by the filter's states."""
    if not requested:
        return allowed
    outside = [state for state in requested if state not in allowed]
    if outside:
        raise ValueError(
            f"{action} applies to rows in state {', '.join(allowed)}; not {', '.join(outside)}"
        )
    return tuple(dict.fromkeys(requested))


def _narrowing(requested: tuple[str, ...], action: str) -> tuple[str, ...]:
    """The filter's states for a read over all states: none means no state condition."""
    return _states(requested, STATES, action) if requested else ()


def _where(
    filter: OutboxFilter, states: tuple[str, ...], prefix: str = ""
) -> tuple[str, list[object]]:
    """The filter as a WHERE clause over the outbox (columns qualified with `prefix`) and
    its parameters; values are always bound, never put into the SQL. No states: any."""
    clauses = [f"{prefix}state IN ({','.join('?' * len(states))})"] if states else []
    params: list[object] = list(states)
    for column in ("container_id", "tag_id", "platform", "event_name", "lead_id"):
        value = getattr(filter, column)
        if value is not None:
            clauses.append(f"{prefix}{column} = ?")
            params.append(value)
    if filter.since_ms is not None:
        clauses.append(f"{prefix}created_at >= ?")
        params.append(filter.since_ms)
    if filter.until_ms is not None:
        clauses.append(f"{prefix}created_at < ?")
        params.append(filter.until_ms)
    return " AND ".join(clauses) or "1", params


class _transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error (the connection is in autocommit)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _schema_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def _migrate(conn: sqlite3.Connection) -> None:
    current = _schema_version(conn)
    known = migrations()
    if known and current > known[-1][0]:
        raise StorageError(
            f"database schema is version {current}, newer than this tagwire ({known[-1][0]}); "
            "upgrade tagwire"
        )
    for version, sql in known:
        if version <= current:
            continue
        with _transaction(conn):
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))


def _statements(sql: str) -> list[str]:
    """Split a migration file into statements (no semicolons inside our migrations' literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
