"""The spike detector's shared counts: what every process on this file adds, summed."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from config.sqlite.connection import SQLiteConnection
from config.sqlite.transaction import transaction
from config.storage import VolumeCount

__all__ = ["SQLiteVolume"]

_ADD = (
    "INSERT INTO volume (container_id, event, minute, count) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (container_id, event, minute) DO UPDATE SET count = count + excluded.count"
)
# ?1 the pairs as a JSON array of [container, event], ?2 the first minute.
_TOTALS = (
    "SELECT container_id, event, minute, count FROM volume WHERE minute >= ?2"
    " AND (container_id, event) IN"
    " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))"
)


class SQLiteVolume(SQLiteConnection):
    """The `VolumeStore` role."""

    async def exchange_volume(
        self,
        added: Sequence[VolumeCount],
        recent: Sequence[tuple[str, str]],
        recent_since: int,
        whole: Sequence[tuple[str, str]],
        whole_since: int,
    ) -> list[VolumeCount]:
        def exchange(conn: sqlite3.Connection) -> list[VolumeCount]:
            with transaction(conn):
                conn.executemany(_ADD, added)
                rows = []
                for pairs, since in ((recent, recent_since), (whole, whole_since)):
                    if pairs:
                        rows += conn.execute(_TOTALS, (orjson.dumps(pairs), since)).fetchall()
            return [VolumeCount(*row) for row in rows]

        return await self._run(exchange)

    async def prune_volume(self, before_minute: int) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                deleted = conn.execute("DELETE FROM volume WHERE minute < ?", (before_minute,))
                return deleted.rowcount

        return await self._run(prune)
