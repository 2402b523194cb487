"""Google Ads API click conversions: up to 2,000 per `uploadClickConversions` request.

With `partialFailure: true` (required) a bad conversion fails alone: the answer is HTTP 200
with a `partialFailureError` whose errors point at `conversions[i]`, so each row gets its own
verdict: dead, or, for a click too recent to take a conversion (`TOO_RECENT_EVENT`), a
retry once the click is old enough. A body that does not parse (a wrong type, an unknown
field) refuses the whole request with HTTP 400, naming `conversions[i]` in its field
violations: those rows are dead and the others are sent again without them. Credentials
and quota problems apply to every row alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from config.storage import OutboxItem
from container.delivery.batching.envelope import EnvelopePolicy, owners
from container.delivery.batching.policy import (
    Answer,
    Entry,
    Outcome,
    Verdict,
    every,
    http_outcome,
    parse_json,
)

__all__ = ["GoogleAdsPolicy"]

ORIGIN = "https://googleads.googleapis.com/"
UPLOAD = re.compile(r"https://googleads\.googleapis\.com/v\d+/customers/\d+:uploadClickConversions")
ROW = re.compile(r"conversions\[(\d+)\]")
DAY_MS = 86_400_000
TOO_RECENT = "conversionUploadError TOO_RECENT_EVENT:"


class GoogleAdsPolicy(EnvelopePolicy):
    name = "google_ads"
    list_field = "conversions"
    max_events = 2000
    max_bytes = 2_000_000  # Google publishes no byte limit for this call: tagwire's cap
    max_age_ms = 90 * DAY_MS  # the longest click-through window; a shorter one is per action
    # TOO_RECENT_EVENT: a click must be 6 hours old before it takes a conversion. The click
    # came before the event, so 6 hours after the event (and a quarter hour for clock skew)
    # is always late enough.
    wait_ms = (6 * 60 + 15) * 60_000

    def matches(self, url: str) -> bool:
        return url.startswith(ORIGIN)

    def batchable(self, item: OutboxItem) -> bool:
        return item.method == "POST" and UPLOAD.fullmatch(item.url) is not None

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        outcome = http_outcome(answer.status)
        body = parse_json(answer.text)
        if outcome == "sent":
            failure = body.get("partialFailureError") if isinstance(body, dict) else None
            if not failure:
                return every(entries, Verdict("sent"))
            return _partial(failure, entries)
        if answer.status in (400, 413) and isinstance(body, dict):
            return _refused(body.get("error"), entries, answer.status)
        return every(entries, Verdict(outcome))


def _partial(failure: Any, entries: Sequence[Entry]) -> list[Verdict]:
    message = failure.get("message", "") if isinstance(failure, dict) else ""
    errors = _row_errors(failure)
    if not errors:
        # nothing says which row failed: find it by sending smaller batches
        return every(entries, Verdict("split", f"Google Ads partial failure: {message}"))
    owner = owners(entries)
    verdicts: dict[int, Verdict] = {}
    for index, text in errors:
        if index >= len(owner) or owner[index] in verdicts:
            continue
        outcome: Outcome = "wait" if text.startswith(TOO_RECENT) else "dead"
        verdicts[owner[index]] = Verdict(outcome, f"Google Ads partial failure: {text}")
    return [verdicts.get(i, Verdict("sent")) for i in range(len(entries))]


def _row_errors(failure: Any) -> list[tuple[int, str]]:
    """(index in `conversions`, "<kind> <code>: <message>") for each error with a location."""
    details = failure.get("details") if isinstance(failure, dict) else None
    found = []
    for detail in details if isinstance(details, list) else []:
        for error in detail.get("errors", []) if isinstance(detail, dict) else []:
            path = error.get("location", {}).get("fieldPathElements", [])
            if not path or path[0].get("fieldName") != "conversions" or "index" not in path[0]:
                continue
            codes = error.get("errorCode", {})
            code = " ".join(f"{k} {v}" for k, v in codes.items()) if codes else "error"
            found.append((int(path[0]["index"]), f"{code}: {error.get('message', '')}"))
    return found


def _refused(error: Any, entries: Sequence[Entry], status: int) -> list[Verdict]:
    if not isinstance(error, dict):
        return every(entries, Verdict("dead"))
    message = error.get("message", "")
    if status == 413 or "TOO_MANY_CONVERSIONS_IN_REQUEST" in str(error.get("details")):
        return every(entries, Verdict("split", f"Google Ads: {message}"))
    violations = [
        v
        for detail in error.get("details", [])
        if isinstance(detail, dict)
        for v in detail.get("fieldViolations", [])
    ]
    matches = [ROW.match(str(v.get("field", ""))) for v in violations]
    rows = [(int(m.group(1)), v) for m, v in zip(matches, violations, strict=True) if m]
    if not violations or len(rows) < len(violations):
        # a problem outside the conversions (or unnamed) refuses every row alike
        return every(entries, Verdict("dead", f"Google Ads: {message}"))
    owner = owners(entries)
    reasons: dict[int, str] = {}
    for index, violation in rows:
        if index < len(owner):
            reasons.setdefault(owner[index], f"Google Ads: {violation.get('description', '')}")
    return [
        Verdict("dead", reasons[i]) if i in reasons else Verdict("split")
        for i in range(len(entries))
    ]
