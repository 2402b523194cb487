"""The records and constants every store backend reads and writes.

Plain values with no behaviour, so both planes, the CLI and each backend share one
definition; `OutboxRow` is a tuple because it is built per hit and bound as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_FIRE_ONCE_TTL_MS",
    "ENVIRONMENT_ACTIONS",
    "PREVIEW_MODES",
    "RESPONSE_LIMIT",
    "ROLES",
    "RUN_DESTINATION",
    "RUN_METHOD",
    "STATES",
    "AuditEntry",
    "Client",
    "Delivery",
    "Environment",
    "FailedRun",
    "HistoryEntry",
    "IdempotentAnswer",
    "Membership",
    "OutboxFilter",
    "OutboxItem",
    "OutboxRow",
    "PreviewSession",
    "RunItem",
    "RunOutcome",
    "SessionRecord",
    "StoredSecret",
    "StoredVersion",
    "TokenRecord",
    "TraceEntry",
    "User",
    "VolumeCount",
    "Workspace",
]

# Row states: `held` rows were stopped by the spike guard and wait for `release_held`.
STATES = ("pending", "inflight", "sent", "failed", "dead", "held")
# How much of a platform's answer a row and its history keep.
RESPONSE_LIMIT = 500
# The fire-once TTL when a caller does not pass one (the `fire_once_ttl_hours` default).
DEFAULT_FIRE_ONCE_TTL_MS = 72 * 3_600_000
# How an environment's pointer moves; the audit action is `environment.<action>`.
ENVIRONMENT_ACTIONS = ("publish", "rollback")
# A tag run that failed on an acknowledged hit is an outbox row of its own: method `RUN`,
# destination `template`, the hit as the template saw it as its body. The sender never
# claims such rows; the tag retrier runs the template again (see container/tag_retry.py).
RUN_METHOD = "RUN"
RUN_DESTINATION = "template"


class OutboxRow(NamedTuple):
    """A request a tag queued, before it has an id (a tuple: cheap to build per hit and
    bound straight into the INSERT, so the field order is the column order)."""

    container_id: str
    tag_id: str
    destination: str
    method: str
    url: str
    headers: bytes
    body: bytes
    event_name: str
    event_id: str
    dedup_key: str | None
    platform: str
    event_time_ms: int
    lead_id: str | None
    value: float | None
    currency: str | None
    held: bool


class FailedRun(NamedTuple):
    """A tag run that failed on an acknowledged hit, stored with the hit's rows.

    `row` is the `RUN` row (its body the hit record); `error` says why, with the Lua line
    when there is one. `next_attempt_at` set: the failure depends on the environment and
    the run is retried then; None: it is deterministic and the row is dead, replayable
    once the template is fixed. A held row stays held whatever the failure.
    """

    row: OutboxRow
    kind: str
    error: str
    next_attempt_at: int | None


@dataclass(frozen=True, slots=True)
class RunItem:
    """A claimed `RUN` row: which tag to run again on which stored hit."""

    id: int
    container_id: str
    tag_id: str
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What running a claimed `RUN` row again gave.

    `rows` set: the template ran; the first row takes the `RUN` row's place (same id, so
    its history goes on) and the others are added, each under the fire-once rules. An
    empty `rows` settles the row as `sent` with `response` saying nothing was queued.
    `rows` None: it failed again; `state` is `failed` (retry at `next_attempt_at`) or
    `dead`, `response` the error.
    """

    id: int
    rows: list[OutboxRow] | None
    state: str
    response: str
    next_attempt_at: int
    at: int


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed outbox row, ready to send (platform and event time let the sender batch
    per destination and dead-letter events older than a platform accepts)."""

    id: int
    container_id: str
    tag_id: str
    platform: str
    destination: str
    method: str
    url: str
    headers: bytes
    body: bytes
    attempts: int
    event_time_ms: int
    created_at: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one send attempt.

    `state` is `sent`, `failed` (retry at `next_attempt_at`) or `dead` (given up);
    `response` is the platform's answer, at most `RESPONSE_LIMIT` characters. A request
    sent as part of a batch of several rows has one Delivery per row, each with the
    batch's size and duration.
    """

    id: int
    state: str
    status: int | None
    response: str
    next_attempt_at: int
    at: int
    duration_ms: int = 0
    batch_size: int = 1


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    """Which outbox rows an operator means; every field left None (or empty) matches all.

    `since_ms` (inclusive) and `until_ms` (exclusive) bound the row's `created_at`.
    """

    container_id: str | None = None
    tag_id: str | None = None
    platform: str | None = None
    event_name: str | None = None
    lead_id: str | None = None
    states: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One send attempt of a row, or the row itself (attempt 0, outcome = its state) while
    it has never been attempted. `state` is the row's current state; `preview` the
    preview session that sent the row for real (None: live traffic)."""

    outbox_id: int
    container_id: str
    tag_id: str
    platform: str
    destination: str
    event_name: str
    event_id: str
    lead_id: str | None
    value: float | None
    currency: str | None
    state: str
    attempt: int
    at_ms: int
    status: int | None
    outcome: str
    response: str
    created_at: int
    duration_ms: int = 0
    batch_size: int = 1
    preview: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A Fire API token as stored: never the token itself, only its hash."""

    id: int
    container_id: str
    name: str
    created_at: int
    revoked_at: int | None
    last_used_at: int | None


