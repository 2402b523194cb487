"""The sender's sense of time, injectable so tests can drive backoff, breakers and rate
limits without waiting on the wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic as _monotonic
from time import time as _wall

__all__ = ["SYSTEM_CLOCK", "Clock"]


@dataclass(frozen=True, slots=True)
class Clock:
    """`time`: Unix seconds (stored timestamps, event ages, breaker reopen times);
    `monotonic` and `sleep`: pacing requests under a rate limit."""

    time: Callable[[], float] = _wall
    monotonic: Callable[[], float] = _monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def now_ms(self) -> int:
        return int(self.time() * 1000)


SYSTEM_CLOCK = Clock()
