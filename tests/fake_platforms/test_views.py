import json
import re

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from fake_platforms import FakePlatforms
from tests.fake_platforms.payloads import (
    ADS_HEADERS,
    ADS_URL,
    GA4_DEBUG_URL,
    GA4_URL,
    LINKEDIN_HEADERS,
    LINKEDIN_URL,
    META_AUTH,
    META_URL,
    NOW_MS,
    TIKTOK_HEADERS,
    TIKTOK_URL,
    ads_body,
    ga4_body,
    linkedin_event,
    meta_event,
    tiktok_body,
)

SENDERS = {
    "meta": lambda c: c.post(META_URL, params=META_AUTH, json={"data": [meta_event()]}),
    "tiktok": lambda c: c.post(TIKTOK_URL, headers=TIKTOK_HEADERS, json=tiktok_body()),
    "linkedin": lambda c: c.post(LINKEDIN_URL, headers=LINKEDIN_HEADERS, json=linkedin_event()),
    "google_ads": lambda c: c.post(ADS_URL, headers=ADS_HEADERS, json=ads_body()),
    "ga4": lambda c: c.post(GA4_URL, json=ga4_body()),
}
SUCCESS = {"meta": 200, "tiktok": 200, "linkedin": 201, "google_ads": 200, "ga4": 204}


def test_events_filter_by_platform_view_and_test_code(client):
    client.post(META_URL, params=META_AUTH, json={"data": [meta_event()], "test_event_code": "A"})
    client.post(META_URL, params=META_AUTH, json={"data": [meta_event()], "test_event_code": "B"})
    SENDERS["tiktok"](client)
    assert len(client.get("/_fake/events").json()["events"]) == 1
    assert client.get("/_fake/events", params={"platform": "meta"}).json() == {"events": []}
    test = client.get("/_fake/events", params={"platform": "meta", "view": "test"}).json()
    assert [e["test_code"] for e in test["events"]] == ["A", "B"]
    only_b = client.get("/_fake/events", params={"view": "test", "test_code": "B"}).json()
    [record] = only_b["events"]
    assert set(record) == {
        "platform",
        "view",
        "test_code",
        "received_ms",
        "event_id",
        "event_name",
        "event",
        "account",
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"platform": "snapchat"},
            "unknown platform 'snapchat'; one of meta, tiktok, linkedin, google_ads, ga4",
        ),
        ({"view": "staging"}, "unknown view 'staging'; one of live, test, browser"),
        ({"test_code": "A"}, "test_code applies to view=test only"),
    ],
)
def test_bad_event_queries_are_400(client, params, message):
    response = client.get("/_fake/events", params=params)
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_requests_log_rejected_requests_with_reasons_and_no_secrets(client):
    client.post(META_URL, params={"access_token": "secret-1"}, json={"data": []})
    client.post(TIKTOK_URL, headers={"Access-Token": "secret-2"}, json=tiktok_body())
    client.post(ADS_URL, headers={**ADS_HEADERS, "developer-token": "secret-3"}, json=ads_body())
    client.post(META_URL, json={"data": [meta_event()], "access_token": "secret-4"})
    client.post("/ga4/mp/collect?measurement_id=G-DEMO12345&api_secret=secret-5", json={})
    logged = client.get("/_fake/requests").json()["requests"]
    assert len(logged) == 5
    assert not re.search(r"secret-\d", json.dumps(logged))
    first = logged[0]
    assert (first["platform"], first["method"], first["path"], first["status"]) == (
        "meta",
        "POST",
        META_URL,
        401,
    )
    assert first["response"]["error"]["code"] == 190
    assert first["reasons"] == ["Invalid OAuth access token - Cannot parse access token"]
    assert first["received_ms"] == NOW_MS
    assert logged[3]["body"]["access_token"] == "[redacted]"
    only_ads = client.get("/_fake/requests", params={"platform": "google_ads"}).json()
    assert [r["headers"]["developer-token"] for r in only_ads["requests"]] == ["[redacted]"]
    assert client.get("/_fake/requests", params={"platform": "x"}).status_code == 400


def test_reset_clears_events_requests_and_queued_failures(client, fakes):
    SENDERS["meta"](client)
    client.post("/_fake/fail", json={"platform": "meta", "mode": "server_error", "count": 3})
    assert client.post("/_fake/reset").json() == {"reset": True}
    assert fakes.events("meta") == []
    assert fakes.requests() == []
    assert SENDERS["meta"](client).status_code == 200


