"""Opt-in array bodies for webhooks (container/delivery/arrays.py): which rows opt in, the
request's shape, and what an answer means for each row, alone and through the sender
to a loopback receiver."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import orjson
import pytest

from config.egress import EgressPolicy
from config.storage import OutboxFilter
from container.delivery.arrays import DEFAULT_MAX, MAX_BYTES, ArrayPolicy, array_policy
from container.delivery.batching import Answer, HttpPolicy
from container.delivery.sender import Sender
from tags.package import shipped_template
from tags.testing import run_once
from tests.container.delivery.loopback import Loopback, Seen, answer
from tests.container.delivery.support import ManualClock, item, row, settled
from tests.fake_platforms.payloads import NOW_MS

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[False, True], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    """Both loops: the node serves (and sends) on uvloop, the benchmarks on asyncio's own."""
    return "asyncio", {"use_uvloop": request.param}


HOOK = "https://hooks.example.com/in"
MARKED = {"content-type": "application/json", "x-api-key": "k1",
          "x-tagwire-batch": "array;max=3"}  # fmt: skip


def hook(key: str, headers: dict[str, str] = MARKED, url: str = HOOK, id: int = 1) -> Any:
    return item((url, headers, {"event": key}), id=id, platform="webhook")


@pytest.mark.parametrize(
    ("headers", "limit"),
    [
        ({"x-tagwire-batch": "array"}, DEFAULT_MAX),
        ({"x-tagwire-batch": "array;max=25"}, 25),
        ({"X-Tagwire-Batch": "Array; max = 7"}, 7),
        ({"x-tagwire-batch": "array;max=5000"}, 1000),
        ({"x-tagwire-batch": "array;max=0"}, 1),
        ({"x-tagwire-batch": "ndjson"}, None),
        ({"x-tagwire-batch": "array;max=abc"}, None),
        ({"x-other": "array"}, None),
        ({}, None),
    ],
)
def test_a_row_opts_in_with_the_marker_header(headers: dict[str, str], limit: int | None) -> None:
    found = array_policy(orjson.dumps(headers))
    assert (found.max_events if found else None) == limit


def test_the_shipped_webhook_opts_in_through_its_headers_parameter() -> None:
    params = {"url": HOOK, "headers": {"x-tagwire-batch": "array;max=10", "x-api-key": "k1"}}
    hit = {"v": 1, "event": "lead", "event_id": "evt-00000001"}
    result = run_once(shipped_template("webhook"), hit, params)
    assert result.error is None
    (request,) = result.requests
    found = array_policy(orjson.dumps(request["headers"]))
    assert found is not None
    assert found.max_events == 10
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    queued = item((HOOK, request["headers"], {}), platform="webhook")
    merged = found.merge([found.entry(replace(queued, body=body))])
    assert orjson.loads(merged.body)[0]["event_id"] == "evt-00000001"
    assert merged.headers == {"content-type": "application/json", "x-api-key": "k1"}


def test_rows_merge_into_one_json_array_without_the_marker() -> None:
    policy = ArrayPolicy(3)
    entries = [policy.entry(hook(k, id=i)) for i, k in enumerate("ab")]
    assert entries[0].key == entries[1].key
    request = policy.merge(entries)
    assert orjson.loads(request.body) == [{"event": "a"}, {"event": "b"}]
    assert request.body == b"[" + entries[0].item.body + b"," + entries[1].item.body + b"]"
    assert request.headers == {"content-type": "application/json", "x-api-key": "k1"}
    assert (request.method, request.url) == ("POST", HOOK)
    alone = policy.merge(entries[:1])
    assert orjson.loads(alone.body) == [{"event": "a"}]  # the same shape, even alone


def test_rows_for_other_urls_or_headers_do_not_share_and_non_json_goes_alone() -> None:
    policy = ArrayPolicy(3)
    base = policy.entry(hook("a"))
    assert policy.entry(hook("b", url=HOOK + "2")).key != base.key
    assert policy.entry(hook("c", {**MARKED, "x-api-key": "k2"})).key != base.key
    plain = policy.entry(replace(item((HOOK, MARKED, {}), platform="webhook"), body=b"not json"))
    assert plain.key is None
    request = policy.merge([plain])
    assert request.body == b"not json"
    assert "x-tagwire-batch" not in request.headers


@pytest.mark.parametrize(
    ("status", "rows", "outcome"),
    [
        (200, 3, "sent"), (204, 1, "sent"),
        (503, 3, "retry"), (429, 3, "retry"), (408, 2, "retry"), (None, 3, "retry"),
        (400, 3, "split"), (413, 2, "split"), (422, 2, "split"),
        (400, 1, "dead"), (413, 1, "dead"),
        (401, 3, "dead"), (404, 3, "dead"), (302, 3, "dead"),
    ],
)  # fmt: skip
def test_the_status_decides_for_every_row(status: int | None, rows: int, outcome: str) -> None:
    policy = ArrayPolicy(10)
    entries = [policy.entry(hook(str(i), id=i)) for i in range(rows)]
    verdicts = policy.read(Answer(status, "text"), entries)
    assert [v.outcome for v in verdicts] == [outcome] * rows


