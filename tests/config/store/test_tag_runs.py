"""Failed tag runs as `RUN` outbox rows: stored with the hit's rows, claimed by the tag
retrier (never by the sender), settled in place, shown in the history, replayable."""

import pytest

from config.storage import (
    RESPONSE_LIMIT,
    RUN_DESTINATION,
    RUN_METHOD,
    Delivery,
    FailedRun,
    OutboxFilter,
    RunItem,
    RunOutcome,
    StorageError,
)
from tests.config.store.support import EVERYTHING, TTL, query, row

pytestmark = pytest.mark.anyio

HIT = b'{"env":"live","event":{"event_name":"lead"}}'
ERROR = "main.lua:3: attempt to index a nil value"
LATER = 10**12


def run_row(*, tag="hook", container="shop", event_id="e1", held=False, platform="webhook",
            lead=None, value=None, currency=None):  # fmt: skip
    """A `RUN` row as container/tag_failures.py builds it: no key, the hit as its body."""
    base = row(None, tag=tag, container=container, event_id=event_id, held=held,
               platform=platform, lead=lead, value=value, currency=currency,
               destination=RUN_DESTINATION)  # fmt: skip
    return base._replace(method=RUN_METHOD, url="", body=HIT)


def failure(next_attempt_at=None, *, kind="runtime", error=ERROR, **fields):
    return FailedRun(run_row(**fields), kind, error, next_attempt_at)


def outbox_row(store, outbox_id):
    """(method, state, attempts, last_response, next_attempt_at) of one row."""
    (found,) = query(
        store,
        "SELECT method, state, attempts, last_response, next_attempt_at FROM outbox WHERE id = ?",
        (outbox_id,),
    )
    return found


def attempts(store, outbox_id):
    """The row's history as stored: (attempt, at, status, outcome, response)."""
    return query(
        store,
        "SELECT attempt, at, status, outcome, response FROM attempts WHERE outbox_id = ?"
        " ORDER BY attempt",
        (outbox_id,),
    )


def run_ids(store):
    return [i for (i,) in query(store, "SELECT id FROM outbox WHERE method = 'RUN'")]


async def failed_run_claimed(store, now_ms=100):
    """One failed run stored, then claimed by the retrier; its id."""
    await store.enqueue([], now_ms, TTL, [failure(now_ms)])
    (item,) = await store.claim_runs(10, now_ms)
    return item.id


# enqueue with failures


async def test_a_deterministic_failure_is_stored_dead_with_its_first_attempt(store):
    """No retry time: running the same template on the same hit fails the same way, so
    the row is dead at once, replayable once the template is fixed."""
    assert await store.enqueue([row("a")], 100, TTL, [failure(None)]) == 1
    (run_id,) = run_ids(store)
    assert outbox_row(store, run_id) == (RUN_METHOD, "dead", 1, f"runtime: {ERROR}", 100)
    stored = query(
        store,
        "SELECT destination, url, body, dedup_key, event_id, created_at FROM outbox WHERE id = ?",
        (run_id,),
    )
    assert stored == [(RUN_DESTINATION, "", HIT, None, "e1", 100)]
    assert attempts(store, run_id) == [(1, 100, None, "dead", f"runtime: {ERROR}")]


async def test_a_retried_failure_is_failed_until_its_retry_time(store):
    """A failure that depends on the machine is retried at its `next_attempt_at`."""
    await store.enqueue([], 100, TTL, [failure(5000, kind="busy", error="lane full")])
    (run_id,) = run_ids(store)
    assert outbox_row(store, run_id) == (RUN_METHOD, "failed", 1, "busy: lane full", 5000)
    assert attempts(store, run_id) == [(1, 100, None, "failed", "busy: lane full")]
    assert await store.claim_runs(10, 4999) == []
    assert [i.id for i in await store.claim_runs(10, 5000)] == [run_id]


async def test_a_long_error_is_cut_to_the_response_limit(store):
    await store.enqueue([], 100, TTL, [failure(None, error="x" * 2000)])
    (run_id,) = run_ids(store)
    expected = ("runtime: " + "x" * 2000)[:RESPONSE_LIMIT]
    assert outbox_row(store, run_id)[3] == expected
    assert attempts(store, run_id)[0][4] == expected


