"""PostgreSQL migrations (config/postgres/migrations.py): applied once, recorded, refused
when the database is newer, and equal in meaning to the SQLite schema."""

import asyncio
import sqlite3

import psycopg
import pytest
from psycopg import sql

import config.sqlite.migrations as sqlite_migrations
from config.postgres.migrations import migrations
from config.postgres_store import PostgresStore
from config.storage import StorageError
from tests.config.store.support import row

pytestmark = pytest.mark.anyio


def applied(url, schema):
    with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_the_migrations_are_numbered_from_one_without_gaps():
    assert [number for number, _ in migrations()] == list(range(1, len(migrations()) + 1))


async def test_opening_twice_migrates_once_and_keeps_the_data(postgres_url, scratch_schema):
    for n in range(2):
        store = PostgresStore(postgres_url, schema=scratch_schema)
        await store.open()
        try:
            assert await store.enqueue([row(None, event_id=f"e{n}")], n) == 1
            assert await store.schema_version() == migrations()[-1][0]
        finally:
            await store.close()
    assert applied(postgres_url, scratch_schema) == [number for number, _ in migrations()]
    store = PostgresStore(postgres_url, schema=scratch_schema)
    await store.open()
    try:
        assert await store.outbox_counts() == {"pending": 2}
    finally:
        await store.close()


async def test_nodes_starting_together_apply_each_migration_once(postgres_url, scratch_schema):
    stores = [PostgresStore(postgres_url, schema=scratch_schema) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        assert applied(postgres_url, scratch_schema) == [number for number, _ in migrations()]
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_a_newer_schema_is_refused(postgres_url, scratch_schema):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch_schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(scratch_schema)))
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                     " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip
        conn.execute("INSERT INTO schema_migrations (version) VALUES (999)")
    store = PostgresStore(postgres_url, schema=scratch_schema)
    with pytest.raises(StorageError, match=r"schema is version 999, newer than this tagwire"):
        await store.open()
    assert applied(postgres_url, scratch_schema) == [999]  # nothing else was applied


def sqlite_columns(tmp_path):
    """{table: [column, ...]} of a SQLite database after all its migrations."""
    conn = sqlite3.connect(tmp_path / "tagwire.db", isolation_level=None)
    try:
        sqlite_migrations.migrate(conn)
        listed = "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'"
        tables = [name for (name,) in conn.execute(listed)]
        return {t: sorted(c[1] for c in conn.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        conn.close()


async def test_the_schema_has_the_tables_and_columns_of_the_sqlite_one(
    postgres_url, scratch_schema, tmp_path
):
    store = PostgresStore(postgres_url, schema=scratch_schema)
    await store.open()
    await store.close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            (scratch_schema,),
        ).fetchall()
    postgres: dict[str, list[str]] = {}
    for table, column in rows:
        postgres.setdefault(table, []).append(column)
    # SQLite adds a column at the end of its table, PostgreSQL's first migration has it
    # where it belongs: the same columns, in any order.
    assert {t: sorted(columns) for t, columns in postgres.items()} == sqlite_columns(tmp_path)
