"""Quarantine: a tag whose template keeps hitting its limits stops running for a while.

A run that exceeds its cost budget, memory, depth or output limits, or the wall-clock
safety net (or fails after spending the default budget's worth), costs the node its
whole allowance; a template that does it on every hit would make every hit of its
container that expensive. After `STRIKES` such runs in a
row the tag is quarantined: its runs are recorded as failed runs whose reason starts
with `quarantined:` (kind `limit`, or `deadline` when the safety net put it there, so
those are retried), never silently skipped, without running. When the period ends one
run is let through as a probe: success ends the quarantine, a limit failure starts a
period twice as long (up to `LONGEST_S`). A new version of the container starts with a
clean slate.

One instance per compiled container, used from one thread at a time (see
container/pipeline.py), so it needs no lock. The `tagwire_tag_quarantined` gauge and a
warning log line make it alertable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from container.metrics import TAG_QUARANTINED
from tags.limits import DEFAULTS

__all__ = [
    "EXPENSIVE_UNITS",
    "LIMIT_KINDS",
    "LONGEST_S",
    "PERIOD_S",
    "STRIKES",
    "Quarantine",
    "Quarantined",
]

log = logging.getLogger("tagwire.quarantine")

LIMIT_KINDS = frozenset({"budget", "limit", "deadline"})
# A failed run at least this dear counts like a limit (the default cost budget).
EXPENSIVE_UNITS = DEFAULTS.instructions
STRIKES = 5
PERIOD_S = 60.0
LONGEST_S = 900.0


@dataclass(slots=True)
class Quarantined:
    """A tag in quarantine: until when (monotonic seconds), why, and since when (epoch ms)."""

    until: float
    period_s: float
    kind: str
    reason: str
    since_ms: int
    probing: bool = False


class Quarantine:
    def __init__(self, container_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._container = container_id
        self._clock = clock
        self._strikes: dict[str, int] = {}
        self._tags: dict[str, Quarantined] = {}

    def holds(self, tag_id: str) -> Quarantined | None:
        """The quarantine that keeps this run from happening, or None: run it (a tag whose
        period is over gets one probe run; the rest wait for its outcome)."""
        entry = self._tags.get(tag_id)
        if entry is None:
            return None
        if entry.probing or self._clock() < entry.until:
            return entry
        entry.probing = True
        return None

    def not_run(self, tag_id: str) -> None:
        """The run `holds` let through did not happen after all (it was moved elsewhere
        before the template ran to its end): a probe it started is open again."""
        entry = self._tags.get(tag_id)
        if entry is not None:
            entry.probing = False

    def outcome(self, tag_id: str, kind: str | None, message: str = "", cost: int = 0) -> None:
        """Count a run that happened: `kind` None when it succeeded; `cost` its budget
        units. A failure that cost `EXPENSIVE_UNITS` or more counts like a limit, or a
        template could spend its whole raised budget and then fail on purpose forever."""
        if kind is None or (kind not in LIMIT_KINDS and cost < EXPENSIVE_UNITS):
            self._strikes.pop(tag_id, None)
            if self._tags.pop(tag_id, None) is not None:
                TAG_QUARANTINED.labels(self._container, tag_id).set(0)
                log.warning(
                    "tag left quarantine",
                    extra={"fields": {"container": self._container, "tag": tag_id}},
                )
            return
        entry = self._tags.get(tag_id)
        if entry is not None:
            period = min(entry.period_s * 2, LONGEST_S)
        else:
            strikes = self._strikes.get(tag_id, 0) + 1
            self._strikes[tag_id] = strikes
            if strikes < STRIKES:
                return
            period = PERIOD_S
        self._tags[tag_id] = Quarantined(
            self._clock() + period, period, kind, message, int(time.time() * 1000)
        )
        TAG_QUARANTINED.labels(self._container, tag_id).set(1)
        log.warning(
            "tag quarantined: its template keeps hitting its limits",
            extra={"fields": {"container": self._container, "tag": tag_id, "kind": kind,
                              "reason": message, "period_s": period}},
        )  # fmt: skip

    def snapshot(self) -> list[dict[str, object]]:
        """The quarantined tags, for `/readyz` and operators."""
        return [
            {"tag": tag_id, "kind": entry.kind, "reason": entry.reason,
             "since_ms": entry.since_ms, "period_s": entry.period_s}
            for tag_id, entry in sorted(self._tags.items())
        ]  # fmt: skip
