import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from fake_platforms import FakeAccounts, FakePlatforms
from tests.fake_platforms.payloads import (
    DAY_S,
    EMAIL_HASH,
    META_AUTH,
    META_URL,
    NOW_MS,
    NOW_S,
    meta_event,
    mutated,
)
from tests.helpers import json_values


def post(client, body, params=META_AUTH, **kwargs):
    return client.post(META_URL, params=params, json=body, **kwargs)


def error_of(response):
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_a_valid_event_is_accepted_and_recorded(client, fakes):
    response = post(client, {"data": [meta_event()]})
    assert response.status_code == 200
    body = response.json()
    assert body["events_received"] == 1
    assert body["messages"] == []
    assert isinstance(body["fbtrace_id"], str)
    assert body["fbtrace_id"]
    [record] = fakes.events("meta")
    assert record["event_id"] == "lead-7f3c2a"
    assert record["event_name"] == "Lead"
    assert record["account"] == "1234567890123456"
    assert record["view"] == "live"
    assert record["test_code"] is None
    assert record["received_ms"] == NOW_MS
    assert record["event"] == meta_event()


def test_the_sdk_form_body_is_accepted_with_the_token_redacted(client, fakes):
    form = {"data": json.dumps([meta_event()]), "access_token": "meta-test-token"}
    response = client.post(
        META_URL,
        content=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["events_received"] == 1
    [logged] = fakes.requests("meta")
    assert logged["body"]["access_token"] == "[redacted]"
    assert "meta-test-token" not in json.dumps(fakes.requests())


def test_a_bearer_token_header_is_accepted_too(client):
    response = post(
        client,
        {"data": [meta_event()]},
        params={},
        headers={"Authorization": "Bearer meta-test-token"},
    )
    assert response.status_code == 200


def test_a_test_event_code_goes_to_the_test_view_only(client, fakes):
    assert post(client, {"data": [meta_event()], "test_event_code": "TEST123"}).status_code == 200
    assert fakes.events("meta") == []
    [record] = fakes.events("meta", "test", "TEST123")
    assert record["view"] == "test"
    assert record["test_code"] == "TEST123"
    assert fakes.events("meta", "test", "OTHER") == []


def test_missing_token_is_code_104(client):
    error = error_of(post(client, {"data": [meta_event()]}, params={}))
    assert error["code"] == 104
    assert error["message"] == "An access token is required to request this resource."


def test_wrong_token_is_401_code_190_and_never_logged(client, fakes):
    response = post(client, {"data": [meta_event()]}, params={"access_token": "stolen-secret"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
    assert "stolen-secret" not in json.dumps(fakes.requests())
    assert fakes.requests("meta")[0]["query"]["access_token"] == "[redacted]"


def test_unsupported_version_is_code_2635(client):
    response = client.post(
        "/meta/v19.0/1234567890123456/events", params=META_AUTH, json={"data": [meta_event()]}
    )
    error = error_of(response)
    assert error["code"] == 2635
    assert "v25.0" in error["message"]


def test_unknown_pixel_is_graph_method_exception_33(client):
    response = client.post(
        "/meta/v25.0/999/events", params=META_AUTH, json={"data": [meta_event()]}
    )
    error = error_of(response)
    assert (error["type"], error["code"], error["error_subcode"]) == (
        "GraphMethodException",
        100,
        33,
    )
    assert "Object with ID '999' does not exist" in error["message"]


def test_accounts_decide_pixels_tokens_and_versions():
    accounts = FakeAccounts(meta_pixels={"42"}, meta_access_token="t", meta_versions=["v30.0"])
    client = TestClient(FakePlatforms(accounts, clock=lambda: NOW_MS).app)
    response = client.post(
        "/meta/v30.0/42/events", params={"access_token": "t"}, json={"data": [meta_event()]}
    )
    assert response.status_code == 200
    assert post(client, {"data": [meta_event()]}).status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "(#100) The parameter data is required"),
        ({"data": {"event_name": "Lead"}}, "(#100) param data must be an array."),
        ({"data": []}, "(#100) param data must be a non-empty array."),
        (
            {"data": [meta_event()] * 1001},
            "(#100) param data must be an array of at most 1000 events.",
        ),
        (
            {"data": [meta_event()], "test_event_code": ""},
            "(#100) param test_event_code must be a non-empty string.",
        ),
        (
            {"data": [meta_event()], "test_event_code": 5},
            "(#100) param test_event_code must be a non-empty string.",
        ),
    ],
)
def test_request_level_rules(client, fakes, body, message):
    error = error_of(post(client, body))
    assert error["code"] == 100
    assert error["message"] == message
    assert fakes.events("meta") == []


