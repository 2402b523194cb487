"""The acceptance path `/collect` and the Fire API share, driven directly: scrub, guards,
pipeline, commit."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from config.schema import apply_defaults
from config.sqlite_store import SQLiteStore
from config.storage import FailedRun, OutboxRow, StorageError
from container.accept import INLINE_UNITS, Acceptor, StoreUnavailable, Verdict, add, hold
from container.delivery.outbox import OutboxWriter
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.lanes import LaneBusy, TagLanes
from container.pipeline import CompiledContainer, PipelineResult
from tags.runtime import TemplateRuntime
from tests.helpers import hit_record, make_document, make_hit

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000 // 60_000 * 60_000
CONTAINER = CompiledContainer.compile(apply_defaults(make_document()), TemplateRuntime())


class RecordingWriter:
    """An outbox writer that records each commit, or fails with `error`."""

    def __init__(self, error: Exception | None = None) -> None:
        self.commits: list[tuple[list[OutboxRow], list[FailedRun]]] = []
        self.error = error

    async def enqueue(self, rows: list[OutboxRow], failures: list[FailedRun]) -> None:
        if self.error is not None:
            raise self.error
        self.commits.append((rows, failures))


def lead(**wire: Any) -> Any:
    return hit_record(make_hit(**wire), received_ms=T0)


async def run(acceptor: Acceptor, hit: Any) -> tuple[Verdict, PipelineResult]:
    """The endpoints' order: judge on the loop, then the tags on the lane."""
    verdict = acceptor.judge(CONTAINER, hit)
    if verdict is Verdict.STOP:
        return verdict, PipelineResult()
    (result,) = await acceptor.run(CONTAINER, [hit])
    return verdict, result


async def test_an_accepted_hit_lands_in_the_outbox_once(tmp_path: Path, lanes: TagLanes) -> None:
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    writer = OutboxWriter(store, lambda: None)
    writer.start()
    acceptor = Acceptor(writer, lanes)
    try:
        for _ in range(2):  # the browser retries: the same event id is sent once
            verdict, result = await run(acceptor, lead())
            assert verdict is Verdict.RUN
            await acceptor.commit(result)
    finally:
        await writer.stop()
        await store.close()
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    rows = conn.execute("SELECT tag_id, event_id, state FROM outbox").fetchall()
    conn.close()
    assert rows == [("hook", make_hit()["event_id"], "pending")]


async def test_a_store_error_surfaces_as_store_unavailable(lanes: TagLanes) -> None:
    failure = StorageError("database is locked")
    acceptor = Acceptor(RecordingWriter(failure), lanes)
    _, result = await run(acceptor, lead())
    with pytest.raises(StoreUnavailable) as caught:
        await acceptor.commit(result)
    refused = caught.value
    assert refused.error is failure
    assert refused.__cause__ is failure
    assert (refused.status, refused.field, refused.retry_after_s) == (503, "store", 5)
    assert str(refused) == "outbox commit failed: database is locked"


async def test_nothing_to_commit_does_not_touch_the_store(lanes: TagLanes) -> None:
    writer = RecordingWriter(StorageError("would fail"))
    await Acceptor(writer, lanes).commit(PipelineResult())
    assert writer.commits == []


async def test_the_hit_is_scrubbed_before_its_tags_run(lanes: TagLanes) -> None:
    hit = lead(page={"url": "https://www.example.com/thanks?email=jane.doe@example.com"})
    _, result = await run(Acceptor(RecordingWriter(), lanes), hit)
    assert "jane.doe" not in hit.wire["page"]["url"]
    (row,) = result.rows
    assert "jane.doe" not in orjson.loads(row.body)["page_url"]


async def test_the_value_guard_stops_an_impossible_value_before_any_tag(
    lanes: TagLanes,
) -> None:
    guarded = Acceptor(RecordingWriter(), lanes, value=ValueGuard(1_000, "block"))
    verdict, result = await run(guarded, lead(data={"value": 5_000, "currency": "EUR"}))
    assert (verdict, result.rows) == (Verdict.STOP, [])
    verdict, result = await run(guarded, lead(data={"value": 50, "currency": "EUR"}))
    assert (verdict, len(result.rows)) == (Verdict.RUN, 1)
    unguarded = Acceptor(RecordingWriter(), lanes)
    verdict, result = await run(unguarded, lead(data={"value": 5_000, "currency": "EUR"}))
    assert (verdict, len(result.rows)) == (Verdict.RUN, 1)


async def test_a_spike_holds_the_rows_of_the_hits_over_it(lanes: TagLanes) -> None:
    spikes = SpikeDetector(10, 2, T0, warmup_minutes=0)
    acceptor = Acceptor(RecordingWriter(), lanes, spikes=spikes)
    hits = [lead(event_id="evt-00000001"), lead(event_id="evt-00000002")]
    verdicts = [acceptor.judge(CONTAINER, h) for h in hits]
    assert verdicts == [Verdict.RUN, Verdict.HOLD]
    first, second = await acceptor.run(CONTAINER, hits)
    hold(second, CONTAINER.id)
    total = PipelineResult()
    add(total, first)
    add(total, second)
    assert [row.held for row in total.rows] == [False, True]


