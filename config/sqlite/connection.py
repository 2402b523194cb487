"""The SQLite store's one WAL-mode connection on one dedicated thread, and its lifecycle.

All statements run on the store's own thread so the event loop never blocks on disk, and
SQLite's single writer is never contended inside one process. `synchronous=NORMAL` in WAL
mode keeps every committed transaction across a process crash (kill -9); only an OS crash
or power loss can drop the last commits.

Each role of the store is a subclass that only adds methods; `config.sqlite_store`
combines them into `SQLiteStore`, so they all share this connection and thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from config.file_modes import check_private_dir, private_file, tighten_file
from config.sqlite.liveness import NodeLock
from config.sqlite.migrations import applied_version, migrate
from config.storage import StorageError

__all__ = ["SQLiteConnection"]

T = TypeVar("T")

# Rows an expiry deletes per transaction.
_DELETE_STEP = 5000


class SQLiteConnection:
    """The `StoreLifecycle` role, and `_run`, which every other role calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagwire-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._node = NodeLock(path)

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
        conn = None
        try:
            # The folder 0700 when we make it, the files 0600 (config/file_modes.py). The
            # database file is made before SQLite would make it 0644; SQLite gives the
            # -wal and -shm files it makes later the database file's mode.
            check_private_dir(self.path.parent)
            private_file(self.path)
            for suffix in ("-wal", "-shm"):
                tighten_file(self.path.with_name(self.path.name + suffix))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            migrate(conn)
            self._node.acquire()
        except (OSError, sqlite3.Error, StorageError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._conn = conn

    @property
    def _node_key(self) -> int:
        """The key this process stamps on the rows it claims (see `config.sqlite.liveness`)."""
        if self._node.key is None:
            raise StorageError(f"store {self.path} is not open")
        return self._node.key

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._node.release()

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def schema_version(self) -> int:
        return await self._run(applied_version)

    async def _delete_in_steps(self, sql: str, bound: int) -> int:
        """Delete in short transactions so that hits queued meanwhile never wait long for
        the store's one thread and SQLite's one writer."""
        total = 0
        while True:
            deleted = await self._run(lambda c: c.execute(sql, (bound, _DELETE_STEP)).rowcount)
            total += deleted
            if deleted < _DELETE_STEP:
                return total
