"""Migrating a SQLite database from schema 3, before failed tag runs had their history
outcome 'ran'."""

import sqlite3

import pytest

from config.sqlite.migrations import migrations, statements
from config.sqlite_store import SQLiteStore
from config.storage import RunOutcome
from tests.config.store.support import EVERYTHING, TTL, query, row
from tests.config.store.test_tag_runs import failed_run_claimed

pytestmark = pytest.mark.anyio


def version_3_database(path):
    """A database at schema 3 with history rows, one in the middle deleted: renumbered
    ids would show."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for number, sql in migrations()[:3]:
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (number,))
    for key, state, tries in [("k1", "sent", 2), ("k2", "dead", 1), ("k3", "failed", 1)]:
        conn.execute(
            "INSERT INTO outbox (container_id, tag_id, destination, method, url, headers, body,"
            " event_name, event_id, dedup_key, platform, event_time_ms, state, attempts,"
            " next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ("shop", "hook", "hooks.example.com", "POST", "https://hooks.example.com/x", b"{}",
             b"{}", "lead", "e1", key, "webhook", 1, state, tries, 10, 10),
        )  # fmt: skip
    history = [
        (1, 1, 1, 20, 503, "failed", "busy", 40, 2),
        (2, 1, 2, 30, 200, "sent", "ok", 35, 2),
        (3, 2, 1, 40, 400, "dead", "bad", 12, 1),
        (4, 3, 1, 50, None, "failed", "timeout", 0, 1),
        (5, 3, 2, 60, None, "failed", "gone", 0, 1),
    ]
    conn.executemany("INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?,?)", history)
    conn.execute("DELETE FROM attempts WHERE id = 2")
    with pytest.raises(sqlite3.IntegrityError):  # schema 3 has no 'ran' outcome
        conn.execute("INSERT INTO attempts VALUES (9, 1, 3, 70, NULL, 'ran', 'x', 0, 1)")
    conn.close()
    return [history[0], *history[2:]]


async def test_migration_from_schema_3_keeps_every_attempt_and_its_id(tmp_path):
    path = tmp_path / "tagwire.db"
    kept = version_3_database(path)
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == migrations()[-1][0]
        assert query(path, "SELECT * FROM attempts ORDER BY id") == kept
        entries = await store.history(EVERYTHING, 10, 0)
        assert [(e.outbox_id, e.attempt, e.outcome) for e in entries] == [
            (3, 2, "failed"), (3, 1, "failed"), (2, 1, "dead"), (1, 1, "failed"),
        ]  # fmt: skip

        # The rebuilt table takes a 'ran' entry, after the kept ids.
        run_id = await failed_run_claimed(store, 100)
        outcome = RunOutcome(run_id, [row("event_id:new")], "ran", "ran again", 150, 150)
        await store.settle_runs([outcome], TTL)
        added = query(path, "SELECT id, outcome FROM attempts WHERE outbox_id = ? ORDER BY id",
                      (run_id,))  # fmt: skip
        assert [outcome for _, outcome in added] == ["failed", "ran"]
        assert all(i > 5 for i, _ in added)
    finally:
        await store.close()
    indexes = {n for (n,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"attempts_outbox", "attempts_at", "outbox_runs_due"} <= indexes
