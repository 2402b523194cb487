"""The embedded SQLite store: one WAL-mode file, one connection on one dedicated thread.

All statements run on the store's own thread so the event loop never blocks on disk, and
SQLite's single writer is never contended inside one process. `synchronous=NORMAL` in WAL
mode keeps every committed transaction across a process crash (kill -9); only an OS crash
or power loss can drop the last commits.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TypeVar

from config.storage import Delivery, OutboxItem, OutboxRow, StorageError

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

    async def enqueue(self, rows: list[OutboxRow], now_ms: int) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            chunks = [rows[i : i + _INSERT_CHUNK] for i in range(0, len(rows), _INSERT_CHUNK)]
            if len(chunks) == 1:
                _insert_rows(conn, chunks[0], now_ms)  # one statement: atomic on its own
            else:
                with _transaction(conn):
                    for chunk in chunks:
                        _insert_rows(conn, chunk, now_ms)
            return conn.total_changes - before

        return await self._run(insert)

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        def claim(conn: sqlite3.Connection) -> list[OutboxItem]:
            with _transaction(conn):
                rows = conn.execute(
                    "UPDATE outbox SET state = 'inflight' WHERE id IN ("
                    " SELECT id FROM outbox WHERE state IN ('pending', 'failed')"
                    " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)"
                    " RETURNING id, tag_id, destination, method, url, headers, body, attempts",
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
                    [(d.state, d.status, d.response, d.next_attempt_at, d.state, d.at, d.id)
                     for d in deliveries],
                )  # fmt: skip

        await self._run(record)

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


# Rows per INSERT statement: 12 parameters each stays far below SQLite's 32766 limit.
_INSERT_CHUNK = 500
_INSERT_ROW = "(?,?,?,?,?,?,?,?,?,?,?,?)"


def _insert_rows(conn: sqlite3.Connection, rows: list[OutboxRow], now_ms: int) -> None:
    """One multi-row INSERT: SQLite runs it in a single step, so this thread hands the
    GIL back and forth once per commit instead of once per row (per-row handoffs made a
    5-row commit take over a millisecond while the event loop was busy)."""
    params: list[object] = []
    for row in rows:
        params.extend(row)
        params.append(now_ms)
        params.append(now_ms)
    conn.execute(
        "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
        " event_name, event_id, dedup_key, next_attempt_at, created_at) VALUES "
        + ",".join([_INSERT_ROW] * len(rows))
        + " ON CONFLICT (container_id, tag_id, dedup_key) DO NOTHING",
        params,
    )


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
