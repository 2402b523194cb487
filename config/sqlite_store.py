"""The embedded SQLite store: every role of `config.sqlite` on one connection and thread.

The roles only add methods to `SQLiteConnection`, so combining them shares its one
connection, its one-thread executor and its migrations; the store satisfies `Store`.
"""

from __future__ import annotations

from config.sqlite.accounts import SQLiteAccounts
from config.sqlite.audit import SQLiteAudit
from config.sqlite.fire_once import SQLiteFireOnce
from config.sqlite.history import SQLiteHistory
from config.sqlite.idempotency import SQLiteIdempotency
from config.sqlite.outbox import SQLiteOutbox
from config.sqlite.outbox_ops import SQLiteOutboxOps
from config.sqlite.previews import SQLitePreviews
from config.sqlite.secrets import SQLiteSecrets
from config.sqlite.tag_runs import SQLiteTagRuns
from config.sqlite.tokens import SQLiteTokens
from config.sqlite.versions import SQLiteVersions
from config.sqlite.volume import SQLiteVolume

__all__ = ["SQLiteStore"]


class SQLiteStore(
    SQLiteOutbox,
    SQLiteTagRuns,
    SQLiteOutboxOps,
    SQLiteHistory,
    SQLiteFireOnce,
    SQLiteVersions,
    SQLiteSecrets,
    SQLiteTokens,
    SQLiteIdempotency,
    SQLiteAudit,
    SQLiteAccounts,
    SQLitePreviews,
    SQLiteVolume,
):
    """One SQLite file at `path`; `open` it before use and `close` it after."""