async def test_a_held_failure_stays_held_until_released(store):
    """The spike guard holds the whole hit, its failed runs too; the history still says
    how the run failed, and a released row goes to the retrier."""
    await store.enqueue([], 100, TTL, [failure(5000, held=True), failure(None, held=True)])
    retried, dead = run_ids(store)
    assert outbox_row(store, retried)[:3] == (RUN_METHOD, "held", 1)
    assert outbox_row(store, dead)[:3] == (RUN_METHOD, "held", 1)
    assert [a[3] for a in attempts(store, retried)] == ["failed"]
    assert [a[3] for a in attempts(store, dead)] == ["dead"]
    assert await store.claim_runs(10, LATER) == []
    assert await store.release_held(EVERYTHING, 200, dry_run=False) == 2
    assert await store.claim(10, LATER) == []
    assert [i.id for i in await store.claim_runs(10, 200)] == [retried, dead]


async def test_rows_and_failures_commit_together(store):
    await store.enqueue([row("a"), row("b")], 100, TTL, [failure(None), failure(200, tag="t2")])
    assert await store.outbox_counts() == {"pending": 2, "dead": 1, "failed": 1}
    assert len(query(store, "SELECT * FROM attempts")) == 2


async def test_a_failure_that_cannot_be_stored_rolls_back_the_rows(store):
    """One transaction: a failed run that cannot be stored leaves neither the hit's rows
    nor their fire-once keys behind."""
    broken = FailedRun(run_row()._replace(platform=None), "runtime", ERROR, None)
    with pytest.raises(StorageError):
        await store.enqueue([row("a")], 100, TTL, [failure(None), broken])
    assert await store.outbox_counts() == {}
    assert query(store, "SELECT COUNT(*) FROM attempts") == [(0,)]
    assert await store.enqueue([row("a")], 101, TTL) == 1


async def test_a_failure_alone_is_committed(store):
    """A hit whose only tag failed queues no request, and its failed run must still be
    stored (an empty row list used to make an INSERT with no VALUES)."""
    assert await store.enqueue([], 100, TTL, [failure(None)]) == 0
    # Read from another connection: only a committed row is seen there.
    assert query(store, "SELECT method, state FROM outbox") == [(RUN_METHOD, "dead")]
    assert query(store, "SELECT attempt, outcome FROM attempts") == [(1, "dead")]


async def test_nothing_to_commit_writes_nothing(store):
    assert await store.enqueue([], 100, TTL, []) == 0
    assert await store.outbox_counts() == {}


# claiming


async def test_the_sender_never_claims_run_rows(store):
    """A RUN row has nothing to send: only the retrier may run it, whatever its state."""
    await store.enqueue([row("a")], 100, TTL, [failure(100), failure(None, tag="t2")])
    items = await store.claim(10, LATER)
    assert [(i.method, i.tag_id) for i in items] == [("POST", "hook")]
    assert await store.replay(EVERYTHING, 200, dry_run=False) == 2  # both RUN rows pending
    assert await store.claim(10, LATER) == []
    await store.claim_runs(10, LATER)
    assert await store.release_inflight() == 3  # the sender's row and both RUN rows
    assert [i.method for i in await store.claim(10, LATER)] == ["POST"]


async def test_claim_runs_takes_only_due_pending_and_failed_run_rows(store):
    await store.enqueue([row("a"), row(None, held=True)], 100, TTL, [
        failure(50, tag="due"),
        failure(500, tag="later"),
        failure(None, tag="dead"),
        failure(50, tag="held", held=True),
    ])  # fmt: skip
    ids = dict(query(store, "SELECT tag_id, id FROM outbox WHERE method = 'RUN'"))
    # A pending RUN row: a replayed one, due at the replay.
    await store.replay(OutboxFilter(tag_id="dead"), 60, dry_run=False)
    items = await store.claim_runs(10, 100)
    assert items == [
        RunItem(ids["due"], "shop", "due", HIT, 1),
        RunItem(ids["dead"], "shop", "dead", HIT, 0),
    ]
    assert outbox_row(store, ids["due"])[1] == "inflight"
    assert outbox_row(store, ids["dead"])[1] == "inflight"
    assert outbox_row(store, ids["later"])[1] == "failed"
    assert outbox_row(store, ids["held"])[1] == "held"
    assert await store.outbox_counts() == {"pending": 1, "held": 2, "inflight": 2, "failed": 1}
    assert await store.claim_runs(10, 100) == []  # inflight rows are not claimed twice


