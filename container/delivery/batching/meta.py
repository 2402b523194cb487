"""Meta Conversions API: up to 1,000 events per request in `data`.

Meta refuses the whole request for one bad event (HTTP 400, code 100, an `error_subcode`
such as 2804003 "Event Timestamp Too Old") and does not say which one: such a batch is
split and sent again in halves until the bad event is alone. Throttling answers (code 4,
17, 613 ... or `is_transient`) are retried; a bad token, a retired API version or an
unknown pixel refuses every event alike and is dead at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from config.storage import OutboxItem
from container.delivery.batching.envelope import EnvelopePolicy
from container.delivery.batching.policy import (
    Answer,
    Entry,
    Verdict,
    every,
    http_outcome,
    parse_json,
)

__all__ = ["MetaPolicy"]

URL = re.compile(r"https://graph\.facebook\.com/v[0-9.]+/[^/?]+/events(\?.*)?")
# Graph API error codes for throttling and temporary unavailability.
TRANSIENT = frozenset({1, 2, 4, 17, 32, 341, 613, 80004})
INVALID_PARAMETER = 100
NO_SUCH_OBJECT = 33  # subcode: the pixel does not exist or the token may not use it
DAY_MS = 86_400_000


class MetaPolicy(EnvelopePolicy):
    name = "meta"
    list_field = "data"
    max_events = 1000
    max_bytes = 2_000_000  # Meta publishes no byte limit: tagwire's cap
    # 7 days is Meta's rule for website events; other action sources are not confirmed to
    # get longer, so every event is held to it.
    max_age_ms = 7 * DAY_MS

    def matches(self, url: str) -> bool:
        return url.startswith("https://graph.facebook.com/")

    def batchable(self, item: OutboxItem) -> bool:
        return item.method == "POST" and URL.fullmatch(item.url) is not None

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        outcome = http_outcome(answer.status)
        if outcome != "dead":
            return every(entries, Verdict(outcome))
        error = _error(parse_json(answer.text))
        if error is None:
            return every(entries, Verdict("dead"))
        code, subcode = error.get("code"), error.get("error_subcode")
        shown = f"{code}/{subcode}" if subcode is not None else f"{code}"
        message = error.get("error_user_msg") or error.get("message", "")
        reason = f"Meta code {shown}: {message}"
        if error.get("is_transient") is True or code in TRANSIENT:
            return every(entries, Verdict("retry", reason))
        if (code == INVALID_PARAMETER and subcode != NO_SUCH_OBJECT) or answer.status == 413:
            return every(entries, Verdict("split", reason))
        return every(entries, Verdict("dead", reason))


def _error(answer: Any) -> dict[str, Any] | None:
    error = answer.get("error") if isinstance(answer, dict) else None
    return error if isinstance(error, dict) else None
