"""TikTok Events API 2.0: up to 1,000 events per request in `data`.

TikTok answers HTTP 200 even when it refuses a request; the verdict is `code` (0 is OK).
Invalid parameters (40002) refuse the whole batch for one bad event: the batch is split.
Rate limits and system errors (40100, 50000, 50002) are retried; any other code (bad
token, no permission for the pixel) refuses every event alike and is dead.
"""

from __future__ import annotations

from collections.abc import Sequence

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

__all__ = ["TikTokPolicy"]

ORIGIN = "https://business-api.tiktok.com/"
TRACK = ORIGIN + "open_api/v1.3/event/track/"
TRANSIENT = frozenset({40100, 50000, 50002})
INVALID_PARAMETERS = 40002
DAY_MS = 86_400_000


class TikTokPolicy(EnvelopePolicy):
    name = "tiktok"
    list_field = "data"
    max_events = 1000
    max_bytes = 2_000_000  # TikTok publishes no byte limit: tagwire's cap
    max_age_ms = 7 * DAY_MS  # TikTok's own limit is not published; its fake uses 7 days

    def matches(self, url: str) -> bool:
        return url.startswith(ORIGIN)

    def batchable(self, item: OutboxItem) -> bool:
        return item.method == "POST" and item.url == TRACK

    def read(self, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
        outcome = http_outcome(answer.status)
        if outcome != "sent":
            return every(entries, Verdict(outcome))
        body = parse_json(answer.text)
        if not isinstance(body, dict) or body.get("code", 0) == 0:
            return every(entries, Verdict("sent"))
        code = body.get("code")
        reason = f"TikTok code {code}: {body.get('message', '')}"
        if code in TRANSIENT:
            return every(entries, Verdict("retry", reason))
        if code == INVALID_PARAMETERS:
            return every(entries, Verdict("split", reason))
        return every(entries, Verdict("dead", reason))
