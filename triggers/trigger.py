"""A trigger: which events, under which conditions, except when.

`fires` takes the event name and a function that returns the hit's Resolver, so a trigger
that fails on the event name never makes one, and values are only resolved when a
condition needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from triggers.conditions import Condition, check_condition, compile_condition
from triggers.events import EventTrigger
from variables.resolver import Resolver

__all__ = ["Trigger", "check_trigger_rules"]

Problems = list[tuple[str, str]]
MAX_EXCEPTIONS = 20


def check_trigger_rules(trigger: dict[str, Any], path: str, variable_ids: set[str]) -> Problems:
    """Problems in a trigger's `conditions` and `exceptions`."""
    problems: Problems = []
    if "conditions" in trigger:
        problems += check_condition(trigger["conditions"], f"{path}.conditions", variable_ids)
    if "exceptions" in trigger:
        exceptions = trigger["exceptions"]
        if not isinstance(exceptions, list) or len(exceptions) > MAX_EXCEPTIONS:
            problems.append((f"{path}.exceptions", f"must be a list of at most "
                             f"{MAX_EXCEPTIONS} conditions"))  # fmt: skip
        else:
            for i, item in enumerate(exceptions):
                problems += check_condition(item, f"{path}.exceptions[{i}]", variable_ids)
    return problems


@dataclass(frozen=True, slots=True)
class Trigger:
    id: str
    events: EventTrigger
    condition: Condition | None
    exceptions: tuple[Condition, ...]
    # derived once from the fields above: the event test (None: every event) and the rule
    # on the resolver, conditions and exceptions in one function (None: always fires)
    _event: Callable[[str], bool] | None = field(init=False, repr=False, compare=False)
    _rule: Condition | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        events = self.events
        event: Callable[[str], bool] | None
        if events.any_event:
            event = None
        elif not events.prefixes:
            event = events.names.__contains__
        elif not events.names:
            prefixes = events.prefixes
            event = lambda name: name.startswith(prefixes)  # noqa: E731
        else:
            event = events.matches
        object.__setattr__(self, "_event", event)
        object.__setattr__(self, "_rule", _rule(self.condition, self.exceptions))

    @classmethod
    def compile(cls, trigger: dict[str, Any]) -> Trigger:
        return cls(
            trigger["id"],
            EventTrigger.compile(trigger["id"], trigger["events"]),
            compile_condition(trigger["conditions"]) if "conditions" in trigger else None,
            tuple(compile_condition(c) for c in trigger.get("exceptions", [])),
        )

    def fires(self, event: str, resolver: Callable[[], Resolver]) -> bool:
        matches = self._event
        if matches is not None and not matches(event):
            return False
        rule = self._rule
        return True if rule is None else rule(resolver())


def _rule(condition: Condition | None, exceptions: tuple[Condition, ...]) -> Condition | None:
    """`condition` holds and no exception does, as one function; None when always true."""
    if not exceptions:
        return condition
    excepted = exceptions[0] if len(exceptions) == 1 else _any(exceptions)
    if condition is None:
        return lambda r: not excepted(r)
    return lambda r: condition(r) and not excepted(r)


def _any(conditions: tuple[Condition, ...]) -> Condition:
    def any_holds(r: Resolver) -> bool:
        for condition in conditions:  # noqa: SIM110 - as in conditions._every
            if condition(r):
                return True
        return False

    return any_holds
