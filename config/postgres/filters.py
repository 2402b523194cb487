"""An operator's `OutboxFilter` as PostgreSQL, shared by the outbox operations and the
history; the same conditions as `config.sqlite.filters`, whose state checks it reuses.

Values are always bound as parameters, never put into the SQL text.
"""

from __future__ import annotations

from config.sqlite.filters import narrowing, states
from config.storage import OutboxFilter

__all__ = ["narrowing", "states", "where"]


def where(
    filter: OutboxFilter, states: tuple[str, ...], prefix: str = ""
) -> tuple[str, list[object]]:
    """The filter as a WHERE clause over the outbox (columns qualified with `prefix`) and
    its parameters. No states: any."""
    clauses = [f"{prefix}state = ANY(%s)"] if states else []
    params: list[object] = [list(states)] if states else []
    for column in ("container_id", "tag_id", "platform", "event_name", "event_id", "lead_id"):
        value = getattr(filter, column)
        if value is not None:
            clauses.append(f"{prefix}{column} = %s")
            params.append(value)
    if filter.since_ms is not None:
        clauses.append(f"{prefix}created_at >= %s")
        params.append(filter.since_ms)
    if filter.until_ms is not None:
        clauses.append(f"{prefix}created_at < %s")
        params.append(filter.until_ms)
    return " AND ".join(clauses) or "TRUE", params
