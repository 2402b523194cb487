"""Turns a platform's verdict on a row into the row's Delivery: sent, failed (retried after
an exponential backoff with jitter, at least what `Retry-After` asks), or dead.

A row that gets `split` while alone in its request is dead with the platform's reason; in
a larger request it gets no Delivery and goes again in a smaller one. A retry the platform
asked to wait for (`wait`: Google Ads' TOO_RECENT_EVENT) comes `wait_ms` after its event at
the earliest, and is never dead for attempts used up before that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from config.storage import RESPONSE_LIMIT, Delivery
from container.delivery.batching import Answer, Entry, Verdict

__all__ = ["BASE_BACKOFF_S", "MAX_BACKOFF_S", "Settled", "retry_after_s", "retry_delay_s", "settle"]

BASE_BACKOFF_S = 2.0
MAX_BACKOFF_S = 900.0


def retry_after_s(value: str | None, now: float) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from `now`."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def retry_delay_s(attempts: int, retry_after: str | None, now: float, jitter: float) -> float:
    """After attempt `attempts` failed: jitter (0.5 to 1) * min(900 s, 2 s * 2^(n-1)),
    at least `Retry-After` (capped at 900 s)."""
    # int ** int is typed Any (a negative exponent gives a float), so the float is named.
    backoff: float = BASE_BACKOFF_S * 2 ** (attempts - 1)
    delay = min(MAX_BACKOFF_S, backoff) * jitter
    hinted = retry_after_s(retry_after, now)
    if hinted is not None:
        delay = max(delay, min(hinted, MAX_BACKOFF_S))
    return delay


@dataclass(frozen=True, slots=True)
class Settled:
    deliveries: list[Delivery]
    again: list[Entry]  # refused with the batch: to send again in a smaller one


def settle(
    entries: Sequence[Entry], verdicts: Sequence[Verdict], answer: Answer, *, now: float,
    max_attempts: int, jitter: float, duration_ms: int, wait_ms: int = 0,
) -> Settled:  # fmt: skip
    now_ms = int(now * 1000)
    alone = len(entries) == 1
    deliveries: list[Delivery] = []
    again: list[Entry] = []
    for entry, verdict in zip(entries, verdicts, strict=True):
        if verdict.outcome == "split" and not alone:
            again.append(entry)
            continue
        item = entry.item
        reason = verdict.reason
        if verdict.outcome == "split":
            reason = reason or "refused by the platform"
        text = f"{reason} | {answer.text}" if reason and answer.text else reason or answer.text
        response = text[:RESPONSE_LIMIT]
        state, next_at = "dead", now_ms
        not_before = item.event_time_ms + wait_ms if verdict.outcome == "wait" else 0
        if verdict.outcome == "sent":
            state = "sent"
        elif verdict.outcome in ("retry", "wait") and (
            item.attempts + 1 < max_attempts or not_before > now_ms
        ):
            delay = retry_delay_s(item.attempts + 1, answer.retry_after, now, jitter)
            state, next_at = "failed", max(now_ms + int(delay * 1000), not_before)
        deliveries.append(
            Delivery(item.id, state, answer.status, response, next_at, now_ms,
                     duration_ms, len(entries))
        )  # fmt: skip
    return Settled(deliveries, again)
