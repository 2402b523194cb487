import json

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from fake_platforms import FakeAccounts, FakePlatforms
from tests.fake_platforms.payloads import (
    EMAIL_HASH,
    GA4_DEBUG_URL,
    GA4_URL,
    NOW_MS,
    ga4_body,
    mutated,
)
from tests.helpers import json_values

HOUR_US = 3600 * 1_000_000


def messages(client, body, url=GA4_DEBUG_URL):
    response = client.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()["validationMessages"]


def test_collect_answers_204_and_records_the_event(client, fakes):
    response = client.post(GA4_URL, json=ga4_body())
    assert response.status_code == 204
    assert response.content == b""
    [record] = fakes.events("ga4")
    assert (record["event_name"], record["event_id"], record["account"]) == (
        "generate_lead",
        "lead-7f3c2a",
        "G-DEMO12345",
    )
    assert record["event"] == ga4_body()["events"][0]
    assert fakes.requests("ga4")[0]["query"]["api_secret"] == "[redacted]"


def test_the_dedup_id_falls_back_to_transaction_id(client, fakes):
    body = ga4_body(
        events=[{"name": "purchase", "params": {"transaction_id": 1001}}, {"name": "page_view"}]
    )
    client.post(GA4_URL, json=body)
    assert [r["event_id"] for r in fakes.events("ga4")] == ["1001", None]


@pytest.mark.parametrize(
    "url",
    [
        "/ga4/mp/collect?measurement_id=G-DEMO12345&api_secret=wrong",
        "/ga4/mp/collect?measurement_id=G-DEMO12345",
        "/ga4/mp/collect?measurement_id=G-OTHER&api_secret=ga4-test-secret",
        "/ga4/mp/collect?api_secret=ga4-test-secret",
    ],
)
def test_collect_drops_silently_without_a_known_pair(client, fakes, url):
    response = client.post(url, json=ga4_body())
    assert response.status_code == 204
    assert fakes.events("ga4") == []
    assert fakes.requests("ga4")[0]["reasons"]


def test_collect_drops_only_the_invalid_event(client, fakes):
    body = ga4_body(events=[{"name": "session_start"}, {"name": "sign_up"}])
    assert client.post(GA4_URL, json=body).status_code == 204
    assert [r["event_name"] for r in fakes.events("ga4")] == ["sign_up"]
    assert fakes.requests("ga4")[0]["reasons"] == [
        "events[0].name: Event at index: [0] has name [session_start] which is reserved. "
        "(NAME_RESERVED)",
        "1 event(s) kept, the rest dropped silently",
    ]


def test_collect_drops_everything_for_a_request_level_problem(client, fakes):
    body = {k: v for k, v in ga4_body().items() if k != "client_id"}
    assert client.post(GA4_URL, json=body).status_code == 204
    assert fakes.events("ga4") == []


def test_debug_reports_nothing_for_a_valid_body_and_records_the_test_view(client, fakes):
    assert messages(client, ga4_body()) == []
    assert fakes.events("ga4") == []
    [record] = fakes.events("ga4", "test", "debug")
    assert record["event_name"] == "generate_lead"


def test_debug_does_not_check_the_api_secret(client):
    assert messages(client, ga4_body(), GA4_DEBUG_URL + "&api_secret=wrong") == []


def test_debug_needs_a_measurement_id(client):
    assert messages(client, ga4_body(), "/ga4/debug/mp/collect") == [
        {
            "fieldPath": "measurement_id",
            "description": "Unable to find non-empty parameter [measurement_id] value in request.",
            "validationCode": "VALUE_REQUIRED",
        }
    ]


