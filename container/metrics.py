"""Prometheus counters for the data plane, served at `/metrics`.

Labels are bounded by configuration (containers, tags, error kinds), never by visitors.
"""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["HITS", "PII_REMOVED", "TAG_OUTCOMES"]

HITS = Counter("tagwire_hits", "Hits received on /collect, by outcome.", ["container", "outcome"])
TAG_OUTCOMES = Counter(
    "tagwire_tag_outcomes",
    "Tag decisions per hit: fired, blocked_by_consent, failed.",
    ["container", "tag", "outcome"],
)
PII_REMOVED = Counter(
    "tagwire_pii_removed", "Plaintext personal data removed from hits, by field.", ["field"]
)
