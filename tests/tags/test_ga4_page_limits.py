"""GA4 drops a page_location over 1000 characters and a page_referrer over 420 (its
collection limits); the ga4 template cuts them to the limit, never inside a UTF-8
sequence, so a long landing URL does not lose the event."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_platforms.ga4_rules import LONGER_PARAM_VALUES
from tags.package import shipped_template
from tags.testing import run_once

PARAMS = {"measurement_id": "G-DEMO12345", "api_secret": "ga4_secret"}
GRANTED = {"analytics_storage": "granted", "ad_storage": "granted",
           "ad_user_data": "granted", "ad_personalization": "granted"}  # fmt: skip


def sent_params(url: str, referrer: str) -> dict:
    wire = {"v": 1, "event": "page_view", "event_id": "evt-ga4-limits-1", "consent": GRANTED,
            "page": {"url": url, "referrer": referrer}}  # fmt: skip
    result = run_once(shipped_template("ga4"), wire, PARAMS, secrets={"ga4_secret": "s"},
                      cookies={"_ga": "GA1.1.1234567890.1763000000"})  # fmt: skip
    [request] = result.requests
    params: dict = orjson.loads(request["body"])["events"][0]["params"]
    return params


@given(
    path=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=700),
    query=st.text("abcdefghij0123456789=&%-_", max_size=400),
)
def test_page_urls_are_cut_to_googles_limits_on_a_character_boundary(path, query) -> None:
    url = f"https://www.example.com/{path}?{query}"
    referrer = f"https://www.example.com/{query}{path}"
    params = sent_params(url, referrer)
    location, sent_referrer = params["page_location"], params["page_referrer"]
    assert len(location.encode()) <= LONGER_PARAM_VALUES["page_location"]
    assert len(sent_referrer.encode()) <= LONGER_PARAM_VALUES["page_referrer"]
    assert url.startswith(location)
    assert referrer.startswith(sent_referrer)
    if len(url.encode()) <= 1000:
        assert location == url  # a URL within the limit is sent whole


@pytest.mark.parametrize("tail", ["é" * 600, "a" + "€" * 400])
def test_a_cut_never_splits_a_character(tail) -> None:
    params = sent_params(f"https://www.example.com/{tail}", "")
    assert params["page_location"].encode("utf-8")  # valid UTF-8 text, whole characters
    assert len(params["page_location"].encode()) in range(998, 1001)
