"""Which policy a URL gets: the platforms' real API origins, everything else plain HTTP."""

from __future__ import annotations

import pytest

from container.delivery.batching import POLICIES, Answer, HttpPolicy
from tests.container.delivery.support import ADS, GA4, LINKEDIN, META, TIKTOK, item

HOOK = "https://hooks.example.com/in"


@pytest.mark.parametrize(
    ("url", "name"),
    [(META, "meta"), (TIKTOK, "tiktok"), (LINKEDIN, "linkedin"), (ADS, "google_ads"),
     (GA4, "ga4"), ("https://region1.google-analytics.com/mp/collect", "ga4"), (HOOK, "http"),
     ("https://graph.facebook.com.evil.example/v25.0/1/events", "http")],
)  # fmt: skip
def test_policy_by_origin(url, name) -> None:
    assert POLICIES(url).name == name


def test_webhooks_are_never_batched_and_read_by_status() -> None:
    policy = HttpPolicy()
    entries = [policy.entry(item((HOOK, {}, {"data": [1]})))]
    assert entries[0].key is None
    assert policy.max_age_ms is None
    assert policy.read(Answer(200, '{"code": 40002}'), entries) == [("sent", None)]
    assert policy.read(Answer(400, '{"error": {"is_transient": true}}'), entries) == [
        ("dead", None)
    ]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "sent"), (204, "sent"), (None, "retry"), (408, "retry"), (429, "retry"),
     (500, "retry"), (503, "retry"), (301, "dead"), (400, "dead"), (401, "dead"), (404, "dead")],
)  # fmt: skip
def test_http_outcomes(status, outcome) -> None:
    policy = HttpPolicy()
    entries = [policy.entry(item((HOOK, {}, {})))]
    assert policy.read(Answer(status, ""), entries)[0].outcome == outcome
