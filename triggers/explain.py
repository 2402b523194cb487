"""Why a trigger fired or not, for preview traces: the event test, then the first
condition that failed (or the exception that held), with the values it compared.

It evaluates each leaf with `compile_condition`, the data plane's own evaluator, so an
explanation can never disagree with what the pipeline decided; it is only run for
preview hits, never on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triggers.conditions import compile_condition
from triggers.events import EventTrigger
from variables.resolver import Resolver

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """`fired`, and when not: `reason` in words and, for a condition, where it is in the
    trigger (`path`, e.g. `conditions.all[1]`), its reference, operator, expected value
    and the value the hit had (`actual`)."""

    fired: bool
    reason: str
    path: str | None = None
    var: str | None = None
    op: str | None = None
    expected: Any = None
    actual: Any = None


def explain(trigger: dict[str, Any], event: str, resolver: Resolver) -> Explanation:
    """Explain a validated trigger document on one hit."""
    events = EventTrigger.compile(trigger["id"], trigger["events"])
    if not events.matches(event):
        return Explanation(False, f"event {event!r} is not one of {', '.join(trigger['events'])}")
    conditions = trigger.get("conditions")
    if conditions is not None and not compile_condition(conditions)(resolver):
        return _failed(conditions, "conditions", resolver, "a condition does not hold")
    for index, exception in enumerate(trigger.get("exceptions", [])):
        if compile_condition(exception)(resolver):
            return _held(exception, f"exceptions[{index}]", resolver)
    return Explanation(True, "fired")


def _failed(node: dict[str, Any], path: str, resolver: Resolver, reason: str) -> Explanation:
    """The first leaf under `node` that explains why it does not hold."""
    if "all" in node:
        for index, item in enumerate(node["all"]):
            if not compile_condition(item)(resolver):
                return _failed(item, f"{path}.all[{index}]", resolver, reason)
    if "any" in node:
        first = node["any"][0]
        count = len(node["any"])
        return _failed(first, f"{path}.any[0]", resolver, f"none of the {count} alternatives holds")
    return _leaf(node, path, resolver, reason)


def _held(node: dict[str, Any], path: str, resolver: Resolver) -> Explanation:
    """The first leaf under an exception that holds, which made the exception hold."""
    reason = "an exception holds"
    if "all" in node:
        return _held(node["all"][0], f"{path}.all[0]", resolver)
    if "any" in node:
        for index, item in enumerate(node["any"]):
            if compile_condition(item)(resolver):
                return _held(item, f"{path}.any[{index}]", resolver)
    return _leaf(node, path, resolver, reason)


def _leaf(node: dict[str, Any], path: str, resolver: Resolver, reason: str) -> Explanation:
    return Explanation(
        False, reason, path, node["var"], node["op"], node.get("value"), resolver.get(node["var"])
    )
