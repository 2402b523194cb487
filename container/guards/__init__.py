"""Guards between hits and platforms: bots, rate limits, volume spikes, impossible values.

One module per guard; each is pure or keeps bounded state in this process. Rate limits
count per process; the spike detector's counts are shared through the store
(`spike_sync`), so all nodes judge one traffic (docs/guards.md). `Guards` is the set one
node runs, built from its settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from container.guards.bot import BotFilter
from container.guards.rates import RateLimiter, RateLimits
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard

__all__ = ["Guards"]


@dataclass(frozen=True, slots=True)
class Guards:
    bots: BotFilter | None  # None: bot_filter is off
    rates: RateLimits
    spikes: SpikeDetector
    value: ValueGuard

    @classmethod
    def from_settings(cls, settings: Settings, start_ms: int) -> Guards:
        """`start_ms`: now, when the node starts (the spike warm-up)."""
        per_ip, per_client = settings.max_hits_per_ip_minute, settings.max_hits_per_client_minute
        return cls(
            bots=BotFilter() if settings.bot_filter else None,
            rates=RateLimits(
                RateLimiter(per_ip) if per_ip > 0 else None,
                RateLimiter(per_client) if per_client > 0 else None,
            ),
            spikes=SpikeDetector(settings.spike_multiple, settings.spike_min_events, start_ms),
            value=ValueGuard(settings.value_max, settings.value_policy),
        )
