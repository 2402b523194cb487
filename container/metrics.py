"""Prometheus counters for the data plane, served at `/metrics`.

Labels are bounded by configuration (containers, tags, error kinds, guard reasons), never
by visitors. Under `tagwire serve --workers N` each worker writes its figures to the
folder in PROMETHEUS_MULTIPROC_DIR and `/metrics` sums the workers' (`exposition`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, multiprocess

__all__ = [
    "GUARD_BLOCKS",
    "GUARD_FLAGGED",
    "GUARD_HELD",
    "GUARD_SPIKES",
    "HITS",
    "LANE_STUCK",
    "PII_REMOVED",
    "TAG_FAILURES",
    "TAG_OUTCOMES",
    "TAG_QUARANTINED",
    "TAG_RERUNS",
    "count_pii_removed",
    "exposition",
]

HITS = Counter("tagwire_hits", "Hits received on /collect, by outcome.", ["container", "outcome"])
TAG_OUTCOMES = Counter(
    "tagwire_tag_outcomes",
    "Tag decisions per hit: fired, blocked_by_consent, failed.",
    ["container", "tag", "outcome"],
)
TAG_FAILURES = Counter(
    "tagwire_tag_failures",
    "Failed tag runs on accepted hits, by error kind; each one is a RUN row in the outbox.",
    ["container", "tag", "kind"],
)
TAG_QUARANTINED = Gauge(
    "tagwire_tag_quarantined",
    "1 while a tag is quarantined on this node because its template keeps hitting limits.",
    ["container", "tag"],
    multiprocess_mode="livemax",  # workers quarantine on their own: 1 when any one does
)
TAG_RERUNS = Counter(
    "tagwire_tag_reruns",
    "Failed tag runs run again from their stored hit, by outcome (ran, failed, dead).",
    ["container", "tag", "outcome"],
)
LANE_STUCK = Counter(
    "tagwire_tag_lane_stuck",
    "Tag runs that went past the hard stop, blocking their container's lane until they end.",
    ["lane"],
)
PII_REMOVED = Counter(
    "tagwire_pii_removed", "Plaintext personal data removed from hits, by field.", ["field"]
)
GUARD_BLOCKS = Counter(
    "tagwire_guard_blocks",
    "Hits a guard stopped before any tag fired, by guard (bot, rate, value) and reason.",
    ["container", "guard", "reason"],
)
GUARD_FLAGGED = Counter(
    "tagwire_guard_flagged",
    "Hits a guard let through but flagged (value_policy=flag), by guard and reason.",
    ["container", "guard", "reason"],
)
GUARD_HELD = Counter(
    "tagwire_guard_held_rows",
    "Outbox rows the spike guard stored as held, waiting for an operator to release them.",
    ["container"],
)
GUARD_SPIKES = Counter(
    "tagwire_guard_spikes",
    "Volume spike episodes: an event's hits per minute over spike_multiple x its baseline.",
    ["container"],
)


def count_pii_removed(removed: Mapping[str, int]) -> None:
    """Counts what the PII firewall removed from one hit: page fields by name (`page.url`),
    the other sections as a whole (`data`, `custom`), so the label set stays bounded."""
    for field, count in removed.items():
        PII_REMOVED.labels(field if field.startswith("page.") else field.split(".")[0]).inc(count)


def exposition() -> bytes:
    """The text `/metrics` answers: this process's figures, or every worker's when the
    node runs several (gauges then keep a `pid` label unless they say how to merge)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
