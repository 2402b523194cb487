import sqlite3

import pytest

from config.sqlite_store import SQLiteStore, migrations
from config.storage import Delivery, OutboxRow, StorageError

pytestmark = pytest.mark.anyio


def row(dedup_key="event_id:e1", tag_id="hook"):
    return OutboxRow("shop", tag_id, "hooks.example.com", "POST", "https://hooks.example.com/x",
                     b'{"content-type":"application/json"}', b'{"event":"Lead"}', "lead", "e1",
                     dedup_key, "webhook", 1, None, None, None, False)  # fmt: skip


@pytest.fixture
async def store(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "tagwire.db")
    await store.open()
    yield store
    await store.close()


async def test_open_creates_wal_database_at_latest_schema(store, tmp_path):
    assert await store.schema_version() == migrations()[-1][0]
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


async def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "tagwire.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer than this tagwire"):
        await SQLiteStore(path).open()


async def test_unwritable_location_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot open SQLite store"):
        await SQLiteStore(blocker / "tagwire.db").open()


async def test_fire_once_key_is_enforced_per_tag(store):
    assert await store.enqueue([row(), row(), row(tag_id="other")], 1) == 2
    assert await store.enqueue([row()], 2) == 0
    assert await store.outbox_counts() == {"pending": 2}


async def test_claim_marks_inflight_and_respects_due_time(store):
    await store.enqueue([row("a"), row("b")], 100)
    assert await store.claim(10, 99) == []
    items = await store.claim(1, 100)
    assert [i.body for i in items] == [b'{"event":"Lead"}']
    assert await store.outbox_counts() == {"pending": 1, "inflight": 1}
    assert len(await store.claim(10, 100)) == 1
    assert await store.claim(10, 100) == []


async def test_record_outcomes_and_retry_schedule(store):
    await store.enqueue([row("a"), row("b"), row("c")], 0)
    a, b, c = await store.claim(10, 0)
    await store.record([
        Delivery(a.id, "sent", 200, "ok", 0, 5),
        Delivery(b.id, "failed", 503, "busy", 1000, 5),
        Delivery(c.id, "dead", 400, "bad", 0, 5),
    ])  # fmt: skip
    assert await store.outbox_counts() == {"sent": 1, "failed": 1, "dead": 1}
    assert await store.claim(10, 999) == []
    (retry,) = await store.claim(10, 1000)
    assert retry.id == b.id
    assert retry.attempts == 1


async def test_release_inflight_after_a_crash(store):
    await store.enqueue([row("a"), row("b")], 0)
    await store.claim(10, 0)
    assert await store.release_inflight() == 2
    assert await store.outbox_counts() == {"pending": 2}


async def test_closed_store_raises_storage_error(tmp_path):
    store = SQLiteStore(tmp_path / "x.db")
    with pytest.raises(StorageError, match="not open"):
        await store.ping()


async def test_rows_without_fire_once_key_never_collide(store):
    assert await store.enqueue([row(None), row(None)], 1) == 2
