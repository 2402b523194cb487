"""Platform answers whose HTTP status alone would mislead the sender."""

from __future__ import annotations

import orjson
import pytest

from config.storage import OutboxItem
from container.delivery.platform_answers import read_answer
from container.delivery.sender import classify

TIKTOK = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
ADS = "https://googleads.googleapis.com/v26/customers/1234567890:uploadClickConversions"
GA4_DEBUG = "https://www.google-analytics.com/debug/mp/collect?measurement_id=G-1&api_secret=s"
GA4_EU_DEBUG = "https://region1.google-analytics.com/debug/mp/collect?measurement_id=G-1"
GA4 = "https://www.google-analytics.com/mp/collect?measurement_id=G-1&api_secret=s"
META = "https://graph.facebook.com/v25.0/1234567890123456/events"
HOOK = "https://hooks.example.com/in"


def tiktok(code: int, message: str = "x") -> str:
    return orjson.dumps({"code": code, "message": message, "request_id": "r", "data": {}}).decode()


def meta_error(code: int, transient: bool | None = None) -> str:
    error = {"message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "t"}
    if transient is not None:
        error["is_transient"] = transient
    return orjson.dumps({"error": error}).decode()


@pytest.mark.parametrize(
    ("url", "status", "body", "verdict", "reason"),
    [
        (TIKTOK, 200, tiktok(0, "OK"), "sent", None),
        (TIKTOK, 200, tiktok(40002, "Invalid param"), "dead", "TikTok code 40002: Invalid param"),
        (TIKTOK, 200, tiktok(40105, "token"), "dead", "TikTok code 40105: token"),
        (TIKTOK, 200, tiktok(40100, "Too many"), "retry", "TikTok code 40100: Too many"),
        (TIKTOK, 200, tiktok(50000, "System"), "retry", "TikTok code 50000: System"),
        (TIKTOK, 200, "not json", "sent", None),
        (ADS, 200, '{"results": [{"gclid": "g"}], "jobId": "1"}', "sent", None),
        (ADS, 200, '{"results": [{}], "partialFailureError": {"code": 3, "message": "bad gclid"}}',
         "dead", "Google Ads partial failure: bad gclid"),
        (ADS, 429, '{"error": {"code": 429}}', "retry", None),
        (GA4_DEBUG, 200, '{"validationMessages": []}', "sent", None),
        (GA4_DEBUG, 200, '{"validationMessages": [{"description": "NAME_INVALID x"}]}', "dead",
         "GA4 validation: NAME_INVALID x"),
        (GA4_EU_DEBUG, 200, '{"validationMessages": [{"description": "d"}]}', "dead",
         "GA4 validation: d"),
        (GA4, 204, "", "sent", None),
        (META, 400, meta_error(4, transient=True), "retry", "Meta code 4: m"),
        (META, 400, meta_error(17), "retry", "Meta code 17: m"),
        (META, 400, meta_error(100, transient=False), "dead", None),
        (META, 401, meta_error(190), "dead", None),
        (META, 500, meta_error(2, transient=True), "retry", None),
        (HOOK, 200, tiktok(40002), "sent", None),  # only the platform's own origin is read
        (HOOK, 400, meta_error(4, transient=True), "dead", None),
        (TIKTOK, None, "ConnectError", "retry", None),
    ],
)  # fmt: skip
def test_read_answer(url, status, body, verdict, reason) -> None:
    assert read_answer(url, status, body) == (verdict, reason)


def test_a_refused_tiktok_event_is_dead_with_the_platform_reason() -> None:
    item = OutboxItem(1, "tt", "business-api.tiktok.com", "POST", TIKTOK, b"{}", b"{}", 0)
    delivery = classify(item, 200, tiktok(40002, "Invalid param: event_time"), None, 8)
    assert delivery.state == "dead"
    assert delivery.status == 200
    assert delivery.response.startswith("TikTok code 40002: Invalid param: event_time | {")


def test_a_throttled_meta_request_is_retried_not_dead() -> None:
    item = OutboxItem(1, "m", "graph.facebook.com", "POST", META, b"{}", b"{}", 0)
    assert classify(item, 400, meta_error(4, transient=True), None, 8).state == "failed"
