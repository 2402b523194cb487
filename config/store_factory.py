"""Which store a node opens: SQLite by default, PostgreSQL for a `postgresql://` URL.

The one place that reads `TAGWIRE_DATABASE_URL`'s scheme, so the CLI and the server never
name a backend themselves.
"""

from __future__ import annotations

from config.postgres.connection import database_label
from config.postgres_store import PostgresStore
from config.settings import Settings
from config.sqlite_store import SQLiteStore
from config.storage import Store

__all__ = ["make_store", "store_location"]


def make_store(settings: Settings) -> Store:
    """The store the settings name, not yet open."""
    if settings.postgres:
        return PostgresStore(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
    return SQLiteStore(settings.sqlite_path)


def store_location(settings: Settings) -> str:
    """The store as a command names it to an operator (never a password)."""
    if settings.postgres:
        return database_label(settings.database_url)
    return str(settings.sqlite_path)
