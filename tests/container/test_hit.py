import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from container.accept_body import BodyError
from container.hit import MAX_BATCH, parse_body, validate_hit
from tests.helpers import json_values as json_values_strategy
from tests.helpers import make_hit


def fields(errors):
    return {field for field, _ in errors}


def test_valid_hit_has_no_errors(hit):
    assert validate_hit(hit) == []


def test_minimal_hit_is_valid():
    assert validate_hit({"v": 1, "event": "page_view", "event_id": "abcdefgh"}) == []


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"v": 2}, "v", "must be 1"),
        ({"v": True}, "v", "must be 1"),
        ({"event": "Purchase"}, "event", "[a-z0-9_]{1,40}"),
        ({"event_id": "short"}, "event_id", "8-64"),
        ({"ts": 1_763_900_000}, "ts", "milliseconds"),
        ({"ts": "1763900000000"}, "ts", "milliseconds"),
        ({"page": {"url": "javascript:alert(1)"}}, "page.url", "http(s)"),
        ({"page": {"locale": "not a locale"}}, "page.locale", "BCP 47"),
        ({"page": {"colour": "red"}}, "page.colour", "unknown field"),
        ({"consent": {"ad_storage": "yes"}}, "consent.ad_storage", "granted"),
        ({"consent": {"gpc": "true"}}, "consent.gpc", "true or false"),
        ({"consent": {"source": "cmp"}}, "consent.source", "one of"),
        ({"user": {"em": "jane@example.com"}}, "user.em", "plaintext PII is refused"),
        ({"user": {"ph": "A" * 64}}, "user.ph", "lowercase hex"),
        ({"user": {"email": "x"}}, "user.email", "unknown field"),
        ({"click": {"gclid": "has space"}}, "click.gclid", "printable"),
        ({"data": {"value": "50"}}, "data.value", "must be a number"),
        ({"data": {"value": True}}, "data.value", "must be a number"),
        ({"data": {"value": -1}}, "data.value", "≥ 0"),
        ({"data": {"value": 2**60}}, "data.value", "must be a number"),
        ({"data": {"currency": "eur"}}, "data.currency", "ISO 4217"),
        ({"data": {"contents": [{"quantity": 0}]}}, "data.contents[0].quantity", "1 to"),
        ({"data": {"contents": [{"quantity": 1}]}}, "data.contents[0].id", "required"),
        ({"data": {"content_ids": ["a", 3]}}, "data.content_ids[1]", "string"),
        ({"data": {"num_items": 1.5}}, "data.num_items", "whole number"),
        ({"data": {"lead_id": "x" * 129}}, "data.lead_id", "longer than 128"),
        ({"custom": {"bad key": 1}}, "custom.<unrecognised key>", "key must be"),
        ({"custom": {"jane@example.com": 1}}, "custom.<unrecognised key>", "key must be"),
        ({"jane@example.com": 1}, "<unrecognised key>", "unknown field"),
        ({"custom": {"deep": {"x": {"y": 1}}}}, "custom.deep.x", "must be a string"),
        ({"custom": {f"k{i}": i for i in range(51)}}, "custom", "at most 50"),
        ({"extra": 1}, "extra", "unknown field"),
    ],
)
def test_each_rule_names_field_and_reason(change, field, reason):
    errors = validate_hit(make_hit(**change))
    assert field in fields(errors), errors
    assert any(reason in r for f, r in errors if f == field), errors


def test_all_problems_reported_at_once():
    errors = validate_hit({"v": 1, "event": "X", "data": {"value": "1", "currency": "x"}})
    assert {"event", "event_id", "data.value", "data.currency"} <= fields(errors)


def test_missing_required_fields():
    assert fields(validate_hit({})) == {"v", "event", "event_id"}


def test_non_object_hit():
    assert validate_hit([1]) == [("hit", "must be a JSON object")]


def test_parse_single_and_batch(hit):
    assert parse_body(orjson.dumps(hit)) == [hit]
    assert parse_body(orjson.dumps([hit, hit])) == [hit, hit]


@pytest.mark.parametrize(
    ("body", "field", "status", "reason"),
    [
        (b"\xff\xfe", "body", 400, "UTF-8"),
        (b"{", "body", 400, "malformed JSON"),
        (b"[]", "body", 400, "empty batch"),
        (b"42", "body", 400, "JSON object"),
        (orjson.dumps([{}] * (MAX_BATCH + 1)), "body", 413, "at most 50"),
    ],
)
def test_parse_body_errors(body, field, status, reason):
    with pytest.raises(BodyError) as info:
        parse_body(body)
    assert info.value.field == field
    assert info.value.status == status
    assert reason in info.value.reason


json_values = json_values_strategy(allow_nan=False)


@settings(max_examples=500)
@given(json_values)
def test_validate_never_raises_on_any_json(value):
    errors = validate_hit(value)
    assert all(isinstance(f, str) and isinstance(r, str) for f, r in errors)


@settings(max_examples=500)
@given(
    st.sampled_from(["page", "consent", "user", "click", "data", "custom", "v", "event", "ts"]),
    json_values,
)
def test_replacing_any_section_with_garbage_never_raises(section, value):
    errors = validate_hit(make_hit(**{section: value}))
    assert all(isinstance(f, str) for f, _ in errors)


def test_nulls_in_custom_are_accepted():
    assert validate_hit(make_hit(custom={"x": None, "y": [None], "z": {"a": None}})) == []


def test_unknown_currency_is_refused():
    assert ("data.currency", "must be an active ISO 4217 code such as 'EUR'") in validate_hit(
        make_hit(data={"currency": "XYZ"})
    )
