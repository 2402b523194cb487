"""LinkedIn Conversions API: single creates merged into one BATCH_CREATE of up to 5,000.

A queued row is one conversion (`POST /rest/conversionEvents`); several with the same token
and headers become `{"elements": [...]}` with `X-RestLi-Method: BATCH_CREATE`. LinkedIn
answers a batch with one status per element, or refuses it whole and names the elements at
fault: the 422 validator prefixes each element's lines with `Index: N, `, the 90-day window
lists `indices [..]`. Those rows are dead with their own message; the others are sent again
without them. An unknown conversion rule (403) names no element: the batch is split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from config.storage import OutboxItem
from container.delivery.batching.policy import (
    Answer,
    Entry,
    HttpPolicy,
    Request,
    Verdict,
    every,
    http_outcome,
    parse_json,
)

__all__ = ["LinkedInPolicy"]

ORIGIN = "https://api.linkedin.com/"
URL = ORIGIN + "rest/conversionEvents"
METHOD_HEADER = "x-restli-method"
INDEX = re.compile(r"Index: (\d+), ")
INDICES = re.compile(r"indices \[([\d, ]*)\]")
DAY_MS = 86_400_000


class LinkedInPolicy(HttpPolicy):
    name = "linkedin"
    max_events = 5000
    max_bytes = 2_000_000  # LinkedIn publishes no byte limit: tagwire's cap
    max_age_ms = 90 * DAY_MS

    def matches(self, url: str) -> bool:
        return url.startswith(ORIGIN)

    def entry(self, item: OutboxItem) -> Entry:
        if item.method != "POST" or item.url != URL:
            return Entry(item, None)
        headers = orjson.loads(item.headers)
        method = next((v for k, v in headers.items() if k.lower() == METHOD_HEADER), "CREATE")
        body = parse_json(item.body)
        if method != "CREATE" or not isinstance(body, dict):
            return Entry(item, None)
        return Entry(item, (item.method, item.url, item.headers), 1, body)

    def merge(self, entries: Sequence[Entry]) -> Request:
        if len(entries) == 1:
            return super().merge(entries)
        first = entries[0].item
        headers = {k: v for k, v in orjson.loads(first.headers).items()
                   if k.lower() != METHOD_HEADER}  # fmt: skip
        headers["X-RestLi-Method"] = "BATCH_CREATE"
        body = orjson.dumps({"elements": [entry.payload for entry in entries]})
        return Request(first.method, first.url, headers, body)

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        outcome = http_outcome(answer.status)
        if len(entries) == 1:
            return every(entries, Verdict(outcome))
        body = parse_json(answer.text)
        message = body.get("message", "") if isinstance(body, dict) else ""
        if outcome == "sent":
            return _elements(body, len(entries))
        if answer.status == 422 and isinstance(message, str):
            return _named(_validation(message), len(entries))
        late = (
            INDICES.search(message) if answer.status == 400 and isinstance(message, str) else None
        )
        if late:
            numbers = late.group(1).replace(" ", "").split(",")
            return _named({int(n): message for n in numbers if n}, len(entries))
        if answer.status in (403, 413):
            return every(entries, Verdict("split", f"LinkedIn {answer.status}: {message}"))
        return every(entries, Verdict(outcome))


def _elements(body: Any, size: int) -> list[Verdict]:
    """Per-element statuses of a BATCH_CREATE; an element not listed counts as created."""
    elements = body.get("elements") if isinstance(body, dict) else None
    if not isinstance(elements, list):
        return [Verdict("sent")] * size
    verdicts = []
    for index in range(size):
        element = elements[index] if index < len(elements) else {}
        status = element.get("status", 201) if isinstance(element, dict) else 201
        outcome = http_outcome(status if isinstance(status, int) else 201)
        reason = None
        if outcome != "sent":
            error = element.get("error") or element
            detail = error.get("message", "") if isinstance(error, dict) else ""
            reason = f"LinkedIn element status {status}: {detail}"
        verdicts.append(Verdict(outcome, reason))
    return verdicts


def _validation(message: str) -> dict[int, str]:
    """Rest.li's 422 lines per element index (a line without a prefix continues the last)."""
    found: dict[int, list[str]] = {}
    current = None
    for line in message.splitlines():
        match = INDEX.match(line)
        if match:
            current = int(match.group(1))
            line = line[match.end() :]
        if current is not None and line.strip():
            found.setdefault(current, []).append(line.strip())
    return {index: "; ".join(lines) for index, lines in found.items()}


def _named(reasons: dict[int, str], size: int) -> list[Verdict]:
    """The named elements are dead; the others were refused with them and go again."""
    if not any(index < size for index in reasons):
        return [Verdict("split", "LinkedIn refused the batch")] * size
    return [
        Verdict("dead", f"LinkedIn: {reasons[i]}") if i in reasons else Verdict("split")
        for i in range(size)
    ]
