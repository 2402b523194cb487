"""The firing history: every attempt `record` appended, joined to its outbox row."""

from __future__ import annotations

import sqlite3

from config.sqlite import filters
from config.sqlite.connection import SQLiteConnection
from config.storage import HistoryEntry, OutboxFilter

__all__ = ["SQLiteHistory"]


class SQLiteHistory(SQLiteConnection):
    """The `HistoryStore` role."""

    async def history(
        self,
        filter: OutboxFilter,
        limit: int,
        offset: int,
        status: int | None = None,
        outcome: str | None = None,
    ) -> list[HistoryEntry]:
        where, params = filters.where(filter, filters.narrowing(filter.states, "history"), "o.")
        if status is not None:
            where += " AND a.status = ?"
            params = [*params, status]
        if outcome is not None:
            where += " AND COALESCE(a.outcome, o.state) = ?"
            params = [*params, outcome]
        return await self._entries(where, params, limit, offset)

    async def row_history(self, outbox_id: int) -> list[HistoryEntry]:
        return await self._entries("o.id = ?", [outbox_id], -1, 0)

    async def _entries(
        self, where: str, params: list[object], limit: int, offset: int
    ) -> list[HistoryEntry]:
        def history(conn: sqlite3.Connection) -> list[HistoryEntry]:
            rows = conn.execute(
                "SELECT o.id, o.container_id, o.tag_id, o.platform, o.destination, o.event_name,"
                " o.event_id, o.lead_id, o.value, o.currency, o.state, COALESCE(a.attempt, 0),"
                " COALESCE(a.at, o.created_at), a.status, COALESCE(a.outcome, o.state),"
                " COALESCE(a.response, ''), o.created_at, COALESCE(a.duration_ms, 0),"
                " COALESCE(a.batch_size, 1), o.preview_session"
                " FROM outbox AS o LEFT JOIN attempts AS a ON a.outbox_id = o.id"
                f" WHERE {where} ORDER BY o.id DESC, a.attempt DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
            return [HistoryEntry(*row) for row in rows]

        return await self._run(history)
