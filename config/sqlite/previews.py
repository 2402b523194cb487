"""Preview sessions and the traces of their hits."""

from __future__ import annotations

import sqlite3
from typing import Any

from config.sqlite.connection import SQLiteConnection
from config.sqlite.transaction import transaction
from config.storage import PreviewSession, TraceEntry

__all__ = ["SQLitePreviews"]

_SESSION_COLUMNS = (
    "id, container_id, source, document, revision, mode, test_code, created_by, created_at,"
    " expires_at, revoked_at"
)
_TRACE_COLUMNS = "id, session_id, at, event_name, outcome, body"
_PRUNE_STEP = 5000  # traces deleted per transaction


def _session(row: tuple[Any, ...]) -> PreviewSession:
    ident, container, source, document, *rest = row
    return PreviewSession(ident, container, source, bytes(document), *rest)


def _trace(row: tuple[Any, ...]) -> TraceEntry:
    ident, session_id, at_ms, event_name, outcome, body = row
    return TraceEntry(ident, session_id, at_ms, event_name, outcome, bytes(body))


class SQLitePreviews(SQLiteConnection):
    """The `PreviewStore` role."""

    async def create_preview(self, session: PreviewSession) -> None:
        def create(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    f"INSERT INTO preview_sessions ({_SESSION_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (session.id, session.container_id, session.source, session.document,
                     session.revision, session.mode, session.test_code, session.created_by,
                     session.created_at_ms, session.expires_at_ms, session.revoked_at_ms),
                )  # fmt: skip

        await self._run(create)

    async def get_preview(self, session_id: str) -> PreviewSession | None:
        def get(conn: sqlite3.Connection) -> PreviewSession | None:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM preview_sessions WHERE id = ?", (session_id,)
            ).fetchone()
            return None if row is None else _session(row)

        return await self._run(get)

    async def list_previews(
        self, container_id: str | None, active_at_ms: int | None
    ) -> list[PreviewSession]:
        def list_(conn: sqlite3.Connection) -> list[PreviewSession]:
            rows = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM preview_sessions"
                " WHERE (?1 IS NULL OR container_id = ?1)"
                " AND (?2 IS NULL OR (revoked_at IS NULL AND expires_at > ?2))"
                " ORDER BY created_at DESC, id",
                (container_id, active_at_ms),
            ).fetchall()
            return [_session(row) for row in rows]

        return await self._run(list_)

    async def revoke_preview(self, session_id: str, now_ms: int) -> bool:
        def revoke(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                cursor = conn.execute(
                    "UPDATE preview_sessions SET revoked_at = ?"
                    " WHERE id = ? AND revoked_at IS NULL",
                    (now_ms, session_id),
                )
            return cursor.rowcount > 0

        return await self._run(revoke)

    async def refresh_preview(self, session_id: str, source: str, document: bytes) -> bool:
        def refresh(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                cursor = conn.execute(
                    "UPDATE preview_sessions SET source = ?, document = ?,"
                    " revision = revision + 1 WHERE id = ? AND revoked_at IS NULL",
                    (source, document, session_id),
                )
            return cursor.rowcount > 0

        return await self._run(refresh)

    async def add_traces(
        self, traces: list[tuple[str, int, str, str, bytes]], keep_per_session: int
    ) -> None:
        def add(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO preview_traces (session_id, at, event_name, outcome, body)"
                    " VALUES (?, ?, ?, ?, ?)",
                    traces,
                )
                for session_id in {trace[0] for trace in traces}:
                    conn.execute(
                        "DELETE FROM preview_traces WHERE session_id = ?1 AND id <= ("
                        " SELECT id FROM preview_traces WHERE session_id = ?1"
                        " ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                        (session_id, keep_per_session),
                    )

        if traces:
            await self._run(add)

    async def traces(
        self, session_id: str, after_id: int, limit: int, oldest_first: bool = False
    ) -> list[TraceEntry]:
        order = "ASC" if oldest_first else "DESC"

        def read(conn: sqlite3.Connection) -> list[TraceEntry]:
            rows = conn.execute(
                f"SELECT {_TRACE_COLUMNS} FROM preview_traces"
                f" WHERE session_id = ? AND id > ? ORDER BY id {order} LIMIT ?",
                (session_id, after_id, limit),
            ).fetchall()
            return [_trace(row) for row in rows]

        return await self._run(read)

    async def trace(self, session_id: str, trace_id: int) -> TraceEntry | None:
        def read(conn: sqlite3.Connection) -> TraceEntry | None:
            row = conn.execute(
                f"SELECT {_TRACE_COLUMNS} FROM preview_traces WHERE id = ? AND session_id = ?",
                (trace_id, session_id),
            ).fetchone()
            return None if row is None else _trace(row)

        return await self._run(read)

    async def prune_previews(self, traces_before_ms: int, sessions_before_ms: int) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            deleted = 0
            while True:
                with transaction(conn):
                    step = conn.execute(
                        "DELETE FROM preview_traces WHERE id IN (SELECT id FROM preview_traces"
                        " WHERE at < ? LIMIT ?)",
                        (traces_before_ms, _PRUNE_STEP),
                    ).rowcount
                deleted += step
                if step < _PRUNE_STEP:
                    break
            with transaction(conn):
                gone = conn.execute(
                    "SELECT id FROM preview_sessions WHERE expires_at < ?1"
                    " OR revoked_at < ?1",
                    (sessions_before_ms,),
                ).fetchall()
                for (session_id,) in gone:
                    conn.execute("DELETE FROM preview_traces WHERE session_id = ?", (session_id,))
                    conn.execute("DELETE FROM preview_sessions WHERE id = ?", (session_id,))
            return deleted

        return await self._run(prune)

    async def mark_preview_rows(
        self, container_id: str, event_ids: list[str], session_id: str, since_ms: int
    ) -> int:
        def mark(conn: sqlite3.Connection) -> int:
            marked = 0
            with transaction(conn):
                for event_id in event_ids:
                    marked += conn.execute(
                        "UPDATE outbox SET preview_session = ? WHERE container_id = ?"
                        " AND event_id = ? AND created_at >= ?",
                        (session_id, container_id, event_id, since_ms),
                    ).rowcount
            return marked

        if not event_ids:
            return 0
        return await self._run(mark)
