"""Google Ads: batching on `conversions`, verdicts per row from partial failures."""

from __future__ import annotations

import orjson
import pytest

from container.delivery.batching import GoogleAdsPolicy
from fake_platforms import FakeAccounts, FakePlatforms
from tests.container.delivery.support import ads_request, exchange, item, merged
from tests.fake_platforms.payloads import NOW_MS, ads_conversion

POLICY = GoogleAdsPolicy()
UNKNOWN_ACTION = "customers/1234567890/conversionActions/111"


@pytest.fixture
def fakes() -> FakePlatforms:
    return FakePlatforms(clock=lambda: NOW_MS)


def upload(i: int, *conversions: dict, **envelope) -> object:
    return item(ads_request(*conversions, **envelope), id=i, platform="google_ads")


def test_validate_only_is_part_of_the_key() -> None:
    live = POLICY.entry(upload(1, ads_conversion()))
    assert live.key == POLICY.entry(upload(2, ads_conversion(orderId="o2"))).key
    assert live.key != POLICY.entry(upload(3, ads_conversion(), validateOnly=True)).key


def test_the_merged_request_is_accepted_by_the_fake(fakes: FakePlatforms) -> None:
    items = [upload(i, ads_conversion(orderId=f"o{i}")) for i in range(3)]
    entries, request = merged(POLICY, *items)
    body = orjson.loads(request.body)
    assert body["partialFailure"] is True
    assert len(body["conversions"]) == 3
    assert POLICY.read(exchange(fakes, request), entries) == [("sent", None)] * 3
    assert [e["event_id"] for e in fakes.events("google_ads")] == ["o0", "o1", "o2"]


def test_a_partial_failure_is_dead_for_its_row_only(fakes: FakePlatforms) -> None:
    items = [
        upload(1, ads_conversion(orderId="o1")),
        # a row with two conversions: it owns indices 1 and 2 of the merged list
        upload(2, ads_conversion(orderId="o2"), ads_conversion(orderId="o3")),
        upload(3, ads_conversion(orderId="o4", conversionAction=UNKNOWN_ACTION)),
    ]
    entries, request = merged(POLICY, *items)
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert [v.outcome for v in verdicts] == ["sent", "sent", "dead"]
    assert verdicts[2].reason.startswith("Google Ads partial failure: ")
    assert [e["event_id"] for e in fakes.events("google_ads")] == ["o1", "o2", "o3"]


def test_a_row_that_does_not_parse_is_dead_and_the_rest_go_again(fakes: FakePlatforms) -> None:
    items = [upload(1, ads_conversion(orderId="o1")),
             upload(2, ads_conversion(orderId="o2", conversionValue="lots"))]  # fmt: skip
    entries, request = merged(POLICY, *items)
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert [v.outcome for v in verdicts] == ["split", "dead"]
    assert verdicts[1].reason.startswith("Google Ads: Invalid value at 'conversions[1]")


@pytest.mark.parametrize(("mode", "outcome"), [("rate_limit", "retry"), ("auth", "dead"),
                                               ("server_error", "retry")])  # fmt: skip
def test_answers_for_the_whole_request(fakes, mode, outcome) -> None:
    fakes.fail_next("google_ads", mode)
    entries, request = merged(POLICY, upload(1, ads_conversion()), upload(2, ads_conversion()))
    assert [v.outcome for v in POLICY.read(exchange(fakes, request), entries)] == [outcome] * 2


def test_a_click_too_recent_waits_for_its_row_only() -> None:
    clicks = {"Cj0-recent": NOW_MS - 3_600_000}
    fakes = FakePlatforms(FakeAccounts(google_ads_clicks=clicks), clock=lambda: NOW_MS)
    items = [upload(1, ads_conversion(orderId="o1", gclid="Cj0-recent")),
             upload(2, ads_conversion(orderId="o2"))]  # fmt: skip
    entries, request = merged(POLICY, *items)
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert [v.outcome for v in verdicts] == ["wait", "sent"]
    assert "TOO_RECENT_EVENT" in verdicts[0].reason
    assert POLICY.wait_ms == (6 * 60 + 15) * 60_000
