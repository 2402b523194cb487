"""References in tag parameters: found, compiled once, resolved per hit."""

from __future__ import annotations

from variables.hit import Hit
from variables.param_refs import ParamPlan, find_refs, referencing
from variables.resolver import Resolver


def resolver(wire: dict, variables: dict | None = None) -> Resolver:
    hit = Hit(
        "shop",
        wire.get("event", "lead"),
        "e1",
        wire,
        1,
        2,
        "203.0.113.9",
        "ua",
        None,
        False,
        "t",
        {},
        [],
    )
    return Resolver(hit, variables or {})


def test_references_are_found_in_nested_maps_and_lists():
    params = {
        "url": "https://x.example/{{var.kind}}",
        "names": {"lead": "{{ data.label }}"},
        "list": ["a", "{{page.path}}"],
        "n": 3,
    }
    assert sorted(find_refs(params)) == [
        ("list[1]", "page.path"),
        ("names.lead", "data.label"),
        ("url", "var.kind"),
    ]
    assert referencing(params) == {"url", "names", "list"}
    assert ParamPlan.compile({"url": "https://x.example", "n": 1}) is None


def test_a_whole_value_keeps_its_type_and_text_is_interpolated():
    plan = ParamPlan.compile(
        {"value": "{{data.value}}", "label": "v={{data.value}} {{data.currency}}", "fixed": "x"}
    )
    assert plan is not None
    params = plan.resolve(resolver({"data": {"value": 12.0, "currency": "EUR"}}))
    assert params == {"fixed": "x", "value": 12.0, "label": "v=12 EUR"}


def test_a_missing_whole_value_leaves_the_parameter_out_and_text_gets_nothing():
    plan = ParamPlan.compile(
        {
            "value": "{{data.value}}",
            "label": "[{{data.value}}]",
            "names": {"a": "{{data.value}}", "b": "k"},
        }
    )
    assert plan.resolve(resolver({"data": {}})) == {"label": "[]", "names": {"b": "k"}}


def test_variables_are_read_through_the_resolver():
    plan = ParamPlan.compile({"url": "https://h.example/{{var.kind}}"})
    kind = {"kind": lambda r: "thanks" if r.get("page.path") == "/t" else "other"}
    wire = {"page": {"url": "https://www.example.com/t"}}
    assert plan.resolve(resolver(wire, kind)) == {"url": "https://h.example/thanks"}
