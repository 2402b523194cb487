"""An operator's `OutboxFilter` as SQL, shared by the outbox operations and the history.

Values are always bound as parameters, never put into the SQL text.
"""

from __future__ import annotations

from config.storage import STATES, OutboxFilter

__all__ = ["narrowing", "states", "where"]


def states(requested: tuple[str, ...], allowed: tuple[str, ...], action: str) -> tuple[str, ...]:
    """The states an operation applies to: `allowed`, narrowed by the filter's states."""
    if not requested:
        return allowed
    outside = [state for state in requested if state not in allowed]
    if outside:
        raise ValueError(
            f"{action} applies to rows in state {', '.join(allowed)}; not {', '.join(outside)}"
        )
    return tuple(dict.fromkeys(requested))


def narrowing(requested: tuple[str, ...], action: str) -> tuple[str, ...]:
    """The filter's states for a read over all states: none means no state condition."""
    return states(requested, STATES, action) if requested else ()


def where(
    filter: OutboxFilter, states: tuple[str, ...], prefix: str = ""
) -> tuple[str, list[object]]:
    """The filter as a WHERE clause over the outbox (columns qualified with `prefix`) and
    its parameters; values are always bound, never put into the SQL. No states: any."""
    clauses = [f"{prefix}state IN ({','.join('?' * len(states))})"] if states else []
    params: list[object] = list(states)
    for column in ("container_id", "tag_id", "platform", "event_name", "event_id", "lead_id"):
        value = getattr(filter, column)
        if value is not None:
            clauses.append(f"{prefix}{column} = ?")
            params.append(value)
    if filter.since_ms is not None:
        clauses.append(f"{prefix}created_at >= ?")
        params.append(filter.since_ms)
    if filter.until_ms is not None:
        clauses.append(f"{prefix}created_at < ?")
        params.append(filter.until_ms)
    return " AND ".join(clauses) or "1", params
