"""A token bucket per destination: requests start at most `requests` per `per_s` seconds.

Implemented as GCRA (the bucket's "theoretical arrival time") in whole microseconds, so
each caller reserves its start time synchronously, callers are served in the order they
asked, and the spacing is exact: with `burst` 1, any window of `per_s` seconds holds at
most `requests` starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from container.delivery.clock import SYSTEM_CLOCK, Clock

__all__ = ["Rate", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Rate:
    requests: int
    per_s: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_s <= 0 or self.burst < 1:
            raise ValueError(f"a rate needs requests >= 1, per_s > 0 and burst >= 1: {self}")


class TokenBucket:
    def __init__(self, rate: Rate, clock: Clock = SYSTEM_CLOCK) -> None:
        self._interval = round(rate.per_s * 1_000_000 / rate.requests)
        self._tolerance = self._interval * (rate.burst - 1)
        self._clock = clock
        self._tat = 0

    def reserve(self) -> float:
        """Take the next start time; how many seconds from now it is."""
        now = round(self._clock.monotonic() * 1_000_000)
        tat = max(self._tat, now)
        start = max(now, tat - self._tolerance)
        self._tat = tat + self._interval
        return (start - now) / 1_000_000

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._clock.sleep(wait)
