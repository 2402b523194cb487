"""The store's roles: one protocol per kind of data, and `Store`, all of them at once.

A caller asks for the roles it uses (the sender an `OutboxStore`, the Fire API a
`TokenStore` and an `IdempotencyStore`), so its test fake implements a few methods, not
forty. A backend implements every role; the SQLite backend has one module per role in
`config.sqlite`, and a PostgreSQL backend will mirror them.

Methods are async so a network database can be awaited directly, while SQLite runs its
blocking calls on its own thread. Every failure raises `StorageError` (or a subclass).
The protocols are runtime-checkable so a test can tell that a backend has every method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from config.storage.records import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    AuditEntry,
    Client,
    Delivery,
    Environment,
    FailedRun,
    HistoryEntry,
    IdempotentAnswer,
    Membership,
    OutboxFilter,
    OutboxItem,
    OutboxRow,
    PreviewSession,
    RunItem,
    RunOutcome,
    SessionRecord,
    StoredSecret,
    StoredVersion,
    TokenRecord,
    TraceEntry,
    User,
    VolumeCount,
    Workspace,
)

__all__ = [
    "AccountStore",
    "AuditStore",
    "FireOnceStore",
    "HistoryStore",
    "IdempotencyStore",
    "OutboxOpsStore",
    "OutboxStore",
    "PreviewStore",
    "SecretStore",
    "Store",
    "StoreLifecycle",
    "TagRunStore",
    "TokenStore",
    "VersionStore",
    "VolumeStore",
]


@runtime_checkable
class StoreLifecycle(Protocol):
    """Opening and closing the store, and whether it answers: what a process that owns
    the store needs, whatever it then does with it."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StorageError` when the store cannot answer (readiness)."""

    async def schema_version(self) -> int: ...


@runtime_checkable
class OutboxStore(Protocol):
    """The durable queue of the data plane: `/collect` and the Fire API enqueue, the
    sender claims, sends and records."""

    async def enqueue(
        self,
        rows: list[OutboxRow],
        now_ms: int,
        fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS,
        failures: Sequence[FailedRun] = (),
    ) -> int:
        """Commit rows and failed tag runs in one transaction; how many rows were new.

        A row whose (container, tag, dedup_key) key is taken and unexpired is dropped,
        also a second copy in the same call; the others take their key until
        `now_ms + fire_once_ttl_ms` (an expired key is taken again). A row without a key
        always goes in; a `held` row goes in as `held`. Each failure goes in as its `RUN`
        row with the failure as its first history entry (see `FailedRun`).
        """

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        """Mark up to `limit` due pending/failed rows inflight and return them, earliest
        due first (held rows and `RUN` rows are never claimed here)."""

    async def record(self, deliveries: list[Delivery]) -> None:
        """Store send outcomes on the rows and append each to the firing history, in one
        transaction (a crash never leaves an outcome without its history)."""

    async def defer(self, ids: list[int], next_attempt_at: int) -> None:
        """Return claimed (inflight) rows to pending, due at `next_attempt_at`; attempts and
        history unchanged (the sender held them back: nothing was sent, e.g. while the
        destination's circuit is open)."""

    async def release_inflight(self) -> int:
        """Return rows left inflight by a stopped node to pending; how many."""

    async def release_orphans(self) -> int:
        """Return to pending the inflight rows of other nodes that are gone (never this
        node's, nor a live node's); how many. Every live node runs it on a schedule, so a
        row whose node died while sending it goes out again without waiting for a node to
        start. Zero where one node has the store to itself (SQLite)."""

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per state."""


@runtime_checkable
class TagRunStore(Protocol):
    """Failed tag runs (`RUN` rows) on their way to running again."""

    async def claim_runs(self, limit: int, now_ms: int) -> list[RunItem]:
        """Mark up to `limit` due pending/failed `RUN` rows inflight and return them."""

    async def settle_runs(
        self, outcomes: list[RunOutcome], fire_once_ttl_ms: int = DEFAULT_FIRE_ONCE_TTL_MS
    ) -> None:
        """Store what running them again gave, in one transaction (see `RunOutcome`)."""


@runtime_checkable
class OutboxOpsStore(Protocol):
    """What an operator does to outbox rows picked by an `OutboxFilter`: count them, send
    them again, let held ones go, delete finished ones."""

    async def outbox_status(self, filter: OutboxFilter) -> list[tuple[str, str, str, int]]:
        """(container_id, tag_id, state, rows) for the matching rows, sorted."""

    async def replay(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        """Make matching dead and failed rows pending again, attempts 0, due now; how many
        (`dry_run`: only count). `filter.states` narrows to dead or failed."""

    async def release_held(self, filter: OutboxFilter, now_ms: int, dry_run: bool) -> int:
        """Make matching held rows pending, due now; how many (`dry_run`: only count)."""

    async def outbox_row(self, outbox_id: int) -> OutboxItem | None:
        """One row as it would be sent (any state), for an operator to inspect."""

    async def prune_sent(self, before_ms: int, limit: int) -> int:
        """Delete at most `limit` sent rows queued before `before_ms`, oldest first, with
        their history, in one short transaction; how many. Retention calls it in a loop,
        so a large backlog never holds the store for long."""

    async def purge(self, filter: OutboxFilter, dry_run: bool) -> int:
        """Delete matching sent and dead rows with their history; how many rows
        (`dry_run`: only count). `filter.states` narrows to sent or dead. Fire-once keys
        live on until they expire, so purging never lets a repeat through."""


@runtime_checkable
class HistoryStore(Protocol):
    """The firing history `record` appends to, read back for operators."""

    async def history(
        self,
        filter: OutboxFilter,
        limit: int,
        offset: int,
        status: int | None = None,
        outcome: str | None = None,
    ) -> list[HistoryEntry]:
        """The firing history of the matching rows: one entry per attempt, plus one for
        each row never attempted; newest row first, its latest attempt first. `status`
        and `outcome` keep the entries with that HTTP status or outcome (and `offset`
        counts kept entries)."""

    async def row_history(self, outbox_id: int) -> list[HistoryEntry]:
        """The attempts of one row, latest first (one entry if it was never attempted)."""


@runtime_checkable
class FireOnceStore(Protocol):
    """The fire-once keys `enqueue` takes; kept apart so bounding them is its own job."""

    async def expire_fire_once(self, now_ms: int) -> int:
        """Forget fire-once keys expired at `now_ms`; how many (bounds the key store)."""


@runtime_checkable
class VersionStore(Protocol):
    """A container's lifecycle on the control plane: the workspace draft, immutable signed
    versions, and the environments pointing to them. Each change writes its audit row in
    the same transaction."""

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

    async def list_containers(self) -> list[str]:
        """Ids of the containers that have a workspace or a version, sorted."""


@runtime_checkable
class SecretStore(Protocol):
    """Sealed secrets (the store never sees a value), and the node's own random keys."""

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


