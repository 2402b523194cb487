"""Opt-in array bodies for webhooks: rows for a receiver that accepts a JSON array of
events share one request.

A row opts in with the header `x-tagwire-batch: array` (the `webhook` template sets it when
its `batch` parameter is on), optionally `array;max=N` for at most N events per request
(1 to 1,000, default 100). The header is tagwire's own: it is never sent.

- Rows share a request when their method, URL and headers (the marker included) are the
  same; the body is `[<row 1 body>,<row 2 body>,…]`, each row's stored JSON as queued,
  in claim order. A request holds at most `max` events and 1 MB. Even a row alone is sent
  as a one-element array, so the receiver always gets the same shape; a retry sends the
  rows' same bytes, though not always with the same neighbours.
- A row whose body is not JSON cannot go in an array: it is sent alone, as queued.
- The answer is the HTTP status, for every row of the request: 2xx sent; 408, 429, 5xx and
  transport errors retried (all rows draw the same backoff, so they come due together
  and are batched again); 400, 413 and 422, which say something in the body is wrong,
  split the batch in halves until the row at fault is alone, and that row is dead with
  the status; any other status (3xx, 401, 403, 404, …) is about the URL or the
  credentials, not an event, so every row is dead at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import orjson

from config.storage import OutboxItem
from container.delivery.batching import Answer, Entry, HttpPolicy, Request, Verdict
from container.delivery.batching.policy import every, http_outcome

__all__ = ["DEFAULT_MAX", "MARK", "MAX_BYTES", "MAX_EVENTS", "ArrayPolicy", "array_policy"]

MARK = "x-tagwire-batch"
DEFAULT_MAX = 100
MAX_EVENTS = 1000
MAX_BYTES = 1_000_000
SPLIT_STATUSES = frozenset({400, 413, 422})

# The marker as it appears in a row's stored headers (a JSON object), any case.
_MARKED = re.compile(rb'"x-tagwire-batch"\s*:\s*"([^"]*)"', re.IGNORECASE)
_VALUE = re.compile(r"\s*array\s*(?:;\s*max\s*=\s*(\d{1,6})\s*)?", re.IGNORECASE)


class ArrayPolicy(HttpPolicy):
    """The generic HTTP answer rules, with rows merged into one JSON array."""

    name = "http"  # metrics and logs: webhooks stay `http`
    max_bytes = MAX_BYTES

    def __init__(self, max_events: int = DEFAULT_MAX) -> None:
        self.max_events = max_events

    def entry(self, item: OutboxItem) -> Entry:
        try:
            orjson.loads(item.body)
        except orjson.JSONDecodeError:
            return Entry(item, None, 1, False)  # alone, as queued
        return Entry(item, (item.method, item.url, item.headers), 1, True)

    def merge(self, entries: Sequence[Entry]) -> Request:
        first = entries[0].item
        headers = {k: v for k, v in orjson.loads(first.headers).items() if k.lower() != MARK}
        if len(entries) == 1 and not entries[0].payload:
            return Request(first.method, first.url, headers, first.body)
        body = b"[" + b",".join(entry.item.body for entry in entries) + b"]"
        return Request(first.method, first.url, headers, body)

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        outcome = http_outcome(answer.status)
        if outcome == "dead" and len(entries) > 1 and answer.status in SPLIT_STATUSES:
            return every(entries, Verdict("split", f"refused with its batch ({answer.status})"))
        return every(entries, Verdict(outcome))


@lru_cache(maxsize=64)
def _policy(max_events: int) -> ArrayPolicy:
    return ArrayPolicy(max_events)


def array_policy(headers: bytes) -> ArrayPolicy | None:
    """The array policy a row's stored headers ask for; None without the marker or with a
    value other than `array` / `array;max=N` (the row is then sent as queued, the header
    with it)."""
    found = _MARKED.search(headers)
    if found is None:
        return None
    value = _VALUE.fullmatch(found.group(1).decode("ascii", "replace"))
    if value is None:
        return None
    limit = int(value.group(1)) if value.group(1) else DEFAULT_MAX
    return _policy(min(MAX_EVENTS, max(1, limit)))
