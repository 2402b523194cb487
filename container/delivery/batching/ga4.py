"""GA4 Measurement Protocol: never batched.

One request carries one `client_id`, one `timestamp_micros`, one consent state and one
`user_data`, so only events of the same visitor could share it, and merging would mean
moving each hit's timestamp into its events. Within a flush interval a visitor rarely has
two events, and the collection endpoint drops what it dislikes silently, so a merge
mistake would be invisible: tagwire sends each request as queued. The validation endpoint
(`/debug/mp/collect`) reports problems in a 200 answer, which makes the row dead.
"""

from __future__ import annotations

from collections.abc import Sequence

from container.delivery.batching.policy import (
    Answer,
    Entry,
    HttpPolicy,
    Verdict,
    every,
    http_outcome,
    parse_json,
)

__all__ = ["Ga4Policy"]

ORIGINS = ("https://www.google-analytics.com/", "https://region1.google-analytics.com/")
DEBUG = tuple(origin + "debug/mp/collect" for origin in ORIGINS)
HOUR_MS = 3_600_000


class Ga4Policy(HttpPolicy):
    name = "ga4"
    max_age_ms = 72 * HOUR_MS

    def matches(self, url: str) -> bool:
        return url.startswith(ORIGINS)

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        outcome = http_outcome(answer.status)
        if outcome != "sent" or not entries[0].item.url.startswith(DEBUG):
            return every(entries, Verdict(outcome))
        body = parse_json(answer.text)
        messages = body.get("validationMessages") if isinstance(body, dict) else None
        if not messages:
            return every(entries, Verdict("sent"))
        first = messages[0]
        text = first.get("description", "") if isinstance(first, dict) else ""
        return every(entries, Verdict("dead", f"GA4 validation: {text}"))
