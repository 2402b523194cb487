"""Batching for APIs whose body is an envelope around a list of events (Meta's `data`,
TikTok's `data`, Google Ads' `conversions`).

Rows share a request when their method, URL, headers and every envelope field (token, test
code, partialFailure, validateOnly, ...) are identical; the merged body is that envelope
with the rows' lists concatenated in order. A row whose body is not such an envelope is
sent alone, as queued.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from config.storage import OutboxItem
from container.delivery.batching.policy import Entry, HttpPolicy, Request, parse_json

__all__ = ["EnvelopePolicy", "owners"]


class EnvelopePolicy(HttpPolicy):
    list_field = "data"

    def batchable(self, item: OutboxItem) -> bool:
        """Whether this endpoint takes batches (an origin may also serve other calls)."""
        return item.method == "POST"

    def entry(self, item: OutboxItem) -> Entry:
        body = parse_json(item.body)
        if not isinstance(body, dict):
            return Entry(item, None)
        events = body.get(self.list_field)
        if not isinstance(events, list) or not events:
            return Entry(item, None)
        envelope = {k: v for k, v in body.items() if k != self.list_field}
        key = None
        if self.batchable(item):
            shared = orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS)
            key = (item.method, item.url, item.headers, shared)
        return Entry(item, key, len(events), (envelope, events))

    def merge(self, entries: Sequence[Entry]) -> Request:
        if len(entries) == 1:
            return super().merge(entries)
        first = entries[0].item
        envelope, _ = entries[0].payload
        events = [event for entry in entries for event in entry.payload[1]]
        body = orjson.dumps({**envelope, self.list_field: events})
        return Request(first.method, first.url, orjson.loads(first.headers), body)


def owners(entries: Sequence[Entry]) -> list[int]:
    """For each element of the merged list, the index of the entry it came from."""
    return [index for index, entry in enumerate(entries) for _ in range(entry.count)]
