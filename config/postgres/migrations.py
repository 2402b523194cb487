"""The PostgreSQL schema: numbered SQL files in `config/migrations/postgres/`, applied in
order and recorded in `schema_migrations`, as the SQLite store does with its own files.

Several nodes may start at once against one database: an advisory lock makes them create
the schema and apply the pending migrations one after another, so each runs exactly once
(`CREATE SCHEMA IF NOT EXISTS` alone fails for the second of two at once).
"""

from __future__ import annotations

from importlib import resources

from psycopg import AsyncConnection, sql

from config.storage import StorageError

__all__ = ["applied_version", "migrate", "migrations"]

# The advisory lock key that serialises migrations (any fixed number; "tagw" in ASCII).
_MIGRATION_LOCK = 0x74616777


def migrations() -> list[tuple[int, str]]:
    """The versioned migrations shipped with tagwire, oldest first."""
    folder = resources.files("config.migrations").joinpath("postgres")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def applied_version(conn: AsyncConnection) -> int:
    """The newest migration applied; makes the bookkeeping table on a new database."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    cursor = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def migrate(conn: AsyncConnection, schema: str | None) -> None:
    """Under the migration lock: create `schema` when it is given and missing (making it the
    connection's search path), then apply the pending migrations, each in its own
    transaction; refuse a database newer than this code. `conn` is in autocommit mode."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        if schema is not None:
            name = sql.Identifier(schema)
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
            await conn.execute(sql.SQL("SET search_path TO {}").format(name))
        current = await applied_version(conn)
        known = migrations()
        if known and current > known[-1][0]:
            raise StorageError(
                f"database schema is version {current}, newer than this tagwire "
                f"({known[-1][0]}); upgrade tagwire"
            )
        for version, text in known:
            if version <= current:
                continue
            async with conn.transaction():
                await conn.execute(text.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version) VALUES (%s)", (version,)
                )
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
