"""Operator actions on the outbox rows an `OutboxFilter` picks; each can be a dry run."""

from __future__ import annotations

import sqlite3

from config.sqlite import filters
from config.sqlite.connection import SQLiteConnection
from config.sqlite.transaction import transaction
from config.storage import OutboxFilter, OutboxItem

__all__ = ["SQLiteOutboxOps"]


class SQLiteOutboxOps(SQLiteConnection):
    """The `OutboxOpsStore` role."""

    async def outbox_status(self, filter: OutboxFilter) -> list[tuple[str, str, str, int]]:
        where, params = filters.where(filter, filters.narrowing(filter.states, "status"))

        def status(conn: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
            return conn.execute(
                f"SELECT container_id, tag_id, state, COUNT(*) FROM outbox WHERE {where}"
                " GROUP BY container_id, tag_id, state ORDER BY container_id, tag_id, state",
                params,
            ).fetchall()

        return await self._run(status)

    async def replay(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        states = filters.states(filter.states, ("dead", "failed"), "replay")
        where, params = filters.where(filter, states)
        return await self._change(
            f"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE {where}",
            [now_ms, *params],
            where,
            params,
            dry_run,
        )

    async def release_held(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        where, params = filters.where(filter, filters.states(filter.states, ("held",), "release"))
        return await self._change(
            f"UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE {where}",
            [now_ms, *params],
            where,
            params,
            dry_run,
        )

    async def purge(self, filter: OutboxFilter, dry_run: bool) -> int:
        states = filters.states(filter.states, ("sent", "dead"), "purge")
        where, params = filters.where(filter, states)

        def purge(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                conn.execute(
                    "DELETE FROM attempts WHERE outbox_id IN"
                    f" (SELECT id FROM outbox WHERE {where})",
                    params,
                )
                return conn.execute(f"DELETE FROM outbox WHERE {where}", params).rowcount

        if dry_run:
            return await self._count(where, params)
        return await self._run(purge)

    async def prune_sent(self, before_ms: int, limit: int) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                ids = [i for (i,) in conn.execute(
                    "SELECT id FROM outbox WHERE state = 'sent' AND created_at < ?"
                    " ORDER BY created_at LIMIT ?", (before_ms, limit),
                ).fetchall()]  # fmt: skip
                marks = ",".join("?" * len(ids))
                if ids:
                    conn.execute(f"DELETE FROM attempts WHERE outbox_id IN ({marks})", ids)
                    conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)
                return len(ids)

        return await self._run(prune)

    async def outbox_row(self, outbox_id: int) -> OutboxItem | None:
        def read(conn: sqlite3.Connection) -> OutboxItem | None:
            row = conn.execute(
                "SELECT id, container_id, tag_id, platform, destination, method, url, headers,"
                " body, attempts, event_time_ms, created_at FROM outbox WHERE id = ?",
                (outbox_id,),
            ).fetchone()
            return None if row is None else OutboxItem(*row)

        return await self._run(read)

    async def _change(
        self, sql: str, params: list[object], where: str, where_params: list[object], dry_run: bool
    ) -> int:
        """Run an operator's UPDATE, or with `dry_run` only count the rows it would touch."""
        if dry_run:
            return await self._count(where, where_params)

        def change(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return conn.execute(sql, params).rowcount

        return await self._run(change)

    async def _count(self, where: str, params: list[object]) -> int:
        def count(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(f"SELECT COUNT(*) FROM outbox WHERE {where}", params).fetchone()[0]
            )

        return await self._run(count)
