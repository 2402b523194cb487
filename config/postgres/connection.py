"""The PostgreSQL store's connection pool, and its lifecycle.

psycopg 3's async connections and psycopg_pool's `AsyncConnectionPool` keep every
statement off the event loop's thread without a thread of our own: a node waits on the
network, never blocks on it. Each call borrows a connection for one transaction (the pool
commits it when the call returns and rolls it back when it raises), so many stateless
nodes can share one database, each with a pool of `min_size` to `max_size` connections
and one more that holds the node's lock (`config.postgres.liveness`).

Each role of the store is a subclass that only adds methods; `config.postgres_store`
combines them into `PostgresStore`, so they all share this pool.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.abc import Params
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from config.postgres.liveness import NodeLock
from config.postgres.migrations import applied_version, migrate
from config.storage import StorageError

__all__ = ["PostgresConnection", "Row", "database_label", "with_timeout"]

Row = tuple[Any, ...]

# Rows an expiry deletes per transaction.
_DELETE_STEP = 5000
# Seconds to wait for the first connections at `open` before giving up, and for one new
# connection when the URL sets no `connect_timeout` (libpq would wait for TCP's own).
_OPEN_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 10
# A schema name tagwire accepts: a plain lower-case SQL identifier.
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The password in a URL (`//user:password@`), found even when the URL is malformed.
_PASSWORD = re.compile(r"//[^/@:]*:([^@]*)@")


class PostgresConnection:
    """The `StoreLifecycle` role, and `_transaction`, which every other role uses."""

    def __init__(
        self, url: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10
    ) -> None:
        if schema is not None and not _SCHEMA.fullmatch(schema):
            raise ValueError(f"schema must be a lower-case SQL identifier; not {schema!r}")
        if not 1 <= min_size <= max_size:
            raise ValueError(f"pool sizes must satisfy 1 <= min ({min_size}) <= max ({max_size})")
        self.url = url
        self.schema = schema
        self.min_size = min_size
        self.max_size = max_size
        self._pool: AsyncConnectionPool[AsyncConnection[Row]] | None = None
        self._node = NodeLock()

    @property
    def label(self) -> str:
        """The database as errors name it (see `database_label`)."""
        return database_label(self.url, self.schema)

    async def open(self) -> None:
        """Migrate on a connection of its own, take this node's lock on another, then start
        the pool; what was opened is closed again when a later step fails."""
        try:
            conninfo = with_timeout(self.url)
            async with await AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await migrate(conn, self.schema)
            await self._node.acquire(conninfo)
            pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
                conninfo,
                min_size=self.min_size,
                max_size=self.max_size,
                open=False,
                configure=self._configure,
                check=AsyncConnectionPool.check_connection,
                name="tagwire",
            )
            await pool.open(wait=True, timeout=_OPEN_TIMEOUT_S)  # closes itself on timeout
        except psycopg.Error as exc:
            await self._node.release()
            raise StorageError(f"cannot open {self.label}: {self._redacted(exc)}") from exc
        self._pool = pool

    async def _configure(self, conn: AsyncConnection[Row]) -> None:
        """Every pooled connection looks in the store's schema first."""
        if self.schema is not None:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            await conn.commit()

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        await self._node.release()

    @property
    def _node_key(self) -> int:
        """The key this node stamps on the rows it claims (see `config.postgres.liveness`)."""
        if self._node.key is None:
            raise StorageError(f"store {self.label} is not open")
        return self._node.key

    async def ping(self) -> None:
        await self._fetchone("SELECT 1", ())

    async def schema_version(self) -> int:
        async with self._transaction() as conn:
            return await applied_version(conn)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection[Row]]:
        """A pooled connection for one transaction: committed when the block ends, rolled
        back when it raises. Database errors become `StorageError`; the store's own
        refusals (`StorageError` subclasses) pass through as they are."""
        pool = self._pool
        if pool is None:
            raise StorageError(f"store {self.label} is not open")
        try:
            async with pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"{self.label}: {self._redacted(exc)}") from exc

    def _redacted(self, exc: psycopg.Error) -> str:
        """The error's text without the URL's password (libpq quotes a URL it cannot
        parse whole)."""
        text = str(exc).strip()
        found = _PASSWORD.search(self.url)
        return text.replace(found[1], "***") if found and found[1] else text

    async def _fetchone(self, query: str, params: Params) -> Row | None:
        async with self._transaction() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()

    async def _fetchall(self, query: str, params: Params) -> list[Row]:
        async with self._transaction() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def _execute(self, query: str, params: Params) -> int:
        """Run one statement in its own transaction; how many rows it changed."""
        async with self._transaction() as conn:
            cursor = await conn.execute(query, params)
            return cursor.rowcount

    async def _delete_in_steps(self, query: str, bound: int, step: int | None = None) -> int:
        """Delete in short transactions of `step` rows (`_DELETE_STEP` by default), so that
        no one transaction holds many row locks while hits keep being queued."""
        size = _DELETE_STEP if step is None else step
        total = 0
        while True:
            deleted = await self._execute(query, (bound, size))
            total += deleted
            if deleted < size:
                return total


def database_label(url: str, schema: str | None = None) -> str:
    """The database as an operator reads it: host, port, database and schema, never the
    password that the URL may hold."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL store"
    host, port = parts.get("host", "localhost"), parts.get("port", 5432)
    where = f"PostgreSQL {host}:{port}/{parts.get('dbname', '')}"
    return where + (f" (schema {schema})" if schema else "")


def with_timeout(url: str) -> str:
    """The URL as every connection uses it: with a connect timeout unless it has its own,
    so that a node whose database does not answer stops with an error instead of hanging
    at start."""
    if "connect_timeout" in conninfo_to_dict(url):
        return url
    return make_conninfo(url, connect_timeout=_CONNECT_TIMEOUT_S)
