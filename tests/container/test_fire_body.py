"""Fire API events, checked field by field into a wire hit plus request facts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from container.accept_body import BodyError
from container.fire_body import (
    FIELDS,
    FUTURE_SKEW_MS,
    MAX_AGE_MS,
    MAX_EVENTS,
    ContainerRules,
    derived_event_id,
    parse_events,
    read_event,
)
from container.hit import validate_hit
from tests.helpers import json_values
from variables.pii import hash_identifier

NOW = 1_763_900_000_000
STRICT = ContainerRules(default_country="DE", consent_required=True)
BASIC = ContainerRules(default_country=None, consent_required=False)
CONSENT = {"ad_storage": "granted", "ad_user_data": "granted"}


def event(**overrides):
    base = {"event": "qualified_lead", "action_source": "phone_call", "lead_id": "L-1",
            "consent": CONSENT}  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_a_minimal_event_becomes_a_valid_wire_hit() -> None:
    fire, errors = read_event(event(user={"email": "Jane@Example.com"}), STRICT, NOW)
    assert errors == []
    assert fire is not None
    assert fire.wire == {
        "v": 1, "event": "qualified_lead", "ts": NOW, "consent": CONSENT,
        "event_id": derived_event_id("qualified_lead", "lead_id", "L-1", None),
        "data": {"lead_id": "L-1"},
        "user": {"em": hash_identifier("meta", "email", "jane@example.com")},
    }  # fmt: skip
    assert validate_hit(fire.wire) == []
    assert (fire.event_time_ms, fire.action_source, fire.client_ip, fire.user_agent) == (
        NOW, "phone_call", "", "")  # fmt: skip
    assert fire.client_id is None
    assert fire.test_event_code is None


def test_national_phones_use_the_container_country() -> None:
    fire, _ = read_event(event(user={"phone": "030 901820"}), STRICT, NOW)
    assert fire.wire["user"]["ph_d"] == hash_identifier("meta", "phone", "+49 30 901820")
    fire, errors = read_event(event(user={"phone": "030 901820"}), BASIC, NOW)
    assert errors == []  # no default country: Meta's own rule, no E.164 for TikTok
    assert fire.wire["user"]["ph_d"] == hash_identifier("meta", "phone", "30901820")
    assert "ph" not in fire.wire["user"]


def test_derived_ids_are_stable_and_separate_test_events() -> None:
    ids = {derived_event_id("lead", "lead_id", "L-1", code) for code in (None, None, "T1", "T2")}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9._:-]{8,64}", i) for i in ids)
    assert derived_event_id("lead", "lead_id", "L-1", None) != derived_event_id(
        "purchase", "lead_id", "L-1", None
    )
    fire, _ = read_event(event(test_event_code="T1"), STRICT, NOW)
    assert fire.wire["event_id"] == derived_event_id("qualified_lead", "lead_id", "L-1", "T1")
    assert fire.test_event_code == "T1"


def test_an_explicit_event_id_wins() -> None:
    fire, _ = read_event(event(event_id="crm-0000000001"), STRICT, NOW)
    assert fire.wire["event_id"] == "crm-0000000001"


@pytest.mark.parametrize(
    ("event_time", "expected"),
    [
        (NOW - MAX_AGE_MS, NOW - MAX_AGE_MS),
        (NOW + FUTURE_SKEW_MS, NOW),  # a little ahead: clamped to the receive time
        ("2025-11-23T12:13:20Z", NOW),
        ("2025-11-23T13:13:20+01:00", NOW),
        ("2025-11-23T12:13:19.500+00:00", NOW - 500),
    ],
)
def test_event_times_accepted(event_time, expected) -> None:
    fire, errors = read_event(event(event_time=event_time), STRICT, NOW)
    assert errors == []
    assert fire.event_time_ms == fire.wire["ts"] == expected


@pytest.mark.parametrize(
    ("event_time", "reason"),
    [
        (NOW - MAX_AGE_MS - 1, "older than 7 days"),
        (NOW + FUTURE_SKEW_MS + 1, "more than 5 minutes in the future"),
        (NOW // 1000, "looks like seconds"),
        ("2025-11-23T12:13:20", "needs a time zone"),
        (True, "milliseconds"),
        ("x" * 41, "milliseconds"),
        ("9999-12-31T23:59:59-23:59", "in the future"),
        ("0001-01-01T00:00:00+23:59", "older than 7 days"),
        ("2025-11-23T10:00:00+25:00", "milliseconds"),
    ],
)
def test_event_times_refused(event_time, reason) -> None:
    fire, errors = read_event(event(event_time=event_time), STRICT, NOW)
    assert fire is None
    [(field, text)] = errors
    assert field == "event_time"
    assert reason in text


def test_consent_is_required_only_where_the_policy_needs_it() -> None:
    _, errors = read_event(event(consent=None), STRICT, NOW)
    assert [f for f, _ in errors] == ["consent"]
    _, errors = read_event(event(consent={"gpc": True}), STRICT, NOW)
    assert errors == []
    fire, errors = read_event(event(consent=None), BASIC, NOW)
    assert errors == []
    assert "consent" not in fire.wire


def test_lead_id_goes_into_data_without_changing_the_callers_data() -> None:
    data = {"value": 5, "currency": "EUR"}
    fire, _ = read_event(event(data=data), STRICT, NOW)
    assert fire.wire["data"] == {"value": 5, "currency": "EUR", "lead_id": "L-1"}
    assert data == {"value": 5, "currency": "EUR"}
    _, errors = read_event(event(data={"lead_id": "L-2"}), STRICT, NOW)
    assert [f for f, _ in errors] == ["lead_id"]


def test_request_facts() -> None:
    fire, errors = read_event(
        event(ip="2001:DB8::1", user_agent="UA", client_id="GA1.2-x_y"), STRICT, NOW
    )
    assert errors == []
    assert (fire.client_ip, fire.user_agent, fire.client_id) == ("2001:db8::1", "UA", "GA1.2-x_y")


def test_parse_events() -> None:
    one = {"event": "lead"}
    assert parse_events(b'{"event": "lead"}') == (one, [one])
    assert parse_events(b'[{"event": "lead"}]') == ([one], [one])
    for body, status in ((b"", 400), (b"[]", 400), (b"null", 400), (b"\xff", 400),
                         (b"[" + b"{}," * MAX_EVENTS + b"{}]", 413)):  # fmt: skip
        with pytest.raises(BodyError) as caught:
            parse_events(body)
        assert (caught.value.field, caught.value.status) == ("body", status)


@given(
    candidate=json_values()
    | st.dictionaries(st.sampled_from(sorted(FIELDS)), json_values(), max_size=10),
    rules=st.sampled_from([STRICT, BASIC]),
)
def test_any_json_gives_an_event_or_named_errors(candidate, rules) -> None:
    fire, errors = read_event(candidate, rules, NOW)
    assert (fire is None) == bool(errors)
    assert all(isinstance(f, str) and f and isinstance(r, str) and r for f, r in errors)
    if fire is not None:
        assert validate_hit(fire.wire) == []
