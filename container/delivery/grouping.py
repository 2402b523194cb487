"""Collects claimed rows into batches: one group per (policy, batch key), flushed when it is
full (events or bytes) or when its oldest row has waited `flush_ms` since it was queued.

Rows queued long ago (a backlog, a retry) are therefore due at once, and fresh rows wait at
most `flush_ms` for company. A row without a batch key is a batch of its own, at once.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from container.delivery.batching import Entry, HttpPolicy

__all__ = ["Batch", "Batcher"]


@dataclass(slots=True)
class Batch:
    policy: HttpPolicy
    entries: list[Entry] = field(default_factory=list)
    count: int = 0
    size: int = 0
    due_ms: float = float("inf")

    def fits(self, entry: Entry) -> bool:
        policy = self.policy
        if self.count + entry.count > policy.max_events:
            return False
        return not policy.max_bytes or self.size + entry.size <= policy.max_bytes

    def add(self, entry: Entry, due_ms: float) -> None:
        self.entries.append(entry)
        self.count += entry.count
        self.size += entry.size
        self.due_ms = min(self.due_ms, due_ms)

    @property
    def full(self) -> bool:
        return self.count >= self.policy.max_events


class Batcher:
    def __init__(self, flush_ms: int) -> None:
        self._flush_ms = flush_ms
        self._groups: dict[tuple[str, Hashable], Batch] = {}

    def add(self, policy: HttpPolicy, entry: Entry) -> list[Batch]:
        """Batches ready because of this row: itself when it has no key, a group it filled,
        or the group it did not fit into."""
        due_ms = entry.item.created_at + self._flush_ms
        if entry.key is None:
            alone = Batch(policy)
            alone.add(entry, due_ms)
            return [alone]
        ready = []
        name = (policy.name, entry.key)
        group = self._groups.get(name)
        if group is not None and group.entries and not group.fits(entry):
            ready.append(self._groups.pop(name))
            group = None
        if group is None:
            group = self._groups[name] = Batch(policy)
        group.add(entry, due_ms)
        if group.full:
            ready.append(self._groups.pop(name))
        return ready

    def due(self, now_ms: float) -> list[Batch]:
        """Groups whose oldest row has waited long enough, oldest first."""
        names = [name for name, group in self._groups.items() if group.due_ms <= now_ms]
        return [self._groups.pop(name) for name in names]

    def next_due_ms(self) -> float | None:
        return min((group.due_ms for group in self._groups.values()), default=None)

    def __len__(self) -> int:
        return sum(len(group.entries) for group in self._groups.values())