async def test_claim_runs_respects_the_limit_earliest_due_first(store):
    await store.enqueue([], 0, TTL, [failure(300, tag="c"), failure(100, tag="a"),
                                     failure(200, tag="b")])  # fmt: skip
    first = await store.claim_runs(2, 1000)
    assert sorted(i.tag_id for i in first) == ["a", "b"]
    assert [i.id for i in first] == sorted(i.id for i in first)
    assert [i.tag_id for i in await store.claim_runs(2, 1000)] == ["c"]
    assert await store.claim_runs(2, 1000) == []


# settling


async def test_a_run_that_fails_again_goes_on_with_its_history(store):
    run_id = await failed_run_claimed(store, 100)
    await store.settle_runs([RunOutcome(run_id, None, "failed", "busy: lane full", 900, 150)])
    assert outbox_row(store, run_id) == (RUN_METHOD, "failed", 2, "busy: lane full", 900)
    assert await store.claim_runs(10, 899) == []
    (again,) = await store.claim_runs(10, 900)
    assert again.attempts == 2
    await store.settle_runs([RunOutcome(run_id, None, "dead", "x" * 2000, 900, 950)])
    assert outbox_row(store, run_id)[:4] == (RUN_METHOD, "dead", 3, "x" * RESPONSE_LIMIT)
    assert attempts(store, run_id) == [
        (1, 100, None, "failed", f"runtime: {ERROR}"),
        (2, 150, None, "failed", "busy: lane full"),
        (3, 950, None, "dead", "x" * RESPONSE_LIMIT),
    ]
    assert await store.claim_runs(10, LATER) == []


async def test_a_run_that_ran_becomes_its_first_request_in_place(store):
    """Same id, so the row's history shows the failure, the run that worked, then the
    sends; the other requests are new rows, and every key is taken."""
    run_id = await failed_run_claimed(store, 100)
    first = row("event_id:e1", destination="graph.facebook.com")._replace(
        headers=b'{"authorization":"x"}', body=b'{"data":[1]}'
    )
    queued = [first, row("event_id:e1#2"), row(None)]
    said = "the template ran again (version 3) and queued 3 requests"
    await store.settle_runs([RunOutcome(run_id, queued, "ran", said, 150, 150)], TTL)

    became = query(
        store,
        "SELECT method, url, headers, body, destination, dedup_key, state, attempts,"
        " last_response, next_attempt_at, created_at FROM outbox WHERE id = ?",
        (run_id,),
    )
    assert became == [("POST", "https://graph.facebook.com/x", b'{"authorization":"x"}',
                       b'{"data":[1]}', "graph.facebook.com", "event_id:e1", "pending", 0, said,
                       150, 100)]  # fmt: skip
    assert run_ids(store) == []
    added = query(store, "SELECT id, dedup_key, state, created_at FROM outbox WHERE id <> ?",
                  (run_id,))  # fmt: skip
    assert [(key, state, at) for _, key, state, at in added] == [
        ("event_id:e1#2", "pending", 150),
        (None, "pending", 150),
    ]
    assert all(i > run_id for i, *_ in added)
    assert attempts(store, run_id) == [
        (1, 100, None, "failed", f"runtime: {ERROR}"),
        (2, 150, None, "ran", said),
    ]
    keys = query(store, "SELECT dedup_key, expires_at FROM fire_once ORDER BY dedup_key")
    assert keys == [("event_id:e1", 150 + TTL), ("event_id:e1#2", 150 + TTL)]
    assert await store.enqueue([row("event_id:e1")], 200, TTL) == 0

    # The sender takes it from here, attempts counted from 0 and the history going on.
    items = await store.claim(10, 150)
    assert sorted(i.id for i in items) == [run_id, *(i for i, *_ in added)]
    (mine,) = [i for i in items if i.id == run_id]
    assert (mine.attempts, mine.platform) == (0, "webhook")
    await store.record([Delivery(run_id, "sent", 200, "ok", 0, 300)])
    assert [a[:4] for a in attempts(store, run_id)][-1] == (3, 300, 200, "sent")


