"""The tag retrier end to end: a real SQLite store, started lanes, a clock the test moves.

A failed tag run is stored as a `RUN` row with the hit; `run_due` claims the due ones,
runs each tag again with the version the node serves now and settles the row: it becomes
its first request (pending, for the sender), fails again on the schedule, or is dead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from config.schema import apply_defaults
from config.sqlite_store import SQLiteStore
from config.storage import RUN_METHOD, FailedRun, OutboxFilter
from container.containers import ContainerSet
from container.delivery.routes import PlatformRoutes
from container.lanes import TagLanes
from container.pipeline import CompiledContainer, PipelineResult
from container.tag_failures import RETRY_DELAYS_MS, failed_run, read_record
from container.tag_retry import TagRetrier
from tags.runtime import TemplateRuntime
from tests.container.secret_lookups import Secrets
from tests.helpers import hit_record, make_document, make_hit

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000
TTL_MS = 72 * 3_600_000
EVENT_ID = make_hit()["event_id"]
A, B = "https://hooks.example.com/a", "https://hooks.example.com/b"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


FLAKY = {
    "id": "flaky",
    "lua": 'local token = secret("token")\n'
           'local body = {event_id = event.get("event_id"), value = event.get("data.value"),\n'
           "              has_token = token ~= nil}\n"
           f'send_http{{url = "{A}", body = body}}\n'
           f'send_http{{url = "{B}", body = body}}\n',
    "params": {"token": {"type": "secret", "required": True}},
    "permissions": {"read_event_data": ["event_id", "data.value"],
                    "send_http": [{"url": A}, {"url": B}], "secrets": ["token"]},
}  # fmt: skip
BROKEN = {"id": "broken", "lua": "local t = nil\nlocal y = t.field\n", "permissions": {}}


def version(number: int, secrets: Secrets, template: str = "flaky", env: str = "live") -> Any:
    """Container `shop`: its webhook tag `hook` and `flaky`, on `template`."""
    doc = make_document()
    doc["templates"] = [FLAKY, BROKEN]
    doc["tags"].append({"id": "flaky", "name": "Flaky", "template": template,
                        "params": {"token": "t"} if template == "flaky" else {},
                        "firing_triggers": ["leads"]})  # fmt: skip
    runtime = TemplateRuntime(secrets)
    return CompiledContainer.compile(apply_defaults(doc), runtime, version=number, env=env)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "t.db")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queued() -> list[int]:
    return []


def retrier(
    store: SQLiteStore,
    containers: ContainerSet,
    lanes: TagLanes,
    clock: Clock,
    queued: list[int],
    routes: PlatformRoutes | None = None,
) -> TagRetrier:
    return TagRetrier(store, containers, lanes, on_queued=lambda: queued.append(1),
                      routes=routes, fire_once_ttl_ms=TTL_MS, clock=clock)  # fmt: skip


def lead_run(container: CompiledContainer) -> PipelineResult:
    """A lead whose `flaky` tag fails while its `hook` queues a request."""
    result = PipelineResult()
    container.run(hit_record(make_hit(), event_time_ms=T0 - 5_000, received_ms=T0), result)
    assert [row.tag_id for row in result.rows] == ["hook"]
    assert [failure.row.tag_id for failure in result.failures] == ["flaky"]
    return result


async def hit_fails(
    store: SQLiteStore, container: CompiledContainer, *also: FailedRun
) -> FailedRun:
    """The lead's rows and failed run committed as the endpoints commit them, with `also`
    in the same commit."""
    result = lead_run(container)
    await store.enqueue(result.rows, T0, TTL_MS, [*result.failures, *also])
    return result.failures[0]


def outbox(db: Path) -> list[dict[str, Any]]:
    """The rows of `flaky`, the tag under test."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT id, tag_id, state, method, destination, url, body, dedup_key, attempts,"
            " next_attempt_at, last_response FROM outbox WHERE tag_id = 'flaky' ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [dict(row) for row in rows]


async def outcomes(store: SQLiteStore, outbox_id: int) -> list[tuple[str, str]]:
    """(outcome, response) of the row's history, oldest first."""
    entries = await store.history(OutboxFilter(tag_id="flaky"), 100, 0)
    return [(e.outcome, e.response) for e in reversed(entries) if e.outbox_id == outbox_id]


