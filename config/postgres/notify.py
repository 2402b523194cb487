"""Published-version changes as PostgreSQL notifications, for prompt hot reload.

Publishing, rolling back or removing an environment, and setting or deleting a secret,
notify the channel in the change's own transaction (delivered only if it commits). A
node listening on it syncs at once instead of at its next poll; the poll stays as the
fallback, for a notification lost while the listening connection was down. The payload
is the container id; a listener may treat any notification as "look again".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from psycopg import AsyncConnection

from config.postgres.connection import Row, with_timeout

__all__ = ["CHANNEL", "config_changes", "notify"]

CHANNEL = "tagwire_config"


async def notify(conn: AsyncConnection[Row], container_id: str) -> None:
    """Announce a change of `container_id`'s published state, at commit."""
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, container_id))


async def config_changes(url: str) -> AsyncIterator[str]:
    """The container ids of changes, as they are committed, on a connection of its own;
    ends (raising psycopg.Error) when that connection is lost."""
    async with await AsyncConnection.connect(with_timeout(url), autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        async for notice in conn.notifies():
            yield notice.payload
