"""The storage interface every backend implements (SQLite now, PostgreSQL later).

`roles` has the protocols, one per kind of data, and `Store`, their union; `records` the
values they pass; `errors` what they raise. Everything is importable from here.
"""

from __future__ import annotations

from config.storage.errors import (
    StorageError,
    TokenNameTaken,
    UnknownVersion,
    VersionArchived,
    VersionConflict,
    VersionInUse,
)
from config.storage.records import (
    DEFAULT_FIRE_ONCE_TTL_MS,
    ENVIRONMENT_ACTIONS,
    RESPONSE_LIMIT,
    STATES,
    AuditEntry,
    Delivery,
    Environment,
    HistoryEntry,
    IdempotentAnswer,
    OutboxFilter,
    OutboxItem,
    OutboxRow,
    StoredSecret,
    StoredVersion,
    TokenRecord,
    Workspace,
)
from config.storage.roles import (
    AuditStore,
    FireOnceStore,
    HistoryStore,
    IdempotencyStore,
    OutboxOpsStore,
    OutboxStore,
    SecretStore,
    Store,
    StoreLifecycle,
    TokenStore,
    VersionStore,
)

__all__ = [
    "DEFAULT_FIRE_ONCE_TTL_MS",
    "ENVIRONMENT_ACTIONS",
    "RESPONSE_LIMIT",
    "STATES",
    "AuditEntry",
    "AuditStore",
    "Delivery",
    "Environment",
    "FireOnceStore",
    "HistoryEntry",
    "HistoryStore",
    "IdempotencyStore",
    "IdempotentAnswer",
    "OutboxFilter",
    "OutboxItem",
    "OutboxOpsStore",
    "OutboxRow",
    "OutboxStore",
    "SecretStore",
    "StorageError",
    "Store",
    "StoreLifecycle",
    "StoredSecret",
    "StoredVersion",
    "TokenNameTaken",
    "TokenRecord",
    "TokenStore",
    "UnknownVersion",
    "VersionArchived",
    "VersionConflict",
    "VersionInUse",
    "VersionStore",
    "Workspace",
]
