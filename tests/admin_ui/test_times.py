"""Times as operators write them, and as answers show them."""

from __future__ import annotations

import time

import pytest

from admin_ui.times import iso, now_ms, parse_time

NOW = 1_764_806_400_000  # 2025-12-04T00:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", NOW - 45_000),
        ("30m", NOW - 1_800_000),
        ("2h", NOW - 7_200_000),
        ("7d", NOW - 604_800_000),
        ("1w", NOW - 604_800_000),
        ("2026-12-01", 1_796_083_200_000),
        ("2026-12-01T10:00:00Z", 1_796_119_200_000),
        ("2026-12-01T11:00:00+01:00", 1_796_119_200_000),
        (" 2026-12-01T10:00:00.250Z ", 1_796_119_200_250),
    ],
)
def test_parse_time_forms(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2h30m", "-1h", "", "2026-13-01"])
def test_parse_time_refuses_other_text_saying_which_forms_work(text):
    with pytest.raises(ValueError, match="is not a time: use ISO 8601"):
        parse_time(text, NOW)


def test_iso_is_utc_with_milliseconds():
    assert iso(1_796_119_200_250) == "2026-12-01T10:00:00.250Z"
    assert parse_time(iso(NOW), 0) == NOW


def test_now_ms_is_the_wall_clock_in_milliseconds():
    before = int(time.time() * 1000)
    assert before <= now_ms() <= int(time.time() * 1000)
