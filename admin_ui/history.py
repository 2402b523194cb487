"""The firing history as operators read it: every send attempt of the matching rows,
selected by HTTP status or outcome, one record per attempt with the same keys in the
CLI's JSON and CSV and in the admin API."""

from __future__ import annotations

import dataclasses
from typing import Any

from admin_ui.times import iso
from config.storage import STATES, HistoryEntry, HistoryStore, OutboxFilter

__all__ = ["HISTORY_FIELDS", "history", "history_record"]

# Rows of history read per store call while attempt filters (status, outcome) skip some.
HISTORY_PAGE = 1000
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

# A row's outcome says which state the row can be in: a sent attempt leaves the row sent,
# and a row shows its own state as outcome only while it was never attempted. Failed and
# dead attempts can belong to a row that was replayed since, so they narrow nothing.
_OUTCOME_STATES = {state: (state,) for state in STATES if state not in ("failed", "dead")}


async def history(
    store: HistoryStore,
    filter: OutboxFilter,
    limit: int,
    offset: int = 0,
    status: int | None = None,
    outcome: str | None = None,
) -> list[HistoryEntry]:
    """Attempts of the matching rows, newest first; `status` and `outcome` select
    attempts (and `offset` counts selected ones)."""
    if status is None and outcome is None:
        return await store.history(filter, limit, offset)
    if outcome in _OUTCOME_STATES and not filter.states:
        filter = dataclasses.replace(filter, states=_OUTCOME_STATES[outcome])
    found: list[HistoryEntry] = []
    skip = offset
    page_offset = 0
    while True:
        page = await store.history(filter, HISTORY_PAGE, page_offset)
        for entry in page:
            if (status is not None and entry.status != status) or (
                outcome is not None and entry.outcome != outcome
            ):
                continue
            if skip:
                skip -= 1
                continue
            found.append(entry)
            if len(found) == limit:
                return found
        if len(page) < HISTORY_PAGE:
            return found
        page_offset += HISTORY_PAGE


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
