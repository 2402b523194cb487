import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from fake_platforms import FakeAccounts, FakePlatforms, pixel_script_urls
from fake_platforms.beacon import MAX_BEACON
from fake_platforms.pixels import SCRIPT_FILES, script
from tests.fake_platforms.payloads import (
    BEACON_HEADERS,
    EMAIL_HASH,
    META_AUTH,
    META_URL,
    NOW_MS,
    ads_beacon,
    ga4_beacon,
    linkedin_beacon,
    meta_beacon,
    meta_event,
    mutated,
    tiktok_beacon,
)
from tests.helpers import json_values

BEACONS = {
    "meta": ("/meta/tr", meta_beacon),
    "tiktok": ("/tiktok/pixel", tiktok_beacon),
    "linkedin": ("/linkedin/collect", linkedin_beacon),
    "google_ads": ("/gtag/pagead/conversion", ads_beacon),
    "ga4": ("/gtag/g/collect", ga4_beacon),
}
ACCEPTED = {
    "meta": (200, None),
    "tiktok": (200, {"code": 0, "message": "OK"}),
    "linkedin": (204, None),
    "google_ads": (204, None),
    "ga4": (204, None),
}
RECORDED = {
    "meta": ("lead-7f3c2a", "Lead", "1234567890123456"),
    "tiktok": ("lead-7f3c2a", "SubmitForm", "CDEMO1234567890ABCDE"),
    "linkedin": ("lead-7f3c2a", "urn:lla:llaPartnerConversion:23456789", "1234567"),
    "google_ads": ("lead-7f3c2a", "conversion", "AW-123456789"),
    "ga4": ("lead-7f3c2a", "generate_lead", "G-DEMO12345"),
}


def send(client, platform, body=None, headers=BEACON_HEADERS, **overrides):
    path, build = BEACONS[platform]
    payload = build(**overrides) if body is None else body
    return client.post(path, headers=headers, content=json.dumps(payload))


def message(platform, response):
    """The error message of a rejected beacon, whatever the vendor's shape."""
    answer = response.json()
    if platform in ("meta", "google_ads", "ga4"):
        return answer["error"]["message"]
    return answer["message"]


# ---- the libraries -------------------------------------------------------------------


def test_script_urls_cover_every_setting():
    assert pixel_script_urls("http://127.0.0.1:9/fake/") == {
        "meta_pixel_script_url": "http://127.0.0.1:9/fake/meta/fbevents.js",
        "tiktok_pixel_script_url": "http://127.0.0.1:9/fake/tiktok/events.js",
        "linkedin_pixel_script_url": "http://127.0.0.1:9/fake/linkedin/insight.min.js",
        "gtag_script_url": "http://127.0.0.1:9/fake/gtag/js",
    }


