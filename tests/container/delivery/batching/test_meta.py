"""Meta: which rows share a request, the merged request the fake accepts, and verdicts."""

from __future__ import annotations

import orjson
import pytest

from container.delivery.batching import Answer, MetaPolicy
from fake_platforms import FakeAccounts, FakePlatforms
from tests.container.delivery.support import META, exchange, item, merged, meta_request
from tests.fake_platforms.payloads import NOW_MS, NOW_S, meta_event

POLICY = MetaPolicy()


@pytest.fixture
def fakes() -> FakePlatforms:
    return FakePlatforms(clock=lambda: NOW_MS)


def test_rows_with_the_same_pixel_token_and_test_code_share_a_key() -> None:
    a = POLICY.entry(item(meta_request(meta_event(event_id="a"))))
    b = POLICY.entry(item(meta_request(meta_event(event_id="b")), id=2))
    tested = POLICY.entry(item(meta_request(meta_event(), test_event_code="TEST1"), id=3))
    assert a.key is not None
    assert a.key == b.key
    assert tested.key != a.key


def test_a_body_that_is_not_an_event_envelope_is_sent_alone() -> None:
    url, headers, _ = meta_request()
    assert POLICY.entry(item((url, headers, {"data": []}))).key is None
    assert (
        POLICY.entry(item((url.replace("/events", "/other"), headers, {"data": [1]}))).key is None
    )


def test_one_row_is_sent_exactly_as_queued() -> None:
    queued = item(meta_request())
    _, request = merged(POLICY, queued)
    assert request.body == queued.body
    assert request.url == META


def test_the_merged_request_is_accepted_by_the_fake(fakes: FakePlatforms) -> None:
    items = [item(meta_request(meta_event(event_id=f"e{i}")), id=i) for i in range(3)]
    entries, request = merged(POLICY, *items)
    assert orjson.loads(request.body)["access_token"] == "meta-test-token"
    answer = exchange(fakes, request)
    assert answer.status == 200
    assert POLICY.read(answer, entries) == [("sent", None)] * 3
    assert [e["event_id"] for e in fakes.events("meta")] == ["e0", "e1", "e2"]


def test_one_stale_event_refuses_the_whole_batch_so_it_is_split(fakes: FakePlatforms) -> None:
    stale = meta_event(event_id="old", event_time=NOW_S - 8 * 86400)
    items = [item(meta_request(meta_event()), id=1), item(meta_request(stale), id=2)]
    entries, request = merged(POLICY, *items)
    answer = exchange(fakes, request)
    verdicts = POLICY.read(answer, entries)
    assert {v.outcome for v in verdicts} == {"split"}
    assert verdicts[0].reason.startswith("Meta code 100/2804003: The timestamp for this event")
    assert fakes.events("meta") == []


@pytest.mark.parametrize(
    ("mode", "outcome", "reason"),
    [("rate_limit", "retry", "Meta code 4: (#4) Application request limit reached"),
     ("server_error", "retry", None),
     ("auth", "dead", "Meta code 190: Invalid OAuth access token - Cannot parse access token")],
)  # fmt: skip
def test_failures_that_concern_every_event_alike(fakes, mode, outcome, reason) -> None:
    fakes.fail_next("meta", mode)
    entries, request = merged(POLICY, item(meta_request()), item(meta_request(), id=2))
    assert POLICY.read(exchange(fakes, request), entries) == [(outcome, reason)] * 2


def test_an_unknown_pixel_is_dead_not_split() -> None:
    fakes = FakePlatforms(FakeAccounts(meta_pixels={"999"}), clock=lambda: NOW_MS)
    entries, request = merged(POLICY, item(meta_request()), item(meta_request(), id=2))
    assert {v.outcome for v in POLICY.read(exchange(fakes, request), entries)} == {"dead"}


def test_a_transport_error_is_retried() -> None:
    entries = [POLICY.entry(item(meta_request()))]
    assert POLICY.read(Answer(None, "ConnectError: refused"), entries) == [("retry", None)]


def test_limits_and_max_age() -> None:
    assert (POLICY.max_events, POLICY.max_age_ms) == (1000, 7 * 86_400_000)
