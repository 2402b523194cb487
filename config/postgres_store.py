"""The PostgreSQL store: every role of `config.postgres` on one connection pool.

Many stateless nodes can share one database: the outbox is claimed with
`FOR UPDATE SKIP LOCKED`, fire-once keys are taken atomically, and migrations run under
an advisory lock. The roles only add methods to `PostgresConnection`, so combining them
shares its pool and its migrations; the store satisfies `Store`, like `SQLiteStore`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from config.postgres.accounts import PostgresAccounts
from config.postgres.audit import PostgresAudit
from config.postgres.fire_once import PostgresFireOnce
from config.postgres.history import PostgresHistory
from config.postgres.idempotency import PostgresIdempotency
from config.postgres.notify import config_changes
from config.postgres.outbox import PostgresOutbox
from config.postgres.outbox_ops import PostgresOutboxOps
from config.postgres.previews import PostgresPreviews
from config.postgres.secrets import PostgresSecrets
from config.postgres.tag_runs import PostgresTagRuns
from config.postgres.tokens import PostgresTokens
from config.postgres.versions import PostgresVersions
from config.postgres.volume import PostgresVolume

__all__ = ["PostgresStore"]


class PostgresStore(
    PostgresOutbox,
    PostgresTagRuns,
    PostgresOutboxOps,
    PostgresHistory,
    PostgresFireOnce,
    PostgresVersions,
    PostgresSecrets,
    PostgresTokens,
    PostgresIdempotency,
    PostgresAudit,
    PostgresAccounts,
    PostgresPreviews,
    PostgresVolume,
):
    """The database at `url` (`postgresql://USER@HOST:PORT/DB`), in `schema` when given
    (created if missing; otherwise the server's search path), through a pool of
    `min_size` to `max_size` connections; `open` it before use and `close` it after."""

    def config_changes(self) -> AsyncIterator[str]:
        """Notifications of published-version and secret changes (config.postgres.notify),
        for the hot reload watcher to sync at once."""
        return config_changes(self.url)