FAILURES = {
    ("meta", "server_error"): (500, {"error": {"code": 2, "is_transient": True}}),
    ("meta", "rate_limit"): (400, {"error": {"code": 4, "is_transient": True}}),
    ("meta", "auth"): (401, {"error": {"code": 190, "type": "OAuthException"}}),
    ("tiktok", "server_error"): (200, {"code": 50000}),
    ("tiktok", "rate_limit"): (200, {"code": 40100}),
    ("tiktok", "auth"): (200, {"code": 40105}),
    ("linkedin", "server_error"): (500, {"status": 500, "message": "Internal Server Error"}),
    ("linkedin", "rate_limit"): (429, {"status": 429}),
    ("linkedin", "auth"): (
        401,
        {"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN"},
    ),
    ("google_ads", "server_error"): (500, {"error": {"code": 500, "status": "INTERNAL"}}),
    ("google_ads", "rate_limit"): (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
    ("google_ads", "auth"): (401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
    ("ga4", "server_error"): (500, {"error": {"code": 500, "status": "INTERNAL"}}),
    ("ga4", "rate_limit"): (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
    ("ga4", "auth"): (204, None),
}


def contains(actual, expected):
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            contains(actual.get(k), v) for k, v in expected.items()
        )
    return actual == expected


@pytest.mark.parametrize(("platform", "mode"), list(FAILURES))
def test_injected_failures_use_each_platforms_real_shape(client, fakes, platform, mode):
    status, shape = FAILURES[(platform, mode)]
    queued = client.post("/_fake/fail", json={"platform": platform, "mode": mode, "count": 2})
    assert queued.json() == {"platform": platform, "mode": mode, "count": 2, "pending": 2}
    for _ in range(2):
        response = SENDERS[platform](client)
        assert response.status_code == status
        assert contains(response.json() if shape is not None else None, shape), response.text
    assert fakes.events(platform) == []
    assert fakes.requests(platform)[0]["reasons"][0] == f"injected failure: {mode}"
    assert SENDERS[platform](client).status_code == SUCCESS[platform]
    assert len(fakes.events(platform)) == 1


def test_google_ads_rate_limit_names_a_retry_delay(client):
    client.post("/_fake/fail", json={"platform": "google_ads", "mode": "rate_limit"})
    [detail] = SENDERS["google_ads"](client).json()["error"]["details"]
    [error] = detail["errors"]
    assert error["errorCode"] == {"quotaError": "RESOURCE_EXHAUSTED"}
    assert error["details"]["quotaErrorDetails"]["retryDelay"] == "30s"


def test_ga4_auth_on_debug_answers_no_messages_and_records_nothing(client, fakes):
    fakes.fail_next("ga4", "auth")
    response = client.post(GA4_DEBUG_URL, json=ga4_body())
    assert response.json() == {"validationMessages": []}
    assert fakes.events("ga4", "test") == []


def test_failures_queue_in_order_and_only_for_their_platform(client, fakes):
    fakes.fail_next("meta", "rate_limit")
    fakes.fail_next("meta", "server_error")
    assert SENDERS["tiktok"](client).json()["code"] == 0
    assert [SENDERS["meta"](client).status_code for _ in range(3)] == [400, 500, 200]


def test_unknown_paths_do_not_consume_failures(client, fakes):
    fakes.fail_next("meta", "server_error")
    client.post("/meta/nowhere", params=META_AUTH)
    assert SENDERS["meta"](client).status_code == 500


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "body is not valid JSON: "),
        (b"[]", "body must be an object"),
        (json.dumps({"platform": "bing", "mode": "auth"}).encode(), "unknown platform 'bing'"),
        (json.dumps({"platform": "meta", "mode": "explode"}).encode(), "unknown mode 'explode'"),
        (
            json.dumps({"platform": "meta", "mode": "auth", "count": 0}).encode(),
            "count must be a whole number from 1 to 1000",
        ),
        (
            json.dumps({"platform": "meta", "mode": "auth", "count": "2"}).encode(),
            "count must be a whole number from 1 to 1000",
        ),
        (
            json.dumps({"platform": "meta", "mode": "auth", "count": 1001}).encode(),
            "count must be a whole number from 1 to 1000",
        ),
        (
            json.dumps({"platform": "meta", "mode": "timeout", "hold_seconds": -1}).encode(),
            "hold_seconds must be a number from 0 to 600",
        ),
        (
            json.dumps({"platform": ["meta"], "mode": "auth"}).encode(),
            "platform and mode must be strings",
        ),
    ],
)
def test_bad_fail_orders_are_400(client, content, message):
    response = client.post("/_fake/fail", content=content)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_the_page_escapes_everything_and_loads_nothing(client):
    hostile = '<script>alert("x")</script><img src=https://evil.example/x>'
    client.post(
        META_URL,
        params=META_AUTH,
        json={
            "data": [meta_event(event_name=hostile, event_id="<b>id</b>")],
            "test_event_code": "<i>T</i>",
        },
    )
    SENDERS["tiktok"](client)
    response = client.get("/_fake/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    page = response.text
    assert "<script" not in page
    assert "<img" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;i&gt;T&lt;/i&gt;" in page
    assert not re.search(r"<[^>]*\s(src|href|action)=", page)
    assert "SubmitForm" in page
    assert "0 s" in page
    assert page.count("<h2>") == 5


def test_the_page_shows_ages():
    now = [NOW_MS]
    client = TestClient(FakePlatforms(clock=lambda: now[0]).app)
    SENDERS["meta"](client)
    now[0] += 90_000
    assert "<td>90 s</td>" in client.get("/_fake/").text
    now[0] += 3 * 3600 * 1000
    assert "<td>3 h</td>" in client.get("/_fake/").text


@pytest.mark.parametrize("path", ["/_fake", "/"])
def test_short_paths_lead_to_the_page(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/_fake/"


def test_the_page_names_its_json_urls_where_they_are_served(client):
    page = client.get("/_fake/").text
    assert "<code>/_fake/events</code>" in page
    assert "<code>/_fake/requests</code>" in page


def test_mounted_under_a_prefix_the_page_and_redirects_name_the_prefixed_urls(fakes):
    """The demo serves the fakes under /fake: every URL the page names must answer there."""
    mounted = TestClient(Starlette(routes=[Mount("/fake", app=fakes.app)]))
    page = mounted.get("/fake/_fake/").text
    named = re.findall(r"<code>(/[^<]*)</code>", page)
    assert named == ["/fake/_fake/events", "/fake/_fake/requests"]
    for url in named:
        assert mounted.get(url).status_code == 200, url
    for path in ("/fake/_fake", "/fake/"):
        response = mounted.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/fake/_fake/"
