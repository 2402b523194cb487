"""Canonical JSON: RFC 8785 number and string forms, key order, refusals with JSON paths,
and properties that hold for any JSON value."""

from __future__ import annotations

import datetime
import json
import random
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.canonical import MAX_DEPTH, CanonicalError, canonical

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "container.json"

# RFC 8785 appendix B style: IEEE-754 bits -> the text JavaScript's String(x) gives
# (checked against Node.js).
DOUBLES = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def test_rfc8785_example():
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        r'"string": "\u20ac$\u000F\u000aA' + "'" + r'\u0042\u0022\u005c\\\"\/",'
        '"literals": [null, true, false]}'
    )
    assert canonical(json.loads(text)) == (
        b'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


@pytest.mark.parametrize(("bits", "text"), DOUBLES)
def test_doubles_are_written_as_javascript_writes_them(bits, text):
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical(value) == text.encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (1.0, "1"),
        (-0.0, "0"),
        (0, "0"),
        (100, "100"),
        (1e20, "100000000000000000000"),
        (10**21, "1e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (0.1, "0.1"),
        (-2.5e-10, "-2.5e-10"),
        (2**53, "9007199254740992"),
        (-(2**53), "-9007199254740992"),
        (35677906733005430, "35677906733005430"),
        (3.567790673300543e16, "35677906733005430"),
    ],
)
def test_integers_and_floats_share_one_form(value, text):
    assert canonical(value) == text.encode()


def test_strings_escape_only_what_json_requires():
    text = 'quote" back\\ \b\f\n\r\t \x00\x1f\x7f é \u2028 😀 /'
    expected = '"quote\\" back\\\\ \\b\\f\\n\\r\\t \\u0000\\u001f\x7f é \u2028 😀 /"'
    assert canonical(text) == expected.encode("utf-8")


def test_keys_sort_by_utf16_code_units():
    # By code point U+FFFD < U+1F600, but U+1F600 is the surrogate pair D83D DE00 < FFFD.
    doc = {"\ufffd": 1, "😀": 2, "b": 3, "a": 4, "B": 5, "": 6, "aa": 7}
    assert canonical(doc) == '{"":6,"B":5,"a":4,"aa":7,"b":3,"😀":2,"\ufffd":1}'.encode()


def test_no_whitespace_and_nested_structures():
    doc = {"z": [1, {"y": None, "x": [True, False]}], "a": {}, "m": []}
    assert canonical(doc) == b'{"a":{},"m":[],"z":[1,{"x":[true,false],"y":null}]}'


def test_tuples_are_arrays():
    assert canonical({"a": (1, "x")}) == b'{"a":[1,"x"]}'


def test_the_example_container_is_canonical_json_of_itself():
    doc = orjson.loads(EXAMPLE.read_bytes())
    assert orjson.loads(canonical(doc)) == doc
    assert canonical(doc) == json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        (float("nan"), "$", "nan is not a JSON number"),
        ({"a": [1, float("inf")]}, "$.a[1]", "inf is not a JSON number"),
        ({"a": {"b": -float("inf")}}, "$.a.b", "-inf is not a JSON number"),
        ({"a": {1: "x"}}, "$.a", "object keys must be strings, not int"),
        ({"tags": [{"ids": {1, 2}}]}, "$.tags[0].ids", "a set has no JSON form"),
        ({"k": b"raw"}, "$.k", "a bytes has no JSON form"),
        ({"when": datetime.date(2024, 1, 1)}, "$.when", "a date has no JSON form"),
        ({"x": Decimal("1.5")}, "$.x", "a Decimal has no JSON form"),
        ({"a b": [None, "\ud800"]}, '$["a b"][1]', "lone surrogate"),
        ({"\udfff": 1}, '$["\\udfff"]', "lone surrogate"),
        ({"n": 2**53 + 1}, "$.n", "integer 9007199254740993 cannot be written exactly"),
        # The exact value of a double, but JavaScript writes that double 35677906733005430.
        ({"n": 35677906733005432}, "$.n", "integer 35677906733005432 cannot be written"),
        ({"n": -(10**400)}, "$.n", "write it as a string"),
    ],
)
def test_values_without_a_canonical_form_are_refused_with_their_path(value, path, reason):
    with pytest.raises(CanonicalError) as info:
        canonical(value)
    assert info.value.path == path
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: ")


def test_hostile_nesting_is_refused_not_a_recursion_error():
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(CanonicalError, match="nested more than"):
        canonical(deep)
    canonical(deep[0])


# --- Properties --------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every object's members in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


@given(_json)
def test_canonical_form_is_a_fixed_point(value):
    once = canonical(value)
    assert canonical(json.loads(once)) == once
    assert canonical(orjson.loads(once)) == once


@given(_json)
def test_canonical_form_reads_back_as_the_same_value(value):
    # Read as doubles, as JCS readers do: a big double comes back as digit text.
    assert json.loads(canonical(value), parse_int=float) == value


@given(_json, st.randoms(use_true_random=False), st.sampled_from([None, 0, 2, "\t"]))
def test_key_order_and_whitespace_do_not_matter(value, rng, indent):
    text = json.dumps(_shuffled(value, rng), indent=indent, ensure_ascii=rng.random() < 0.5)
    assert canonical(json.loads(text)) == canonical(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_double_reads_back_exactly(value):
    assert float(json.loads(canonical(value))) == value
