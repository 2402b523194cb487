import json

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from fake_platforms import FakePlatforms
from tests.fake_platforms.payloads import (
    BEACON_HEADERS,
    DAY_S,
    EMAIL_HASH,
    NOW_MS,
    NOW_S,
    TIKTOK_HEADERS,
    TIKTOK_URL,
    mutated,
    tiktok_beacon,
    tiktok_body,
    tiktok_event,
)
from tests.helpers import json_values


def post(client, body, headers=TIKTOK_HEADERS):
    return client.post(TIKTOK_URL, headers=headers, json=body)


def refused(response, code):
    """TikTok refuses with HTTP 200 and a non-zero code."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "request_id", "data"}
    return body["message"]


def test_a_valid_batch_is_accepted_and_recorded(client, fakes):
    response = post(client, tiktok_body(tiktok_event(), tiktok_event(event_id="second")))
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["message"], body["data"]) == (0, "OK", {})
    assert body["request_id"]
    records = fakes.events("tiktok")
    assert [(r["event_name"], r["event_id"]) for r in records] == [
        ("SubmitForm", "lead-7f3c2a"),
        ("SubmitForm", "second"),
    ]
    assert records[0]["account"] == "CDEMO1234567890ABCDE"
    assert records[0]["event"] == tiktok_event()


def test_a_test_event_code_goes_to_the_test_view_only(client, fakes):
    assert refused(post(client, tiktok_body(test_event_code="TEST42")), 0) == "OK"
    assert fakes.events("tiktok") == []
    assert [r["test_code"] for r in fakes.events("tiktok", "test")] == ["TEST42"]


def test_a_missing_token_is_code_40105(client, fakes):
    assert refused(post(client, tiktok_body(), headers={}), 40105) == "Access token is missing."
    assert fakes.events("tiktok") == []


def test_a_wrong_token_is_code_40105_and_never_logged(client, fakes):
    message = refused(post(client, tiktok_body(), headers={"Access-Token": "leaked"}), 40105)
    assert message == "Access token is incorrect or has been revoked."
    assert "leaked" not in json.dumps(fakes.requests())
    assert fakes.requests("tiktok")[0]["headers"]["access-token"] == "[redacted]"


def test_an_unknown_pixel_is_code_40001(client):
    message = refused(post(client, tiktok_body(event_source_id="COTHER")), 40001)
    assert message == "No permission to operate pixel code: COTHER."


def test_non_web_sources_take_their_own_set_id(client, fakes):
    assert refused(post(client, tiktok_body(event_source="crm", event_source_id="7001")), 0)
    assert fakes.events("tiktok")[0]["account"] == "7001"


def user(**changes):
    data = tiktok_event()["user"]
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (tiktok_body(event_source="website"), "event_source"),
        (tiktok_body(event_source=["web"]), "event_source"),
        (tiktok_body(event_source_id=""), "event_source_id"),
        (tiktok_body(data=[]), "data"),
        (tiktok_body(data=[tiktok_event()] * 1001), "data"),
        (tiktok_body(test_event_code=""), "test_event_code"),
        (tiktok_body(pixel_code="CDEMO1234567890ABCDE"), "pixel_code"),
        (tiktok_body(tiktok_event(event="")), "data[0].event"),
        (tiktok_body(tiktok_event(event_time=NOW_MS)), "data[0].event_time"),
        (tiktok_body(tiktok_event(event_time=NOW_S - 7 * DAY_S - 1)), "data[0].event_time"),
        (tiktok_body(tiktok_event(event_time=NOW_S + 301)), "data[0].event_time"),
        (tiktok_body(tiktok_event(event_time=str(NOW_S))), "data[0].event_time"),
        (tiktok_body(tiktok_event(event_id=12)), "data[0].event_id"),
        (tiktok_body(tiktok_event(user=user(email="jane.doe@example.com"))), "data[0].user.email"),
        (tiktok_body(tiktok_event(user=user(phone=[EMAIL_HASH.upper()]))), "data[0].user.phone[0]"),
        (tiktok_body(tiktok_event(user=user(external_id=[]))), "data[0].user.external_id"),
        (tiktok_body(tiktok_event(user=user(ip="localhost"))), "data[0].user.ip"),
        (tiktok_body(tiktok_event(user=user(user_agent=5))), "data[0].user.user_agent"),
        (tiktok_body(tiktok_event(user=user(emails=[EMAIL_HASH]))), "data[0].user.emails"),
        (tiktok_body(tiktok_event(properties={"value": "59"})), "data[0].properties.value"),
        (tiktok_body(tiktok_event(properties={"currency": "usd"})), "data[0].properties.currency"),
        (
            tiktok_body(tiktok_event(properties={"content_type": "sku"})),
            "data[0].properties.content_type",
        ),
        (
            tiktok_body(tiktok_event(properties={"contents": [{"quantity": 1.5}]})),
            "data[0].properties.contents[0].quantity",
        ),
        (
            tiktok_body(tiktok_event(properties={"contents": [{"sku": "a"}]})),
            "data[0].properties.contents[0].sku",
        ),
        (tiktok_body(tiktok_event(page={"url": 1})), "data[0].page.url"),
        (tiktok_body(tiktok_event(limited_data_use="yes")), "data[0].limited_data_use"),
        (tiktok_body(tiktok_event(context={})), "data[0].context"),
        (tiktok_body("SubmitForm"), "data[0]"),
        (tiktok_body(tiktok_event(ad=[])), "data[0].ad"),
        (tiktok_body(tiktok_event(user="jane")), "data[0].user"),
        (tiktok_body(tiktok_event(properties=[])), "data[0].properties"),
        (tiktok_body(tiktok_event(page="https://www.example.com/")), "data[0].page"),
        (tiktok_body(tiktok_event(page={"title": "x"})), "data[0].page.title"),
        (tiktok_body(tiktok_event(properties={"order_id": 5})), "data[0].properties.order_id"),
        (tiktok_body(tiktok_event(properties={"contents": {}})), "data[0].properties.contents"),
        (
            tiktok_body(tiktok_event(properties={"contents": ["sku"]})),
            "data[0].properties.contents[0]",
        ),
        (
            tiktok_body(tiktok_event(properties={"contents": [{"content_name": 1}]})),
            "data[0].properties.contents[0].content_name",
        ),
        (
            tiktok_body(tiktok_event(properties={"contents": [{"price": "9"}]})),
            "data[0].properties.contents[0].price",
        ),
    ],
)
def test_rules_refuse_the_whole_batch_with_code_40002(client, fakes, body, where):
    message = refused(post(client, body), 40002)
    assert message.startswith(f"Invalid parameters: {where}: ")
    assert fakes.events("tiktok") == []


def test_one_bad_event_refuses_the_good_ones_too(client, fakes):
    body = tiktok_body(tiktok_event(), tiktok_event(event_time=NOW_MS))
    refused(post(client, body), 40002)
    assert fakes.events("tiktok") == []
    assert fakes.requests("tiktok")[0]["reasons"] == [
        f"data[1].event_time: must be Unix seconds; {NOW_MS} looks like milliseconds or "
        "microseconds"
    ]


@pytest.mark.parametrize(
    "event",
    [
        tiktok_event(user={}),
        tiktok_event(user={"email": [EMAIL_HASH, EMAIL_HASH], "ip": "2001:db8::1"}),
        tiktok_event(
            properties={
                "value": 0.5,
                "currency": "EUR",
                "order_id": "o-1",
                "content_type": "product",
                "custom_flag": True,
            }
        ),
        tiktok_event(limited_data_use=True),
        {"event": "Pageview", "event_time": NOW_S - 7 * DAY_S},
    ],
)
def test_valid_variants_are_accepted(client, event):
    assert refused(post(client, tiktok_body(event)), 0) == "OK"


@pytest.mark.parametrize("content", [b"{", b"[]", b""])
def test_malformed_bodies_are_code_40002(client, content):
    response = client.post(TIKTOK_URL, headers=TIKTOK_HEADERS, content=content)
    assert refused(response, 40002).startswith("Invalid parameters: ")


def test_an_unknown_path_is_404_code_40007(client):
    response = client.post("/tiktok/open_api/v1.2/pixel/track/", headers=TIKTOK_HEADERS)
    assert response.status_code == 404
    assert response.json()["code"] == 40007


def test_a_get_is_not_served(client):
    assert client.get(TIKTOK_URL, headers=TIKTOK_HEADERS).json()["code"] == 40007


FAKES = FakePlatforms(clock=lambda: NOW_MS)
CLIENT = TestClient(FAKES.app)


def assert_tiktok_shape(body):
    response = CLIENT.post(TIKTOK_URL, headers=TIKTOK_HEADERS, content=json.dumps(body))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert isinstance(answer["code"], int)
    assert isinstance(answer["message"], str)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=json_values())
def test_any_json_body_gets_a_tiktok_shaped_answer(body):
    assert_tiktok_shape(body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=mutated(tiktok_body(test_event_code="T1")))
def test_any_mutation_of_a_valid_body_gets_a_tiktok_shaped_answer(body):
    assert_tiktok_shape(body)


# ---- Limited Data Use in the browser pixel's beacon -----------------------------------


def beacon(client, **properties):
    body = tiktok_beacon(properties={"value": 50, "currency": "EUR", **properties})
    return client.post("/tiktok/pixel", headers=BEACON_HEADERS, content=json.dumps(body))


def test_a_pixel_event_with_limited_data_use_is_recorded_with_it(client, fakes):
    response = beacon(client, limited_data_use=True)
    assert response.status_code == 200, response.text
    [record] = fakes.events("tiktok", "browser")
    assert record["event"]["properties"]["limited_data_use"] is True


@pytest.mark.parametrize("flag", ["true", 1, None, {"on": True}])
def test_a_pixel_limited_data_use_that_is_no_boolean_is_refused(client, fakes, flag):
    response = beacon(client, limited_data_use=flag)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 40002
    assert "properties.limited_data_use" in response.json()["message"]
    assert fakes.events("tiktok", "browser") == []
