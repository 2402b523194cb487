import sqlite3

import pytest

from config.sqlite.migrations import migrations, statements
from config.sqlite_store import SQLiteStore
from config.storage import OutboxRow, StorageError
from tests.config.store.support import EVERYTHING, HOUR, TTL, query, row

pytestmark = pytest.mark.anyio


async def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "tagwire.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer than this tagwire"):
        await SQLiteStore(path).open()


async def test_a_fresh_store_has_every_new_table(store):
    assert await store.schema_version() == migrations()[-1][0] == 9
    tables = {name for (name,) in query(store.path, "SELECT name FROM sqlite_master")}
    assert {"workspaces", "versions", "environments", "audit", "secrets", "preview_sessions",
            "preview_traces", "volume"} <= tables


def version_1_database(path):
    """A database as tagwire 0001 left it: rows in every state, the newest row deleted."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for statement in statements(migrations()[0][1]):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations (version) VALUES (1)")
    old = [
        ("graph.facebook.com", "event_id:e1", "pending", 0, None, None, 1000, None),
        ("hooks.example.com", "lead_id:L-7", "sent", 1, 200, "ok", 2000, 2500),
        ("business-api.tiktok.com", "event_id:e3", "dead", 3, 400, "bad", 3000, None),
        ("hooks.example.com", None, "failed", 1, 503, "busy", 4000, None),
        ("hooks.example.com", "lead_id:L-7#1", "inflight", 0, None, None, 2000, None),
        ("hooks.example.com", "event_id:gone", "sent", 1, 200, "ok", 6000, 6001),
    ]
    for i, (destination, key, state, attempts, status, response, created, sent) in enumerate(old):
        conn.execute(
            "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
            " event_name, event_id, dedup_key, state, attempts, next_attempt_at, last_status,"
            " last_response, created_at, sent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ("shop", "hook", destination, "POST", f"https://{destination}/x", b"{}", b"{}",
             "lead", f"e{i + 1}", key, state, attempts, created + 10, status, response, created,
             sent),
        )  # fmt: skip
    conn.execute("DELETE FROM outbox WHERE id = 6")
    conn.close()


async def test_migration_keeps_rows_ids_and_states(tmp_path):
    path = tmp_path / "tagwire.db"
    version_1_database(path)
    store = SQLiteStore(path)
    await store.open()
    assert await store.schema_version() == migrations()[-1][0]
    await store.close()
    rows = query(path, "SELECT id, state, platform, event_time_ms, lead_id FROM outbox ORDER BY id")
    assert rows == [
        (1, "pending", "meta", 1000, None),
        (2, "sent", "", 2000, "L-7"),
        (3, "dead", "tiktok", 3000, None),
        (4, "failed", "", 4000, None),
        (5, "inflight", "", 2000, None),
    ]


async def test_migration_carries_fire_once_keys_with_an_expiry(tmp_path):
    path = tmp_path / "tagwire.db"
    version_1_database(path)
    store = SQLiteStore(path)
    await store.open()
    assert await store.enqueue([row("event_id:e1")], 1000 + 72 * HOUR - 1, TTL) == 0
    assert await store.enqueue([row("lead_id:L-7")], 2000 + 72 * HOUR, TTL) == 1
    await store.close()
    keys = query(path, "SELECT dedup_key, expires_at FROM fire_once ORDER BY dedup_key")
    assert keys == [
        ("event_id:e1", 1000 + 72 * HOUR),
        ("event_id:e3", 3000 + 72 * HOUR),
        ("lead_id:L-7", 2000 + 72 * HOUR + TTL),
        ("lead_id:L-7#1", 2000 + 72 * HOUR),
    ]
    indexes = {
        name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert "outbox_fire_once" not in indexes


async def test_migration_never_reuses_an_id_and_accepts_held_rows(tmp_path):
    path = tmp_path / "tagwire.db"
    version_1_database(path)
    store = SQLiteStore(path)
    await store.open()
    await store.enqueue([row(None, held=True)], 10_000)
    await store.close()
    assert query(path, "SELECT id, state FROM outbox WHERE id > 5") == [(7, "held")]


async def test_migration_carries_the_last_attempt_into_history(tmp_path):
    path = tmp_path / "tagwire.db"
    version_1_database(path)
    store = SQLiteStore(path)
    await store.open()
    entries = {e.outbox_id: e for e in await store.history(EVERYTHING, 100, 0)}
    await store.close()
    assert (entries[2].attempt, entries[2].outcome, entries[2].at_ms) == (1, "sent", 2500)
    assert (entries[3].attempt, entries[3].outcome, entries[3].status) == (3, "dead", 400)
    assert (entries[3].response, entries[3].at_ms) == ("bad", 3010)
    assert (entries[4].attempt, entries[4].outcome, entries[4].state) == (1, "failed", "failed")
    assert (entries[1].attempt, entries[1].outcome) == (0, "pending")


async def test_migration_from_schema_2_keeps_queued_rows(tmp_path):
    path = tmp_path / "tagwire.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for number, sql in migrations()[:2]:
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (number,))
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    assert await store.schema_version() == 9
    host = "hooks.example.com"
    row = OutboxRow("demo", "hook", host, "POST", f"https://{host}/x", b"{}", b"{}", "lead", "e1",
                    None, "webhook", 1, None, None, None, False)  # fmt: skip
    assert await store.enqueue([row], 1000) == 1
    await store.close()

    reopened = SQLiteStore(path)
    await reopened.open()
    assert await reopened.schema_version() == 9
    assert await reopened.outbox_counts() == {"pending": 1}
    await reopened.save_workspace("demo", b"{}", "ana", 2000, {"source": "demo.yaml"})
    assert await reopened.list_containers() == ["demo"]
    await reopened.close()
