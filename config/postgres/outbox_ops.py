"""Operator actions on the outbox rows an `OutboxFilter` picks; each can be a dry run."""

from __future__ import annotations

from config.postgres import filters
from config.postgres.connection import PostgresConnection
from config.storage import OutboxFilter, OutboxItem

__all__ = ["PostgresOutboxOps"]


class PostgresOutboxOps(PostgresConnection):
    """The `OutboxOpsStore` role."""

    async def outbox_status(self, filter: OutboxFilter) -> list[tuple[str, str, str, int]]:
        where, params = filters.where(filter, filters.narrowing(filter.states, "status"))
        rows = await self._fetchall(
            f"SELECT container_id, tag_id, state, COUNT(*) FROM outbox WHERE {where}"
            " GROUP BY container_id, tag_id, state ORDER BY container_id, tag_id, state",
            params,
        )
        return [(container, tag, state, int(count)) for container, tag, state, count in rows]

    async def replay(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        states = filters.states(filter.states, ("dead", "failed"), "replay")
        where, params = filters.where(filter, states)
        if dry_run:
            return await self._count(where, params)
        return await self._execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = %s"
            f" WHERE {where}",
            [now_ms, *params],
        )

    async def release_held(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        where, params = filters.where(filter, filters.states(filter.states, ("held",), "release"))
        if dry_run:
            return await self._count(where, params)
        return await self._execute(
            f"UPDATE outbox SET state = 'pending', next_attempt_at = %s WHERE {where}",
            [now_ms, *params],
        )

    async def purge(self, filter: OutboxFilter, dry_run: bool) -> int:
        states = filters.states(filter.states, ("sent", "dead"), "purge")
        where, params = filters.where(filter, states)
        if dry_run:
            return await self._count(where, params)
        async with self._transaction() as conn:
            cursor = await conn.execute(f"DELETE FROM outbox WHERE {where} RETURNING id", params)
            ids = [outbox_id for (outbox_id,) in await cursor.fetchall()]
            await conn.execute("DELETE FROM attempts WHERE outbox_id = ANY(%s)", (ids,))
        return len(ids)

    async def prune_sent(self, before_ms: int, limit: int) -> int:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'sent'"
                " AND created_at < %s ORDER BY created_at LIMIT %s) RETURNING id",
                (before_ms, limit),
            )
            ids = [outbox_id for (outbox_id,) in await cursor.fetchall()]
            if ids:
                await conn.execute("DELETE FROM attempts WHERE outbox_id = ANY(%s)", (ids,))
        return len(ids)

    async def outbox_row(self, outbox_id: int) -> OutboxItem | None:
        row = await self._fetchone(
            "SELECT id, container_id, tag_id, platform, destination, method, url, headers,"
            " body, attempts, event_time_ms, created_at FROM outbox WHERE id = %s",
            (outbox_id,),
        )
        return None if row is None else OutboxItem(*row)

    async def _count(self, where: str, params: list[object]) -> int:
        row = await self._fetchone(f"SELECT COUNT(*) FROM outbox WHERE {where}", params)
        return 0 if row is None else int(row[0])
