"""The storage interface every backend implements (SQLite now, PostgreSQL behind it later).

The data plane only talks to `Store`; methods are async so a network database can be
awaited directly while the embedded SQLite backend runs its blocking calls on its own
thread, off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = ["Delivery", "OutboxItem", "OutboxRow", "StorageError", "Store"]


class StorageError(Exception):
    """The store cannot be opened, migrated or used."""


class OutboxRow(NamedTuple):
    """A request a tag queued, before it has an id (a tuple: cheap to build per hit and
    bound straight into the INSERT)."""

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


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed outbox row, ready to send."""

    id: int
    tag_id: str
    destination: str
    method: str
    url: str
    headers: bytes
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one send attempt.

    `state` is `sent`, `failed` (retry at `next_attempt_at`) or `dead` (given up).
    """

    id: int
    state: str
    status: int | None
    response: str
    next_attempt_at: int
    at: int


class Store(Protocol):
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StorageError` when the store cannot answer (readiness)."""

    async def schema_version(self) -> int: ...

    async def enqueue(self, rows: list[OutboxRow], now_ms: int) -> int:
        """Commit rows in one transaction; how many were new (a row whose fire-once key
        already exists is dropped)."""

    async def claim(self, limit: int, now_ms: int) -> list[OutboxItem]:
        """Mark up to `limit` due pending/failed rows inflight and return them."""

    async def record(self, deliveries: list[Delivery]) -> None:
        """Store send outcomes."""

    async def release_inflight(self) -> int:
        """Return rows left inflight by a stopped node to pending; how many."""

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per state."""
