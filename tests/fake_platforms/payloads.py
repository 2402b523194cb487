"""Valid requests for each fake platform at a fixed clock; tests break one rule at a time."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from hypothesis import strategies as st

from tests.helpers import json_values

NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW_S = NOW_MS // 1000
DAY_S = 86400
EMAIL_HASH = hashlib.sha256(b"jane.doe@example.com").hexdigest()
PHONE_HASH = hashlib.sha256(b"+16505551234").hexdigest()

META_URL = "/meta/v25.0/1234567890123456/events"
META_AUTH = {"access_token": "meta-test-token"}
TIKTOK_URL = "/tiktok/open_api/v1.3/event/track/"
TIKTOK_HEADERS = {"Access-Token": "tiktok-test-token"}
LINKEDIN_URL = "/linkedin/rest/conversionEvents"
LINKEDIN_HEADERS = {
    "Authorization": "Bearer linkedin-test-token",
    "LinkedIn-Version": "202601",
    "X-Restli-Protocol-Version": "2.0.0",
}
RULE = "urn:lla:llaPartnerConversion:12345678"
ADS_URL = "/google-ads/v26/customers/1234567890:uploadClickConversions"
ADS_HEADERS = {"Authorization": "Bearer ads-oauth-token", "developer-token": "ads-dev-token"}
ACTION = "customers/1234567890/conversionActions/987654321"
GA4_URL = "/ga4/mp/collect?measurement_id=G-DEMO12345&api_secret=ga4-test-secret"
GA4_DEBUG_URL = "/ga4/debug/mp/collect?measurement_id=G-DEMO12345"


def meta_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Lead",
        "event_time": NOW_S - 60,
        "event_id": "lead-7f3c2a",
        "action_source": "website",
        "event_source_url": "https://www.example.com/contact",
        "user_data": {
            "em": [EMAIL_HASH],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "fbc": "fb.1.1767225500123.IwAR2F4-dbP0l7Mn1Iaw",
            "fbp": "fb.1.1767000000000.1098115397",
        },
        "custom_data": {"value": 0, "currency": "EUR"},
    }
    event.update(overrides)
    return event


def tiktok_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "SubmitForm",
        "event_time": NOW_S - 60,
        "event_id": "lead-7f3c2a",
        "user": {
            "email": EMAIL_HASH,
            "phone": [PHONE_HASH],
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0",
            "ttclid": "E.C.P.abc",
        },
        "properties": {
            "value": 59,
            "currency": "USD",
            "contents": [{"content_id": "sku-1", "price": 59.0, "quantity": 1}],
        },
        "page": {"url": "https://www.example.com/thanks"},
        "limited_data_use": False,
    }
    event.update(overrides)
    return event


def tiktok_body(*events: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_source": "web",
        "event_source_id": "CDEMO1234567890ABCDE",
        "data": list(events) or [tiktok_event()],
    }
    body.update(overrides)
    return body


def linkedin_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "conversion": RULE,
        "conversionHappenedAt": NOW_MS - 60_000,
        "conversionValue": {"currencyCode": "USD", "amount": "59.00"},
        "eventId": "lead-7f3c2a",
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}]},
    }
    event.update(overrides)
    return event


def ads_conversion(**overrides: Any) -> dict[str, Any]:
    conversion: dict[str, Any] = {
        "gclid": "Cj0KCQiA",
        "conversionAction": ACTION,
        "conversionDateTime": "2025-12-31 23:00:00+00:00",
        "conversionValue": 59.0,
        "currencyCode": "USD",
        "orderId": "ord-1001",
        "userIdentifiers": [{"hashedEmail": EMAIL_HASH}, {"hashedPhoneNumber": PHONE_HASH}],
        "consent": {"adUserData": "GRANTED"},
    }
    conversion.update(overrides)
    return conversion


def ads_body(*conversions: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversions": list(conversions) or [ads_conversion()],
        "partialFailure": True,
    }
    body.update(overrides)
    return body


def ga4_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": "1234567890.1767225000",
        "user_id": "crm-42",
        "timestamp_micros": NOW_MS * 1000 - 60_000_000,
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "user_data": {
            "sha256_email_address": [EMAIL_HASH],
            "sha256_phone_number": [PHONE_HASH],
            "address": [{"sha256_first_name": EMAIL_HASH, "city": "menlo park", "country": "US"}],
        },
        "user_properties": {"plan": {"value": "pro"}},
        "events": [
            {
                "name": "generate_lead",
                "params": {
                    "event_id": "lead-7f3c2a",
                    "session_id": "1767225000",
                    "engagement_time_msec": 100,
                    "value": 0,
                    "currency": "USD",
                },
            }
        ],
    }
    body.update(overrides)
    return body


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for name, item in value.items():
            found += _paths(item, (*prefix, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = copy.deepcopy(value)
    node = copied
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return copied


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    """`valid` with one node (the whole body included) replaced by any JSON value."""
    path = draw(st.sampled_from(_paths(valid)))
    return _replace(valid, path, draw(json_values(extra=[2**63 - 1, -(2**63), 1e308, ""])))


# ---- browser pixel beacons (what the fake libraries in fake_platforms/static send)

PAGE_URL = "https://www.example.com/contact"
BEACON_HEADERS = {"content-type": "text/plain;charset=UTF-8"}


def meta_beacon(**overrides: Any) -> dict[str, Any]:
    beacon: dict[str, Any] = {
        "id": "1234567890123456",
        "ev": "Lead",
        "eid": "lead-7f3c2a",
        "cd": {"value": 50, "currency": "EUR"},
        "ud": {"em": EMAIL_HASH},
        "dl": PAGE_URL,
        "rl": "",
        "ts": NOW_MS - 1000,
        "it": NOW_MS - 2000,
        "v": "fake-2.0",
        "r": "stable",
        "ec": 0,
        "dpo": ["LDU"],
        "dpoco": 0,
        "dpost": 0,
    }
    beacon.update(overrides)
    return beacon


def tiktok_beacon(**overrides: Any) -> dict[str, Any]:
    beacon: dict[str, Any] = {
        "event": "SubmitForm",
        "event_id": "lead-7f3c2a",
        "message_id": "messageId-0011223344556677",
        "timestamp": "2025-12-31T23:59:59.000Z",
        "context": {
            "pixel": {"code": "CDEMO1234567890ABCDE"},
            "page": {"url": PAGE_URL, "referrer": ""},
            "user": {"email": EMAIL_HASH, "phone_number": PHONE_HASH},
            "library": {"name": "pixel.js", "version": "fake"},
        },
        "properties": {"value": 50, "currency": "EUR"},
    }
    beacon.update(overrides)
    return beacon


def linkedin_beacon(**overrides: Any) -> dict[str, Any]:
    beacon: dict[str, Any] = {
        "pid": "1234567",
        "conversionId": 23456789,
        "eventId": "lead-7f3c2a",
        "fmt": "js",
        "url": PAGE_URL,
        "time": NOW_MS - 1000,
        "v": "fake",
    }
    beacon.update(overrides)
    return beacon


def ads_beacon(**overrides: Any) -> dict[str, Any]:
    beacon: dict[str, Any] = {
        "en": "conversion",
        "send_to": "AW-123456789/DemoLeadLabel",
        "transaction_id": "lead-7f3c2a",
        "value": 50,
        "currency": "EUR",
        "gcs": "G111",
        "npa": 0,
        "user_data": {"sha256_email_address": EMAIL_HASH, "sha256_phone_number": [PHONE_HASH]},
        "url": PAGE_URL,
        "ref": "",
        "ts": NOW_MS - 1000,
    }
    beacon.update(overrides)
    return beacon


def ga4_beacon(**overrides: Any) -> dict[str, Any]:
    beacon: dict[str, Any] = {
        "v": 2,
        "tid": "G-DEMO12345",
        "en": "generate_lead",
        "cid": "2776077117.1767225000",
        "ep": {"event_id": "lead-7f3c2a", "value": 50, "currency": "EUR"},
        "gcs": "G111",
        "dl": PAGE_URL,
        "dr": "",
        "ts": NOW_MS - 1000,
    }
    beacon.update(overrides)
    return beacon
