"""Prometheus metrics of delivery, served at `/metrics` with the rest.

`platform` is a batching policy's name (meta, tiktok, linkedin, google_ads, ga4, or http
for webhooks and every other destination); `destination` is a host named in the loaded
containers. Both are bounded by configuration.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["BATCHES", "BATCH_SIZE", "BREAKER_STATE", "OUTCOMES", "REQUEST_SECONDS"]

BATCHES = Counter(
    "tagwire_delivery_batches", "Requests sent to platforms (a batch or a single row).",
    ["platform"],
)  # fmt: skip
BATCH_SIZE = Histogram(
    "tagwire_delivery_batch_size",
    "Outbox rows per request sent.",
    ["platform"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000),
)
REQUEST_SECONDS = Histogram(
    "tagwire_delivery_request_seconds", "Time from sending a request to its answer.",
    ["platform"],
)  # fmt: skip
OUTCOMES = Counter(
    "tagwire_delivery_outcomes",
    "Verdicts on outbox rows: sent, failed (retried later), dead, expired (older than the "
    "platform accepts, not sent), split (sent again in a smaller batch), deferred (circuit "
    "open).",
    ["platform", "outcome"],
)
BREAKER_STATE = Gauge(
    "tagwire_delivery_breaker_state",
    "Circuit breaker per destination: 0 closed, 1 half-open (probing), 2 open.",
    ["destination"],
    multiprocess_mode="livemax",  # each worker has its own breaker: the most open one
)
