"""Filter text and filters written back under the operator's names."""

from __future__ import annotations

import pytest

from admin_ui.filters import MAX_TEXT, check_text, filter_fields
from config.storage import OutboxFilter


@pytest.mark.parametrize("text", ["", "x" * (MAX_TEXT + 1)])
def test_check_text_bounds(text):
    with pytest.raises(ValueError, match=f"must be 1-{MAX_TEXT} characters"):
        check_text(text)


def test_check_text_keeps_the_text_as_written():
    assert check_text(" L-1 ") == " L-1 "


def test_filter_fields_uses_operator_names_and_skips_unset_fields():
    filter = OutboxFilter(container_id="shop", tag_id="hook", event_name="lead",
                          lead_id="L-2", states=("dead",), since_ms=0,
                          until_ms=1_796_119_200_000)  # fmt: skip
    assert filter_fields(filter) == {
        "container": "shop",
        "tag": "hook",
        "event": "lead",
        "lead_id": "L-2",
        "state": ["dead"],
        "since": "1970-01-01T00:00:00.000Z",
        "until": "2026-12-01T10:00:00.000Z",
    }
    assert filter_fields(OutboxFilter()) == {}
    assert filter_fields(OutboxFilter(until_ms=0), "before") == {
        "before": "1970-01-01T00:00:00.000Z"
    }
