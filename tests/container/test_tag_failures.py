"""Failed tag runs: the stored hit record, the retry schedule and the RUN row."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.storage import RUN_DESTINATION, RUN_METHOD
from container.tag_failures import (
    BUSY,
    RETRIED,
    RETRY_DELAYS_MS,
    UNSERVED,
    HitRecord,
    RecordError,
    failed_run,
    read_record,
    retry_at,
)
from tags.errors import KINDS

RECORD = HitRecord(
    env="live",
    event={"event": "Lead", "data": {"value": 50.0, "items": [1, "two", None, True]}},
    cookies={"_tw": "abc"},
    received_ms=1_700_000_000_123,
    event_name="Lead",
    event_id="0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10",
    event_time_ms=1_700_000_000_000,
    dedup_key="event_id:0b8f7a1e",
    lead_id="L-1001",
    value=50.0,
    currency="EUR",
)
FIELDS = [field.name for field in dataclasses.fields(HitRecord)]

# --- the hit record --------------------------------------------------------------------

INTS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
RECORDS = st.builds(
    HitRecord,
    env=st.text(),
    event=st.dictionaries(st.text(), JSON, max_size=5),
    cookies=st.dictionaries(st.text(), st.text(), max_size=5),
    received_ms=INTS,
    event_name=st.text(),
    event_id=st.text(),
    event_time_ms=INTS,
    dedup_key=st.none() | st.text(),
    lead_id=st.none() | st.text(),
    value=st.none() | FLOATS,
    currency=st.none() | st.text(max_size=3),
)


def test_a_record_is_versioned_json_of_every_field():
    data = orjson.loads(RECORD.encode())
    assert data.pop("v") == 1
    assert data == dataclasses.asdict(RECORD)


def test_a_record_reads_back_equal():
    assert read_record(RECORD.encode()) == RECORD


@given(RECORDS)
def test_any_record_reads_back_equal(record: HitRecord):
    assert read_record(record.encode()) == record


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe", b'{"v": 1,}'])
def test_a_body_that_is_not_json_is_a_record_error(body: bytes):
    with pytest.raises(RecordError, match="not JSON"):
        read_record(body)


@pytest.mark.parametrize("body", [b"[]", b"1", b'"v"', b"null", b"[1]"])
def test_json_that_is_not_an_object_is_a_record_error(body: bytes):
    with pytest.raises(RecordError, match="version None"):
        read_record(body)


@pytest.mark.parametrize("version", [None, 0, 2, "1", [1]])
def test_another_version_is_a_record_error(version: Any):
    data = orjson.loads(RECORD.encode())
    data["v"] = version
    with pytest.raises(RecordError, match="version"):
        read_record(orjson.dumps(data))
    del data["v"]
    with pytest.raises(RecordError, match="version None is not 1"):
        read_record(orjson.dumps(data))


@pytest.mark.parametrize("missing", FIELDS)
def test_a_missing_field_is_a_record_error_naming_it(missing: str):
    data = orjson.loads(RECORD.encode())
    del data[missing]
    with pytest.raises(RecordError, match=f"no '{missing}'"):
        read_record(orjson.dumps(data))


@pytest.mark.parametrize(
    ("name", "bad"),
    [("env", None), ("event", []), ("event", "x"), ("cookies", [["a", "b"]]),
     ("cookies", {"a": 1}), ("received_ms", 1.5), ("received_ms", True), ("event_id", 7),
     ("dedup_key", 1), ("value", "50"), ("value", False), ("currency", 978)],
)  # fmt: skip
def test_a_field_of_another_type_is_a_record_error_naming_it(name: str, bad: Any):
    data = orjson.loads(RECORD.encode())
    data[name] = bad
    with pytest.raises(RecordError, match=f"'{name}'"):
        read_record(orjson.dumps(data))


def test_an_integer_value_reads_back_as_a_float():
    data = orjson.loads(RECORD.encode())
    data["value"] = 50
    value = read_record(orjson.dumps(data)).value
    assert value == 50.0
    assert type(value) is float


def _read_or_record_error(body: bytes) -> HitRecord | None:
    try:
        return read_record(body)
    except RecordError:
        return None


@given(st.binary())
def test_any_bytes_read_as_a_record_or_raise_record_error_only(body: bytes):
    record = _read_or_record_error(body)
    assert record is None or isinstance(record, HitRecord)


@given(JSON)
def test_any_json_reads_as_a_record_or_raises_record_error_only(value: Any):
    record = _read_or_record_error(orjson.dumps(value))
    assert record is None or isinstance(record, HitRecord)


@given(RECORDS, st.sets(st.sampled_from(FIELDS)), st.binary(max_size=8))
def test_a_damaged_record_raises_record_error_only(
    record: HitRecord, removed: set[str], cut: bytes
):
    data = orjson.loads(record.encode())
    for name in removed:
        del data[name]
    body = orjson.dumps(data)
    assert (_read_or_record_error(body) is None) == bool(removed)
    # truncated or with garbage appended, it is never anything but a RecordError
    for damaged in (body[: len(body) // 2], body + cut):
        result = _read_or_record_error(damaged)
        assert result is None or isinstance(result, HitRecord)


@given(RECORDS, st.sampled_from(FIELDS), JSON)
def test_a_record_with_any_field_replaced_reads_well_typed_or_raises_record_error(
    record: HitRecord, name: str, replacement: Any
):
    data = orjson.loads(record.encode())
    data[name] = replacement
    read = _read_or_record_error(orjson.dumps(data))
    if read is None:
        return
    assert isinstance(read.env, str)
    assert isinstance(read.event, dict)
    assert all(type(value) is str for value in read.cookies.values())
    assert type(read.received_ms) is int
    assert type(read.event_time_ms) is int
    assert read.value is None or type(read.value) is float
    for optional in (read.dedup_key, read.lead_id, read.currency):
        assert optional is None or isinstance(optional, str)


# --- the retry schedule ----------------------------------------------------------------

NOW = 1_700_000_000_000


def test_the_retried_kinds_are_the_machine_dependent_ones():
    assert {"deadline", "host", UNSERVED, BUSY} == RETRIED
    assert set(KINDS) - RETRIED == {"syntax", "runtime", "permission", "limit", "budget",
                                    "params"}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(RETRIED))
def test_a_retried_kind_follows_the_schedule_then_dies(kind: str):
    scheduled = [retry_at(kind, failures, NOW) for failures in range(1, 10)]
    delays = [None if at is None else at - NOW for at in scheduled]
    assert delays == [*RETRY_DELAYS_MS, None, None, None]


def test_the_schedule_backs_off():
    assert list(RETRY_DELAYS_MS) == sorted(set(RETRY_DELAYS_MS))
    assert all(delay > 0 for delay in RETRY_DELAYS_MS)


@pytest.mark.parametrize("kind", sorted({*KINDS, "quarantined", "unknown"} - RETRIED))
def test_any_other_kind_is_dead_at_once(kind: str):
    assert [retry_at(kind, failures, NOW) for failures in range(1, 8)] == [None] * 7


@given(st.sampled_from(sorted(RETRIED)), st.integers(1, 50), INTS)
def test_a_retry_is_always_later_or_never(kind: str, failures: int, now_ms: int):
    at = retry_at(kind, failures, now_ms)
    assert (at is None) == (failures > len(RETRY_DELAYS_MS))
    assert at is None or at >= now_ms + RETRY_DELAYS_MS[0]


# --- the RUN row -----------------------------------------------------------------------


def test_a_failed_run_is_a_run_row_carrying_the_hit_record():
    failure = failed_run("shop", "hook", "meta", RECORD, "deadline", "took too long", 42)
    row = failure.row
    assert (failure.kind, failure.error, failure.next_attempt_at) == (
        "deadline", "took too long", 42
    )  # fmt: skip
    assert (row.container_id, row.tag_id, row.platform) == ("shop", "hook", "meta")
    assert (row.destination, row.method, row.url, row.headers) == (
        RUN_DESTINATION, RUN_METHOD, "", b"{}"
    )  # fmt: skip
    assert read_record(row.body) == RECORD
    assert (row.event_name, row.event_id, row.event_time_ms) == (
        RECORD.event_name, RECORD.event_id, RECORD.event_time_ms
    )  # fmt: skip
    assert (row.lead_id, row.value, row.currency) == ("L-1001", 50.0, "EUR")
    # the RUN row takes no dedup key: the rows its re-run queues take the hit's, kept in
    # the record, so the RUN row cannot collide with them
    assert row.dedup_key is None
    assert row.held is False


def test_a_failed_run_without_a_retry_is_dead():
    failure = failed_run("shop", "hook", "meta", RECORD, "budget", "over budget", None)
    assert failure.next_attempt_at is None
    assert failure.kind == "budget"
