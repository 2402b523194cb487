"""`/mp/collect`: the GA4 Measurement Protocol body, authenticated by the container's named
secret, translated into hits; refusals name the body field, never a 5xx."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import Settings
from container.gtag.lines import RequestRefused
from container.gtag.mp import read_mp
from container.guards import Guards
from tests.container.gtag.gtag_helpers import MP_SECRET, TID, gtag_document, intake, outbox

URL = f"/mp/collect?measurement_id={TID}&api_secret={MP_SECRET}"
H = "0123456789abcdef" * 4
GRANTED = {"ad_user_data": "GRANTED", "ad_personalization": "DENIED", "ad_storage": "GRANTED",
           "analytics_storage": "GRANTED"}  # fmt: skip


def purchase(**overrides: Any) -> dict[str, Any]:
    """A purchase as the Measurement Protocol reference shows one, with the storage consent
    tagwire's strict policy needs."""
    body = {
        "client_id": "1234567890.1712345678",
        "user_id": "customer-4711",
        "timestamp_micros": 1_712_345_678_000_000,
        "consent": GRANTED,
        "user_data": {"sha256_email_address": [H], "sha256_phone_number": [H[::-1]],
                      "address": [{"sha256_first_name": H, "sha256_last_name": H}]},
        "user_properties": {"plan": {"value": "pro"}},
        "events": [{"name": "purchase", "params": {
            "transaction_id": "T-2001", "value": 30.5, "currency": "EUR",
            "session_id": "1712345678", "engagement_time_msec": 100, "coupon": "SPRING",
            "page_location": "https://www.example.com/done?fbclid=IwAR-mp",
            "items": [{"item_id": "SKU_1", "item_name": "Shoe", "price": 30.5, "quantity": 1}]}}],
    }  # fmt: skip
    body.update(overrides)
    return body


def test_a_purchase_is_translated_and_queued(tmp_path) -> None:
    with intake(tmp_path) as client:
        response = client.post(URL, json=purchase())
    assert (response.status_code, response.content) == (204, b"")
    [row] = outbox(tmp_path)
    assert row["event"] == "purchase"
    assert row["data"] == {"transaction_id": "T-2001", "value": 30.5, "currency": "EUR",
                           "contents": [{"id": "SKU_1", "quantity": 1, "item_price": 30.5}],
                           "content_ids": ["SKU_1"]}  # fmt: skip
    assert row["user"] == {"external_id": hashlib.sha256(b"customer-4711").hexdigest(),
                           "em_g": H, "ph": H[::-1], "fn": H, "ln": H}  # fmt: skip
    assert row["click"] == {"fbclid": "IwAR-mp"}
    assert row["custom"] == {"engagement_time_msec": 100, "coupon": "SPRING",
                             "ga_session_id": "1712345678", "ga_user_properties": {"plan": "pro"},
                             "ga_client_id": "1234567890.1712345678"}  # fmt: skip
    assert row["event_id"].startswith("gtag-")


def test_the_same_body_twice_is_sent_once(tmp_path) -> None:
    with intake(tmp_path) as client:
        assert client.post(URL, json=purchase()).status_code == 204
        assert client.post(URL, json=purchase()).status_code == 204
    assert len(outbox(tmp_path)) == 1


def test_protocol_consent_alone_fires_no_tag_needing_storage(tmp_path) -> None:
    consent = {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    with intake(tmp_path) as client:
        assert client.post(URL, json=purchase(consent=consent)).status_code == 204
    assert outbox(tmp_path) == []


def test_non_personalized_ads_denies_ad_personalization() -> None:
    request = read_mp(orjson.dumps(purchase(non_personalized_ads=True)))
    assert request.events[0].wire["consent"]["ad_personalization"] == "denied"


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        (f"/mp/collect?api_secret={MP_SECRET}", 400, "required"),
        (f"/mp/collect?measurement_id={TID}", 400, "required"),
        (f"/mp/collect?measurement_id={TID}&api_secret=wrong", 403, "does not match"),
        (f"/mp/collect?measurement_id=G-NOTHERE1&api_secret={MP_SECRET}", 404, "no container"),
    ],
)
def test_the_api_secret_must_equal_the_containers_named_secret(tmp_path, url, status, reason):
    with intake(tmp_path) as client:
        response = client.post(url, json=purchase())
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["field"] in ("api_secret", "measurement_id")
    assert reason in error["reason"]
    assert outbox(tmp_path) == []


def test_no_secret_named_or_none_configured_takes_nothing(tmp_path) -> None:
    unnamed = gtag_document()
    del unnamed["container"]["gtag"]["mp_api_secret"]
    with intake(tmp_path, docs=[unnamed]) as client:
        response = client.post(URL, json=purchase())
    assert response.status_code == 403
    assert "set gtag.mp_api_secret" in response.json()["errors"][0]["reason"]
    with intake(tmp_path, secrets={}) as client:
        response = client.post(URL, json=purchase())
    assert response.status_code == 403
    assert "not configured on this node" in response.json()["errors"][0]["reason"]