def event(name="sign_up", **params):
    return {"name": name, "params": params}


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({k: v for k, v in ga4_body().items() if k != "client_id"}, "client_id", "VALUE_REQUIRED"),
        (ga4_body(client_id=""), "client_id", "VALUE_INVALID"),
        (ga4_body(client_id=123), "client_id", "VALUE_INVALID"),
        (ga4_body(app_instance_id="a" * 32), "app_instance_id", "VALUE_INVALID"),
        (ga4_body(user_id="u" * 257), "user_id", "VALUE_INVALID"),
        (ga4_body(clientId="x"), "clientId", "VALUE_INVALID"),
        (ga4_body(events=[]), "events", "VALUE_REQUIRED"),
        (ga4_body(events=[event()] * 26), "events", "EXCEEDED_MAX_ENTITIES"),
        (ga4_body(timestamp_micros=NOW_MS), "timestamp_micros", "VALUE_OUT_OF_BOUNDS"),
        (
            ga4_body(timestamp_micros=NOW_MS * 1000 - 72 * HOUR_US - 1),
            "timestamp_micros",
            "VALUE_OUT_OF_BOUNDS",
        ),
        (
            ga4_body(timestamp_micros=NOW_MS * 1000 + 301_000_000),
            "timestamp_micros",
            "VALUE_OUT_OF_BOUNDS",
        ),
        (ga4_body(timestamp_micros="1767225600000000"), "timestamp_micros", "VALUE_INVALID"),
        (ga4_body(consent={"ad_user_data": "granted"}), "consent.ad_user_data", "VALUE_INVALID"),
        (ga4_body(consent={"ad_storage": "GRANTED"}), "consent.ad_storage", "VALUE_INVALID"),
        (ga4_body(consent="GRANTED"), "consent", "VALUE_INVALID"),
        (
            ga4_body(user_data={"sha256_email_address": ["jane.doe@example.com"]}),
            "user_data.sha256_email_address",
            "VALUE_INVALID",
        ),
        (
            ga4_body(user_data={"sha256_phone_number": []}),
            "user_data.sha256_phone_number",
            "VALUE_INVALID",
        ),
        (
            ga4_body(user_data={"email_address": "jane.doe@example.com"}),
            "user_data.email_address",
            "VALUE_INVALID",
        ),
        (
            ga4_body(user_data={"address": [{"sha256_first_name": "jane"}]}),
            "user_data.address[0].sha256_first_name",
            "VALUE_INVALID",
        ),
        (
            ga4_body(user_data={"address": [{"city": 5}]}),
            "user_data.address[0].city",
            "VALUE_INVALID",
        ),
        (ga4_body(user_data={"address": ["Menlo Park"]}), "user_data.address[0]", "VALUE_INVALID"),
        (
            ga4_body(user_properties={"1plan": {"value": "pro"}}),
            "user_properties.1plan",
            "NAME_INVALID",
        ),
        (
            ga4_body(user_properties={"first_open_time": {"value": 1}}),
            "user_properties.first_open_time",
            "NAME_RESERVED",
        ),
        (ga4_body(user_properties={"plan": "pro"}), "user_properties.plan", "VALUE_INVALID"),
        (
            ga4_body(user_properties={"plan": {"value": "p" * 37}}),
            "user_properties.plan.value",
            "VALUE_OUT_OF_BOUNDS",
        ),
        (
            ga4_body(user_properties={f"p{i}": {"value": i} for i in range(26)}),
            "user_properties",
            "EXCEEDED_MAX_ENTITIES",
        ),
        (ga4_body(non_personalized_ads="yes"), "non_personalized_ads", "VALUE_INVALID"),
        (ga4_body(events=["sign_up"]), "events[0]", "VALUE_INVALID"),
        (ga4_body(events=[{"params": {}}]), "events[0].name", "VALUE_REQUIRED"),
        (ga4_body(events=[event("_internal")]), "events[0].name", "NAME_INVALID"),
        (ga4_body(events=[event("sign-up")]), "events[0].name", "NAME_INVALID"),
        (ga4_body(events=[event("a" * 41)]), "events[0].name", "NAME_INVALID"),
        (ga4_body(events=[event("first_visit")]), "events[0].name", "NAME_RESERVED"),
        (ga4_body(events=[event("firebase_thing")]), "events[0].name", "NAME_RESERVED"),
        (ga4_body(events=[event("google_x")]), "events[0].name", "NAME_RESERVED"),
        (ga4_body(events=[event("ga_x")]), "events[0].name", "NAME_RESERVED"),
        (ga4_body(events=[{"name": "sign_up", "extra": 1}]), "events[0].extra", "VALUE_INVALID"),
        (ga4_body(events=[{"name": "sign_up", "params": []}]), "events[0].params", "VALUE_INVALID"),
        (
            ga4_body(events=[event(**{f"p{i}": i for i in range(26)})]),
            "events[0].params",
            "EXCEEDED_MAX_ENTITIES",
        ),
        (ga4_body(events=[event(**{"bad-name": 1})]), "events[0].params.bad-name", "NAME_INVALID"),
        (
            ga4_body(events=[event(firebase_conversion=1)]),
            "events[0].params.firebase_conversion",
            "NAME_RESERVED",
        ),
        (ga4_body(events=[event(ga_session="x")]), "events[0].params.ga_session", "NAME_RESERVED"),
        (ga4_body(events=[event(note="n" * 101)]), "events[0].params.note", "VALUE_OUT_OF_BOUNDS"),
        (ga4_body(events=[event(nested={"a": 1})]), "events[0].params.nested", "VALUE_INVALID"),
        (ga4_body(events=[event(items={"id": 1})]), "events[0].params.items", "VALUE_INVALID"),
        (
            ga4_body(events=[event(items=[{"item_id": {"x": 1}}])]),
            "events[0].params.items[0]",
            "VALUE_INVALID",
        ),
        (ga4_body(user_data=["x"]), "user_data", "VALUE_INVALID"),
        (ga4_body(user_properties=["plan"]), "user_properties", "VALUE_INVALID"),
        (
            ga4_body(user_properties={"plan": {"value": ["a"]}}),
            "user_properties.plan.value",
            "VALUE_INVALID",
        ),
        (
            ga4_body(events=[event(items=[{"item_id": "a"}] * 201)]),
            "events[0].params.items",
            "VALUE_INVALID",
        ),
        (
            ga4_body(events=[{"name": "sign_up", "timestamp_micros": NOW_MS}]),
            "events[0].timestamp_micros",
            "VALUE_OUT_OF_BOUNDS",
        ),
    ],
)
def test_debug_reports_each_rule(client, fakes, body, path, code):
    found = messages(client, body)
    assert (path, code) in [(m["fieldPath"], m["validationCode"]) for m in found], found
    assert all(set(m) == {"fieldPath", "description", "validationCode"} for m in found)