async def test_a_taken_fire_once_key_kills_the_run_and_sends_nothing_twice(store):
    """An earlier copy of the hit already queued the request: the run's result is not
    sent again, and the row says why it ended."""
    await store.enqueue([row("event_id:e1")], 50, TTL)
    run_id = await failed_run_claimed(store, 100)
    outcome = RunOutcome(run_id, [row("event_id:e1")], "ran", "queued 1 request", 150, 150)
    await store.settle_runs([outcome], TTL)
    method, state, tries, response, _ = outbox_row(store, run_id)
    assert (method, state, tries) == (RUN_METHOD, "dead", 2)
    assert "fire-once key event_id:e1 was already used" in response
    assert attempts(store, run_id)[-1][:4] == (2, 150, None, "dead")
    assert query(store, "SELECT COUNT(*) FROM outbox WHERE dedup_key = 'event_id:e1'") == [
        (1,)
    ]
    assert query(store, "SELECT expires_at FROM fire_once") == [(50 + TTL,)]
    assert [i.method for i in await store.claim(10, LATER)] == ["POST"]
    assert await store.claim_runs(10, LATER) == []


async def test_a_taken_key_still_lets_the_runs_new_requests_through(store):
    """Only the repeat is dropped: the run's other requests obey their own keys."""
    await store.enqueue([row("event_id:e1"), row("event_id:e2")], 50, TTL)
    run_id = await failed_run_claimed(store, 100)
    queued = [row("event_id:e1"), row("event_id:e2"), row("event_id:e3")]
    await store.settle_runs([RunOutcome(run_id, queued, "ran", "queued 3", 150, 150)], TTL)
    assert outbox_row(store, run_id)[1] == "dead"
    keys = query(store, "SELECT dedup_key FROM outbox WHERE id <> ? ORDER BY id", (run_id,))
    assert keys == [("event_id:e1",), ("event_id:e2",), ("event_id:e3",)]


async def test_an_expired_key_lets_the_run_through(store):
    await store.enqueue([row("event_id:e1")], 0, 100)
    run_id = await failed_run_claimed(store, 100)
    outcome = RunOutcome(run_id, [row("event_id:e1")], "ran", "queued 1", 150, 150)
    await store.settle_runs([outcome], TTL)
    assert outbox_row(store, run_id)[:2] == ("POST", "pending")
    assert query(store, "SELECT expires_at FROM fire_once") == [(150 + TTL,)]


async def test_two_runs_of_one_hit_queue_its_request_once(store):
    """Two failed copies of one hit settled together: the first run queues the request,
    the second finds its key taken."""
    await store.enqueue([], 100, TTL, [failure(100), failure(100)])
    first, second = (i.id for i in await store.claim_runs(10, 100))
    queued = [row("event_id:e1")]
    await store.settle_runs([
        RunOutcome(first, queued, "ran", "queued 1", 150, 150),
        RunOutcome(second, queued, "ran", "queued 1", 150, 150),
    ], TTL)  # fmt: skip
    assert outbox_row(store, first)[:2] == ("POST", "pending")
    assert outbox_row(store, second)[:2] == (RUN_METHOD, "dead")
    assert query(store, "SELECT COUNT(*) FROM outbox WHERE dedup_key = 'event_id:e1'") == [
        (1,)
    ]


async def test_a_run_that_queues_nothing_is_settled_sent(store):
    run_id = await failed_run_claimed(store, 100)
    await store.settle_runs([RunOutcome(run_id, [], "ran", "queued 0 requests", 150, 150)])
    said = "the template ran again and queued no request"
    assert outbox_row(store, run_id)[:4] == (RUN_METHOD, "sent", 2, said)
    assert query(store, "SELECT sent_at FROM outbox WHERE id = ?", (run_id,)) == [(150,)]
    assert attempts(store, run_id)[-1] == (2, 150, None, "sent", said)
    assert await store.claim(10, LATER) == []
    assert await store.claim_runs(10, LATER) == []


@pytest.mark.parametrize(
    "rows",
    [None, [], [row("event_id:e1"), row("event_id:e2")]],
    ids=["failed-again", "queued-nothing", "ran"],
)
async def test_settle_touches_only_rows_still_inflight(store, rows):
    """A row settled already (or released, replayed, never claimed) is not changed by a
    late outcome: no state, no history entry, no request queued, no key taken."""
    run_id = await failed_run_claimed(store, 100)
    await store.settle_runs([RunOutcome(run_id, None, "failed", "busy", 900, 150)])
    before = outbox_row(store, run_id)
    late = RunOutcome(run_id, rows, "ran" if rows is not None else "dead", "late", 200, 200)
    await store.settle_runs([late], TTL)
    assert outbox_row(store, run_id) == before == (RUN_METHOD, "failed", 2, "busy", 900)
    assert [a[0] for a in attempts(store, run_id)] == [1, 2]
    assert query(store, "SELECT COUNT(*) FROM outbox") == [(1,)]
    assert query(store, "SELECT COUNT(*) FROM fire_once") == [(0,)]