def test_a_thousand_events_are_accepted(client):
    response = post(client, {"data": [meta_event(event_id=str(i)) for i in range(1000)]})
    assert response.json()["events_received"] == 1000


def test_one_stale_event_rejects_the_whole_request(client, fakes):
    stale = meta_event(event_time=NOW_S - 7 * DAY_S - 1)
    error = error_of(post(client, {"data": [meta_event(), stale]}))
    assert error["error_subcode"] == 2804003
    assert error["error_user_title"] == "Event Timestamp Too Old"
    assert "within 7 days" in error["error_user_msg"]
    assert error["is_transient"] is False
    assert fakes.events("meta") == []
    assert fakes.requests("meta")[0]["reasons"] == ["data[1].event_time: is more than 7 days old"]


def test_an_event_exactly_seven_days_old_is_accepted(client):
    assert post(client, {"data": [meta_event(event_time=NOW_S - 7 * DAY_S)]}).status_code == 200


def test_milliseconds_are_rejected_as_the_wrong_unit(client):
    error = error_of(post(client, {"data": [meta_event(event_time=NOW_MS)]}))
    assert error["error_subcode"] == 2804004
    assert "looks like milliseconds" in error["error_user_msg"]


def test_a_future_event_is_rejected_beyond_five_minutes(client):
    assert post(client, {"data": [meta_event(event_time=NOW_S + 300)]}).status_code == 200
    error = error_of(post(client, {"data": [meta_event(event_time=NOW_S + 301)]}))
    assert error["error_subcode"] == 2804004


def user(**changes):
    data = meta_event()["user_data"]
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("event", "where"),
    [
        (meta_event(event_name=""), "data[0].event_name"),
        ({k: v for k, v in meta_event().items() if k != "event_name"}, "data[0].event_name"),
        (meta_event(event_time="1767225540"), "data[0].event_time"),
        (meta_event(event_time=True), "data[0].event_time"),
        (meta_event(event_id=7), "data[0].event_id"),
        (meta_event(action_source="web"), "data[0].action_source"),
        (meta_event(action_source=["website"]), "data[0].action_source"),
        (
            {k: v for k, v in meta_event().items() if k != "event_source_url"},
            "data[0].event_source_url",
        ),
        (meta_event(event_source_url="www.example.com/x"), "data[0].event_source_url"),
        (meta_event(user_data=user(client_user_agent=None)), "data[0].user_data.client_user_agent"),
        (meta_event(user_data=user(em=[EMAIL_HASH.upper()])), "data[0].user_data.em[0]"),
        (meta_event(user_data=user(em=[EMAIL_HASH[:63]])), "data[0].user_data.em[0]"),
        (meta_event(user_data=user(em=["jane.doe@example.com"])), "data[0].user_data.em[0]"),
        (meta_event(user_data=user(em=[])), "data[0].user_data.em"),
        (meta_event(user_data=user(ph=12345)), "data[0].user_data.ph"),
        (meta_event(user_data=user(external_id=["crm-42"])), "data[0].user_data.external_id[0]"),
        (meta_event(user_data=user(fbc="IwAR2F4")), "data[0].user_data.fbc"),
        (meta_event(user_data=user(fbp="fb.1.17670000.1098115397")), "data[0].user_data.fbp"),
        (
            meta_event(user_data=user(client_ip_address="203.0.113.999")),
            "data[0].user_data.client_ip_address",
        ),
        (meta_event(user_data=user(email=EMAIL_HASH)), "data[0].user_data.email"),
        (meta_event(user_data="jane"), "data[0].user_data"),
        (
            meta_event(custom_data={"value": "59.00", "currency": "USD"}),
            "data[0].custom_data.value",
        ),
        (meta_event(custom_data={"value": 1, "currency": "EURO"}), "data[0].custom_data.currency"),
        (
            meta_event(event_name="Purchase", custom_data={"value": 59}),
            "data[0].custom_data.currency",
        ),
        (
            meta_event(event_name="Purchase", custom_data={"currency": "USD"}),
            "data[0].custom_data.value",
        ),
        (meta_event(custom_data={"content_type": ["product"]}), "data[0].custom_data.content_type"),
        (
            meta_event(custom_data={"contents": [{"id": "a", "quantity": 1.5}]}),
            "data[0].custom_data.contents[0].quantity",
        ),
        (meta_event(custom_data={"content_ids": "sku-1"}), "data[0].custom_data.content_ids"),
        (meta_event(data_processing_options=["CCPA"]), "data[0].data_processing_options"),
        (meta_event(data_processing_options_state=1), "data[0].data_processing_options_state"),
        (meta_event(opt_out="no"), "data[0].opt_out"),
        (meta_event(action_source="app"), "data[0].app_data"),
        (meta_event(event_source="web"), "data[0].event_source"),
        ("Lead", "data[0]"),
        (meta_event(referrer_url="/from"), "data[0].referrer_url"),
        (meta_event(user_data=user(fb_login_id=[1])), "data[0].user_data.fb_login_id"),
        (meta_event(user_data=user(madid="")), "data[0].user_data.madid"),
        (meta_event(custom_data="59 EUR"), "data[0].custom_data"),
        (meta_event(custom_data={"order_id": 1001}), "data[0].custom_data.order_id"),
        (meta_event(custom_data={"num_items": 1.5}), "data[0].custom_data.num_items"),
        (meta_event(custom_data={"predicted_ltv": "high"}), "data[0].custom_data.predicted_ltv"),
        (meta_event(custom_data={"contents": {"id": "a"}}), "data[0].custom_data.contents"),
        (meta_event(custom_data={"contents": ["a"]}), "data[0].custom_data.contents[0]"),
        (
            meta_event(custom_data={"contents": [{"quantity": 1}]}),
            "data[0].custom_data.contents[0].id",
        ),
        (
            meta_event(custom_data={"contents": [{"id": "a", "sku": "a"}]}),
            "data[0].custom_data.contents[0].sku",
        ),
        (
            meta_event(custom_data={"contents": [{"id": "a", "item_price": "9"}]}),
            "data[0].custom_data.contents[0].item_price",
        ),
        (meta_event(data_processing_options_country=2), "data[0].data_processing_options_country"),
    ],
)
def test_event_rules_reject_with_code_100_and_a_subcode(client, fakes, event, where):
    error = error_of(post(client, {"data": [event]}))
    assert error["code"] == 100
    assert error["message"] == "Invalid parameter"
    assert error["error_subcode"] == 2804019
    assert error["error_user_title"] == "Invalid Parameter"
    assert error["error_user_msg"].startswith(f"{where}: ")
    assert fakes.events("meta") == []


