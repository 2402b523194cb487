import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import hit_record, make_hit
from tests.helpers import json_values as json_values_strategy
from triggers.conditions import check_condition, compile_condition
from variables.resolver import Resolver

WIRE = make_hit(page={"url": "https://www.example.com/de/danke?step=3", "locale": "de-CH"},
                data={"value": 50, "currency": "EUR", "status": "Qualified"})  # fmt: skip


def holds(node, wire=WIRE):
    assert check_condition(node, "c", set()) == []
    return compile_condition(node)(Resolver(hit_record(wire), {}))


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"var": "data.currency", "op": "equals", "value": "EUR"}, True),
        ({"var": "data.value", "op": "equals", "value": 50}, True),
        ({"var": "data.value", "op": "equals", "value": "50"}, True),
        ({"var": "data.value", "op": "equals", "value": 50.0}, True),
        ({"var": "data.status", "op": "equals", "value": "qualified"}, False),
        ({"var": "data.status", "op": "equals", "value": "qualified", "ignore_case": True}, True),
        ({"var": "data.currency", "op": "not_equals", "value": "USD"}, True),
        ({"var": "data.lead_id", "op": "not_equals", "value": "USD"}, True),
        ({"var": "data.lead_id", "op": "equals", "value": "USD"}, False),
        ({"var": "page.path", "op": "contains", "value": "dank"}, True),
        ({"var": "page.path", "op": "starts_with", "value": "/de/"}, True),
        ({"var": "page.path", "op": "ends_with", "value": "danke"}, True),
        ({"var": "page.path", "op": "regex", "value": "^/(en|de)/(thanks|danke)$"}, True),
        ({"var": "page.path", "op": "regex", "value": "^/FR/", "ignore_case": True}, False),
        ({"var": "data.value", "op": "gt", "value": 49.99}, True),
        ({"var": "data.value", "op": "gte", "value": 50}, True),
        ({"var": "data.value", "op": "lt", "value": 50}, False),
        ({"var": "page.query.step", "op": "lte", "value": 3}, True),
        ({"var": "data.currency", "op": "gt", "value": 1}, False),
        ({"var": "data.currency", "op": "in", "value": ["EUR", "CHF"]}, True),
        ({"var": "data.value", "op": "in", "value": [50, 60]}, True),
        ({"var": "data.currency", "op": "not_in", "value": ["USD"]}, True),
        ({"var": "data.currency", "op": "exists"}, True),
        ({"var": "data.value", "op": "not_exists"}, False),
        ({"var": "data.transaction_id", "op": "not_exists"}, True),
        ({"all": [{"var": "data.value", "op": "gt", "value": 0},
                  {"any": [{"var": "page.locale", "op": "starts_with", "value": "fr"},
                           {"var": "page.locale", "op": "starts_with", "value": "de"}]}]}, True),
        ({"any": [{"var": "data.value", "op": "gt", "value": 100},
                  {"var": "data.currency", "op": "equals", "value": "USD"}]}, False),
    ],
)  # fmt: skip
def test_operators(node, expected):
    assert holds(node) is expected


@pytest.mark.parametrize(
    ("node", "path", "reason"),
    [
        ("x", "c", "must be an object"),
        ({"var": "page.path", "op": "like", "value": "x"}, "c.op", "must be one of"),
        ({"var": "page.nope", "op": "exists"}, "c.var", "unknown reference"),
        ({"op": "exists"}, "c.var", "required"),
        ({"var": "page.path", "op": "equals"}, "c.value", "required"),
        ({"var": "page.path", "op": "exists", "value": 1}, "c.value", "takes no value"),
        ({"var": "data.value", "op": "gt", "value": "10"}, "c.value", "must be a number"),
        ({"var": "page.path", "op": "in", "value": []}, "c.value", "list of 1-1000"),
        ({"var": "page.path", "op": "regex", "value": "(?=x)"}, "c.value", "RE2"),
        ({"var": "page.path", "op": "equals", "value": {"a": 1}}, "c.value", "string, number"),
        ({"all": []}, "c.all", "non-empty list"),
        ({"all": [{"var": "page.path", "op": "exists"}], "any": []}, "c", "exactly one key"),
        ({"any": [{"var": "x.y", "op": "exists"}]}, "c.any[0].var", "unknown reference"),
    ],
)
def test_problems_have_paths(node, path, reason):
    problems = check_condition(node, "c", set())
    assert any(p == path and reason in r for p, r in problems), problems


def test_nesting_is_bounded():
    node = {"var": "page.path", "op": "exists"}
    for _ in range(9):
        node = {"all": [node]}
    assert any("deeper than 8" in r for _, r in check_condition(node, "c", set()))


def test_catastrophic_pattern_is_linear():
    node = {"var": "custom.plan", "op": "regex", "value": "(a*)*b"}
    wire = make_hit(custom={"plan": "a" * 8000})
    assert holds(node, wire) is False


json_values = json_values_strategy(text=10, width=3, leaves=15)


@settings(max_examples=300)
@given(json_values)
def test_check_condition_never_raises(node):
    assert isinstance(check_condition(node, "c", {"a"}), list)


@settings(max_examples=300)
@given(
    st.sampled_from(["equals", "not_equals", "contains", "starts_with", "ends_with", "gt", "lt",
                     "in", "exists"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
)  # fmt: skip
def test_valid_conditions_never_raise_on_any_value(op, custom_value):
    node = {"var": "custom.x", "op": op}
    if op == "in":
        node["value"] = ["a", 1]
    elif op in ("gt", "lt"):
        node["value"] = 1
    elif op != "exists":
        node["value"] = "a"
    wire = make_hit(custom={"x": custom_value} if custom_value is not None else {})
    assert holds(node, wire) in (True, False)


def test_a_number_beyond_a_floats_range_is_refused_not_a_crash() -> None:
    """10**400 is valid JSON; a document holding it gets a named error, never an
    OverflowError when the trigger compiles."""
    node = {"var": "data.value", "op": "gt", "value": 10**400}
    assert check_condition(node, "c", set()) == [("c.value", "must be a number")]
