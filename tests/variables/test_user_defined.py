import pytest

from tests.helpers import hit_record, make_hit
from variables.resolver import Resolver
from variables.user_defined import check_variable, compile_variable

IDS = {"route", "a", "b"}


def value(kind, params, wire=None, cookies=None, variables=None):
    hit = hit_record(wire or make_hit(), cookies=cookies or {})
    return compile_variable(kind, params)(Resolver(hit, variables or {}))


def test_constant_event_field_cookie_query():
    assert value("constant", {"value": 7}) == 7
    assert value("event_field", {"path": "custom.plan"}) == "pro"
    assert value("event_field", {"path": "data.missing", "default": "x"}) == "x"
    assert value("cookie", {"name": "ab"}, cookies={"ab": "b"}) == "b"
    assert value("cookie", {"name": "ab", "default": "a"}) == "a"
    wire = make_hit(page={"url": "https://x.example/p?lang=fr"})
    assert value("query_param", {"name": "lang"}, wire) == "fr"


THANKS = {"/en/thanks": "confirmation", "/de/danke": "confirmation", "/fr/merci": "confirmation"}


@pytest.mark.parametrize(
    ("path", "expected"), [("/en/thanks", "confirmation"), ("/fr/merci", "confirmation"),
                           ("/en/quote", "other")],
)  # fmt: skip
def test_lookup_table_for_localised_routes(path, expected):
    wire = make_hit(page={"url": f"https://www.example.com{path}"})
    params = {"input": "page.path", "map": THANKS, "default": "other"}
    assert value("lookup", params, wire) == expected


def test_regex_table_with_capture_groups_and_order():
    params = {"input": "page.path", "ignore_case": True, "default": None,
              "rows": [{"pattern": "^/(en|de|fr)/(thanks|danke|merci)$", "output": "$1-thanks"},
                       {"pattern": "^/(..)/", "output": "$1-other"}]}  # fmt: skip
    page = lambda p: make_hit(page={"url": f"https://w.example{p}"})  # noqa: E731
    assert value("regex_table", params, page("/DE/Danke")) == "DE-thanks"
    assert value("regex_table", params, page("/it/grazie")) == "it-other"
    assert value("regex_table", params, page("/")) is None


def test_lookup_reads_another_variable():
    variables = {"route": lambda r: "/en/thanks"}
    params = {"input": "var.route", "map": THANKS}
    assert value("lookup", params, variables=variables) == "confirmation"


@pytest.mark.parametrize(
    ("kind", "params", "path", "reason"),
    [
        ("teleport", {}, "type", "must be one of"),
        ("constant", {}, "params.value", "required"),
        ("constant", {"value": [1]}, "params.value", "string, number"),
        ("event_field", {"path": "a..b"}, "params.path", "dotted path"),
        ("cookie", {"name": "a b"}, "params.name", "1-64 characters"),
        ("lookup", {"input": "page.nope", "map": {}}, "params.input", "unknown reference"),
        ("lookup", {"input": "var.zzz", "map": {}}, "params.input", "unknown variable 'zzz'"),
        ("lookup", {"input": "page.path", "map": {"a": [1]}}, "params.map", "map strings"),
        ("regex_table", {"input": "page.path", "rows": [{"pattern": "(a)\\1", "output": "x"}]},
         "params.rows[0].pattern", "RE2"),
        ("regex_table", {"input": "page.path", "rows": [{"pattern": "(a)", "output": "$2"}]},
         "params.rows[0].output", "1 capture groups"),
        ("regex_table", {"input": "page.path", "rows": []}, "params.rows", "1-200"),
        ("cookie", {"name": "x", "colour": 1}, "params.colour", "unknown field"),
    ],
)  # fmt: skip
def test_check_variable(kind, params, path, reason):
    problems = check_variable(kind, params, IDS)
    assert any(p == path and reason in r for p, r in problems), problems


def test_lookup_keys_must_be_strings_and_numbers_match_as_conditions_do():
    assert ("params.map", "must map strings to strings, numbers or booleans") in check_variable(
        "lookup", {"input": "data.value", "map": {1: "basic"}}, IDS
    )
    wire = make_hit(data={"value": 50.0})
    assert value("lookup", {"input": "data.value", "map": {"50": "fifty"}}, wire) == "fifty"
