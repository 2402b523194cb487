"""gtag.js requests read and translated into hits: the fixtures from the public parameter
reference, each parameter's rule, and properties that hold for any input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from container.gtag.lines import RequestRefused, read_request
from container.gtag.values import Refusal, Translation, derived_event_id, parse_number
from container.gtag.web import translate_event
from container.hit import validate_hit

FIXTURES = json.loads((Path(__file__).parent / "requests.json").read_text())["requests"]
TID = "G-TEST1234"
BASE = "v=2&tid=G-TEST1234&cid=1234567890.1712345678&_p=99&_s=1&gcs=G111"


def translate(query: str, body: str = "") -> list[Translation | Refusal]:
    request = read_request(query.encode(), body.encode())
    return [*request.refused, *(translate_event(p, params, request.tid)
                                for p, params in request.events)]  # fmt: skip


def one(query: str, body: str = "") -> Translation | Refusal:
    [result] = translate(query, body)
    return result


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["name"] for f in FIXTURES])
def test_fixture_requests_translate_to_valid_hits(fixture: dict[str, Any]) -> None:
    results = translate(fixture["query"], fixture["body"])
    assert all(isinstance(r, Translation) for r in results), results
    wires = [r.wire for r in results if isinstance(r, Translation)]
    assert len(wires) == len(fixture["hits"])
    for wire, expected in zip(wires, fixture["hits"], strict=True):
        if expected["event_id"] == "derived":
            assert wire["event_id"].startswith("gtag-")
            expected = {**expected, "event_id": wire["event_id"]}
        assert wire == expected
        assert validate_hit(wire) == []


def test_a_request_sent_twice_makes_the_same_event_ids_and_each_event_its_own() -> None:
    fixture = FIXTURES[1]
    first = [r.wire["event_id"] for r in translate(fixture["query"], fixture["body"])
             if isinstance(r, Translation)]  # fmt: skip
    again = [r.wire["event_id"] for r in translate(fixture["query"], fixture["body"])
             if isinstance(r, Translation)]  # fmt: skip
    assert first == again
    assert len(set(first)) == 2


def test_an_event_id_is_random_without_what_identifies_the_event() -> None:
    assert derived_event_id(TID, "1.2", "99", None, "0", "x") != derived_event_id(
        TID, "1.2", "99", None, "0", "x"
    )
    assert derived_event_id(TID, "1.2", "99", "1", "0", "x") == derived_event_id(
        TID, "1.2", "99", "1", "0", "x"
    )


def test_line_parameters_override_the_shared_ones() -> None:
    results = translate(BASE + "&dl=https%3A%2F%2Fa.example%2F&cu=EUR",
                        "en=a&dl=https%3A%2F%2Fb.example%2F\nen=b")  # fmt: skip
    urls = [r.wire["page"]["url"] for r in results if isinstance(r, Translation)]
    assert urls == ["https://b.example/", "https://a.example/"]


def test_item_fields_unescape_a_doubled_tilde_and_items_without_an_id_are_left_out() -> None:
    result = one(BASE + "&en=view_item_list&pr1=idA~~B~nmX~qt2&pr2=nmNoId~pr3&pr10=idC")
    assert isinstance(result, Translation)
    assert result.wire["data"]["contents"] == [{"id": "A~B", "quantity": 2}, {"id": "C"}]
    assert result.source_of("data.contents[1].id") == "pr10"


def test_ga4_names_map_to_tagwire_events_and_back() -> None:
    names = {"view_item": "view_content", "generate_lead": "lead", "sign_up":
             "complete_registration", "begin_checkout": "initiate_checkout", "page_view":
             "page_view", "purchase": "purchase", "add_to_cart": "add_to_cart",
             "scroll": "scroll"}  # fmt: skip
    for ga4, tagwire in names.items():
        result = one(f"{BASE}&en={ga4}")
        assert isinstance(result, Translation)
        assert result.wire["event"] == tagwire


@pytest.mark.parametrize(
    ("query", "body", "field", "reason"),
    [
        (BASE, "", "en", "required"),
        (BASE + "&en=x&epn.value=12,5", "", "epn.value", "not a number"),
        (BASE + "&en=x&ep.value=free", "", "ep.value", "not a number"),
        (BASE + "&en=x&epn.rating=NaN", "", "epn.rating", "not a number"),
        (BASE + "&en=x&epn.big=1e999", "", "epn.big", "not a number"),
        (BASE + "&en=x&upn.orders=three", "", "upn.orders", "not a number"),
        (BASE + "&en=x&pr1=idA~qt1.5", "", "pr1", "qt (quantity) is not a whole number"),
        (BASE + "&en=x&pr1=idA~prcheap", "", "pr1", "pr (price) is not a number"),
        (BASE + "&en=x&ep.my-param=1", "", "ep.my-param", "names are 1-40"),
        (BASE + "&en=x&ep.ga_client_id=1", "", "ep.ga_client_id", "reserved"),
        ("v=2&tid=G-TEST1234&gcs=G1x1&en=x", "", "gcs", "malformed gcs"),
        ("v=2&tid=G-TEST1234&gcd=13z3&en=x", "", "gcd", "malformed gcd"),
        ("v=2&tid=G-TEST1234&npa=yes&en=x", "", "npa", "expected 0 or 1"),
        (BASE, "en=x&ep.name=%FF", "ep.name", "not percent-encoded UTF-8"),
        (BASE, "en=x&tid=G-OTHER999", "tid", "differs from the query"),
        (BASE, "en=x&v=1", "v", "differs from the query"),
    ],
)  # fmt: skip
def test_each_malformed_parameter_refuses_its_event_naming_it(query, body, field, reason):
    result = one(query, body)
    assert isinstance(result, Refusal), result
    assert result.field == field
    assert reason in result.reason


def test_a_parameter_name_that_may_be_personal_data_is_not_echoed() -> None:
    result = one(BASE + "&en=x&ep.jane%40example.com=1")
    assert isinstance(result, Refusal)
    assert result.field == "ep.<unrecognised key>"


def test_one_bad_line_leaves_the_others() -> None:
    results = translate(BASE, "en=a\nen=b&epn.value=x\n\nen=c")
    assert [(type(r).__name__, r.position) for r in results] == [
        ("Translation", 0), ("Refusal", 1), ("Translation", 3)]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "body", "status", "field"),
    [
        ("tid=G-TEST1234&en=x", "", 400, "v"),
        ("v=1&tid=G-TEST1234&en=x", "", 400, "v"),
        ("v=2&en=x", "", 400, "tid"),
        ("v=2&tid=G-TEST1234&dl=%C3", "", 400, "dl"),
        ("v=2&tid=G-TEST1234", "\n".join(["en=x"] * 51), 413, "body"),
    ],
)
def test_a_request_that_cannot_be_read_is_refused_naming_the_parameter(query, body, status, field):
    with pytest.raises(RequestRefused) as info:
        read_request(query.encode(), body.encode())
    assert (info.value.status, info.value.field) == (status, field)


@pytest.mark.parametrize(
    ("text", "number"),
    [("3", 3), ("-2", -2), ("129.9", 129.9), ("1e-7", 1e-7), ("9007199254740992", 2**53),
     ("9007199254740993", None), ("", None), (" 1", None), ("1.", None), ("inf", None),
     ("0x10", None), ("1_000", None), ("\u0661", None)],
)  # fmt: skip
def test_numbers_are_read_as_gtag_writes_them(text, number):
    assert parse_number(text) == number


_PARAM = st.sampled_from([
    "en", "ep.a", "epn.b", "up.c", "upn.d", "pr1", "pr2", "cu", "dl", "dr", "dt", "ul", "uid",
    "gcs", "gcd", "npa", "cid", "sid", "_p", "_s", "sr", "ep.event_id", "ep.transaction_id",
    "tid", "v", "x",
])  # fmt: skip
_VALUE = st.text(max_size=30) | st.sampled_from(
    ["G111", "13v3v3v3v5", "1", "idA~pr1~qt2", "page_view", "https://a.example/?gclid=x"]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=600))
def test_any_bytes_are_read_or_refused_with_a_4xx(query, body):
    try:
        request = read_request(query, body)
    except RequestRefused as refused:
        status = refused.status
    else:
        for position, params in request.events:
            result = translate_event(position, params, request.tid)
            assert isinstance(result, Translation | Refusal)
        return
    assert 400 <= status < 500


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_PARAM, _VALUE, max_size=12))
def test_any_parameters_give_a_hit_or_a_refusal_naming_a_parameter(params):
    result = translate_event(0, params, TID)
    if isinstance(result, Refusal):
        assert result.field
        assert result.reason
        return
    for field, _ in validate_hit(result.wire):
        assert result.source_of(field) != ""
