"""How the outbox talks to SQLite (config/sqlite/outbox.py): outcomes recorded in groups
(a fixed number of statements however many rows), commits served by prepared statements
(padded to a few sizes, so a new size compiles nothing), and no fire-once statement for
rows without a key."""

from __future__ import annotations

import sqlite3

import pytest

from config.storage import Delivery
from tests.config.store.support import EVERYTHING, TTL, query, row

pytestmark = pytest.mark.anyio


class Statements:
    """What the store's connection runs (trace) and compiles (authorizer) while on."""

    def __init__(self) -> None:
        self.run: list[str] = []
        self.compiled = 0

    def trace(self, sql: str) -> None:
        self.run.append(sql.split(" (", 1)[0].split(" FROM", 1)[0])

    def authorize(self, *_: object) -> int:
        self.compiled += 1
        return sqlite3.SQLITE_OK

    def clear(self) -> None:
        self.run.clear()
        self.compiled = 0


@pytest.fixture
async def statements(store):
    seen = Statements()

    def watch(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(seen.trace)
        conn.set_authorizer(seen.authorize)

    await store._run(watch)
    yield seen
    await store._run(lambda c: (c.set_trace_callback(None), c.set_authorizer(None)))


def keyed(n: int, prefix: str = "k") -> list:
    return [row(f"{prefix}{i}", event_id=f"{prefix}{i}") for i in range(n)]


def plain(n: int, prefix: str = "p") -> list:
    return [row(None, event_id=f"{prefix}{i}") for i in range(n)]


async def test_outcomes_are_recorded_in_two_statements_per_500(store, statements) -> None:
    await store.enqueue(plain(1234), 0, TTL)
    items = await store.claim(2000, 0)
    statements.clear()
    await store.record([Delivery(i.id, "sent", 200, "ok", 0, 7, 3, 1) for i in items])
    kinds = [sql.split(" ", 1)[0] for sql in statements.run]
    assert kinds == ["BEGIN", *["UPDATE", "INSERT"] * 3, "COMMIT"]
    assert await store.outbox_counts() == {"sent": 1234}
    assert query(store.path, "SELECT COUNT(*), MIN(attempt), MAX(attempt) FROM attempts") == [
        (1234, 1, 1)]  # fmt: skip
    assert query(store.path, "SELECT COUNT(*) FROM outbox WHERE sent_at = 7 AND attempts = 1"
                 " AND last_status = 200 AND last_response = 'ok'") == [(1234,)]  # fmt: skip


async def test_every_outcome_keeps_its_own_fields(store) -> None:
    await store.enqueue(plain(3), 0, TTL)
    a, b, c = await store.claim(10, 0)
    await store.record([
        Delivery(a.id, "sent", 204, "", 5, 5, duration_ms=11, batch_size=3),
        Delivery(b.id, "failed", None, "connection failed", 900, 6, duration_ms=12),
        Delivery(c.id, "dead", 400, "x" * 900, 7, 7, duration_ms=13, batch_size=2),
    ])  # fmt: skip
    assert query(store.path, "SELECT id, state, attempts, last_status, length(last_response),"
                 " next_attempt_at, sent_at FROM outbox ORDER BY id") == [
        (a.id, "sent", 1, 204, 0, 5, 5), (b.id, "failed", 1, None, 17, 900, None),
        (c.id, "dead", 1, 400, 500, 7, None)]  # fmt: skip
    assert query(store.path, "SELECT outbox_id, attempt, at, status, outcome, length(response),"
                 " duration_ms, batch_size FROM attempts ORDER BY outbox_id") == [
        (a.id, 1, 5, 204, "sent", 0, 11, 3), (b.id, 1, 6, None, "failed", 17, 12, 1),
        (c.id, 1, 7, 400, "dead", 500, 13, 2)]  # fmt: skip


async def test_a_row_twice_in_one_call_gets_both_attempts_in_order(store) -> None:
    await store.enqueue(plain(2), 0, TTL)
    a, b = await store.claim(10, 0)
    await store.record([
        Delivery(a.id, "failed", 503, "busy", 100, 10),
        Delivery(b.id, "sent", 200, "ok", 11, 11),
        Delivery(a.id, "sent", 200, "ok", 20, 20),
    ])  # fmt: skip
    assert query(store.path, "SELECT state, attempts, sent_at FROM outbox WHERE id = ?",
                 (a.id,)) == [("sent", 2, 20)]  # fmt: skip
    entries = await store.history(EVERYTHING, 10, 0)
    assert [(e.outbox_id, e.attempt, e.outcome) for e in entries] == [
        (b.id, 1, "sent"), (a.id, 2, "sent"), (a.id, 1, "failed")]  # fmt: skip


async def test_attempt_numbers_go_on_across_calls(store) -> None:
    await store.enqueue(plain(1), 0, TTL)
    for at in (1, 2, 3):
        (item,) = await store.claim(10, at)
        await store.record([Delivery(item.id, "failed", 503, "busy", at + 1, at)])
    assert query(store.path, "SELECT attempt FROM attempts ORDER BY id") == [(1,), (2,), (3,)]
    assert query(store.path, "SELECT attempts FROM outbox") == [(3,)]


async def test_nothing_to_record_touches_nothing(store, statements) -> None:
    await store.record([])
    assert statements.run == []


async def test_commits_of_nearby_sizes_share_one_compiled_statement(store, statements) -> None:
    await store.enqueue(keyed(37, "a"), 0, TTL)
    assert statements.compiled  # the first of its size compiles
    statements.clear()
    await store.enqueue(keyed(38, "b"), 0, TTL)
    await store.enqueue(keyed(45, "c"), 0, TTL)
    assert statements.compiled == 0  # padded to the same size: compiled already
    assert await store.outbox_counts() == {"pending": 37 + 38 + 45}
    items = await store.claim(200, 0)
    await store.record([Delivery(i.id, "sent", 200, "", 0, 1) for i in items[:40]])
    statements.clear()
    await store.record([Delivery(i.id, "sent", 200, "", 0, 1) for i in items[40:81]])
    assert statements.compiled == 0


async def test_rows_without_a_fire_once_key_take_no_keys(store, statements) -> None:
    await store.enqueue(plain(30), 0, TTL)
    assert not [sql for sql in statements.run if "fire_once (" in sql]
    assert query(store.path, "SELECT COUNT(*) FROM fire_once") == [(0,)]
    statements.clear()
    await store.enqueue([*plain(5, "q"), *keyed(3)], 0, TTL)
    assert len([sql for sql in statements.run if sql.startswith("INSERT INTO fire_once")]) == 1
    assert query(store.path, "SELECT COUNT(*) FROM fire_once") == [(3,)]
    assert await store.outbox_counts() == {"pending": 38}


async def test_padding_rows_are_never_stored_and_keys_still_hold(store) -> None:
    assert await store.enqueue(keyed(5), 0, TTL) == 5  # padded to 6 rows: 5 stored
    assert await store.enqueue([*keyed(5), *plain(2)], 1, TTL) == 2  # the keys are taken
    assert await store.enqueue(keyed(5), TTL, TTL) == 5  # expired: taken anew
    assert query(store.path, "SELECT COUNT(*) FROM outbox WHERE container_id IS NULL") == [(0,)]
    assert query(store.path, "SELECT COUNT(*), MIN(expires_at) FROM fire_once") == [(5, 2 * TTL)]


async def test_large_commits_go_in_chunks_of_500(store, statements) -> None:
    assert await store.enqueue([*keyed(700), *plain(400)], 0, TTL) == 1100
    inserts = [sql for sql in statements.run if sql.startswith("INSERT INTO outbox")]
    keys = [sql for sql in statements.run if sql.startswith("INSERT INTO fire_once")]
    assert (len(inserts), len(keys)) == (3, 2)  # the third chunk has no key
