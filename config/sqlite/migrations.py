"""The SQLite schema: numbered SQL files in `config/migrations/sqlite/`, applied in order
and recorded in `schema_migrations`."""

from __future__ import annotations

import sqlite3
from importlib import resources

from config.sqlite.transaction import transaction
from config.storage import StorageError

__all__ = ["applied_version", "migrate", "migrations", "statements"]


def migrations() -> list[tuple[int, str]]:
    """The versioned migrations shipped with tagwire, oldest first."""
    folder = resources.files("config.migrations").joinpath("sqlite")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def applied_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied; makes the bookkeeping table on a new database."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the pending migrations, each in its own transaction; refuse a database
    newer than this code. Processes opening one file at once (`serve --workers N`) each
    check the version again inside the write transaction, so each migration runs once."""
    known = migrations()
    start = applied_version(conn)
    _refuse_newer(start, known)
    for version, sql in known:
        if version <= start:
            continue
        with transaction(conn):
            current = applied_version(conn)
            _refuse_newer(current, known)
            if version <= current:
                continue
            for statement in statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))


def _refuse_newer(current: int, known: list[tuple[int, str]]) -> None:
    if known and current > known[-1][0]:
        raise StorageError(
            f"database schema is version {current}, newer than this tagwire ({known[-1][0]}); "
            "upgrade tagwire"
        )


def statements(sql: str) -> list[str]:
    """Split a migration file into statements (no semicolons inside our migrations' literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
