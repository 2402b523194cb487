"""The acceptance path `/collect` and the Fire API share, driven directly: scrub, guards,
pipeline, commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from config.schema import apply_defaults
from config.sqlite_store import SQLiteStore
from config.storage import FailedRun, OutboxRow, StorageError
from container.accept import Acceptor, StoreUnavailable, Verdict, add, hold
from container.delivery.outbox import OutboxWriter
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.lanes import TagLanes
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


async def test_an_accepted_hit_lands_in_the_outbox_once(
    tmp_path: Path, lanes: TagLanes
) -> None:
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