@runtime_checkable
class TokenStore(Protocol):
    """API tokens, kept as hashes: Fire API tokens of a container, and admin tokens."""

    async def create_token(self, container_id: str, name: str, token_hash: str, now_ms: int) -> int:
        """Store a token's hash (the store never sees the token); its id.

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


@runtime_checkable
class IdempotencyStore(Protocol):
    """The Fire API's answers by Idempotency-Key, so a retried request gets the same one."""

    async def idempotent_get(self, container_id: str, key: str) -> IdempotentAnswer | None:
        """The stored answer for an Idempotency-Key, whatever its age (the caller
        compares `created_at` with its TTL)."""

    async def idempotent_put(
        self, container_id: str, key: str, fingerprint: str, status: int, body: bytes, now_ms: int
    ) -> None:
        """Store (or replace an expired) answer for an Idempotency-Key."""

    async def expire_idempotency(self, before_ms: int) -> int:
        """Forget answers created before `before_ms`; how many."""


@runtime_checkable
class AuditStore(Protocol):
    """The control plane's audit log. Changes through the other roles write their own
    rows; this role adds rows for actions that change nothing, and reads the log."""

    async def add_audit(
        self, actor: str, action: str, container_id: str | None, detail: dict[str, Any], now_ms: int
    ) -> None:
        """Record an action that changes no row (e.g. an export)."""

    async def audit_log(self, container_id: str | None, limit: int) -> list[AuditEntry]:
        """The latest `limit` audit rows of one container (None: all), newest first."""


