"""TikTok: batching on `data`, and its verdicts inside HTTP 200 answers."""

from __future__ import annotations

import pytest

from container.delivery.batching import Answer, TikTokPolicy
from fake_platforms import FakePlatforms
from tests.container.delivery.support import exchange, item, merged, tiktok_request
from tests.fake_platforms.payloads import NOW_MS, NOW_S, tiktok_event

POLICY = TikTokPolicy()


@pytest.fixture
def fakes() -> FakePlatforms:
    return FakePlatforms(clock=lambda: NOW_MS)


def test_the_token_and_the_test_code_are_part_of_the_key() -> None:
    url, headers, body = tiktok_request()
    plain = POLICY.entry(item((url, headers, body)))
    other_token = POLICY.entry(item((url, {**headers, "Access-Token": "x"}, body)))
    tested = POLICY.entry(item(tiktok_request(test_event_code="TEST1")))
    assert plain.key == POLICY.entry(item(tiktok_request(), id=2)).key
    assert len({plain.key, other_token.key, tested.key}) == 3


def test_the_merged_request_is_accepted_by_the_fake(fakes: FakePlatforms) -> None:
    items = [item(tiktok_request(tiktok_event(event_id=f"e{i}")), id=i) for i in range(4)]
    entries, request = merged(POLICY, *items)
    answer = exchange(fakes, request)
    assert POLICY.read(answer, entries) == [("sent", None)] * 4
    assert [e["event_id"] for e in fakes.events("tiktok")] == ["e0", "e1", "e2", "e3"]


def test_one_bad_event_refuses_the_batch_so_it_is_split(fakes: FakePlatforms) -> None:
    bad = tiktok_event(event_time=NOW_S + 86400)
    entries, request = merged(POLICY, item(tiktok_request()), item(tiktok_request(bad), id=2))
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert {v.outcome for v in verdicts} == {"split"}
    assert verdicts[0].reason.startswith("TikTok code 40002: Invalid parameters: data[1].")


@pytest.mark.parametrize(
    ("mode", "outcome", "code"),
    [("rate_limit", "retry", 40100), ("server_error", "retry", 50000), ("auth", "dead", 40105)],
)
def test_answers_for_the_whole_request(fakes, mode, outcome, code) -> None:
    fakes.fail_next("tiktok", mode)
    entries, request = merged(POLICY, item(tiktok_request()), item(tiktok_request(), id=2))
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert [v.outcome for v in verdicts] == [outcome] * 2
    assert verdicts[0].reason.startswith(f"TikTok code {code}: ")


def test_a_body_that_is_not_json_counts_as_sent() -> None:
    entries = [POLICY.entry(item(tiktok_request()))]
    assert POLICY.read(Answer(200, "not json"), entries) == [("sent", None)]


def test_the_legacy_pixel_endpoint_is_not_batched() -> None:
    _, headers, body = tiktok_request()
    legacy = "https://business-api.tiktok.com/open_api/v1.3/pixel/track/"
    assert POLICY.entry(item((legacy, headers, body))).key is None
