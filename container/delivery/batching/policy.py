"""What every batching policy shares: the request, the answer, the verdict per row.

A policy knows one platform's endpoint: which queued requests may share one request (the
batch key), how many and how large a batch may be, how to merge them, and what the
platform's answer means for each row. The base `HttpPolicy` never batches and reads only
the HTTP status: webhooks and every destination no policy knows get exactly that.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import orjson

from config.storage import OutboxItem

__all__ = [
    "Answer",
    "Entry",
    "HttpPolicy",
    "Outcome",
    "Request",
    "Verdict",
    "every",
    "http_outcome",
    "parse_json",
]

# sent: delivered; retry: try again later; dead: never retry; split: the request was
# refused as a whole for an element that is not (or not only) this one, so send the row
# again in a smaller batch. A row alone that gets `split` is dead with the verdict's reason.
# wait: the platform takes the row only some time after its event (`HttpPolicy.wait_ms`):
# retry then, and not dead for attempts used up before.
Outcome = Literal["sent", "retry", "dead", "split", "wait"]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    """A platform's answer; `status` None is a transport error described in `text`."""

    status: int | None
    text: str
    retry_after: str | None = None


class Verdict(NamedTuple):
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A claimed row as its policy sees it: `key` None sends it alone; `count` is how many
    platform elements (events, conversions) it adds to a batch; `payload` is the parsed
    form the policy merges."""

    item: OutboxItem
    key: Hashable | None
    count: int = 1
    payload: Any = None

    @property
    def size(self) -> int:
        return len(self.item.body)


def http_outcome(status: int | None) -> Outcome:
    """2xx is sent; 408, 429, 5xx and transport errors are retried; the rest is dead."""
    if status is not None and 200 <= status < 300:
        return "sent"
    if status is None or status in (408, 429) or status >= 500:
        return "retry"
    return "dead"


def every(entries: Sequence[Entry], verdict: Verdict) -> list[Verdict]:
    return [verdict] * len(entries)


def parse_json(text: str | bytes) -> Any:
    """The parsed JSON, or None when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


class HttpPolicy:
    """Never batched; the HTTP status decides. Platform policies override what they know."""

    name = "http"
    max_events = 1
    max_bytes = 0  # no cap: a request alone is sent as queued
    max_age_ms: int | None = None
    wait_ms: int = 0  # after the event, for rows the platform answers `wait`

    def matches(self, url: str) -> bool:
        return True

    def entry(self, item: OutboxItem) -> Entry:
        return Entry(item, None)

    def merge(self, entries: Sequence[Entry]) -> Request:
        """One row is sent exactly as queued (a retry sends the same bytes)."""
        (entry,) = entries
        item = entry.item
        return Request(item.method, item.url, orjson.loads(item.headers), item.body)

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        return every(entries, Verdict(http_outcome(answer.status)))