@runtime_checkable
class AccountStore(Protocol):
    """The admin UI's people, clients, memberships, sessions and reset links. Emails are
    stored as given but compared case-insensitively. Changes that an operator makes
    (users, clients, memberships, container assignments) write an audit row in the same
    transaction, with the actor passed in; sessions and sign-in counters do not."""

    async def create_user(
        self, email: str, name: str, password_hash: str, agency_admin: bool, actor: str, now_ms: int
    ) -> int:
        """The new user's id; NameTaken when the email is in use."""

    async def get_user(self, user_id: int) -> User | None: ...

    async def find_user(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively."""

    async def list_users(self) -> list[User]:
        """Every user, by email."""

    async def update_user(
        self,
        user_id: int,
        actor: str,
        now_ms: int,
        *,
        name: str | None = None,
        agency_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> bool:
        """Change the given fields; False when there is no such user."""

    async def set_password(self, user_id: int, password_hash: str, actor: str, now_ms: int) -> None:
        """Store a new hash, clear the failure count and lock, end the user's sessions."""

    async def login_failed(self, user_id: int, locked_until_ms: int) -> int:
        """Count a failed sign-in and set the lock (0: none); the new failure count."""

    async def login_succeeded(self, user_id: int) -> None:
        """Clear the failure count and the lock."""

    async def create_session(self, session: SessionRecord) -> None: ...

    async def get_session(self, token_hash: str) -> SessionRecord | None: ...

    async def touch_session(self, token_hash: str, now_ms: int) -> None: ...

    async def delete_session(self, token_hash: str) -> None: ...

    async def delete_user_sessions(self, user_id: int) -> int:
        """Sign the user out everywhere; how many sessions ended."""

    async def expire_sessions(self, idle_before_ms: int, created_before_ms: int) -> int:
        """Delete sessions idle since before the first time or made before the second."""

    async def create_client(self, client_id: str, name: str, actor: str, now_ms: int) -> None:
        """NameTaken when the id is in use."""

    async def get_client(self, client_id: str) -> Client | None: ...

    async def list_clients(self) -> list[Client]:
        """Every client, by name."""

    async def set_membership(
        self, user_id: int, client_id: str, role: str | None, actor: str, now_ms: int
    ) -> None:
        """Give the user `role` on the client, or (None) take the membership away."""

    async def user_memberships(self, user_id: int) -> list[Membership]: ...

    async def client_memberships(self, client_id: str) -> list[Membership]: ...

    async def assign_container(
        self, container_id: str, client_id: str, actor: str, now_ms: int
    ) -> None:
        """The container belongs to the client from now on (one client per container)."""

    async def container_client(self, container_id: str) -> str | None:
        """The client a container belongs to; None when it belongs to none yet."""

    async def client_containers(self, client_id: str) -> list[str]:
        """The ids of the client's containers, sorted."""

    async def create_reset(self, token_hash: str, user_id: int, expires_at_ms: int) -> None:
        """A one-time password reset link (stored by the hash of its token)."""

    async def use_reset(self, token_hash: str, now_ms: int) -> int | None:
        """Spend the link: the user id when it exists, is unused and unexpired, else None.
        A link works once, whatever happens next."""


@runtime_checkable
class PreviewStore(Protocol):
    """Preview sessions, the traces of their hits, and the mark on the rows a preview sent
    for real. The store every node shares holds them, so a session started on one node
    runs on all of them and its live view survives a restart."""

    async def create_preview(self, session: PreviewSession) -> None: ...

    async def get_preview(self, session_id: str) -> PreviewSession | None: ...

    async def list_previews(
        self, container_id: str | None, active_at_ms: int | None
    ) -> list[PreviewSession]:
        """Newest first; of one container (None: all); only those active at the given
        time (None: every session still stored)."""

    async def revoke_preview(self, session_id: str, now_ms: int) -> bool:
        """End a session now; False when it was unknown or already revoked."""

    async def refresh_preview(self, session_id: str, source: str, document: bytes) -> bool:
        """Point a session at another document (its revision grows); False when it is
        unknown or revoked."""

    async def add_traces(
        self, traces: list[tuple[str, int, str, str, bytes]], keep_per_session: int
    ) -> None:
        """Store (session id, at_ms, event name, outcome, body) traces, then keep only the
        newest `keep_per_session` of each session they touched."""

    async def traces(
        self, session_id: str, after_id: int, limit: int, oldest_first: bool = False
    ) -> list[TraceEntry]:
        """A session's traces with an id above `after_id`, at most `limit`: the newest of
        them, newest first; with `oldest_first` the oldest of them, oldest first (so a
        reader can page forward through a burst)."""

    async def trace(self, session_id: str, trace_id: int) -> TraceEntry | None:
        """One trace of a session (None: not stored, or another session's)."""

    async def prune_previews(self, traces_before_ms: int, sessions_before_ms: int) -> int:
        """Delete traces older than the first bound, and sessions (with their traces) that
        ended before the second; how many traces were deleted by age."""

    async def mark_preview_rows(
        self, container_id: str, event_ids: list[str], session_id: str, since_ms: int
    ) -> int:
        """Mark the container's rows of these events, queued since `since_ms`, as sent by
        the session; how many."""


@runtime_checkable
class VolumeStore(Protocol):
    """Hits per event and minute, summed over every node (and worker) on the store, so
    the volume spike detector judges the whole traffic, not one node's share of it."""

    async def exchange_volume(
        self,
        added: Sequence[VolumeCount],
        recent: Sequence[tuple[str, str]],
        recent_since: int,
        whole: Sequence[tuple[str, str]],
        whole_since: int,
    ) -> list[VolumeCount]:
        """Add this node's counts, then give every node's totals: of the `recent`
        (container, event) pairs from minute `recent_since` on, and of the `whole` pairs
        (new to the caller) from `whole_since` on. One transaction."""

    async def prune_volume(self, before_minute: int) -> int:
        """Delete counts of minutes before `before_minute`; how many."""


@runtime_checkable
class Store(
    StoreLifecycle,
    OutboxStore,
    TagRunStore,
    OutboxOpsStore,
    HistoryStore,
    FireOnceStore,
    VersionStore,
    SecretStore,
    TokenStore,
    IdempotencyStore,
    AuditStore,
    AccountStore,
    PreviewStore,
    VolumeStore,
    Protocol,
):
    """Every role: for what composes a node or a command and hands each part its roles."""
