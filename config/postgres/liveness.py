"""Which nodes are alive: each open store holds a PostgreSQL advisory lock of its own on a
connection of its own, and stamps the rows it claims with that lock's key.

SQLite has one node per file, so the rows inflight when a node starts are all its previous
run's. Many nodes share one PostgreSQL database: a starting node must return to pending
only the rows of nodes that are gone, not those another node is sending at that moment.
A node's lock lives exactly as long as its session (a crashed node's connection drops and
its lock with it), so `pg_locks` says which claimers are alive.
"""

from __future__ import annotations

import contextlib
import secrets

import psycopg
from psycopg import AsyncConnection

from config.storage import StorageError

__all__ = ["ORPHANED", "RELEASABLE", "NodeLock"]

# The advisory lock space of tagwire's node locks ("tw"); the second key is the node's.
_NAMESPACE = 0x7477
# How many random keys to try before giving up (a key is taken only by a live node).
_TRIES = 16

_LIVE = (
    f"SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = {_NAMESPACE}"
    " AND objsubid = 2 AND granted"
)
# True for an inflight row that a starting node may return to pending: its own, or one
# whose claimer holds no node lock any more (or has none recorded). `%s`: the node's key.
RELEASABLE = f"(claimed_by IS NULL OR claimed_by = %s OR claimed_by NOT IN ({_LIVE}))"
# True for an inflight row of another node that is gone, which a running node may take
# back at any time (never its own: it may be sending it). `%s`: the node's key.
ORPHANED = f"(claimed_by <> %s AND claimed_by NOT IN ({_LIVE}))"


class NodeLock:
    """This store's node key, held as an advisory lock while the store is open."""

    def __init__(self) -> None:
        self.key: int | None = None
        self._conn: AsyncConnection | None = None

    async def acquire(self, conninfo: str) -> None:
        """Connect and take a free random key (one in use by a live node is skipped)."""
        conn = await AsyncConnection.connect(conninfo, autocommit=True)
        try:
            for _ in range(_TRIES):
                key = secrets.randbelow(2**31 - 1) + 1
                cursor = await conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (_NAMESPACE, key)
                )
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    self.key, self._conn = key, conn
                    return
        except BaseException:
            await conn.close()
            raise
        await conn.close()
        raise StorageError(f"no free node key after {_TRIES} tries")

    async def release(self) -> None:
        """Unlock, then close the lock's connection. Unlocking first ends the lock before
        this returns: a closed connection's lock lasts until its server process has gone,
        a moment later, and a node starting meanwhile would take this node as alive."""
        if self._conn is not None:
            conn, key, self._conn, self.key = self._conn, self.key, None, None
            # A connection that is gone already took its lock with it.
            with contextlib.suppress(psycopg.Error):
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_NAMESPACE, key))
            await conn.close()
