"""What the sender keeps per destination (host): a concurrency limit, an optional rate
limit and a circuit breaker.

Defaults: as many requests in flight as the node's `sender_concurrency`, no rate limit.
`DESTINATION_LIMITS` lowers them where a platform publishes a limit; the Sender takes
another mapping to change them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from container.delivery import metrics
from container.delivery.breaker import Breaker, BreakerSettings, State
from container.delivery.clock import Clock
from container.delivery.ratelimit import Rate, TokenBucket

__all__ = ["DESTINATION_LIMITS", "Destination", "DestinationLimits", "Destinations"]


@dataclass(frozen=True, slots=True)
class DestinationLimits:
    concurrency: int | None = None  # None: the node's sender_concurrency
    rate: Rate | None = None


DESTINATION_LIMITS: Mapping[str, DestinationLimits] = {
    # LinkedIn's Conversions API allows 600 requests a minute per application.
    "api.linkedin.com": DestinationLimits(rate=Rate(600, 60.0)),
}


class Destination:
    def __init__(
        self, name: str, concurrency: int, limits: DestinationLimits,
        breaker: BreakerSettings, clock: Clock,
    ) -> None:  # fmt: skip
        self.name = name
        self.slots = asyncio.Semaphore(limits.concurrency or concurrency)
        self._bucket = TokenBucket(limits.rate, clock) if limits.rate else None
        gauge = metrics.BREAKER_STATE.labels(name)
        gauge.set(State.CLOSED)
        self.breaker = Breaker(breaker, clock, on_change=gauge.set)

    async def pace(self) -> None:
        """Wait for the rate limit's next start time (at once when there is none)."""
        if self._bucket is not None:
            await self._bucket.acquire()


class Destinations:
    """Created on first use: hosts come from the loaded containers, so they are bounded."""

    def __init__(
        self, concurrency: int, limits: Mapping[str, DestinationLimits],
        breaker: BreakerSettings, clock: Clock,
    ) -> None:  # fmt: skip
        self._concurrency = concurrency
        self._limits = limits
        self._breaker = breaker
        self._clock = clock
        self._known: dict[str, Destination] = {}

    def __getitem__(self, name: str) -> Destination:
        found = self._known.get(name)
        if found is None:
            limits = self._limits.get(name, DestinationLimits())
            found = Destination(name, self._concurrency, limits, self._breaker, self._clock)
            self._known[name] = found
        return found