async def test_a_retried_failure_runs_again_and_its_row_becomes_the_request(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    failure = await hit_fails(store, version(1, Secrets(fail=True)))
    assert failure.kind == "host"
    due = T0 + RETRY_DELAYS_MS[0]
    (stored,) = outbox(tmp_path / "t.db")
    assert (stored["method"], stored["state"], stored["attempts"], stored["next_attempt_at"]) == (
        RUN_METHOD, "failed", 1, due)  # fmt: skip
    assert read_record(stored["body"]) == read_record(failure.row.body)

    secrets = Secrets()
    task = retrier(store, ContainerSet.of({"shop": version(2, secrets)}), lanes, clock, queued)
    clock.now = due - 1
    assert await task.run_due() == 0  # not due yet
    assert (secrets.calls, queued) == (0, [])

    clock.now = due
    assert await task.run_due() == 1
    assert (secrets.calls, queued) == (1, [1])
    first, second = outbox(tmp_path / "t.db")
    assert first["id"] == stored["id"]  # the RUN row became its first request
    assert (first["state"], first["method"], first["url"], first["destination"]) == (
        "pending", "POST", A, "hooks.example.com")  # fmt: skip
    assert (first["attempts"], first["next_attempt_at"]) == (0, due)
    assert (first["dedup_key"], second["dedup_key"]) == (
        f"event_id:{EVENT_ID}", f"event_id:{EVENT_ID}#1")  # fmt: skip
    assert (second["state"], second["method"], second["url"]) == ("pending", "POST", B)
    history = await outcomes(store, stored["id"])
    assert [outcome for outcome, _ in history] == ["failed", "ran"]
    assert history[0][1].startswith("host: ")
    assert "version 2" in history[1][1]
    assert "queued 2 requests" in history[1][1]

    # the sender now claims both requests, with the body the template built
    items = [item for item in await store.claim(10, due) if item.tag_id == "flaky"]
    assert [(item.id, item.method, item.url) for item in items] == [
        (first["id"], "POST", A), (second["id"], "POST", B)]  # fmt: skip
    assert orjson.loads(items[0].body) == {"event_id": EVENT_ID, "value": 50,
                                           "has_token": True}  # fmt: skip
    clock.now = due + 10 * RETRY_DELAYS_MS[-1]
    assert await task.run_due() == 0  # settled: never claimed again
    assert secrets.calls == 1


async def test_a_rerun_that_fails_deterministically_is_dead(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    await hit_fails(store, version(1, Secrets(fail=True)))
    served = ContainerSet.of({"shop": version(2, Secrets(), template="broken")})
    task = retrier(store, served, lanes, clock, queued)
    clock.now = T0 + RETRY_DELAYS_MS[0]
    assert await task.run_due() == 1
    (row,) = outbox(tmp_path / "t.db")
    assert (row["state"], row["method"], row["attempts"]) == ("dead", RUN_METHOD, 2)
    assert row["last_response"].startswith("runtime: broken:2: attempt to index a nil value")
    assert [outcome for outcome, _ in await outcomes(store, row["id"])] == ["failed", "dead"]
    assert queued == []
    clock.now += 10 * RETRY_DELAYS_MS[-1]
    assert await task.run_due() == 0


async def test_a_container_environment_the_node_does_not_serve_is_retried_later(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    await hit_fails(store, version(1, Secrets(fail=True)))
    containers = ContainerSet()
    secrets = Secrets()
    containers.put("shop", "staging", version(2, secrets, env="staging"))  # not "live"
    task = retrier(store, containers, lanes, clock, queued)
    clock.now = T0 + RETRY_DELAYS_MS[0]
    assert await task.run_due() == 1
    (row,) = outbox(tmp_path / "t.db")
    later = clock.now + RETRY_DELAYS_MS[1]
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("failed", 2, later)
    assert row["last_response"] == (
        "unserved: container 'shop' environment 'live' is not served by this node"
    )
    assert secrets.calls == 0
    assert queued == []

    # once the node serves it (a publish, a reload), the next retry runs it
    containers.put("shop", "live", version(3, secrets))
    clock.now = later - 1
    assert await task.run_due() == 0
    clock.now = later
    assert await task.run_due() == 1
    assert [(r["state"], r["url"]) for r in outbox(tmp_path / "t.db")] == [
        ("pending", A), ("pending", B)]  # fmt: skip
    assert [o for o, _ in await outcomes(store, row["id"])] == ["failed", "failed", "ran"]


async def test_an_operator_replays_a_dead_run_after_publishing_a_fix(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    broken = version(1, Secrets(), template="broken")
    failure = await hit_fails(store, broken)
    assert (failure.kind, failure.next_attempt_at) == ("runtime", None)
    (row,) = outbox(tmp_path / "t.db")
    assert (row["state"], row["method"]) == ("dead", RUN_METHOD)

    containers = ContainerSet.of({"shop": broken})
    task = retrier(store, containers, lanes, clock, queued)
    clock.now = T0 + 10 * RETRY_DELAYS_MS[-1]
    assert await task.run_due() == 0  # dead rows wait for an operator

    secrets = Secrets()
    containers.put("shop", "live", version(2, secrets))  # the fix is published
    picked = OutboxFilter(container_id="shop", tag_id="flaky", states=("dead",))
    assert await store.replay(picked, clock.now, dry_run=True) == 1
    assert outbox(tmp_path / "t.db")[0]["state"] == "dead"  # a dry run changes nothing
    assert await store.replay(picked, clock.now, dry_run=False) == 1
    assert await task.run_due() == 1
    assert secrets.calls == 1
    assert queued == [1]
    first, second = outbox(tmp_path / "t.db")
    assert (first["id"], first["state"], first["method"], first["url"]) == (
        row["id"], "pending", "POST", A)  # fmt: skip
    assert (second["state"], second["url"]) == ("pending", B)
    history = await outcomes(store, row["id"])
    assert [o for o, _ in history] == ["dead", "ran"]
    assert history[0][1].startswith("runtime: broken:2:")
    assert "version 2" in history[1][1]


async def test_routes_apply_to_the_rows_a_rerun_queues(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    await hit_fails(store, version(1, Secrets(fail=True)))
    routes = PlatformRoutes({"https://hooks.example.com": "http://127.0.0.1:9/fake/hooks"})
    served = ContainerSet.of({"shop": version(2, Secrets())})
    task = retrier(store, served, lanes, clock, queued, routes)
    clock.now = T0 + RETRY_DELAYS_MS[0]
    assert await task.run_due() == 1
    rows = outbox(tmp_path / "t.db")
    # stored with the destination they are sent to; the URL stays the platform's
    moved = "127.0.0.1:9/fake/hooks"
    assert [(r["destination"], r["url"], r["state"]) for r in rows] == [
        (moved, A, "pending"), (moved, B, "pending")]  # fmt: skip


async def test_retries_stop_when_the_schedule_is_used_up(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    secrets = Secrets(fail=True)
    container = version(1, secrets)
    await hit_fails(store, container)
    task = retrier(store, ContainerSet.of({"shop": container}), lanes, clock, queued)
    due = T0 + RETRY_DELAYS_MS[0]
    for attempt, delay in enumerate(RETRY_DELAYS_MS[1:], start=2):
        clock.now = due
        assert await task.run_due() == 1
        (row,) = outbox(tmp_path / "t.db")
        due = clock.now + delay
        assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("failed", attempt, due)
    clock.now = due
    assert await task.run_due() == 1
    (row,) = outbox(tmp_path / "t.db")
    assert (row["state"], row["method"]) == ("dead", RUN_METHOD)
    assert row["last_response"] == "host: RuntimeError: vault unreachable"
    # the hit's run and one run per retry, each really ran the template
    assert secrets.calls == 1 + len(RETRY_DELAYS_MS)
    history = [o for o, _ in await outcomes(store, row["id"])]
    assert history == ["failed"] * len(RETRY_DELAYS_MS) + ["dead"]
    clock.now += 10 * RETRY_DELAYS_MS[-1]
    assert await task.run_due() == 0
    assert queued == []


async def test_a_record_that_cannot_be_read_is_dead(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path
) -> None:
    (failure,) = lead_run(version(1, Secrets(fail=True))).failures
    damaged = failed_run("shop", "flaky", "flaky", read_record(failure.row.body), "host", "x", T0)
    damaged = damaged._replace(row=damaged.row._replace(body=b"not json"))
    await hit_fails(store, version(1, Secrets(fail=True)), damaged)
    task = retrier(store, ContainerSet.of({"shop": version(2, Secrets())}), lanes, clock, queued)
    assert await task.run_due() == 1  # only the damaged one is due at T0
    _, row = outbox(tmp_path / "t.db")
    assert row["state"] == "dead"
    assert row["last_response"].startswith("runtime: hit record is not JSON")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [({"event": "lead"}, "'event' is a str"), ({"cookies": ["a"]}, "'cookies' is a list"),
     ({"cookies": {"a": 1}}, "'cookies' are not all strings"),
     ({"received_ms": "1"}, "'received_ms' is a str"), ({"event_id": None}, "'event_id' is a"),
     ({"v": 2}, "version 2 is not 1")],
)  # fmt: skip
async def test_a_damaged_record_is_dead_and_the_runs_claimed_with_it_still_run(
    store: SQLiteStore, lanes: TagLanes, clock: Clock, queued: list[int], tmp_path: Path,
    damage: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    (failure,) = lead_run(version(1, Secrets(fail=True))).failures
    body = {**orjson.loads(failure.row.body), **damage}
    damaged = failure._replace(row=failure.row._replace(body=orjson.dumps(body)))
    await hit_fails(store, version(1, Secrets(fail=True)), damaged)
    task = retrier(store, ContainerSet.of({"shop": version(2, Secrets())}), lanes, clock, queued)
    clock.now = T0 + RETRY_DELAYS_MS[0]
    assert await task.run_due() == 2  # both claimed in one batch, on one lane
    good, bad, _ = outbox(tmp_path / "t.db")
    assert (good["state"], good["url"]) == ("pending", A)
    assert bad["state"] == "dead"
    assert bad["last_response"].startswith("runtime: hit record")
    assert reason in bad["last_response"]
