"""The firing history as operators read it: every send attempt of the matching rows,
selected by HTTP status or outcome, one record per attempt with the same keys in the
CLI's JSON and CSV and in the admin API."""

from __future__ import annotations

from typing import Any

from admin_ui.times import iso
from config.storage import HistoryEntry, HistoryStore, OutboxFilter

__all__ = ["HISTORY_FIELDS", "history", "history_record"]

# The fields of a history record, in column order (CSV header, JSON keys).
HISTORY_FIELDS = (
    "time",
    "container",
    "tag",
    "platform",
    "destination",
    "event",
    "event_id",
    "lead_id",
    "value",
    "currency",
    "attempt",
    "status",
    "outcome",
    "response",
    "outbox_id",
    "state",
    "queued_at",
    "duration_ms",
    "batch_size",
)

async def history(
    store: HistoryStore,
    filter: OutboxFilter,
    limit: int,
    offset: int = 0,
    status: int | None = None,
    outcome: str | None = None,
) -> list[HistoryEntry]:
    """Attempts of the matching rows, newest first; `status` and `outcome` select
    attempts (and `offset` counts selected ones). The store filters them, so a page costs
    the same whichever filter it carries."""
    return await store.history(filter, limit, offset, status, outcome)


def history_record(entry: HistoryEntry) -> dict[str, Any]:
    """One attempt as the operator sees it (keys in `HISTORY_FIELDS` order)."""
    return {
        "time": iso(entry.at_ms),
        "container": entry.container_id,
        "tag": entry.tag_id,
        "platform": entry.platform,
        "destination": entry.destination,
        "event": entry.event_name,
        "event_id": entry.event_id,
        "lead_id": entry.lead_id,
        "value": entry.value,
        "currency": entry.currency,
        "attempt": entry.attempt,
        "status": entry.status,
        "outcome": entry.outcome,
        "response": entry.response,
        "outbox_id": entry.outbox_id,
        "state": entry.state,
        "queued_at": iso(entry.created_at),
        "duration_ms": entry.duration_ms,
        "batch_size": entry.batch_size,
    }