def test_a_bad_event_is_refused_by_index_and_the_others_kept(tmp_path) -> None:
    events = [{"name": "page_view"}, {"name": "purchase", "params": {"value": "30"}},
              {"name": "purchase", "params": {"currency": "XYZ", "value": 1}},
              {"name": "sign_up", "params": {"method": "email"}}]  # fmt: skip
    with intake(tmp_path) as client:
        response = client.post(URL, json=purchase(events=events))
    assert response.status_code == 207
    assert response.json() == {"accepted": [0, 3], "errors": [
        {"index": 1, "field": "events[1].params.value", "reason": "not a number"},
        {"index": 2, "field": "events[2].params.currency",
         "reason": "must be an active ISO 4217 code such as 'EUR'"}]}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{", 400, "body"),
        (b"[]", 400, "body"),
        (orjson.dumps({"events": [{"name": "x"}]}), 400, "client_id"),
        (orjson.dumps(purchase(colour="red")), 400, "colour"),
        (orjson.dumps(purchase(app_instance_id="abc")), 400, "app_instance_id"),
        (orjson.dumps(purchase(consent={"ad_user_data": "yes"})), 400, "consent.ad_user_data"),
        (orjson.dumps(purchase(timestamp_micros="soon")), 400, "timestamp_micros"),
        (orjson.dumps(purchase(user_properties={"plan": "pro"})), 400, "user_properties.plan"),
        (orjson.dumps(purchase(events=[])), 400, "events"),
        (orjson.dumps(purchase(events=[{"name": "x"}] * 26)), 413, "events"),
    ],
)
def test_unusable_bodies_are_refused_naming_the_field(body, status, field) -> None:
    with pytest.raises(RequestRefused) as info:
        read_mp(body)
    assert (info.value.status, info.value.field) == (status, field)


# JSON numbers a sender can write (orjson's integers are 64-bit)
_INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


_JSON = st.recursive(
    st.none() | st.booleans() | _INTEGERS | st.floats() | st.text(max_size=10),
    _nested,
    max_leaves=12,
)
_KEYS = st.sampled_from([
    "client_id", "user_id", "timestamp_micros", "user_properties", "user_data", "consent",
    "non_personalized_ads", "events", "device", "ip_override",
])  # fmt: skip
_EVENTS = st.lists(st.dictionaries(st.sampled_from(["name", "params"]), _JSON), max_size=3)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(_KEYS, _JSON, max_size=6), _EVENTS)
def test_no_malformed_body_gets_a_5xx(tmp_path, body, events) -> None:
    body = {"client_id": "1.2", **body, "events": events or body.get("events")}
    with intake(tmp_path) as client:
        response = client.post(URL, content=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert all(e["field"] and e["reason"] for e in response.json()["errors"])


def test_a_server_sender_is_judged_by_its_secret_not_its_user_agent(tmp_path) -> None:
    """The Measurement Protocol comes from servers: their User-Agent is a library's and
    their address is not the visitor's. With the guards on, a gtag request with such an
    agent is dropped as a bot; the authenticated MP request is kept, and the visitor's
    address is `ip_override`, never the sender's."""
    guards = Guards.from_settings(Settings(), 0)
    library = {"user-agent": "python-requests/2.32.3"}
    doc = gtag_document()
    doc["tags"][0]["params"]["include_client"] = True
    with intake(tmp_path, [doc], guards=guards) as client:
        gtag = f"/g/collect?v=2&tid={TID}&cid=1.2&en=page_view&gcs=G111&dl=https://www.example.com/"
        assert client.get(gtag, headers=library).status_code == 204
        assert outbox(tmp_path) == []  # dropped as a bot
        with_ip = purchase(ip_override="2001:db8::7")
        assert client.post(URL, json=with_ip, headers=library).status_code == 204
        without = purchase(client_id="555.666")  # another visitor, another event id
        assert client.post(URL, json=without, headers=library).status_code == 204
    first, second = outbox(tmp_path)
    assert first["client_ip"] == "2001:db8::7"
    assert second.get("client_ip") in (None, "")  # not the sender's address


@pytest.mark.parametrize("value", ["10.0.0.300", "example.com", 7, ["1.2.3.4"], ""])
def test_a_bad_ip_override_is_refused_naming_it(value) -> None:
    with pytest.raises(RequestRefused) as refused:
        read_mp(orjson.dumps(purchase(ip_override=value)))
    assert (refused.value.status, refused.value.field) == (400, "ip_override")
