"""Event-name triggers: exact names, prefix wildcards (`purchase_*`) and `*` for every event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EventTrigger"]


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """A trigger compiled once per container version, matched once per hit."""

    id: str
    names: frozenset[str]
    prefixes: tuple[str, ...]
    any_event: bool

    @classmethod
    def compile(cls, trigger_id: str, events: Iterable[str]) -> EventTrigger:
        names: set[str] = set()
        prefixes: list[str] = []
        any_event = False
        for pattern in events:
            if pattern == "*":
                any_event = True
            elif pattern.endswith("*"):
                prefixes.append(pattern[:-1])
            else:
                names.add(pattern)
        return cls(trigger_id, frozenset(names), tuple(prefixes), any_event)

    def matches(self, event: str) -> bool:
        return self.any_event or event in self.names or event.startswith(self.prefixes)
