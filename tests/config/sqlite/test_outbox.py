import asyncio
import hashlib
import sqlite3

import pytest

import config.sqlite_store as sqlite_store
from config.sqlite_store import SQLiteStore, migrations
from config.storage import (
    Delivery,
    HistoryEntry,
    IdempotentAnswer,
    OutboxFilter,
    OutboxRow,
    TokenNameTaken,
)

pytestmark = pytest.mark.anyio

HOUR = 3_600_000
TTL = 48 * HOUR
EVERYTHING = OutboxFilter()


def row(key="event_id:e1", *, tag="hook", container="shop", platform="webhook", event="lead",
        event_id="e1", lead=None, value=None, currency=None, held=False, event_time=1,
        destination="hooks.example.com"):  # fmt: skip
    return OutboxRow(container, tag, destination, "POST", f"https://{destination}/x", b"{}",
                     b'{"event":"Lead"}', event, event_id, key, platform, event_time, lead, value,
                     currency, held)  # fmt: skip


@pytest.fixture
async def store(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    yield store
    await store.close()


def query(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# Migration from a 0001 database


def version_1_database(path):
    """A database as tagwire 0001 left it: rows in every state, the newest row deleted."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for statement in sqlite_store._statements(migrations()[0][1]):
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


# Fire once


async def test_fire_once_key_is_dropped_within_its_ttl_and_taken_again_after(store):
    assert await store.enqueue([row(event_id="a")], 0, TTL) == 1
    assert await store.enqueue([row(event_id="b")], TTL - 1, TTL) == 0
    assert await store.enqueue([row(event_id="c")], TTL, TTL) == 1
    assert await store.enqueue([row(event_id="d")], TTL + 1, TTL) == 0
    assert await store.enqueue([row(event_id="e")], 2 * TTL, TTL) == 1
    events = [e.event_id for e in await store.history(EVERYTHING, 10, 0)]
    assert events == ["e", "c", "a"]


async def test_the_first_copy_in_one_commit_wins(store):
    rows = [row(event_id="first"), row(event_id="second"), row(event_id="other", tag="t2")]
    assert await store.enqueue(rows, 0, TTL) == 2
    assert sorted(e.event_id for e in await store.history(EVERYTHING, 10, 0)) == ["first", "other"]


async def test_keys_are_per_container_and_tag(store):
    rows = [row(), row(tag="t2"), row(container="other")]
    assert await store.enqueue(rows, 0, TTL) == 3
    assert await store.enqueue(rows, 1, TTL) == 0


async def test_a_commit_of_many_chunks_is_deduplicated_across_them(store):
    rows = [row(f"k{i}") for i in range(1200)]
    rows[900] = row("k3")
    assert await store.enqueue(rows, 0, TTL) == 1199
    assert await store.enqueue([row("k3"), row("k1199"), row("new")], 1, TTL) == 1


async def test_concurrent_enqueues_of_one_key_keep_one_row(tmp_path):
    path = tmp_path / "tagwire.db"
    first, second = SQLiteStore(path), SQLiteStore(path)
    await first.open()
    await second.open()
    calls = [s.enqueue([row("lead_id:L-1", event_id=str(i)), row(None)], i, TTL)
             for i in range(20) for s in (first, second)]  # fmt: skip
    new = await asyncio.gather(*calls)
    assert sum(new) == 1 + 40
    assert await first.outbox_counts() == {"pending": 41}
    await first.close()
    await second.close()


async def test_expire_fire_once_forgets_expired_keys_in_steps(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, "_DELETE_STEP", 2)
    await store.enqueue([row(f"k{i}") for i in range(5)], 0, TTL)
    await store.enqueue([row("late")], 10, TTL)
    assert await store.expire_fire_once(TTL - 1) == 0
    assert await store.expire_fire_once(TTL) == 5
    assert await store.expire_fire_once(TTL) == 0
    assert await store.enqueue([row("k1"), row("late")], TTL, TTL) == 1


# Held rows


async def test_held_rows_are_never_claimed_until_released(store):
    await store.enqueue([row("a", held=True), row("b", held=True, tag="t2"), row("c")], 0, TTL)
    assert await store.enqueue([row("a")], 1, TTL) == 0  # a held row holds its key
    assert [i.tag_id for i in await store.claim(10, 100)] == ["hook"]
    assert await store.claim(10, 100) == []
    only_hook = OutboxFilter(tag_id="hook")
    assert await store.release_held(only_hook, 200, dry_run=True) == 1
    assert await store.outbox_counts() == {"held": 2, "inflight": 1}
    assert await store.release_held(only_hook, 200, dry_run=False) == 1
    assert await store.claim(10, 199) == []
    (released,) = await store.claim(10, 200)
    assert released.tag_id == "hook"
    assert await store.outbox_counts() == {"held": 1, "inflight": 2}


async def test_release_held_touches_held_rows_only(store):
    await store.enqueue([row("a"), row("b")], 0, TTL)
    assert await store.release_held(EVERYTHING, 5, dry_run=False) == 0
    with pytest.raises(ValueError, match="release applies to rows in state held; not dead"):
        await store.release_held(OutboxFilter(states=("dead",)), 5, dry_run=False)


# Claim and record


async def test_claim_returns_what_the_sender_batches_on(store):
    await store.enqueue([row(platform="meta", event_time=123, container="c1")], 50, TTL)
    (item,) = await store.claim(10, 50)
    assert (item.container_id, item.platform, item.event_time_ms, item.created_at) == (
        "c1", "meta", 123, 50
    )  # fmt: skip
    assert (item.attempts, item.destination) == (0, "hooks.example.com")


async def test_record_writes_every_attempt_to_the_history(store):
    await store.enqueue([row("a", lead="L-1", value=12.5, currency="EUR"), row("b")], 0, TTL)
    a, b = await store.claim(2, 0)
    await store.record([
        Delivery(a.id, "failed", 503, "busy", 100, 10, duration_ms=40, batch_size=2),
        Delivery(b.id, "dead", 400, "x" * 2000, 10, 10, duration_ms=40, batch_size=2),
    ])  # fmt: skip
    await store.enqueue([row("c")], 1000, TTL)
    (retry,) = await store.claim(10, 100)
    await store.record([Delivery(retry.id, "sent", 200, "ok", 120, 120, 7)])
    entries = await store.history(EVERYTHING, 10, 0)
    assert [(e.outbox_id, e.attempt, e.outcome, e.state) for e in entries] == [
        (3, 0, "pending", "pending"),
        (2, 1, "dead", "dead"),
        (1, 2, "sent", "sent"),
        (1, 1, "failed", "sent"),
    ]
    assert entries[3] == HistoryEntry(
        1, "shop", "hook", "webhook", "hooks.example.com", "lead", "e1", "L-1", 12.5, "EUR",
        "sent", 1, 10, 503, "failed", "busy", 0, 40, 2,
    )  # fmt: skip
    assert (entries[2].duration_ms, entries[2].batch_size) == (7, 1)
    assert len(entries[1].response) == 500
    assert (entries[0].at_ms, entries[0].status, entries[0].response) == (1000, None, "")


async def test_defer_returns_claimed_rows_without_counting_an_attempt(store):
    await store.enqueue([row(f"k{i}") for i in range(3)], 0, TTL)
    a, b, c = await store.claim(10, 0)
    await store.record([Delivery(c.id, "sent", 200, "ok", 0, 5)])
    await store.defer([a.id, b.id, c.id], 500)
    assert await store.outbox_counts() == {"pending": 2, "sent": 1}
    assert await store.claim(10, 499) == []
    assert [(i.id, i.attempts) for i in await store.claim(10, 500)] == [(a.id, 0), (b.id, 0)]
    entries = await store.history(EVERYTHING, 10, 0)
    assert [(e.outbox_id, e.attempt) for e in entries] == [(3, 1), (2, 0), (1, 0)]


async def test_an_outcome_for_a_row_that_is_gone_adds_no_history(store):
    await store.record([Delivery(99, "sent", 200, "ok", 0, 5)])
    assert query(store.path, "SELECT COUNT(*) FROM attempts") == [(0,)]


async def test_without_a_ttl_a_key_lives_the_default_72_hours(store):
    await store.enqueue([row("k")], 0)
    assert await store.enqueue([row("k")], 72 * HOUR - 1) == 0
    assert await store.enqueue([row("k")], 72 * HOUR) == 1


# Operator filters


async def filled(store):
    """Rows that each differ from the first in one filtered field."""
    await store.enqueue([
        row("1", lead="L-1"),
        row("2", container="other", lead="L-1"),
        row("3", tag="t2"),
        row("4", platform="meta"),
        row("5", event="purchase"),
        row("6", lead="L-2"),
    ], 100, TTL)  # fmt: skip
    await store.enqueue([row("7")], 200, TTL)
    (item,) = await store.claim(1, 100)
    await store.record([Delivery(item.id, "dead", 400, "bad", 100, 150)])


@pytest.mark.parametrize(
    ("filter", "keys"),
    [
        (OutboxFilter(), ["1", "2", "3", "4", "5", "6", "7"]),
        (OutboxFilter(container_id="other"), ["2"]),
        (OutboxFilter(tag_id="t2"), ["3"]),
        (OutboxFilter(platform="meta"), ["4"]),
        (OutboxFilter(event_name="purchase"), ["5"]),
        (OutboxFilter(lead_id="L-1"), ["1", "2"]),
        (OutboxFilter(container_id="shop", lead_id="L-1"), ["1"]),
        (OutboxFilter(states=("dead",)), ["1"]),
        (OutboxFilter(states=("pending", "dead")), ["1", "2", "3", "4", "5", "6", "7"]),
        (OutboxFilter(since_ms=200), ["7"]),
        (OutboxFilter(until_ms=200), ["1", "2", "3", "4", "5", "6"]),
        (OutboxFilter(since_ms=100, until_ms=100), []),
        (OutboxFilter(tag_id="x' OR '1'='1"), []),
    ],
)
async def test_history_filters(store, filter, keys):
    await filled(store)
    found = await store.history(filter, 100, 0)
    assert sorted(query_key(store, e.outbox_id) for e in found) == keys


def query_key(store, outbox_id):
    return query(store.path, "SELECT dedup_key FROM outbox WHERE id = ?", (outbox_id,))[0][0]


async def test_history_pages_newest_first(store):
    await filled(store)
    everything = await store.history(EVERYTHING, 100, 0)
    assert [e.outbox_id for e in everything] == [7, 6, 5, 4, 3, 2, 1]
    assert await store.history(EVERYTHING, 2, 3) == everything[3:5]


async def test_an_unknown_state_is_refused(store):
    with pytest.raises(ValueError, match="not sending"):
        await store.history(OutboxFilter(states=("sending",)), 10, 0)


async def test_outbox_status_groups_by_container_tag_and_state(store):
    await filled(store)
    assert await store.outbox_status(EVERYTHING) == [
        ("other", "hook", "pending", 1),
        ("shop", "hook", "dead", 1),
        ("shop", "hook", "pending", 4),
        ("shop", "t2", "pending", 1),
    ]
    assert await store.outbox_status(OutboxFilter(states=("dead",))) == [
        ("shop", "hook", "dead", 1)
    ]


# Replay and purge


async def outcomes(store):
    """Rows a, b, c, d ending sent, failed, dead and dead (d of another tag); e pending."""
    await store.enqueue([row(k, tag="t2" if k == "d" else "hook") for k in "abcde"], 0, TTL)
    a, b, c, d = await store.claim(4, 0)
    await store.record([
        Delivery(a.id, "sent", 200, "ok", 0, 5),
        Delivery(b.id, "failed", 503, "busy", 10_000, 5),
        Delivery(c.id, "dead", 400, "bad", 5, 5),
        Delivery(d.id, "dead", 400, "bad", 5, 5),
    ])  # fmt: skip
    return a, b, c, d


async def test_replay_dry_run_counts_without_changing_anything(store):
    await outcomes(store)
    before = await store.outbox_counts()
    assert await store.replay(EVERYTHING, 50, dry_run=True) == 3
    assert await store.replay(OutboxFilter(tag_id="t2"), 50, dry_run=True) == 1
    assert await store.outbox_counts() == before


async def test_replay_makes_dead_and_failed_rows_due_now(store):
    _, b, c, d = await outcomes(store)
    assert await store.replay(OutboxFilter(states=("dead",), tag_id="hook"), 50, False) == 1
    assert await store.outbox_counts() == {"sent": 1, "failed": 1, "dead": 1, "pending": 2}
    assert await store.replay(EVERYTHING, 60, dry_run=False) == 2
    claimed = await store.claim(10, 60)
    assert sorted(i.id for i in claimed) == [b.id, c.id, d.id, 5]
    assert {i.attempts for i in claimed} == {0}
    await store.record([Delivery(c.id, "sent", 200, "ok", 70, 70)])
    attempts = [e.attempt for e in await store.history(EVERYTHING, 10, 0) if e.outbox_id == c.id]
    assert attempts == [2, 1]


async def test_replay_refuses_other_states(store):
    with pytest.raises(ValueError, match="replay applies to rows in state dead, failed; not sent"):
        await store.replay(OutboxFilter(states=("sent",)), 0, dry_run=True)


async def test_purge_deletes_sent_and_dead_rows_with_their_history(store):
    await outcomes(store)
    assert await store.purge(EVERYTHING, dry_run=True) == 3
    assert await store.outbox_counts() == {"sent": 1, "failed": 1, "dead": 2, "pending": 1}
    assert await store.purge(OutboxFilter(states=("dead",), tag_id="hook"), dry_run=False) == 1
    assert await store.purge(EVERYTHING, dry_run=False) == 2
    assert await store.outbox_counts() == {"failed": 1, "pending": 1}
    assert query(store.path, "SELECT outbox_id FROM attempts") == [(2,)]
    assert await store.enqueue([row("a"), row("c")], 10, TTL) == 0  # keys outlive their rows


async def test_purge_refuses_rows_that_are_not_final(store):
    with pytest.raises(ValueError, match="purge applies to rows in state sent, dead; not pending"):
        await store.purge(OutboxFilter(states=("pending",)), dry_run=True)


# Fire API tokens


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


async def test_tokens_are_created_found_listed_and_touched(store):
    first = await store.create_token("shop", "crm", token_hash("tw_secret_one"), 10)
    second = await store.create_token("blog", "crm", token_hash("tw_secret_two"), 20)
    found = await store.find_token(token_hash("tw_secret_one"))
    assert (found.id, found.container_id, found.name, found.created_at) == (
        first,
        "shop",
        "crm",
        10,
    )
    assert found.last_used_at is None
    await store.touch_token(first, 30)
    assert (await store.find_token(token_hash("tw_secret_one"))).last_used_at == 30
    assert await store.find_token(token_hash("tw_wrong")) is None
    assert [t.id for t in await store.list_tokens(None)] == [second, first]
    assert [t.container_id for t in await store.list_tokens("shop")] == ["shop"]


async def test_a_revoked_token_is_marked_and_its_name_is_free_again(store):
    await store.create_token("shop", "crm", token_hash("tw_one"), 10)
    with pytest.raises(TokenNameTaken, match="already has a token named 'crm'; revoke it"):
        await store.create_token("shop", "crm", token_hash("tw_two"), 11)
    assert await store.revoke_token("shop", "crm", 12) is True
    assert await store.revoke_token("shop", "crm", 13) is False
    assert await store.revoke_token("blog", "crm", 13) is False
    assert (await store.find_token(token_hash("tw_one"))).revoked_at == 12
    replacement = await store.create_token("shop", "crm", token_hash("tw_two"), 14)
    tokens = await store.list_tokens("shop")
    assert [(t.revoked_at, t.id == replacement) for t in tokens] == [(12, False), (None, True)]


async def test_the_store_keeps_only_the_hash_of_a_token(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    plaintext = "tw_live_7f3a9c1e5b2d4f6a8c0e"
    await store.create_token("shop", "crm", token_hash(plaintext), 10)
    await store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("tagwire.db*"))
    assert token_hash(plaintext).encode() in stored
    assert plaintext.encode() not in stored


# Idempotency


async def test_idempotent_answers_are_stored_replaced_and_expired(store):
    assert await store.idempotent_get("shop", "k1") is None
    await store.idempotent_put("shop", "k1", "fp1", 202, b'{"accepted":1}', 100)
    await store.idempotent_put("blog", "k1", "fp9", 400, b"{}", 300)
    assert await store.idempotent_get("shop", "k1") == IdempotentAnswer(
        "fp1", 202, b'{"accepted":1}', 100
    )
    await store.idempotent_put("shop", "k1", "fp2", 200, b"{}", 200)
    assert (await store.idempotent_get("shop", "k1")).fingerprint == "fp2"
    assert await store.expire_idempotency(200) == 0
    assert await store.expire_idempotency(201) == 1
    assert await store.idempotent_get("shop", "k1") is None
    assert await store.idempotent_get("blog", "k1") is not None