@dataclass(frozen=True, slots=True)
class IdempotentAnswer:
    """What the Fire API answered to the first request with an Idempotency-Key."""

    fingerprint: str
    status: int
    body: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class Workspace:
    """A container's one mutable draft: JSON bytes of a validated
    container document."""

    container_id: str
    document: bytes
    updated_at_ms: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """An immutable, numbered version as stored: the signed canonical body, its Ed25519
    signature and key id, and the record's fields copied out for listing without parsing.
    Only `archived_at_ms` is ever set after the insert, once."""

    container_id: str
    number: int
    parent: int | None
    author: str
    note: str
    created_at_ms: int
    body: bytes
    signature: str
    key_id: str
    archived_at_ms: int | None


@dataclass(frozen=True, slots=True)
class Environment:
    """A named pointer (`live`, `staging`, `pr-12`) to one version of one container."""

    container_id: str
    name: str
    version: int
    updated_at_ms: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One control-plane change; `detail` never holds a secret's value or ciphertext."""

    id: int
    at_ms: int
    actor: str
    action: str
    container_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A container's secret sealed with AES-256-GCM; the store never sees the value."""

    container_id: str
    name: str
    nonce: bytes
    ciphertext: bytes
    key_id: str
    updated_at_ms: int
    updated_by: str


# A person's roles on one client, weakest first: each includes what the ones before it may do.
ROLES = ("viewer", "editor", "publisher", "owner")


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in to the admin UI. `agency_admin` sees and manages every
    client; others see the clients they have a membership of. `password_hash` is the
    self-describing hash string (admin_ui.passwords), never the password."""

    id: int
    email: str
    name: str
    password_hash: str
    agency_admin: bool
    created_at_ms: int
    disabled: bool
    failed_logins: int  # consecutive failed sign-ins since the last success
    locked_until_ms: int  # 0: not locked


@dataclass(frozen=True, slots=True)
class Client:
    """One of the agency's clients: the unit of access. Its containers are listed by
    `AccountStore.client_containers`."""

    id: str
    name: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's role on one client (one of ROLES)."""

    user_id: int
    client_id: str
    role: str


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in browser: stored by the SHA-256 of its cookie value, with the CSRF
    token its forms must carry."""

    token_hash: str
    user_id: int
    csrf: str
    created_at_ms: int
    last_seen_ms: int


# How a preview session delivers: build every request and send nothing; send with the
# platforms' test modes; or send for real (marked in the history).
PREVIEW_MODES = ("dry_run", "test", "live")


@dataclass(frozen=True, slots=True)
class PreviewSession:
    """A preview: `document` (JSON) runs instead of the live version for browsers that
    carry the session's cookie, until `expires_at_ms` or `revoked_at_ms`. `source` says
    what was previewed ("workspace" or "v12"); `revision` grows when the session is
    pointed at a newer workspace, so nodes compile it again."""

    id: str
    container_id: str
    source: str
    document: bytes
    revision: int
    mode: str
    test_code: str | None
    created_by: str
    created_at_ms: int
    expires_at_ms: int
    revoked_at_ms: int | None = None

    def active(self, now_ms: int) -> bool:
        return self.revoked_at_ms is None and now_ms < self.expires_at_ms


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """What one preview hit did: `body` is the trace as JSON, `outcome` a short summary
    (e.g. "2 fired, 1 blocked") the live view filters on."""

    id: int
    session_id: str
    at_ms: int
    event_name: str
    outcome: str
    body: bytes


class VolumeCount(NamedTuple):
    """Hits of one event of one container in one minute (minutes since the epoch), as the
    spike detector counts them: one node's, or every node's together."""

    container_id: str
    event: str
    minute: int
    hits: int
