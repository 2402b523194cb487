"""The PostgreSQL store's pool and lifecycle (config/postgres/connection.py)."""

import asyncio

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from config.postgres.connection import with_timeout
from config.postgres.migrations import migrations
from config.postgres_store import PostgresStore
from config.storage import StorageError
from tests.config.store.support import row

pytestmark = pytest.mark.anyio


async def test_open_creates_the_schema_at_the_latest_version(postgres_url, scratch_schema):
    store = PostgresStore(postgres_url, schema=scratch_schema)
    await store.open()
    try:
        assert await store.schema_version() == migrations()[-1][0]
        await store.ping()
        await store.enqueue([row()], 1)
    finally:
        await store.close()
    with psycopg.connect(postgres_url) as conn:
        listed = "SELECT tablename FROM pg_tables WHERE schemaname = %s"
        tables = {name for (name,) in conn.execute(listed, (scratch_schema,))}
        public = {name for (name,) in conn.execute(listed, ("public",))}
    assert {"outbox", "fire_once", "attempts", "users", "schema_migrations"} <= tables
    assert "outbox" not in public  # the schema, not the server's default search path


async def test_reopen_keeps_the_data(postgres_url, scratch_schema):
    first = PostgresStore(postgres_url, schema=scratch_schema)
    await first.open()
    await first.enqueue([row()], 1)
    await first.close()
    second = PostgresStore(postgres_url, schema=scratch_schema)
    await second.open()
    try:
        assert await second.outbox_counts() == {"pending": 1}
    finally:
        await second.close()


async def test_a_closed_store_raises_storage_error(postgres_url):
    store = PostgresStore(postgres_url, schema="tw_never_opened")
    with pytest.raises(StorageError, match="not open"):
        await store.ping()


async def test_an_unreachable_server_is_a_storage_error_without_the_password():
    # Port 1 on the loopback address: nothing listens there, so the connection is refused.
    store = PostgresStore("postgresql://tw:hunter2@127.0.0.1:1/tagwire?connect_timeout=2")
    refused = r"cannot open PostgreSQL 127\.0\.0\.1:1/tagwire"
    with pytest.raises(StorageError, match=refused) as info:
        await store.open()
    assert "hunter2" not in str(info.value)


def test_a_schema_name_and_pool_sizes_are_checked():
    with pytest.raises(ValueError, match="lower-case SQL identifier"):
        PostgresStore("postgresql://127.0.0.1/t", schema='x"; DROP TABLE outbox; --')
    with pytest.raises(ValueError, match=r"1 <= min \(5\) <= max \(2\)"):
        PostgresStore("postgresql://127.0.0.1/t", min_size=5, max_size=2)


async def test_the_pool_serves_calls_in_parallel_up_to_its_size(postgres_url, scratch_schema):
    """More concurrent calls than connections wait for one, and all get through."""
    store = PostgresStore(postgres_url, schema=scratch_schema, min_size=1, max_size=3)
    await store.open()
    try:
        counts = await asyncio.gather(
            *(store.enqueue([row(None, event_id=str(i))], i) for i in range(30))
        )
        assert sum(counts) == 30
        assert await store.outbox_counts() == {"pending": 30}
        stats = store._pool.get_stats()
        assert (stats["pool_min"], stats["pool_max"]) == (1, 3)
        assert 1 <= stats["pool_size"] <= 3
    finally:
        await store.close()


def test_connections_get_a_connect_timeout_unless_the_url_sets_one():
    plain = conninfo_to_dict(with_timeout("postgresql://tw@127.0.0.1/t"))
    assert (plain["host"], plain["dbname"], plain["connect_timeout"]) == ("127.0.0.1", "t", "10")
    own = "postgresql://tw@127.0.0.1/t?connect_timeout=3"
    assert with_timeout(own) == own


async def test_a_url_libpq_cannot_read_is_refused_without_its_password():
    store = PostgresStore("postgresql://tw:hunter2@[::1/tagwire")
    with pytest.raises(StorageError, match=r"cannot open PostgreSQL store: .*tw:\*\*\*@") as info:
        await store.open()
    assert "hunter2" not in str(info.value)
