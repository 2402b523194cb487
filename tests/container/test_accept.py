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
from config.storage import OutboxRow, StorageError
from container.accept import Acceptor, Outcome, StoreUnavailable
from container.delivery.outbox import OutboxWriter
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.pipeline import CompiledContainer, PipelineResult
from tags.runtime import TemplateRuntime
from tests.helpers import hit_record, make_document, make_hit

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000 // 60_000 * 60_000
CONTAINER = CompiledContainer.compile(apply_defaults(make_document()), TemplateRuntime())


class RecordingWriter:
    """An outbox writer that records each commit, or fails with `error`."""

    def __init__(self, error: Exception | None = None) -> None:
        self.commits: list[list[OutboxRow]] = []
        self.error = error

    async def enqueue(self, rows: list[OutboxRow]) -> None:
        if self.error is not None:
            raise self.error
        self.commits.append(rows)


def lead(**wire: Any) -> Any:
    return hit_record(make_hit(**wire), received_ms=T0)


def run(acceptor: Acceptor, hit: Any) -> tuple[Outcome, PipelineResult]:
    result = PipelineResult()
    return acceptor.run(CONTAINER, hit, result), result


async def test_an_accepted_hit_lands_in_the_outbox_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    writer = OutboxWriter(store, lambda: None)
    writer.start()
    acceptor = Acceptor(writer)
    try:
        for _ in range(2):  # the browser retries: the same event id is sent once
            outcome, result = run(acceptor, lead())
            assert outcome is Outcome.RAN
            await acceptor.commit(result.rows)
    finally:
        await writer.stop()
        await store.close()
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    rows = conn.execute("SELECT tag_id, event_id, state FROM outbox").fetchall()
    conn.close()
    assert rows == [("hook", make_hit()["event_id"], "pending")]


async def test_a_store_error_surfaces_as_store_unavailable() -> None:
    failure = StorageError("database is locked")
    acceptor = Acceptor(RecordingWriter(failure))
    _, result = run(acceptor, lead())
    with pytest.raises(StoreUnavailable) as caught:
        await acceptor.commit(result.rows)
    refused = caught.value
    assert refused.error is failure
    assert refused.__cause__ is failure
    assert (refused.status, refused.field, refused.retry_after_s) == (503, "store", 5)
    assert str(refused) == "outbox commit failed: database is locked"


async def test_nothing_to_commit_does_not_touch_the_store() -> None:
    writer = RecordingWriter(StorageError("would fail"))
    await Acceptor(writer).commit([])
    assert writer.commits == []


def test_the_hit_is_scrubbed_before_its_tags_run() -> None:
    hit = lead(page={"url": "https://www.example.com/thanks?email=jane.doe@example.com"})
    _, result = run(Acceptor(RecordingWriter()), hit)
    assert "jane.doe" not in hit.wire["page"]["url"]
    (row,) = result.rows
    assert "jane.doe" not in orjson.loads(row.body)["page_url"]


def test_the_value_guard_stops_an_impossible_value_before_any_tag() -> None:
    guarded = Acceptor(RecordingWriter(), value=ValueGuard(1_000, "block"))
    outcome, result = run(guarded, lead(data={"value": 5_000, "currency": "EUR"}))
    assert (outcome, result.rows) == (Outcome.STOPPED, [])
    outcome, result = run(guarded, lead(data={"value": 50, "currency": "EUR"}))
    assert (outcome, len(result.rows)) == (Outcome.RAN, 1)
    unguarded = Acceptor(RecordingWriter())
    outcome, result = run(unguarded, lead(data={"value": 5_000, "currency": "EUR"}))
    assert (outcome, len(result.rows)) == (Outcome.RAN, 1)


def test_a_spike_holds_the_rows_of_the_hits_over_it() -> None:
    acceptor = Acceptor(RecordingWriter(), spikes=SpikeDetector(10, 2, T0, warmup_minutes=0))
    result = PipelineResult()
    first = acceptor.run(CONTAINER, lead(event_id="evt-00000001"), result)
    second = acceptor.run(CONTAINER, lead(event_id="evt-00000002"), result)
    assert (first, second) == (Outcome.RAN, Outcome.HELD)
    assert [row.held for row in result.rows] == [False, True]