@pytest.mark.parametrize("path", list(SCRIPT_FILES))
def test_each_library_is_served_as_uncached_javascript(client, fakes, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == script(SCRIPT_FILES[path])
    assert "test stand-in" in response.text
    assert client.head(path).status_code == 200
    assert fakes.requests() == []


FORBIDDEN = (
    r"\beval\s*\(",
    r"new\s+Function",
    r"document\.write",
    r"innerHTML|outerHTML|insertAdjacentHTML",
    r"setTimeout\s*\(\s*['\"]",
    r"createElement",
    r"\.src\s*=",
    r"setAttribute\s*\(\s*['\"]on",
    r"document\.cookie|localStorage|sessionStorage",
    r"https?://",
)


@pytest.mark.parametrize("name", list(SCRIPT_FILES.values()))
def test_libraries_use_no_sink_storage_or_other_origin(name):
    source = script(name)
    for pattern in FORBIDDEN:
        assert not re.search(pattern, source), f"{name}: {pattern}"
    assert "document.currentScript" in source
    assert "credentials: 'omit'" in source
    assert "keepalive: true" in source


def test_other_methods_and_paths_get_the_platforms_not_found_answers(client, fakes):
    assert client.post("/meta/fbevents.js").json()["error"]["code"] == 2500
    assert client.get("/meta/tr").json()["error"]["code"] == 2500
    assert client.get("/tiktok/pixel").json()["code"] == 40007
    assert client.get("/linkedin/collect").status_code == 404
    response = client.get("/gtag/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"
    assert client.get("/gtag/g/collect").status_code == 404
    assert [r["platform"] for r in fakes.requests()] == [
        "meta",
        "meta",
        "tiktok",
        "linkedin",
        "google_ads",
        "ga4",
    ]
    assert fakes.events(view="browser") == []


def test_libraries_and_beacons_work_under_a_mount_prefix(fakes):
    client = TestClient(Starlette(routes=[Mount("/fake", app=fakes.app)]))
    assert client.get("/fake/gtag/js").text == script("gtag.js")
    response = client.post("/fake/meta/tr", headers=BEACON_HEADERS, json=meta_beacon())
    assert response.status_code == 200
    [logged] = fakes.requests("meta")
    assert logged["path"] == "/fake/meta/tr"


# ---- beacons that pass -----------------------------------------------------------------


@pytest.mark.parametrize("platform", list(BEACONS))
def test_a_good_beacon_is_recorded_in_the_browser_view(client, fakes, platform):
    response = send(client, platform)
    status, body = ACCEPTED[platform]
    assert response.status_code == status, response.text
    if body is None:
        assert response.content == b""
    else:
        assert response.json().items() >= body.items()
    [record] = fakes.events(platform, view="browser")
    assert (record["event_id"], record["event_name"], record["account"]) == RECORDED[platform]
    assert record["view"] == "browser"
    assert record["test_code"] is None
    assert record["received_ms"] == NOW_MS
    assert record["event"] == BEACONS[platform][1]()
    assert fakes.events(platform) == []
    assert fakes.events(platform, view="test") == []
    [logged] = fakes.requests(platform)
    assert (logged["status"], logged["reasons"]) == (status, [])


@pytest.mark.parametrize(
    ("platform", "changes", "expected"),
    [
        ("meta", {"eid": None}, (None, "Lead", "1234567890123456")),
        ("meta", {"cd": None, "ud": None, "dpo": None, "dpoco": None, "dpost": None}, None),
        ("tiktok", {"event_id": None, "properties": None}, (None, "SubmitForm", None)),
        ("linkedin", {"conversionId": None, "eventId": None}, (None, "page_view", "1234567")),
        ("google_ads", {"transaction_id": None, "value": None, "currency": None}, None),
        ("ga4", {"ep": {"transaction_id": "T-9"}}, ("T-9", "generate_lead", "G-DEMO12345")),
        ("ga4", {"ep": None}, (None, "generate_lead", "G-DEMO12345")),
    ],
)
def test_optional_fields_may_be_left_out(client, fakes, platform, changes, expected):
    body = BEACONS[platform][1]()
    for name, value in changes.items():
        if value is None:
            del body[name]
        else:
            body[name] = value
    assert send(client, platform, body).status_code < 300
    [record] = fakes.events(platform, view="browser")
    if expected is not None:
        assert record["event_id"] == expected[0]
        assert record["event_name"] == expected[1]


def test_json_content_type_and_lower_case_meta_currency_pass(client, fakes):
    headers = {"content-type": "application/json"}
    assert send(client, "meta", headers=headers, cd={"currency": "eur"}).status_code == 200
    assert len(fakes.events("meta", view="browser")) == 1


def test_queued_failures_are_left_for_the_server_apis(client, fakes):
    fakes.fail_next("meta", "server_error")
    assert send(client, "meta").status_code == 200
    assert fakes.recorder.pending_failures("meta") == 1
    response = client.post(META_URL, params=META_AUTH, json={"data": [meta_event()]})
    assert response.status_code == 500


# ---- beacons that fail -----------------------------------------------------------------


BAD = [
    ("meta", {"id": 1234567890123456}, "id"),
    ("meta", {"id": "px-1"}, "id"),
    ("meta", {"ev": ""}, "ev"),
    ("meta", {"ev": "x" * 51}, "ev"),
    ("meta", {"eid": 7}, "eid"),
    ("meta", {"cd": {"value": "50"}}, "cd.value"),
    ("meta", {"cd": {"currency": "EURO"}}, "cd.currency"),
    ("meta", {"cd": []}, "cd"),
    ("meta", {"ud": {"em": "jane@example.com"}}, "ud.em"),
    ("meta", {"ud": {"em": [EMAIL_HASH]}}, "ud.em"),
    ("meta", {"ud": {"email": EMAIL_HASH}}, "ud.email"),
    ("meta", {"dl": None}, "dl"),
    ("meta", {"ts": NOW_MS // 1000}, "ts"),
    ("meta", {"ts": "1767225600000"}, "ts"),
    ("meta", {"ec": -1}, "ec"),
    ("meta", {"dpo": "LDU"}, "dpo"),
    ("meta", {"dpoco": "0"}, "dpoco"),
    ("meta", {"extra": 1}, "extra"),
    ("tiktok", {"event": None}, "event"),
    ("tiktok", {"event_id": ""}, "event_id"),
    ("tiktok", {"message_id": 5}, "message_id"),
    ("tiktok", {"timestamp": "2025-12-31 23:59:59"}, "timestamp"),
    ("tiktok", {"timestamp": 1767225600}, "timestamp"),
    ("tiktok", {"context": None}, "context"),
    ("tiktok", {"context": {"page": {"url": "u", "referrer": ""}}}, "context.pixel"),
    ("tiktok", {"properties": {"value": "50"}}, "properties.value"),
    ("tiktok", {"properties": {"currency": "eur"}}, "properties.currency"),
    ("tiktok", {"pixel_code": "C1"}, "pixel_code"),
    ("linkedin", {"pid": 1234567}, "pid"),
    ("linkedin", {"conversionId": "23456789"}, "conversionId"),
    ("linkedin", {"conversionId": 0}, "conversionId"),
    ("linkedin", {"conversionId": True}, "conversionId"),
    ("linkedin", {"eventId": 9}, "eventId"),
    ("linkedin", {"fmt": "img"}, "fmt"),
    ("linkedin", {"url": 1}, "url"),
    ("linkedin", {"time": None}, "time"),
    ("linkedin", {"email": EMAIL_HASH}, "email"),
    ("google_ads", {"send_to": "AW-123456789"}, "send_to"),
    ("google_ads", {"send_to": "G-DEMO12345"}, "send_to"),
    ("google_ads", {"en": ""}, "en"),
    ("google_ads", {"transaction_id": "x" * 65}, "transaction_id"),
    ("google_ads", {"transaction_id": 17}, "transaction_id"),
    ("google_ads", {"value": "50"}, "value"),
    ("google_ads", {"currency": "eur"}, "currency"),
    ("google_ads", {"gcs": "G100x"}, "gcs"),
    ("google_ads", {"npa": True}, "npa"),
    ("google_ads", {"user_data": {"email": "jane@example.com"}}, "user_data.email"),
    ("google_ads", {"user_data": {"sha256_email_address": "JANE"}}, "user_data"),
    ("google_ads", {"ts": 1.5e12}, "ts"),
    ("ga4", {"v": 1}, "v"),
    ("ga4", {"tid": "UA-1"}, "tid"),
    ("ga4", {"en": "generate lead"}, "en"),
    ("ga4", {"en": "session_start"}, "en"),
    ("ga4", {"cid": ""}, "cid"),
    ("ga4", {"ep": {"bad name": 1}}, "ep.bad name"),
    ("ga4", {"ep": {"google_x": 1}}, "ep.google_x"),
    ("ga4", {"ep": {"note": "x" * 101}}, "ep.note"),
    ("ga4", {"ep": {"obj": {"a": 1}}}, "ep.obj"),
    ("ga4", {"ep": {"items": [1]}}, "ep.items"),
    ("ga4", {"ep": {f"p{i}": i for i in range(26)}}, "ep"),
    ("ga4", {"gcs": None}, "gcs"),
    ("ga4", {"dl": ""}, "dl"),
]


@pytest.mark.parametrize(("platform", "changes", "field"), BAD)
def test_a_bad_field_is_400_naming_the_field(client, fakes, platform, changes, field):
    response = send(client, platform, **changes)
    assert response.status_code == 400, response.text
    assert re.search(rf"(^|\W){re.escape(field)}\b", message(platform, response)), response.text
    assert fakes.events(view="browser") == []
    [logged] = fakes.requests(platform)
    assert logged["status"] == 400
    assert any(reason.startswith(field) for reason in logged["reasons"]), logged["reasons"]


def test_every_problem_is_logged_but_the_first_one_answers(client, fakes):
    response = send(client, "meta", ev="", eid=7, ts=1)
    assert message("meta", response) == "(#100) ev: must be a non-empty string"
    [logged] = fakes.requests("meta")
    assert [reason.split(":")[0] for reason in logged["reasons"]] == ["ev", "eid", "ts"]


UNKNOWN = [
    ("meta", {"id": "999"}, 400, "Object with ID '999' does not exist"),
    ("tiktok", {"context": {"pixel": {"code": "COTHER"}, "page": {"url": "u", "referrer": ""}}},
     403, "No permission to operate pixel code: COTHER."),
    ("linkedin", {"pid": "7654321"}, 403, "Unknown partner id 7654321"),
    ("linkedin", {"conversionId": 99}, 403, "No conversion 99 for partner id 1234567"),
    ("google_ads", {"send_to": "AW-1/DemoLeadLabel"}, 403, "Google tag AW-1 is not known."),
    ("google_ads", {"send_to": "AW-123456789/Other"}, 403,
     "Conversion label Other is not a conversion of AW-123456789."),
    ("ga4", {"tid": "G-OTHER"}, 403, "Measurement id G-OTHER is not known."),
]  # fmt: skip


@pytest.mark.parametrize(("platform", "changes", "status", "text"), UNKNOWN)
def test_unknown_ids_are_refused(client, fakes, platform, changes, status, text):
    response = send(client, platform, **changes)
    assert response.status_code == status
    assert text in message(platform, response)
    assert fakes.events(view="browser") == []
    assert fakes.requests(platform)[0]["reasons"] == [
        message(platform, response).removeprefix("(#100) ")
    ]


def test_refusals_use_each_vendors_shape(client):
    assert send(client, "tiktok", event="").json()["code"] == 40002
    assert send(client, "tiktok", **UNKNOWN[1][1]).json()["code"] == 40001
    assert send(client, "linkedin", pid="1").json() == {
        "message": "Unknown partner id 1",
        "status": 403,
    }
    assert send(client, "ga4", v=3).json()["error"]["status"] == "INVALID_ARGUMENT"
    assert send(client, "ga4", tid="G-X").json()["error"]["status"] == "PERMISSION_DENIED"
    meta = send(client, "meta", id="1").json()["error"]
    assert (meta["code"], meta["type"]) == (100, "OAuthException")


def test_accounts_decide_which_ids_pass():
    accounts = FakeAccounts(
        meta_pixels={"42"},
        linkedin_partners={"77"},
        google_ads_tags={"AW-5": ["L1", "L2"]},
        ga4_streams={"G-X": "secret"},
    )
    client = TestClient(FakePlatforms(accounts, clock=lambda: NOW_MS).app)
    assert send(client, "meta", id="42").status_code == 200
    assert send(client, "meta").status_code == 400
    assert send(client, "linkedin", pid="77", conversionId=12345678).status_code == 204
    assert send(client, "google_ads", send_to="AW-5/L2").status_code == 204
    assert send(client, "google_ads").status_code == 403
    assert send(client, "ga4", tid="G-X").status_code == 204


@pytest.mark.parametrize("platform", list(BEACONS))
@pytest.mark.parametrize(
    ("headers", "content", "text"),
    [
        ({"content-type": "application/x-www-form-urlencoded"}, b"id=1", "content-type"),
        ({}, b"{}", "content-type"),
        (BEACON_HEADERS, b"{", "body is not valid JSON"),
        (BEACON_HEADERS, b"[]", "body must be a JSON object, got array"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(client, platform, headers, content, text):
    response = client.post(BEACONS[platform][0], headers=headers, content=content)
    assert response.status_code == 400
    assert text in message(platform, response)


@pytest.mark.parametrize("platform", list(BEACONS))
def test_bodies_over_64_kib_are_413(client, fakes, platform):
    body = BEACONS[platform][1]()
    body["padding"] = "x" * MAX_BEACON
    response = send(client, platform, body)
    assert response.status_code == 413
    assert str(MAX_BEACON) in message(platform, response)
    assert fakes.events(view="browser") == []


# ---- queries and the page ------------------------------------------------------------


def test_browser_events_are_queried_like_the_other_views(client, fakes):
    for platform in BEACONS:
        send(client, platform)
    client.post(META_URL, params=META_AUTH, json={"data": [meta_event()]})
    everything = client.get("/_fake/events", params={"view": "browser"}).json()["events"]
    assert [e["platform"] for e in everything] == list(BEACONS)
    meta = client.get("/_fake/events", params={"view": "browser", "platform": "meta"}).json()
    assert meta == {"events": fakes.events("meta", view="browser")}
    [live] = fakes.events("meta")
    assert live["event_id"] == meta["events"][0]["event_id"]
    bad = client.get("/_fake/events", params={"view": "browser", "test_code": "A"})
    assert bad.status_code == 400
    assert client.post("/_fake/reset").status_code == 200
    assert fakes.events(view="browser") == []


def test_the_page_lists_browser_events_escaped(client):
    send(client, "meta", ev="<script>x</script>", eid='"><img src=x>')
    page = client.get("/_fake/").text
    assert "Browser events (1)" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x&gt;" in page
    assert "<img" not in page
    assert "<script" not in page


# ---- fuzzing --------------------------------------------------------------------------

FUZZ = TestClient(FakePlatforms(clock=lambda: NOW_MS).app)


def assert_answered(platform, body):
    response = send(FUZZ, platform, body)
    assert response.status_code in (200, 204, 400, 403, 413), response.text
    if response.status_code >= 400:
        assert message(platform, response)


@pytest.mark.parametrize("platform", list(BEACONS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=json_values())
def test_any_json_body_gets_an_answer(platform, body):
    assert_answered(platform, body)


@pytest.mark.parametrize("platform", list(BEACONS))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_any_mutation_of_a_good_beacon_gets_an_answer(platform, data):
    assert_answered(platform, data.draw(mutated(BEACONS[platform][1]())))
