"""The firing history action: attempts selected by status and outcome, paged, and one
record shape (see ops_fixtures for the rows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_ui.history import HISTORY_FIELDS, history, history_record
from config.storage import OutboxFilter
from tests.container.ops_fixtures import filled_database
from tests.helpers import on_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return filled_database(tmp_path / "tagwire.db")


def attempts(db: Path, limit: int = 100, offset: int = 0, **select) -> list[tuple[str, int]]:
    entries = on_store(db, lambda store: history(store, OutboxFilter(), limit, offset, **select))
    return [(entry.event_id, entry.attempt) for entry in entries]


def test_without_selection_every_attempt_and_untried_row(db):
    assert len(attempts(db)) == 7


def test_status_and_outcome_select_attempts(db):
    assert attempts(db, status=503) == [("evt-C-0001", 1)]
    assert sorted(attempts(db, outcome="dead")) == [
        ("evt-B-0001", 1), ("evt-C-0001", 2), ("evt-F-0001", 1),
    ]  # fmt: skip
    assert attempts(db, outcome="held") == [("evt-D-0001", 0)]
    assert attempts(db, status=400, outcome="sent") == []


def test_offset_counts_selected_attempts(db):
    every = attempts(db, outcome="dead")
    assert attempts(db, 1, 0, outcome="dead") + attempts(db, 5, 1, outcome="dead") == every
    assert attempts(db, 2, 3, outcome="dead") == []


def test_a_record_has_the_history_fields_in_order(db):
    [entry] = on_store(db, lambda store: history(store, OutboxFilter(lead_id="L-1"), 10))
    record = history_record(entry)
    assert tuple(record) == HISTORY_FIELDS
    assert (record["event_id"], record["status"], record["outcome"]) == ("evt-A-0001", 200, "sent")
    assert record["time"].endswith("Z")
