"""The spike detector's shared counts, with the semantics of `config.sqlite.volume`:
what every node and worker on the database adds, summed."""

from __future__ import annotations

from collections.abc import Sequence

from config.postgres.connection import PostgresConnection
from config.storage import VolumeCount

__all__ = ["PostgresVolume"]

# Rows are added in key order, so two nodes adding the same minutes at once lock them in
# the same order and never deadlock.
_ADD = (
    "INSERT INTO volume (container_id, event, minute, count)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[])"
    " ORDER BY 1, 2, 3"
    " ON CONFLICT (container_id, event, minute) DO UPDATE SET count = volume.count + excluded.count"
)
_TOTALS = (
    "SELECT container_id, event, minute, count FROM volume WHERE minute >= %s"
    " AND (container_id, event) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
)


class PostgresVolume(PostgresConnection):
    """The `VolumeStore` role."""

    async def exchange_volume(
        self,
        added: Sequence[VolumeCount],
        recent: Sequence[tuple[str, str]],
        recent_since: int,
        whole: Sequence[tuple[str, str]],
        whole_since: int,
    ) -> list[VolumeCount]:
        rows = []
        async with self._transaction() as conn:
            if added:
                await conn.execute(_ADD, [list(column) for column in zip(*added, strict=True)])
            for pairs, since in ((recent, recent_since), (whole, whole_since)):
                if pairs:
                    containers, events = (list(c) for c in zip(*pairs, strict=True))
                    cursor = await conn.execute(_TOTALS, (since, containers, events))
                    rows += await cursor.fetchall()
        return [VolumeCount(str(c), str(e), int(m), int(n)) for c, e, m, n in rows]

    async def prune_volume(self, before_minute: int) -> int:
        return await self._execute("DELETE FROM volume WHERE minute < %s", (before_minute,))