def test_an_event_without_customer_information_is_subcode_2804050(client):
    event = meta_event(
        action_source="system_generated",
        user_data={"ct": [EMAIL_HASH], "client_user_agent": "Mozilla/5.0"},
    )
    error = error_of(post(client, {"data": [event]}))
    assert error["error_subcode"] == 2804050
    assert error["error_user_title"] == "Not Enough Customer Information"


@pytest.mark.parametrize(
    "event",
    [
        meta_event(user_data=user(em=EMAIL_HASH)),
        meta_event(custom_data={"value": 10.5, "currency": "eur"}),
        meta_event(
            event_name="Purchase",
            custom_data={
                "value": 59,
                "currency": "USD",
                "contents": [{"id": "sku-1", "quantity": 2, "item_price": 29.5}],
                "content_ids": ["sku-1"],
                "order_id": "ord-1",
                "plan": "pro",
            },
        ),
        meta_event(
            data_processing_options=["LDU"],
            data_processing_options_country=0,
            data_processing_options_state=0,
        ),
        meta_event(data_processing_options=[]),
        meta_event(
            action_source="physical_store", event_source_url=None, user_data={"ph": [EMAIL_HASH]}
        ),
        meta_event(
            user_data={"client_ip_address": "2001:db8::1", "client_user_agent": "Mozilla/5.0"}
        ),
        meta_event(user_data=user(fbc="fb.1.1767225500123.IwAR2F4.AQYBAQIA")),
        meta_event(user_data=user(fb_login_id=123, lead_id="456")),
        meta_event(
            action_source="app", app_data={"advertiser_tracking_enabled": 1}, event_source_url=None
        ),
    ],
)
def test_valid_variants_are_accepted(client, event):
    event = {k: v for k, v in event.items() if v is not None}
    response = post(client, {"data": [event]})
    assert response.status_code == 200, response.text


