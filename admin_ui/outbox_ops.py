"""Operator actions on the outbox, shared by the CLI and the admin API.

Both front ends parse their input into an `OutboxFilter` with the same rules
(`admin_ui.times.parse_time`, `admin_ui.filters.check_text`) and call `OutboxOps`, which
adds what the store leaves to the caller: the default states, the purge guard, and one
audit log line per action that changes (or would change) rows. Reading the attempts is
`admin_ui.history`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

from admin_ui.audit import Actor, audit
from admin_ui.errors import FieldError
from admin_ui.filters import filter_fields
from admin_ui.times import now_ms
from config.storage import STATES, AuditStore, OutboxFilter, OutboxOpsStore

__all__ = ["PURGE_STATES", "REPLAY_STATES", "OutboxOps"]

# Which states each action may name; the first tuple item of REPLAY_STATES is its default.
REPLAY_STATES = ("dead", "failed")
PURGE_STATES = ("sent", "dead")


class OperatedOutbox(OutboxOpsStore, AuditStore, Protocol):
    """The outbox operations, and the audit log each one that changes rows goes to."""

class OutboxOps:
    """The operator actions over one store; every change is audited with its actor."""

    def __init__(self, store: OperatedOutbox, clock: Callable[[], int] = now_ms) -> None:
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
