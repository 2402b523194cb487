"""Operator actions on the outbox and its firing history, shared by the CLI and the admin API.

Both front ends parse their input into an `OutboxFilter` with the same rules
(`parse_time`, `check_text`) and call `OutboxOps`, which adds what the store leaves to the
caller: the default states, the purge guard, history filters on attempts, and one audit
log line per action that changes (or would change) rows.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.storage import STATES, HistoryEntry, OutboxFilter, Store

__all__ = [
    "HISTORY_FIELDS",
    "PURGE_STATES",
    "REPLAY_STATES",
    "Actor",
    "FieldError",
    "OutboxOps",
    "audit",
    "check_text",
    "filter_fields",
    "history_record",
    "iso",
    "now_ms",
    "os_user",
    "parse_time",
]

audit_log = logging.getLogger("tagwire.audit")
# Audit lines are written whatever TAGWIRE_LOG_LEVEL says: a quieter log must not hide
# who changed the outbox.
audit_log.setLevel(logging.INFO)

# Which states each action may name; the first tuple item of REPLAY_STATES is its default.
REPLAY_STATES = ("dead", "failed")
PURGE_STATES = ("sent", "dead")
MAX_TEXT = 200
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

_RELATIVE = re.compile(r"(\d{1,9})([smhdw])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# A row's outcome says which state the row can be in: a sent attempt leaves the row sent,
# and a row shows its own state as outcome only while it was never attempted. Failed and
# dead attempts can belong to a row that was replayed since, so they narrow nothing.
_OUTCOME_STATES = {state: (state,) for state in STATES if state not in ("failed", "dead")}


class FieldError(ValueError):
    """An operator's input is unusable; `field` names it as the caller wrote it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for an action, for the audit log: an OS user (CLI) or a token (API)."""

    who: str
    via: str


def now_ms() -> int:
    return int(time.time() * 1000)


def os_user() -> str:
    """The OS user running the CLI; the uid when the system has no name for it."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def parse_time(text: str, now: int) -> int:
    """Milliseconds since the epoch from an ISO 8601 time or date (no offset means UTC) or
    a relative age (`30m`, `2h`, `7d`, `1w`, `45s`: that long before `now`)."""
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now - int(relative.group(1)) * _UNIT_MS[relative.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-12-01T10:00:00Z, 2026-12-01) "
            "or an age such as 30m, 2h, 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def check_text(value: str) -> str:
    """A container, tag, platform, event or lead id to match exactly."""
    if not value or len(value) > MAX_TEXT:
        raise ValueError(f"must be 1-{MAX_TEXT} characters")
    return value


def iso(ms: int) -> str:
    """UTC time with milliseconds: 2026-12-01T10:00:00.000Z."""
    stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def filter_fields(filter: OutboxFilter, until: str = "until") -> dict[str, Any]:
    """The filter's set fields under their operator names (audit lines, answers); purge
    calls its upper time bound `before`."""
    names = {"container_id": "container", "tag_id": "tag", "event_name": "event"}
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(filter):
        value = getattr(filter, field.name)
        if value is None or value == ():
            continue
        if field.name == "since_ms":
            fields["since"] = iso(value)
        elif field.name == "until_ms":
            fields[until] = iso(value)
        elif field.name == "states":
            fields["state"] = list(value)
        else:
            fields[names.get(field.name, field.name)] = value
    return fields


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


class OutboxOps:
    """The operator actions over one store; every change is audited with its actor."""

    def __init__(self, store: Store, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._clock = clock

    async def status(self, filter: OutboxFilter) -> dict[str, Any]:
        """Rows per container and tag and state, every state listed, plus the totals."""
        per_tag: dict[tuple[str, str], dict[str, int]] = {}
        totals = dict.fromkeys(STATES, 0)
        for container_id, tag_id, state, count in await self._store.outbox_status(filter):
            per_tag.setdefault((container_id, tag_id), dict.fromkeys(STATES, 0))[state] = count
            totals[state] += count
        return {
            "tags": [
                {"container": c, "tag": t, "states": states, "total": sum(states.values())}
                for (c, t), states in per_tag.items()
            ],
            "totals": {"states": totals, "total": sum(totals.values())},
        }

    async def replay(self, filter: OutboxFilter, dry_run: bool, actor: Actor) -> int:
        """Dead rows (or those `filter.states` names: dead, failed) back to pending."""
        if not filter.states:
            filter = dataclasses.replace(filter, states=REPLAY_STATES[:1])
        count = await self._store.replay(filter, self._clock(), dry_run)
        await self._audit(actor, "outbox replay", filter, dry_run, count)
        return count

    async def release(self, filter: OutboxFilter, dry_run: bool, actor: Actor) -> int:
        """Held rows (stopped by the spike guard) back to pending."""
        count = await self._store.release_held(filter, self._clock(), dry_run)
        await self._audit(actor, "outbox release", filter, dry_run, count)
        return count

    async def purge(
        self, filter: OutboxFilter, everything: bool, dry_run: bool, actor: Actor
    ) -> int:
        """Delete finished (sent, dead) rows with their history. Needs an upper time bound
        or `everything`: a purge without one would also take today's rows."""
        if filter.until_ms is None and not everything:
            raise FieldError("before", "required (or 'all' to purge regardless of age)")
        if filter.until_ms is not None and everything:
            raise FieldError("all", "purges rows of any age; send 'before' or 'all', not both")
        count = await self._store.purge(filter, dry_run)
        await self._audit(actor, "outbox purge", filter, dry_run, count, "before")
        return count

    async def _audit(
        self,
        actor: Actor,
        action: str,
        filter: OutboxFilter,
        dry_run: bool,
        count: int,
        until: str = "until",
    ) -> None:
        """The audit log line, and for a change that was made (not a dry run) the row in
        the store's audit log, which `tagwire audit` lists with the config changes."""
        fields = {"filters": filter_fields(filter, until), "dry_run": dry_run, "rows": count}
        audit(actor, action, fields)
        if not dry_run:
            await self._store.add_audit(
                actor.who,
                action.replace(" ", "."),
                filter.container_id,
                {"via": actor.via, "filters": fields["filters"], "rows": count},
                self._clock(),
            )

    async def history(
        self,
        filter: OutboxFilter,
        limit: int,
        offset: int = 0,
        status: int | None = None,
        outcome: str | None = None,
    ) -> list[HistoryEntry]:
        """Attempts of the matching rows, newest first; `status` and `outcome` select
        attempts (and `offset` counts selected ones)."""
        if status is None and outcome is None:
            return await self._store.history(filter, limit, offset)
        if outcome in _OUTCOME_STATES and not filter.states:
            filter = dataclasses.replace(filter, states=_OUTCOME_STATES[outcome])
        found: list[HistoryEntry] = []
        skip = offset
        page_offset = 0
        while True:
            page = await self._store.history(filter, HISTORY_PAGE, page_offset)
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


def audit(actor: Actor, action: str, fields: dict[str, Any]) -> None:
    """One `tagwire.audit` line: who did what, how, with which facts."""
    audit_log.info(
        action, extra={"fields": {"who": actor.who, "via": actor.via, "action": action, **fields}}
    )
