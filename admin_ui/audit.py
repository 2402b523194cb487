"""Who did what: the actor of an operator action, the `tagwire.audit` log line, and the
store's audit log as operators read it (`tagwire audit`, the admin pages).

Container and secret changes are written to the store's audit log by the store itself,
in the change's transaction; outbox and token actions add their row just after the
change and also write a log line, so a change whose row could not be stored still
leaves a trace in the log.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from admin_ui.errors import FieldError
from config.storage import AuditEntry, AuditStore

__all__ = [
    "ACTOR_ENV",
    "AUDIT_LIMIT",
    "MAX_ACTOR",
    "Actor",
    "actor_name",
    "audit",
    "audit_entries",
    "audit_limit",
    "audit_record",
    "os_user",
]

audit_log = logging.getLogger("tagwire.audit")
# Audit lines are written whatever TAGWIRE_LOG_LEVEL says: a quieter log must not hide
# who changed the outbox.
audit_log.setLevel(logging.INFO)

ACTOR_ENV = "TAGWIRE_ACTOR"
MAX_ACTOR = 200
AUDIT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for an action, for the audit log: an OS user (CLI) or a token (API)."""

    who: str
    via: str


def os_user() -> str:
    """The OS user running the CLI; the uid when the system has no name for it."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def actor_name(given: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The author of a container or secret change: the name given (`--actor`), else
    TAGWIRE_ACTOR (a CI job names itself once), else the OS user."""
    source = os.environ if environ is None else environ
    name = given or source.get(ACTOR_ENV) or os_user()
    if not name.strip() or len(name) > MAX_ACTOR:
        raise FieldError("actor", f"give a name of 1 to {MAX_ACTOR} characters")
    return name.strip()


def audit(actor: Actor, action: str, fields: dict[str, Any]) -> None:
    """One `tagwire.audit` line: who did what, how, with which facts."""
    audit_log.info(
        action, extra={"fields": {"who": actor.who, "via": actor.via, "action": action, **fields}}
    )


def audit_limit(value: object) -> int:
    """How many audit entries to read: a whole number from 1 to AUDIT_LIMIT, or ASCII
    digits spelling one."""
    number = value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= AUDIT_LIMIT:
        raise FieldError("limit", f"{value!r} is not a number from 1 to {AUDIT_LIMIT}")
    return number


async def audit_entries(
    store: AuditStore, container_id: str | None, limit: int
) -> list[AuditEntry]:
    """The newest `limit` entries, of one container or (None) of all. A container need
    not be in the store: token and outbox entries name containers served from files."""
    return await store.audit_log(container_id, audit_limit(limit))


def audit_record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as operators read it (the keys of `tagwire audit --json`)."""
    return {
        "at_ms": entry.at_ms,
        "actor": entry.actor,
        "action": entry.action,
        "container": entry.container_id,
        "detail": entry.detail,
    }
