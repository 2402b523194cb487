"""The storage interface every backend implements (SQLite now, PostgreSQL behind it later).

The data plane only talks to `Store`; methods are async so a network database can be
awaited directly while the embedded SQLite backend runs its blocking calls on its own
thread, off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

__all__ = [
    "DEFAULT_FIRE_ONCE_TTL_MS",
    "ENVIRONMENT_ACTIONS",
    "RESPONSE_LIMIT",
    "STATES",
    "AuditEntry",
    "Delivery",
    "Environment",
    "HistoryEntry",
    "IdempotentAnswer",
    "OutboxFilter",
    "OutboxItem",
    "OutboxRow",
    "StorageError",
    "Store",
    "StoredSecret",
    "StoredVersion",
    "TokenNameTaken",
    "TokenRecord",
    "UnknownVersion",
    "VersionArchived",
    "VersionConflict",
    "VersionInUse",
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


class StorageError(Exception):
    """The store cannot be opened, migrated or used."""


class TokenNameTaken(StorageError):
    """A container already has a live (not revoked) token with that name."""


class VersionConflict(StorageError):
    """The version number is already taken (another create got there first)."""


class UnknownVersion(StorageError):
    """The container has no version with that number."""


class VersionArchived(StorageError):
    """An archived version cannot be published or rolled back to."""


class VersionInUse(StorageError):
    """A version an environment points to cannot be archived."""


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


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One send attempt of a row, or the row itself (attempt 0, outcome = its state) while
    it has never been attempted. `state` is the row's current state."""

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