def test_milliseconds_get_a_hint(client):
    [message] = messages(client, ga4_body(timestamp_micros=NOW_MS))
    assert message["description"] == (
        "timestamp_micros is more than 72 hours old (it looks like milliseconds or seconds)."
    )


def test_debug_keeps_the_valid_events_of_a_mixed_batch(client, fakes):
    body = ga4_body(events=[event("sign_up"), event("session_start"), event("login")])
    [message] = messages(client, body)
    assert message["validationCode"] == "NAME_RESERVED"
    assert [r["event_name"] for r in fakes.events("ga4", "test")] == ["sign_up", "login"]


@pytest.mark.parametrize(
    "body",
    [
        ga4_body(events=[event(items=[{"item_id": "sku", "price": 9.5, "quantity": 1}])]),
        ga4_body(events=[event(**{f"p{i}": i for i in range(25)})]),
        ga4_body(events=[event("a" * 40)] * 25),
        ga4_body(user_data={"sha256_email_address": EMAIL_HASH}),
        ga4_body(timestamp_micros=NOW_MS * 1000 - 72 * HOUR_US),
        {"client_id": "1.2", "events": [{"name": "page_view"}]},
        {"app_instance_id": "a" * 32, "events": [{"name": "level_up", "params": {"ok": True}}]},
        ga4_body(user_properties={"plan": {"value": None}, "seats": {"value": 3}}),
    ],
)
def test_valid_variants_have_no_messages(client, body):
    assert messages(client, body) == []


def test_a_body_over_130_kb_is_refused(client, fakes):
    body = ga4_body(user_id="u" * 200, events=[event(note="n" * 100)] * 25)
    body["padding"] = "x" * (130 * 1024)
    [message] = messages(client, body)
    assert message["validationCode"] == "VALUE_OUT_OF_BOUNDS"
    assert client.post(GA4_URL, json=body).status_code == 204
    assert fakes.events("ga4") == []


@pytest.mark.parametrize("content", [b"{", b"[1]", b""])
def test_malformed_bodies_are_messages_on_debug_and_silent_on_collect(client, content):
    response = client.post(GA4_DEBUG_URL, content=content)
    [message] = response.json()["validationMessages"]
    assert message["validationCode"] == "VALUE_INVALID"
    assert client.post(GA4_URL, content=content).status_code == 204


def test_streams_come_from_the_accounts(fakes):
    other = FakePlatforms(FakeAccounts(ga4_streams={"G-X": "s"}), clock=lambda: NOW_MS)
    client = TestClient(other.app)
    client.post("/ga4/mp/collect?measurement_id=G-X&api_secret=s", json=ga4_body())
    client.post(GA4_URL, json=ga4_body())
    assert [r["account"] for r in other.events("ga4")] == ["G-X"]


def test_an_unknown_path_is_404(client):
    assert client.post("/ga4/collect").status_code == 404
    assert client.get(GA4_URL).status_code == 404


FAKES = FakePlatforms(clock=lambda: NOW_MS)
CLIENT = TestClient(FAKES.app)


def assert_ga4_shape(body):
    raw = json.dumps(body)
    assert CLIENT.post(GA4_URL, content=raw).status_code == 204
    response = CLIENT.post(GA4_DEBUG_URL, content=raw)
    assert response.status_code == 200, response.text
    found = response.json()["validationMessages"]
    assert all(isinstance(m["validationCode"], str) for m in found)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=json_values())
def test_any_json_body_gets_a_ga4_shaped_answer(body):
    assert_ga4_shape(body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=mutated(ga4_body(events=[event(items=[{"item_id": "a"}]), event("login")])))
def test_any_mutation_of_a_valid_body_gets_a_ga4_shaped_answer(body):
    assert_ga4_shape(body)
