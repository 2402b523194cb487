"""Explaining a trigger for a preview trace: it agrees with the trigger's own verdict on
any hit, and names the condition that failed (or the exception that held) with the
values it compared."""

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.helpers import hit_record, make_hit
from tests.triggers.test_compiled_conditions import hit_values, outcome, trees
from triggers.explain import explain
from triggers.trigger import Trigger
from variables.resolver import Resolver


def resolver(value: Any) -> Resolver:
    hit = hit_record(make_hit(custom={} if value is None else {"x": value}))
    return Resolver(hit, {"v": lambda r: value})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["lead", "lead_*", "purchase", "*"]), min_size=1, max_size=3),
    st.sampled_from(["lead", "lead_qualified", "purchase", "page_view"]),
    st.none() | trees,
    st.lists(trees, max_size=3),
    hit_values,
)
def test_the_explanation_agrees_with_the_trigger(events, event, conditions, exceptions, value):
    trigger: dict[str, Any] = {"id": "t", "events": events}
    if conditions is not None:
        trigger["conditions"] = conditions
    if exceptions:
        trigger["exceptions"] = exceptions
    fired = outcome(lambda: Trigger.compile(trigger).fires(event, lambda: resolver(value)))
    assume(isinstance(fired, bool))  # values the evaluator refuses are not explained
    why = explain(trigger, event, resolver(value))
    assert why.fired is fired
    if not fired and why.path is not None:
        assert why.path.startswith(("conditions", "exceptions"))
        assert why.var in ("custom.x", "var.v")


TRIGGER = {
    "id": "leads",
    "events": ["lead"],
    "conditions": {"all": [
        {"var": "page.path", "op": "starts_with", "value": "/en"},
        {"any": [{"var": "data.value", "op": "gt", "value": 100},
                 {"var": "data.currency", "op": "equals", "value": "USD"}]},
    ]},
    "exceptions": [{"var": "custom.plan", "op": "equals", "value": "pro"}],
}  # fmt: skip


def on(**wire: Any) -> Resolver:
    return Resolver(hit_record(make_hit(**wire)), {})


def test_the_event_test_comes_first():
    why = explain(TRIGGER, "page_view", on())
    assert (why.fired, why.path) == (False, None)
    assert "page_view" in why.reason


def test_a_failing_alternative_group_names_its_first_alternative_and_the_values():
    why = explain(TRIGGER, "lead", on(custom={}))
    assert why.fired is False
    assert why.reason == "none of the 2 alternatives holds"
    assert (why.path, why.var, why.op) == ("conditions.all[1].any[0]", "data.value", "gt")
    assert (why.expected, why.actual) == (100, 50)


def test_an_exception_that_holds_is_named():
    why = explain(TRIGGER, "lead", on(data={"value": 500, "currency": "EUR"}))
    assert why.fired is False
    assert (why.reason, why.path, why.actual) == ("an exception holds", "exceptions[0]", "pro")


def test_a_trigger_that_fires_says_so():
    why = explain(TRIGGER, "lead", on(data={"value": 500, "currency": "EUR"}, custom={}))
    assert (why.fired, why.reason) == (True, "fired")
