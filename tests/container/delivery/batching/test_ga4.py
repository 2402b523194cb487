"""GA4: never batched; the validation endpoint's messages make a row dead."""

from __future__ import annotations

from container.delivery.batching import Answer, Ga4Policy
from fake_platforms import FakePlatforms
from tests.container.delivery.support import GA4_DEBUG, exchange, ga4_request, item, merged
from tests.fake_platforms.payloads import NOW_MS

POLICY = Ga4Policy()


def test_never_batched() -> None:
    assert POLICY.entry(item(ga4_request())).key is None


def test_collect_answers_204_and_the_row_is_sent() -> None:
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    entries, request = merged(POLICY, item(ga4_request()))
    assert POLICY.read(exchange(fakes, request), entries) == [("sent", None)]


def test_validation_messages_make_the_row_dead() -> None:
    fakes = FakePlatforms(clock=lambda: NOW_MS)
    bad = ga4_request(GA4_DEBUG, events=[{"name": "session_start", "params": {}}])
    entries, request = merged(POLICY, item(bad))
    (verdict,) = POLICY.read(exchange(fakes, request), entries)
    assert verdict.outcome == "dead"
    assert verdict.reason.startswith("GA4 validation: ")


def test_an_empty_validation_list_is_sent() -> None:
    entries = [POLICY.entry(item(ga4_request(GA4_DEBUG)))]
    assert POLICY.read(Answer(200, '{"validationMessages": []}'), entries) == [("sent", None)]


def test_max_age_is_72_hours() -> None:
    assert POLICY.max_age_ms == 72 * 3_600_000