async def test_settle_of_a_missing_row_writes_no_history(store):
    await store.settle_runs([RunOutcome(999, None, "dead", "gone", 0, 10)])
    assert query(store, "SELECT COUNT(*) FROM attempts") == [(0,)]


# history and operator actions


async def test_history_shows_the_run_row_with_its_error_and_hit(store):
    await store.enqueue([row("a")], 100, TTL, [
        failure(None, tag="meta_capi", event_id="evt-42", platform="meta", lead="L-9",
                value=12.5, currency="EUR"),
    ])  # fmt: skip
    (entry,) = await store.history(OutboxFilter(tag_id="meta_capi"), 10, 0)
    assert (entry.tag_id, entry.event_id, entry.container_id) == ("meta_capi", "evt-42", "shop")
    assert (entry.destination, entry.platform, entry.lead_id) == (RUN_DESTINATION, "meta", "L-9")
    assert (entry.value, entry.currency) == (12.5, "EUR")
    assert (entry.state, entry.attempt, entry.outcome, entry.status) == ("dead", 1, "dead", None)
    assert entry.response == f"runtime: {ERROR}"
    assert entry.at_ms == entry.created_at == 100
    dead = await store.history(OutboxFilter(states=("dead",)), 10, 0)
    assert [e.tag_id for e in dead] == ["meta_capi"]
    assert await store.history(OutboxFilter(tag_id="other"), 10, 0) == []


async def test_history_shows_a_run_that_ran_after_its_failure(store):
    run_id = await failed_run_claimed(store, 100)
    outcome = RunOutcome(run_id, [row("event_id:e1")], "ran", "ran again", 150, 150)
    await store.settle_runs([outcome], TTL)
    entries = await store.history(EVERYTHING, 10, 0)
    assert [(e.outbox_id, e.attempt, e.outcome, e.state, e.response) for e in entries] == [
        (run_id, 2, "ran", "pending", "ran again"),
        (run_id, 1, "failed", "pending", f"runtime: {ERROR}"),
    ]


async def test_replay_of_a_dead_run_row_lets_the_retrier_run_it_again(store):
    """Replay makes the row pending, attempts 0, due at the replay: the retrier claims it
    (the sender still does not), and its history goes on from the first failure."""
    await store.enqueue([], 100, TTL, [failure(None)])
    (run_id,) = run_ids(store)
    assert await store.claim_runs(10, LATER) == []
    assert await store.replay(EVERYTHING, 500, dry_run=True) == 1
    assert outbox_row(store, run_id)[1] == "dead"
    assert await store.replay(EVERYTHING, 500, dry_run=False) == 1
    assert outbox_row(store, run_id) == (RUN_METHOD, "pending", 0, f"runtime: {ERROR}", 500)
    assert await store.claim(10, LATER) == []
    assert await store.claim_runs(10, 499) == []
    assert await store.claim_runs(10, 500) == [RunItem(run_id, "shop", "hook", HIT, 0)]
    await store.settle_runs([RunOutcome(run_id, None, "dead", "runtime: still", 500, 600)])
    assert outbox_row(store, run_id)[1:3] == ("dead", 1)
    assert [(a[0], a[3]) for a in attempts(store, run_id)] == [(1, "dead"), (2, "dead")]


async def test_purge_removes_a_dead_run_row_with_its_history(store):
    await store.enqueue([], 100, TTL, [failure(None)])
    assert await store.purge(EVERYTHING, dry_run=False) == 1
    assert query(store, "SELECT COUNT(*) FROM attempts") == [(0,)]


async def test_status_counts_run_rows_per_tag_and_state(store):
    await store.enqueue([row("a")], 100, TTL, [failure(None), failure(200)])
    assert await store.outbox_status(EVERYTHING) == [
        ("shop", "hook", "dead", 1),
        ("shop", "hook", "failed", 1),
        ("shop", "hook", "pending", 1),
    ]
