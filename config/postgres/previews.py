"""Preview sessions and the traces of their hits, with the semantics of
`config.sqlite.previews`: every node shares them through the store, so a session started
on one node runs on all of them."""

from __future__ import annotations

from config.postgres.connection import PostgresConnection, Row
from config.storage import PreviewSession, TraceEntry

__all__ = ["PostgresPreviews"]

_SESSION_COLUMNS = (
    "id, container_id, source, document, revision, mode, test_code, created_by, created_at,"
    " expires_at, revoked_at"
)
_TRACE_COLUMNS = "id, session_id, at, event_name, outcome, body"
_PRUNE_STEP = 5000  # traces deleted per transaction


def _session(row: Row) -> PreviewSession:
    return PreviewSession(*row)


class PostgresPreviews(PostgresConnection):
    """The `PreviewStore` role."""

    async def create_preview(self, session: PreviewSession) -> None:
        await self._execute(
            f"INSERT INTO preview_sessions ({_SESSION_COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (session.id, session.container_id, session.source, session.document,
             session.revision, session.mode, session.test_code, session.created_by,
             session.created_at_ms, session.expires_at_ms, session.revoked_at_ms),
        )  # fmt: skip

    async def get_preview(self, session_id: str) -> PreviewSession | None:
        row = await self._fetchone(
            f"SELECT {_SESSION_COLUMNS} FROM preview_sessions WHERE id = %s", (session_id,)
        )
        return None if row is None else _session(row)

    async def list_previews(
        self, container_id: str | None, active_at_ms: int | None
    ) -> list[PreviewSession]:
        rows = await self._fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM preview_sessions"
            " WHERE (%(container)s::text IS NULL OR container_id = %(container)s)"
            " AND (%(at)s::bigint IS NULL OR (revoked_at IS NULL AND expires_at > %(at)s))"
            " ORDER BY created_at DESC, id",
            {"container": container_id, "at": active_at_ms},
        )
        return [_session(row) for row in rows]

    async def revoke_preview(self, session_id: str, now_ms: int) -> bool:
        revoked = await self._execute(
            "UPDATE preview_sessions SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
            (now_ms, session_id),
        )
        return revoked > 0

    async def refresh_preview(self, session_id: str, source: str, document: bytes) -> bool:
        refreshed = await self._execute(
            "UPDATE preview_sessions SET source = %s, document = %s, revision = revision + 1"
            " WHERE id = %s AND revoked_at IS NULL",
            (source, document, session_id),
        )
        return refreshed > 0

    async def add_traces(
        self, traces: list[tuple[str, int, str, str, bytes]], keep_per_session: int
    ) -> None:
        if not traces:
            return
        sessions, ats, events, outcomes, bodies = (list(c) for c in zip(*traces, strict=True))
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO preview_traces (session_id, at, event_name, outcome, body)"
                " SELECT s, a, e, o, b FROM unnest(%s::text[], %s::int8[], %s::text[],"
                " %s::text[], %s::bytea[]) WITH ORDINALITY AS v(s, a, e, o, b, n) ORDER BY n",
                (sessions, ats, events, outcomes, bodies),
            )
            for session_id in sorted(set(sessions)):
                await conn.execute(
                    "DELETE FROM preview_traces WHERE session_id = %(s)s AND id <= ("
                    " SELECT id FROM preview_traces WHERE session_id = %(s)s"
                    " ORDER BY id DESC LIMIT 1 OFFSET %(keep)s)",
                    {"s": session_id, "keep": keep_per_session},
                )

    async def traces(
        self, session_id: str, after_id: int, limit: int, oldest_first: bool = False
    ) -> list[TraceEntry]:
        order = "ASC" if oldest_first else "DESC"
        rows = await self._fetchall(
            f"SELECT {_TRACE_COLUMNS} FROM preview_traces"
            f" WHERE session_id = %s AND id > %s ORDER BY id {order} LIMIT %s",
            (session_id, after_id, limit),
        )
        return [TraceEntry(*row) for row in rows]

    async def trace(self, session_id: str, trace_id: int) -> TraceEntry | None:
        row = await self._fetchone(
            f"SELECT {_TRACE_COLUMNS} FROM preview_traces WHERE id = %s AND session_id = %s",
            (trace_id, session_id),
        )
        return None if row is None else TraceEntry(*row)

    async def prune_previews(self, traces_before_ms: int, sessions_before_ms: int) -> int:
        deleted = await self._delete_in_steps(
            "DELETE FROM preview_traces WHERE id IN (SELECT id FROM preview_traces"
            " WHERE at < %s LIMIT %s)",
            traces_before_ms,
            step=_PRUNE_STEP,
        )
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM preview_sessions WHERE expires_at < %(before)s"
                " OR revoked_at < %(before)s RETURNING id",
                {"before": sessions_before_ms},
            )
            gone = [session_id for (session_id,) in await cursor.fetchall()]
            await conn.execute("DELETE FROM preview_traces WHERE session_id = ANY(%s)", (gone,))
        return deleted

    async def mark_preview_rows(
        self, container_id: str, event_ids: list[str], session_id: str, since_ms: int
    ) -> int:
        if not event_ids:
            return 0
        marked = 0
        async with self._transaction() as conn:
            for event_id in event_ids:
                cursor = await conn.execute(
                    "UPDATE outbox SET preview_session = %s WHERE container_id = %s"
                    " AND event_id = %s AND created_at >= %s",
                    (session_id, container_id, event_id, since_ms),
                )
                marked += cursor.rowcount
        return marked
