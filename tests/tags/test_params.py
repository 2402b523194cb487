"""Template parameter schemas and the values a tag gives them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tags.params import TYPES, check_schema, resolve_params
from tests.helpers import json_values

SCHEMA: dict[str, Any] = {
    "endpoint": {"type": "string", "format": "url", "required": True},
    "label": {"type": "string", "max_length": 5, "pattern": "[a-z]+", "default": "abc"},
    "pattern": {"type": "string", "pattern": "[a-z]+"},  # no max_length: RE2 reads 8192 chars
    "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
    "count": {"type": "integer", "min": 1, "max": 10, "default": 3},
    "ratio": {"type": "number", "min": 0, "max": 1},
    "debug": {"type": "boolean", "default": False},
    "ids": {"type": "list", "default": []},
    "names": {"type": "map", "default": {}},
    "token": {"type": "secret"},
}
ENDPOINT = "https://hooks.example/in"


def test_defaults_fill_in_what_the_tag_leaves_out() -> None:
    assert resolve_params(SCHEMA, {"endpoint": ENDPOINT}) == (
        {"endpoint": ENDPOINT, "label": "abc", "mode": "safe", "count": 3, "debug": False,
         "ids": [], "names": {}},
        [],
    )  # fmt: skip


def test_defaults_are_copies_never_the_schema_objects() -> None:
    first, _ = resolve_params(SCHEMA, {"endpoint": ENDPOINT})
    first["ids"].append("x")
    first["names"]["k"] = "v"
    second, _ = resolve_params(SCHEMA, {"endpoint": ENDPOINT})
    assert (second["ids"], second["names"]) == ([], {})
    assert (SCHEMA["ids"]["default"], SCHEMA["names"]["default"]) == ([], {})


GOOD = [
    ("label", "xyz"),
    ("mode", "fast"),
    ("count", 10),
    ("count", 1),
    ("ratio", 0.5),
    ("ratio", 1),
    ("debug", True),
    ("ids", ["a", "b"]),
    ("names", {"lead": "Lead"}),
    ("token", "meta_token"),
    ("endpoint", "http://127.0.0.1:8080/in"),
    ("endpoint", "http://localhost/in"),
]


@pytest.mark.parametrize(("name", "value"), GOOD, ids=[f"{n}={v!r}" for n, v in GOOD])
def test_good_values(name: str, value: Any) -> None:
    values, problems = resolve_params(SCHEMA, {"endpoint": ENDPOINT, name: value})
    assert problems == []
    assert values[name] == value


BAD = [
    ("label", 5, "must be a string"),
    ("label", "abcdef", "longer than 5 characters"),
    ("label", "ABC", "must match '[a-z]+'"),
    ("pattern", "a" * 8192 + "!", "longer than 8192 characters, more than a pattern can check"),
    ("mode", "slow", "must be one of 'fast', 'safe'"),
    ("count", "3", "must be a whole number"),
    ("count", 3.0, "must be a whole number"),
    ("count", True, "must be a whole number"),
    ("count", 2**63, "must be a whole number that fits in 64 bits"),
    ("count", 0, "must be ≥ 1"),
    ("count", 11, "must be ≤ 10"),
    ("ratio", float("nan"), "must be a number"),
    ("ratio", float("inf"), "must be a number"),
    ("ratio", 10**400, "must be a number"),
    ("ratio", False, "must be a number"),
    ("ratio", 1.5, "must be ≤ 1"),
    ("debug", 1, "must be true or false"),
    ("ids", "a", "must be a list of strings"),
    ("ids", ["a", 1], "must be a list of strings"),
    ("names", ["a"], "must be an object of strings"),
    ("names", {"a": 1}, "must be an object of strings"),
    ("names", {1: "a"}, "must be an object of strings"),
    ("token", "Meta Token", "must name a secret"),
    ("endpoint", "http://hooks.example/in", "must use https"),
    ("endpoint", "https://user@hooks.example/", "userinfo"),
    ("endpoint", "https://[::1/", "cannot be parsed"),
    ("endpoint", "https://2130706433/", "reads as a number"),
]


@pytest.mark.parametrize(
    ("name", "value", "reason"), BAD, ids=[f"{n}={v!r}"[:50] for n, v, _ in BAD]
)
def test_bad_values(name: str, value: Any, reason: str) -> None:
    values, problems = resolve_params(SCHEMA, {"endpoint": ENDPOINT, name: value})
    assert len(problems) == 1, problems
    assert problems[0][0] == name
    assert reason in problems[0][1]
    assert values.get(name) != value or name not in values


def test_required_unknown_and_not_an_object() -> None:
    assert resolve_params(SCHEMA, {"extra": 1, 7: "x"}) == (
        {"label": "abc", "mode": "safe", "count": 3, "debug": False, "ids": [], "names": {}},
        [("7", "unknown parameter"), ("endpoint", "required"), ("extra", "unknown parameter")],
    )
    assert resolve_params(SCHEMA, ["endpoint"]) == ({}, [("", "params must be an object")])


NAME_RULE = "parameter names are 1-40 characters of a-z, 0-9, _"
TYPE_RULE = "must be one of string, integer, number, boolean, list, map, secret"
SCHEMA_PROBLEMS = [
    ("not an object", [], [("", "must be an object mapping parameter names to fields")]),
    ("bad name", {"Bad-Name": {"type": "string"}}, [("Bad-Name", NAME_RULE)]),
    ("int name", {1: {"type": "string"}}, [("1", NAME_RULE)]),
    ("field not an object", {"a": "string"}, [("a", "must be an object")]),
    ("unknown type", {"a": {"type": "text"}}, [("a.type", TYPE_RULE)]),
    ("unknown fields in document order", {"a": {"type": "string", "zeta": 1, "alpha": 2}},
     [("a.zeta", "unknown field"), ("a.alpha", "unknown field")]),
    ("required not bool", {"a": {"type": "string", "required": "yes"}},
     [("a.required", "must be true or false")]),
    ("empty enum", {"a": {"type": "string", "enum": []}}, [("a.enum", "must be a non-empty list")]),
    ("enum item of another type", {"a": {"type": "string", "enum": ["x", 1]}},
     [("a.enum[1]", "must be a string")]),
    ("enum holding a huge int", {"a": {"type": "string", "enum": [10**5000]}},
     [("a.enum[0]", "must be a string")]),
    ("integer enum beyond 64 bits", {"a": {"type": "integer", "enum": [2**64]}},
     [("a.enum[0]", "must be a whole number that fits in 64 bits")]),
    ("bad pattern", {"a": {"type": "string", "pattern": "("}},
     [("a.pattern", "not a valid regular expression: not a valid RE2 pattern: missing ): (")]),
    ("unknown format", {"a": {"type": "string", "format": "email"}},
     [("a.format", "only 'url' is supported")]),
    ("min as text", {"a": {"type": "integer", "min": "1"}}, [("a.min", "must be a number")]),
    ("huge negative max", {"a": {"type": "integer", "max": -(10**5000), "default": 1}},
     [("a.max", "must be a number")]),
    ("NaN max", {"a": {"type": "number", "max": float("nan")}}, [("a.max", "must be a number")]),
    ("max_length bool", {"a": {"type": "string", "max_length": True}},
     [("a.max_length", "must be a number")]),
    ("default of another type", {"a": {"type": "integer", "default": "1"}},
     [("a.default", "must be a whole number")]),
    ("default below min", {"a": {"type": "integer", "min": 5, "default": 1}},
     [("a.default", "must be ≥ 5")]),
    ("default outside enum", {"a": {"type": "string", "enum": ["x"], "default": "y"}},
     [("a.default", "must be one of 'x'")]),
    ("default url", {"a": {"type": "string", "format": "url", "default": "ftp://x.example/"}},
     [("a.default", "scheme 'ftp' is not allowed; use https")]),
    ("every bad default is reported",
     {"a": {"type": "text"}, "b": {"type": "integer", "default": "x"}},
     [("a.type", TYPE_RULE), ("b.default", "must be a whole number")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schema", "problems"),
    [pytest.param(schema, problems, id=id) for id, schema, problems in SCHEMA_PROBLEMS],
)
def test_check_schema(schema: Any, problems: list[tuple[str, str]]) -> None:
    assert check_schema(schema) == problems


@pytest.mark.parametrize(
    "pattern", ["(?=lookahead)", "(" * 2000 + ")" * 2000], ids=["lookaround", "deep nesting"]
)
def test_check_schema_reports_patterns_re2_cannot_compile(pattern: str) -> None:
    [(path, reason)] = check_schema({"a": {"type": "string", "pattern": pattern}})
    assert path == "a.pattern"
    assert reason.startswith("not a valid regular expression: ")


def test_the_schema_of_every_shipped_field_type_is_valid() -> None:
    assert check_schema(SCHEMA) == []


# --- Properties -----------------------------------------------------------------------

JSON = json_values(extra=[10**400, -(2**63) - 1, 2**63, "https://[::1/", "http://127.0.0.1/"])


@settings(max_examples=250, deadline=None)
@given(st.one_of(JSON, st.dictionaries(st.sampled_from([*SCHEMA, "other"]), JSON, max_size=9)))
def test_resolve_params_never_raises(params: Any) -> None:
    values, problems = resolve_params(SCHEMA, params)
    assert isinstance(values, dict)
    assert all(isinstance(path, str) and isinstance(reason, str) for path, reason in problems)
    assert set(values) <= set(SCHEMA)


OPTIONAL_KEYS = ("required", "default", "enum", "min", "max", "max_length", "format")
FIELD = st.fixed_dictionaries(
    {"type": st.sampled_from([*TYPES, "text"])},
    optional={key: JSON for key in OPTIONAL_KEYS}
    | {"pattern": st.sampled_from(["[a-z]+", "(", "a{99999999999}", 5])},
)


@settings(max_examples=250, deadline=None)
@given(st.one_of(JSON, st.dictionaries(st.sampled_from(["a", "b", "Bad"]), FIELD, max_size=3)))
def test_check_schema_never_raises(schema: Any) -> None:
    problems = check_schema(schema)
    assert all(isinstance(path, str) and isinstance(reason, str) for path, reason in problems)
    if not problems:  # a schema without problems resolves any params without raising
        resolve_params(schema, {})
