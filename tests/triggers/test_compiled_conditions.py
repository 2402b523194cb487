"""Compiled conditions and triggers (accessors, `str` fast paths, unrolled groups) agree
with the straightforward evaluation they replaced (tests/triggers/reference_conditions.py)
on any value a reference can hold, including the ones that make the general rule raise."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import hit_record, make_hit
from tests.triggers.reference_conditions import reference_condition, reference_fires
from tests.variables.reference_resolver import ReferenceResolver
from triggers.conditions import LIST_OPS, NUMBER_OPS, OPERATORS, check_condition, compile_condition
from triggers.trigger import Trigger
from variables.resolver import Resolver

# characters whose case folding is not lower(): ß folds to "ss", the Turkish dotted and
# dotless i, the three sigmas, and digits and signs that make text read as a number
TRICKY = "aAbBsSß ẞİiıIΣσςé5 0.-+_/e\n"  # noqa: RUF001
texts = st.text(alphabet=st.sampled_from(TRICKY), max_size=6) | st.text(max_size=6)
numeric_texts = st.sampled_from(["50", " 50 ", "50.0", "5e1", "-0", "inf", "nan", "1_0", ""])
# float() overflows past 10**308, str() refuses 4,300 digits and more, 2**53 + 1 rounds
huge = st.sampled_from([(10, 400), (-10, 400), (2, 53), (10, 5000)]).map(lambda p: p[0] ** p[1] + 1)
scalars = st.one_of(
    st.booleans(), st.integers(), st.floats(), texts, numeric_texts, huge,
    st.integers(-3, 60), st.sampled_from([50, 50.0, -0.0, 0, 1]),
)  # fmt: skip
hit_values = st.one_of(
    st.none(), scalars,
    st.lists(scalars, max_size=2), st.dictionaries(texts, scalars, max_size=2),
)  # fmt: skip
REFS = ("custom.x", "var.v")
PATTERNS = ("^a", "b$", "(a|ß)+", "^(5|50)(\\.0)?$", "(?i)\u03c3", "[0-9]{2}", "^$", "s{2}", "İ")


def outcome(call: Any) -> Any:
    """The result, or the type of the exception: both evaluations must fail alike."""
    try:
        return call()
    except Exception as exc:  # any exception, compared by type
        return type(exc)


def both(node: dict[str, Any], value: Any) -> tuple[Any, Any]:
    wire = make_hit(custom={} if value is None else {"x": value})
    hit = hit_record(wire)
    variables = {"v": lambda r: value}
    fast = outcome(lambda: compile_condition(node)(Resolver(hit, variables)))
    slow = outcome(lambda: reference_condition(node)(ReferenceResolver(hit, variables)))
    return fast, slow


def _printable(value: Any) -> bool:
    """A document cannot carry an integer of 4,300 digits or more (str() refuses it)."""
    return not isinstance(value, int) or abs(value) < 10**4000


@st.composite
def leaves(draw: Any) -> dict[str, Any]:
    op = draw(st.sampled_from(OPERATORS))
    node: dict[str, Any] = {"var": draw(st.sampled_from(REFS)), "op": op}
    if op in LIST_OPS:
        node["value"] = draw(st.lists(scalars.filter(_printable),
                                      min_size=1, max_size=4))  # fmt: skip
    elif op in NUMBER_OPS:
        node["value"] = draw(st.integers(-100, 100) | st.floats(allow_nan=False,
                                                                 allow_infinity=False))  # fmt: skip
    elif op == "regex":
        node["value"] = draw(st.sampled_from(PATTERNS))
    elif op not in ("exists", "not_exists"):
        node["value"] = draw(scalars.filter(_printable))
    if op not in ("exists", "not_exists") and draw(st.booleans()):
        node["ignore_case"] = draw(st.booleans())
    return node


@settings(max_examples=1000, deadline=None)
@given(leaves(), hit_values)
def test_a_compiled_comparison_agrees_with_the_general_rule(node, value):
    assert check_condition(node, "c", {"v"}) == []
    fast, slow = both(node, value)
    assert fast == slow, (fast, slow)
    assert type(fast) is type(slow)


trees = st.recursive(
    leaves(),
    lambda inner: st.builds(
        lambda key, items: {key: items},
        st.sampled_from(["all", "any"]),
        st.lists(inner, min_size=1, max_size=4),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(trees, hit_values)
def test_compiled_groups_agree_with_all_and_any(node, value):
    assert check_condition(node, "c", {"v"}) == []
    fast, slow = both(node, value)
    assert fast == slow, (fast, slow)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["lead", "lead_*", "purchase", "*", "p*"]), min_size=1, max_size=3),
    st.sampled_from(["lead", "lead_qualified", "purchase", "page_view"]),
    st.none() | trees,
    st.lists(trees, max_size=3),
    hit_values,
)
def test_a_compiled_trigger_agrees_and_builds_a_resolver_only_when_the_old_one_did(
    events, event, conditions, exceptions, value
):
    trigger: dict[str, Any] = {"id": "t", "events": events}
    if conditions is not None:
        trigger["conditions"] = conditions
    if exceptions:
        trigger["exceptions"] = exceptions
    hit = hit_record(make_hit(custom={"x": value}))
    variables = {"v": lambda r: value}
    made: list[str] = []

    def fast_resolver() -> Resolver:
        made.append("fast")
        return Resolver(hit, variables)

    def slow_resolver() -> ReferenceResolver:
        made.append("slow")
        return ReferenceResolver(hit, variables)

    fast = outcome(lambda: Trigger.compile(trigger).fires(event, fast_resolver))
    slow = outcome(lambda: reference_fires(trigger, event, slow_resolver))
    assert fast == slow
    assert made.count("fast") == made.count("slow") <= 1
