"""The firing history: every attempt `record` appended, joined to its outbox row, in the
order and with the filters of `config.sqlite.history`."""

from __future__ import annotations

from config.postgres import filters
from config.postgres.connection import PostgresConnection
from config.storage import HistoryEntry, OutboxFilter

__all__ = ["PostgresHistory"]


class PostgresHistory(PostgresConnection):
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
            where += " AND a.status = %s"
            params = [*params, status]
        if outcome is not None:
            where += " AND COALESCE(a.outcome, o.state) = %s"
            params = [*params, outcome]
        return await self._entries(where, params, limit, offset)

    async def row_history(self, outbox_id: int) -> list[HistoryEntry]:
        return await self._entries("o.id = %s", [outbox_id], None, 0)

    async def _entries(
        self, where: str, params: list[object], limit: int | None, offset: int
    ) -> list[HistoryEntry]:
        """`limit` None: every entry (a negative limit means the same, as in SQLite)."""
        if limit is not None and limit < 0:
            limit = None
        rows = await self._fetchall(
            "SELECT o.id, o.container_id, o.tag_id, o.platform, o.destination, o.event_name,"
            " o.event_id, o.lead_id, o.value, o.currency, o.state, COALESCE(a.attempt, 0),"
            " COALESCE(a.at, o.created_at), a.status, COALESCE(a.outcome, o.state),"
            " COALESCE(a.response, ''), o.created_at, COALESCE(a.duration_ms, 0),"
            " COALESCE(a.batch_size, 1), o.preview_session"
            " FROM outbox AS o LEFT JOIN attempts AS a ON a.outbox_id = o.id"
            f" WHERE {where} ORDER BY o.id DESC, a.attempt DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [HistoryEntry(*row) for row in rows]
