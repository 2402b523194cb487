"""The audit log. Other roles append their rows with `append_audit`, inside the
transaction of the change each row records."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from config.sqlite.connection import SQLiteConnection
from config.storage import AuditEntry

__all__ = ["SQLiteAudit", "append_audit"]


class SQLiteAudit(SQLiteConnection):
    """The `AuditStore` role."""

    async def add_audit(
        self, actor: str, action: str, container_id: str | None, detail: dict[str, Any], now_ms: int
    ) -> None:
        await self._run(lambda c: append_audit(c, now_ms, actor, action, container_id, detail))

    async def audit_log(self, container_id: str | None, limit: int) -> list[AuditEntry]:
        def log(conn: sqlite3.Connection) -> list[AuditEntry]:
            rows = conn.execute(
                "SELECT id, at_ms, actor, action, container_id, detail FROM audit"
                " WHERE ?1 IS NULL OR container_id = ?1 ORDER BY id DESC LIMIT ?2",
                (container_id, limit),
            ).fetchall()
            return [
                AuditEntry(ident, at_ms, actor, action, container, orjson.loads(detail))
                for ident, at_ms, actor, action, container, detail in rows
            ]

        return await self._run(log)


def append_audit(
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
