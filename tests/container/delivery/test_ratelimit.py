"""The token bucket, driven by a clock the test owns: order and counts per window."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from container.delivery.clock import Clock
from container.delivery.ratelimit import Rate, TokenBucket

pytestmark = pytest.mark.anyio


class Paced:
    """A monotonic clock that stands still: every caller reserves at the same instant, and
    its start time is that instant plus the wait the bucket gave it."""

    def __init__(self) -> None:
        self.now = 1000.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)

    @property
    def clock(self) -> Clock:
        return Clock(monotonic=lambda: self.now, sleep=self.sleep)


async def starts(rate: Rate, callers: int) -> tuple[Paced, list[tuple[int, int]]]:
    paced = Paced()
    bucket = TokenBucket(rate, paced.clock)
    granted: list[tuple[int, int]] = []

    async def call(index: int) -> None:
        wait = bucket.reserve()
        await paced.sleep(wait)
        granted.append((index, round(wait * 1_000_000)))  # start, µs after the first

    await asyncio.gather(*(call(i) for i in range(callers)))
    return paced, granted


async def test_linkedin_rate_600_a_minute_in_order_and_per_window() -> None:
    _, granted = await starts(Rate(600, 60.0), 1500)
    assert [index for index, _ in sorted(granted, key=lambda g: g[1])] == list(range(1500))
    times = sorted(at for _, at in granted)
    per_minute = Counter(at // 60_000_000 for at in times)
    assert per_minute == {0: 600, 1: 600, 2: 300}
    # sliding windows too: the 601st start is a full minute after the first
    assert all(times[i + 600] - times[i] >= 60_000_000 for i in range(len(times) - 600))
    assert times[1] - times[0] == 100_000


async def test_a_burst_lets_that_many_start_at_once() -> None:
    _, granted = await starts(Rate(10, 1.0, burst=5), 7)
    times = sorted(at for _, at in granted)
    assert times == [0, 0, 0, 0, 0, 100_000, 200_000]


async def test_an_idle_bucket_does_not_save_up_more_than_its_burst() -> None:
    paced = Paced()
    bucket = TokenBucket(Rate(1, 1.0), paced.clock)
    assert bucket.reserve() == 0
    paced.now += 3600
    assert bucket.reserve() == 0
    assert bucket.reserve() == pytest.approx(1.0)


def test_a_rate_needs_positive_numbers() -> None:
    with pytest.raises(ValueError, match="requests >= 1"):
        Rate(0, 60.0)