def test_every_issue_is_in_the_request_log(client, fakes):
    event = meta_event(event_name="", action_source="web")
    post(client, {"data": [event]})
    assert fakes.requests("meta")[0]["reasons"] == [
        "data[0].event_name: is required: a non-empty string",
        "data[0].action_source: is required, one of app, business_messaging, chat, email, other, "
        "phone_call, physical_store, system_generated, website",
    ]


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"{", "application/json", "(#100) The body is not valid JSON: "),
        (b"[1]", "application/json", "(#100) The request body must be a JSON object"),
        (
            b"data=%FF",
            "application/x-www-form-urlencoded",
            "(#100) The form body is not valid UTF-8",
        ),
        (b"data=nope", "application/x-www-form-urlencoded", "(#100) param data must be an array."),
    ],
)
def test_malformed_bodies_answer_code_100(client, content, content_type, message):
    response = client.post(
        META_URL, params=META_AUTH, content=content, headers={"content-type": content_type}
    )
    error = error_of(response)
    assert error["code"] == 100
    assert error["message"].startswith(message)


def test_a_get_is_an_unsupported_request(client):
    error = error_of(client.get(META_URL, params=META_AUTH))
    assert error["message"].startswith("Unsupported get request.")
    assert error["error_subcode"] == 33


def test_an_unknown_path_is_code_2500(client):
    error = error_of(client.post("/meta/v25.0/1234567890123456/purchases", params=META_AUTH))
    assert error["code"] == 2500
    assert error["message"] == "Unknown path components: /v25.0/1234567890123456/purchases"


FAKES = FakePlatforms(clock=lambda: NOW_MS)
CLIENT = TestClient(FAKES.app)


def assert_meta_shape(response):
    assert response.status_code in (200, 400, 401), response.text
    body = response.json()
    if response.status_code == 200:
        assert body["events_received"] >= 1
    else:
        assert isinstance(body["error"]["code"], int)
        assert body["error"]["fbtrace_id"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=json_values())
def test_any_json_body_gets_a_meta_shaped_answer(body):
    response = CLIENT.post(
        META_URL,
        params=META_AUTH,
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert_meta_shape(response)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    body=mutated(
        {
            "data": [
                meta_event(
                    event_name="Purchase",
                    custom_data={"value": 1, "currency": "USD", "contents": [{"id": "a"}]},
                )
            ],
            "test_event_code": "T1",
        }
    )
)
def test_any_mutation_of_a_valid_body_gets_a_meta_shaped_answer(body):
    response = CLIENT.post(
        META_URL,
        params=META_AUTH,
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert_meta_shape(response)


# Meta's parameter builder adds a fifth, appendix part to _fbc and _fbp: two characters
# (a language token) or eight (base64url of six bytes). Both forms pass, unchanged.
@pytest.mark.parametrize(
    ("fbc", "fbp"),
    [
        ("fb.1.1767225500123.IwAR2F4-dbP0l7Mn1Iaw", "fb.1.1767000000000.1098115397"),
        ("fb.1.1767225500123.IwAR2F4-dbP0l7Mn1Iaw.AQ", "fb.1.1767000000000.1098115397.Bg"),
        ("fb.2.1767225500123.IwAR2F4_aem_x.AQIBAAEA", "fb.0.1767000000000.1098115397.AQIBAAEA"),
    ],
)
def test_fbc_and_fbp_with_or_without_an_appendix_are_kept_unchanged(client, fakes, fbc, fbp):
    response = post(client, {"data": [meta_event(user_data=user(fbc=fbc, fbp=fbp))]})
    assert response.status_code == 200, response.text
    [record] = fakes.events("meta")
    assert (record["event"]["user_data"]["fbc"], record["event"]["user_data"]["fbp"]) == (fbc, fbp)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("fbc", "fb.1.1767225500123.IwAR2F4.AQ.Bg"),  # a sixth part
        ("fbc", "fb.1.1767225500123.IwAR2F4.A Q"),
        ("fbp", "fb.1.1767000000000.1098115397.AQ.AQ"),
        ("fbp", "fb.1.1767000000000.not-digits.AQ"),
    ],
)
def test_a_malformed_appendix_is_refused(client, name, value):
    response = post(client, {"data": [meta_event(user_data=user(**{name: value}))]})
    assert response.status_code == 400
    assert f"user_data.{name}" in response.text