class Store(Protocol):
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StorageError` when the store cannot answer (readiness)."""

    async def schema_version(self) -> int: ...

    async def enqueue(
        self, rows: list[OutboxRow], now_ms: int, fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS
    ) -> int:
        """Commit rows in one transaction; how many were new.

        A row whose (container, tag, dedup_key) key is taken and unexpired is dropped,
        also a second copy in the same call; the others take their key until
        `now_ms + fire_once_ttl_ms` (an expired key is taken again). A row without a key
        always goes in; a `held` row goes in as `held`.
        """

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        """Mark up to `limit` due pending/failed rows inflight and return them, earliest
        due first (held rows are never claimed)."""

    async def record(self, deliveries: list[Delivery]) -> None:
        """Store send outcomes on the rows and append each to the firing history, in one
        transaction (a crash never leaves an outcome without its history)."""

    async def defer(self, ids: list[int], next_attempt_at: int) -> None:
        """Return claimed (inflight) rows to pending, due at `next_attempt_at`; attempts and
        history unchanged (the sender held them back: nothing was sent, e.g. while the
        destination's circuit is open)."""

    async def release_inflight(self) -> int:
        """Return rows left inflight by a stopped node to pending; how many."""

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per state."""

    async def outbox_status(self, filter: OutboxFilter) -> list[tuple[str, str, str, int]]:
        """(container_id, tag_id, state, rows) for the matching rows, sorted."""

    async def replay(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        """Make matching dead and failed rows pending again, attempts 0, due now; how many
        (`dry_run`: only count). `filter.states` narrows to dead or failed."""

    async def release_held(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        """Make matching held rows pending, due now; how many (`dry_run`: only count)."""

    async def purge(self, filter: OutboxFilter, dry_run: bool) -> int:
        """Delete matching sent and dead rows with their history; how many rows
        (`dry_run`: only count). `filter.states` narrows to sent or dead. Fire-once keys
        live on until they expire, so purging never lets a repeat through."""

    async def history(self, filter: OutboxFilter, limit: int, offset: int) -> list[HistoryEntry]:
        """The firing history of the matching rows: one entry per attempt, plus one for
        each row never attempted; newest row first, its latest attempt first."""

    async def expire_fire_once(self, now_ms: int) -> int:
        """Forget fire-once keys expired at `now_ms`; how many (bounds the key store)."""

    async def create_token(self, container_id: str, name: str, token_hash: str, now_ms: int) -> int:
        """Store a Fire API token's hash (the store never sees the token); its id.

        Raises `TokenNameTaken` when the container has a live token with that name.
        """

    async def list_tokens(self, container_id: str | None) -> list[TokenRecord]:
        """Tokens of one container (None: all), revoked ones included."""

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        """The token with this hash, also when revoked (the caller refuses a token whose
        `revoked_at` is set, and can say why); None when unknown."""

    async def revoke_token(self, container_id: str, name: str, now_ms: int | None = None) -> bool:
        """Revoke a container's live token by name; False when there is none."""

    async def touch_token(self, token_id: int, now_ms: int) -> None:
        """Remember when a token was last used."""

    async def idempotent_get(self, container_id: str, key: str) -> IdempotentAnswer | None:
        """The stored answer for an Idempotency-Key, whatever its age (the caller
        compares `created_at` with its TTL)."""

    async def idempotent_put(
        self, container_id: str, key: str, fingerprint: str, status: int, body: bytes, now_ms: int
    ) -> None:
        """Store (or replace an expired) answer for an Idempotency-Key."""

    async def expire_idempotency(self, before_ms: int) -> int:
        """Forget answers created before `before_ms`; how many."""

    async def save_workspace(
        self, container_id: str, document: bytes, actor: str, now_ms: int, detail: dict[str, Any]
    ) -> None:
        """Create or replace the container's draft; audited as `workspace.import` with the
        caller's `detail` (e.g. the source file)."""

    async def get_workspace(self, container_id: str) -> Workspace | None: ...

    async def insert_version(self, version: StoredVersion, actor: str) -> None:
        """Store a new version, audited as `version.create` at its `created_at_ms`.

        Raises `VersionConflict` when the container already has that number.
        """

    async def get_version(self, container_id: str, number: int) -> StoredVersion | None: ...

    async def latest_version(self, container_id: str) -> StoredVersion | None:
        """The highest-numbered version, archived or not (the next number follows it)."""

    async def list_versions(self, container_id: str, include_archived: bool) -> list[StoredVersion]:
        """The container's versions, newest first."""

    async def archive_version(
        self, container_id: str, number: int, actor: str, now_ms: int
    ) -> None:
        """Archive a version, audited as `version.archive`; archiving it again changes
        nothing and writes no second audit row.

        Raises `UnknownVersion`, or `VersionInUse` naming the environments that point to it.
        """

    async def set_environment(
        self, container_id: str, env: str, number: int, action: str, actor: str, now_ms: int
    ) -> int | None:
        """Point an environment at a version (`action`: publish or rollback, audited as
        `environment.<action>`); the version it pointed to before, None for a new one.

        Raises `UnknownVersion` or `VersionArchived`, changing nothing.
        """

    async def list_environments(self, container_id: str | None) -> list[Environment]:
        """Environments of one container (None: all), by container and name."""

    async def delete_environment(
        self, container_id: str, env: str, actor: str, now_ms: int
    ) -> bool:
        """Remove an environment, audited as `environment.delete`; False (and no audit
        row) when there is none."""

    async def add_audit(
        self, actor: str, action: str, container_id: str | None, detail: dict[str, Any], now_ms: int
    ) -> None:
        """Record an action that changes no row (e.g. an export)."""

    async def audit_log(self, container_id: str | None, limit: int) -> list[AuditEntry]:
        """The latest `limit` audit rows of one container (None: all), newest first."""

    async def put_secret(self, secret: StoredSecret) -> None:
        """Create or replace a sealed secret, audited as `secret.set` by its `updated_by`."""

    async def delete_secret(self, container_id: str, name: str, actor: str, now_ms: int) -> bool:
        """Remove a secret, audited as `secret.delete`; False (and no audit row) when there
        is none."""

    async def list_secrets(self, container_id: str | None) -> list[StoredSecret]:
        """Sealed secrets of one container (None: all), by container and name."""

    async def node_key(self, name: str) -> bytes:
        """The 32 random bytes kept under `name`, made on first use; every process on this
        store gets the same ones."""

    async def list_containers(self) -> list[str]:
        """Ids of the containers that have a workspace or a version, sorted."""
