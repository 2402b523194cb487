"""A trigger: which events, under which conditions, except when.

`fires` takes the event name and a function that returns the hit's Resolver, so a trigger
that fails on the event name never makes one, and values are only resolved when a
condition needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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

    @classmethod
    def compile(cls, trigger: dict[str, Any]) -> Trigger:
        return cls(
            trigger["id"],
            EventTrigger.compile(trigger["id"], trigger["events"]),
            compile_condition(trigger["conditions"]) if "conditions" in trigger else None,
            tuple(compile_condition(c) for c in trigger.get("exceptions", [])),
        )

    def fires(self, event: str, resolver: Callable[[], Resolver]) -> bool:
        if not self.events.matches(event):
            return False
        if self.condition is None and not self.exceptions:
            return True
        r = resolver()
        if self.condition is not None and not self.condition(r):
            return False
        return not any(exception(r) for exception in self.exceptions)
