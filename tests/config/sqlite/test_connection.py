import sqlite3

import pytest

from config.sqlite.migrations import migrations
from config.sqlite_store import SQLiteStore
from config.storage import StorageError
from tests.config.store.support import row

pytestmark = pytest.mark.anyio


async def test_open_creates_wal_database_at_latest_schema(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "tagwire.db")
    await store.open()
    assert await store.schema_version() == migrations()[-1][0]
    await store.ping()
    await store.close()
    conn = sqlite3.connect(tmp_path / "data" / "tagwire.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_reopen_keeps_data_and_does_not_migrate_twice(tmp_path):
    path = tmp_path / "tagwire.db"
    first = SQLiteStore(path)
    await first.open()
    await first.enqueue([row()], 1)
    await first.close()
    second = SQLiteStore(path)
    await second.open()
    assert await second.outbox_counts() == {"pending": 1}
    await second.close()


async def test_unwritable_location_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot open SQLite store"):
        await SQLiteStore(blocker / "tagwire.db").open()


async def test_closed_store_raises_storage_error(tmp_path):
    store = SQLiteStore(tmp_path / "x.db")
    with pytest.raises(StorageError, match="not open"):
        await store.ping()