# ---- where tags run: on the loop under the allowance, on the lane beyond it -------------


class ThreadLog:
    """A secret lookup that notes the thread each template run asked from."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def __call__(self, ref: str) -> str:
        self.threads.append(threading.current_thread().name)
        return "s3cret"


def _template(ident: str, loops: int) -> dict[str, Any]:
    """Asks for its secret first (so the thread is noted), spends 2 units (VM instructions)
    per loop, then queues one request."""
    return {
        "id": ident,
        "lua": f'local t = secret("token")\nlocal x = 0\nfor i = 1, {loops} do x = x + i end\n'
               f'send_http{{url = "https://hooks.example.com/{ident}", body = {{x = x}}}}\n',
        "params": {"token": {"type": "secret", "required": True}},
        "permissions": {"secrets": ["token"],
                        "send_http": [{"url": f"https://hooks.example.com/{ident}"}]},
    }  # fmt: skip


def _container(container_id: str, *loops: int) -> tuple[CompiledContainer, ThreadLog]:
    """Tags t0, t1, … firing on leads, with the given loop counts, in that order."""
    doc = make_document()
    doc["container"]["id"] = container_id
    doc["templates"] = [_template(f"t{i}", n) for i, n in enumerate(loops)]
    doc["tags"] = [
        {"id": f"t{i}", "name": f"t{i}", "template": f"t{i}", "params": {"token": "ref"},
         "firing_triggers": ["leads"]}
        for i in range(len(loops))
    ]  # fmt: skip
    log = ThreadLog()
    runtime = TemplateRuntime(log)
    return CompiledContainer.compile(apply_defaults(doc), runtime), log


def _fired(container_id: str, tag_id: str) -> float:
    labels = {"container": container_id, "tag": tag_id, "outcome": "fired"}
    return REGISTRY.get_sample_value("tagwire_tag_outcomes_total", labels) or 0


LOOP_THREAD = threading.current_thread().name
WORKER = "tagwire-tags"


async def test_cheap_tags_run_on_the_loop_without_a_hand_off(lanes: TagLanes) -> None:
    container, log = _container("cheap", 100, 100)
    acceptor = Acceptor(RecordingWriter(), lanes)
    (result,) = await acceptor.run(container, [lead()])
    assert [row.tag_id for row in result.rows] == ["t0", "t1"]
    assert log.threads == [LOOP_THREAD, LOOP_THREAD]
    assert lanes.inline_ok(container.lane)


async def test_a_tag_over_the_allowance_finishes_on_the_lane_and_counts_once(
    lanes: TagLanes,
) -> None:
    """t1 needs about 2 x 60,000 units, more than INLINE_UNITS: it stops on the loop before
    it runs past the allowance, and it (not t0 again) runs to its end on the lane."""
    assert INLINE_UNITS < 2 * 60_000
    container, log = _container("dear", 100, 60_000)
    acceptor = Acceptor(RecordingWriter(), lanes)
    (result,) = await acceptor.run(container, [lead()])
    assert [row.tag_id for row in result.rows] == ["t0", "t1"]
    assert result.failures == []
    assert log.threads == [LOOP_THREAD, LOOP_THREAD, WORKER]
    assert (_fired("dear", "t0"), _fired("dear", "t1")) == (1, 1)
    # the container's next requests go straight to the lane for the cool-down
    assert not lanes.inline_ok(container.lane)
    log.threads.clear()
    (again,) = await acceptor.run(container, [lead(event_id="evt-00000002")])
    assert len(again.rows) == 2
    assert log.threads == [WORKER, WORKER]


async def test_a_spill_mid_request_keeps_every_hit_and_its_order(lanes: TagLanes) -> None:
    container, log = _container("batch", 100, 60_000)
    acceptor = Acceptor(RecordingWriter(), lanes)
    hits = [lead(event_id=f"evt-0000000{n}", data={"value": n}) for n in range(1, 4)]
    results = await acceptor.run(container, hits)
    assert [[row.event_id for row in r.rows] for r in results] == [[h.event_id] * 2 for h in hits]
    assert [[row.tag_id for row in r.rows] for r in results] == [["t0", "t1"]] * 3
    assert (_fired("batch", "t0"), _fired("batch", "t1")) == (3, 3)
    assert log.threads.count(WORKER) == 5  # t1 of the first hit, then both tags of two


async def test_nothing_is_queued_on_lanes_that_stopped() -> None:
    """A request arriving during shutdown is refused (503, retried), never left waiting."""
    lanes = TagLanes(workers=1)
    lanes.start()
    await lanes.stop()
    with pytest.raises(LaneBusy, match="shutting down"):
        await lanes.run("shop@live", lambda: None)
