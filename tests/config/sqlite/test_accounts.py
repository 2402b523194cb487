"""The SQLite store's accounts schema: migrating a database from before it, and the
constraints that the table itself enforces."""

import sqlite3

import pytest

from config.sqlite.migrations import migrations, statements
from config.sqlite_store import SQLiteStore
from config.storage import Membership
from tests.config.store.support import query

pytestmark = pytest.mark.anyio

HASH = "scrypt$n=16384,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"

async def test_a_database_at_schema_4_migrates_to_accounts_and_keeps_its_data(tmp_path):
    path = tmp_path / "tagwire.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for number, sql in migrations()[:4]:
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (number,))
    conn.execute(
        "INSERT INTO workspaces (container_id, document, updated_at_ms, updated_by)"
        " VALUES ('shop', X'7B7D', 500, 'ana')"
    )
    conn.execute(
        "INSERT INTO audit (at_ms, actor, action, container_id, detail)"
        " VALUES (500, 'ana', 'workspace.import', 'shop', '{}')"
    )
    conn.close()
    assert migrations()[4][0] == 5

    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == migrations()[-1][0]
        assert await store.list_containers() == ["shop"]
        await store.create_client("acme", "Acme", "root", 1000)
        await store.assign_container("shop", "acme", "root", 1001)
        ana = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1002)
        await store.set_membership(ana, "acme", "viewer", "root", 1003)
        assert await store.container_client("shop") == "acme"
        assert await store.user_memberships(ana) == [Membership(ana, "acme", "viewer")]
        assert [e.action for e in await store.audit_log("shop", 10)] == [
            "container.assign", "workspace.import",
        ]  # fmt: skip
    finally:
        await store.close()
    tables = {name for (name,) in query(path, "SELECT name FROM sqlite_master")}
    assert {"users", "clients", "memberships", "container_clients", "sessions",
            "password_resets", "sessions_user", "sessions_last_seen"} <= tables  # fmt: skip


async def test_the_schema_refuses_a_role_outside_the_list_and_a_second_lowercase_email(store):
    conn = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("INSERT INTO memberships VALUES (1, 'acme', 'admin')")
        conn.execute(
            "INSERT INTO users (email, email_key, name, password_hash, created_at)"
            " VALUES ('A@x.io', 'a@x.io', 'A', 'h', 1)"
        )
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(
                "INSERT INTO users (email, email_key, name, password_hash, created_at)"
                " VALUES ('a@X.io', 'a@x.io', 'A', 'h', 1)"
            )
    finally:
        conn.close()
