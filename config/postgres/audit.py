"""The audit log. Other roles append their rows with `append_audit`, inside the
transaction of the change each row records."""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

from config.postgres.connection import PostgresConnection, Row
from config.storage import AuditEntry

__all__ = ["PostgresAudit", "append_audit"]


class PostgresAudit(PostgresConnection):
    """The `AuditStore` role."""

    async def add_audit(
        self, actor: str, action: str, container_id: str | None, detail: dict[str, Any], now_ms: int
    ) -> None:
        async with self._transaction() as conn:
            await append_audit(conn, now_ms, actor, action, container_id, detail)

    async def audit_log(self, container_id: str | None, limit: int) -> list[AuditEntry]:
        rows = await self._fetchall(
            "SELECT id, at_ms, actor, action, container_id, detail FROM audit"
            " WHERE %(container)s::text IS NULL OR container_id = %(container)s"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"container": container_id, "limit": limit},
        )
        return [AuditEntry(*row) for row in rows]


async def append_audit(
    conn: AsyncConnection[Row],
    at_ms: int,
    actor: str,
    action: str,
    container_id: str | None,
    detail: dict[str, Any],
) -> None:
    """Append an audit row; callers run it inside the transaction of the change it records.
    The detail is serialised as the SQLite store does it (orjson), stored as JSON."""
    await conn.execute(
        "INSERT INTO audit (at_ms, actor, action, container_id, detail)"
        " VALUES (%s, %s, %s, %s, %s::json)",
        (at_ms, actor, action, container_id, orjson.dumps(detail).decode()),
    )