def test_a_batch_has_a_byte_cap_and_the_generic_rules_otherwise() -> None:
    assert ArrayPolicy.max_bytes == MAX_BYTES
    assert ArrayPolicy(5).max_age_ms is HttpPolicy.max_age_ms is None
    assert ArrayPolicy(5).name == "http"


# ---- through the sender, on the wire ----------------------------------------------------


def hook_row(key: str, url: str, headers: dict[str, str] = MARKED) -> Any:
    return row((url, headers, {"event": key}), tag=f"hook-{key}", event_id=key,
               platform="webhook")  # fmt: skip


def wire_sender(store, **options) -> Sender:
    options.setdefault("batch_flush_ms", 0)
    return Sender(store, concurrency=2, timeout=5, max_attempts=5, clock=ManualClock().clock,
                  egress=EgressPolicy.parse("127.0.0.1"), **options)  # fmt: skip


async def run(sender: Sender, store) -> dict[str, int]:
    sender.start()
    try:
        return await settled(store)
    finally:
        await sender.stop(5)


def rows_in_db(store) -> dict[str, tuple[str, int, str]]:
    conn = sqlite3.connect(store.path)
    try:
        found = conn.execute(
            "SELECT tag_id, state, next_attempt_at, coalesce(last_response, '') FROM outbox"
        ).fetchall()
    finally:
        conn.close()
    return {tag: (state, next_at, text) for tag, state, next_at, text in found}


async def test_marked_rows_go_as_arrays_of_at_most_max(store) -> None:
    async with Loopback() as server:
        await store.enqueue([hook_row(k, f"{server.base}/in") for k in "abcdefg"]
                            + [hook_row("x", f"{server.base}/in",
                                        {"content-type": "application/json"})], NOW_MS)  # fmt: skip
        assert await run(wire_sender(store), store) == {"sent": 8}
    bodies = [orjson.loads(r.body) for r in server.requests]
    arrays = [b for b in bodies if isinstance(b, list)]
    assert sorted(len(a) for a in arrays) == [1, 3, 3]
    assert sorted(e["event"] for a in arrays for e in a) == list("abcdefg")
    assert {"event": "x"} in bodies  # unmarked: sent as queued, alone
    assert all("x-tagwire-batch" not in r.headers for r in server.requests)
    assert {r.headers["x-api-key"] for r in server.requests if "x-api-key" in r.headers} == {"k1"}
    history = await store.history(OutboxFilter(), 100, 0)
    assert sorted(e.batch_size for e in history) == [1, 1, 3, 3, 3, 3, 3, 3]


async def test_a_batch_refused_for_one_event_is_bisected_down_to_it(store) -> None:
    async def judge(seen: Seen) -> bytes:
        events = orjson.loads(seen.body)
        if any(e["event"] == "bad" for e in events):
            return answer(400, b'{"error":"invalid event"}')
        return answer(200, b"ok")

    async with Loopback([judge] * 20) as server:
        keys = ["a", "b", "bad", "c", "d", "e"]
        headers = {**MARKED, "x-tagwire-batch": "array;max=10"}
        await store.enqueue([hook_row(k, f"{server.base}/in", headers) for k in keys], NOW_MS)
        assert await run(wire_sender(store), store) == {"sent": 5, "dead": 1}
    found = rows_in_db(store)
    assert found["hook-bad"][0] == "dead"
    assert found["hook-bad"][2] == '{"error":"invalid event"}'
    sizes = [len(orjson.loads(r.body)) for r in server.requests]
    assert sizes[0] == 6
    assert 1 in sizes
    assert len(sizes) <= 7
    history = await store.history(OutboxFilter(tag_id="hook-a"), 10, 0)
    assert [e.outcome for e in history] == ["sent"]  # a split is not an attempt


async def test_a_batch_that_fails_is_retried_together(store) -> None:
    async with Loopback([answer(503, b"busy", "retry-after: 30")]) as server:
        await store.enqueue([hook_row(k, f"{server.base}/in") for k in "abc"], NOW_MS)
        assert await run(wire_sender(store), store) == {"failed": 3}
    found = rows_in_db(store)
    assert {found[f"hook-{k}"][1] for k in "abc"} == {NOW_MS + 30_000}  # due together
    assert len(server.requests) == 1


async def test_a_batch_refused_for_its_credentials_is_dead_at_once(store) -> None:
    async with Loopback([answer(401, b"who are you")]) as server:
        await store.enqueue([hook_row(k, f"{server.base}/in") for k in "abc"], NOW_MS)
        assert await run(wire_sender(store), store) == {"dead": 3}
    assert len(server.requests) == 1  # not bisected: no event is at fault
