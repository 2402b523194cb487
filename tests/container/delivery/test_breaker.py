"""The circuit breaker: opens after consecutive failures, one probe, closes or reopens."""

from __future__ import annotations

import asyncio

import pytest

from container.delivery.breaker import Admission, Breaker, BreakerSettings, State
from tests.container.delivery.support import ManualClock

pytestmark = pytest.mark.anyio

SETTINGS = BreakerSettings(failures=3, open_s=30.0, max_open_s=100.0)


def breaker(clock: ManualClock, changes: list | None = None) -> Breaker:
    return Breaker(SETTINGS, clock.clock, on_change=None if changes is None else changes.append)


async def test_opens_after_consecutive_failures_only() -> None:
    clock = ManualClock()
    b = breaker(clock)
    b.failed()
    b.failed()
    b.succeeded()  # the count starts again
    b.failed()
    b.failed()
    assert await b.admit() is Admission.SEND
    b.failed()
    assert b.state is State.OPEN
    assert b.reopen_at == clock.now + 30.0
    assert await b.admit() is Admission.DENIED


async def test_half_open_sends_one_probe_and_the_others_wait_for_it() -> None:
    clock = ManualClock()
    changes: list[State] = []
    b = breaker(clock, changes)
    for _ in range(3):
        b.failed()
    clock.advance(30.0)
    assert await b.admit() is Admission.PROBE
    assert b.state is State.HALF_OPEN
    waiting = asyncio.ensure_future(b.admit())
    await asyncio.sleep(0)
    assert not waiting.done()
    b.succeeded()
    assert await waiting is Admission.SEND
    assert changes == [State.OPEN, State.HALF_OPEN, State.CLOSED]


async def test_a_failed_probe_reopens_for_longer_up_to_the_cap() -> None:
    clock = ManualClock()
    b = breaker(clock)
    for _ in range(3):
        b.failed()
    holds = []
    for _ in range(3):
        clock.advance(b.reopen_at - clock.now)
        assert await b.admit() is Admission.PROBE
        waiting = asyncio.ensure_future(b.admit())
        await asyncio.sleep(0)
        b.failed()
        assert await waiting is Admission.DENIED
        holds.append(b.reopen_at - clock.now)
    assert holds == [60.0, 100.0, 100.0]


async def test_an_abandoned_probe_lets_the_next_request_probe_at_once() -> None:
    clock = ManualClock()
    b = breaker(clock)
    for _ in range(3):
        b.failed()
    clock.advance(30.0)
    assert await b.admit() is Admission.PROBE
    b.abandoned()
    assert await b.admit() is Admission.PROBE
